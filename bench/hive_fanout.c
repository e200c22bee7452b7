/* SPDX-License-Identifier: MIT */
/*
 * bench/hive_fanout.c: a benchmark, not a test. hive's in-process fan-out
 * (include/hive/pubsub.h): how many subscriber callbacks per second one
 * message reaches when it has 1k, 10k and 100k subscribers, and how much
 * memory a subscription costs. No sockets: the server is started only to
 * have workers (their loops are where subscriptions live and callbacks run).
 *
 * Fan-out. A server with WORKERS workers (default 1: the one-core figure)
 * and a bus; for every N and every callback variant a topic of its own with
 * N subscriptions, spread evenly over the workers (made by tasks posted with
 * hcs_server_post, as subscribing is for worker threads). Variants:
 *   count  the callback increments the worker's counter;
 *   ref    also takes and drops a reference to msg->wire (hcs_buf_ref,
 *          hcs_buf_unref), the two atomics a subscriber queue pays;
 *   hold   each subscription keeps the last message's wire buffer in its own
 *          slot: ref the new one, unref the one it replaces (what a queue of
 *          depth one does, touching per-subscriber memory).
 * A run: a task on each worker resets its counter and notes its thread CPU
 * time; then the main thread notes the wall clock, publishes P messages back
 * to back (16-byte payload), and posts a final task to each worker, which
 * runs after all deliveries (tasks and deliveries share the worker's FIFO)
 * and notes the worker's CPU time again; the run ends when the main thread
 * has seen every final task. Each counter must equal P × (its subscribers),
 * or the program fails. deliveries/s = P × N / wall time; the wall time
 * includes the publishing (which overlaps the deliveries) and one wake-up
 * at each end, so P is calibrated per row to make a run last about SECONDS
 * (default 0.25 s). Worker CPU ns/delivery is the workers' thread CPU time
 * summed over the run, divided by P × N: the cost on the delivering core(s)
 * whatever else the machine does. ROUNDS rounds (default 5) each run every
 * row once, so a slow spell costs each row one sample; the table shows the
 * median with the slowest and fastest round.
 *
 * Memory. In a child process forked before any thread exists (so the heap
 * is fresh), it starts a server and bus, then subscribes 100k subscriptions
 * (count callback) to one topic, or to 100k distinct topics, and reports
 * the growth of heap in use (mallinfo2: uordblks + hblkhd, all arenas) and
 * of VmRSS (/proc/self/status), divided by N; then unsubscribes all and
 * reports what heap is left over the baseline.
 *
 * Built by CMake as bench/bench_hive_fanout (linked with hcs_static):
 *   cmake --build build --target bench_hive_fanout
 *   build/bench/bench_hive_fanout [-w WORKERS] [-r ROUNDS] [-t SECONDS]
 *                                 [-m MEMORY_N] [-M]
 * -M skips the memory part. Results: docs/benchmarks.md.
 */
#include <hcs/buf.h>
#include <hcs/error.h>
#include <hcs/server.h>
#include <hive/pubsub.h>

#include <malloc.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_ROUNDS 101
#define NVARIANTS 3

static const unsigned sizes[] = {1000, 10000, 100000};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

enum { V_COUNT, V_REF, V_HOLD };
static const char *const variant_names[NVARIANTS] = {"count", "ref", "hold"};

/* One worker's tally; written on that worker only, read by the main thread
 * after the worker posted `done` (the semaphore orders the accesses). */
typedef struct {
  uint64_t n;
  double cpu_start, cpu_end;
  char pad[64];
} tally_t;

/* A subscription of the hold variant: its own slot for the last buffer. */
typedef struct {
  tally_t *tally;
  hcs_buf_t *held;
} holder_t;

static hcs_server_t *srv;
static hive_bus_t *bus;
static unsigned nworkers;
static tally_t tallies[MAX_WORKERS];
static sem_t done;

static void die(const char *what, int err) {
  fprintf(stderr, "hive_fanout: %s: %s\n", what, err < 0 ? hcs_strerror(err) : "failed");
  exit(1);
}

