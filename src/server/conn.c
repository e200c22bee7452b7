/* SPDX-License-Identifier: MIT */
/*
 * server/conn.c: the HTTP/1.1 connection state machine (see conn.h).
 *
 * Input: reads land in the worker's shared buffer; complete requests found
 * there are handled straight from it, and only an incomplete tail is copied
 * into a buffer of the connection's own, so an idle connection holds no
 * read buffer. Output: responses are queued in request order in the write
 * queue and leave through writev (uv_try_write first; uv_write for what the
 * socket did not take). A streaming response blocks the requests pipelined
 * behind it until it ends.
 */
#include "server/conn.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "http1/parser.h"
#include "http1/urlencoded.h"
#include "server/request.h"
#include "server/server.h"

#define LINGER_MS 2000           /* drain input this long before closing */
#define MAX_IOV 1024             /* iovecs per writev (IOV_MAX on Linux) */
#define PULLS_PER_TURN 64        /* producer calls per connection per turn */
#define BYTES_PER_TURN (1 << 20) /* bytes queued per connection per turn */

_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec),
               "uv_buf_t must match struct iovec on Unix");

static const hcs_server_config_t *cfg_of(const hcs_conn_t *c) {
  return &c->worker->server->cfg;
}

static void stat_add(atomic_uint_fast64_t *s, int64_t d) {
  atomic_fetch_add_explicit(s, (uint_fast64_t)d, memory_order_relaxed);
}

