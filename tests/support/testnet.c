/* SPDX-License-Identifier: MIT */
/*
 * tests/support/testnet.c: loopback clients, an HTTP/1.x response reader,
 * curl, and in-process server start/stop for the integration tests (see
 * testnet.h). Test thread only; every wait is bounded.
 */
#include "testnet.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

extern char **environ;

/* ---- time ---------------------------------------------------------------- */

int64_t tn_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tn_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static int remaining_ms(int64_t deadline) {
  int64_t left = deadline - tn_now_ms();
  return left < 0 ? 0 : (int)left;
}

/* ---- registry ------------------------------------------------------------ */

static tn_server_t *servers;
static tn_conn_t *conns;

static void server_unregister(tn_server_t *ts) {
  for (tn_server_t **p = &servers; *p; p = &(*p)->next_reg) {
    if (*p == ts) {
      *p = ts->next_reg;
      return;
    }
  }
}

static void conn_unregister(tn_conn_t *c) {
  for (tn_conn_t **p = &conns; *p; p = &(*p)->next_reg) {
    if (*p == c) {
      *p = c->next_reg;
      return;
    }
  }
}

void tn_cleanup(void) {
  while (conns)
    tn_close(conns); /* unregisters itself */
  while (servers) {
    tn_server_t *ts = servers;
    tn_server_free(ts, TN_WAIT_MS); /* unregisters itself */
    server_unregister(ts);          /* in case it hung */
  }
}

int tn_teardown(void **state) {
  (void)state;
  tn_cleanup();
  return 0;
}

/* ---- server -------------------------------------------------------------- */

void tn_config(hcs_server_config_t *cfg) {
  hcs_server_config_init(cfg);
  cfg->host = "127.0.0.1";
  cfg->port = 0;
  cfg->workers = 2;
  cfg->shutdown_timeout_ms = 3000;
}

int tn_server_start(tn_server_t *ts, const hcs_server_config_t *cfg,
                    const tn_route_t *routes, size_t nroutes) {
  hcs_server_config_t c;
  if (cfg)
    c = *cfg;
  else
    tn_config(&c);
  c.host = "127.0.0.1";
  c.port = 0;
  memset(ts, 0, sizeof(*ts));
  int err = hcs_server_new(&ts->srv, &c);
  if (err < 0) {
    ts->srv = NULL;
    return err;
  }
  for (size_t i = 0; i < nroutes; i++) {
    err = hcs_server_route(ts->srv, routes[i].method, routes[i].path,
                           routes[i].flags, routes[i].handler, routes[i].ud);
    if (err < 0)
      goto fail;
  }
  err = hcs_server_start(ts->srv);
  if (err < 0)
    goto fail;
  ts->port = hcs_server_port(ts->srv);
  if (ts->port <= 0) {
    err = -EINVAL;
    hcs_server_stop(ts->srv);
    if (hcs_server_wait(ts->srv) < 0) {
      /* nothing more to do: free below */
    }
    goto fail;
  }
  ts->next_reg = servers;
  servers = ts;
  return 0;
fail:
  hcs_server_free(ts->srv);
  ts->srv = NULL;
  return err;
}

static void *wait_main(void *arg) {
  tn_server_t *ts = arg;
  ts->wait_rc = hcs_server_wait(ts->srv);
  return NULL;
}

int tn_server_wait(tn_server_t *ts, int timeout_ms) {
  if (ts->srv == NULL || ts->hung)
    return -EINVAL;
  if (ts->stopped)
    return ts->wait_rc;
  pthread_t t;
  if (pthread_create(&t, NULL, wait_main, ts) != 0)
    return -EAGAIN;
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += timeout_ms / 1000;
  dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  int rc = pthread_timedjoin_np(t, NULL, &dl);
  if (rc != 0) {
    /* The server did not stop in time. Leave it (and the waiting thread)
     * alone: freeing it now would race with its workers. */
    pthread_detach(t);
    ts->hung = true;
    return -ETIMEDOUT;
  }
  ts->stopped = true;
  return ts->wait_rc;
}

