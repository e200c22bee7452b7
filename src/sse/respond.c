/* SPDX-License-Identifier: MIT */
/*
 * SSE responses (hcs_sse_respond*): one streaming producer over four kinds of
 * source (event generator, raw generator, stream of events, stream of raw
 * buffers), with an optional heartbeat.
 *
 * A pull writes whole events only, as many as the source has ready up to a
 * budget, so several queued events leave as one chunk in one writev. The
 * source is consulted on the connection's loop thread only. When the response
 * ends for any reason but a normal finish, its stream is cancelled (queued
 * items freed, pushes refused), then the user's on_close runs, exactly once.
 */
#include <string.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "hcs/sse.h"
#include "sse/clock.h"
#include "sse/respond.h"

/* A pull stops after this many events or bytes, to share the loop. */
#define EVENTS_PER_PULL 64
#define BYTES_PER_PULL (64u << 10)
/* Events up to this size are formatted on the stack, larger ones in a buffer. */
#define STACK_FORMAT 2048

typedef enum { SRC_GENERATOR, SRC_RAW_GENERATOR, SRC_STREAM, SRC_RAW_STREAM } src_kind_t;

typedef struct {
  src_kind_t kind;
  hcs_sse_generator_cb gen;
  hcs_sse_raw_generator_cb raw_gen;
  hcs_stream_t *stream;
  hcs_close_cb on_close;
  void *ud;
  bool started; /* the first pull attached the waker (and the alarm) */
  /* Heartbeat (interval > 0) and end time (end_at > 0), on this clock. */
  hcs_clock_t *clock;
  double interval, last_sent, end_at;
  hcs_alarm_t *alarm;
  double armed_at; /* when the alarm is set to ring (0: not set) */
} sse_src_t;

static hcs_buf_t keepalive = HCS_BUF_STATIC(":\n\n");

/* Write one event whole: formatted on the stack when small. */
static int write_event(hcs_response_t *res, const hcs_sse_event_t *ev,
                       size_t *bytes) {
  char stack[STACK_FORMAT];
  ssize_t n = hcs_sse_format_into(ev, stack, sizeof stack);
  if (n >= 0) {
    *bytes += (size_t)n;
    return hcs_response_write(res, stack, (size_t)n);
  }
  if (n != HCS_ENOSPC)
    return (int)n;
  hcs_buf_t *b;
  int err = hcs_sse_format(ev, &b);
  if (err < 0)
    return err;
  *bytes += b->len;
  err = hcs_response_write_buf(res, b);
  hcs_buf_unref(b);
  return err;
}

/* Write a raw buffer (by reference) and drop the reference we were given. */
static int write_raw(hcs_response_t *res, hcs_buf_t *b, size_t *bytes) {
  *bytes += b->len;
  int err = b->len ? hcs_response_write_buf(res, b) : 0;
  hcs_buf_unref(b);
  return err;
}

/*
 * Get one item from the source and write it. Returns HCS_SSE_NEXT (written),
 * HCS_SSE_PENDING, HCS_SSE_END, or a negative error.
 */
