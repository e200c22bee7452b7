/* SPDX-License-Identifier: MIT */
/*
 * hcs/response.h: HTTP responses, with a body from a buffer or streamed from
 * a producer.
 *
 * A handler builds a response and returns it; the server then owns it and
 * frees it once sent. Responses are built and used on the worker thread that
 * runs the handler; only wakers (below) may be used from other threads.
 *
 * Streaming: a producer is pulled on the connection's loop thread whenever
 * the socket can take more. It writes bytes with hcs_response_write /
 * hcs_response_write_buf and says what comes next:
 *
 *   HCS_PRODUCE_MORE     it may have more: pull again when the socket allows;
 *   HCS_PRODUCE_PENDING  nothing now: do not pull until a waker fires;
 *   HCS_PRODUCE_END      the body is complete;
 *   a negative HCS_E*    an error: the body is ended cleanly (last chunk on
 *                        HTTP/1.1) and the close callback gets HCS_CLOSE_ERROR.
 *
 * After END, an error or the close callback, the producer is never called
 * again. The close callback runs exactly once, on the loop thread, never
 * inside the caller's own stack, with the reason the response ended; after
 * it the library never touches the user pointer, so it may be freed there.
 *
 * On HTTP/1.1 the body is sent with chunked encoding and the connection stays
 * usable afterwards; on HTTP/1.0 the body is close-delimited. Bytes written
 * by one pull leave as one chunk, batched with others into one writev.
 */
#ifndef HCS_RESPONSE_H
#define HCS_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "export.h"

typedef struct hcs_response_s hcs_response_t;
typedef struct hcs_waker_s hcs_waker_t;

/* What a producer returns when it does not fail. */
typedef enum {
  HCS_PRODUCE_MORE = 0,
  HCS_PRODUCE_PENDING = 1,
  HCS_PRODUCE_END = 2,
} hcs_produce_t;

/* Why a streaming response ended; passed to its close callback. */
typedef enum {
  HCS_CLOSE_FINISHED = 0,  /* the producer returned END and all was sent  */
  HCS_CLOSE_PEER_GONE = 1, /* the client closed or reset the connection   */
  HCS_CLOSE_SHUTDOWN = 2,  /* the server is stopping                      */
  HCS_CLOSE_ERROR = 3,     /* the producer failed, a write failed, or the
                              response was freed without being sent       */
} hcs_close_reason_t;

/*
 * Pull the next part of a streaming body. Loop thread of the connection.
 * Inside it, call hcs_response_write*, hcs_response_waker; do not free res.
 * Returns an hcs_produce_t or a negative HCS_E* code (see above).
 */
typedef int (*hcs_produce_cb)(hcs_response_t *res, void *ud);

/*
 * The streaming response ended (reason above). Loop thread; exactly once.
 * res is still valid during the call and freed right after it.
 */
typedef void (*hcs_close_cb)(hcs_response_t *res, hcs_close_reason_t reason,
                             void *ud);

/*
 * Create a response with the given status (100..999 are accepted; 1xx and
 * 204/304 never carry a body). Sets *out and returns 0, HCS_EINVAL for a bad
 * status, HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_response_new(hcs_response_t **out,
                                                int status);

/*
 * Free a response that was never returned to the server. If it has a
 * producer, its close callback runs before this returns, with
 * HCS_CLOSE_ERROR. NULL is a no-op.
 */
HCS_EXTERN void hcs_response_free(hcs_response_t *res);

/* The response's status. */
HCS_EXTERN int hcs_response_status(const hcs_response_t *res);