int tn_server_stop(tn_server_t *ts, int timeout_ms) {
  if (ts->srv == NULL || ts->hung)
    return -EINVAL;
  hcs_server_stop(ts->srv);
  return tn_server_wait(ts, timeout_ms);
}

int tn_server_free(tn_server_t *ts, int timeout_ms) {
  if (ts->srv == NULL)
    return 0;
  if (ts->hung)
    return -ETIMEDOUT;
  if (!ts->stopped) {
    int rc = tn_server_stop(ts, timeout_ms);
    if (rc == -ETIMEDOUT)
      return rc;
  }
  hcs_server_free(ts->srv);
  ts->srv = NULL;
  server_unregister(ts);
  return 0;
}

hcs_server_stats_t tn_stats(const tn_server_t *ts) {
  hcs_server_stats_t st;
  memset(&st, 0, sizeof(st));
  hcs_server_stats(ts->srv, &st);
  return st;
}

/* ---- raw connections ----------------------------------------------------- */

tn_conn_t *tn_connect_rcvbuf(int port, int rcvbuf) {
  return tn_connect_from(NULL, port, rcvbuf);
}

tn_conn_t *tn_connect_from(const char *src, int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return NULL;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (rcvbuf > 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (src != NULL) {
    /* Let connect pick the port, so that each source has its own range. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    struct sockaddr_in from;
    memset(&from, 0, sizeof(from));
    from.sin_family = AF_INET;
    int e = 0;
    if (inet_pton(AF_INET, src, &from.sin_addr) != 1)
      e = EINVAL;
    else if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0)
      e = errno;
    if (e != 0) {
      close(fd);
      errno = e;
      return NULL;
    }
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* A loopback connect completes (or is refused) at once; no need for a
   * non-blocking connect with a timeout. */
  int rc;
  do
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return NULL;
  }
  tn_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    close(fd);
    errno = ENOMEM;
    return NULL;
  }
  c->fd = fd;
  c->next_reg = conns;
  conns = c;
  return c;
}

tn_conn_t *tn_connect(int port) {
  return tn_connect_rcvbuf(port, 0);
}

void tn_close(tn_conn_t *c) {
  if (c == NULL)
    return;
  conn_unregister(c);
  if (c->fd >= 0)
    close(c->fd);
  free(c->buf);
  free(c);
}

void tn_abort(tn_conn_t *c) {
  if (c == NULL)
    return;
  struct linger lg = {1, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  tn_close(c);
}

int tn_send(tn_conn_t *c, const void *data, size_t len) {
  const char *p = data;
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  while (len > 0) {
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int left = remaining_ms(deadline);
      if (left == 0)
        return -ETIMEDOUT;
      struct pollfd pfd = {c->fd, POLLOUT, 0};
      poll(&pfd, 1, left);
      continue;
    }
    return n < 0 ? -errno : -EIO;
  }
  return 0;
}

int tn_send_str(tn_conn_t *c, const char *s) {
  return tn_send(c, s, strlen(s));
}

int tn_sendf(tn_conn_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -ENOMEM;
  int rc = tn_send(c, s, (size_t)n);
  free(s);
  return rc;
}

int tn_send_bytewise(tn_conn_t *c, const char *s) {
  for (size_t i = 0; s[i]; i++) {
    int rc = tn_send(c, s + i, 1);
    if (rc < 0)
      return rc;
  }
  return 0;
}

static int reserve(tn_conn_t *c, size_t extra) {
  if (c->len + extra + 1 <= c->cap)
    return 0;
  size_t cap = c->cap ? c->cap : 65536;
  while (cap < c->len + extra + 1)
    cap *= 2;
  char *p = realloc(c->buf, cap);
  if (p == NULL)
    return -ENOMEM;
  c->buf = p;
  c->cap = cap;
  return 0;
}

