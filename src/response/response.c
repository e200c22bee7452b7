/* SPDX-License-Identifier: MIT */
/*
 * response/response.c: building responses (hcs/response.h), producer writes
 * and wakers. Everything here runs on the worker thread that built the
 * response, except hcs_waker_wake/ref/unref, which any thread may call.
 */
#include "response/response.h"

#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "http1/parser.h"
#include "server/conn.h"
#include "server/worker.h"

int hcs_response_new(hcs_response_t **out, int status) {
  if (status < 100 || status > 999)
    return HCS_EINVAL;
  hcs_response_t *res = hcs__calloc(1, sizeof(*res));
  if (res == NULL)
    return HCS_ENOMEM;
  res->status = status;
  *out = res;
  return 0;
}

void hcs__response_finish(hcs_response_t *res, hcs_close_reason_t reason) {
  if (res->waker) {
    /* Later wakes find no worker: the worker may be gone by then. */
    hcs_waker_t *k = res->waker;
    uv_mutex_lock(&k->lock);
    k->worker = NULL;
    uv_mutex_unlock(&k->lock);
    k->res = NULL;
    hcs_waker_unref(k);
  }
  if (res->on_close)
    res->on_close(res, reason, res->ud);
  hcs__free(res->headers);
  hcs_buf_unref(res->body);
  hcs__free(res);
}

void hcs_response_free(hcs_response_t *res) {
  if (res == NULL)
    return;
  hcs__response_finish(res, HCS_CLOSE_ERROR);
}

int hcs_response_status(const hcs_response_t *res) {
  return res->status;
}

int hcs_response_set_status(hcs_response_t *res, int status) {
  if (status < 100 || status > 999)
    return HCS_EINVAL;
  if (res->head_queued || (res->sent && res->produce == NULL))
    return HCS_ESTATE;
  res->status = status;
  return 0;
}

/* Header names the library writes itself. */
static bool is_reserved_header(const char *name) {
  static const char *const reserved[] = {"content-length", "transfer-encoding",
                                         "connection", "date", "server"};
  for (size_t i = 0; i < sizeof(reserved) / sizeof(*reserved); i++)
    if (strcasecmp(name, reserved[i]) == 0)
      return true;
  return false;
}

static bool valid_header_value(const char *v) {
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
      return false;
  return true;
}

int hcs_response_add_header(hcs_response_t *res, const char *name,
                            const char *value) {
  /* A streaming response's head may still change until it is written. */
  if (res->sent && (res->produce == NULL || res->head_queued))
    return HCS_ESTATE;
  size_t nlen = strlen(name), vlen = strlen(value);
  /* "Connection: keep-alive" is a wish the connection honours in its own
   * Connection header (written while it stays open; hcs_sse_headers has it). */
  if (strcasecmp(name, "connection") == 0 &&
      strcasecmp(value, "keep-alive") == 0) {
    res->announce_keep_alive = true;
    return 0;
  }
  if (nlen == 0 || !valid_header_value(value) || is_reserved_header(name))
    return HCS_EINVAL;
  for (size_t i = 0; i < nlen; i++)
    if (!hcs_http1_is_tchar((unsigned char)name[i]))
      return HCS_EINVAL;
  size_t need = res->headers_len + nlen + vlen + 4;
  if (need > res->headers_cap) {
    size_t cap = res->headers_cap ? res->headers_cap * 2 : 256;
    while (cap < need)
      cap *= 2;
    char *h = hcs__realloc(res->headers, cap);
    if (h == NULL)
      return HCS_ENOMEM;
    res->headers = h;
    res->headers_cap = cap;
  }
  char *p = res->headers + res->headers_len;
  memcpy(p, name, nlen);
  p += nlen;
  *p++ = ':';
  *p++ = ' ';
  memcpy(p, value, vlen);
  p += vlen;
  *p++ = '\r';
  *p++ = '\n';
  res->headers_len = need;
  return 0;
}

int hcs_response_remove_header(hcs_response_t *res, const char *name) {
  if (res->sent && (res->produce == NULL || res->head_queued))
    return HCS_ESTATE;
  size_t nlen = strlen(name), i = 0;
  while (i < res->headers_len) {
    const char *line = res->headers + i;
    const char *end = memchr(line, '\n', res->headers_len - i);
    size_t llen = (size_t)(end - line) + 1; /* through "\r\n" */
    if (llen > nlen + 1 && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
      memmove(res->headers + i, line + llen, res->headers_len - i - llen);
      res->headers_len -= llen;
    } else {
      i += llen;
    }
  }
  return 0;
}

