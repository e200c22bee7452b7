/* SPDX-License-Identifier: MIT */
/*
 * hcs-bench's client-side parsers: an HTTP/1.1 response reader (status line,
 * the few headers a client needs, body framed by Content-Length, chunked
 * transfer coding or the end of the connection) and an SSE event-stream
 * reader (data, id and event fields; CRLF, LF or CR line ends; comments).
 *
 * Both are pure and incremental: bytes in, callbacks out, no I/O and no
 * allocation. Their state is a small fixed struct per connection, so input
 * may be split anywhere, down to one byte per call. They read only what a
 * load generator needs and are no general-purpose parsers: header values
 * other than Transfer-Encoding, Content-Length and Connection are skipped,
 * and an event's data is never assembled; instead the SSE reader looks for a
 * marker "hcsb-SEQ-TS" in it (see hb_sse_event_t).
 *
 * Threads: none of their own; one parser belongs to one connection.
 */
#ifndef HCS_BENCH_PARSE_H
#define HCS_BENCH_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* ---- HTTP/1.1 response --------------------------------------------------*/

/* Returns of hb_resp_feed(). */
enum {
  HB_RESP_MORE = 0,   /* everything consumed, the response goes on */
  HB_RESP_DONE = 1,   /* the response ended (its body is complete) */
  HB_RESP_ERROR = -1, /* malformed response: close the connection */
};

/* Called once, when the head is complete, with the status code; a non-zero
 * return stops hb_resp_feed(), which then returns HB_RESP_ERROR. */
typedef int (*hb_resp_head_cb)(int status, void *ud);
/* Called with each span of the (de-chunked) body; borrowed for the call. */
typedef void (*hb_resp_body_cb)(const char *p, size_t n, void *ud);

/* The reader's state; zero it with hb_resp_init() before each response. */
typedef struct {
  uint8_t state;
  uint8_t chunked;    /* Transfer-Encoding: chunked */
  uint8_t have_len;   /* a Content-Length was given */
  uint8_t conn_close; /* Connection: close */
  uint8_t line_len;   /* bytes kept of the current head line */
  uint8_t ext;        /* chunk size line: inside an extension */
  uint16_t status;
  uint32_t head_bytes;
  uint64_t remaining; /* body or chunk bytes still to come */
  char line[48];      /* the head line's first bytes, enough for any
                         header name and value this reader uses */
} hb_resp_t;

/* Prepares R for a new response. */
void hb_resp_init(hb_resp_t *r);

/* Feeds N bytes at P. Calls HEAD once the head is complete and BODY with
 * each body span. Returns HB_RESP_DONE when the response is complete (bytes
 * after its end are not looked at; *USED, if not NULL, says how many were
 * consumed), HB_RESP_MORE when it needs more, HB_RESP_ERROR on a malformed
 * response or when HEAD refused it. A body delimited by the end of the
 * connection never ends here: the caller ends it at EOF. */
int hb_resp_feed(hb_resp_t *r, const char *p, size_t n, hb_resp_head_cb head,
                 hb_resp_body_cb body, void *ud, size_t *used);

/* The connection ended: HB_RESP_DONE if that completes the response (its
 * body runs to the end of the connection), else HB_RESP_ERROR. */
int hb_resp_eof(hb_resp_t *r);

/* True when the server said it closes the connection after this response,
 * or when the body runs to the end of the connection. */
int hb_resp_closes(const hb_resp_t *r);

/* ---- SSE event stream ---------------------------------------------------*/

/* One dispatched event, borrowed for the callback.
 *
 * The marker: hcs-bench's publisher puts "hcsb-SEQ-TS" into each message's
 * payload, SEQ its sequence number (1-based) and TS the CLOCK_MONOTONIC time
 * of sending in nanoseconds (0 where unknown). The first such marker in an
 * event's data fills seq and ts_ns. Without one, a last event ID made only
 * of decimal digits (1..2^63) gives seq, with ts_ns 0. */
typedef struct {
  uint64_t seq;      /* 0: neither a marker nor a numeric id */
  uint64_t ts_ns;    /* 0: no timestamp */
  uint64_t data_bytes; /* length of the data (lines joined by LF) */
  const char *type;  /* the event type ("message" when none was given) */
  size_t type_len;
  int type_truncated; /* the type was longer than hb_sse_t keeps */
} hb_sse_event_t;

typedef void (*hb_sse_event_cb)(const hb_sse_event_t *ev, void *ud);

/* The reader's state; zero it with hb_sse_init() at the start of a stream. */
typedef struct {
  uint8_t state;     /* where in a line we are */
  uint8_t field;     /* the field of the current line */
  uint8_t after_cr;  /* the last line ended with CR: skip one LF */
  uint8_t name_len;
  char name[6];      /* field name so far ("event" is the longest known) */
  uint8_t mk;        /* marker matcher state */
  uint8_t have_mk;   /* this event's marker is complete */
  uint8_t id_ok;     /* the id being read is all digits so far */
  uint8_t last_id_ok; /* last event ID is numeric: last_id */
  uint8_t type_len;
  uint8_t type_over; /* the event type was cut */
  uint8_t val_type_len; /* while reading an event line */
  uint8_t val_type_over;
  uint32_t data_lines;
  uint64_t data_bytes;
  uint64_t mk_seq, mk_ts;
  uint64_t id_val, last_id;
  char type[30];     /* event type of the event being built */
  char val_type[30]; /* value of the current event line */
} hb_sse_t;

/* Prepares S for a new stream (the last event ID is forgotten too). */
void hb_sse_init(hb_sse_t *s);

/* Feeds N bytes of the stream at P, calling EV for each dispatched event. */
void hb_sse_feed(hb_sse_t *s, const char *p, size_t n, hb_sse_event_cb ev,
                 void *ud);

#endif
