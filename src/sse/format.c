/* SPDX-License-Identifier: MIT */
/*
 * SSE wire formatting: events, comments and the standard headers.
 *
 * Pure functions over bytes, safe on any thread. The wire form follows
 * specs/sse.md §6: "event: ", "id: ", "retry: " lines when present, one
 * "data: " line per line of data (CRLF, LF and lone CR all break a line),
 * then an empty line; LF is the only terminator written. Sizes are computed
 * first, so the caller's buffer is either filled completely or not touched.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "hcs/sse.h"

/* ---- validation ---------------------------------------------------------- */

static bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* An event type: any bytes but C0 controls (CR, LF, NUL included) and DEL. */
static bool valid_event_type(hcs_str_t t) {
  for (size_t i = 0; i < t.len; i++)
    if (is_control((unsigned char)t.base[i]))
      return false;
  return true;
}

/* An id: no CR, LF or NUL (they would inject or void the field), and no
 * space or tab at either end (HTTP trims them when Last-Event-ID returns). */
static bool valid_id(hcs_str_t id) {
  if (id.len == 0)
    return true;
  for (size_t i = 0; i < id.len; i++) {
    char c = id.base[i];
    if (c == '\r' || c == '\n' || c == '\0')
      return false;
  }
  char first = id.base[0], last = id.base[id.len - 1];
  return first != ' ' && first != '\t' && last != ' ' && last != '\t';
}

int hcs_sse_validate(const hcs_sse_event_t *ev) {
  if (ev == NULL || (ev->data.base == NULL && ev->data.len > 0))
    return HCS_EINVAL;
  if (ev->event_type.base && !valid_event_type(ev->event_type))
    return HCS_EINVAL;
  if (ev->id.base && !valid_id(ev->id))
    return HCS_EINVAL;
  if (ev->retry != HCS_SSE_NO_RETRY &&
      (ev->retry < 0 || ev->retry > HCS_SSE_RETRY_MAX))
    return HCS_EINVAL;
  return 0;
}

/* ---- line splitting ------------------------------------------------------ */

/*
 * Line breaks found with memchr. The next CR and the next LF are remembered,
 * so each byte is scanned at most once per character whatever the mix of
 * breaks, and long lines go at memchr's speed.
 */
typedef struct {
  const char *text;
  size_t len, next_lf, next_cr;
} breaks_t;

static size_t find_byte(const char *text, size_t from, size_t len, char c) {
  const char *p = from < len ? memchr(text + from, c, len - from) : NULL;
  return p ? (size_t)(p - text) : len;
}

static void breaks_init(breaks_t *b, const char *text, size_t len) {
  b->text = text;
  b->len = len;
  b->next_lf = find_byte(text, 0, len, '\n');
  b->next_cr = find_byte(text, 0, len, '\r');
}

/* The index of the next CR or LF at or after `from`, or len. */
static size_t breaks_next(breaks_t *b, size_t from) {
  if (b->next_lf < from)
    b->next_lf = find_byte(b->text, from, b->len, '\n');
  if (b->next_cr < from)
    b->next_cr = find_byte(b->text, from, b->len, '\r');
  return b->next_lf < b->next_cr ? b->next_lf : b->next_cr;
}

/* Where the line after the break at `at` starts (CRLF is one break). */
static size_t after_break(const char *text, size_t at, size_t len) {
  return text[at] == '\r' && at + 1 < len && text[at + 1] == '\n' ? at + 2
                                                                   : at + 1;
}

/*
 * Bytes of text written as `prefix_len`-byte prefixed lines, each ended by
 * LF: every CRLF, LF or lone CR ends a line, and the text always makes at
 * least one line (the last one, possibly empty).
 */
static size_t lines_size(const char *text, size_t len, size_t prefix_len) {
  size_t lines = 1, break_bytes = 0;
  if (len > 0) {
    breaks_t b;
    breaks_init(&b, text, len);
    for (size_t at = breaks_next(&b, 0); at < len;) {
      size_t next = after_break(text, at, len);
      lines++;
      break_bytes += next - at;
      at = breaks_next(&b, next);
    }
  }
  /* Each break byte is dropped; each line gets a prefix and one LF. */
  return len - break_bytes + lines * (prefix_len + 1);
}

static char *put(char *p, const void *src, size_t n) {
  if (n)
    memcpy(p, src, n);
  return p + n;
}