static void process_input(hcs_conn_t *c);
static void flush(hcs_conn_t *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* ---- states and timeouts ------------------------------------------------ */

static void set_state(hcs_conn_t *c, hcs_conn_state_t st) {
  hcs_worker_t *w = c->worker;
  if (c->state == st && st != HCS_CONN_IDLE)
    return; /* READING keeps its first deadline: slowloris cannot extend it */
  uint64_t now = uv_now(&w->loop);
  hcs_list_remove(&c->node);
  c->state = (uint8_t)st;
  switch (st) {
  case HCS_CONN_READING:
    c->deadline = now + cfg_of(c)->header_timeout_ms;
    hcs_list_push_back(&w->conns_reading, &c->node);
    break;
  case HCS_CONN_IDLE:
    c->deadline = now + cfg_of(c)->keepalive_timeout_ms;
    hcs_list_push_back(&w->conns_idle, &c->node);
    break;
  case HCS_CONN_BUSY:
    hcs_list_push_back(&w->conns_busy, &c->node);
    break;
  case HCS_CONN_LINGER:
    c->deadline = now + LINGER_MS;
    hcs_list_push_back(&w->conns_linger, &c->node);
    break;
  case HCS_CONN_CLOSED:
    break;
  }
}

static void start_reading(hcs_conn_t *c) {
  if (!c->reading && c->state != HCS_CONN_CLOSED &&
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
    c->reading = true;
}

static void stop_reading(hcs_conn_t *c) {
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
  }
}

/* Drop the first n bytes of input; free an owned buffer left empty, so an
 * idle connection holds no read buffer. */
static void drop_input(hcs_conn_t *c, size_t n) {
  if (n > 0) { /* c->in may be NULL when there is nothing */
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
  }
  if (c->in_len == 0 && !c->in_borrowed) {
    hcs__free(c->in);
    c->in = NULL;
    c->in_cap = 0;
  }
}

/* ---- closing ------------------------------------------------------------ */

static void on_close(uv_handle_t *h) {
  hcs_conn_t *c = h->data;
  hcs_worker_t *w = c->worker;
  hcs_writeq_cleanup(&c->wq);
  if (!c->in_borrowed)
    hcs__free(c->in);
  hcs__free(c->write_req);
  hcs__free(c);
  atomic_fetch_sub(&w->server->conns, 1);
  stat_add(&w->stats.open, -1);
  hcs__worker_conn_gone(w);
}

/* End the streaming response for good: close callback, then free. */
static void finish_stream(hcs_conn_t *c, hcs_close_reason_t reason) {
  hcs_response_t *res = c->stream;
  c->stream = NULL;
  res->conn = NULL;
  stat_add(&c->worker->stats.streams_open, -1);
  hcs__response_finish(res, reason);
}

void hcs__conn_close(hcs_conn_t *c, hcs_close_reason_t reason) {
  if (c->state == HCS_CONN_CLOSED)
    return;
  set_state(c, HCS_CONN_CLOSED);
  hcs_list_remove(&c->ready_node);
  stop_reading(c);
  if (c->stream) {
    /* A stream that had already ended keeps the reason it ended with. */
    hcs_close_reason_t r = c->stream_state == HCS_STREAM_ENDING
                               ? (hcs_close_reason_t)c->stream_reason
                               : reason;
    if (r == HCS_CLOSE_FINISHED)
      r = reason; /* its last bytes never left */
    finish_stream(c, r);
  }
  if (c->in_borrowed) {
    c->in = NULL;
    c->in_borrowed = false;
  }
  uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Everything queued has been sent and no more will come: half-close and
 * keep reading (discarding) for a moment, so that the client reads our last
 * response before it sees a reset for any bytes it was still sending. */
static void start_linger(hcs_conn_t *c) {
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0 ||
      shutdown(fd, SHUT_WR) < 0) {
    hcs__conn_close(c, HCS_CLOSE_FINISHED);
    return;
  }
  set_state(c, HCS_CONN_LINGER);
  if (!c->in_borrowed)
    hcs__free(c->in);
  c->in = NULL;
  c->in_borrowed = false;
  c->in_len = c->in_cap = 0;
  start_reading(c);
}

/* ---- output ------------------------------------------------------------- */

/* Queue a response head. */
static int queue_head(hcs_conn_t *c, hcs_response_t *res, const char *framing,
                      size_t *slot) {
  size_t date_len;
  const char *date = hcs__worker_date(c->worker, &date_len);
  const char *conn = "";
  if (!c->keep_alive)
    conn = "Connection: close\r\n";
  else if (c->minor == 0 || res->announce_keep_alive)
    conn = "Connection: keep-alive\r\n";
  char line[64];
  int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", res->status,
                   hcs__status_reason(res->status));
  size_t flen = strlen(framing), clen = strlen(conn);
  size_t total = (size_t)n + date_len + 13 + res->headers_len + flen + clen + 2;
  char stackbuf[1024];
  char *buf = total <= sizeof stackbuf ? stackbuf : hcs__malloc(total);
  if (buf == NULL)
    return HCS_ENOMEM;
  char *p = buf;
  memcpy(p, line, (size_t)n), p += n;
  memcpy(p, date, date_len), p += date_len;
  memcpy(p, "Server: hcs\r\n", 13), p += 13;
  if (res->headers_len)
    memcpy(p, res->headers, res->headers_len), p += res->headers_len;
  memcpy(p, framing, flen), p += flen;
  memcpy(p, conn, clen), p += clen;
  memcpy(p, "\r\n", 2);
  int err = slot ? hcs_writeq_fill(&c->wq, *slot, buf, total)
                 : hcs_writeq_copy(&c->wq, buf, total);
  if (buf != stackbuf)
    hcs__free(buf);
  return err;
}

static bool status_has_body(int status) {
  return !(status < 200 || status == 204 || status == 304);
}

/* Queue a fixed response: head, then the body by reference. Frees res. */
static int queue_fixed(hcs_conn_t *c, hcs_response_t *res) {
  char framing[48] = "";
  size_t len = res->body ? res->body->len : 0;
  if (status_has_body(res->status))
    snprintf(framing, sizeof framing, "Content-Length: %zu\r\n", len);
  int err = queue_head(c, res, framing, NULL);
  if (err == 0 && len && !c->is_head && status_has_body(res->status))
    err = hcs_writeq_ref(&c->wq, res->body, res->body->data, len);
  hcs__response_finish(res, HCS_CLOSE_FINISHED);
  return err;
}

/* Answer a protocol-level error and close the connection after it. */
static void fail_request(hcs_conn_t *c, int status) {
  stat_add(&c->worker->stats.bad_requests, 1);
  c->keep_alive = false;
  c->close_after = true;
  drop_input(c, c->in_len); /* nothing after a bad request is trusted */
  hcs_response_t *res;
  char body[64];
  int n = snprintf(body, sizeof body, "%d %s\n", status,
                   hcs__status_reason(status));
  if (hcs_response_new(&res, status) == 0) {
    if (hcs_response_add_header(res, "Content-Type", "text/plain") < 0 ||
        hcs_response_set_body(res, body, (size_t)n) < 0 ||
        queue_fixed(c, res) < 0) {
      hcs__conn_close(c, HCS_CLOSE_ERROR);
      return;
    }
  }
  set_state(c, HCS_CONN_BUSY);
  flush(c);
}

