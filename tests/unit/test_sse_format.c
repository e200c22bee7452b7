/* SPDX-License-Identifier: MIT */
/*
 * test_sse_format.c: unit tests for SSE events and their wire form
 * (hcs/sse.h: hcs_sse_format, _format_into, _format_size, _validate, the
 * event constructors, hcs_sse_comment and hcs_sse_headers).
 *
 * The table of specs/sse.md §8 is one cmocka test per row ("row07/...";
 * run one with ./test_sse_format 'row2*'). Each accepted row is checked as
 * exact bytes (memcmp and length: data may hold NUL) from hcs_sse_format,
 * from hcs_sse_format_into with an exact, a larger and a too small buffer,
 * and from an event built by hcs_sse_make; hcs_sse_format_size must equal
 * the written length. The output is then fed to a small client parser
 * written from specs/sse.md §2-4 (bytes, not decoded text), which must
 * dispatch what the table's last column says. REJECT rows must fail with
 * HCS_EINVAL everywhere and write nothing. Row 3 (a raw block, no API) is
 * the prelude of its row: raw bytes fed to the parser before the formatted
 * event. Generated tests ("gen/...") cover the validation rules, the
 * constructors (copies, rejects, every failed allocation), comments,
 * headers, 1 MiB of data and binary round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "hcs/buf.h"
#include "hcs/error.h"
#include "hcs/sse.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define SENTINEL 0xA5

/* ---- helpers ------------------------------------------------------------ */

/* Which case of a loop is running, printed with a failure. */
static char context[160];

static void set_context(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(context, sizeof(context), fmt, ap);
  va_end(ap);
}

static void fail_here(void) {
  if (context[0])
    print_error("while checking: %s\n", context);
  fail();
}

/* Each test starts without a context. */
static int reset_context(void **state) {
  context[0] = '\0';
  return 0;
}

static void print_bytes(const char *what, const char *p, size_t n) {
  print_error("%s (%zu bytes): \"", what, n);
  for (size_t i = 0; i < n && i < 300; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '\r')
      print_error("\\r");
    else if (c == '\n')
      print_error("\\n");
    else if (c == '\t')
      print_error("\\t");
    else if (c == '"' || c == '\\')
      print_error("\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      print_error("\\x%02x", c);
    else
      print_error("%c", c);
  }
  print_error("%s\"\n", n > 300 ? "..." : "");
}

/* Fail, printing both sides, unless got[0..got_len) is exactly exp. */
static void check_bytes(const char *what, const char *exp, size_t exp_len,
                        const char *got, size_t got_len) {
  if (got_len == exp_len && (exp_len == 0 || memcmp(exp, got, exp_len) == 0))
    return;
  print_error("%s differs\n", what);
  print_bytes("  expected", exp, exp_len);
  print_bytes("  actual  ", got, got_len);
  fail_here();
}

static void check_rc(const char *what, long long got, long long exp) {
  if (got == exp)
    return;
  print_error("%s: expected %lld (%s), got %lld (%s)\n", what, exp,
              exp < 0 ? hcs_err_name((int)exp) : "count", got,
              got < 0 ? hcs_err_name((int)got) : "count");
  fail_here();
}

/* Every byte of p[0..n) is the sentinel. */
static void check_untouched(const char *what, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)p[i] != SENTINEL) {
      print_error("%s: byte %zu was written (0x%02x)\n", what, i,
                  (unsigned char)p[i]);
      fail_here();
    }
}

/* An exact-size heap copy, so that ASan catches a read past the end. */
static char *dup_exact(const char *p, size_t n) {
  char *d = malloc(n ? n : 1);
  assert_non_null(d);
  if (n)
    memcpy(d, p, n);
  return d;
}

/* ---- a client-side parser (specs/sse.md §2-4), over bytes ---------------- */

typedef struct {
  char *p;
  size_t len, cap;
} bytes_t;

static void bytes_put(bytes_t *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
      cap *= 2;
    b->p = realloc(b->p, cap);
    assert_non_null(b->p);
    b->cap = cap;
  }
  if (n)
    memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void bytes_set(bytes_t *b, const void *p, size_t n) {
  b->len = 0;
  bytes_put(b, p, n);
}

typedef struct {
  bytes_t type, data, last_id;
} fired_t;

typedef struct {
  bytes_t data, type, id_buf; /* the three per-stream buffers */
  bytes_t last_id;            /* the last event ID string */
  long long retry;            /* reconnection time, -1 = never set */
  bool started;               /* the body's first bytes were seen */
  fired_t fired[8];
  size_t nfired;
} client_t;

static void client_free(client_t *c) {
  free(c->data.p);
  free(c->type.p);
  free(c->id_buf.p);
  free(c->last_id.p);
  for (size_t i = 0; i < c->nfired; i++) {
    free(c->fired[i].type.p);
    free(c->fired[i].data.p);
    free(c->fired[i].last_id.p);
  }
  memset(c, 0, sizeof(*c));
}

static void client_dispatch(client_t *c) {
  bytes_set(&c->last_id, c->id_buf.p, c->id_buf.len);
  if (c->data.len == 0) {
    c->type.len = 0;
    return;
  }
  if (c->data.p[c->data.len - 1] == '\n')
    c->data.len--;
  assert_true(c->nfired < COUNT(c->fired));
  fired_t *f = &c->fired[c->nfired++];
  memset(f, 0, sizeof(*f));
  if (c->type.len)
    bytes_set(&f->type, c->type.p, c->type.len);
  else
    bytes_set(&f->type, "message", 7);
  bytes_set(&f->data, c->data.p, c->data.len);
  bytes_set(&f->last_id, c->last_id.p, c->last_id.len);
  c->data.len = 0;
  c->type.len = 0;
}

