/* SPDX-License-Identifier: MIT */
/*
 * A subscriber worker process: opens its share of the SSE subscribers with
 * non-blocking sockets on one epoll loop, reads their streams with the
 * parsers of parse.h and counts what arrives; the main process (main.c)
 * tells it when publishing is over and takes its counters and latency
 * histogram through a pipe.
 *
 * Costs: everything is allocated once at start (one slot per subscriber,
 * one bit per subscriber and sequence number for exact loss and duplicate
 * counts, one read buffer); reading an event allocates nothing and takes the
 * clock once per recv(), not per event. At most opts.connect_inflight
 * connections are being set up at once, so the server's listen backlog does
 * not overflow into SYN retransmits.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "parse.h"

enum {
  SUB_IDLE,       /* not started yet */
  SUB_CONNECTING, /* TCP connect in progress */
  SUB_SENDING,    /* the request is partly written */
  SUB_HEAD,       /* waiting for the response head */
  SUB_STREAM,     /* subscribed: reading events */
  SUB_DONE,       /* failed or ended */
};

typedef struct {
  int fd;
  uint8_t state;
  uint8_t complete; /* counted in worker.complete */
  uint16_t sent;    /* request bytes written */
  uint32_t index;   /* among all subscribers: picks the source address */
  uint64_t received; /* distinct sequence numbers */
  uint64_t *bits;    /* seen sequence numbers, bit SEQ-1 */
  hb_resp_t resp;
  hb_sse_t sse;
} sub_t;

typedef struct {
  const hb_opts_t *o;
  uint32_t id;
  int ep, cmd_fd, report_fd;
  sub_t *subs;
  uint32_t n;
  uint64_t *bitmap;
  size_t words; /* bitmap words per subscriber */
  char *req;    /* the subscribe request, the same for all */
  size_t req_len;
  uint32_t next;     /* next subscriber to start */
  uint32_t inflight; /* being set up */
  uint32_t settled;  /* connected or failed */
  uint64_t expected; /* per stream, once finishing; UINT64_MAX before */
  uint64_t complete; /* streams with nothing more to wait for */
  int finishing;
  int reported_error; /* the first failure was printed */
  int starting;       /* inside start_more() */
  uint64_t rx_now;    /* time of the current recv() */
  sub_t *cur;         /* the subscriber being parsed */
  hb_counts_t c;
  hb_hist_t hist;
  char buf[65536];
} worker_t;

static void sub_complete(worker_t *w, sub_t *s) {
  if (!s->complete) {
    s->complete = 1;
    w->complete++;
  }
}

static void report_error(worker_t *w, const char *what, int err) {
  if (w->reported_error)
    return;
  w->reported_error = 1;
  if (err)
    fprintf(stderr, "hcs-bench: worker %u: first failed subscriber: %s: %s\n",
            w->id, what, strerror(err));
  else
    fprintf(stderr, "hcs-bench: worker %u: first failed subscriber: %s\n",
            w->id, what);
}

static void start_more(worker_t *w);

/* The subscriber stops: its TCP connection is closed, and it counts as a
 * connect error if it never subscribed, as closed if it did. */
static void sub_end(worker_t *w, sub_t *s, const char *why, int err) {
  if (s->state == SUB_DONE)
    return;
  if (s->state == SUB_STREAM) {
    w->c.closed++;
  } else {
    w->c.connect_errors++;
    w->settled++;
    if (s->state != SUB_IDLE)
      w->inflight--;
    report_error(w, why, err);
  }
  if (s->fd >= 0)
    close(s->fd); /* also removes it from the epoll set */
  s->fd = -1;
  s->state = SUB_DONE;
  sub_complete(w, s);
  start_more(w);
}

static int on_head(int status, void *ud) {
  worker_t *w = ud;
  sub_t *s = w->cur;
  if (status < 200 || status > 299) {
    char what[48];
    snprintf(what, sizeof(what), "HTTP status %d", status);
    report_error(w, what, 0);
    return -1;
  }
  s->state = SUB_STREAM;
  w->c.connected++;
  w->settled++;
  w->inflight--;
  if (w->finishing && s->received >= w->expected)
    sub_complete(w, s);
  return 0;
}

