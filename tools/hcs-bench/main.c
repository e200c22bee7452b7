/* SPDX-License-Identifier: MIT */
/*
 * hcs-bench: a load generator for SSE servers and pub/sub hubs, run on the
 * same machine as the server (latency is publish -> receive on one
 * CLOCK_MONOTONIC, so both ends must share a clock; targets are loopback
 * addresses only).
 *
 * This file: options, the worker processes, the main loop and the reports.
 * The main process forks the subscriber workers (worker.c), waits until
 * every subscriber is connected or has failed, then, by mode, publishes
 * (pub.c) and tells the workers how many messages went out, or lets them
 * count a stream the server sends by itself, or holds the idle subscribers
 * for a while; it merges the workers' counters and histograms (sent through
 * pipes) and prints a table and, if asked, JSON. Every phase is bounded in
 * time; see --help.
 *
 * It is a client of its own: no hcs library, raw epoll and non-blocking
 * sockets, and parsers of its own (parse.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "hist.h"

#define HB_VERSION "1"

static const char USAGE[] =
    "usage: hcs-bench [options] SUBSCRIBE-URL\n"
    "\n"
    "Opens N SSE subscribers to SUBSCRIBE-URL (http://127.x.y.z:PORT/path?query;\n"
    "loopback only: latency is measured on this machine's monotonic clock)\n"
    "and measures what they receive. Three modes:\n"
    "\n"
    "  publish  with --publish URL: once every subscriber is connected, POSTs\n"
    "           --count messages at --rate to URL; each carries\n"
    "           \"hcsb-SEQ-TIMESTAMP\" in its payload, so subscribers count\n"
    "           losses and duplicates exactly and measure latency; it says\n"
    "           \"hcs-bench: publishing\" on stderr when it starts\n"
    "  count    without --publish: the server sends each subscriber a known\n"
    "           sequence by itself; events numbered 1..--count are expected,\n"
    "           by the marker in their data or else a numeric id: field\n"
    "  idle     with --idle: connect, print \"hcs-bench: holding\" on stderr\n"
    "           once all are connected, hold --hold seconds, report, exit\n"
    "\n"
    "Subscribers:\n"
    "  -c, --subscribers N      concurrent subscribers (default 100)\n"
    "  -P, --procs N            worker processes (default 2, more when N needs\n"
    "                           them: at most 15000 subscribers per process)\n"
    "      --sources K          source addresses 127.0.0.1 .. 127.0.0.K\n"
    "                           (default 4; 0: let the kernel choose)\n"
    "      --sub-header 'Name: value'   extra request header (repeatable)\n"
    "      --event TYPE         count only events of this type\n"
    "      --connect-timeout S  seconds to connect them all (default 30)\n"
    "      --connect-inflight K connections set up at once per process\n"
    "                           (default 128)\n"
    "Publishing:\n"
    "  -p, --publish URL        publish URL (POST); enables publish mode\n"
    "  -n, --count M            messages (default 100)\n"
    "  -r, --rate R             messages per second (default 100; 0: as fast\n"
    "                           as the publish connections allow)\n"
    "  -b, --publish-body T     body template; {payload} is replaced by the\n"
    "                           payload (default '{payload}'), e.g.\n"
    "                           'topic=T&data={payload}'\n"
    "      --content-type T     default: application/x-www-form-urlencoded if\n"
    "                           the template has '=', else text/plain\n"
    "  -H, --header 'Name: value'   extra publish header (repeatable)\n"
    "  -s, --size B             payload bytes, padded after the marker\n"
    "                           (default: just the marker, ~30 bytes)\n"
    "      --publishers K       publish connections (default 4)\n"
    "      --settle S           pause between connected and publishing\n"
    "                           (default 0.2)\n"
    "Bounds and output:\n"
    "  -d, --duration S         publish (count mode: wait for the stream) at\n"
    "                           most S seconds (default 60)\n"
    "      --drain S            then wait at most S seconds for deliveries\n"
    "                           (default 5)\n"
    "      --idle               idle mode\n"
    "      --hold S             idle mode: seconds to hold (default 10)\n"
    "      --json FILE          write the report as JSON to FILE ('-' for\n"
    "                           stdout; the table then goes to stderr)\n"
    "  -q, --quiet              no progress line on stderr\n"
    "  -h, --help               this text\n"
    "\n"
    "Example (hcs-hub --dev on port 8080, 1000 subscribers, 1000 messages at\n"
    "200/s):\n"
    "  hcs-bench -c 1000 -n 1000 -r 200 \\\n"
    "    -p http://127.0.0.1:8080/.well-known/mercure \\\n"
    "    -H \"Authorization: Bearer $TOKEN\" -b 'topic=t&data={payload}' \\\n"
    "    'http://127.0.0.1:8080/.well-known/mercure?topic=t'\n"
    "\n"
    "Exit status: 0 when the run completed (whatever it measured), 1 when a\n"
    "worker process or the machinery failed, 2 for bad options, 130 when\n"
    "SIGINT or SIGTERM cut it short (the report then has what was measured).\n";

uint64_t hb_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int hb_write_all(int fd, const void *p, size_t n) {
  const char *s = p;
  while (n) {
    ssize_t k = write(fd, s, n);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    s += k;
    n -= (size_t)k;
  }
  return 0;
}

/* ---- options --------------------------------------------------------------*/