static void client_line(client_t *c, const char *line, size_t len) {
  if (len == 0) {
    client_dispatch(c);
    return;
  }
  if (line[0] == ':')
    return;
  const char *colon = memchr(line, ':', len);
  size_t name_len = colon ? (size_t)(colon - line) : len;
  const char *value = colon ? colon + 1 : line + len;
  size_t value_len = colon ? len - name_len - 1 : 0;
  if (value_len > 0 && value[0] == ' ')
    value++, value_len--;
  if (name_len == 5 && memcmp(line, "event", 5) == 0) {
    bytes_set(&c->type, value, value_len);
  } else if (name_len == 4 && memcmp(line, "data", 4) == 0) {
    bytes_put(&c->data, value, value_len);
    bytes_put(&c->data, "\n", 1);
  } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
    if (memchr(value, '\0', value_len) == NULL)
      bytes_set(&c->id_buf, value, value_len);
  } else if (name_len == 5 && memcmp(line, "retry", 5) == 0) {
    long long v = 0;
    size_t i;
    for (i = 0; i < value_len && value[i] >= '0' && value[i] <= '9'; i++)
      v = v * 10 + (value[i] - '0');
    if (value_len > 0 && i == value_len)
      c->retry = v;
  }
}

/*
 * Feed a complete piece of the body: every line ends at CRLF, LF or CR; an
 * unterminated last line is dropped (the callers always pass whole blocks).
 */
static void client_feed(client_t *c, const char *p, size_t n) {
  size_t start = 0;
  if (!c->started) {
    c->started = true;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
      start = 3;
  }
  for (size_t i = start; i < n; i++) {
    if (p[i] != '\n' && p[i] != '\r')
      continue;
    client_line(c, p + start, i - start);
    if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
      i++;
    start = i + 1;
  }
}

/* What the client should get back from data: CRLF and lone CR become LF. */
static size_t normalize_breaks(const char *in, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (in[i] == '\r') {
      out[o++] = '\n';
      if (i + 1 < n && in[i + 1] == '\n')
        i++;
    } else {
      out[o++] = in[i];
    }
  }
  return o;
}

/* ---- the table of specs/sse.md §8 -----------------------------------------
 */

typedef struct {
  const char *p; /* NULL: absent */
  size_t len;
} field_t;

#define F(lit)                                                                 \
  { lit, sizeof(lit) - 1 }
#define LIT(lit) lit, sizeof(lit) - 1 /* a literal and its length */
#define ABSENT                                                                 \
  { NULL, 0 }
#define NO_RETRY HCS_SSE_NO_RETRY

typedef enum { K_EVENT, K_COMMENT } kind_t;

/* Zero-initialised members mean: an event, no retry, nothing expected. */
typedef struct {
  const char *name;
  kind_t kind;
  field_t type, id; /* event fields; ABSENT or F(...) */
  bool has_retry;   /* else retry is NO_RETRY */
  int64_t retry;
  field_t data;    /* event data, or the comment's text */
  bool reject;     /* the formatter must return HCS_EINVAL */
  field_t wire;    /* the exact bytes expected */
  field_t prelude; /* raw bytes the client saw before (ABSENT: none) */
  /* What the client dispatched, in total, and the last event. */
  size_t fires;
  field_t d_type, d_data, d_last_id;
  bool has_d_retry;  /* else the client's reconnection time stays unset */
  long long d_retry; /* the client's reconnection time */
} row_t;

#define EV(...) __VA_ARGS__
#define RETRY(n) .has_retry = true, .retry = (n)
#define D_RETRY(n) .has_d_retry = true, .d_retry = (n)
#define MSG(d, lid)                                                            \
  .fires = 1, .d_type = F("message"), .d_data = d, .d_last_id = lid

