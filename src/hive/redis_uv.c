/* SPDX-License-Identifier: MIT */
/*
 * hiredis on libuv (redis_uv.h): one uv_poll_t per connection, started for
 * the directions hiredis asks for.
 */
#include "hive/redis_uv.h"

#include "common/alloc.h"

typedef struct {
  redisAsyncContext *ac; /* NULL once hiredis cleaned up */
  uv_poll_t poll;
  int events; /* the directions hiredis waits for */
} redis_poll_t;

static void on_poll(uv_poll_t *h, int status, int events) {
  redis_poll_t *p = h->data;
  /* On an error libuv gives no events and has stopped the handle: let
   * hiredis read or write as it wished, so that the call fails and reports
   * the socket's error (then the context is freed, p->ac becomes NULL). */
  int ev = status < 0 ? p->events : events;
  if (p->ac && (ev & UV_READABLE))
    redisAsyncHandleRead(p->ac);
  if (p->ac && (ev & UV_WRITABLE))
    redisAsyncHandleWrite(p->ac);
}

static void update(redis_poll_t *p) {
  if (p->events)
    (void)uv_poll_start(&p->poll, p->events, on_poll);
  else
    (void)uv_poll_stop(&p->poll);
}

static void add_read(void *d) {
  redis_poll_t *p = d;
  p->events |= UV_READABLE;
  update(p);
}

static void del_read(void *d) {
  redis_poll_t *p = d;
  p->events &= ~UV_READABLE;
  update(p);
}

static void add_write(void *d) {
  redis_poll_t *p = d;
  p->events |= UV_WRITABLE;
  update(p);
}

static void del_write(void *d) {
  redis_poll_t *p = d;
  p->events &= ~UV_WRITABLE;
  update(p);
}

static void on_closed(uv_handle_t *h) {
  hcs__free(h->data);
}

/* hiredis is freeing the context: it never calls us again. */
static void cleanup(void *d) {
  redis_poll_t *p = d;
  p->ac = NULL;
  uv_close((uv_handle_t *)&p->poll, on_closed);
}

int hive__redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  if (ac->ev.data != NULL)
    return REDIS_ERR;
  redis_poll_t *p = hcs__calloc(1, sizeof(*p));
  if (p == NULL)
    return REDIS_ERR;
  if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
    hcs__free(p);
    return REDIS_ERR;
  }
  p->poll.data = p;
  p->ac = ac;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  ac->ev.data = p;
  return REDIS_OK;
}