/*
 * Change the status while it can still reach the client: before the
 * response is returned, or, for a streaming response without flushed
 * headers, from its producer before it writes anything (e.g. a reply that
 * waits for an outcome, then says 200 or 503). Returns 0, HCS_EINVAL (not
 * 100..999), or HCS_ESTATE (the head is already written).
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_response_set_status(hcs_response_t *res,
                                                       int status);

/*
 * Add a header field (both strings copied). The name must be an HTTP token;
 * the value must not contain CR, LF or NUL. Framing headers are the
 * library's: Content-Length, Transfer-Encoding, Connection, Date and Server
 * are refused with HCS_EINVAL (set Connection: close with
 * hcs_response_set_close), except "Connection: keep-alive", which asks for
 * that header whenever the connection stays open after the response. A
 * streaming response without flushed headers may still gain headers from
 * its producer before the first write. Returns 0, HCS_EINVAL, HCS_ENOMEM, or HCS_ESTATE
 * once the response has been returned to the server.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_response_add_header(hcs_response_t *res,
                                                       const char *name,
                                                       const char *value);

/*
 * Remove every header field named `name` (case-insensitive) added so far,
 * e.g. to replace a default. Returns 0, or HCS_ESTATE once the head is
 * written.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_response_remove_header(hcs_response_t *res,
                                                          const char *name);

/*
 * Set a fixed body: len bytes of data, copied. Replaces any earlier body.
 * Returns 0, HCS_ENOMEM, or HCS_ESTATE if the response streams.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_response_set_body(hcs_response_t *res,
                                                     const void *data,
                                                     size_t len);

/*
 * Set a fixed body from a shared buffer: takes one reference to buf on
 * success (the caller keeps its own). Returns 0 or HCS_ESTATE.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_response_set_body_buf(hcs_response_t *res,
                                                         hcs_buf_t *buf);

/*
 * Make the response stream its body from `produce`. `on_close` (may be NULL)
 * runs exactly once when it ends. `ud` is borrowed until on_close.
 * Returns 0, HCS_EINVAL (produce is NULL) or HCS_ESTATE (already streaming
 * or has a body).
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_response_set_producer(
    hcs_response_t *res, hcs_produce_cb produce, hcs_close_cb on_close,
    void *ud);

/*
 * Send a streaming response's headers as soon as the response starts, before
 * the first body bytes (by default they leave together with the first bytes
 * the producer writes). Clients such as EventSource fire "open" on headers.
 */
HCS_EXTERN void hcs_response_set_flush_headers(hcs_response_t *res,
                                               bool flush);

/* Close the connection after this response (sends Connection: close). */
HCS_EXTERN void hcs_response_set_close(hcs_response_t *res);

/*
 * Append len bytes (copied) to the streaming body. Only inside the producer.
 * Returns 0, HCS_ENOMEM, or HCS_ESTATE outside a producer call.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_response_write(hcs_response_t *res,
                                                  const void *data,
                                                  size_t len);

/*
 * Append a shared buffer to the streaming body without copying: takes one
 * reference, dropped when the bytes have been written. Only inside the
 * producer. Returns 0, HCS_ENOMEM, or HCS_ESTATE.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_response_write_buf(hcs_response_t *res,
                                                      hcs_buf_t *buf);

/*
 * Close a streaming response's connection soon, dropping its unsent bytes
 * (for instance a subscriber too slow to keep up). The close callback then
 * runs with HCS_CLOSE_ERROR, on a later turn of the loop, never inside this
 * call. A response not yet returned by its handler closes its connection
 * as soon as it is: no byte of it is sent. Loop thread of the response
 * only. Returns 0, or HCS_ESTATE (not a streaming response, or not on a
 * worker thread). After the response ended it must not be called (the
 * response is freed then).
 */
HCS_EXTERN int hcs_response_abort(hcs_response_t *res);

/*
 * True when the streaming response's connection holds bytes its socket did
 * not take (the client reads slower than we write). Loop thread of the
 * response. False when not on a connection.
 */
HCS_EXTERN bool hcs_response_write_blocked(const hcs_response_t *res);

/*
 * A new reference to the response's waker, for resuming a PENDING producer
 * from any thread. Loop thread only (e.g. inside the handler or producer).
 * The waker outlives the response: waking after the response ended is a
 * harmless no-op. Release with hcs_waker_unref. Returns NULL on ENOMEM.
 */
HCS_EXTERN hcs_waker_t *hcs_response_waker(hcs_response_t *res);

/*
 * Resume the producer: it will be pulled on its loop thread soon. Any
 * thread. Wakes coalesce: many wakes before the pull cause one pull.
 */
HCS_EXTERN void hcs_waker_wake(hcs_waker_t *w);

/* Take another reference. Any thread. Returns w. */
HCS_EXTERN hcs_waker_t *hcs_waker_ref(hcs_waker_t *w);

/* Drop a reference; the last frees the waker. Any thread. NULL is a no-op. */
HCS_EXTERN void hcs_waker_unref(hcs_waker_t *w);

#endif
