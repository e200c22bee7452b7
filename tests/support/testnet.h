/* SPDX-License-Identifier: MIT */
/*
 * tests/support/testnet.h: helpers for integration tests that drive a real
 * hcs server over loopback sockets.
 *
 * - tn_server_*: start an hcs server in-process on 127.0.0.1, port 0, with a
 *   table of routes; stop it and wait for it with a bounded wait.
 * - tn_conn_*: a raw TCP client connection with a receive buffer, so
 *   pipelined responses that arrive in one read are kept for the next call.
 *   tn_read_response parses one HTTP/1.x response (status line, fields,
 *   Content-Length, chunked or close-delimited body) from it.
 * - tn_curl: run the curl binary with --max-time and capture stdout.
 *
 * Every wait is bounded by a timeout given in milliseconds; nothing here
 * blocks forever. These helpers run on the test thread only (they are not
 * thread-safe) and never call cmocka assertions themselves: they return
 * codes, and the tests assert on them, so failures point at the test line.
 * Handlers run on the server's worker threads; tests share counters with
 * them through atomics or a mutex.
 *
 * Connections and servers started here are registered; tn_cleanup() closes
 * and frees whatever a failed test left behind (call it from a teardown).
 */
#ifndef HCS_TESTNET_H
#define HCS_TESTNET_H

#include <hcs/hcs.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default bound for one wait in the tests: generous, never reached when the
 * server behaves. Timeouts are upper bounds for waiting, never assertions. */
#define TN_WAIT_MS 5000

/* ---- time ---------------------------------------------------------------- */

int64_t tn_now_ms(void); /* CLOCK_MONOTONIC in milliseconds */
void tn_sleep_ms(int ms);

/*
 * Evaluate `cond` every millisecond until it is true or `ms` milliseconds
 * have passed. Assert on `cond` afterwards.
 */
#define TN_WAIT_UNTIL(cond, ms)                                               \
  do {                                                                        \
    int64_t tn_deadline_ = tn_now_ms() + (ms);                                \
    while (!(cond) && tn_now_ms() < tn_deadline_)                             \
      tn_sleep_ms(1);                                                         \
  } while (0)

/* ---- server -------------------------------------------------------------- */

typedef struct tn_route_s {
  const char *method; /* NULL: any method */
  const char *path;
  unsigned flags; /* HCS_ROUTE_* */
  hcs_handler_cb handler;
  void *ud;
} tn_route_t;

typedef struct tn_server_s {
  hcs_server_t *srv;
  int port;
  bool stopped;  /* hcs_server_wait has returned */
  bool hung;     /* a bounded wait expired: the server is leaked on purpose */
  int wait_rc;   /* what hcs_server_wait returned */
  struct tn_server_s *next_reg; /* registry (tn_cleanup) */
} tn_server_t;

/*
 * hcs_server_config_init plus test defaults: 127.0.0.1, port 0, 2 workers,
 * shutdown_timeout_ms 3000.
 */
void tn_config(hcs_server_config_t *cfg);

/*
 * Create, route and start a server. cfg NULL means tn_config(). Host and
 * port are forced to 127.0.0.1 and 0. Returns 0 with ts->port set, or the
 * first hcs error (then nothing is left running).
 */
int tn_server_start(tn_server_t *ts, const hcs_server_config_t *cfg,
                    const tn_route_t *routes, size_t nroutes);

/*
 * Wait for hcs_server_wait to return, at most timeout_ms. Returns what it
 * returned, or -ETIMEDOUT (the server is then marked hung and never freed).
 */
int tn_server_wait(tn_server_t *ts, int timeout_ms);

/* hcs_server_stop, then tn_server_wait. */
int tn_server_stop(tn_server_t *ts, int timeout_ms);

/*
 * Stop (if needed), wait at most timeout_ms, free. Returns 0 or -ETIMEDOUT.
 * Idempotent; a hung server is left alone.
 */
int tn_server_free(tn_server_t *ts, int timeout_ms);

/* The server's counters. */
hcs_server_stats_t tn_stats(const tn_server_t *ts);

/* ---- raw connections ----------------------------------------------------- */

typedef struct tn_conn_s {
  int fd;
  char *buf;      /* received bytes not consumed yet, NUL-terminated */
  size_t len, cap;
  bool eof;       /* the peer closed (FIN) or reset (then err is set) */
  int err;        /* -errno of a failed recv, e.g. -ECONNRESET */
  struct tn_conn_s *next_reg;
} tn_conn_t;

/*
 * Connect to 127.0.0.1:port (TCP_NODELAY). rcvbuf > 0 sets SO_RCVBUF before
 * connecting. Returns the connection, or NULL (errno set).
 */
tn_conn_t *tn_connect(int port);
tn_conn_t *tn_connect_rcvbuf(int port, int rcvbuf);

/*
 * The same from source address `src` (an IPv4 literal such as "127.0.0.7",
 * port chosen by the kernel), to spread many connections over several
 * loopback sources; src NULL is tn_connect_rcvbuf.
 */
tn_conn_t *tn_connect_from(const char *src, int port, int rcvbuf);

/* Close the socket and free the connection. NULL is a no-op. */
void tn_close(tn_conn_t *c);

/* Close with SO_LINGER 0: the peer sees a reset. */
void tn_abort(tn_conn_t *c);

/*
 * Send all len bytes (MSG_NOSIGNAL), waiting at most TN_WAIT_MS for room.
 * Returns 0, or -errno (-EPIPE, -ECONNRESET, -ETIMEDOUT).
 */
