/* SPDX-License-Identifier: MIT */
/*
 * The publisher: sends messages 1..count to the publish URL at the chosen
 * rate over a few keep-alive connections, one request in flight on each,
 * and counts the answers. Message SEQ is due at start + (SEQ-1)/rate; it
 * goes out on the first idle connection once due (late if all are busy: the
 * lag is recorded) and carries "hcsb-SEQ-TS" in its body, TS being the
 * CLOCK_MONOTONIC time at which it is written, so subscribers on this
 * machine measure publish -> receive latency.
 *
 * It runs on the main process's epoll loop (main.c calls hb_pub_io() and
 * hb_pub_tick()); each connection owns one request buffer, allocated once.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "parse.h"

enum { P_CLOSED, P_CONNECTING, P_IDLE, P_SENDING, P_WAITING };

/* Give up publishing after this many failed connections in a row. */
#define MAX_CONN_FAILURES 50

typedef struct {
  int fd;
  uint8_t state;
  size_t sent, len; /* request bytes written, request length */
  char *buf;        /* the request being sent */
  hb_resp_t resp;
} pconn_t;

struct hb_pub_s {
  const hb_opts_t *o;
  int ep;
  pconn_t *conns;
  uint32_t n;
  char *head;        /* request line and headers, up to Content-Length */
  size_t head_len;
  const char *pre;   /* body template before and after {payload} */
  size_t pre_len;
  const char *post;
  size_t post_len;
  size_t cap;        /* request buffer size */
  uint64_t next;     /* next sequence number to send */
  uint64_t t0;
  double interval;   /* nanoseconds between messages; 0: no pacing */
  int stopped;
  int started;
  uint32_t failures; /* connections failed in a row */
  int status;        /* status of the answer being read */
  int reported;      /* the first error was printed */
  char err_body[160];
  size_t err_len;
  hb_pub_stats_t st;
  char rbuf[16384];
};

static void conn_close(hb_pub_t *p, pconn_t *c) {
  if (c->state == P_SENDING || c->state == P_WAITING)
    p->st.errors++; /* its message's fate is unknown: not counted as sent */
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  c->state = P_CLOSED;
}

static void conn_fail(hb_pub_t *p, pconn_t *c, const char *what, int err) {
  if (!p->reported) {
    p->reported = 1;
    fprintf(stderr, "hcs-bench: publish connection: %s: %s\n", what,
            strerror(err));
  }
  if (c->state == P_CONNECTING && ++p->failures >= MAX_CONN_FAILURES &&
      !p->stopped) {
    fprintf(stderr, "hcs-bench: %u publish connections failed in a row; "
                    "publishing stops\n", p->failures);
    p->stopped = 1;
  }
  conn_close(p, c);
}

static void conn_open(hb_pub_t *p, pconn_t *c) {
  const hb_opts_t *o = p->o;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  c->state = P_CONNECTING;
  if (c->fd < 0) {
    conn_fail(p, c, "socket", errno);
    return;
  }
  int one = 1;
  (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
    conn_fail(p, c, "epoll_ctl", errno);
    return;
  }
  if (connect(c->fd, (const struct sockaddr *)&o->pub.addr,
              sizeof(o->pub.addr)) < 0 &&
      errno != EINPROGRESS)
    conn_fail(p, c, "connect", errno);
}

static int want_out(hb_pub_t *p, pconn_t *c, int out) {
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u),
                           .data.ptr = c};
  if (epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
    conn_fail(p, c, "epoll_ctl", errno);
    return -1;
  }
  return 0;
}

/* Writes what is left of the request. */
static void conn_write(hb_pub_t *p, pconn_t *c) {
  while (c->sent < c->len) {
    ssize_t k = send(c->fd, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        if (c->state != P_SENDING) {
          c->state = P_SENDING;
          (void)want_out(p, c, 1);
        }
        return;
      }
      conn_fail(p, c, "send", errno);
      return;
    }
    c->sent += (size_t)k;
  }
  if (c->state == P_SENDING && want_out(p, c, 0) < 0)
    return;
  c->state = P_WAITING;
  hb_resp_init(&c->resp);
}

