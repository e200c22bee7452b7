/* SPDX-License-Identifier: MIT */
/*
 * test_http1_urlencoded.c: unit tests for percent-decoding, path
 * normalisation, request-target splitting and urlencoded pairs
 * (src/http1/urlencoded.c).
 *
 * Four case tables, each row its own cmocka test ("decode/...", "path/...",
 * "split/...", "pairs/..."; run one with ./test_http1_urlencoded
 * 'path/dot*'). Decoders run both into a separate exact-size buffer and in
 * place; inputs live in exact-size heap copies so that AddressSanitizer
 * catches a read past the end.
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

#include "hcs/error.h"
#include "http1/urlencoded.h"

/* ---- helpers ------------------------------------------------------------ */

static void print_bytes(const char *what, const char *p, size_t n) {
  print_error("%s (%zu bytes): \"", what, n);
  for (size_t i = 0; i < n && i < 400; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '"' || c == '\\')
      print_error("\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      print_error("\\x%02x", c);
    else
      print_error("%c", c);
  }
  print_error("%s\"\n", n > 400 ? "..." : "");
}

static void check_bytes(const char *got, size_t got_len, const char *want,
                        size_t want_len, const char *what, const char *in,
                        size_t in_len) {
  if (got_len == want_len && (want_len == 0 || memcmp(got, want, want_len) == 0))
    return;
  print_error("%s differs\n", what);
  print_bytes("  input", in, in_len);
  print_bytes("  got  ", got ? got : "", got_len);
  print_bytes("  want ", want, want_len);
  fail();
}

static void check_slice(hcs_str_t got, const char *want, const char *what,
                        const char *in, size_t in_len) {
  check_bytes(got.base, got.len, want, strlen(want), what, in, in_len);
}

static const char *rc_name(ssize_t rc) {
  return rc >= 0 ? "OK" : hcs_err_name((int)rc);
}

static void check_rc(ssize_t got, ssize_t want, const char *in, size_t len) {
  if (got == want)
    return;
  print_error("result: got %zd (%s), want %zd (%s)\n", got, rc_name(got),
              want, rc_name(want));
  print_bytes("  input", in, len);
  fail();
}

static char *copy(const char *in, size_t len, size_t cap) {
  char *p = malloc(cap ? cap : 1);
  assert_non_null(p);
  memcpy(p, in, len);
  return p;
}

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define OUT(s) .out = (s), .out_len = sizeof(s) - 1
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- hcs_percent_decode ------------------------------------------------- */

typedef struct {
  const char *name;
  const char *in;
  size_t len;
  bool plus;        /* plus_is_space                        */
  int err;          /* 0, or the expected error              */
  const char *out;  /* decoded bytes                         */
  size_t out_len;
} dcase_t;

static dcase_t decode_cases[] = {
    {"decode/empty", IN(""), false, 0, OUT("")},
    {"decode/plain", IN("abc/def"), false, 0, OUT("abc/def")},
    {"decode/upper_hex", IN("%41%4A"), false, 0, OUT("AJ")},
    {"decode/lower_hex", IN("%4a%6f"), false, 0, OUT("Jo")},
    {"decode/space", IN("a%20b"), false, 0, OUT("a b")},
    {"decode/plus_kept", IN("a+b"), false, 0, OUT("a+b")},
    {"decode/plus_space", IN("a+b++"), true, 0, OUT("a b  ")},
    {"decode/encoded_plus", IN("a%2Bb"), true, 0, OUT("a+b")},
    {"decode/encoded_percent", IN("%2541"), false, 0, OUT("%41")},
    {"decode/nul", IN("a%00b"), false, 0, OUT("a\0b")},
    {"decode/high", IN("%ff%C3%a9"), false, 0, OUT("\xff\xc3\xa9")},
    {"decode/slash", IN("%2f%2F"), false, 0, OUT("//")},
    {"decode/utf8_raw", IN("caf\xc3\xa9"), false, 0, OUT("caf\xc3\xa9")},
    {"decode/lone_percent", IN("%"), false, HCS_EINVAL, OUT("")},
    {"decode/percent_at_end", IN("ab%"), false, HCS_EINVAL, OUT("")},
    {"decode/one_digit", IN("ab%4"), false, HCS_EINVAL, OUT("")},
    {"decode/bad_first_digit", IN("%G0"), false, HCS_EINVAL, OUT("")},
    {"decode/bad_second_digit", IN("%0g"), false, HCS_EINVAL, OUT("")},
    {"decode/percent_percent", IN("%%41"), false, HCS_EINVAL, OUT("")},
    {"decode/sign", IN("%+1"), false, HCS_EINVAL, OUT("")},
    {"decode/space_digit", IN("% 1"), false, HCS_EINVAL, OUT("")},
};