static int parse_url(hb_url_t *u, const char *s, const char **err) {
  memset(u, 0, sizeof(*u));
  if (strncmp(s, "http://", 7) != 0) {
    *err = "URLs start with http:// (no TLS)";
    return -1;
  }
  const char *h = s + 7;
  size_t hl = strcspn(h, "/?#");
  if (hl == 0 || hl >= sizeof(u->host)) {
    *err = "bad host in URL";
    return -1;
  }
  memcpy(u->host, h, hl);
  u->host[hl] = '\0';
  char name[64];
  memcpy(name, u->host, hl + 1);
  int port = 80;
  char *colon = strchr(name, ':');
  if (colon) {
    *colon = '\0';
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (*end || v < 1 || v > 65535) {
      *err = "bad port in URL";
      return -1;
    }
    port = (int)v;
  }
  u->addr.sin_family = AF_INET;
  u->addr.sin_port = htons((uint16_t)port);
  if (strcmp(name, "localhost") == 0)
    u->addr.sin_addr.s_addr = htonl(0x7f000001u);
  else if (inet_pton(AF_INET, name, &u->addr.sin_addr) != 1) {
    *err = "the host must be an IPv4 address or localhost";
    return -1;
  }
  if ((ntohl(u->addr.sin_addr.s_addr) >> 24) != 127) {
    *err = "only loopback targets (127.0.0.0/8): latency needs one clock";
    return -1;
  }
  const char *t = h + hl;
  if (*t == '#' || *t == '?') {
    *err = "the path must start with / (http://host:port/path?query)";
    return -1;
  }
  u->target = *t ? t : "/";
  u->set = 1;
  return 0;
}

static int num(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi))
    return -1;
  *out = v;
  return 0;
}

enum {
  O_SOURCES = 256,
  O_SUB_HEADER,
  O_EVENT,
  O_CONNECT_TIMEOUT,
  O_CONNECT_INFLIGHT,
  O_CONTENT_TYPE,
  O_PUBLISHERS,
  O_SETTLE,
  O_DRAIN,
  O_IDLE,
  O_HOLD,
  O_JSON,
};