static const row_t rows[] = {
    {"row01/data_hello", EV(.data = F("hello"), .wire = F("data: hello\n\n"),
                            MSG(F("hello"), F("")))},
    {"row02/data_empty_fires",
     EV(.data = F(""), .wire = F("data: \n\n"), MSG(F(""), F("")))},
    {"row03/raw_id_block_then_event",
     EV(.prelude = F("id: 5\n\n"), .data = F("x"), .wire = F("data: x\n\n"),
        MSG(F("x"), F("5")))},
    {"row04/data_lf", EV(.data = F("a\nb"), .wire = F("data: a\ndata: b\n\n"),
                         MSG(F("a\nb"), F("")))},
    {"row05/data_crlf",
     EV(.data = F("a\r\nb"), .wire = F("data: a\ndata: b\n\n"),
        MSG(F("a\nb"), F("")))},
    {"row06/data_lone_cr",
     EV(.data = F("a\rb"), .wire = F("data: a\ndata: b\n\n"),
        MSG(F("a\nb"), F("")))},
    {"row07/data_trailing_lf",
     EV(.data = F("a\n"), .wire = F("data: a\ndata: \n\n"),
        MSG(F("a\n"), F("")))},
    {"row08/data_trailing_crlf",
     EV(.data = F("a\r\n"), .wire = F("data: a\ndata: \n\n"),
        MSG(F("a\n"), F("")))},
    {"row09/data_only_lf",
     EV(.data = F("\n"), .wire = F("data: \ndata: \n\n"), MSG(F("\n"), F("")))},
    {"row10/data_inner_blank_line",
     EV(.data = F("a\n\nb"), .wire = F("data: a\ndata: \ndata: b\n\n"),
        MSG(F("a\n\nb"), F("")))},
    {"row11/data_leading_space",
     EV(.data = F(" x"), .wire = F("data:  x\n\n"), MSG(F(" x"), F("")))},
    {"row12/data_leading_tab",
     EV(.data = F("\tx"), .wire = F("data: \tx\n\n"), MSG(F("\tx"), F("")))},
    {"row13/data_trailing_spaces",
     EV(.data = F("x  "), .wire = F("data: x  \n\n"), MSG(F("x  "), F("")))},
    {"row14/data_leading_colon",
     EV(.data = F(":no comment"), .wire = F("data: :no comment\n\n"),
        MSG(F(":no comment"), F("")))},
    {"row15/data_second_line_colon",
     EV(.data = F("a\n:b"), .wire = F("data: a\ndata: :b\n\n"),
        MSG(F("a\n:b"), F("")))},
    {"row16/data_no_field_injection",
     EV(.data = F("id: 7\nevent: evil"),
        .wire = F("data: id: 7\ndata: event: evil\n\n"),
        MSG(F("id: 7\nevent: evil"), F("")))},
    {"row17/data_utf8",
     EV(.data = F("h\xC3\xA9llo \xE2\x82\xAC\xF0\x9F\x98\x80"),
        .wire = F("data: h\xC3\xA9llo \xE2\x82\xAC\xF0\x9F\x98\x80\n\n"),
        MSG(F("h\xC3\xA9llo \xE2\x82\xAC\xF0\x9F\x98\x80"), F("")))},
    {"row18/data_unicode_separators_not_breaks",
     EV(.data = F("a\xE2\x80\xA8"
                  "b\xC2\x85"
                  "c"),
        .wire = F("data: a\xE2\x80\xA8"
                  "b\xC2\x85"
                  "c\n\n"),
        MSG(F("a\xE2\x80\xA8"
              "b\xC2\x85"
              "c"),
            F("")))},
    {"row19/data_nul",
     EV(.data = F("a\0b"), .wire = F("data: a\0b\n\n"), MSG(F("a\0b"), F("")))},
    {"row20/data_inner_bom",
     EV(.data = F("\xEF\xBB\xBFx"), .wire = F("data: \xEF\xBB\xBFx\n\n"),
        MSG(F("\xEF\xBB\xBFx"), F("")))},
    {"row21/event_type",
     EV(.type = F("add"), .data = F("x"), .wire = F("event: add\ndata: x\n\n"),
        .fires = 1, .d_type = F("add"), .d_data = F("x"), .d_last_id = F(""))},
    {"row22/event_type_empty_writes_no_line",
     EV(.type = F(""), .data = F("x"), .wire = F("data: x\n\n"),
        MSG(F("x"), F("")))},
    {"row23/event_type_error",
     EV(.type = F("error"), .data = F("x"),
        .wire = F("event: error\ndata: x\n\n"), .fires = 1,
        .d_type = F("error"), .d_data = F("x"), .d_last_id = F(""))},
    {"row24/event_type_lf_reject",
     EV(.type = F("a\nb"), .data = F("x"), .reject = true)},
    {"row25/id", EV(.id = F("42"), .data = F("x"),
                    .wire = F("id: 42\ndata: x\n\n"), MSG(F("x"), F("42")))},
    {"row26/no_id_after_id_persists",
     EV(.prelude = F("id: 42\ndata: x\n\n"), .data = F("y"),
        .wire = F("data: y\n\n"), .fires = 2, .d_type = F("message"),
        .d_data = F("y"), .d_last_id = F("42"))},
    {"row27/id_empty_forgets",
     EV(.prelude = F("id: 9\n\n"), .id = F(""), .data = F("x"),
        .wire = F("id: \ndata: x\n\n"), MSG(F("x"), F("")))},
    {"row28/id_lf_reject", EV(.id = F("1\n2"), .data = F("x"), .reject = true)},
    {"row29/id_nul_reject",
     EV(.id = F("a\0b"), .data = F("x"), .reject = true)},
    {"row30/id_surrounding_spaces_reject",
     EV(.id = F(" 7 "), .data = F("x"), .reject = true)},
    {"row31/id_utf8", EV(.id = F("caf\xC3\xA9"), .data = F("x"),
                         .wire = F("id: caf\xC3\xA9\ndata: x\n\n"),
                         MSG(F("x"), F("caf\xC3\xA9")))},
    {"row32/retry_zero",
     EV(RETRY(0), .data = F("x"), .wire = F("retry: 0\ndata: x\n\n"),
        MSG(F("x"), F("")), D_RETRY(0))},
    {"row33/retry_one_day", EV(RETRY(86400000), .data = F("x"),
                               .wire = F("retry: 86400000\ndata: x\n\n"),
                               MSG(F("x"), F("")), D_RETRY(86400000))},
    {"row34/retry_minus_one_reject",
     EV(RETRY(-1), .data = F("x"), .reject = true)},
    {"row35/comment_empty", .kind = K_COMMENT, .data = F(""),
     .wire = F(":\n\n")},
    {"row36/comment_lf", .kind = K_COMMENT, .data = F("a\nb"),
     .wire = F(": a\n: b\n\n")},
    /* Row 37 (1 MiB) is gen/row37_data_1mib_never_wrapped. */
};

/* Build the event of a row over exact-size copies of its fields. */
typedef struct {
  hcs_sse_event_t ev;
  char *type, *id, *data;
} built_t;

static built_t build(const row_t *r) {
  built_t b;
  memset(&b, 0, sizeof(b));
  b.ev.retry = r->has_retry ? r->retry : NO_RETRY;
  if (r->type.p) {
    b.type = dup_exact(r->type.p, r->type.len);
    b.ev.event_type.base = b.type;
    b.ev.event_type.len = r->type.len;
  }
  if (r->id.p) {
    b.id = dup_exact(r->id.p, r->id.len);
    b.ev.id.base = b.id;
    b.ev.id.len = r->id.len;
  }
  b.data = dup_exact(r->data.p, r->data.len);
  b.ev.data.base = b.data;
  b.ev.data.len = r->data.len;
  return b;
}

static void built_free(built_t *b) {
  free(b->type);
  free(b->id);
  free(b->data);
}

/*
 * Check every formatting path on ev: the exact bytes exp[0..exp_len), or
 * HCS_EINVAL and nothing written when exp is NULL.
 */