static void on_event(const hb_sse_event_t *ev, void *ud) {
  worker_t *w = ud;
  sub_t *s = w->cur;
  const char *want = w->o->event_type;
  if (want && (ev->type_len != strlen(want) ||
               memcmp(ev->type, want, ev->type_len) != 0))
    return;
  w->c.events++;
  if (!w->c.first_rx_ns)
    w->c.first_rx_ns = w->rx_now;
  w->c.last_rx_ns = w->rx_now;
  uint64_t seq = ev->seq;
  if (seq == 0 || seq > w->o->count || !s->bits) {
    w->c.unknown++;
    return;
  }
  uint64_t *word = &s->bits[(seq - 1) / 64];
  uint64_t bit = (uint64_t)1 << ((seq - 1) % 64);
  if (*word & bit) {
    w->c.duplicates++;
    return;
  }
  *word |= bit;
  s->received++;
  w->c.received++;
  if (ev->ts_ns)
    hb_hist_add(&w->hist, w->rx_now > ev->ts_ns ? w->rx_now - ev->ts_ns : 0);
  if (w->finishing && s->received >= w->expected)
    sub_complete(w, s);
}

static void on_body(const char *p, size_t n, void *ud) {
  worker_t *w = ud;
  hb_sse_feed(&w->cur->sse, p, n, on_event, w);
}

/* Writes the rest of the request; then the subscriber waits for the head. */
static void sub_send(worker_t *w, sub_t *s) {
  while (s->sent < w->req_len) {
    ssize_t k = send(s->fd, w->req + s->sent, w->req_len - s->sent,
                     MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        return; /* EPOLLOUT calls again */
      sub_end(w, s, "send", errno);
      return;
    }
    s->sent = (uint16_t)(s->sent + k);
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(s - w->subs)};
  if (epoll_ctl(w->ep, EPOLL_CTL_MOD, s->fd, &ev) < 0) {
    sub_end(w, s, "epoll_ctl", errno);
    return;
  }
  s->state = SUB_HEAD;
}

static void sub_start(worker_t *w, sub_t *s) {
  const hb_opts_t *o = w->o;
  w->inflight++;
  s->state = SUB_CONNECTING;
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    sub_end(w, s, "socket", errno);
    return;
  }
  if (o->sources) {
    /* Bind the source address but let connect() choose the port: binding
     * a port up front would share one ephemeral range among all targets. */
    int one = 1;
    (void)setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                     sizeof(one));
    struct sockaddr_in src;
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + s->index % o->sources);
    if (bind(s->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
      sub_end(w, s, "bind", errno);
      return;
    }
  }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN,
                           .data.u32 = (uint32_t)(s - w->subs)};
  if (epoll_ctl(w->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
    sub_end(w, s, "epoll_ctl", errno);
    return;
  }
  if (connect(s->fd, (const struct sockaddr *)&o->sub.addr,
              sizeof(o->sub.addr)) < 0 &&
      errno != EINPROGRESS) {
    sub_end(w, s, "connect", errno);
    return;
  }
  /* Loopback connects often complete at once; EPOLLOUT tells either way. */
}

static void start_more(worker_t *w) {
  /* sub_start() may fail and end the subscriber, which calls us again:
   * the outer call carries on instead of recursing. */
  if (w->starting)
    return;
  w->starting = 1;
  while (w->inflight < w->o->connect_inflight && w->next < w->n)
    sub_start(w, &w->subs[w->next++]);
  w->starting = 0;
}

static void sub_read(worker_t *w, sub_t *s) {
  ssize_t k = recv(s->fd, w->buf, sizeof(w->buf), 0);
  if (k < 0) {
    if (errno != EAGAIN && errno != EINTR)
      sub_end(w, s, "recv", errno);
    return;
  }
  if (k == 0) {
    sub_end(w, s, "connection closed before the response head", 0);
    return;
  }
  w->rx_now = hb_now_ns();
  w->c.bytes += (uint64_t)k;
  w->cur = s;
  int rc = hb_resp_feed(&s->resp, w->buf, (size_t)k, on_head, on_body, w, NULL);
  if (rc == HB_RESP_ERROR)
    sub_end(w, s, "malformed or refused response", 0);
  else if (rc == HB_RESP_DONE)
    sub_end(w, s, "empty response", 0);
  else if (s->state == SUB_STREAM)
    start_more(w); /* it may just have subscribed, freeing a setup slot */
}