static const struct option LONGOPTS[] = {
    {"subscribers", required_argument, NULL, 'c'},
    {"procs", required_argument, NULL, 'P'},
    {"sources", required_argument, NULL, O_SOURCES},
    {"sub-header", required_argument, NULL, O_SUB_HEADER},
    {"event", required_argument, NULL, O_EVENT},
    {"connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT},
    {"connect-inflight", required_argument, NULL, O_CONNECT_INFLIGHT},
    {"publish", required_argument, NULL, 'p'},
    {"count", required_argument, NULL, 'n'},
    {"rate", required_argument, NULL, 'r'},
    {"publish-body", required_argument, NULL, 'b'},
    {"content-type", required_argument, NULL, O_CONTENT_TYPE},
    {"header", required_argument, NULL, 'H'},
    {"size", required_argument, NULL, 's'},
    {"publishers", required_argument, NULL, O_PUBLISHERS},
    {"settle", required_argument, NULL, O_SETTLE},
    {"duration", required_argument, NULL, 'd'},
    {"drain", required_argument, NULL, O_DRAIN},
    {"idle", no_argument, NULL, O_IDLE},
    {"hold", required_argument, NULL, O_HOLD},
    {"json", required_argument, NULL, O_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns 0, 1 for --help, or -1 with *ERR set. */
static int parse_opts(hb_opts_t *o, int argc, char **argv, const char **err) {
  memset(o, 0, sizeof(*o));
  o->subscribers = 100;
  o->sources = 4;
  o->connect_inflight = 128;
  o->count = 100;
  o->rate = 100;
  o->publishers = 4;
  o->duration = 60;
  o->drain = 5;
  o->hold = 10;
  o->connect_timeout = 30;
  o->settle = 0.2;
  o->body = "{payload}";
  int idle = 0;
  double v;
  const char *pub = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:P:p:n:r:b:H:s:d:qh", LONGOPTS,
                          NULL)) != -1) {
    switch (c) {
    case 'c':
      if (num(optarg, 1, 1000000, &v) < 0 || v != floor(v))
        return *err = "--subscribers: 1..1000000", -1;
      o->subscribers = (uint32_t)v;
      break;
    case 'P':
      if (num(optarg, 1, 256, &v) < 0 || v != floor(v))
        return *err = "--procs: 1..256", -1;
      o->procs = (uint32_t)v;
      break;
    case O_SOURCES:
      if (num(optarg, 0, 254, &v) < 0 || v != floor(v))
        return *err = "--sources: 0..254", -1;
      o->sources = (uint32_t)v;
      break;
    case O_SUB_HEADER:
      if (o->n_sub_headers == HB_MAX_HEADERS || !strchr(optarg, ':') ||
          strpbrk(optarg, "\r\n"))
        return *err = "--sub-header: 'Name: value', at most 16", -1;
      o->sub_headers[o->n_sub_headers++] = optarg;
      break;
    case O_EVENT:
      o->event_type = optarg;
      break;
    case O_CONNECT_TIMEOUT:
      if (num(optarg, 0.1, 3600, &o->connect_timeout) < 0)
        return *err = "--connect-timeout: 0.1..3600 seconds", -1;
      break;
    case O_CONNECT_INFLIGHT:
      if (num(optarg, 1, 10000, &v) < 0 || v != floor(v))
        return *err = "--connect-inflight: 1..10000", -1;
      o->connect_inflight = (uint32_t)v;
      break;
    case 'p':
      pub = optarg;
      break;
    case 'n':
      if (num(optarg, 0, 1e9, &v) < 0 || v != floor(v))
        return *err = "--count: 0..1000000000", -1;
      o->count = (uint64_t)v;
      break;
    case 'r':
      if (num(optarg, 0, 1e8, &o->rate) < 0)
        return *err = "--rate: 0..100000000 per second", -1;
      break;
    case 'b':
      o->body = optarg;
      break;
    case O_CONTENT_TYPE:
      if (strpbrk(optarg, "\r\n"))
        return *err = "--content-type: one line", -1;
      o->content_type = optarg;
      break;
    case 'H':
      if (o->n_pub_headers == HB_MAX_HEADERS || !strchr(optarg, ':') ||
          strpbrk(optarg, "\r\n"))
        return *err = "--header: 'Name: value', at most 16", -1;
      o->pub_headers[o->n_pub_headers++] = optarg;
      break;
    case 's':
      if (num(optarg, 0, 16 << 20, &v) < 0 || v != floor(v))
        return *err = "--size: 0..16777216 bytes", -1;
      o->size = (uint32_t)v;
      break;
    case O_PUBLISHERS:
      if (num(optarg, 1, 256, &v) < 0 || v != floor(v))
        return *err = "--publishers: 1..256", -1;
      o->publishers = (uint32_t)v;
      break;
    case O_SETTLE:
      if (num(optarg, 0, 60, &o->settle) < 0)
        return *err = "--settle: 0..60 seconds", -1;
      break;
    case 'd':
      if (num(optarg, 0.01, 86400, &o->duration) < 0)
        return *err = "--duration: 0.01..86400 seconds", -1;
      break;
    case O_DRAIN:
      if (num(optarg, 0, 3600, &o->drain) < 0)
        return *err = "--drain: 0..3600 seconds", -1;
      break;
    case O_IDLE:
      idle = 1;
      break;
    case O_HOLD:
      if (num(optarg, 0, 86400, &o->hold) < 0)
        return *err = "--hold: 0..86400 seconds", -1;
      break;
    case O_JSON:
      o->json = optarg;
      break;
    case 'q':
      o->quiet = 1;
      break;
    case 'h':
      return 1;
    default:
      return *err = "unknown option (see --help)", -1;
    }
  }
  if (optind != argc - 1)
    return *err = "one SUBSCRIBE-URL is needed (see --help)", -1;
  if (parse_url(&o->sub, argv[optind], err) < 0)
    return -1;
  if (idle) {
    o->mode = HB_MODE_IDLE;
    if (pub)
      return *err = "--idle and --publish exclude each other", -1;
  } else if (pub) {
    o->mode = HB_MODE_PUBLISH;
    if (parse_url(&o->pub, pub, err) < 0)
      return -1;
    if (!strstr(o->body, "{payload}"))
      return *err = "--publish-body must contain {payload}", -1;
    if (strlen(o->body) > (1u << 20))
      return *err = "--publish-body: at most 1 MiB", -1;
  } else {
    o->mode = HB_MODE_COUNT;
  }
  if (!o->content_type)
    o->content_type = strchr(o->body, '=')
                          ? "application/x-www-form-urlencoded"
                          : "text/plain";
  /* Enough processes for the per-process socket budget; by default two,
   * so that the client can use two cores. */
  uint32_t need = (o->subscribers + HB_MAX_PER_PROC - 1) / HB_MAX_PER_PROC;
  if (!o->procs) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->procs = cores >= 2 ? 2 : 1;
  }
  if (o->procs < need)
    o->procs = need;
  if (o->procs > o->subscribers)
    o->procs = o->subscribers;
  /* One bit per subscriber and message: refuse what does not fit. */
  if (o->mode != HB_MODE_IDLE &&
      (double)o->subscribers * (double)((o->count + 63) / 64) * 8.0 >
          (double)(2ull << 30))
    return *err = "subscribers x count needs more than 2 GiB of loss "
                  "bitmaps; lower one of them", -1;
  return 0;
}