static void on_write(uv_write_t *req, int status);

/* Called whenever the queue may have drained: move the connection on. */
static void after_flush(hcs_conn_t *c) {
  if (c->state == HCS_CONN_CLOSED || c->write_in_flight || c->wq.bytes > 0)
    return;
  if (c->stream) {
    if (c->stream_state == HCS_STREAM_ENDING) {
      hcs_close_reason_t reason = (hcs_close_reason_t)c->stream_reason;
      finish_stream(c, reason);
      if (!c->keep_alive)
        c->close_after = true;
    } else {
      /* The socket took everything: the producer may go on, next turn.
       * A stream waiting for events holds no buffers meanwhile. */
      if (c->stream_state == HCS_STREAM_READY)
        hcs__worker_schedule(c->worker, c);
      else
        hcs_writeq_release(&c->wq);
      return;
    }
  }
  if (c->close_after) {
    start_linger(c);
    return;
  }
  if (c->in_len > 0) {
    hcs__worker_schedule(c->worker, c); /* pipelined requests wait */
    return;
  }
  if (c->state == HCS_CONN_BUSY) {
    set_state(c, HCS_CONN_IDLE);
    hcs_writeq_release(&c->wq);
  }
  start_reading(c);
}

static void flush(hcs_conn_t *c) {
  while (!c->write_in_flight && c->wq.bytes > 0 &&
         c->state != HCS_CONN_CLOSED) {
    uv_buf_t bufs[MAX_IOV];
    size_t n = hcs_writeq_iov(&c->wq, (struct iovec *)bufs, MAX_IOV);
    /* Counted first: a reader may see the bytes before the call returns. */
    stat_add(&c->worker->stats.writes, 1);
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)n);
    if (r > 0) {
      hcs_writeq_consume(&c->wq, (size_t)r);
      stat_add(&c->worker->stats.bytes_out, r);
      continue; /* partial: the next try will say EAGAIN if it is full */
    }
    if (r != UV_EAGAIN) {
      hcs__conn_close(c, HCS_CLOSE_PEER_GONE);
      return;
    }
    /* The socket is full: let libuv finish when it becomes writable. */
    if (c->write_req == NULL &&
        (c->write_req = hcs__malloc(sizeof(*c->write_req))) == NULL) {
      hcs__conn_close(c, HCS_CLOSE_ERROR);
      return;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
      bytes += bufs[i].len;
    c->write_req->data = c;
    if (uv_write(c->write_req, (uv_stream_t *)&c->tcp, bufs, (unsigned)n,
                 on_write) < 0) {
      hcs__conn_close(c, HCS_CLOSE_PEER_GONE);
      return;
    }
    c->write_in_flight = true;
    c->write_bytes = bytes;
    return;
  }
  after_flush(c);
}

static void on_write(uv_write_t *req, int status) {
  hcs_conn_t *c = req->data;
  c->write_in_flight = false;
  if (c->state == HCS_CONN_CLOSED)
    return;
  if (status < 0) {
    hcs__conn_close(c, HCS_CLOSE_PEER_GONE);
    return;
  }
  hcs_writeq_consume(&c->wq, c->write_bytes);
  stat_add(&c->worker->stats.bytes_out, (int64_t)c->write_bytes);
  c->write_bytes = 0;
  flush(c);
}

/* ---- streaming ---------------------------------------------------------- */

static void end_stream(hcs_conn_t *c, hcs_close_reason_t reason) {
  c->stream_state = HCS_STREAM_ENDING;
  c->stream_reason = (uint8_t)reason;
  if (!c->stream_chunked)
    c->keep_alive = false; /* a close-delimited body ends with the close */
  else if (c->stream_head_queued &&
           hcs_writeq_copy(&c->wq, "0\r\n\r\n", 5) < 0)
    c->keep_alive = false;
}

