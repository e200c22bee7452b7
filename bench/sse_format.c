/* SPDX-License-Identifier: MIT */
/*
 * bench/sse_format.c: a benchmark, not a test. Throughput of the SSE wire
 * formatter: hcs_sse_format_into (into a caller buffer, no allocation) and
 * hcs_sse_format (a new refcounted buffer per event, then unref'd), for
 * data-only events of 16 B, 1 KiB and 64 KiB, each as one line and as lines
 * of 80 bytes (a LF every 80th byte, so each becomes its own "data: " line;
 * the 16 B event has no 80-byte boundary, so it has no multi-line row).
 *
 * For every case and function (a row) it calibrates an iteration count that
 * takes about SECONDS of CPU (default 0.25 s), then runs ROUNDS rounds
 * (default 5), each timing every row once on exactly that count, so a slow
 * spell costs each row one sample. It prints, as a Markdown table, the median
 * events/s and wire MB/s (formatted bytes out, 1 MB = 10^6 bytes) with the
 * slowest and fastest round, and the median by wall clock. The main figures
 * use the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): the work is
 * single-threaded and does no I/O, so CPU time is its cost, and unlike wall
 * time it leaves out the time other processes on a shared machine take the
 * core away. It checks once per case that both functions give identical
 * bytes of the advertised size. Results: docs/benchmarks.md.
 *
 * Built by CMake as bench/bench_sse_format (linked with hcs_static):
 *   cmake --build build --target bench_sse_format
 *   build/bench/bench_sse_format [-r ROUNDS] [-t SECONDS]
 */
#include <hcs/error.h>
#include <hcs/sse.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 101
#define MAX_DATA (64 * 1024)

typedef struct {
  const char *label; /* "16 B", "1 KiB", ... */
  size_t len;        /* data bytes */
  bool multiline;    /* LF every 80th byte */
} bench_case_t;

static const bench_case_t cases[] = {
    {"16 B", 16, false},        {"1 KiB", 1024, false},
    {"1 KiB", 1024, true},      {"64 KiB", MAX_DATA, false},
    {"64 KiB", MAX_DATA, true},
};

/* Read by no one, written after every event, so nothing is optimised away. */
static volatile uint64_t sink;

static double seconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A run's duration by both clocks. */
typedef struct {
  double cpu, wall;
} span_t;

static span_t span_start(void) {
  span_t s = {seconds(CLOCK_THREAD_CPUTIME_ID), seconds(CLOCK_MONOTONIC)};
  return s;
}

static span_t span_end(span_t start) {
  span_t s = {seconds(CLOCK_THREAD_CPUTIME_ID) - start.cpu,
              seconds(CLOCK_MONOTONIC) - start.wall};
  return s;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sort v[0..n) in place and return its median. */
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One timed run of `iters` events through format_into. */
static span_t run_into(const hcs_sse_event_t *ev, char *dst, size_t cap,
                       uint64_t iters) {
  uint64_t acc = 0;
  span_t t0 = span_start();
  for (uint64_t i = 0; i < iters; i++) {
    ssize_t n = hcs_sse_format_into(ev, dst, cap);
    if (n < 0) {
      fprintf(stderr, "bench_sse_format: format_into: %s\n",
              hcs_strerror((int)n));
      exit(1);
    }
    acc += (unsigned char)dst[(size_t)n / 2];
  }
  span_t t = span_end(t0);
  sink += acc;
  return t;
}

/* One timed run of `iters` events through format (allocate, unref). */
static span_t run_alloc(const hcs_sse_event_t *ev, uint64_t iters) {
  uint64_t acc = 0;
  span_t t0 = span_start();
  for (uint64_t i = 0; i < iters; i++) {
    hcs_buf_t *b;
    int err = hcs_sse_format(ev, &b);
    if (err < 0) {
      fprintf(stderr, "bench_sse_format: format: %s\n", hcs_strerror(err));
      exit(1);
    }
    acc += (unsigned char)b->data[b->len / 2];
    hcs_buf_unref(b);
  }
  span_t t = span_end(t0);
  sink += acc;
  return t;
}

static span_t run_one(bool alloc, const hcs_sse_event_t *ev, char *dst,
                      size_t cap, uint64_t iters) {
  return alloc ? run_alloc(ev, iters) : run_into(ev, dst, cap, iters);
}

/* Iterations that take about `target` seconds (at least 1). */
static uint64_t calibrate(bool alloc, const hcs_sse_event_t *ev, char *dst,
                          size_t cap, double target) {
  uint64_t iters = 1;
  for (;;) {
    double t = run_one(alloc, ev, dst, cap, iters).cpu;
    if (t >= target / 8 || iters >= (UINT64_C(1) << 40)) {
      double per = t / (double)iters;
      double want = per > 0 ? target / per : (double)iters;
      return want < 1 ? 1 : (uint64_t)want;
    }
    iters *= 4;
  }
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [-r ROUNDS (1..%d, default 5)] "
          "[-t SECONDS per run (default 0.25)]\n",
          argv0, MAX_RUNS);
  exit(2);
}

/* One table row: a case and a function, with its measurements. */
typedef struct {
  const bench_case_t *bc;
  hcs_sse_event_t ev;
  ssize_t size; /* wire bytes per event */
  bool alloc;   /* hcs_sse_format rather than hcs_sse_format_into */
  uint64_t iters;
  double rate[MAX_RUNS], wall[MAX_RUNS]; /* events/s by CPU and wall time */
} row_t;