static void check_formats(const hcs_sse_event_t *ev, const char *exp,
                          size_t exp_len) {
  hcs_buf_t *const untouched = (hcs_buf_t *)(uintptr_t)0x1234;
  hcs_buf_t *buf = untouched;
  size_t room = exp_len + 64;
  char *dst = malloc(room);
  ssize_t n;

  assert_non_null(dst);
  if (exp == NULL) {
    check_rc("hcs_sse_validate", hcs_sse_validate(ev), HCS_EINVAL);
    check_rc("hcs_sse_format_size", hcs_sse_format_size(ev), HCS_EINVAL);
    check_rc("hcs_sse_format", hcs_sse_format(ev, &buf), HCS_EINVAL);
    assert_ptr_equal(buf, untouched);
    memset(dst, SENTINEL, room);
    check_rc("hcs_sse_format_into", hcs_sse_format_into(ev, dst, room),
             HCS_EINVAL);
    check_untouched("hcs_sse_format_into on a rejected event", dst, room);
    free(dst);
    return;
  }

  check_rc("hcs_sse_validate", hcs_sse_validate(ev), 0);
  check_rc("hcs_sse_format_size", hcs_sse_format_size(ev), (long long)exp_len);

  check_rc("hcs_sse_format", hcs_sse_format(ev, &buf), 0);
  assert_ptr_not_equal(buf, untouched);
  assert_non_null(buf);
  check_bytes("hcs_sse_format", exp, exp_len, buf->data, buf->len);
  hcs_buf_unref(buf);

  /* Exactly enough room. */
  memset(dst, SENTINEL, room);
  n = hcs_sse_format_into(ev, dst, exp_len);
  check_rc("hcs_sse_format_into (exact cap)", n, (long long)exp_len);
  check_bytes("hcs_sse_format_into (exact cap)", exp, exp_len, dst, (size_t)n);
  check_untouched("past the end (exact cap)", dst + exp_len, room - exp_len);

  /* More room than needed: nothing beyond the event is written. */
  memset(dst, SENTINEL, room);
  n = hcs_sse_format_into(ev, dst, room);
  check_rc("hcs_sse_format_into (large cap)", n, (long long)exp_len);
  check_bytes("hcs_sse_format_into (large cap)", exp, exp_len, dst, (size_t)n);
  check_untouched("past the end (large cap)", dst + exp_len, room - exp_len);

  /* One byte short, and no room at all: HCS_ENOSPC, nothing written. */
  memset(dst, SENTINEL, room);
  check_rc("hcs_sse_format_into (cap - 1)",
           hcs_sse_format_into(ev, dst, exp_len - 1), HCS_ENOSPC);
  check_untouched("hcs_sse_format_into (cap - 1)", dst, room);
  check_rc("hcs_sse_format_into (cap 0)", hcs_sse_format_into(ev, dst, 0),
           HCS_ENOSPC);
  check_untouched("hcs_sse_format_into (cap 0)", dst, room);
  free(dst);
}

static void check_client(const row_t *r, const char *wire, size_t len) {
  client_t c;
  memset(&c, 0, sizeof(c));
  c.retry = -1;
  if (r->prelude.p)
    client_feed(&c, r->prelude.p, r->prelude.len);
  client_feed(&c, wire, len);
  if (c.nfired != r->fires) {
    print_error("client dispatched %zu events, expected %zu\n", c.nfired,
                r->fires);
    fail_here();
  }
  if (r->fires) {
    fired_t *f = &c.fired[c.nfired - 1];
    check_bytes("dispatched type", r->d_type.p, r->d_type.len, f->type.p,
                f->type.len);
    check_bytes("dispatched data", r->d_data.p, r->d_data.len, f->data.p,
                f->data.len);
    check_bytes("dispatched lastEventId", r->d_last_id.p, r->d_last_id.len,
                f->last_id.p, f->last_id.len);
  }
  check_rc("client reconnection time", c.retry,
           r->has_d_retry ? r->d_retry : -1);
  /* Nothing is left half-read: the output ends with an empty line. */
  assert_int_equal(c.data.len, 0);
  assert_int_equal(c.type.len, 0);
  client_free(&c);
}

static void run_row(void **state) {
  const row_t *r = *state;

  if (r->kind == K_COMMENT) {
    hcs_buf_t *buf = NULL;
    char *text = dup_exact(r->data.p, r->data.len);
    check_rc("hcs_sse_comment", hcs_sse_comment(text, r->data.len, &buf), 0);
    assert_non_null(buf);
    check_bytes("hcs_sse_comment", r->wire.p, r->wire.len, buf->data, buf->len);
    check_client(r, buf->data, buf->len);
    hcs_buf_unref(buf);
    free(text);
    return;
  }

  built_t b = build(r);
  check_formats(&b.ev, r->reject ? NULL : r->wire.p, r->wire.len);

  /* The same fields through the constructor. */
  hcs_sse_event_t *const untouched = (hcs_sse_event_t *)(uintptr_t)0x5678;
  hcs_sse_event_t *ev = untouched;
  int rc = hcs_sse_make(&ev, b.ev.event_type, b.ev.id, b.ev.retry, b.data,
                        r->data.len);
  if (r->reject) {
    check_rc("hcs_sse_make", rc, HCS_EINVAL);
    assert_ptr_equal(ev, untouched);
  } else {
    check_rc("hcs_sse_make", rc, 0);
    assert_ptr_not_equal(ev, untouched);
    check_formats(ev, r->wire.p, r->wire.len);
    hcs_sse_event_free(ev);

    hcs_buf_t *buf = NULL;
    check_rc("hcs_sse_format", hcs_sse_format(&b.ev, &buf), 0);
    check_client(r, buf->data, buf->len);
    hcs_buf_unref(buf);
  }
  built_free(&b);
}

/* ---- generated: validation ------------------------------------------------
 */

static hcs_sse_event_t event_of(const char *type, size_t type_len,
                                const char *id, size_t id_len, int64_t retry,
                                const char *data, size_t data_len) {
  hcs_sse_event_t ev;
  ev.event_type.base = type;
  ev.event_type.len = type_len;
  ev.id.base = id;
  ev.id.len = id_len;
  ev.retry = retry;
  ev.data.base = data;
  ev.data.len = data_len;
  return ev;
}

/* Check one event both ways: the formatting paths and hcs_sse_make. */
static void check_event(const hcs_sse_event_t *ev, const char *exp,
                        size_t exp_len) {
  hcs_sse_event_t *const untouched = (hcs_sse_event_t *)(uintptr_t)0x5678;
  hcs_sse_event_t *made = untouched;

  check_formats(ev, exp, exp_len);
  int rc = hcs_sse_make(&made, ev->event_type, ev->id, ev->retry, ev->data.base,
                        ev->data.len);
  if (exp == NULL) {
    check_rc("hcs_sse_make", rc, HCS_EINVAL);
    assert_ptr_equal(made, untouched);
  } else {
    check_rc("hcs_sse_make", rc, 0);
    check_formats(made, exp, exp_len);
    hcs_sse_event_free(made);
  }
}

/* Every field present: event, id, retry, data lines, empty line. */
static void gen_field_order(void **state) {
  hcs_sse_event_t ev = event_of("add", 3, "7", 1, 1000, "a\r\nb", 4);
  static const char exp[] =
      "event: add\nid: 7\nretry: 1000\ndata: a\ndata: b\n\n";
  check_event(&ev, exp, sizeof(exp) - 1);
}