static void run_decode(void **state) {
  const dcase_t *c = *state;
  ssize_t want = c->err ? c->err : (ssize_t)c->out_len;
  char *in = copy(c->in, c->len, c->len);
  char *out = malloc(c->len ? c->len : 1);
  ssize_t rc;
  assert_non_null(out);

  rc = hcs_percent_decode(in, c->len, out, c->plus);
  check_rc(rc, want, c->in, c->len);
  if (rc >= 0)
    check_bytes(out, (size_t)rc, c->out, c->out_len, "decoded", c->in, c->len);

  rc = hcs_percent_decode(in, c->len, in, c->plus); /* in place */
  check_rc(rc, want, c->in, c->len);
  if (rc >= 0)
    check_bytes(in, (size_t)rc, c->out, c->out_len, "decoded in place", c->in,
                c->len);
  free(out);
  free(in);
}

/* ---- hcs_path_normalize ------------------------------------------------- */

typedef struct {
  const char *name;
  const char *in;
  size_t len;
  int err;
  const char *out;
  size_t out_len;
} ncase_t;

static ncase_t path_cases[] = {
    {"path/root", IN("/"), 0, OUT("/")},
    {"path/plain", IN("/a/b"), 0, OUT("/a/b")},
    {"path/trailing_slash", IN("/a/b/"), 0, OUT("/a/b/")},
    {"path/dot", IN("/a/./b"), 0, OUT("/a/b")},
    {"path/dot_dot_last", IN("/a/b/.."), 0, OUT("/a")},
    {"path/dot_dot_slash", IN("/a/b/../"), 0, OUT("/a/")},
    {"path/dot_last", IN("/a/."), 0, OUT("/a")},
    {"path/dot_slash_last", IN("/a/./"), 0, OUT("/a/")},
    {"path/dot_only", IN("/."), 0, OUT("/")},
    {"path/dot_slash_only", IN("/./"), 0, OUT("/")},
    {"path/up_to_root", IN("/a/.."), 0, OUT("/")},
    {"path/up_to_root_slash", IN("/a/../"), 0, OUT("/")},
    {"path/up_twice_to_root", IN("/a/b/../../"), 0, OUT("/")},
    {"path/rfc3986_example", IN("/a/b/c/./../../g"), 0, OUT("/a/g")},
    {"path/rfc3986_example_2", IN("/mid/content=5/../6"), 0, OUT("/mid/6")},
    {"path/dots_in_names", IN("/.a/..b/.../a."), 0, OUT("/.a/..b/.../a.")},
    {"path/double_slash_kept", IN("/a//b"), 0, OUT("/a//b")},
    {"path/double_slash_root", IN("//"), 0, OUT("//")},
    {"path/dot_dot_removes_empty", IN("/a//../b"), 0, OUT("/a/b")},
    {"path/escape_decoded", IN("/a%20b/c%2Bd"), 0, OUT("/a b/c+d")},
    {"path/plus_kept", IN("/a+b"), 0, OUT("/a+b")},
    {"path/encoded_slash", IN("/a%2Fb"), 0, OUT("/a/b")},
    {"path/encoded_slash_dot_dot", IN("/a%2F..%2Fb"), 0, OUT("/b")},
    {"path/encoded_dot", IN("/a/%2e/b"), 0, OUT("/a/b")},
    {"path/encoded_dot_dot", IN("/a/b/%2E%2e"), 0, OUT("/a")},
    {"path/encoded_dot_dot_mixed", IN("/a/b/.%2e/c"), 0, OUT("/a/c")},
    {"path/high_bytes", IN("/caf%C3%A9"), 0, OUT("/caf\xc3\xa9")},
    {"path/above_root", IN("/.."), HCS_EINVAL, OUT("")},
    {"path/above_root_slash", IN("/../a"), HCS_EINVAL, OUT("")},
    {"path/above_root_later", IN("/a/../../b"), HCS_EINVAL, OUT("")},
    {"path/above_root_encoded", IN("/%2e%2e/etc/passwd"), HCS_EINVAL, OUT("")},
    {"path/above_root_encoded_slash", IN("/a%2F..%2F..%2Fb"), HCS_EINVAL,
     OUT("")},
    {"path/nul", IN("/a%00b"), HCS_EINVAL, OUT("")},
    {"path/raw_nul", IN("/a\0b"), HCS_EINVAL, OUT("")},
    {"path/bad_escape", IN("/a%zz"), HCS_EINVAL, OUT("")},
    {"path/truncated_escape", IN("/a%2"), HCS_EINVAL, OUT("")},
    {"path/empty", IN(""), HCS_EINVAL, OUT("")},
    {"path/relative", IN("a/b"), HCS_EINVAL, OUT("")},
    {"path/star", IN("*"), HCS_EINVAL, OUT("")},
    {"path/encoded_leading_slash", IN("%2Fa"), HCS_EINVAL, OUT("")},
    {"path/dot_relative", IN("./a"), HCS_EINVAL, OUT("")},
};

