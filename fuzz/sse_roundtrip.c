/* SPDX-License-Identifier: MIT */
/*
 * fuzz/sse_roundtrip.c: SSE formatting (include/hcs/sse.h) read back by a
 * client-side parser written here from specs/sse.md §2-§4.
 *
 * Input: 12 control bytes, then the fields' bytes.
 *   ctl[0]       bit 0 event type present, bit 1 id present, bit 2 retry
 *                present, bit 3 retry taken as is (else folded into the
 *                valid range), bit 4 data base NULL when empty;
 *   ctl[1..8]    retry, little-endian int64;
 *   ctl[9]       event type length, ctl[10] id length (both cut to what is
 *                left), ctl[11] unused;
 *   then the type, the id, and the rest is data.
 *
 * Checks:
 *  - validity (sse.h): type without C0 controls or DEL; id without CR, LF,
 *    NUL and without a space or tab at either end; retry absent or
 *    0..2147483647. An invalid event is refused with HCS_EINVAL by
 *    hcs_sse_validate, _format_size, _format_into (writing nothing),
 *    _format (leaving *out alone) and _make;
 *  - a valid one: _format_into writes exactly _format_size bytes into a
 *    buffer of that size, refuses one byte less with HCS_ENOSPC writing
 *    nothing, and _format and a copy made with _make give the same bytes;
 *  - the text holds no CR, ends with the only empty line, and the parser
 *    dispatches exactly one event: type (or "message"), data with CRLF and
 *    CR turned into LF, last event ID = id ("" when absent), and the
 *    reconnection time set to retry exactly when present;
 *  - hcs_sse_comment of the data: every line a comment, nothing dispatched.
 * The parser works on bytes (no UTF-8 decoding: it would only replace
 * invalid sequences with U+FFFD on both sides).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hcs/buf.h"
#include "hcs/error.h"
#include "hcs/sse.h"

#define CTL 12

/* ---- the client (specs/sse.md §2-§4) ------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap;
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (b->p == NULL)
      abort();
  }
  if (n > 0)
    memcpy(b->p + b->len, s, n);
  b->len += n;
}

typedef struct {
  sbuf_t data, type, last_id_buf; /* the three buffers */
  sbuf_t last_id;                 /* the last event ID string */
  int64_t reconnect;              /* -1 until a retry field sets it */
  /* what was dispatched */
  int events;
  sbuf_t ev_type, ev_data, ev_id;
} client_t;

static void dispatch(client_t *c) {
  c->last_id.len = 0;
  put(&c->last_id, c->last_id_buf.p, c->last_id_buf.len);
  if (c->data.len == 0) {
    c->type.len = 0;
    return;
  }
  if (c->data.p[c->data.len - 1] == '\n')
    c->data.len--;
  c->events++;
  c->ev_type.len = c->ev_data.len = c->ev_id.len = 0;
  if (c->type.len > 0)
    put(&c->ev_type, c->type.p, c->type.len);
  else
    put(&c->ev_type, "message", 7);
  put(&c->ev_data, c->data.p, c->data.len);
  put(&c->ev_id, c->last_id.p, c->last_id.len);
  c->data.len = c->type.len = 0;
}

static void line(client_t *c, const char *l, size_t n) {
  if (n == 0) {
    dispatch(c);
    return;
  }
  if (l[0] == ':')
    return;
  const char *colon = memchr(l, ':', n);
  size_t nlen = colon ? (size_t)(colon - l) : n;
  const char *v = colon ? colon + 1 : l + n;
  size_t vlen = colon ? n - nlen - 1 : 0;
  if (vlen > 0 && v[0] == ' ')
    v++, vlen--;
  if (nlen == 5 && memcmp(l, "event", 5) == 0) {
    c->type.len = 0;
    put(&c->type, v, vlen);
  } else if (nlen == 4 && memcmp(l, "data", 4) == 0) {
    put(&c->data, v, vlen);
    put(&c->data, "\n", 1);
  } else if (nlen == 2 && memcmp(l, "id", 2) == 0) {
    if (memchr(v, '\0', vlen) == NULL) {
      c->last_id_buf.len = 0;
      put(&c->last_id_buf, v, vlen);
    }
  } else if (nlen == 5 && memcmp(l, "retry", 5) == 0) {
    bool digits = vlen > 0;
    int64_t r = 0;
    for (size_t i = 0; i < vlen && digits; i++) {
      if (v[i] < '0' || v[i] > '9' || r > (INT64_MAX - 9) / 10)
        digits = false;
      else
        r = r * 10 + (v[i] - '0');
    }
    if (digits)
      c->reconnect = r;
  }
}

