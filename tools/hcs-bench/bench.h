/* SPDX-License-Identifier: MIT */
/*
 * hcs-bench's shared definitions: the options, target URLs, the counters a
 * subscriber worker process reports, and the messages that travel on the
 * pipes between the main process and its workers.
 *
 * Process model: the main process (main.c) parses the options and forks one
 * worker process per share of the subscribers (worker.c); it publishes
 * itself (pub.c) and merges what the workers report. Each process runs one
 * thread and one epoll loop; nothing is shared but the pipes.
 */
#ifndef HCS_BENCH_BENCH_H
#define HCS_BENCH_BENCH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define HB_MAX_HEADERS 16
/* At most this many sockets per worker process (the open-file limit here is
 * 20,000 per process, and the kernel's ephemeral ports run out too). */
#define HB_MAX_PER_PROC 15000

/* An http:// URL on a loopback address. */
typedef struct {
  struct sockaddr_in addr;
  char host[64];        /* as written, with the port: for Host */
  const char *target;   /* path and query, borrowed from argv ("/" if none) */
  int set;
} hb_url_t;

typedef enum { HB_MODE_PUBLISH, HB_MODE_COUNT, HB_MODE_IDLE } hb_mode_t;

typedef struct {
  hb_mode_t mode;
  hb_url_t sub;          /* the subscribe URL */
  hb_url_t pub;          /* the publish URL (publish mode) */
  uint32_t subscribers;  /* -c */
  uint32_t procs;        /* worker processes */
  uint32_t sources;      /* 127.0.0.1 .. 127.0.0.SOURCES */
  uint32_t connect_inflight; /* connections being set up at once per worker */
  uint64_t count;        /* -n: messages to publish / expected per stream */
  double rate;           /* -r: messages per second; 0 as fast as possible */
  uint32_t publishers;   /* publish connections */
  uint32_t size;         /* payload size in bytes (marker + padding) */
  double duration;       /* seconds of publishing (or counting) at most */
  double drain;          /* seconds to wait for deliveries afterwards */
  double hold;           /* idle mode: seconds to hold the subscribers */
  double connect_timeout; /* seconds to set every subscriber up */
  double settle;         /* seconds between "all connected" and publishing */
  const char *body;      /* publish body template, with {payload} */
  const char *content_type;
  const char *pub_headers[HB_MAX_HEADERS];
  uint32_t n_pub_headers;
  const char *sub_headers[HB_MAX_HEADERS];
  uint32_t n_sub_headers;
  const char *event_type; /* count only events of this type (NULL: all) */
  const char *json;       /* JSON report file; "-" for stdout */
  int quiet;              /* no progress line */
} hb_opts_t;

/* What a worker process has seen so far. */
typedef struct {
  uint64_t subscribers;    /* in this worker's share */
  uint64_t connected;      /* got a 2xx head: subscribed */
  uint64_t connect_errors; /* failed before that (TCP, status, timeout) */
  uint64_t closed;         /* ended by the server after subscribing */
  uint64_t events;         /* events dispatched (of the counted type) */
  uint64_t received;       /* distinct sequence numbers per stream */
  uint64_t duplicates;     /* a sequence number seen again on a stream */
  uint64_t unknown;        /* events without a sequence number in range */
  uint64_t first_rx_ns;    /* CLOCK_MONOTONIC of the first, last event */
  uint64_t last_rx_ns;
  uint64_t bytes;          /* bytes read from all streams */
  uint32_t ready;          /* every subscriber is connected or failed */
  uint32_t error;          /* the worker failed (see its stderr) */
} hb_counts_t;

/* Pipe messages, worker -> main. */
enum { HB_MSG_PROGRESS = 1, HB_MSG_RESULT = 2 };
typedef struct {
  uint32_t type;
  uint32_t worker;
  hb_counts_t c;
} hb_progress_msg_t;
typedef struct {
  uint32_t type;
  uint32_t worker;
  hb_counts_t c;
  hb_hist_t hist; /* publish -> receive latency, nanoseconds */
} hb_result_msg_t;

/* Pipe messages, main -> worker. */
enum {
  HB_CMD_FINISH = 1, /* arg: messages published; drain, then report */
  HB_CMD_STOP = 2,   /* report now and exit */
};
typedef struct {
  uint32_t cmd;
  uint32_t pad;
  uint64_t arg;
} hb_cmd_t;

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hb_now_ns(void);

/* Writes all N bytes to the blocking FD; 0, or -1 on error. */
int hb_write_all(int fd, const void *p, size_t n);

/* Runs worker W of the subscribers [FIRST, FIRST + N) with the pipes
 * CMD_FD (read) and REPORT_FD (write). Returns the process exit status. */
int hb_worker_run(const hb_opts_t *o, uint32_t w, uint32_t first, uint32_t n,
                  int cmd_fd, int report_fd);

/* ---- the publisher (pub.c), run by the main process ---------------------*/

typedef struct hb_pub_s hb_pub_t;

typedef struct {
  uint64_t attempted; /* requests sent */
  uint64_t ok;        /* answered 2xx */
  uint64_t errors;    /* answered otherwise, or failed */
  uint64_t first_ns;  /* when the first and last were sent */
  uint64_t last_ns;
  uint64_t max_lag_ns; /* longest delay of a send behind its schedule */
} hb_pub_stats_t;

/* Creates the publisher on the epoll instance EPFD; its epoll data is
 * tagged with the pointer it registers (hb_pub_owns() tells them apart). */
int hb_pub_new(hb_pub_t **out, const hb_opts_t *o, int epfd);
void hb_pub_free(hb_pub_t *p);
/* Starts the schedule at NOW. */
void hb_pub_start(hb_pub_t *p, uint64_t now);
/* Whether the epoll data pointer PTR is one of the publisher's. */
int hb_pub_owns(const hb_pub_t *p, const void *ptr);
/* Handles epoll EVENTS on the publisher's PTR. */
void hb_pub_io(hb_pub_t *p, void *ptr, uint32_t events);
/* Sends what is due; returns the time of the next send (UINT64_MAX: none
 * is waiting on time). */
uint64_t hb_pub_tick(hb_pub_t *p, uint64_t now);
/* Stops sending new messages (the deadline passed). */
void hb_pub_stop(hb_pub_t *p);
/* Whether every message has been sent and answered (or stopped). */
int hb_pub_done(const hb_pub_t *p);
const hb_pub_stats_t *hb_pub_stats(const hb_pub_t *p);

#endif