static void sub_io(worker_t *w, sub_t *s, uint32_t events) {
  switch (s->state) {
  case SUB_CONNECTING: {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
      err = errno;
    if (err) {
      sub_end(w, s, "connect", err);
      return;
    }
    if (!(events & (EPOLLOUT | EPOLLIN)))
      return;
    s->state = SUB_SENDING;
    sub_send(w, s);
    return;
  }
  case SUB_SENDING:
    if (events & (EPOLLERR | EPOLLHUP))
      sub_end(w, s, "send", ECONNRESET);
    else
      sub_send(w, s);
    return;
  case SUB_HEAD:
  case SUB_STREAM:
    sub_read(w, s);
    return;
  default:
    return;
  }
}

/* Every subscriber not yet subscribed fails (the connect timeout passed). */
static void give_up_connecting(worker_t *w) {
  w->next = w->n; /* nothing new starts */
  for (uint32_t i = 0; i < w->n; i++) {
    sub_t *s = &w->subs[i];
    if (s->state != SUB_STREAM && s->state != SUB_DONE)
      sub_end(w, s, "connect timeout", ETIMEDOUT);
  }
}

static void send_progress(worker_t *w, uint32_t type) {
  w->c.ready = w->settled == w->n;
  if (type == HB_MSG_PROGRESS) {
    hb_progress_msg_t m = {.type = type, .worker = w->id, .c = w->c};
    (void)hb_write_all(w->report_fd, &m, sizeof(m));
  } else {
    /* The histogram is large: send it from the worker itself. */
    static hb_result_msg_t m;
    m.type = type;
    m.worker = w->id;
    m.c = w->c;
    m.hist = w->hist;
    (void)hb_write_all(w->report_fd, &m, sizeof(m));
  }
}

/* The main process says publishing is over after P messages. */
static void finish(worker_t *w, uint64_t p) {
  w->finishing = 1;
  w->expected = p;
  for (uint32_t i = 0; i < w->n; i++) {
    sub_t *s = &w->subs[i];
    if (s->state == SUB_DONE || s->received >= p)
      sub_complete(w, s);
  }
}

static int setup(worker_t *w, const hb_opts_t *o, uint32_t first, uint32_t n) {
  w->n = n;
  w->expected = UINT64_MAX;
  w->subs = calloc(n ? n : 1, sizeof(*w->subs));
  if (!w->subs)
    return -1;
  if (o->mode != HB_MODE_IDLE && o->count) {
    w->words = (size_t)((o->count + 63) / 64);
    w->bitmap = calloc((size_t)n * w->words + 1, sizeof(uint64_t));
    if (!w->bitmap)
      return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    sub_t *s = &w->subs[i];
    s->fd = -1;
    s->index = first + i;
    s->bits = w->bitmap ? w->bitmap + (size_t)i * w->words : NULL;
    hb_resp_init(&s->resp);
    hb_sse_init(&s->sse);
  }
  /* The request: the same bytes for every subscriber. */
  size_t cap = 256 + strlen(o->sub.target) + strlen(o->sub.host);
  for (uint32_t i = 0; i < o->n_sub_headers; i++)
    cap += strlen(o->sub_headers[i]) + 2;
  w->req = malloc(cap);
  if (!w->req)
    return -1;
  int len = snprintf(w->req, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\n"
                     "Accept: text/event-stream\r\nCache-Control: no-cache\r\n",
                     o->sub.target, o->sub.host);
  for (uint32_t i = 0; i < o->n_sub_headers; i++)
    len += snprintf(w->req + len, cap - (size_t)len, "%s\r\n",
                    o->sub_headers[i]);
  len += snprintf(w->req + len, cap - (size_t)len, "\r\n");
  w->req_len = (size_t)len;
  if (w->req_len > UINT16_MAX)
    return -1;
  w->ep = epoll_create1(EPOLL_CLOEXEC);
  if (w->ep < 0)
    return -1;
  /* The command pipe is tagged with an index past the subscribers. */
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  return epoll_ctl(w->ep, EPOLL_CTL_ADD, w->cmd_fd, &ev);
}