/* Absent (base NULL) and empty-but-present fields. */
static void gen_absent_vs_empty(void **state) {
  hcs_sse_event_t ev;

  ev = event_of(NULL, 0, NULL, 0, NO_RETRY, "x", 1);
  check_event(&ev, LIT("data: x\n\n"));
  ev = event_of("", 0, NULL, 0, NO_RETRY, "x", 1); /* row 22: no event line */
  check_event(&ev, LIT("data: x\n\n"));
  ev = event_of(NULL, 0, "", 0, NO_RETRY, "x", 1); /* row 27: "id: " */
  check_event(&ev, LIT("id: \ndata: x\n\n"));
  ev = event_of("", 0, "", 0, NO_RETRY, "", 0);
  check_event(&ev, LIT("id: \ndata: \n\n"));
}

/* hcs_sse_event_t: data "base may be NULL if len 0". */
static void gen_data_null_when_empty(void **state) {
  hcs_sse_event_t ev = event_of(NULL, 0, NULL, 0, NO_RETRY, NULL, 0);
  check_event(&ev, LIT("data: \n\n"));
  static const char exp[] = "event: t\nid: 1\nretry: 2\ndata: \n\n";
  ev = event_of("t", 1, "1", 1, 2, NULL, 0);
  check_event(&ev, exp, sizeof(exp) - 1);
}

/* Retry: written when present, in decimal; negative or above 2^31-1
 * rejected; HCS_SSE_NO_RETRY is absent. */
static void gen_retry_bounds(void **state) {
  static const struct {
    int64_t retry;
    const char *exp; /* NULL: rejected */
  } t[] = {
      {0, "retry: 0\ndata: x\n\n"},
      {1, "retry: 1\ndata: x\n\n"},
      {1000, "retry: 1000\ndata: x\n\n"},
      {HCS_SSE_RETRY_MAX, "retry: 2147483647\ndata: x\n\n"},
      {(int64_t)HCS_SSE_RETRY_MAX + 1, NULL},
      {4294967296LL, NULL},
      {INT64_MAX, NULL},
      {-1, NULL},
      {-2, NULL},
      {-2147483648LL, NULL},
      {INT64_MIN + 1, NULL},
      {HCS_SSE_NO_RETRY, "data: x\n\n"},
  };
  for (size_t i = 0; i < COUNT(t); i++) {
    hcs_sse_event_t ev = event_of(NULL, 0, NULL, 0, t[i].retry, "x", 1);
    set_context("retry %lld", (long long)t[i].retry);
    check_event(&ev, t[i].exp, t[i].exp ? strlen(t[i].exp) : 0);
  }
}

/* Ids: CR, LF, NUL anywhere, and space or tab at either end, are refused. */
static void gen_id_rules(void **state) {
  static const field_t bad[] = {
      F(" 7"),     F("7 "),  F("\t7"), F("7\t"), F(" "),     F("\t"),
      F(" 7 "),    F("  "),  F("\r"),  F("\n"),  F("\0"),    F("a\rb"),
      F("a\r\nb"), F("7\n"), F("\n7"), F("7\0"), F("\0007"), F("1\n2"),
  };
  static const struct {
    field_t id;
    field_t exp;
  } good[] = {
      {F("7"), F("id: 7\ndata: x\n\n")},
      {F("a b"), F("id: a b\ndata: x\n\n")},
      {F("urn:uuid:1"), F("id: urn:uuid:1\ndata: x\n\n")},
      {F("caf\xC3\xA9"), F("id: caf\xC3\xA9\ndata: x\n\n")},
  };
  for (size_t i = 0; i < COUNT(bad); i++) {
    char *id = dup_exact(bad[i].p, bad[i].len);
    hcs_sse_event_t ev = event_of(NULL, 0, id, bad[i].len, NO_RETRY, "x", 1);
    set_context("bad id #%zu", i);
    check_event(&ev, NULL, 0);
    free(id);
  }
  for (size_t i = 0; i < COUNT(good); i++) {
    hcs_sse_event_t ev =
        event_of(NULL, 0, good[i].id.p, good[i].id.len, NO_RETRY, "x", 1);
    check_event(&ev, good[i].exp.p, good[i].exp.len);
  }
}

/*
 * Event types: every C0 control (CR, LF, NUL, tab included) and DEL, at the
 * start, middle and end, is refused by the formatter, hcs_sse_make and
 * hcs_sse_event_typed; other bytes pass.
 */
static void gen_event_type_rules(void **state) {
  for (int c = 0; c < 0x80; c++) {
    if (c >= 0x20 && c != 0x7f)
      continue;
    char spots[3][4] = {"?ab", "a?b", "ab?"};
    spots[0][0] = spots[1][1] = spots[2][2] = (char)c;
    for (int s = 0; s < 3; s++) {
      hcs_sse_event_t ev = event_of(spots[s], 3, NULL, 0, NO_RETRY, "x", 1);
      set_context("event type byte 0x%02x at %d", c, s);
      check_event(&ev, NULL, 0);
      if (c != 0) { /* a C string cannot hold NUL */
        hcs_sse_event_t *const untouched = (hcs_sse_event_t *)(uintptr_t)0x5678;
        hcs_sse_event_t *made = untouched;
        check_rc("hcs_sse_event_typed",
                 hcs_sse_event_typed(&made, spots[s], "x", 1), HCS_EINVAL);
        assert_ptr_equal(made, untouched);
      }
    }
  }
  static const struct {
    field_t type;
    field_t exp;
  } good[] = {
      {F("a b"), F("event: a b\ndata: x\n\n")},
      {F("a:b"), F("event: a:b\ndata: x\n\n")},
      {F("caf\xC3\xA9"), F("event: caf\xC3\xA9\ndata: x\n\n")},
      {F("~!"), F("event: ~!\ndata: x\n\n")},
  };
  for (size_t i = 0; i < COUNT(good); i++) {
    hcs_sse_event_t ev =
        event_of(good[i].type.p, good[i].type.len, NULL, 0, NO_RETRY, "x", 1);
    check_event(&ev, good[i].exp.p, good[i].exp.len);
  }
}