/* Feed a whole body: lines end at CRLF, LF or CR; an unterminated last
 * line is dropped, and so is an event not closed by an empty line. */
static void parse(client_t *c, const char *s, size_t n) {
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\n' || s[i] == '\r') {
      line(c, s + start, i - start);
      if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
        i++;
      start = i + 1;
    }
  }
}

static void client_free(client_t *c) {
  free(c->data.p), free(c->type.p), free(c->last_id_buf.p);
  free(c->last_id.p), free(c->ev_type.p), free(c->ev_data.p), free(c->ev_id.p);
}

/* ---- the event ----------------------------------------------------------- */

static bool valid_type(const char *t, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
      return false;
  return true;
}

static bool valid_id(const char *t, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (t[i] == '\r' || t[i] == '\n' || t[i] == '\0')
      return false;
  return n == 0 ||
         (t[0] != ' ' && t[0] != '\t' && t[n - 1] != ' ' && t[n - 1] != '\t');
}

static void check_format(const hcs_sse_event_t *ev, bool valid) {
  ssize_t size = hcs_sse_format_size(ev);
  if (!valid) {
    FUZZ_CHECK(hcs_sse_validate(ev) == HCS_EINVAL, "validate accepts");
    FUZZ_CHECK(size == HCS_EINVAL, "format_size %zd", size);
    char dst[64];
    memset(dst, 0x5a, sizeof(dst));
    FUZZ_CHECK(hcs_sse_format_into(ev, dst, sizeof(dst)) == HCS_EINVAL,
               "format_into accepts");
    for (size_t i = 0; i < sizeof(dst); i++)
      FUZZ_CHECK(dst[i] == 0x5a, "format_into wrote on failure");
    hcs_buf_t *b = (hcs_buf_t *)&dst;
    FUZZ_CHECK(hcs_sse_format(ev, &b) == HCS_EINVAL && b == (hcs_buf_t *)&dst,
               "format accepts, or touched *out");
    hcs_sse_event_t *made = (hcs_sse_event_t *)&dst;
    FUZZ_CHECK(hcs_sse_make(&made, ev->event_type, ev->id, ev->retry,
                            ev->data.base, ev->data.len) == HCS_EINVAL &&
                   made == (hcs_sse_event_t *)&dst,
               "make accepts, or touched *out");
    return;
  }
  FUZZ_CHECK(hcs_sse_validate(ev) == 0, "validate refuses a valid event");
  FUZZ_CHECK(size > 0, "format_size %zd", size);
  size_t n = (size_t)size;
  char *text = malloc(n);
  if (text == NULL)
    abort();
  memset(text, 0x5a, n);
  FUZZ_CHECK(hcs_sse_format_into(ev, text, n - 1) == HCS_ENOSPC,
             "one byte short is not ENOSPC");
  for (size_t i = 0; i < n; i++)
    FUZZ_CHECK(text[i] == 0x5a, "format_into wrote on ENOSPC");
  FUZZ_CHECK(hcs_sse_format_into(ev, text, n) == size, "format_into size");

  hcs_buf_t *b = NULL;
  FUZZ_CHECK(hcs_sse_format(ev, &b) == 0, "format refuses");
  FUZZ_CHECK(b->len == n && memcmp(b->data, text, n) == 0,
             "format and format_into differ");
  hcs_buf_unref(b);
  hcs_sse_event_t *made = NULL;
  FUZZ_CHECK(hcs_sse_make(&made, ev->event_type, ev->id, ev->retry,
                          ev->data.base, ev->data.len) == 0,
             "make refuses");
  char *again = malloc(n);
  if (again == NULL)
    abort();
  FUZZ_CHECK(hcs_sse_format_into(made, again, n) == size &&
                 memcmp(again, text, n) == 0,
             "a copy formats differently");
  hcs_sse_event_free(made);
  free(again);

  /* The wire text. */
  FUZZ_CHECK(memchr(text, '\r', n) == NULL, "CR on the wire");
  FUZZ_CHECK(n >= 2 && text[n - 1] == '\n' && text[n - 2] == '\n',
             "not ended by an empty line");
  for (size_t i = 0; i + 2 < n; i++)
    FUZZ_CHECK(!(text[i] == '\n' && text[i + 1] == '\n'),
               "empty line at %zu before the end", i + 1);
  FUZZ_CHECK(text[0] != '\n', "starts with an empty line");

  client_t c = {.reconnect = -1};
  parse(&c, text, n);
  if (c.events != 1)
    fuzz_dump("wire", text, n);
  FUZZ_CHECK(c.events == 1, "%d events dispatched", c.events);
  /* type */
  if (ev->event_type.base && ev->event_type.len > 0)
    FUZZ_CHECK(c.ev_type.len == ev->event_type.len &&
                   memcmp(c.ev_type.p, ev->event_type.base, c.ev_type.len) == 0,
               "type differs");
  else
    FUZZ_CHECK(c.ev_type.len == 7 && memcmp(c.ev_type.p, "message", 7) == 0,
               "type is not \"message\"");
  /* data, with CRLF and CR as LF */
  sbuf_t want = {0};
  for (size_t i = 0; i < ev->data.len; i++) {
    char ch = ev->data.base[i];
    if (ch == '\r') {
      if (i + 1 < ev->data.len && ev->data.base[i + 1] == '\n')
        i++;
      ch = '\n';
    }
    put(&want, &ch, 1);
  }
  if (c.ev_data.len != want.len ||
      (want.len && memcmp(c.ev_data.p, want.p, want.len) != 0)) {
    fuzz_dump("wire", text, n);
    fuzz_dump("data back", c.ev_data.p, c.ev_data.len);
  }
  FUZZ_CHECK(c.ev_data.len == want.len &&
                 (want.len == 0 || memcmp(c.ev_data.p, want.p, want.len) == 0),
             "data differs");
  free(want.p);
  /* id */
  size_t idlen = ev->id.base ? ev->id.len : 0;
  FUZZ_CHECK(c.ev_id.len == idlen &&
                 (idlen == 0 || memcmp(c.ev_id.p, ev->id.base, idlen) == 0),
             "last event ID differs");
  /* retry */
  if (ev->retry == HCS_SSE_NO_RETRY)
    FUZZ_CHECK(c.reconnect == -1, "retry set without one");
  else
    FUZZ_CHECK(c.reconnect == ev->retry, "retry %lld, sent %lld",
               (long long)c.reconnect, (long long)ev->retry);
  client_free(&c);
  free(text);
}

