/* SPDX-License-Identifier: MIT */
/*
 * hcs/sse.h: Server-Sent Events, the seed's `Hcs.Sse` module in C.
 *
 * Events: an hcs_sse_event_t is a plain value (type, id, retry, data). Build
 * one on the stack for a hot path, or with hcs_sse_event / _event_typed /
 * _make, which validate and copy the fields into one heap allocation that a
 * stream can own (free with hcs_sse_event_free).
 *
 * Validation (docs/sse.md, specs/sse.md §6): an event type or id holding CR,
 * LF or NUL is refused with HCS_EINVAL, so it can never reach the wire; so are
 * other C0 controls and DEL in an event type, an id with leading or trailing
 * space or tab (it would come back trimmed in Last-Event-ID), and a retry
 * that is negative (other than HCS_SSE_NO_RETRY) or above 2147483647. Nothing is stripped silently. Data is length-delimited
 * and may hold any byte; each CRLF, LF or lone CR starts a new "data: " line.
 *
 * Responses: every hcs_sse_respond* function builds a 200 text/event-stream
 * response that streams until its source ends, errs, or is cancelled. A
 * source error ends the stream cleanly (last chunk; the connection stays
 * usable). Cancellation (client gone, server stopping) runs the options'
 * on_close exactly once, on the loop thread, and the source is never pulled
 * after it: this is where the seed's example unsubscribes.
 *
 * Threads: responses are built on the worker thread running the handler and
 * pulled on that worker's loop; formatting functions are pure and may run on
 * any thread.
 */
#ifndef HCS_SSE_H
#define HCS_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "clock.h"
#include "export.h"
#include "response.h"
#include "str.h"
#include "stream.h"

/* The largest retry value accepted, in milliseconds. */
#define HCS_SSE_RETRY_MAX 2147483647

/* "No retry field" (any other negative retry is refused: clients ignore
 * "retry: -1", specs/sse.md row 34). */
#define HCS_SSE_NO_RETRY INT64_MIN

/*
 * One event. Absent optional fields: event_type.base == NULL, id.base ==
 * NULL, retry == HCS_SSE_NO_RETRY. An empty but present event type is written as no event
 * line (it dispatches as "message" either way); an empty present id is
 * written as "id: " (it tells the client to forget its last id).
 */
typedef struct hcs_sse_event_s {
  hcs_str_t event_type; /* "event:" field, or base NULL for "message" */
  hcs_str_t id;         /* "id:" field, or base NULL for none */
  int64_t retry;        /* "retry:" milliseconds, or HCS_SSE_NO_RETRY */
  hcs_str_t data;       /* payload, any bytes; base may be NULL if len 0 */
} hcs_sse_event_t;

/* A header name and value (static strings). */
typedef struct hcs_sse_header_s {
  const char *name;
  const char *value;
} hcs_sse_header_t;

/*
 * Options shared by every respond function (NULL means all defaults).
 *   flush_headers_immediately: send the response head before the first
 *     event, so EventSource fires "open" at once (default false: the head
 *     leaves with the first event);
 *   on_close: runs exactly once when the response ends, with the reason
 *     (HCS_CLOSE_FINISHED, _PEER_GONE, _SHUTDOWN, _ERROR), on the loop thread;
 *     after it nothing is pulled and ud is never used again (may be NULL);
 *   ud: passed to generators and to on_close.
 */
typedef struct hcs_sse_options_s {
  bool flush_headers_immediately;
  hcs_close_cb on_close;
  void *ud;
} hcs_sse_options_t;

/* What a generator returns (besides a negative HCS_E* error). */
typedef enum {
  HCS_SSE_NEXT = 0,    /* an event is in *out: send it, then pull again */
  HCS_SSE_PENDING = 1, /* nothing now: pull again after a wake (waker below) */
  HCS_SSE_END = 2      /* no more events: end the response normally */
} hcs_sse_pull_t;

/*
 * Event generator (the seed's `unit -> event option`). Called on the loop
 * thread when the connection can take more. Fill *out (zeroed; absent
 * optional fields preset) and return HCS_SSE_NEXT; the fields are borrowed
 * only until the generator returns (they are formatted at once). Or return
 * HCS_SSE_PENDING (get a waker first with hcs_response_waker(res) and wake it
 * when an event is ready), HCS_SSE_END, or a negative HCS_E* code, which
 * ends the stream cleanly with on_close reason HCS_CLOSE_ERROR. An invalid
 * event (see validation above) counts as an error: HCS_EINVAL.
 */
typedef int (*hcs_sse_generator_cb)(hcs_response_t *res, hcs_sse_event_t *out,
                                    void *ud);

/*
 * Raw generator (the seed's `unit -> string option`): like the event
 * generator, but on HCS_SSE_NEXT *out is a buffer of preformatted wire text
 * whose reference passes to the library (take an extra reference to share
 * one buffer among many responses). The bytes are written as they are.
 */
typedef int (*hcs_sse_raw_generator_cb)(hcs_response_t *res, hcs_buf_t **out,
                                        void *ud);

/* ---- events -------------------------------------------------------------- */