/* Builds message SEQ, stamped with NOW, and starts writing it on C. */
static void send_msg(hb_pub_t *p, pconn_t *c, uint64_t seq, uint64_t now) {
  const hb_opts_t *o = p->o;
  char payload[48];
  int plen = snprintf(payload, sizeof(payload), "hcsb-%" PRIu64 "-%" PRIu64,
                      seq, now);
  size_t pad = o->size > (uint32_t)plen ? o->size - (uint32_t)plen : 0;
  size_t body_len = p->pre_len + (size_t)plen + pad + p->post_len;
  char *b = c->buf;
  memcpy(b, p->head, p->head_len);
  size_t len = p->head_len;
  len += (size_t)snprintf(b + len, p->cap - len, "Content-Length: %zu\r\n\r\n",
                          body_len);
  memcpy(b + len, p->pre, p->pre_len);
  len += p->pre_len;
  memcpy(b + len, payload, (size_t)plen);
  len += (size_t)plen;
  /* Padding after the marker: "-" then x's, so the marker stays whole. */
  if (pad) {
    b[len] = '-';
    memset(b + len + 1, 'x', pad - 1);
    len += pad;
  }
  memcpy(b + len, p->post, p->post_len);
  len += p->post_len;
  c->len = len;
  c->sent = 0;
  p->st.attempted++;
  if (!p->st.first_ns)
    p->st.first_ns = now;
  p->st.last_ns = now;
  conn_write(p, c);
}

static int on_pub_head(int status, void *ud) {
  hb_pub_t *p = ud;
  p->status = status;
  p->err_len = 0;
  return 0;
}

static void on_pub_body(const char *s, size_t n, void *ud) {
  hb_pub_t *p = ud;
  if (p->status >= 200 && p->status <= 299)
    return;
  size_t room = sizeof(p->err_body) - 1 - p->err_len;
  if (n > room)
    n = room;
  memcpy(p->err_body + p->err_len, s, n);
  p->err_len += n;
}

static void answered(hb_pub_t *p, pconn_t *c) {
  if (p->status >= 200 && p->status <= 299) {
    p->st.ok++;
  } else {
    p->st.errors++;
    if (!p->reported) {
      p->reported = 1;
      p->err_body[p->err_len] = '\0';
      for (size_t i = 0; i < p->err_len; i++)
        if (p->err_body[i] == '\n' || p->err_body[i] == '\r')
          p->err_body[i] = ' ';
      fprintf(stderr, "hcs-bench: publish answered HTTP %d: %s\n", p->status,
              p->err_body);
    }
  }
  c->state = P_IDLE;
  if (hb_resp_closes(&c->resp))
    conn_close(p, c);
}

static void conn_read(hb_pub_t *p, pconn_t *c) {
  ssize_t k = recv(c->fd, p->rbuf, sizeof(p->rbuf), 0);
  if (k < 0) {
    if (errno != EAGAIN && errno != EINTR)
      conn_fail(p, c, "recv", errno);
    return;
  }
  if (k == 0 || c->state != P_WAITING) {
    /* Closed, or bytes nobody asked for: start over on a new connection. */
    if (k == 0 && c->state == P_WAITING &&
        hb_resp_eof(&c->resp) == HB_RESP_DONE) {
      answered(p, c); /* a body that ran to the end of the connection */
      return;
    }
    conn_close(p, c);
    return;
  }
  int rc = hb_resp_feed(&c->resp, p->rbuf, (size_t)k, on_pub_head, on_pub_body,
                        p, NULL);
  if (rc == HB_RESP_DONE)
    answered(p, c);
  else if (rc == HB_RESP_ERROR)
    conn_fail(p, c, "malformed response", EPROTO);
}

void hb_pub_io(hb_pub_t *p, void *ptr, uint32_t events) {
  pconn_t *c = ptr;
  switch (c->state) {
  case P_CONNECTING: {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
      err = errno;
    if (err) {
      conn_fail(p, c, "connect", err);
      return;
    }
    if (want_out(p, c, 0) < 0)
      return;
    p->failures = 0;
    c->state = P_IDLE;
    return;
  }
  case P_SENDING:
    if (events & EPOLLOUT)
      conn_write(p, c);
    if (c->state == P_SENDING && (events & (EPOLLERR | EPOLLHUP)))
      conn_fail(p, c, "send", ECONNRESET);
    return;
  case P_WAITING:
  case P_IDLE:
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
      conn_read(p, c);
    return;
  default:
    return;
  }
}