/* ---- worker processes ---------------------------------------------------*/

typedef struct {
  pid_t pid;
  int cmd_fd; /* we write commands */
  int rep_fd; /* we read reports */
  uint32_t first, n;
  int done;   /* result received, or dead */
  int dead;
  size_t have;
  hb_counts_t c;
  union {
    hb_progress_msg_t p;
    hb_result_msg_t r;
  } in;
} wk_t;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static int spawn(const hb_opts_t *o, wk_t *wk, uint32_t nw) {
  for (uint32_t i = 0; i < nw; i++) {
    wk[i].cmd_fd = wk[i].rep_fd = -1;
    wk[i].first = (uint32_t)((uint64_t)o->subscribers * i / nw);
    wk[i].n = (uint32_t)((uint64_t)o->subscribers * (i + 1) / nw) - wk[i].first;
  }
  fflush(NULL);
  for (uint32_t i = 0; i < nw; i++) {
    int cmd[2], rep[2];
    if (pipe2(cmd, O_CLOEXEC) < 0)
      return -1;
    if (pipe2(rep, O_CLOEXEC) < 0) {
      close(cmd[0]);
      close(cmd[1]);
      return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
      close(cmd[0]), close(cmd[1]), close(rep[0]), close(rep[1]);
      return -1;
    }
    if (pid == 0) {
      /* The worker: the main process's ends and earlier workers' pipes are
       * not ours. Ctrl-C reaches the main process, which stops us. */
      signal(SIGINT, SIG_IGN);
      close(cmd[1]);
      close(rep[0]);
      for (uint32_t j = 0; j < i; j++) {
        close(wk[j].cmd_fd);
        close(wk[j].rep_fd);
      }
      int rc = hb_worker_run(o, i, wk[i].first, wk[i].n, cmd[0], rep[1]);
      close(cmd[0]);
      close(rep[1]);
      free(wk);
      exit(rc);
    }
    close(cmd[0]);
    close(rep[1]);
    wk[i].pid = pid;
    wk[i].cmd_fd = cmd[1];
    wk[i].rep_fd = rep[0];
    (void)fcntl(rep[0], F_SETFL, O_NONBLOCK);
  }
  return 0;
}

static void send_cmd(wk_t *wk, uint32_t nw, uint32_t cmd, uint64_t arg) {
  hb_cmd_t m = {.cmd = cmd, .arg = arg};
  for (uint32_t i = 0; i < nw; i++)
    if (!wk[i].dead)
      (void)hb_write_all(wk[i].cmd_fd, &m, sizeof(m));
}

/* Reads what worker W sent; merges a result into HIST. */
static void read_worker(wk_t *w, hb_hist_t *hist) {
  char *buf = (char *)&w->in;
  for (;;) {
    size_t want = sizeof(hb_progress_msg_t);
    if (w->have >= sizeof(uint32_t) && w->in.p.type == HB_MSG_RESULT)
      want = sizeof(hb_result_msg_t);
    ssize_t k = read(w->rep_fd, buf + w->have, want - w->have);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        return;
      k = 0;
    }
    if (k == 0) {
      if (!w->done) {
        fprintf(stderr, "hcs-bench: worker %d ended without a report\n",
                (int)w->pid);
        w->dead = 1;
        w->done = 1;
        w->c.error = 1;
      }
      return;
    }
    w->have += (size_t)k;
    /* Grow the expected size once the type is known. */
    if (w->have >= sizeof(uint32_t) && w->in.p.type == HB_MSG_RESULT)
      want = sizeof(hb_result_msg_t);
    if (w->have < want)
      continue;
    w->c = w->in.p.c; /* both messages start alike */
    if (w->in.p.type == HB_MSG_RESULT) {
      hb_hist_merge(hist, &w->in.r.hist);
      w->done = 1;
    }
    w->have = 0;
  }
}

/* ---- the run --------------------------------------------------------------*/