static double now(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* ---- callbacks (worker threads) ----------------------------------------- */

static void on_count(hive_sub_t *sub, const hive_message_t *msg, void *ud) {
  (void)sub;
  (void)msg;
  ((tally_t *)ud)->n++;
}

static void on_ref(hive_sub_t *sub, const hive_message_t *msg, void *ud) {
  (void)sub;
  hcs_buf_t *b = hcs_buf_ref(msg->wire);
  ((tally_t *)ud)->n++;
  hcs_buf_unref(b);
}

static void on_hold(hive_sub_t *sub, const hive_message_t *msg, void *ud) {
  (void)sub;
  holder_t *h = ud;
  hcs_buf_t *old = h->held;
  h->held = hcs_buf_ref(msg->wire);
  h->tally->n++;
  hcs_buf_unref(old); /* NULL the first time: a no-op */
}

static const hive_message_cb callbacks[NVARIANTS] = {on_count, on_ref, on_hold};

/* ---- tasks (worker threads) --------------------------------------------- */

/* Subscribe job: `count` subscriptions to `topic` (or, when distinct, each
 * to a topic of its own) on the worker that runs it. */
typedef struct {
  char topic[64];
  bool distinct;
  int variant;
  unsigned count;
  hive_sub_t **subs;    /* [count], filled */
  holder_t *holders;    /* [count] for the hold variant */
  int err;
} sub_job_t;

static void run_subscribe(void *arg, int status) {
  sub_job_t *j = arg;
  j->err = status;
  unsigned w = (unsigned)hcs_worker_index();
  for (unsigned i = 0; status == 0 && i < j->count; i++) {
    char name[80];
    const char *topic = j->topic;
    if (j->distinct) {
      snprintf(name, sizeof name, "%s/%06u", j->topic, i);
      topic = name;
    }
    void *ud = &tallies[w];
    if (j->variant == V_HOLD) {
      j->holders[i].tally = &tallies[w];
      j->holders[i].held = NULL;
      ud = &j->holders[i];
    }
    int err = hive_subscribe(&j->subs[i], bus, topic, callbacks[j->variant], ud);
    if (err < 0) {
      j->err = err;
      break;
    }
  }
  sem_post(&done);
}

static void run_unsubscribe(void *arg, int status) {
  sub_job_t *j = arg;
  for (unsigned i = 0; status == 0 && i < j->count; i++) {
    hive_unsubscribe(&j->subs[i]);
    if (j->holders) {
      hcs_buf_unref(j->holders[i].held);
      j->holders[i].held = NULL;
    }
  }
  sem_post(&done);
}

static void run_start(void *arg, int status) {
  tally_t *t = arg;
  (void)status;
  t->n = 0;
  t->cpu_start = now(CLOCK_THREAD_CPUTIME_ID);
  sem_post(&done);
}

static void run_end(void *arg, int status) {
  tally_t *t = arg;
  (void)status;
  t->cpu_end = now(CLOCK_THREAD_CPUTIME_ID);
  sem_post(&done);
}

/* ---- main thread helpers -------------------------------------------------- */

static void wait_n(unsigned n) {
  while (n--)
    while (sem_wait(&done) != 0)
      ;
}

static void post(unsigned w, hcs_task_cb fn, void *arg) {
  int err = hcs_server_post(srv, w, fn, arg);
  if (err < 0)
    die("hcs_server_post", err);
}

static void start_server(unsigned workers) {
  hcs_server_config_t cfg;
  hcs_server_config_init(&cfg);
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.workers = workers;
  int err = hcs_server_new(&srv, &cfg);
  if (err < 0)
    die("hcs_server_new", err);
  if ((err = hcs_server_start(srv)) < 0)
    die("hcs_server_start", err);
  nworkers = hcs_server_worker_count(srv);
  if (nworkers > MAX_WORKERS)
    die("too many workers", 0);
  if ((err = hive_bus_new(&bus, srv, NULL)) < 0)
    die("hive_bus_new", err);
}

static void stop_server(void) {
  hcs_server_stop(srv);
  hcs_server_wait(srv);
  hive_bus_free(bus);
  hcs_server_free(srv);
}

/* Spread n subscriptions over the workers, one job each (jobs[nworkers]). */
static void subscribe_all(sub_job_t *jobs, const char *topic, bool distinct,
                          int variant, unsigned n) {
  for (unsigned w = 0; w < nworkers; w++) {
    sub_job_t *j = &jobs[w];
    memset(j, 0, sizeof *j);
    /* Distinct topics get a per-worker prefix so no two workers share one. */
    if (distinct)
      snprintf(j->topic, sizeof j->topic, "%s%u", topic, w);
    else
      snprintf(j->topic, sizeof j->topic, "%s", topic);
    j->distinct = distinct;
    j->variant = variant;
    j->count = n / nworkers + (w < n % nworkers);
    j->subs = calloc(j->count ? j->count : 1, sizeof *j->subs);
    if (variant == V_HOLD)
      j->holders = calloc(j->count ? j->count : 1, sizeof *j->holders);
    if (j->subs == NULL || (variant == V_HOLD && j->holders == NULL))
      die("calloc", HCS_ENOMEM);
  }
  for (unsigned w = 0; w < nworkers; w++)
    post(w, run_subscribe, &jobs[w]);
  wait_n(nworkers);
  for (unsigned w = 0; w < nworkers; w++)
    if (jobs[w].err < 0)
      die("hive_subscribe", jobs[w].err);
}

static void unsubscribe_all(sub_job_t *jobs) {
  for (unsigned w = 0; w < nworkers; w++)
    post(w, run_unsubscribe, &jobs[w]);
  wait_n(nworkers);
  for (unsigned w = 0; w < nworkers; w++) {
    free(jobs[w].subs);
    free(jobs[w].holders);
  }
}

/* ---- fan-out -------------------------------------------------------------- */

typedef struct {
  unsigned n;
  int variant;
  char topic[32];
  sub_job_t jobs[MAX_WORKERS];
  uint64_t p; /* messages per run */
  double rate[MAX_ROUNDS], cpu_ns[MAX_ROUNDS];
} row_t;

/* One run of row r with p messages: returns the wall seconds, sets *cpu to
 * the workers' CPU seconds. */
static double run_once(row_t *r, uint64_t p, double *cpu) {
  static const char payload[16] = "0123456789abcdef";
  for (unsigned w = 0; w < nworkers; w++)
    post(w, run_start, &tallies[w]);
  wait_n(nworkers);
  double t0 = now(CLOCK_MONOTONIC);
  for (uint64_t i = 0; i < p; i++) {
    int err = hive_publish(bus, r->topic, payload, sizeof payload);
    if (err < 0)
      die("hive_publish", err);
  }
  for (unsigned w = 0; w < nworkers; w++)
    post(w, run_end, &tallies[w]);
  wait_n(nworkers);
  double wall = now(CLOCK_MONOTONIC) - t0;
  *cpu = 0;
  for (unsigned w = 0; w < nworkers; w++) {
    uint64_t want = p * r->jobs[w].count;
    if (tallies[w].n != want) {
      fprintf(stderr, "hive_fanout: worker %u: %llu deliveries, want %llu\n", w,
              (unsigned long long)tallies[w].n, (unsigned long long)want);
      exit(1);
    }
    *cpu += tallies[w].cpu_end - tallies[w].cpu_start;
  }
  return wall;
}

static void fanout(unsigned rounds, double target) {
  row_t *rows = calloc(NSIZES * NVARIANTS, sizeof *rows);
  if (rows == NULL)
    die("calloc", HCS_ENOMEM);
  size_t nrows = 0;
  for (size_t s = 0; s < NSIZES; s++)
    for (int v = 0; v < NVARIANTS; v++) {
      row_t *r = &rows[nrows++];
      r->n = sizes[s];
      r->variant = v;
      snprintf(r->topic, sizeof r->topic, "%s/%u", variant_names[v], r->n);
      subscribe_all(r->jobs, r->topic, false, v, r->n);
    }

  /* Calibrate: a trial of about 2M deliveries, then scale to the target. */
  for (size_t i = 0; i < nrows; i++) {
    row_t *r = &rows[i];
    uint64_t p0 = (2000000 + r->n - 1) / r->n;
    double cpu, t = run_once(r, p0, &cpu);
    double p = (double)p0 * target / (t > 1e-6 ? t : 1e-6);
    r->p = p < (double)p0 ? p0 : (uint64_t)p;
  }

  for (unsigned k = 0; k < rounds; k++)
    for (size_t i = 0; i < nrows; i++) {
      row_t *r = &rows[i];
      double cpu, t = run_once(r, r->p, &cpu);
      double d = (double)r->p * r->n;
      r->rate[k] = d / t;
      r->cpu_ns[k] = cpu * 1e9 / d;
    }

  printf("| subscribers | callback | messages per run | deliveries/s (median) "
         "| min – max | ns per delivery (wall) | worker CPU ns per delivery |\n");
  printf("|---:|---|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < nrows; i++) {
    row_t *r = &rows[i];
    double sorted[MAX_ROUNDS], cpu[MAX_ROUNDS];
    memcpy(sorted, r->rate, rounds * sizeof(double));
    memcpy(cpu, r->cpu_ns, rounds * sizeof(double));
    qsort(sorted, rounds, sizeof(double), cmp_double);
    qsort(cpu, rounds, sizeof(double), cmp_double);
    double med = sorted[rounds / 2];
    printf("| %u | %s | %llu | %.2fM | %.2fM – %.2fM | %.1f | %.1f |\n", r->n,
           variant_names[r->variant], (unsigned long long)r->p, med / 1e6,
           sorted[0] / 1e6, sorted[rounds - 1] / 1e6, 1e9 / med,
           cpu[rounds / 2]);
  }
  fflush(stdout);

  for (size_t i = 0; i < nrows; i++)
    unsubscribe_all(rows[i].jobs);
  free(rows);
}

/* ---- memory ----------------------------------------------------------------- */

static long vm_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kib = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kib;
}

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