/*
 * A "message" event with only data (len bytes, copied). Sets *out and
 * returns 0, or HCS_ENOMEM. Free with hcs_sse_event_free.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_event(hcs_sse_event_t **out,
                                             const void *data, size_t len);

/*
 * An event with an explicit type (NUL-terminated, copied) and data (copied).
 * Returns 0, HCS_EINVAL (invalid type; *out untouched), HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_event_typed(hcs_sse_event_t **out,
                                                   const char *event_type,
                                                   const void *data,
                                                   size_t len);

/*
 * An event with any fields: event_type and id are slices (base NULL =
 * absent), retry in milliseconds (HCS_SSE_NO_RETRY = absent), data len
 * bytes. All copied.
 * Returns 0, HCS_EINVAL (a field fails validation; *out untouched),
 * HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_make(hcs_sse_event_t **out,
                                            hcs_str_t event_type, hcs_str_t id,
                                            int64_t retry, const void *data,
                                            size_t len);

/* Free an event from hcs_sse_event/_typed/_make. NULL is a no-op. */
HCS_EXTERN void hcs_sse_event_free(hcs_sse_event_t *ev);

/* hcs_sse_event_free for a stream's free callback (item is an event). */
HCS_EXTERN void hcs_sse_event_free_item(void *item);

/* Check an event's fields. Returns 0 or HCS_EINVAL. */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_validate(const hcs_sse_event_t *ev);

/* ---- formatting ---------------------------------------------------------- */

/*
 * Format one event as wire text into a new buffer (the seed's `format`).
 * Field order: event, id, retry, data lines, empty line. Sets *out (one
 * reference, the caller's) and returns 0; HCS_EINVAL (invalid event);
 * HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_format(const hcs_sse_event_t *ev,
                                              hcs_buf_t **out);

/*
 * The exact number of bytes hcs_sse_format_into writes for ev, or HCS_EINVAL.
 */
HCS_EXTERN ssize_t hcs_sse_format_size(const hcs_sse_event_t *ev);

/*
 * Format ev into dst (cap bytes) without allocating. Returns the number of
 * bytes written; HCS_EINVAL (invalid event) or HCS_ENOSPC (cap is smaller
 * than hcs_sse_format_size), writing nothing in both cases.
 */
HCS_EXTERN ssize_t hcs_sse_format_into(const hcs_sse_event_t *ev, char *dst,
                                       size_t cap);

/*
 * Format a comment (the seed's `comment`): every line of text (split like
 * data) prefixed with ": ", then an empty line; "" gives exactly ":\n\n".
 * Sets *out and returns 0; HCS_EINVAL (text NULL with len > 0); HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_comment(const void *text, size_t len,
                                               hcs_buf_t **out);

/*
 * The standard SSE response headers (the seed's `headers`): Content-Type:
 * text/event-stream, Cache-Control: no-cache, X-Accel-Buffering: no,
 * Connection: keep-alive. Sets *count and returns a static array. Connection
 * is written on HTTP/1.1 keep-alive connections only (never on HTTP/1.0
 * close-delimited streams); SSE responses are never compressed.
 */
HCS_EXTERN const hcs_sse_header_t *hcs_sse_headers(size_t *count);

/* ---- responses ----------------------------------------------------------- */

/*
 * A response streaming the events of a generator (the seed's `respond`).
 * opts is borrowed for the call (NULL = defaults). Sets *out (to return from
 * the handler) and returns 0; HCS_EINVAL (gen NULL); HCS_ENOMEM. On failure
 * on_close never runs.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_respond(hcs_response_t **out,
                                               const hcs_sse_options_t *opts,
                                               hcs_sse_generator_cb gen);

/*
 * A response streaming the events pushed into `stream` (items are
 * hcs_sse_event_t *, created with hcs_sse_event_free_item as free callback;
 * the seed's `respond_with_stream`). Takes a reference to stream. The
 * response ends after the stream is closed and drained; when the response is
 * cancelled the stream is cancelled (queued events freed, later pushes
 * fail with HCS_ECLOSED). An invalid event ends the stream with
 * HCS_CLOSE_ERROR. Returns 0, HCS_EINVAL, HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_respond_with_stream(
    hcs_response_t **out, const hcs_sse_options_t *opts, hcs_stream_t *stream);

/*
 * Like hcs_sse_respond_with_stream, and whenever no event was sent for
 * `interval` seconds of `clock`, writes the keepalive comment ":\n\n" (the
 * seed's `respond_with_heartbeat`). clock is borrowed until on_close.
 * Returns 0, HCS_EINVAL (interval not > 0, clock or stream NULL), HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_respond_with_heartbeat(
    hcs_response_t **out, const hcs_sse_options_t *opts, hcs_clock_t *clock,
    double interval, hcs_stream_t *stream);

/*
 * A response streaming preformatted wire text from a raw generator (the
 * seed's `respond_raw`). Returns 0, HCS_EINVAL, HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_respond_raw(
    hcs_response_t **out, const hcs_sse_options_t *opts,
    hcs_sse_raw_generator_cb gen);

/*
 * A response streaming preformatted wire text pushed into `stream` (items
 * are hcs_buf_t *, free callback hcs_buf_unref_item; the seed's
 * `respond_raw_stream`). Buffers are written by reference: one formatted
 * message can feed many connections without a copy. Otherwise as
 * hcs_sse_respond_with_stream. Returns 0, HCS_EINVAL, HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_sse_respond_raw_stream(
    hcs_response_t **out, const hcs_sse_options_t *opts, hcs_stream_t *stream);

#endif