/* Queue the stream's head if it is still pending, into slot. */
static int stream_head(hcs_conn_t *c, size_t *slot) {
  if (c->stream_head_queued)
    return 0;
  c->stream_head_queued = true;
  hcs_response_t *res = c->stream;
  res->head_queued = true;
  int err = queue_head(c, res,
                       c->stream_chunked ? "Transfer-Encoding: chunked\r\n" : "",
                       slot);
  /* The head is written: its fields are not needed for the stream's life. */
  hcs__free(res->headers);
  res->headers = NULL;
  res->headers_len = res->headers_cap = 0;
  return err;
}

/* Pull the producer until it pauses, the turn's budget is spent or the
 * socket backs up, then write. */
static void drive_stream(hcs_conn_t *c) {
  hcs_response_t *res = c->stream;
  size_t max_unsent = cfg_of(c)->max_unsent_bytes;
  size_t queued = 0;
  for (int pulls = 0; c->stream == res && c->stream_state == HCS_STREAM_READY;
       pulls++) {
    if (c->write_in_flight)
      return; /* backed up: on_write resumes us */
    if (c->wq.bytes >= max_unsent) {
      flush(c); /* writes, or waits for on_write; either one resumes us */
      return;
    }
    if (pulls >= PULLS_PER_TURN || queued >= BYTES_PER_TURN) {
      flush(c); /* let the other connections have this turn */
      hcs__worker_schedule(c->worker, c);
      return;
    }
    size_t head_slot = 0, chunk_slot = 0;
    bool need_head = !c->stream_head_queued;
    if ((need_head && hcs_writeq_reserve(&c->wq, &head_slot) < 0) ||
        (c->stream_chunked && hcs_writeq_reserve(&c->wq, &chunk_slot) < 0)) {
      hcs__conn_close(c, HCS_CLOSE_ERROR);
      return;
    }
    size_t before = c->wq.bytes;
    res->wq = &c->wq;
    res->produced = 0;
    res->in_produce = true;
    int r = res->produce(res, res->ud);
    res->in_produce = false;
    size_t produced = res->produced;
    int err = 0;

    if (produced > 0 && c->stream_chunked) {
      char size_line[24];
      int n = snprintf(size_line, sizeof size_line, "%zx\r\n", produced);
      err = hcs_writeq_fill(&c->wq, chunk_slot, size_line, (size_t)n);
      if (err == 0)
        err = hcs_writeq_copy(&c->wq, "\r\n", 2);
    }
    if (err == 0 && need_head &&
        (produced > 0 || r != HCS_PRODUCE_PENDING || res->flush_headers))
      err = stream_head(c, &head_slot);
    if (produced == 0) {
      /* Drop the unused reserved slots (the last ones queued). */
      if (c->stream_chunked)
        hcs_writeq_truncate(&c->wq, chunk_slot);
      if (need_head && !c->stream_head_queued)
        hcs_writeq_truncate(&c->wq, head_slot);
    }
    if (err < 0) {
      hcs__conn_close(c, HCS_CLOSE_ERROR);
      return;
    }
    queued += c->wq.bytes - before;

    if (r == HCS_PRODUCE_MORE) {
      if (produced == 0) {
        /* Nothing now but "more": try again next turn, not in a spin. */
        flush(c);
        hcs__worker_schedule(c->worker, c);
        return;
      }
    } else if (r == HCS_PRODUCE_PENDING) {
      c->stream_state = HCS_STREAM_PENDING;
    } else if (r == HCS_PRODUCE_END) {
      end_stream(c, HCS_CLOSE_FINISHED);
    } else {
      end_stream(c, HCS_CLOSE_ERROR);
    }
  }
  flush(c);
}

static void start_stream(hcs_conn_t *c, hcs_response_t *res) {
  c->stream = res;
  res->conn = c;
  c->stream_state = HCS_STREAM_READY;
  c->stream_head_queued = false;
  c->stream_chunked = c->minor >= 1;
  if (!c->stream_chunked)
    c->keep_alive = false;
  stat_add(&c->worker->stats.streams_open, 1);
  set_state(c, HCS_CONN_BUSY);
  if (c->is_head) {
    /* HEAD: the head of what GET would send, and no body at all. */
    int err = stream_head(c, NULL);
    c->stream_state = HCS_STREAM_ENDING;
    c->stream_reason = err < 0 ? HCS_CLOSE_ERROR : HCS_CLOSE_FINISHED;
    flush(c);
    return;
  }
  if (res->abort_requested) {
    /* Aborted before it reached us: close on the next turn, never here. */
    hcs__conn_abort(c, res);
    return;
  }
  if (res->flush_headers && stream_head(c, NULL) < 0) {
    hcs__conn_close(c, HCS_CLOSE_ERROR);
    return;
  }
  drive_stream(c);
}