static void run_path(void **state) {
  const ncase_t *c = *state;
  ssize_t want = c->err ? c->err : (ssize_t)c->out_len;
  char *in = copy(c->in, c->len, c->len + 1);
  char *out = malloc(c->len + 1);
  ssize_t rc;
  assert_non_null(out);

  rc = hcs_path_normalize(in, c->len, out);
  check_rc(rc, want, c->in, c->len);
  if (rc >= 0) {
    check_bytes(out, (size_t)rc, c->out, c->out_len, "path", c->in, c->len);
    assert_int_equal(out[rc], '\0');
  }

  rc = hcs_path_normalize(in, c->len, in); /* in place */
  check_rc(rc, want, c->in, c->len);
  if (rc >= 0) {
    check_bytes(in, (size_t)rc, c->out, c->out_len, "path in place", c->in,
                c->len);
    assert_int_equal(in[rc], '\0');
  }
  free(out);
  free(in);
}

/* ---- hcs_target_split --------------------------------------------------- */

typedef struct {
  const char *name;
  const char *in;
  size_t len;
  int err;
  const char *path;
  const char *query;
} scase_t;

static scase_t split_cases[] = {
    {"split/root", IN("/"), 0, "/", ""},
    {"split/path", IN("/a/b"), 0, "/a/b", ""},
    {"split/query", IN("/p?q=1&r=2"), 0, "/p", "q=1&r=2"},
    {"split/empty_query", IN("/p?"), 0, "/p", ""},
    {"split/query_with_question_mark", IN("/p??x?"), 0, "/p", "?x?"},
    {"split/root_query", IN("/?a=1"), 0, "/", "a=1"},
    {"split/raw_escapes_kept", IN("/a%20b?c%3Dd"), 0, "/a%20b", "c%3Dd"},
    {"split/double_slash_origin", IN("//host/p"), 0, "//host/p", ""},
    {"split/star", IN("*"), 0, "*", ""},
    {"split/absolute", IN("http://h/p?q"), 0, "/p", "q"},
    {"split/absolute_port", IN("http://h:8080/a/b"), 0, "/a/b", ""},
    {"split/absolute_https", IN("https://h.example/"), 0, "/", ""},
    {"split/absolute_scheme_case", IN("HtTpS://h/p"), 0, "/p", ""},
    {"split/absolute_no_path", IN("http://h"), 0, "/", ""},
    {"split/absolute_no_path_query", IN("http://h?x=1"), 0, "/", "x=1"},
    {"split/absolute_no_path_empty_query", IN("http://h:80?"), 0, "/", ""},
    {"split/absolute_ipv6", IN("http://[::1]:80/p"), 0, "/p", ""},
    {"split/absolute_query_slash", IN("http://h?a=/b"), 0, "/", "a=/b"},
    {"split/empty", IN(""), HCS_EINVAL, NULL, NULL},
    {"split/authority_form", IN("h.example:443"), HCS_EINVAL, NULL, NULL},
    {"split/relative", IN("p"), HCS_EINVAL, NULL, NULL},
    {"split/relative_dot", IN("./p"), HCS_EINVAL, NULL, NULL},
    {"split/query_only", IN("?q"), HCS_EINVAL, NULL, NULL},
    {"split/star_star", IN("**"), HCS_EINVAL, NULL, NULL},
    {"split/star_query", IN("*?x"), HCS_EINVAL, NULL, NULL},
    {"split/other_scheme", IN("ftp://h/p"), HCS_EINVAL, NULL, NULL},
    {"split/scheme_lookalike", IN("httpx://h/p"), HCS_EINVAL, NULL, NULL},
    {"split/one_slash", IN("http:/h/p"), HCS_EINVAL, NULL, NULL},
    {"split/no_slashes", IN("http:h/p"), HCS_EINVAL, NULL, NULL},
    {"split/scheme_only", IN("http://"), HCS_EINVAL, NULL, NULL},
    {"split/empty_host", IN("http:///p"), HCS_EINVAL, NULL, NULL},
    {"split/empty_host_query", IN("https://?q"), HCS_EINVAL, NULL, NULL},
    {"split/userinfo", IN("http://u:p@h/p"), HCS_EINVAL, NULL, NULL},
    {"split/fragment", IN("/p#f"), HCS_EINVAL, NULL, NULL},
    {"split/fragment_in_query", IN("/p?q#f"), HCS_EINVAL, NULL, NULL},
    {"split/fragment_absolute", IN("http://h/#"), HCS_EINVAL, NULL, NULL},
};