/* In a fresh child: n subscriptions to one topic or n distinct topics. */
static void memory_child(unsigned workers, unsigned n, bool distinct) {
  start_server(workers);
  sub_job_t jobs[MAX_WORKERS];
  /* Allocate (and touch) the job arrays before the baseline, so they are
   * not counted; subscribe_all would allocate them, so do it by hand. */
  for (unsigned w = 0; w < nworkers; w++) {
    sub_job_t *j = &jobs[w];
    memset(j, 0, sizeof *j);
    if (distinct)
      snprintf(j->topic, sizeof j->topic, "topic%u", w);
    else
      snprintf(j->topic, sizeof j->topic, "topic");
    j->distinct = distinct;
    j->variant = V_COUNT;
    j->count = n / nworkers + (w < n % nworkers);
    j->subs = calloc(j->count ? j->count : 1, sizeof *j->subs);
    if (j->subs == NULL)
      die("calloc", HCS_ENOMEM);
    memset(j->subs, 0xff, j->count * sizeof *j->subs);
  }
  /* Let the workers allocate what a first task costs (per-thread arenas,
   * task records) before the baseline. */
  for (unsigned w = 0; w < nworkers; w++)
    post(w, run_start, &tallies[w]);
  wait_n(nworkers);

  size_t heap0 = heap_in_use();
  long rss0 = vm_rss_kib();
  for (unsigned w = 0; w < nworkers; w++)
    post(w, run_subscribe, &jobs[w]);
  wait_n(nworkers);
  for (unsigned w = 0; w < nworkers; w++)
    if (jobs[w].err < 0)
      die("hive_subscribe", jobs[w].err);
  size_t heap1 = heap_in_use();
  long rss1 = vm_rss_kib();
  hive_stats_t st;
  hive_bus_stats(bus, &st);
  for (unsigned w = 0; w < nworkers; w++)
    post(w, run_unsubscribe, &jobs[w]);
  wait_n(nworkers);
  size_t heap2 = heap_in_use();
  hive_stats_t st2;
  hive_bus_stats(bus, &st2);

  printf("| %u | %s | %llu | %.1f | %.1f | %lld |\n", n,
         distinct ? "one each (distinct)" : "1 (shared)",
         (unsigned long long)st.topics,
         (double)(heap1 - heap0) / n, (double)(rss1 - rss0) * 1024.0 / n,
         (long long)heap2 - (long long)heap0);
  fflush(stdout);
  if (st.subscribers != n || st2.subscribers != 0 || st2.topics != 0) {
    fprintf(stderr, "hive_fanout: stats: %llu subscribers, then %llu, %llu topics\n",
            (unsigned long long)st.subscribers,
            (unsigned long long)st2.subscribers, (unsigned long long)st2.topics);
    exit(1);
  }
  stop_server();
}