/* hcs_sse_format_into: every cap below the size fails with nothing written. */
static void gen_format_into_every_cap(void **state) {
  hcs_sse_event_t ev = event_of("t", 1, "9", 1, 5, "a\nb\r\nc\r", 7);
  static const char exp[] =
      "event: t\nid: 9\nretry: 5\ndata: a\ndata: b\ndata: c\ndata: \n\n";
  char dst[sizeof(exp) + 8];
  check_rc("hcs_sse_format_size", hcs_sse_format_size(&ev), sizeof(exp) - 1);
  for (size_t cap = 0; cap < sizeof(exp) - 1; cap++) {
    memset(dst, SENTINEL, sizeof(dst));
    check_rc("hcs_sse_format_into", hcs_sse_format_into(&ev, dst, cap),
             HCS_ENOSPC);
    check_untouched("hcs_sse_format_into below size", dst, sizeof(dst));
  }
  memset(dst, SENTINEL, sizeof(dst));
  check_rc("hcs_sse_format_into", hcs_sse_format_into(&ev, dst, sizeof(dst)),
           sizeof(exp) - 1);
  check_bytes("hcs_sse_format_into", exp, sizeof(exp) - 1, dst,
              sizeof(exp) - 1);
}

/* ---- generated: constructors ----------------------------------------------
 */

static void gen_event_copies(void **state) {
  char src[] = "a\nb\0c";
  hcs_sse_event_t *ev = NULL;

  check_rc("hcs_sse_event", hcs_sse_event(&ev, src, 5), 0);
  assert_non_null(ev);
  assert_null(ev->event_type.base);
  assert_null(ev->id.base);
  assert_true(ev->retry == HCS_SSE_NO_RETRY);
  memset(src, 'Z', sizeof(src));
  check_bytes("event data after the source changed", "a\nb\0c", 5,
              ev->data.base, ev->data.len);
  check_formats(ev, LIT("data: a\ndata: b\0c\n\n"));
  hcs_sse_event_free(ev);

  /* Empty data. */
  ev = NULL;
  check_rc("hcs_sse_event", hcs_sse_event(&ev, "", 0), 0);
  assert_non_null(ev);
  check_formats(ev, LIT("data: \n\n"));
  hcs_sse_event_free_item(ev);

  hcs_sse_event_free(NULL);
  hcs_sse_event_free_item(NULL);
}

static void gen_event_typed_copies(void **state) {
  char type[] = "add";
  char data[] = "x y";
  hcs_sse_event_t *ev = NULL;

  check_rc("hcs_sse_event_typed", hcs_sse_event_typed(&ev, type, data, 3), 0);
  assert_non_null(ev);
  memset(type, 'Q', 3);
  memset(data, 'Q', 3);
  check_bytes("event type after the source changed", "add", 3,
              ev->event_type.base, ev->event_type.len);
  assert_null(ev->id.base);
  assert_true(ev->retry == HCS_SSE_NO_RETRY);
  check_formats(ev, LIT("event: add\ndata: x y\n\n"));
  hcs_sse_event_free(ev);

  /* An empty type is present but writes no event line. */
  ev = NULL;
  check_rc("hcs_sse_event_typed", hcs_sse_event_typed(&ev, "", "x", 1), 0);
  assert_non_null(ev);
  check_formats(ev, LIT("data: x\n\n"));
  hcs_sse_event_free(ev);

  /* Invalid types leave *out untouched. */
  static const char *const bad[] = {"a\nb", "a\rb", "\r\n",
                                    "a\tb", "\x7f", "\x1b[0m"};
  for (size_t i = 0; i < COUNT(bad); i++) {
    hcs_sse_event_t *const untouched = (hcs_sse_event_t *)(uintptr_t)0x5678;
    ev = untouched;
    check_rc("hcs_sse_event_typed (invalid)",
             hcs_sse_event_typed(&ev, bad[i], "x", 1), HCS_EINVAL);
    assert_ptr_equal(ev, untouched);
  }
}

static void gen_make_copies(void **state) {
  char type[] = "upd";
  char id[] = "id-42";
  char data[] = "l1\r\nl2";
  hcs_str_t t = {type, 3}, i = {id, 5};
  hcs_sse_event_t *ev = NULL;
  static const char exp[] =
      "event: upd\nid: id-42\nretry: 3000\ndata: l1\ndata: l2\n\n";

  check_rc("hcs_sse_make", hcs_sse_make(&ev, t, i, 3000, data, 6), 0);
  assert_non_null(ev);
  memset(type, '\n', 3);
  memset(id, '\n', 5);
  memset(data, '\n', 6);
  check_bytes("type after the source changed", "upd", 3, ev->event_type.base,
              ev->event_type.len);
  check_bytes("id after the source changed", "id-42", 5, ev->id.base,
              ev->id.len);
  check_bytes("data after the source changed", "l1\r\nl2", 6, ev->data.base,
              ev->data.len);
  assert_int_equal(ev->retry, 3000);
  check_formats(ev, exp, sizeof(exp) - 1);
  hcs_sse_event_free(ev);

  /* Absent optional fields stay absent. */
  hcs_str_t none = {NULL, 0};
  ev = NULL;
  check_rc("hcs_sse_make", hcs_sse_make(&ev, none, none, NO_RETRY, "d", 1), 0);
  assert_null(ev->event_type.base);
  assert_null(ev->id.base);
  assert_true(ev->retry == HCS_SSE_NO_RETRY);
  check_formats(ev, LIT("data: d\n\n"));
  hcs_sse_event_free(ev);

  /* Each invalid field alone is rejected, *out untouched. */
  static const struct {
    field_t type, id;
    int64_t retry;
  } bad[] = {
      {F("a\nb"), ABSENT, NO_RETRY},
      {F("a\0b"), ABSENT, NO_RETRY},
      {F("\x7f"), ABSENT, NO_RETRY},
      {ABSENT, F("1\n2"), NO_RETRY},
      {ABSENT, F("1\r"), NO_RETRY},
      {ABSENT, F("a\0b"), NO_RETRY},
      {ABSENT, F(" 7"), NO_RETRY},
      {ABSENT, F("7\t"), NO_RETRY},
      {ABSENT, ABSENT, HCS_SSE_RETRY_MAX + 1LL},
      {ABSENT, ABSENT, INT64_MAX},
  };
  for (size_t k = 0; k < COUNT(bad); k++) {
    hcs_sse_event_t *const untouched = (hcs_sse_event_t *)(uintptr_t)0x5678;
    hcs_str_t bt = {bad[k].type.p, bad[k].type.len};
    hcs_str_t bi = {bad[k].id.p, bad[k].id.len};
    ev = untouched;
    set_context("invalid field set #%zu", k);
    check_rc("hcs_sse_make (invalid)",
             hcs_sse_make(&ev, bt, bi, bad[k].retry, "x", 1), HCS_EINVAL);
    assert_ptr_equal(ev, untouched);
  }
}