static void run_split(void **state) {
  const scase_t *c = *state;
  char *in = copy(c->in, c->len, c->len);
  hcs_str_t target = {in, c->len};
  hcs_str_t path = {"untouched", 9}, query = {"untouched", 9};
  int rc = hcs_target_split(target, &path, &query);

  check_rc(rc, c->err, c->in, c->len);
  if (rc == 0) {
    check_slice(path, c->path, "path", c->in, c->len);
    check_slice(query, c->query, "query", c->in, c->len);
    /* The query, even empty, points into the target. */
    assert_true(query.base >= in && query.base <= in + c->len);
  }
  free(in);
}

/* ---- hcs_urlencoded_next ------------------------------------------------ */

typedef struct {
  const char *name;
  const char *in;
  size_t len;
  const char *pairs[6][2]; /* expected pairs, then NULL */
} ucase_t;

static ucase_t pair_cases[] = {
    {"pairs/empty", IN(""), {{NULL}}},
    {"pairs/only_ampersands", IN("&&&"), {{NULL}}},
    {"pairs/two", IN("a=1&b=2"), {{"a", "1"}, {"b", "2"}}},
    {"pairs/empty_pieces_skipped", IN("&a=1&&b=2&"), {{"a", "1"}, {"b", "2"}}},
    {"pairs/no_equals", IN("flag"), {{"flag", ""}}},
    {"pairs/no_equals_then_pair", IN("flag&x=y"), {{"flag", ""}, {"x", "y"}}},
    {"pairs/empty_value", IN("a="), {{"a", ""}}},
    {"pairs/empty_name", IN("=v"), {{"", "v"}}},
    {"pairs/only_equals", IN("="), {{"", ""}}},
    {"pairs/first_equals_splits", IN("a=1=2&b==3"), {{"a", "1=2"}, {"b", "=3"}}},
    {"pairs/raw_not_decoded", IN("a%20b=c+d%26e"), {{"a%20b", "c+d%26e"}}},
    {"pairs/duplicates_kept", IN("t=1&t=2&t=3"), {{"t", "1"}, {"t", "2"}, {"t", "3"}}},
    {"pairs/semicolon_not_separator", IN("a=1;b=2"), {{"a", "1;b=2"}}},
};