static void memory(unsigned workers, unsigned n) {
  printf("| subscriptions | topics | topics in bus | heap bytes per subscription "
         "| RSS bytes per subscription | heap left after unsubscribing all (bytes) |\n");
  printf("|---:|---|---:|---:|---:|---:|\n");
  fflush(stdout);
  for (int distinct = 0; distinct <= 1; distinct++) {
    pid_t pid = fork();
    if (pid < 0)
      die("fork", 0);
    if (pid == 0) {
      memory_child(workers, n, distinct);
      fflush(stdout);
      _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
      die("memory child", 0);
  }
}

int main(int argc, char **argv) {
  unsigned workers = 1, rounds = 5, mem_n = 100000;
  double target = 0.25;
  bool do_memory = true;
  int opt;
  while ((opt = getopt(argc, argv, "w:r:t:m:M")) != -1) {
    switch (opt) {
    case 'w': workers = (unsigned)atoi(optarg); break;
    case 'r': rounds = (unsigned)atoi(optarg); break;
    case 't': target = atof(optarg); break;
    case 'm': mem_n = (unsigned)atoi(optarg); break;
    case 'M': do_memory = false; break;
    default:
      fprintf(stderr, "usage: %s [-w WORKERS] [-r ROUNDS] [-t SECONDS] "
                      "[-m MEMORY_N] [-M]\n", argv[0]);
      return 2;
    }
  }
  if (workers < 1 || workers > MAX_WORKERS || rounds < 1 || rounds > MAX_ROUNDS ||
      target <= 0 || mem_n < 1) {
    fprintf(stderr, "hive_fanout: bad option value\n");
    return 2;
  }
  if (sem_init(&done, 0, 0) != 0)
    die("sem_init", 0);
  printf("hive in-process fan-out: %u worker(s), %u rounds, ~%.2f s per run\n\n",
         workers, rounds, target);
  fflush(stdout);
  /* Memory first, in children forked while this process has no threads. */
  if (do_memory) {
    memory(workers, mem_n);
    printf("\n");
    fflush(stdout);
  }
  start_server(workers);
  fanout(rounds, target);
  stop_server();
  return 0;
}