int tn_fill(tn_conn_t *c, int timeout_ms) {
  if (c->eof)
    return 0;
  if (reserve(c, 65536) < 0)
    return -ENOMEM;
  int64_t deadline = tn_now_ms() + timeout_ms;
  for (;;) {
    ssize_t n = recv(c->fd, c->buf + c->len, 65536, MSG_DONTWAIT);
    if (n > 0) {
      c->len += (size_t)n;
      c->buf[c->len] = '\0';
      return (int)n;
    }
    if (n == 0) {
      c->eof = true;
      c->buf[c->len] = '\0';
      return 0;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      /* A reset ends the stream like a FIN; keep the error for the test. */
      c->err = -errno;
      c->eof = true;
      c->buf[c->len] = '\0';
      return 0;
    }
    int left = remaining_ms(deadline);
    if (left == 0)
      return -ETIMEDOUT;
    struct pollfd pfd = {c->fd, POLLIN, 0};
    poll(&pfd, 1, left);
  }
}

int tn_read_eof(tn_conn_t *c, int timeout_ms) {
  int64_t deadline = tn_now_ms() + timeout_ms;
  while (!c->eof) {
    int rc = tn_fill(c, remaining_ms(deadline));
    if (rc < 0)
      return rc;
  }
  return 0;
}

int tn_wait_bytes(tn_conn_t *c, const char *needle, int timeout_ms) {
  int64_t deadline = tn_now_ms() + timeout_ms;
  size_t nl = strlen(needle), from = 0;
  for (;;) {
    /* Search only what could hold a match not seen before. */
    if (c->buf && memmem(c->buf + from, c->len - from, needle, nl))
      return 0;
    from = c->len >= nl ? c->len - nl + 1 : 0;
    if (c->eof)
      return -EPIPE;
    int rc = tn_fill(c, remaining_ms(deadline));
    if (rc < 0)
      return rc;
  }
}

void tn_consume(tn_conn_t *c, size_t n) {
  if (n > c->len)
    n = c->len;
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
  if (c->buf)
    c->buf[c->len] = '\0';
}

/* ---- responses ----------------------------------------------------------- */

void tn_response_free(tn_response_t *r) {
  free(r->head);
  for (size_t i = 0; i < r->nfields; i++) {
    free(r->names[i]);
    free(r->values[i]);
  }
  free(r->body);
  memset(r, 0, sizeof(*r));
}

const char *tn_header(const tn_response_t *r, const char *name) {
  for (size_t i = 0; i < r->nfields; i++)
    if (strcasecmp(r->names[i], name) == 0)
      return r->values[i];
  return NULL;
}

size_t tn_header_count(const tn_response_t *r, const char *name) {
  size_t n = 0;
  for (size_t i = 0; i < r->nfields; i++)
    if (strcasecmp(r->names[i], name) == 0)
      n++;
  return n;
}

bool tn_header_has_token(const tn_response_t *r, const char *name,
                         const char *token) {
  size_t tlen = strlen(token);
  for (size_t i = 0; i < r->nfields; i++) {
    if (strcasecmp(r->names[i], name) != 0)
      continue;
    const char *p = r->values[i];
    while (*p) {
      while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
      const char *start = p;
      while (*p && *p != ',')
        p++;
      const char *end = p;
      while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
      if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
        return true;
    }
  }
  return false;
}