static void run_pairs(void **state) {
  const ucase_t *c = *state;
  char *in = copy(c->in, c->len, c->len);
  hcs_str_t s = {in, c->len}, name, value;
  size_t pos = 0, i = 0;
  int rc;

  while ((rc = hcs_urlencoded_next(s, &pos, &name, &value)) == 0) {
    if (i >= COUNT(c->pairs) || c->pairs[i][0] == NULL) {
      print_error("unexpected pair %zu\n", i);
      print_bytes("  name ", name.base, name.len);
      print_bytes("  value", value.base, value.len);
      fail();
    }
    check_slice(name, c->pairs[i][0], "name", c->in, c->len);
    check_slice(value, c->pairs[i][1], "value", c->in, c->len);
    assert_true(pos <= c->len);
    i++;
  }
  check_rc(rc, HCS_ENOENT, c->in, c->len);
  if (i < COUNT(c->pairs) && c->pairs[i][0] != NULL) {
    print_error("missing pair %zu: \"%s\"=\"%s\"\n", i, c->pairs[i][0],
                c->pairs[i][1]);
    fail();
  }
  /* The end stays the end. */
  check_rc(hcs_urlencoded_next(s, &pos, &name, &value), HCS_ENOENT, c->in,
           c->len);
  free(in);
}

/* ---- generated tests ---------------------------------------------------- */

/* Every byte value round-trips through %XX, in both cases of hex. */
static void gen_decode_every_byte(void **state) {
  for (int b = 0; b < 256; b++) {
    char in[4], out[3];
    unsigned char got;
    snprintf(in, sizeof(in), "%%%02x", b);
    assert_int_equal(hcs_percent_decode(in, 3, out, false), 1);
    got = (unsigned char)out[0];
    assert_int_equal(got, b);
    snprintf(in, sizeof(in), "%%%02X", b);
    assert_int_equal(hcs_percent_decode(in, 3, out, true), 1);
    got = (unsigned char)out[0];
    assert_int_equal(got, b);
  }
}

/* A deep path and a long climb stay linear and exact. */
static void gen_path_deep(void **state) {
  enum { DEPTH = 5000 };
  size_t cap = DEPTH * 6 + 16, n = 0;
  char *in = malloc(cap), *out = malloc(cap);
  assert_non_null(in);
  assert_non_null(out);
  for (int i = 0; i < DEPTH; i++)
    n += (size_t)sprintf(in + n, "/a%d", i % 10);
  for (int i = 0; i < DEPTH - 1; i++)
    n += (size_t)sprintf(in + n, "/..");
  assert_true(n < cap);
  check_rc(hcs_path_normalize(in, n, out), 3, in, 32);
  check_bytes(out, 3, "/a0", 3, "deep path", in, 32);
  memcpy(in + n, "/..", 3);
  check_rc(hcs_path_normalize(in, n + 3, out), 1, in, 32);
  check_bytes(out, 1, "/", 1, "deep path to root", in, 32);
  memcpy(in + n + 3, "/..", 3);
  check_rc(hcs_path_normalize(in, n + 6, out), HCS_EINVAL, in, 32);
  free(in);
  free(out);
}

static const struct {
  const char *name;
  CMUnitTestFunction fn;
} generated[] = {
    {"gen/decode_every_byte", gen_decode_every_byte},
    {"gen/path_deep", gen_path_deep},
};

int main(int argc, char **argv) {
  size_t n = 0, total = COUNT(decode_cases) + COUNT(path_cases) +
                        COUNT(split_cases) + COUNT(pair_cases) +
                        COUNT(generated);
  struct CMUnitTest *tests = calloc(total, sizeof(*tests));
  int rc;

  if (tests == NULL)
    return 1;
#define ADD(table, fn)                                                        \
  for (size_t i = 0; i < COUNT(table); i++) {                                 \
    tests[n].name = table[i].name;                                            \
    tests[n].test_func = fn;                                                  \
    tests[n++].initial_state = &table[i];                                     \
  }
  ADD(decode_cases, run_decode)
  ADD(path_cases, run_path)
  ADD(split_cases, run_split)
  ADD(pair_cases, run_pairs)
#undef ADD
  for (size_t i = 0; i < COUNT(generated); i++) {
    tests[n].name = generated[i].name;
    tests[n++].test_func = generated[i].fn;
  }
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  rc = _cmocka_run_group_tests("http1_urlencoded", tests, n, NULL, NULL);
  free(tests);
  return rc;
}