#define NCASES (sizeof cases / sizeof *cases)

/* Fill data[0..len) for a case and check that both functions agree on it. */
static ssize_t prepare(const bench_case_t *bc, char *data, char *check,
                       hcs_sse_event_t *ev) {
  for (size_t i = 0; i < bc->len; i++)
    data[i] = (bc->multiline && i % 80 == 79) ? '\n' : (char)('a' + i % 26);
  hcs_sse_event_t e = {{NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY, {data, bc->len}};
  *ev = e;
  ssize_t size = hcs_sse_format_size(ev);
  if (size < 0 || (size_t)size > 2 * MAX_DATA) {
    fprintf(stderr, "bench_sse_format: %s: format_size gave %zd\n", bc->label,
            size);
    return -1;
  }
  /* Both functions must produce the same, advertised bytes. */
  ssize_t n = hcs_sse_format_into(ev, check, (size_t)size);
  hcs_buf_t *b;
  if (n != size || hcs_sse_format(ev, &b) < 0) {
    fprintf(stderr, "bench_sse_format: %s: format_into gave %zd of %zd\n",
            bc->label, n, size);
    return -1;
  }
  bool same = b->len == (size_t)n && memcmp(b->data, check, b->len) == 0;
  hcs_buf_unref(b);
  if (!same) {
    fprintf(stderr, "bench_sse_format: %s: format and format_into differ\n",
            bc->label);
    return -1;
  }
  return size;
}

int main(int argc, char **argv) {
  int runs = 5;
  double target = 0.25;
  int opt;
  while ((opt = getopt(argc, argv, "r:t:h")) != -1) {
    switch (opt) {
    case 'r':
      runs = atoi(optarg);
      break;
    case 't':
      target = atof(optarg);
      break;
    default:
      usage(argv[0]);
    }
  }
  if (optind != argc || runs < 1 || runs > MAX_RUNS || !(target > 0) ||
      target > 10)
    usage(argv[0]);

  static row_t rows[2 * NCASES];
  char *data[NCASES];
  char *dst = malloc(2 * MAX_DATA);
  char *check = malloc(2 * MAX_DATA);
  if (dst == NULL || check == NULL) {
    fprintf(stderr, "bench_sse_format: out of memory\n");
    return 1;
  }
  size_t nrows = 0;
  for (size_t c = 0; c < NCASES; c++) {
    data[c] = malloc(cases[c].len);
    hcs_sse_event_t ev;
    ssize_t size;
    if (data[c] == NULL || (size = prepare(&cases[c], data[c], check, &ev)) < 0)
      return 1;
    for (int alloc = 0; alloc <= 1; alloc++) {
      row_t *r = &rows[nrows++];
      r->bc = &cases[c];
      r->ev = ev;
      r->size = size;
      r->alloc = alloc;
      /* dst holds exactly the event, as when sized with format_size. */
      r->iters = calibrate(r->alloc, &r->ev, dst, (size_t)size, target);
    }
  }

  /*
   * Round by round, every row once per round: a slow spell on a shared
   * machine then costs each row one sample, not all of one row's samples.
   */
  for (int k = 0; k < runs; k++) {
    for (size_t i = 0; i < nrows; i++) {
      row_t *r = &rows[i];
      span_t t = run_one(r->alloc, &r->ev, dst, (size_t)r->size, r->iters);
      r->rate[k] = (double)r->iters / (t.cpu > 0 ? t.cpu : 1e-9);
      r->wall[k] = (double)r->iters / (t.wall > 0 ? t.wall : 1e-9);
    }
  }

  printf("## SSE formatting: hcs_sse_format_into vs hcs_sse_format\n\n");
  printf("- data-only events (no event/id/retry lines); \"80-byte lines\": "
         "a LF every 80th data byte\n");
  printf("- %d rounds; each round times every row once, on a fixed iteration "
         "count calibrated to ~%.2f s of CPU\n",
         runs, target);
  printf("- events/s and MB/s: median over the rounds, per second of the "
         "thread's CPU time, with the slowest and fastest round; the last "
         "column is the median by wall clock\n");
  printf("- MB/s counts formatted (wire) bytes out, 1 MB = 10^6 bytes; one "
         "thread\n");
#if defined(__clang__)
  printf("- compiler: clang %s", __clang_version__);
#elif defined(__GNUC__)
  printf("- compiler: gcc %s", __VERSION__);
#endif
#if defined(__OPTIMIZE__)
  printf(", optimised build\n\n");
#else
  printf(", UNOPTIMISED build (numbers not meaningful)\n\n");
#endif
  printf("| data | lines | wire bytes | function | events/s | MB/s | "
         "events/s range | events/s wall |\n");
  printf("|---|---|---:|---|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < nrows; i++) {
    row_t *r = &rows[i];
    double med = median(r->rate, runs), med_wall = median(r->wall, runs);
    printf("| %s | %s | %zd | `%s` | %.0f | %.1f | %.0f – %.0f | %.0f |\n",
           r->bc->label, r->bc->multiline ? "80-byte lines" : "one line",
           r->size, r->alloc ? "hcs_sse_format" : "hcs_sse_format_into", med,
           med * (double)r->size / 1e6, r->rate[0], r->rate[runs - 1],
           med_wall);
  }
  for (size_t c = 0; c < NCASES; c++)
    free(data[c]);
  free(dst);
  free(check);
  return 0;
}