typedef struct {
  hb_counts_t c;       /* summed over workers */
  hb_hist_t hist;
  hb_pub_stats_t pub;
  uint64_t expected;
  uint64_t lost;
  double wall_s;
  double deliveries_per_s;
  double pub_rate;
  double cpu_user, cpu_sys;
  uint64_t t_start, t_ready, t_pub_start;
  double hold_s;
  int failed;
  int interrupted;
} result_t;

static void sum_counts(const wk_t *wk, uint32_t nw, hb_counts_t *t) {
  memset(t, 0, sizeof(*t));
  t->ready = 1;
  for (uint32_t i = 0; i < nw; i++) {
    const hb_counts_t *c = &wk[i].c;
    t->subscribers += wk[i].n;
    t->connected += c->connected;
    t->connect_errors += c->connect_errors;
    t->closed += c->closed;
    t->events += c->events;
    t->received += c->received;
    t->duplicates += c->duplicates;
    t->unknown += c->unknown;
    t->bytes += c->bytes;
    if (c->first_rx_ns && (!t->first_rx_ns || c->first_rx_ns < t->first_rx_ns))
      t->first_rx_ns = c->first_rx_ns;
    if (c->last_rx_ns > t->last_rx_ns)
      t->last_rx_ns = c->last_rx_ns;
    if (!c->ready && !wk[i].dead)
      t->ready = 0;
    if (c->error || wk[i].dead)
      t->error = 1;
  }
}

static const char *mode_name(hb_mode_t m) {
  return m == HB_MODE_PUBLISH ? "publish" : m == HB_MODE_COUNT ? "count" : "idle";
}

static void progress(const hb_opts_t *o, const wk_t *wk, uint32_t nw,
                     const result_t *r, const char *phase, uint64_t now,
                     uint64_t *last_rx, uint64_t *last_t) {
  if (o->quiet)
    return;
  hb_counts_t t;
  sum_counts(wk, nw, &t);
  double el = (double)(now - r->t_start) / 1e9;
  double dt = (double)(now - *last_t) / 1e9;
  double rate = dt > 0 ? (double)(t.received - *last_rx) / dt : 0;
  *last_rx = t.received;
  *last_t = now;
  char pub[64] = "";
  if (o->mode == HB_MODE_PUBLISH)
    snprintf(pub, sizeof(pub), " | published %" PRIu64 "/%" PRIu64,
             r->pub.attempted, o->count);
  fprintf(stderr,
          "hcs-bench %6.1fs %-8s subscribers %" PRIu64 "/%" PRIu64
          " (%" PRIu64 " errors, %" PRIu64 " closed)%s | received %" PRIu64
          " (%.0f/s)\n",
          el, phase, t.connected, t.subscribers, t.connect_errors, t.closed,
          pub, t.received, rate);
}

static double ms(uint64_t ns) {
  return (double)ns / 1e6;
}