uint64_t hb_pub_tick(hb_pub_t *p, uint64_t now) {
  const hb_opts_t *o = p->o;
  if (!p->started)
    return UINT64_MAX;
  while (!p->stopped && p->next <= o->count) {
    uint64_t due = p->t0 + (uint64_t)((double)(p->next - 1) * p->interval);
    if (due > now)
      return due;
    pconn_t *idle = NULL;
    for (uint32_t i = 0; i < p->n; i++) {
      pconn_t *c = &p->conns[i];
      if (c->state == P_CLOSED)
        conn_open(p, c);
      if (c->state == P_IDLE && !idle)
        idle = c;
    }
    if (!idle)
      return UINT64_MAX; /* an answer frees a connection and calls us */
    if (now - due > p->st.max_lag_ns)
      p->st.max_lag_ns = now - due;
    send_msg(p, idle, p->next++, now);
    now = hb_now_ns();
  }
  return UINT64_MAX;
}

int hb_pub_owns(const hb_pub_t *p, const void *ptr) {
  const pconn_t *c = ptr;
  return c >= p->conns && c < p->conns + p->n;
}

void hb_pub_start(hb_pub_t *p, uint64_t now) {
  p->started = 1;
  p->t0 = now;
}

void hb_pub_stop(hb_pub_t *p) {
  p->stopped = 1;
}

int hb_pub_done(const hb_pub_t *p) {
  if (!p->stopped && p->next <= p->o->count)
    return 0;
  for (uint32_t i = 0; i < p->n; i++)
    if (p->conns[i].state == P_SENDING || p->conns[i].state == P_WAITING)
      return 0;
  return 1;
}

const hb_pub_stats_t *hb_pub_stats(const hb_pub_t *p) {
  return &p->st;
}

int hb_pub_new(hb_pub_t **out, const hb_opts_t *o, int epfd) {
  hb_pub_t *p = calloc(1, sizeof(*p));
  if (!p)
    return -1;
  p->o = o;
  p->ep = epfd;
  p->next = 1;
  p->interval = o->rate > 0 ? 1e9 / o->rate : 0;
  const char *ph = strstr(o->body, "{payload}");
  if (!ph) {
    p->pre = o->body;
    p->pre_len = strlen(o->body);
    p->post = "";
  } else {
    p->pre = o->body;
    p->pre_len = (size_t)(ph - o->body);
    p->post = ph + 9;
  }
  p->post_len = strlen(p->post);
  size_t hcap = 256 + strlen(o->pub.target) + strlen(o->pub.host) +
                strlen(o->content_type);
  for (uint32_t i = 0; i < o->n_pub_headers; i++)
    hcap += strlen(o->pub_headers[i]) + 2;
  p->head = malloc(hcap);
  p->n = o->publishers;
  p->conns = calloc(p->n, sizeof(*p->conns));
  if (!p->head || !p->conns) {
    hb_pub_free(p);
    return -1;
  }
  int len = snprintf(p->head, hcap,
                     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n",
                     o->pub.target, o->pub.host, o->content_type);
  for (uint32_t i = 0; i < o->n_pub_headers; i++)
    len += snprintf(p->head + len, hcap - (size_t)len, "%s\r\n",
                    o->pub_headers[i]);
  p->head_len = (size_t)len;
  p->cap = p->head_len + 64 + p->pre_len + p->post_len + 48 + o->size;
  for (uint32_t i = 0; i < p->n; i++) {
    p->conns[i].fd = -1;
    p->conns[i].buf = malloc(p->cap);
    if (!p->conns[i].buf) {
      hb_pub_free(p);
      return -1;
    }
  }
  for (uint32_t i = 0; i < p->n; i++)
    conn_open(p, &p->conns[i]);
  *out = p;
  return 0;
}

void hb_pub_free(hb_pub_t *p) {
  if (!p)
    return;
  if (p->conns) {
    for (uint32_t i = 0; i < p->n; i++) {
      if (p->conns[i].fd >= 0)
        close(p->conns[i].fd);
      free(p->conns[i].buf);
    }
  }
  free(p->conns);
  free(p->head);
  free(p);
}