bool tn_is_http_date(const char *s) {
  static const char *const days[] = {"Mon", "Tue", "Wed", "Thu",
                                     "Fri", "Sat", "Sun"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
  /* "Sun, 06 Nov 1994 08:49:37 GMT" is exactly 29 bytes. */
  if (s == NULL || strlen(s) != 29)
    return false;
  bool ok = false;
  for (int i = 0; i < 7; i++)
    ok = ok || strncmp(s, days[i], 3) == 0;
  if (!ok || strncmp(s + 3, ", ", 2) != 0)
    return false;
  ok = false;
  for (int i = 0; i < 12; i++)
    ok = ok || strncmp(s + 8, months[i], 3) == 0;
  if (!ok)
    return false;
  static const int dpos[] = {5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24};
  for (size_t i = 0; i < sizeof(dpos) / sizeof(dpos[0]); i++)
    if (!isdigit((unsigned char)s[dpos[i]]))
      return false;
  return s[7] == ' ' && s[11] == ' ' && s[16] == ' ' && s[19] == ':' &&
         s[22] == ':' && strcmp(s + 25, " GMT") == 0;
}

size_t tn_count(const char *data, size_t len, const char *needle) {
  size_t n = 0, nl = strlen(needle);
  const char *p = data, *end = data + len;
  while (p && (size_t)(end - p) >= nl) {
    const char *q = memmem(p, (size_t)(end - p), needle, nl);
    if (q == NULL)
      break;
    n++;
    p = q + nl;
  }
  return n;
}

/* Find CRLF at or after `from` in c->buf; return its offset or -1. */
static long find_crlf(const tn_conn_t *c, size_t from) {
  if (from >= c->len)
    return -1;
  const char *p = memmem(c->buf + from, c->len - from, "\r\n", 2);
  return p ? (long)(p - c->buf) : -1;
}

static int body_append(tn_response_t *r, const char *data, size_t len) {
  if (r->body == NULL || r->body_len + len + 1 > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap : 256;
    while (cap < r->body_len + len + 1)
      cap *= 2;
    char *p = realloc(r->body, cap);
    if (p == NULL)
      return -ENOMEM;
    r->body = p;
    r->body_cap = cap;
  }
  if (len)
    memcpy(r->body + r->body_len, data, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return 0;
}

static char *dup_range(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

/* Parse the head in buf[0..len) (ending with CRLF CRLF). */
static int parse_head(tn_response_t *r, const char *buf, size_t len) {
  r->head = dup_range(buf, len);
  if (r->head == NULL)
    return -ENOMEM;
  /* Status line: HTTP/1.x SP 3DIGIT SP reason CRLF */
  if (len < 14 || memcmp(buf, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)buf[7]) ||
      buf[8] != ' ' || !isdigit((unsigned char)buf[9]) ||
      !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]) ||
      buf[12] != ' ')
    return -EPROTO;
  r->minor = buf[7] - '0';
  r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  /* A bare CR or LF anywhere in the head is a framing error. */
  for (size_t i = 0; i < len; i++) {
    if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
      return -EPROTO;
    if (buf[i] == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))
      return -EPROTO;
  }
  const char *p = memmem(buf, len, "\r\n", 2) + 2;
  const char *end = buf + len - 2; /* the final empty line */
  while (p < end) {
    const char *eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (colon == NULL || colon == p || r->nfields == TN_MAX_FIELDS)
      return -EPROTO;
    for (const char *q = p; q < colon; q++)
      if (*q == ' ' || *q == '\t')
        return -EPROTO;
    const char *v = colon + 1, *ve = eol;
    while (v < ve && (*v == ' ' || *v == '\t'))
      v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
      ve--;
    r->names[r->nfields] = dup_range(p, (size_t)(colon - p));
    r->values[r->nfields] = dup_range(v, (size_t)(ve - v));
    r->nfields++;
    if (!r->names[r->nfields - 1] || !r->values[r->nfields - 1])
      return -ENOMEM;
    p = eol + 2;
  }
  return 0;
}

/* Decide the body framing once the head is parsed. */
static int pick_framing(tn_response_t *r, unsigned flags, uint64_t *length) {
  if ((flags & TN_REQ_HEAD) || (r->status >= 100 && r->status < 200) ||
      r->status == 204 || r->status == 304) {
    r->framing = TN_BODY_NONE;
    return 0;
  }
  const char *te = tn_header(r, "Transfer-Encoding");
  if (te) {
    if (tn_header_count(r, "Transfer-Encoding") != 1 ||
        strcasecmp(te, "chunked") != 0 ||
        tn_header(r, "Content-Length") != NULL)
      return -EPROTO;
    r->framing = TN_BODY_CHUNKED;
    return 0;
  }
  const char *cl = tn_header(r, "Content-Length");
  if (cl) {
    if (tn_header_count(r, "Content-Length") != 1 || *cl == '\0')
      return -EPROTO;
    uint64_t v = 0;
    for (const char *q = cl; *q; q++) {
      if (!isdigit((unsigned char)*q) || v > UINT64_MAX / 10 - 10)
        return -EPROTO;
      v = v * 10 + (uint64_t)(*q - '0');
    }
    *length = v;
    r->framing = TN_BODY_LENGTH;
    return 0;
  }
  r->framing = TN_BODY_CLOSE;
  return 0;
}