static void print_table(FILE *f, const hb_opts_t *o, const result_t *r,
                        uint32_t nw) {
  const hb_counts_t *c = &r->c;
  fprintf(f, "hcs-bench (%s mode): http://%s%s\n", mode_name(o->mode),
          o->sub.host, o->sub.target);
  fprintf(f, "  %-18s %" PRIu64 " connected of %" PRIu64 ", %" PRIu64
             " connect errors, %" PRIu64 " closed by the server\n",
          "subscribers", c->connected, c->subscribers, c->connect_errors,
          c->closed);
  fprintf(f, "  %-18s %u processes, %u source addresses\n", "client", nw,
          o->sources);
  if (o->mode == HB_MODE_PUBLISH)
    fprintf(f, "  %-18s %" PRIu64 " ok, %" PRIu64 " errors, of %" PRIu64
               " at %.1f/s (asked %.1f/s); max lag behind schedule %.3f ms\n",
            "published", r->pub.ok, r->pub.errors, o->count, r->pub_rate,
            o->rate, ms(r->pub.max_lag_ns));
  if (o->mode != HB_MODE_IDLE) {
    fprintf(f, "  %-18s expected %" PRIu64 ", received %" PRIu64 ", lost %" PRIu64
               ", duplicates %" PRIu64 ", without sequence %" PRIu64 "\n",
            "events", r->expected, c->received, r->lost, c->duplicates,
            c->unknown);
    fprintf(f, "  %-18s %.0f\n", "deliveries/s", r->deliveries_per_s);
    if (r->hist.count)
      fprintf(f, "  %-18s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f"
                 "  (%" PRIu64 " samples)\n",
              "latency ms", ms(hb_hist_percentile(&r->hist, 50)),
              ms(hb_hist_percentile(&r->hist, 90)),
              ms(hb_hist_percentile(&r->hist, 99)),
              ms(hb_hist_percentile(&r->hist, 99.9)), ms(r->hist.max),
              r->hist.count);
    else
      fprintf(f, "  %-18s none (no timestamps received)\n", "latency ms");
  } else {
    fprintf(f, "  %-18s %.1f s\n", "held", r->hold_s);
  }
  fprintf(f, "  %-18s %.3f s\n", "wall time", r->wall_s);
  fprintf(f, "  %-18s %.3f s (user %.3f, system %.3f)\n", "client CPU",
          r->cpu_user + r->cpu_sys, r->cpu_user, r->cpu_sys);
  if (r->failed || r->interrupted)
    fprintf(f, "  %-18s %s\n", "note",
            r->interrupted ? "interrupted: partial figures"
                           : "a worker failed: partial figures");
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void print_json(FILE *f, const hb_opts_t *o, const result_t *r,
                       uint32_t nw) {
  const hb_counts_t *c = &r->c;
  char url[1200];
  fprintf(f, "{\n  \"tool\": \"hcs-bench\",\n  \"version\": " HB_VERSION
             ",\n  \"mode\": \"%s\",\n  \"url\": ",
          mode_name(o->mode));
  snprintf(url, sizeof(url), "http://%s%s", o->sub.host, o->sub.target);
  json_str(f, url);
  if (o->mode == HB_MODE_PUBLISH) {
    snprintf(url, sizeof(url), "http://%s%s", o->pub.host, o->pub.target);
    fprintf(f, ",\n  \"publish_url\": ");
    json_str(f, url);
  }
  fprintf(f, ",\n  \"subscribers\": %" PRIu64 ",\n  \"procs\": %u,\n"
             "  \"sources\": %u,\n  \"connected\": %" PRIu64
             ",\n  \"connect_errors\": %" PRIu64 ",\n  \"closed\": %" PRIu64,
          c->subscribers, nw, o->sources, c->connected, c->connect_errors,
          c->closed);
  if (o->mode == HB_MODE_PUBLISH)
    fprintf(f, ",\n  \"count\": %" PRIu64 ",\n  \"rate\": %.3f,\n"
               "  \"size\": %u,\n  \"published\": %" PRIu64
               ",\n  \"publish_errors\": %" PRIu64
               ",\n  \"publish_rate\": %.3f,\n  \"publish_lag_max_ms\": %.3f",
            o->count, o->rate, o->size, r->pub.ok, r->pub.errors, r->pub_rate,
            ms(r->pub.max_lag_ns));
  else if (o->mode == HB_MODE_COUNT)
    fprintf(f, ",\n  \"count\": %" PRIu64, o->count);
  if (o->mode != HB_MODE_IDLE) {
    fprintf(f, ",\n  \"expected\": %" PRIu64 ",\n  \"received\": %" PRIu64
               ",\n  \"lost\": %" PRIu64 ",\n  \"duplicates\": %" PRIu64
               ",\n  \"without_sequence\": %" PRIu64 ",\n  \"events\": %" PRIu64
               ",\n  \"bytes\": %" PRIu64 ",\n  \"deliveries_per_s\": %.1f",
            r->expected, c->received, r->lost, c->duplicates, c->unknown,
            c->events, c->bytes, r->deliveries_per_s);
    const hb_hist_t *h = &r->hist;
    fprintf(f, ",\n  \"latency_ms\": {\"samples\": %" PRIu64, h->count);
    if (h->count)
      fprintf(f, ", \"min\": %.3f, \"mean\": %.3f, \"p50\": %.3f, \"p90\": %.3f,"
                 " \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f",
              ms(h->min), (double)h->sum / (double)h->count / 1e6,
              ms(hb_hist_percentile(h, 50)), ms(hb_hist_percentile(h, 90)),
              ms(hb_hist_percentile(h, 99)), ms(hb_hist_percentile(h, 99.9)),
              ms(h->max));
    fprintf(f, "}");
  } else {
    fprintf(f, ",\n  \"hold_s\": %.3f", r->hold_s);
  }
  fprintf(f, ",\n  \"wall_s\": %.3f,\n  \"client_cpu_s\": %.3f,\n"
             "  \"client_cpu_user_s\": %.3f,\n  \"client_cpu_sys_s\": %.3f,\n"
             "  \"failed\": %s,\n  \"interrupted\": %s\n}\n",
          r->wall_s, r->cpu_user + r->cpu_sys, r->cpu_user, r->cpu_sys,
          r->failed ? "true" : "false", r->interrupted ? "true" : "false");
}

static double tv_s(struct timeval tv) {
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

enum { PH_CONNECT, PH_SETTLE, PH_PUBLISH, PH_HOLD, PH_RESULTS };

static int run(const hb_opts_t *o, result_t *r) {
  uint32_t nw = o->procs;
  int rc = 1;
  hb_pub_t *pub = NULL;
  int ep = -1;
  wk_t *wk = calloc(nw, sizeof(*wk));
  if (!wk) {
    perror("hcs-bench: calloc");
    return 1;
  }
  hb_hist_init(&r->hist);
  r->t_start = hb_now_ns();
  if (spawn(o, wk, nw) < 0) {
    perror("hcs-bench: starting worker processes");
    goto out;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    perror("hcs-bench: epoll_create1");
    goto out;
  }
  for (uint32_t i = 0; i < nw; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &wk[i]};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, wk[i].rep_fd, &ev) < 0) {
      perror("hcs-bench: epoll_ctl");
      goto out;
    }
  }
  if (o->mode == HB_MODE_PUBLISH && hb_pub_new(&pub, o, ep) < 0) {
    perror("hcs-bench: publisher");
    goto out;
  }

  int phase = PH_CONNECT;
  const char *phase_name = "connect";
  uint64_t t0 = r->t_start;
  uint64_t connect_deadline = t0 + (uint64_t)((o->connect_timeout + 5) * 1e9);
  uint64_t settle_until = 0, pub_deadline = 0, hold_until = 0, results_deadline = 0;
  uint64_t next_progress = t0 + 1000000000ull;
  uint64_t last_rx = 0, last_t = t0;
  struct epoll_event evs[64];
  for (;;) {
    uint64_t now = hb_now_ns();
    hb_counts_t t;
    sum_counts(wk, nw, &t);
    uint64_t wake = next_progress;
    if (interrupted && phase != PH_RESULTS) {
      fprintf(stderr, "hcs-bench: interrupted; collecting what was measured\n");
      r->interrupted = 1;
      if (pub)
        hb_pub_stop(pub);
      send_cmd(wk, nw, HB_CMD_STOP, 0);
      phase = PH_RESULTS;
      results_deadline = now + 5000000000ull;
    }
    switch (phase) {
    case PH_CONNECT:
      if (t.ready || now >= connect_deadline) {
        r->t_ready = now;
        if (!t.ready)
          fprintf(stderr, "hcs-bench: workers did not settle their "
                          "connections in time\n");
        if (o->mode == HB_MODE_PUBLISH) {
          phase = PH_SETTLE;
          phase_name = "settle";
          settle_until = now + (uint64_t)(o->settle * 1e9);
        } else if (o->mode == HB_MODE_COUNT) {
          send_cmd(wk, nw, HB_CMD_FINISH, o->count);
          phase = PH_RESULTS;
          phase_name = "count";
          results_deadline =
              now + (uint64_t)((o->duration + o->drain + 10) * 1e9);
        } else {
          fprintf(stderr, "hcs-bench: holding %" PRIu64 " subscribers (%" PRIu64
                          " connect errors) for %.1f s\n",
                  t.connected, t.connect_errors, o->hold);
          phase = PH_HOLD;
          phase_name = "hold";
          hold_until = now + (uint64_t)(o->hold * 1e9);
        }
        continue;
      }
      if (connect_deadline < wake)
        wake = connect_deadline;
      break;
    case PH_SETTLE:
      if (now >= settle_until) {
        /* Said even with --quiet: scripts sample the server from here. */
        fprintf(stderr, "hcs-bench: publishing %" PRIu64 " messages at %g/s to "
                        "%" PRIu64 " subscribers\n",
                o->count, o->rate, t.connected);
        hb_pub_start(pub, now);
        r->t_pub_start = now;
        pub_deadline = now + (uint64_t)(o->duration * 1e9);
        phase = PH_PUBLISH;
        phase_name = "publish";
        continue;
      }
      if (settle_until < wake)
        wake = settle_until;
      break;
    case PH_PUBLISH: {
      if (now >= pub_deadline)
        hb_pub_stop(pub);
      uint64_t due = hb_pub_tick(pub, now);
      if (hb_pub_done(pub) || now >= pub_deadline + 5000000000ull) {
        hb_pub_stop(pub);
        send_cmd(wk, nw, HB_CMD_FINISH, hb_pub_stats(pub)->ok);
        phase = PH_RESULTS;
        phase_name = "drain";
        results_deadline = now + (uint64_t)((o->drain + 10) * 1e9);
        continue;
      }
      if (due < wake)
        wake = due;
      if (pub_deadline < wake)
        wake = pub_deadline;
      break;
    }
    case PH_HOLD:
      if (now >= hold_until) {
        r->hold_s = (double)(now - r->t_ready) / 1e9;
        send_cmd(wk, nw, HB_CMD_STOP, 0);
        phase = PH_RESULTS;
        phase_name = "report";
        results_deadline = now + 10000000000ull;
        continue;
      }
      if (hold_until < wake)
        wake = hold_until;
      break;
    case PH_RESULTS: {
      int all = 1;
      for (uint32_t i = 0; i < nw; i++)
        all &= wk[i].done;
      if (all)
        goto collected;
      if (now >= results_deadline) {
        fprintf(stderr, "hcs-bench: workers did not report in time; "
                        "stopping them\n");
        for (uint32_t i = 0; i < nw; i++)
          if (!wk[i].done) {
            kill(wk[i].pid, SIGKILL);
            wk[i].dead = wk[i].done = 1;
            wk[i].c.error = 1;
          }
        goto collected;
      }
      if (results_deadline < wake)
        wake = results_deadline;
      break;
    }
    }
    if (now >= next_progress) {
      if (pub)
        r->pub = *hb_pub_stats(pub);
      progress(o, wk, nw, r, phase_name, now, &last_rx, &last_t);
      next_progress = now + 1000000000ull;
      continue;
    }
    int timeout = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
    int k = epoll_wait(ep, evs, 64, timeout);
    if (k < 0 && errno != EINTR) {
      perror("hcs-bench: epoll_wait");
      goto out;
    }
    for (int i = 0; i < k; i++) {
      void *ptr = evs[i].data.ptr;
      if (pub && hb_pub_owns(pub, ptr)) {
        hb_pub_io(pub, ptr, evs[i].events);
      } else {
        wk_t *w = ptr;
        read_worker(w, &r->hist);
        if (w->dead)
          (void)epoll_ctl(ep, EPOLL_CTL_DEL, w->rep_fd, NULL);
      }
    }
  }