static void check_comment(const char *s, size_t n) {
  hcs_buf_t *b = NULL;
  FUZZ_CHECK(hcs_sse_comment(s, n, &b) == 0, "comment refused");
  FUZZ_CHECK(b->len >= 3 && b->data[0] == ':' && b->data[b->len - 1] == '\n' &&
                 b->data[b->len - 2] == '\n',
             "comment shape");
  FUZZ_CHECK(memchr(b->data, '\r', b->len) == NULL, "CR in a comment");
  for (size_t i = 0; i + 2 < b->len; i++)
    if (b->data[i] == '\n')
      FUZZ_CHECK(b->data[i + 1] == ':', "comment line without ':' at %zu",
                 i + 1);
  client_t c = {.reconnect = -1};
  parse(&c, b->data, b->len);
  FUZZ_CHECK(c.events == 0 && c.last_id.len == 0 && c.reconnect == -1,
             "a comment did something");
  client_free(&c);
  hcs_buf_unref(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < CTL)
    return 0;
  uint8_t flags = data[0];
  uint64_t raw = 0;
  for (int i = 8; i >= 1; i--)
    raw = raw << 8 | data[i];
  const char *rest = (const char *)data + CTL;
  size_t left = size - CTL;
  size_t tlen = data[9] < left ? data[9] : left;
  size_t ilen = data[10] < left - tlen ? data[10] : left - tlen;

  /* Each field in its own exact-size block. */
  char *type = fuzz_dup(rest, tlen), *id = fuzz_dup(rest + tlen, ilen);
  size_t dlen = left - tlen - ilen;
  char *d = fuzz_dup(rest + tlen + ilen, dlen);

  hcs_sse_event_t ev = {{NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY, {NULL, 0}};
  if (flags & 1)
    ev.event_type = (hcs_str_t){type, tlen};
  if (flags & 2)
    ev.id = (hcs_str_t){id, ilen};
  if (flags & 4) {
    if (flags & 8)
      ev.retry = (int64_t)raw;
    else
      ev.retry = (int64_t)(raw % ((uint64_t)HCS_SSE_RETRY_MAX + 1));
  }
  ev.data = (hcs_str_t){(dlen == 0 && (flags & 16)) ? NULL : d, dlen};

  bool valid = (!(flags & 1) || valid_type(type, tlen)) &&
               (!(flags & 2) || valid_id(id, ilen)) &&
               (ev.retry == HCS_SSE_NO_RETRY ||
                (ev.retry >= 0 && ev.retry <= HCS_SSE_RETRY_MAX));
  check_format(&ev, valid);
  check_comment(d, dlen);
  free(type);
  free(id);
  free(d);
  return 0;
}