/* Fail the N-th allocation for every N: HCS_ENOMEM, *out untouched. */
static void gen_alloc_failures(void **state) {
  static const char *const names[] = {"hcs_sse_event", "hcs_sse_event_typed",
                                      "hcs_sse_make", "hcs_sse_format",
                                      "hcs_sse_comment"};
  hcs_str_t t = {"t", 1}, id = {"1", 1};
  hcs_sse_event_t ev = event_of("t", 1, "1", 1, 10, "a\nb", 3);

  for (size_t which = 0; which < COUNT(names); which++) {
    bool done = false;
    for (unsigned long nth = 1; nth <= 16 && !done; nth++) {
      hcs_sse_event_t *const ev_untouched =
          (hcs_sse_event_t *)(uintptr_t)0x5678;
      hcs_buf_t *const buf_untouched = (hcs_buf_t *)(uintptr_t)0x1234;
      hcs_sse_event_t *ev_out = ev_untouched;
      hcs_buf_t *buf_out = buf_untouched;
      int rc;
      hcs__alloc_fail_after(nth);
      switch (which) {
      case 0:
        rc = hcs_sse_event(&ev_out, "abc", 3);
        break;
      case 1:
        rc = hcs_sse_event_typed(&ev_out, "t", "abc", 3);
        break;
      case 2:
        rc = hcs_sse_make(&ev_out, t, id, 5, "abc", 3);
        break;
      case 3:
        rc = hcs_sse_format(&ev, &buf_out);
        break;
      default:
        rc = hcs_sse_comment("a\nb", 3, &buf_out);
        break;
      }
      hcs__alloc_fail_after(0);
      set_context("%s, allocation %lu fails", names[which], nth);
      if (rc == 0) {
        /* The first allocation must have been tried (through the hook). */
        assert_true(nth > 1);
        if (which <= 2) {
          assert_ptr_not_equal(ev_out, ev_untouched);
          assert_ptr_equal(buf_out, buf_untouched);
          hcs_sse_event_free(ev_out);
        } else {
          assert_ptr_not_equal(buf_out, buf_untouched);
          assert_ptr_equal(ev_out, ev_untouched);
          hcs_buf_unref(buf_out);
        }
        done = true;
      } else {
        check_rc(names[which], rc, HCS_ENOMEM);
        assert_ptr_equal(ev_out, ev_untouched);
        assert_ptr_equal(buf_out, buf_untouched);
      }
    }
    assert_true(done);
  }
}

/* ---- generated: comments and headers ---------------------------------------
 */

static void gen_comment_splits(void **state) {
  static const struct {
    field_t text, exp;
  } t[] = {
      {F(""), F(":\n\n")},
      {F("a"), F(": a\n\n")},
      {F("keepalive"), F(": keepalive\n\n")},
      {F("a\nb"), F(": a\n: b\n\n")},
      {F("a\r\nb"), F(": a\n: b\n\n")},
      {F("a\rb"), F(": a\n: b\n\n")},
      {F("a\n"), F(": a\n: \n\n")},
      {F("a\r\n"), F(": a\n: \n\n")},
      {F("\n"), F(": \n: \n\n")},
      {F("a\n\nb"), F(": a\n: \n: b\n\n")},
      {F("a\r\rb"), F(": a\n: \n: b\n\n")},
      {F("a\n\rb"), F(": a\n: \n: b\n\n")},
      {F("x\nid: 1\ndata: evil"), F(": x\n: id: 1\n: data: evil\n\n")},
      {F("a\0b"), F(": a\0b\n\n")},
  };
  for (size_t i = 0; i < COUNT(t); i++) {
    hcs_buf_t *buf = NULL;
    char *text = dup_exact(t[i].text.p, t[i].text.len);
    set_context("comment #%zu", i);
    check_rc("hcs_sse_comment", hcs_sse_comment(text, t[i].text.len, &buf), 0);
    assert_non_null(buf);
    check_bytes("hcs_sse_comment", t[i].exp.p, t[i].exp.len, buf->data,
                buf->len);

    /* A client sees nothing, and nothing leaks into the next event. */
    client_t c;
    memset(&c, 0, sizeof(c));
    c.retry = -1;
    client_feed(&c, buf->data, buf->len);
    assert_int_equal(c.nfired, 0);
    client_feed(&c, "data: z\n\n", 9);
    assert_int_equal(c.nfired, 1);
    check_bytes("type after a comment", "message", 7, c.fired[0].type.p,
                c.fired[0].type.len);
    check_bytes("data after a comment", "z", 1, c.fired[0].data.p,
                c.fired[0].data.len);
    check_bytes("id after a comment", "", 0, c.fired[0].last_id.p,
                c.fired[0].last_id.len);
    assert_int_equal(c.retry, -1);
    client_free(&c);
    hcs_buf_unref(buf);
    free(text);
  }
}

static void gen_headers(void **state) {
  static const char *const exp[4][2] = {
      {"Content-Type", "text/event-stream"},
      {"Cache-Control", "no-cache"},
      {"X-Accel-Buffering", "no"},
      {"Connection", "keep-alive"},
  };
  size_t count = 99;
  const hcs_sse_header_t *h = hcs_sse_headers(&count);
  assert_non_null(h);
  assert_int_equal(count, 4);
  for (size_t i = 0; i < 4; i++) {
    assert_non_null(h[i].name);
    assert_non_null(h[i].value);
    assert_string_equal(h[i].name, exp[i][0]);
    assert_string_equal(h[i].value, exp[i][1]);
  }
  /* A static array: the same one every time. */
  size_t count2 = 0;
  assert_ptr_equal(hcs_sse_headers(&count2), h);
  assert_int_equal(count2, 4);
}

/* ---- generated: big and binary data ----------------------------------------
 */