collected:
  rc = 0;
out:
  if (pub) {
    r->pub = *hb_pub_stats(pub);
    hb_pub_free(pub);
  }
  if (ep >= 0)
    close(ep);
  for (uint32_t i = 0; i < nw; i++) {
    if (wk[i].cmd_fd >= 0)
      close(wk[i].cmd_fd); /* a worker still running sees EOF and stops */
    if (wk[i].rep_fd >= 0)
      close(wk[i].rep_fd);
  }
  for (uint32_t i = 0; i < nw; i++) {
    if (wk[i].pid <= 0)
      continue;
    int st;
    while (waitpid(wk[i].pid, &st, 0) < 0 && errno == EINTR)
      ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      wk[i].c.error = 1;
  }
  uint64_t end = hb_now_ns();
  sum_counts(wk, nw, &r->c);
  r->failed = r->c.error || rc != 0;
  r->wall_s = (double)(end - r->t_start) / 1e9;
  struct rusage self, kids;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  r->cpu_user = tv_s(self.ru_utime) + tv_s(kids.ru_utime);
  r->cpu_sys = tv_s(self.ru_stime) + tv_s(kids.ru_stime);
  if (o->mode == HB_MODE_PUBLISH)
    r->expected = r->c.connected * r->pub.ok;
  else if (o->mode == HB_MODE_COUNT)
    r->expected = r->c.connected * o->count;
  r->lost = r->expected > r->c.received ? r->expected - r->c.received : 0;
  uint64_t from = o->mode == HB_MODE_PUBLISH ? r->pub.first_ns : r->c.first_rx_ns;
  if (r->c.received && from && r->c.last_rx_ns > from)
    r->deliveries_per_s =
        (double)r->c.received / ((double)(r->c.last_rx_ns - from) / 1e9);
  if (r->pub.attempted > 1 && r->pub.last_ns > r->pub.first_ns)
    r->pub_rate = (double)(r->pub.attempted - 1) /
                  ((double)(r->pub.last_ns - r->pub.first_ns) / 1e9);
  free(wk);
  return rc || r->failed;
}

int main(int argc, char **argv) {
  hb_opts_t o;
  const char *err = NULL;
  int prc = parse_opts(&o, argc, argv, &err);
  if (prc == 1) {
    fputs(USAGE, stdout);
    return 0;
  }
  if (prc < 0) {
    fprintf(stderr, "hcs-bench: %s\n", err);
    return 2;
  }
  /* Every subscriber is a socket: take all the open files we may. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  static result_t r;
  int rc = run(&o, &r);
  FILE *table = stdout;
  if (o.json) {
    FILE *jf = stdout;
    if (strcmp(o.json, "-") == 0) {
      table = stderr;
    } else if (!(jf = fopen(o.json, "w"))) {
      fprintf(stderr, "hcs-bench: %s: %s\n", o.json, strerror(errno));
      rc = 1;
    }
    if (jf) {
      print_json(jf, &o, &r, o.procs);
      if (jf != stdout && fclose(jf) != 0) {
        fprintf(stderr, "hcs-bench: %s: %s\n", o.json, strerror(errno));
        rc = 1;
      }
    }
  }
  print_table(table, &o, &r, o.procs);
  if (r.interrupted)
    return 130;
  return rc ? 1 : 0;
}