static void teardown(worker_t *w) {
  if (w->subs)
    for (uint32_t i = 0; i < w->n; i++)
      if (w->subs[i].fd >= 0)
        close(w->subs[i].fd);
  if (w->ep >= 0)
    close(w->ep);
  free(w->subs);
  free(w->bitmap);
  free(w->req);
}

int hb_worker_run(const hb_opts_t *o, uint32_t id, uint32_t first, uint32_t n,
                  int cmd_fd, int report_fd) {
  static worker_t wk; /* one per process; its read buffer is 64 KiB */
  worker_t *w = &wk;
  memset(w, 0, sizeof(*w));
  w->o = o;
  w->id = id;
  w->ep = -1;
  w->cmd_fd = cmd_fd;
  w->report_fd = report_fd;
  hb_hist_init(&w->hist);
  w->c.subscribers = n;
  if (setup(w, o, first, n) < 0) {
    fprintf(stderr, "hcs-bench: worker %u: setup failed: %s\n", id,
            strerror(errno));
    w->c.error = 1;
    send_progress(w, HB_MSG_RESULT);
    teardown(w);
    return 1;
  }

  uint64_t start = hb_now_ns();
  uint64_t connect_deadline = start + (uint64_t)(o->connect_timeout * 1e9);
  /* If the main process never finishes (it died), stop by this time. */
  uint64_t hard_deadline =
      start + (uint64_t)((o->connect_timeout + o->settle + o->duration +
                          o->drain + o->hold + 30) * 1e9);
  uint64_t drain_deadline = UINT64_MAX;
  uint64_t next_progress = start;
  int was_ready = 0;
  int stop = 0;
  start_more(w);

  struct epoll_event evs[256];
  while (!stop) {
    uint64_t now = hb_now_ns();
    if (!was_ready && w->settled < w->n && now >= connect_deadline)
      give_up_connecting(w);
    if (!was_ready && w->settled == w->n) {
      was_ready = 1;
      next_progress = now; /* tell the main process at once */
    }
    if (w->finishing && (w->complete >= w->n || now >= drain_deadline))
      break;
    if (now >= hard_deadline) {
      fprintf(stderr, "hcs-bench: worker %u: no word from the main process; "
                      "stopping\n", id);
      break;
    }
    if (now >= next_progress) {
      send_progress(w, HB_MSG_PROGRESS);
      next_progress = now + 250000000ull;
    }
    uint64_t wake = next_progress;
    if (!was_ready && connect_deadline < wake)
      wake = connect_deadline;
    if (drain_deadline < wake)
      wake = drain_deadline;
    int timeout = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
    int k = epoll_wait(w->ep, evs, 256, timeout);
    if (k < 0 && errno != EINTR) {
      fprintf(stderr, "hcs-bench: worker %u: epoll_wait: %s\n", id,
              strerror(errno));
      w->c.error = 1;
      break;
    }
    for (int i = 0; i < k; i++) {
      uint32_t idx = evs[i].data.u32;
      if (idx != UINT32_MAX) {
        sub_io(w, &w->subs[idx], evs[i].events);
        continue;
      }
      hb_cmd_t cmd;
      ssize_t r = read(cmd_fd, &cmd, sizeof(cmd));
      if (r == (ssize_t)sizeof(cmd) && cmd.cmd == HB_CMD_FINISH) {
        finish(w, cmd.arg);
        double wait = o->drain;
        if (o->mode == HB_MODE_COUNT)
          wait += o->duration; /* the stream itself is what we count */
        drain_deadline = hb_now_ns() + (uint64_t)(wait * 1e9);
      } else if (r == (ssize_t)sizeof(cmd) && cmd.cmd == HB_CMD_STOP) {
        stop = 1;
      } else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        stop = 1; /* the main process is gone */
      }
    }
  }
  if (!was_ready)
    give_up_connecting(w);
  send_progress(w, HB_MSG_RESULT);
  teardown(w);
  return w->c.error ? 1 : 0;
}