static char *write_lines(char *p, const char *text, size_t len,
                         const char *prefix, size_t prefix_len) {
  size_t start = 0;
  breaks_t b;
  if (len > 0)
    breaks_init(&b, text, len);
  for (;;) {
    /* text may be NULL when len is 0: one empty line then. */
    size_t end = len > 0 ? breaks_next(&b, start) : 0;
    p = put(p, prefix, prefix_len);
    if (end > start)
      p = put(p, text + start, end - start);
    *p++ = '\n';
    if (end >= len)
      return p;
    start = after_break(text, end, len);
    if (start == len) {
      /* The text ends with a break: one more, empty line. */
      p = put(p, prefix, prefix_len);
      *p++ = '\n';
      return p;
    }
  }
}

/* ---- events ---------------------------------------------------------------- */

static size_t retry_digits(int64_t retry, char out[24]) {
  return (size_t)snprintf(out, 24, "%" PRId64, retry);
}

ssize_t hcs_sse_format_size(const hcs_sse_event_t *ev) {
  int err = hcs_sse_validate(ev);
  if (err < 0)
    return err;
  size_t n = 0;
  if (ev->event_type.base && ev->event_type.len > 0)
    n += 7 + ev->event_type.len + 1; /* "event: " type LF */
  if (ev->id.base)
    n += 4 + ev->id.len + 1; /* "id: " id LF */
  if (ev->retry != HCS_SSE_NO_RETRY) {
    char digits[24];
    n += 7 + retry_digits(ev->retry, digits) + 1; /* "retry: " n LF */
  }
  n += lines_size(ev->data.base, ev->data.len, 6); /* "data: " */
  return (ssize_t)(n + 1);                        /* the empty line */
}

ssize_t hcs_sse_format_into(const hcs_sse_event_t *ev, char *dst, size_t cap) {
  ssize_t size = hcs_sse_format_size(ev);
  if (size < 0)
    return size;
  if ((size_t)size > cap)
    return HCS_ENOSPC;
  char *p = dst;
  if (ev->event_type.base && ev->event_type.len > 0) {
    p = put(p, "event: ", 7);
    p = put(p, ev->event_type.base, ev->event_type.len);
    *p++ = '\n';
  }
  if (ev->id.base) {
    p = put(p, "id: ", 4);
    p = put(p, ev->id.base, ev->id.len);
    *p++ = '\n';
  }
  if (ev->retry != HCS_SSE_NO_RETRY) {
    char digits[24];
    size_t nd = retry_digits(ev->retry, digits);
    p = put(p, "retry: ", 7);
    p = put(p, digits, nd);
    *p++ = '\n';
  }
  p = write_lines(p, ev->data.base, ev->data.len, "data: ", 6);
  *p++ = '\n';
  return p - dst;
}

int hcs_sse_format(const hcs_sse_event_t *ev, hcs_buf_t **out) {
  ssize_t size = hcs_sse_format_size(ev);
  if (size < 0)
    return (int)size;
  hcs_buf_t *b;
  int err = hcs_buf_new(&b, (size_t)size);
  if (err < 0)
    return err;
  b->len = (size_t)hcs_sse_format_into(ev, b->data, b->cap);
  *out = b;
  return 0;
}

/* ---- comments and headers ------------------------------------------------ */

int hcs_sse_comment(const void *text, size_t len, hcs_buf_t **out) {
  if (text == NULL && len > 0)
    return HCS_EINVAL;
  const char *t = text;
  /* "" is the canonical keepalive ":\n\n"; otherwise ": " + line per line. */
  size_t size = len == 0 ? 3 : lines_size(t, len, 2) + 1;
  hcs_buf_t *b;
  int err = hcs_buf_new(&b, size);
  if (err < 0)
    return err;
  char *p = b->data;
  if (len == 0)
    p = put(p, ":\n", 2);
  else
    p = write_lines(p, t, len, ": ", 2);
  *p++ = '\n';
  b->len = (size_t)(p - b->data);
  *out = b;
  return 0;
}

static const hcs_sse_header_t sse_headers[] = {
    {"Content-Type", "text/event-stream"},
    {"Cache-Control", "no-cache"},
    {"X-Accel-Buffering", "no"},
    {"Connection", "keep-alive"},
};

const hcs_sse_header_t *hcs_sse_headers(size_t *count) {
  *count = sizeof(sse_headers) / sizeof(*sse_headers);
  return sse_headers;
}