static void gen_row37_data_1mib_never_wrapped(void **state) {
  const size_t n = 1u << 20;
  char *data = malloc(n);
  char *exp = malloc(n + 8);
  assert_non_null(data);
  assert_non_null(exp);
  memset(data, 'x', n);
  memcpy(exp, "data: ", 6);
  memset(exp + 6, 'x', n);
  memcpy(exp + 6 + n, "\n\n", 2);

  hcs_sse_event_t ev = event_of(NULL, 0, NULL, 0, NO_RETRY, data, n);
  check_formats(&ev, exp, n + 8);

  hcs_buf_t *buf = NULL;
  check_rc("hcs_sse_format", hcs_sse_format(&ev, &buf), 0);
  client_t c;
  memset(&c, 0, sizeof(c));
  c.retry = -1;
  client_feed(&c, buf->data, buf->len);
  assert_int_equal(c.nfired, 1);
  check_bytes("dispatched 1 MiB", data, n, c.fired[0].data.p,
              c.fired[0].data.len);
  client_free(&c);
  hcs_buf_unref(buf);
  free(exp);
  free(data);
}

/*
 * Format data, parse the output as a client, and expect the data back with
 * CRLF and CR turned into LF; LF must be the only terminator written.
 */
static void roundtrip(const char *data, size_t len) {
  char *copy = dup_exact(data, len);
  char *want = malloc(len ? len : 1);
  size_t want_len = normalize_breaks(data, len, want);
  hcs_sse_event_t ev = event_of(NULL, 0, NULL, 0, NO_RETRY, copy, len);
  hcs_buf_t *buf = NULL;

  assert_non_null(want);
  check_rc("hcs_sse_format", hcs_sse_format(&ev, &buf), 0);
  check_rc("hcs_sse_format_size", hcs_sse_format_size(&ev),
           (long long)buf->len);
  if (memchr(buf->data, '\r', buf->len) != NULL) {
    print_bytes("output holds a CR", buf->data, buf->len);
    fail_here();
  }
  client_t c;
  memset(&c, 0, sizeof(c));
  c.retry = -1;
  client_feed(&c, buf->data, buf->len);
  if (c.nfired != 1) {
    print_bytes("input", data, len);
    print_bytes("output", buf->data, buf->len);
    print_error("dispatched %zu events, expected 1\n", c.nfired);
    fail_here();
  }
  check_bytes("round trip", want, want_len, c.fired[0].data.p,
              c.fired[0].data.len);
  check_bytes("round trip type", "message", 7, c.fired[0].type.p,
              c.fired[0].type.len);
  check_bytes("round trip id", "", 0, c.fired[0].last_id.p,
              c.fired[0].last_id.len);
  assert_int_equal(c.retry, -1);
  client_free(&c);
  hcs_buf_unref(buf);
  free(want);
  free(copy);
}

/* Every byte value but CR and LF is written as it is, on one line. */
static void gen_binary_all_bytes_but_breaks(void **state) {
  char data[254], exp[6 + 254 + 2];
  size_t n = 0;
  for (int b = 0; b < 256; b++)
    if (b != '\r' && b != '\n')
      data[n++] = (char)b;
  assert_int_equal(n, sizeof(data));
  memcpy(exp, "data: ", 6);
  memcpy(exp + 6, data, n);
  memcpy(exp + 6 + n, "\n\n", 2);
  hcs_sse_event_t ev = event_of(NULL, 0, NULL, 0, NO_RETRY, data, n);
  check_formats(&ev, exp, sizeof(exp));
  roundtrip(data, n);
  /* Reversed, so that each byte also appears first and last. */
  for (size_t i = 0; i < n / 2; i++) {
    char t = data[i];
    data[i] = data[n - 1 - i];
    data[n - 1 - i] = t;
  }
  roundtrip(data, n);
}

/* All 256 byte values, and pseudo-random mixes rich in breaks. */
static void gen_binary_roundtrip_random(void **state) {
  char data[512];
  for (int b = 0; b < 256; b++)
    data[b] = (char)b;
  roundtrip(data, 256);

  static const char special[] = "\r\n\r\n \t:\0";
  uint32_t x = 0x9e3779b9u;
  for (int iter = 0; iter < 2000; iter++) {
    size_t len;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    len = x % 40;
    for (size_t i = 0; i < len; i++) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      data[i] =
          (x & 1) ? special[(x >> 1) % (sizeof(special))] : (char)(x >> 8);
    }
    roundtrip(data, len);
  }
}

static const struct {
  const char *name;
  CMUnitTestFunction fn;
} generated[] = {
    {"gen/field_order", gen_field_order},
    {"gen/absent_vs_empty", gen_absent_vs_empty},
    {"gen/data_null_when_empty", gen_data_null_when_empty},
    {"gen/retry_bounds", gen_retry_bounds},
    {"gen/id_rules", gen_id_rules},
    {"gen/event_type_rules", gen_event_type_rules},
    {"gen/format_into_every_cap", gen_format_into_every_cap},
    {"gen/event_copies", gen_event_copies},
    {"gen/event_typed_copies", gen_event_typed_copies},
    {"gen/make_copies", gen_make_copies},
    {"gen/alloc_failures", gen_alloc_failures},
    {"gen/comment_splits", gen_comment_splits},
    {"gen/headers", gen_headers},
    {"gen/row37_data_1mib_never_wrapped", gen_row37_data_1mib_never_wrapped},
    {"gen/binary_all_bytes_but_breaks", gen_binary_all_bytes_but_breaks},
    {"gen/binary_roundtrip_random", gen_binary_roundtrip_random},
};

int main(int argc, char **argv) {
  size_t n = 0, total = COUNT(rows) + COUNT(generated);
  struct CMUnitTest *tests = calloc(total, sizeof(*tests));
  int rc;

  if (tests == NULL)
    return 1;
  for (size_t i = 0; i < COUNT(rows); i++) {
    tests[n].name = rows[i].name;
    tests[n].test_func = run_row;
    tests[n].setup_func = reset_context;
    tests[n++].initial_state = (void *)&rows[i];
  }
  for (size_t i = 0; i < COUNT(generated); i++) {
    tests[n].name = generated[i].name;
    tests[n].setup_func = reset_context;
    tests[n++].test_func = generated[i].fn;
  }
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  rc = _cmocka_run_group_tests("sse_format", tests, n, NULL, NULL);
  free(tests);
  return rc;
}