static int next(sse_src_t *s, hcs_response_t *res, size_t *bytes) {
  void *item;
  int r;
  switch (s->kind) {
  case SRC_GENERATOR: {
    hcs_sse_event_t ev = {{NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY, {NULL, 0}};
    r = s->gen(res, &ev, s->ud);
    if (r != HCS_SSE_NEXT)
      return r;
    r = write_event(res, &ev, bytes);
    return r < 0 ? r : HCS_SSE_NEXT;
  }
  case SRC_RAW_GENERATOR: {
    hcs_buf_t *b = NULL;
    r = s->raw_gen(res, &b, s->ud);
    if (r != HCS_SSE_NEXT)
      return r;
    if (b == NULL)
      return HCS_EINVAL;
    r = write_raw(res, b, bytes);
    return r < 0 ? r : HCS_SSE_NEXT;
  }
  case SRC_STREAM:
  case SRC_RAW_STREAM:
    r = hcs_stream_try_take(s->stream, &item);
    if (r == HCS_EAGAIN)
      return HCS_SSE_PENDING;
    if (r == HCS_ECLOSED)
      return HCS_SSE_END;
    if (s->kind == SRC_RAW_STREAM)
      r = write_raw(res, item, bytes);
    else {
      r = write_event(res, item, bytes);
      hcs_sse_event_free(item);
    }
    return r < 0 ? r : HCS_SSE_NEXT;
  }
  return HCS_EINVAL;
}

/* When the alarm must wake us next: the next heartbeat or the end time. */
static double next_alarm(const sse_src_t *s) {
  double at = s->interval > 0 ? s->last_sent + s->interval : 0;
  if (s->end_at > 0 && (at == 0 || s->end_at < at))
    at = s->end_at;
  return at;
}

/* First pull, on the loop thread: hook the stream and the clock to the
 * response's waker. */
static int start(sse_src_t *s, hcs_response_t *res) {
  s->started = true;
  if (s->stream == NULL && s->clock == NULL)
    return 0;
  hcs_waker_t *w = hcs_response_waker(res);
  if (w == NULL)
    return HCS_ENOMEM;
  int err = 0;
  if (s->stream)
    hcs_stream_set_waker(s->stream, w);
  if (s->clock) {
    err = hcs__alarm_new(&s->alarm, s->clock, w);
    if (err == 0) {
      s->armed_at = next_alarm(s);
      hcs__alarm_set(s->alarm, s->armed_at);
    }
  }
  hcs_waker_unref(w);
  return err;
}

static int produce(hcs_response_t *res, void *ud) {
  sse_src_t *s = ud;
  if (!s->started) {
    int err = start(s, res);
    if (err < 0)
      return err;
  }
  size_t bytes = 0;
  int r = HCS_SSE_NEXT;
  for (int n = 0; n < EVENTS_PER_PULL && bytes < BYTES_PER_PULL; n++) {
    r = next(s, res, &bytes);
    if (r != HCS_SSE_NEXT)
      break;
  }
  if (r < 0)
    return r;
  if (r == HCS_SSE_END)
    return HCS_PRODUCE_END;
  if (s->clock) {
    double now = hcs_clock_now(s->clock);
    if (s->end_at > 0 && now >= s->end_at)
      return HCS_ETIMEDOUT; /* ends the stream cleanly */
    if (bytes > 0) {
      s->last_sent = now;
    } else if (r == HCS_SSE_PENDING && s->interval > 0 &&
               now - s->last_sent >= s->interval) {
      int err = hcs_response_write_buf(res, &keepalive);
      if (err < 0)
        return err;
      s->last_sent = now;
    }
    /* Re-arm only when the alarm has rung or must ring earlier: events move
     * the next heartbeat later, and a ring before it is due (timers may ring
     * a little early by the clock) just re-arms here, so a busy stream
     * re-arms about once per interval, not once per event. */
    double next = next_alarm(s);
    if (r == HCS_SSE_PENDING &&
        (hcs__alarm_rang(s->alarm) || next < s->armed_at)) {
      s->armed_at = next;
      hcs__alarm_set(s->alarm, next);
    }
  }
  return r == HCS_SSE_PENDING ? HCS_PRODUCE_PENDING : HCS_PRODUCE_MORE;
}

static void on_close(hcs_response_t *res, hcs_close_reason_t reason, void *ud) {
  sse_src_t *s = ud;
  if (s->stream) {
    hcs_stream_set_waker(s->stream, NULL);
    if (reason != HCS_CLOSE_FINISHED)
      hcs_stream_cancel(s->stream); /* frees what is queued; pushes fail */
    hcs_stream_unref(s->stream);
  }
  hcs__alarm_free(s->alarm);
  if (s->on_close)
    s->on_close(res, reason, s->ud);
  hcs__free(s);
}

/* Build the response around a source s (taken on success). */
static int respond(hcs_response_t **out, const hcs_sse_options_t *opts,
                   sse_src_t *s) {
  hcs_response_t *res;
  int err = hcs_response_new(&res, 200);
  if (err < 0)
    return err;
  size_t n;
  const hcs_sse_header_t *h = hcs_sse_headers(&n);
  for (size_t i = 0; i < n && err == 0; i++)
    err = hcs_response_add_header(res, h[i].name, h[i].value);
  if (err == 0) {
    if (opts) {
      s->on_close = opts->on_close;
      s->ud = opts->ud;
    }
    /* Set last: from here the response owns s and frees it in on_close. */
    err = hcs_response_set_producer(res, produce, on_close, s);
  }
  if (err < 0) {
    hcs_response_free(res);
    return err;
  }
  hcs_response_set_flush_headers(res, opts && opts->flush_headers_immediately);
  if (s->stream)
    hcs_stream_ref(s->stream);
  *out = res;
  return 0;
}

static int respond_with(hcs_response_t **out, const hcs_sse_options_t *opts,
                        const sse_src_t *init) {
  sse_src_t *s = hcs__malloc(sizeof(*s));
  if (s == NULL)
    return HCS_ENOMEM;
  *s = *init;
  int err = respond(out, opts, s);
  if (err < 0)
    hcs__free(s);
  return err;
}

int hcs_sse_respond(hcs_response_t **out, const hcs_sse_options_t *opts,
                    hcs_sse_generator_cb gen) {
  if (gen == NULL)
    return HCS_EINVAL;
  sse_src_t s = {.kind = SRC_GENERATOR, .gen = gen};
  return respond_with(out, opts, &s);
}

int hcs_sse_respond_raw(hcs_response_t **out, const hcs_sse_options_t *opts,
                        hcs_sse_raw_generator_cb gen) {
  if (gen == NULL)
    return HCS_EINVAL;
  sse_src_t s = {.kind = SRC_RAW_GENERATOR, .raw_gen = gen};
  return respond_with(out, opts, &s);
}

int hcs_sse_respond_with_stream(hcs_response_t **out,
                                const hcs_sse_options_t *opts,
                                hcs_stream_t *stream) {
  if (stream == NULL)
    return HCS_EINVAL;
  sse_src_t s = {.kind = SRC_STREAM, .stream = stream};
  return respond_with(out, opts, &s);
}

int hcs_sse_respond_raw_stream(hcs_response_t **out,
                               const hcs_sse_options_t *opts,
                               hcs_stream_t *stream) {
  if (stream == NULL)
    return HCS_EINVAL;
  sse_src_t s = {.kind = SRC_RAW_STREAM, .stream = stream};
  return respond_with(out, opts, &s);
}

int hcs__sse_respond_stream(hcs_response_t **out,
                            const hcs_sse_options_t *opts,
                            hcs_stream_t *stream, bool raw,
                            hcs_clock_t *clock, double interval,
                            double end_after) {
  if (stream == NULL || interval < 0 || end_after < 0 ||
      (clock == NULL && (interval > 0 || end_after > 0)))
    return HCS_EINVAL;
  if (interval == 0 && end_after == 0)
    clock = NULL; /* nothing to time */
  double now = clock ? hcs_clock_now(clock) : 0;
  sse_src_t s = {.kind = raw ? SRC_RAW_STREAM : SRC_STREAM,
                 .stream = stream,
                 .clock = clock,
                 .interval = interval,
                 .last_sent = now,
                 .end_at = end_after > 0 ? now + end_after : 0};
  return respond_with(out, opts, &s);
}

int hcs_sse_respond_with_heartbeat(hcs_response_t **out,
                                   const hcs_sse_options_t *opts,
                                   hcs_clock_t *clock, double interval,
                                   hcs_stream_t *stream) {
  if (clock == NULL || !(interval > 0))
    return HCS_EINVAL;
  return hcs__sse_respond_stream(out, opts, stream, false, clock, interval, 0);
}