int hcs_response_set_body(hcs_response_t *res, const void *data, size_t len) {
  if (res->sent || res->produce)
    return HCS_ESTATE;
  hcs_buf_t *b;
  int err = hcs_buf_copy(&b, data, len);
  if (err < 0)
    return err;
  hcs_buf_unref(res->body);
  res->body = b;
  return 0;
}

int hcs_response_set_body_buf(hcs_response_t *res, hcs_buf_t *buf) {
  if (res->sent || res->produce)
    return HCS_ESTATE;
  hcs_buf_ref(buf);
  hcs_buf_unref(res->body);
  res->body = buf;
  return 0;
}

int hcs_response_set_producer(hcs_response_t *res, hcs_produce_cb produce,
                              hcs_close_cb on_close, void *ud) {
  if (produce == NULL)
    return HCS_EINVAL;
  if (res->sent || res->produce || res->body)
    return HCS_ESTATE;
  res->produce = produce;
  res->on_close = on_close;
  res->ud = ud;
  return 0;
}

void hcs_response_set_flush_headers(hcs_response_t *res, bool flush) {
  res->flush_headers = flush;
}

void hcs_response_set_close(hcs_response_t *res) {
  res->close_conn = true;
}

int hcs_response_write(hcs_response_t *res, const void *data, size_t len) {
  if (!res->in_produce)
    return HCS_ESTATE;
  int err = hcs_writeq_copy(res->wq, data, len);
  if (err == 0)
    res->produced += len;
  return err;
}

int hcs_response_write_buf(hcs_response_t *res, hcs_buf_t *buf) {
  if (!res->in_produce)
    return HCS_ESTATE;
  int err = hcs_writeq_ref(res->wq, buf, buf->data, buf->len);
  if (err == 0)
    res->produced += buf->len;
  return err;
}

hcs_waker_t *hcs_response_waker(hcs_response_t *res) {
  if (res->waker == NULL) {
    hcs_worker_t *w = hcs__current_worker();
    if (w == NULL)
      return NULL; /* not on a worker thread: nothing could be woken */
    hcs_waker_t *k = hcs__calloc(1, sizeof(*k));
    if (k == NULL)
      return NULL;
    if (uv_mutex_init(&k->lock) != 0) {
      hcs__free(k);
      return NULL;
    }
    atomic_init(&k->refs, 1); /* the response's own reference */
    atomic_init(&k->queued, false);
    k->worker = w;
    k->res = res;
    res->waker = k;
  }
  return hcs_waker_ref(res->waker);
}

hcs_waker_t *hcs_waker_ref(hcs_waker_t *w) {
  atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
  return w;
}

void hcs_waker_unref(hcs_waker_t *w) {
  if (w && atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) {
    uv_mutex_destroy(&w->lock);
    hcs__free(w);
  }
}

void hcs_waker_wake(hcs_waker_t *w) {
  /* Coalesce: only the wake that flips `queued` enqueues; the loop clears it
   * before resuming the producer, so a wake during the pull queues again. */
  if (atomic_exchange_explicit(&w->queued, true, memory_order_acq_rel))
    return;
  /* Holding the lock keeps the response from ending (and its worker from
   * going away) while the wake is posted. Once ended, `queued` stays set and
   * later wakes return above. */
  uv_mutex_lock(&w->lock);
  if (w->worker)
    hcs__worker_post_wake(w->worker, w);
  uv_mutex_unlock(&w->lock);
}

const char *hcs__status_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "";
  }
}

int hcs_response_abort(hcs_response_t *res) {
  if (res->produce == NULL || hcs__current_worker() == NULL)
    return HCS_ESTATE;
  if (res->conn == NULL) {
    /* Not on a connection yet (the handler still holds it): the
     * connection closes as soon as it would start streaming. */
    res->abort_requested = true;
    return 0;
  }
  hcs__conn_abort(res->conn, res);
  return 0;
}

bool hcs_response_write_blocked(const hcs_response_t *res) {
  return res->conn != NULL && hcs__conn_write_blocked(res->conn);
}