enum { S_HEAD, S_LENGTH, S_CHUNK_SIZE, S_CHUNK_DATA, S_TRAILER, S_CLOSE, S_DONE };

int tn_read_response(tn_conn_t *c, tn_response_t *r, unsigned flags,
                     int timeout_ms) {
  memset(r, 0, sizeof(*r));
  if (body_append(r, "", 0) < 0)
    return -ENOMEM;
  int64_t deadline = tn_now_ms() + timeout_ms;
  int state = S_HEAD;
  size_t pos = 0;        /* parse position in c->buf */
  size_t scanned = 0;    /* head bytes searched for CRLF CRLF */
  uint64_t left = 0;     /* body bytes left (length or current chunk) */
  int rc;
  for (;;) {
    /* Advance as far as the buffered bytes allow. */
    bool progress = true;
    while (progress && state != S_DONE) {
      progress = false;
      switch (state) {
      case S_HEAD: {
        const char *p = c->buf ? memmem(c->buf + scanned, c->len - scanned,
                                        "\r\n\r\n", 4)
                               : NULL;
        if (p == NULL) {
          scanned = c->len > 3 ? c->len - 3 : 0;
          break;
        }
        size_t head_len = (size_t)(p - c->buf) + 4;
        if ((rc = parse_head(r, c->buf, head_len)) < 0)
          return rc;
        if ((rc = pick_framing(r, flags, &left)) < 0)
          return rc;
        pos = head_len;
        state = r->framing == TN_BODY_NONE      ? S_DONE
                : r->framing == TN_BODY_LENGTH  ? S_LENGTH
                : r->framing == TN_BODY_CHUNKED ? S_CHUNK_SIZE
                                                : S_CLOSE;
        progress = true;
        break;
      }
      case S_LENGTH: {
        size_t avail = c->len - pos;
        size_t take = avail < left ? avail : (size_t)left;
        if (take > 0) {
          if (body_append(r, c->buf + pos, take) < 0)
            return -ENOMEM;
          pos += take;
          left -= take;
        }
        if (left == 0) {
          state = S_DONE;
          progress = true;
        }
        break;
      }
      case S_CHUNK_SIZE: {
        long eol = find_crlf(c, pos);
        if (eol < 0)
          break;
        uint64_t size = 0;
        size_t i = pos, digits = 0;
        for (; i < (size_t)eol && isxdigit((unsigned char)c->buf[i]); i++) {
          int d = isdigit((unsigned char)c->buf[i])
                      ? c->buf[i] - '0'
                      : (tolower((unsigned char)c->buf[i]) - 'a' + 10);
          if (size > (UINT64_MAX >> 4))
            return -EPROTO;
          size = size * 16 + (uint64_t)d;
          digits++;
        }
        if (digits == 0 || (i < (size_t)eol && c->buf[i] != ';'))
          return -EPROTO;
        pos = (size_t)eol + 2;
        if (size == 0) {
          state = S_TRAILER;
        } else {
          if (r->nchunks < TN_MAX_CHUNKS)
            r->chunk_sizes[r->nchunks] = (size_t)size;
          r->nchunks++;
          left = size;
          state = S_CHUNK_DATA;
        }
        progress = true;
        break;
      }
      case S_CHUNK_DATA: {
        size_t avail = c->len - pos;
        size_t take = avail < left ? avail : (size_t)left;
        if (take > 0) {
          if (body_append(r, c->buf + pos, take) < 0)
            return -ENOMEM;
          pos += take;
          left -= take;
          progress = true;
        }
        if (left == 0 && c->len - pos >= 2) {
          if (memcmp(c->buf + pos, "\r\n", 2) != 0)
            return -EPROTO;
          pos += 2;
          state = S_CHUNK_SIZE;
          progress = true;
        }
        break;
      }
      case S_TRAILER: {
        long eol = find_crlf(c, pos);
        if (eol < 0)
          break;
        bool empty = (size_t)eol == pos;
        pos = (size_t)eol + 2;
        if (empty) {
          r->last_chunk = true;
          state = S_DONE;
        }
        progress = true;
        break;
      }
      case S_CLOSE:
        if (c->eof) {
          if (body_append(r, c->buf + pos, c->len - pos) < 0)
            return -ENOMEM;
          pos = c->len;
          state = S_DONE;
          progress = true;
        }
        break;
      }
    }
    if (state == S_DONE) {
      tn_consume(c, pos);
      return 0;
    }
    if (c->eof) {
      /* r keeps the head and the body bytes that did arrive. */
      tn_consume(c, c->len);
      return -EPIPE;
    }
    rc = tn_fill(c, remaining_ms(deadline));
    if (rc < 0)
      return rc;
  }
}