void hcs__conn_wake(hcs_conn_t *c, hcs_response_t *res) {
  if (c->stream != res || c->state == HCS_CONN_CLOSED)
    return;
  if (c->stream_state == HCS_STREAM_PENDING)
    c->stream_state = HCS_STREAM_READY;
  if (c->stream_state == HCS_STREAM_READY)
    drive_stream(c);
}

/* ---- requests ----------------------------------------------------------- */

static int status_for(int err) {
  switch (err) {
  case HCS_EURITOOLONG: return 414;
  case HCS_EHEADERTOOBIG: return 431;
  case HCS_EBODYTOOBIG: return 413;
  case HCS_EBADVERSION: return 505;
  case HCS_ENOTIMPL: return 501;
  case HCS_EEXPECT: return 417;
  default: return 400;
  }
}

static hcs_response_t *simple_response(int status, const char *allow) {
  hcs_response_t *res;
  char body[64];
  int n = snprintf(body, sizeof body, "%d %s\n", status,
                   hcs__status_reason(status));
  if (hcs_response_new(&res, status) < 0)
    return NULL;
  if (hcs_response_add_header(res, "Content-Type", "text/plain") < 0 ||
      (allow && hcs_response_add_header(res, "Allow", allow) < 0) ||
      hcs_response_set_body(res, body, (size_t)n) < 0) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

/* Route and run the handler for the complete request at c->in; returns the
 * response to send (never NULL unless out of memory). */
static hcs_response_t *handle(hcs_conn_t *c, const hcs_http1_request_t *h,
                              hcs_str_t path, hcs_str_t query,
                              hcs_str_t body) {
  hcs_worker_t *w = c->worker;
  char allow_buf[128];
  hcs_str_t allow;
  const hcs_route_t *rt = hcs__router_match(&w->server->router, h->method, path,
                                            allow_buf, sizeof allow_buf - 1,
                                            &allow);
  if (rt == NULL) {
    /* A method no route names and HTTP does not define: 501. */
    if (!hcs__method_known(h->method))
      return simple_response(501, NULL);
    if (allow.len == 0)
      return simple_response(404, NULL);
    allow_buf[allow.len] = '\0';
    return simple_response(405, allow_buf);
  }
  stat_add(&w->stats.requests, 1);
  hcs_request_t req = {
      .head = h, .path = path, .query = query, .body = body, .tcp = &c->tcp};
  hcs_response_t *res = rt->handler(&req, rt->ud);
  hcs__request_cleanup(&req);
  if (res == NULL || res->sent) {
    /* NULL, or a response already handed over (a handler bug): 500. */
    return simple_response(500, NULL);
  }
  return res;
}

/* The request at c->in is complete (head_len + body): handle it, queue the
 * response and drop the request's bytes. */
static void dispatch(hcs_conn_t *c, size_t request_len) {
  hcs_worker_t *w = c->worker;
  hcs_http1_request_t *h = w->parsed;
  hcs_http1_limits_t limits = {cfg_of(c)->max_header_bytes, 0};
  /* The head was parsed into the worker's scratch, pointing into c->in; if
   * another connection has used the scratch since, or c->in moved (it grew
   * while the body arrived), parse it again (same bytes, same result). */
  if (w->parsed_owner != c || w->parsed_base != c->in) {
    ssize_t r = hcs_http1_parse_request(c->in, c->head_len, &limits, h);
    assert(r == (ssize_t)c->head_len);
    (void)r;
  }
  w->parsed_owner = NULL;
  c->keep_alive = h->keep_alive && !w->stopping;
  c->minor = (uint8_t)h->minor_version;
  c->is_head = hcs_str_eq(h->method, "HEAD");
  hcs_str_t body = {c->in + c->head_len,
                    c->body_kind == HCS_HTTP1_BODY_CHUNKED ? c->body_len
                                                           : c->body_need};
  /* A target we cannot turn into a path is a malformed request: 400, and
   * the connection closes like for any other syntax error. */
  hcs_str_t path, query;
  if (hcs_target_split(h->target, &path, &query) < 0) {
    fail_request(c, 400);
    return;
  }
  if (!(path.len == 1 && path.base[0] == '*')) {
    ssize_t n = hcs_path_normalize(path.base, path.len, w->path_buf);
    if (n < 0) {
      fail_request(c, 400);
      return;
    }
    path = (hcs_str_t){w->path_buf, (size_t)n};
  }
  hcs_response_t *res = handle(c, h, path, query, body);

  /* The request's bytes are done with. */
  drop_input(c, request_len);
  c->head_len = 0;
  c->body_len = c->raw_pos = 0;
  c->body_need = 0;

  if (res == NULL) {
    hcs__conn_close(c, HCS_CLOSE_ERROR);
    return;
  }
  res->sent = true;
  if (res->close_conn)
    c->keep_alive = false;
  if (res->produce) {
    start_stream(c, res);
    return;
  }
  if (queue_fixed(c, res) < 0) {
    hcs__conn_close(c, HCS_CLOSE_ERROR);
    return;
  }
  if (!c->keep_alive)
    c->close_after = true;
}

/* Parse the head at c->in; set up body reading. Returns 1 when a head was
 * found, 0 when more input is needed, -1 when the connection failed. */
static int take_head(hcs_conn_t *c) {
  const hcs_server_config_t *cfg = cfg_of(c);
  hcs_http1_request_t *h = c->worker->parsed;
  hcs_http1_limits_t limits = {cfg->max_header_bytes, 0};
  c->worker->parsed_owner = NULL; /* the scratch is about to change */
  ssize_t r = hcs_http1_parse_request(c->in, c->in_len, &limits, h);
  if (r == HCS_EAGAIN)
    return 0;
  if (r < 0) {
    fail_request(c, status_for((int)r));
    return -1;
  }
  c->worker->parsed_owner = c;
  c->worker->parsed_base = c->in;
  c->head_len = (size_t)r;
  c->body_kind = (uint8_t)h->body;
  c->body_need = h->body == HCS_HTTP1_BODY_LENGTH ? h->content_length : 0;
  c->body_len = 0;
  c->raw_pos = c->head_len;
  if (c->body_need > cfg->max_body_bytes) {
    fail_request(c, 413);
    return -1;
  }
  if (h->body == HCS_HTTP1_BODY_CHUNKED)
    hcs_chunked_decoder_init(&c->chunked);
  /* 100-continue: tell the client to send the body it is holding back. */
  if (h->expect_continue && h->minor_version >= 1 &&
      h->body != HCS_HTTP1_BODY_NONE && c->in_len == c->head_len &&
      hcs_writeq_copy(&c->wq, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0) {
    hcs__conn_close(c, HCS_CLOSE_ERROR);
    return -1;
  }
  return 1;
}

/* Is the body of the request whose head is parsed complete? Returns the
 * request's total length, 0 when more input is needed, -1 on failure. */
static ssize_t take_body(hcs_conn_t *c) {
  if (c->body_kind == HCS_HTTP1_BODY_NONE)
    return (ssize_t)c->head_len;
  if (c->body_kind == HCS_HTTP1_BODY_LENGTH) {
    size_t have = c->in_len - c->head_len;
    return have >= c->body_need ? (ssize_t)(c->head_len + c->body_need) : 0;
  }
  /* Chunked: decode in place, then slide the rest of the input down so the
   * decoded body stays contiguous right after the head. */
  char *raw = c->in + c->raw_pos;
  size_t raw_len = c->in_len - c->raw_pos, out_len = 0, used = 0;
  int r = hcs_chunked_decode(&c->chunked, raw, raw_len, raw, &out_len, &used);
  if (r < 0) {
    fail_request(c, 400);
    return -1;
  }
  char *dst = c->in + c->head_len + c->body_len;
  memmove(dst, raw, out_len);
  c->body_len += out_len;
  memmove(dst + out_len, raw + used, raw_len - used);
  c->in_len -= used - out_len;
  c->raw_pos = c->head_len + c->body_len;
  if (c->body_len > cfg_of(c)->max_body_bytes) {
    fail_request(c, 413);
    return -1;
  }
  return r == 1 ? (ssize_t)(c->head_len + c->body_len) : 0;
}

/* Handle every complete request in c->in, in order, while no stream is
 * running and the write queue is within bounds. */
static void process_input(hcs_conn_t *c) {
  while (c->state != HCS_CONN_CLOSED && c->state != HCS_CONN_LINGER &&
         !c->stream && !c->close_after && c->in_len > 0) {
    if (c->wq.bytes >= cfg_of(c)->max_unsent_bytes)
      break; /* the client is not reading its responses: wait */
    if (c->head_len == 0) {
      int r = take_head(c);
      if (r < 0)
        return;
      if (r == 0) {
        set_state(c, HCS_CONN_READING);
        break;
      }
    }
    ssize_t total = take_body(c);
    if (total < 0)
      return;
    if (total == 0) {
      set_state(c, HCS_CONN_READING);
      break;
    }
    set_state(c, HCS_CONN_BUSY);
    dispatch(c, (size_t)total);
  }
  if (c->state == HCS_CONN_CLOSED)
    return;
  if (c->state == HCS_CONN_READING && !c->stream && !c->close_after)
    start_reading(c); /* it may have stopped while a response was busy */
  flush(c);
}

bool hcs__conn_write_blocked(const hcs_conn_t *c) {
  return c->write_in_flight || c->wq.bytes >= cfg_of(c)->max_unsent_bytes;
}

void hcs__conn_abort(hcs_conn_t *c, hcs_response_t *res) {
  if (c->stream != res || c->state == HCS_CONN_CLOSED)
    return;
  c->stream_abort = true;
  hcs__worker_schedule(c->worker, c);
}

void hcs__conn_drive(hcs_conn_t *c) {
  if (c->state == HCS_CONN_CLOSED)
    return;
  if (c->stream && c->stream_abort) {
    hcs__conn_close(c, HCS_CLOSE_ERROR);
    return;
  }
  if (c->stream) {
    if (c->stream_state == HCS_STREAM_READY)
      drive_stream(c);
    return;
  }
  process_input(c);
}

/* ---- reading ------------------------------------------------------------ */

/* Most input a connection may hold: a head, and a body while one is
 * expected. */
static size_t input_limit(hcs_conn_t *c) {
  const hcs_server_config_t *cfg = cfg_of(c);
  size_t limit = cfg->max_header_bytes + 1;
  if (c->head_len > 0)
    limit = c->head_len + cfg->max_body_bytes + HCS_READ_BUF_SIZE;
  return limit;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  hcs_conn_t *c = h->data;
  if (c->in_len == 0 || c->state == HCS_CONN_LINGER) {
    /* Nothing pending: read into the worker's shared buffer. */
    buf->base = c->worker->read_buf;
    buf->len = HCS_READ_BUF_SIZE;
    return;
  }
  /* A partial request is pending: append to the connection's buffer. */
  size_t limit = input_limit(c);
  if (c->in_cap - c->in_len < 4096 && c->in_cap < limit) {
    size_t cap = c->in_cap * 2;
    if (cap < c->in_len + 16384)
      cap = c->in_len + 16384;
    if (cap > limit)
      cap = limit;
    char *p = hcs__realloc(c->in, cap);
    if (p) {
      c->in = p;
      c->in_cap = cap;
    }
  }
  buf->base = c->in + c->in_len;
  buf->len = c->in_cap - c->in_len;
}

/* Keep what is left of borrowed input in a buffer of the connection's own. */
static void own_input(hcs_conn_t *c) {
  if (!c->in_borrowed)
    return;
  c->in_borrowed = false;
  if (c->in_len == 0 || c->state == HCS_CONN_CLOSED) {
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    return;
  }
  size_t cap = c->in_len < 4096 ? 4096 : c->in_len;
  char *p = hcs__malloc(cap);
  if (p == NULL) {
    c->in = NULL;
    hcs__conn_close(c, HCS_CLOSE_ERROR);
    return;
  }
  memcpy(p, c->in, c->in_len);
  c->in = p;
  c->in_cap = cap;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  hcs_conn_t *c = s->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    /* EOF or error. A request mid-way or an unsent response loses its
     * reader; a closed stream means the client went away. */
    if (nread == UV_EOF && c->state == HCS_CONN_BUSY && !c->stream &&
        c->wq.bytes > 0) {
      /* The client half-closed after sending its requests: answer them. */
      stop_reading(c);
      c->keep_alive = false;
      c->close_after = true;
      return;
    }
    hcs__conn_close(c, HCS_CLOSE_PEER_GONE);
    return;
  }
  if (c->state == HCS_CONN_LINGER)
    return; /* discard */
  if (buf->base == c->worker->read_buf) {
    assert(c->in_len == 0);
    c->in = buf->base;
    c->in_len = (size_t)nread;
    c->in_cap = HCS_READ_BUF_SIZE;
    c->in_borrowed = true;
  } else {
    c->in_len += (size_t)nread;
  }
  if (c->state == HCS_CONN_IDLE)
    set_state(c, HCS_CONN_READING);

  if (c->stream || c->close_after || c->wq.bytes >= cfg_of(c)->max_unsent_bytes) {
    /* Busy with an earlier response: keep the input for later, up to a
     * head's worth, then stop reading until the response is done. A stream
     * may never be done, and a reader that is not reading would not see
     * its client leave: a client that sends that much during a stream is
     * closed instead. */
    own_input(c);
    if (c->in_len > cfg_of(c)->max_header_bytes) {
      if (c->stream)
        hcs__conn_close(c, HCS_CLOSE_ERROR);
      else
        stop_reading(c);
    }
    return;
  }
  process_input(c);
  if (c->state == HCS_CONN_CLOSED)
    return;
  own_input(c);
  if (c->state != HCS_CONN_CLOSED && c->in_len >= input_limit(c))
    fail_request(c, c->head_len ? 413 : 431);
}

/* ---- accept, timeout, shutdown ------------------------------------------ */

void hcs__conn_accept(hcs_worker_t *w) {
  hcs_server_t *srv = w->server;
  hcs_conn_t *c = hcs__calloc(1, sizeof(*c));
  if (c == NULL) {
    stat_add(&w->stats.refused, 1);
    return;
  }
  c->worker = w;
  hcs_list_init(&c->node);
  hcs_list_init(&c->ready_node);
  hcs_writeq_init(&c->wq);
  uv_tcp_init(&w->loop, &c->tcp);
  c->tcp.data = c;
  w->nconns++;
  atomic_fetch_add(&srv->conns, 1);
  stat_add(&w->stats.open, 1);
  if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&c->tcp) < 0) {
    c->state = HCS_CONN_BUSY; /* anything but CLOSED, so close runs */
    hcs__conn_close(c, HCS_CLOSE_ERROR);
    return;
  }
  if (atomic_load(&srv->conns) > srv->cfg.max_connections) {
    /* At the limit: say so and hang up, without reading. */
    static const char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        "Content-Length: 20\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
        "503 Server is full\n";
    uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    stat_add(&w->stats.refused, 1);
    c->state = HCS_CONN_BUSY;
    hcs__conn_close(c, HCS_CLOSE_ERROR);
    return;
  }
  stat_add(&w->stats.accepted, 1);
  uv_tcp_nodelay(&c->tcp, 1);
  c->state = HCS_CONN_BUSY; /* not on any list yet: set_state files it */
  c->keep_alive = true;
  set_state(c, HCS_CONN_READING);
  start_reading(c);
}