int tn_send(tn_conn_t *c, const void *data, size_t len);
int tn_send_str(tn_conn_t *c, const char *s);
int tn_sendf(tn_conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Send each byte in its own send() call. Returns 0 or -errno. */
int tn_send_bytewise(tn_conn_t *c, const char *s);

/*
 * Receive once what is available (up to 64 KiB), waiting at most timeout_ms.
 * Returns the number of bytes added, 0 at EOF (c->eof set), or -ETIMEDOUT.
 * A reset counts as EOF.
 */
int tn_fill(tn_conn_t *c, int timeout_ms);

/* Receive until EOF. Returns 0, or -ETIMEDOUT. Bytes stay in c->buf. */
int tn_read_eof(tn_conn_t *c, int timeout_ms);

/*
 * Receive until c->buf contains `needle` (not consumed). Returns 0,
 * -EPIPE when EOF came first, or -ETIMEDOUT.
 */
int tn_wait_bytes(tn_conn_t *c, const char *needle, int timeout_ms);

/* Drop the first n buffered bytes. */
void tn_consume(tn_conn_t *c, size_t n);

/* ---- responses ----------------------------------------------------------- */

#define TN_MAX_FIELDS 64
#define TN_MAX_CHUNKS 1024

typedef enum {
  TN_BODY_NONE = 0,    /* 1xx, 204, 304, or a response to HEAD */
  TN_BODY_LENGTH = 1,  /* Content-Length */
  TN_BODY_CHUNKED = 2, /* Transfer-Encoding: chunked */
  TN_BODY_CLOSE = 3,   /* delimited by the connection closing */
} tn_framing_t;

typedef struct tn_response_s {
  int minor;        /* HTTP/1.<minor> */
  int status;
  char *head;       /* the whole head, NUL-terminated (for messages) */
  size_t nfields;
  char *names[TN_MAX_FIELDS];
  char *values[TN_MAX_FIELDS]; /* OWS trimmed */
  tn_framing_t framing;
  char *body;       /* de-chunked, NUL-terminated; never NULL after a read */
  size_t body_len;
  size_t body_cap;  /* allocated bytes of body */
  size_t nchunks;   /* data chunks seen (chunked only), last chunk excluded */
  size_t chunk_sizes[TN_MAX_CHUNKS]; /* first TN_MAX_CHUNKS sizes */
  bool last_chunk;  /* the "0" chunk and trailer section were received */
} tn_response_t;

/* Flags for tn_read_response. */
enum {
  TN_REQ_HEAD = 1 << 0, /* the request was HEAD: the response has no body */
};

/*
 * Read one response from c, waiting at most timeout_ms in total. A 1xx
 * response is returned on its own. The response's bytes are consumed from
 * c->buf; bytes after it stay for the next call.
 * Returns 0; -ETIMEDOUT; -EPIPE when the connection ended before the
 * response was complete (r holds what was parsed, head and partial body);
 * -EPROTO for bytes that are not a valid HTTP/1.x response.
 * Free r with tn_response_free in every case.
 */
int tn_read_response(tn_conn_t *c, tn_response_t *r, unsigned flags,
                     int timeout_ms);

void tn_response_free(tn_response_t *r);

/* The first field named `name` (case-insensitive), or NULL. */
const char *tn_header(const tn_response_t *r, const char *name);

/* How many fields are named `name`. */
size_t tn_header_count(const tn_response_t *r, const char *name);

/*
 * True when the comma-separated list in the fields named `name` holds
 * `token` (case-insensitive), e.g. tn_header_has_token(r, "Allow", "PUT").
 */
bool tn_header_has_token(const tn_response_t *r, const char *name,
                         const char *token);

/* True for an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
bool tn_is_http_date(const char *s);

/* Count the occurrences of `needle` in data[0..len). */
size_t tn_count(const char *data, size_t len, const char *needle);

/*
 * One request on a fresh connection: connect, send, read one response
 * (skipping 1xx), close. Returns as tn_read_response, or -errno.
 */
int tn_roundtrip(int port, const char *request, tn_response_t *r);

/* ---- curl ---------------------------------------------------------------- */

typedef struct tn_curl_s {
  int exit_code; /* curl's exit status; -1 if killed (timeout) or not run */
  char *out;     /* stdout, NUL-terminated */
  size_t out_len;
  char *err;     /* stderr, NUL-terminated */
  size_t err_len;
} tn_curl_t;

/*
 * Run curl -q -s -S --noproxy '*' --max-time <timeout_ms/1000> <args...>
 * (a NULL-terminated list), capturing stdout and stderr, and kill it if it
 * runs past timeout_ms plus a margin. Returns 0 when curl ran (see
 * exit_code), or -errno when it could not be started (e.g. -ENOENT).
 * Free with tn_curl_free.
 */
int tn_curl(tn_curl_t *res, int timeout_ms, ...);
void tn_curl_free(tn_curl_t *res);

/* ---- test plumbing ------------------------------------------------------- */

/*
 * Close every registered connection and free every registered server (a
 * bounded stop). For a cmocka teardown after a failed test.
 */
void tn_cleanup(void);

/* cmocka-shaped teardown that calls tn_cleanup and returns 0. */
int tn_teardown(void **state);

/* Text response helper for handlers: status + body (may be NULL) +
 * Content-Type text/plain. Returns NULL on failure (answered 500). */
hcs_response_t *tn_text(int status, const char *body, size_t len);

#endif
