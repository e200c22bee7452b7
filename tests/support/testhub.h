/* SPDX-License-Identifier: MIT */
/*
 * tests/support/testhub.h: helpers for tests that drive the hcs-hub binary
 * as a child process (the abuse tests, tests/integration/test_abuse_*.c).
 *
 * - th_hub_*: start tools/hcs-hub/hcs-hub on 127.0.0.1, port 0, with its
 *   output in a log file; optionally with a lower open-file limit; stop it
 *   with a signal and a bounded wait; read its log.
 * - th_proc_*: what /proc says about a process: VmRSS and VmHWM, CPU time,
 *   open descriptors.
 * - th_metric, th_dev_token, th_get_status: small requests to a hub.
 * - th_sse_*: read an SSE response (HTTP/1.1, chunked) from a tn_conn_t:
 *   the head, then the de-chunked events one by one, and whether the last
 *   chunk arrived.
 *
 * Like testnet.h: test thread only, every wait bounded, no cmocka
 * assertions inside (codes are returned). A hub started here gets
 * PR_SET_PDEATHSIG, so it dies with a test that crashes.
 */
#ifndef HCS_TESTHUB_H
#define HCS_TESTHUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "testnet.h"

/* ---- the hub process ----------------------------------------------------- */

typedef struct th_hub_s {
  pid_t pid; /* 0 when not running */
  int port;
  char log[256]; /* its stdout and stderr */
  int status;    /* wait status once it has exited */
  bool exited;
} th_hub_t;

/*
 * The hub binary: $HCS_BINARY_DIR/tools/hcs-hub/hcs-hub, or, when that
 * variable is unset, ../tools/hcs-hub/hcs-hub next to the test executable's
 * directory (the build tree's layout).
 */
const char *th_hub_binary(void);

/*
 * Start the hub with `--listen 127.0.0.1:0 --access-log off` and the
 * NULL-terminated extra arguments, with RLIMIT_NOFILE set to nofile when
 * nofile > 0, and wait (at most 10 s) for its "listening on" line.
 * Returns 0 with h->pid and h->port set; -errno or -EPIPE (it exited; its
 * log is printed) or -ETIMEDOUT (killed).
 */
int th_hub_start(th_hub_t *h, long nofile, ...);

/* The same with an argument vector (NULL-terminated). */
int th_hub_startv(th_hub_t *h, long nofile, const char *const *args);

/* True while the hub runs (not exited, not a zombie). */
bool th_hub_alive(th_hub_t *h);

/*
 * Send sig and wait at most timeout_ms for the exit. Returns 0 once it has
 * exited (h->status holds the wait status), -ETIMEDOUT if it still runs
 * (it is left running).
 */
int th_hub_signal_wait(th_hub_t *h, int sig, int timeout_ms);

/*
 * SIGTERM, wait at most timeout_ms, SIGKILL if needed. Returns the exit
 * code (0..255), 128 + the signal that ended it, or -ETIMEDOUT when it had
 * to be killed. Idempotent: a hub that exited returns its code again.
 */
int th_hub_stop(th_hub_t *h, int timeout_ms);

/* Kill (if running), reap, remove the log. For teardowns. */
void th_hub_cleanup(th_hub_t *h);

/* True when the hub's log contains needle. */
bool th_hub_log_has(const th_hub_t *h, const char *needle);

/* Print the last `lines` lines of the hub's log through cmocka's
 * print_message-compatible stderr. */
void th_hub_print_log(const th_hub_t *h, int lines);

/* ---- /proc --------------------------------------------------------------- */

/* A "Vm..." field of /proc/PID/status in KiB (e.g. "VmRSS", "VmHWM"), or
 * -1. */
long th_proc_kib(pid_t pid, const char *field);

/* utime + stime of /proc/PID/stat, in clock ticks, or -1. */
long th_proc_cpu_ticks(pid_t pid);

/* Open descriptors of a process (entries of /proc/PID/fd), or -1. */
int th_proc_fds(pid_t pid);

/* Clock ticks per second (sysconf(_SC_CLK_TCK)). */
long th_clk_tck(void);

/* ---- requests ------------------------------------------------------------ */

/*
 * GET path on a fresh connection; returns the status (> 0) or -errno /
 * -ETIMEDOUT. body (may be NULL) receives a malloc'd copy of the body.
 */
int th_get_status(int port, const char *path, char **body);

/* The value of metric `name` from GET /metrics. Returns 0 or -errno. */
int th_metric(int port, const char *name, uint64_t *out);

/*
 * Poll GET /metrics until metric `name` equals want, at most timeout_ms.
 * Returns 0, or -ETIMEDOUT with *last set to the last value read.
 */
int th_metric_wait(int port, const char *name, uint64_t want, int timeout_ms,
                   uint64_t *last);

/* The development token (--dev) from GET /hub/info into out. 0 or -errno. */
int th_dev_token(int port, char *out, size_t cap);

/*
 * Send a Mercure publish on c (keep-alive): POST /.well-known/mercure with
 * the bearer token and the form "topic=<topic>&id=<id>&data=<data>" (id
 * omitted when NULL). The values are sent as given: the test picks bytes
 * that need no escaping. Returns 0 or -errno. Read the answer with
 * th_publish_read, so several publishes can be pipelined.
 */
int th_publish_send(tn_conn_t *c, const char *token, const char *topic,
                    const char *id, const char *data, size_t data_len);

/* The status of the next response on c (its body is discarded), or
 * -errno / -ETIMEDOUT. */
int th_publish_read(tn_conn_t *c);

/* Send a subscribe request: GET /.well-known/mercure?<query>. 0 or -errno. */
int th_subscribe_send(tn_conn_t *c, const char *query);

/* ---- SSE responses ------------------------------------------------------- */

typedef struct th_sse_s {
  tn_conn_t *c;
  int status;      /* the response's status; 0 until the head arrived */
  bool chunked;    /* Transfer-Encoding: chunked */
  bool last_chunk; /* the last chunk and the trailer section arrived */
  bool bad;        /* the framing was invalid */
  int st;          /* de-chunking state (private) */
  uint64_t left;   /* bytes left in the current chunk (private) */
  char *data;      /* de-chunked bytes not taken as events yet */
  size_t len, cap;
  size_t taken;    /* bytes of data already handed out (private) */
  uint64_t events; /* events handed out by th_sse_next */
} th_sse_t;

/* Start reading the response on c (borrowed; th_sse_free does not close
 * it). */
void th_sse_init(th_sse_t *s, tn_conn_t *c);
void th_sse_free(th_sse_t *s);

/*
 * Receive once (at most timeout_ms) and parse what arrived. Returns the
 * number of bytes received, 0 at EOF, -ETIMEDOUT, or -EPROTO (s->bad).
 */
int th_sse_pump(th_sse_t *s, int timeout_ms);

/* Parse what is already in c->buf (after a tn_fill elsewhere). 0 or
 * -EPROTO. */
int th_sse_parse(th_sse_t *s);

/* Pump until the head has arrived (s->status set). 0, -EPIPE, -ETIMEDOUT,
 * -EPROTO. */
int th_sse_wait_head(th_sse_t *s, int timeout_ms);

/* One event: its id ("" if none) and data (lines joined with '\n'). */
typedef struct th_event_s {
  char id[256];
  const char *data; /* valid until the next th_sse_* call on the stream */
  size_t data_len;
  bool comment; /* a comment block only (": ..."), e.g. a heartbeat */
} th_event_t;

/* Take the next complete event of the de-chunked body. Returns true and
 * fills ev, or false when no complete event is buffered. */
bool th_sse_next(th_sse_t *s, th_event_t *ev);

#endif