void hcs__conn_timeout(hcs_conn_t *c) {
  if (c->state == HCS_CONN_READING) {
    stat_add(&c->worker->stats.timeouts, 1);
    stop_reading(c);
    fail_request(c, 408);
  } else if (c->state == HCS_CONN_IDLE) {
    stat_add(&c->worker->stats.timeouts, 1);
    hcs__conn_close(c, HCS_CLOSE_FINISHED);
  } else {
    hcs__conn_close(c, HCS_CLOSE_FINISHED);
  }
}

void hcs__conn_shutdown(hcs_conn_t *c) {
  c->keep_alive = false;
  switch (c->state) {
  case HCS_CONN_IDLE:
    hcs__conn_close(c, HCS_CLOSE_SHUTDOWN);
    break;
  case HCS_CONN_READING:
    /* A request that has not started arriving is not in flight. */
    if (c->in_len == 0)
      hcs__conn_close(c, HCS_CLOSE_SHUTDOWN);
    break;
  case HCS_CONN_BUSY:
    if (c->stream && c->stream_state != HCS_STREAM_ENDING) {
      end_stream(c, HCS_CLOSE_SHUTDOWN);
      flush(c);
    } else {
      c->close_after = true;
      after_flush(c);
    }
    break;
  default:
    break;
  }
}