int tn_roundtrip(int port, const char *request, tn_response_t *r) {
  memset(r, 0, sizeof(*r));
  tn_conn_t *c = tn_connect(port);
  if (c == NULL)
    return -errno;
  int rc = tn_send_str(c, request);
  if (rc == 0) {
    unsigned flags = strncmp(request, "HEAD ", 5) == 0 ? TN_REQ_HEAD : 0;
    do {
      tn_response_free(r);
      rc = tn_read_response(c, r, flags, TN_WAIT_MS);
    } while (rc == 0 && r->status >= 100 && r->status < 200);
  }
  tn_close(c);
  return rc;
}

/* ---- curl ---------------------------------------------------------------- */

static int append_fd(int fd, char **buf, size_t *len) {
  char tmp[16384];
  ssize_t n = read(fd, tmp, sizeof(tmp));
  if (n <= 0)
    return n < 0 && errno == EINTR ? 1 : 0;
  char *p = realloc(*buf, *len + (size_t)n + 1);
  if (p == NULL)
    return 0;
  memcpy(p + *len, tmp, (size_t)n);
  *len += (size_t)n;
  p[*len] = '\0';
  *buf = p;
  return 1;
}

int tn_curl(tn_curl_t *res, int timeout_ms, ...) {
  memset(res, 0, sizeof(*res));
  res->exit_code = -1;
  res->out = calloc(1, 1);
  res->err = calloc(1, 1);
  if (!res->out || !res->err)
    return -ENOMEM;

  char maxtime[32];
  snprintf(maxtime, sizeof(maxtime), "%d.%03d", timeout_ms / 1000,
           timeout_ms % 1000);
  const char *argv[64] = {"curl", "-q", "-s", "-S", "--noproxy", "*",
                          "--max-time", maxtime};
  size_t argc = 8;
  va_list ap;
  va_start(ap, timeout_ms);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && argc < 63)
    argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;

  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) < 0)
    return -errno;
  if (pipe2(err, O_CLOEXEC) < 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    return -e;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, "curl", &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    return -rc;
  }

  /* curl enforces --max-time itself; the margin only guards a stuck curl. */
  int64_t deadline = tn_now_ms() + timeout_ms + 5000;
  bool out_open = true, err_open = true, killed = false;
  while (out_open || err_open) {
    struct pollfd pfd[2] = {{out_open ? out[0] : -1, POLLIN, 0},
                            {err_open ? err[0] : -1, POLLIN, 0}};
    int left = remaining_ms(deadline);
    if (left == 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    int n = poll(pfd, 2, left);
    if (n < 0 && errno != EINTR)
      break;
    if (n <= 0)
      continue;
    if (pfd[0].revents && !append_fd(out[0], &res->out, &res->out_len))
      out_open = false;
    if (pfd[1].revents && !append_fd(err[0], &res->err, &res->err_len))
      err_open = false;
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!killed && WIFEXITED(status))
    res->exit_code = WEXITSTATUS(status);
  return 0;
}

void tn_curl_free(tn_curl_t *res) {
  free(res->out);
  free(res->err);
  memset(res, 0, sizeof(*res));
}

/* ---- handlers ------------------------------------------------------------ */

hcs_response_t *tn_text(int status, const char *body, size_t len) {
  hcs_response_t *res;
  if (hcs_response_new(&res, status) < 0)
    return NULL;
  if (hcs_response_add_header(res, "Content-Type", "text/plain") < 0 ||
      (body && hcs_response_set_body(res, body, len) < 0)) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}
