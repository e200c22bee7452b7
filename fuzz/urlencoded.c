/* SPDX-License-Identifier: MIT */
/*
 * fuzz/urlencoded.c: percent-decoding, request-target splitting, path
 * normalisation and urlencoded pairs (src/http1/urlencoded.h), i.e. query
 * strings and form bodies.
 *
 * Input: any bytes, used three ways:
 *  1. as a form body: hcs_urlencoded_next's pairs equal a reference split
 *     (on '&', empty pieces skipped, then on the first '='), every slice
 *     inside the input; each name and value percent-decoded (plus as
 *     space) as below;
 *  2. as an escaped string: hcs_percent_decode (both '+' modes, separate
 *     buffer and in place) equals a reference decoder, and its length is
 *     <= the input's;
 *  3. as a request-target: hcs_target_split accepts exactly what its
 *     header says (reference predicate) and returns slices that rebuild the
 *     target; the path then goes through hcs_path_normalize, whose result
 *     equals a reference (decode, then a segment stack) and holds the
 *     invariants: starts with '/', NUL-terminated, no NUL inside, no "." or
 *     ".." segment left, not longer than the input; in place gives the same.
 *     The whole input also goes through hcs_path_normalize directly. The
 *     query goes through 1.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hcs/error.h"
#include "http1/urlencoded.h"

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reference percent-decoder: -1 for a malformed escape. */
static ssize_t ref_decode(const char *in, size_t len, char *out, bool plus) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (in[i] == '%') {
      if (i + 2 >= len || hexval((unsigned char)in[i + 1]) < 0 ||
          hexval((unsigned char)in[i + 2]) < 0)
        return -1;
      out[o++] = (char)(hexval((unsigned char)in[i + 1]) * 16 +
                        hexval((unsigned char)in[i + 2]));
      i += 2;
    } else {
      out[o++] = plus && in[i] == '+' ? ' ' : in[i];
    }
  }
  return (ssize_t)o;
}

static void check_decode(const char *in, size_t len) {
  for (int plus = 0; plus <= 1; plus++) {
    char *src = fuzz_dup(in, len), *out = fuzz_dup(in, len);
    char *ref = fuzz_dup(in, len);
    ssize_t want = ref_decode(in, len, ref, plus);
    ssize_t got = hcs_percent_decode(src, len, out, plus);
    if (want < 0) {
      FUZZ_CHECK(got == HCS_EINVAL, "malformed escape: got %zd", got);
    } else {
      FUZZ_CHECK(got == want, "decoded %zd bytes, reference %zd", got, want);
      FUZZ_CHECK((size_t)got <= len, "decoded %zd > %zu", got, len);
      FUZZ_CHECK(got == 0 || memcmp(out, ref, (size_t)got) == 0,
                 "decoded bytes differ from the reference");
    }
    /* in place */
    ssize_t again = hcs_percent_decode(src, len, src, plus);
    FUZZ_CHECK(again == got, "in place %zd, separate %zd", again, got);
    FUZZ_CHECK(got <= 0 || memcmp(src, out, (size_t)got) == 0,
               "in place bytes differ");
    free(src);
    free(out);
    free(ref);
  }
}

/* ---- urlencoded pairs ---------------------------------------------------- */

static void check_pairs(const char *in, size_t len) {
  char *copy = fuzz_dup(in, len);
  hcs_str_t s = {copy, len}, name, value;
  size_t pos = 0, ref = 0, pairs = 0;
  for (;;) {
    /* reference: the next non-empty piece */
    size_t start = ref, end;
    for (;;) {
      end = start;
      while (end < len && copy[end] != '&')
        end++;
      if (end > start || end >= len)
        break;
      start = end + 1;
    }
    bool want = end > start;
    size_t before = pos;
    int rc = hcs_urlencoded_next(s, &pos, &name, &value);
    if (!want) {
      FUZZ_CHECK(rc == HCS_ENOENT, "pair after the last piece (rc %d)", rc);
      FUZZ_CHECK(hcs_urlencoded_next(s, &pos, &name, &value) == HCS_ENOENT,
                 "ENOENT is not final");
      break;
    }
    FUZZ_CHECK(rc == 0, "piece [%zu, %zu) not returned (rc %d)", start, end,
               rc);
    FUZZ_CHECK(pos > before && pos <= len, "pos %zu -> %zu", before, pos);
    const char *eq = memchr(copy + start, '=', end - start);
    size_t nlen = (size_t)((eq ? eq : copy + end) - (copy + start));
    FUZZ_CHECK(name.len == nlen && (nlen == 0 || name.base == copy + start),
               "name of piece [%zu, %zu)", start, end);
    if (eq) {
      FUZZ_CHECK(value.len == (size_t)(copy + end - eq - 1) &&
                     (value.len == 0 || value.base == eq + 1),
                 "value of piece [%zu, %zu)", start, end);
    } else {
      FUZZ_CHECK(value.len == 0, "value without '='");
    }
    check_decode(name.base, name.len);
    check_decode(value.base, value.len);
    ref = end + 1;
    pairs++;
  }
  (void)pairs;
  free(copy);
}

/* ---- paths --------------------------------------------------------------- */

/* Reference normalisation: decode, then split on '/' and keep a stack. */
static ssize_t ref_normalize(const char *in, size_t len, char *out) {
  if (len == 0 || in[0] != '/')
    return -1;
  char *dec = fuzz_dup(in, len);
  ssize_t n = ref_decode(in, len, dec, false);
  if (n < 0 || memchr(dec, '\0', (size_t)n) != NULL) {
    free(dec);
    return -1;
  }
  /* segments of dec[1..n): starts and lengths */
  size_t *st = malloc(sizeof(size_t) * ((size_t)n + 1));
  size_t *ln = malloc(sizeof(size_t) * ((size_t)n + 1));
  size_t depth = 0;
  if (st == NULL || ln == NULL)
    abort();
  for (size_t s = 1;;) {
    size_t e = s;
    while (e < (size_t)n && dec[e] != '/')
      e++;
    size_t l = e - s;
    if (l == 1 && dec[s] == '.') {
      /* nothing */
    } else if (l == 2 && dec[s] == '.' && dec[s + 1] == '.') {
      if (depth == 0) {
        free(dec), free(st), free(ln);
        return -1;
      }
      depth--;
    } else {
      st[depth] = s;
      ln[depth++] = l;
    }
    if (e >= (size_t)n)
      break;
    s = e + 1;
  }
  size_t o = 0;
  for (size_t i = 0; i < depth; i++) {
    out[o++] = '/';
    memcpy(out + o, dec + st[i], ln[i]);
    o += ln[i];
  }
  if (o == 0)
    out[o++] = '/';
  free(dec), free(st), free(ln);
  return (ssize_t)o;
}

static void check_normalize(const char *in, size_t len) {
  char *src = fuzz_dup(in, len), *out = malloc(len + 1), *ref = malloc(len + 2);
  if (out == NULL || ref == NULL)
    abort();
  ssize_t want = ref_normalize(in, len, ref);
  ssize_t got = hcs_path_normalize(src, len, out);
  if (want < 0) {
    if (got != HCS_EINVAL)
      fuzz_dump("path", in, len);
    FUZZ_CHECK(got == HCS_EINVAL, "reference refuses, got %zd", got);
  } else {
    if (got != want || memcmp(out, ref, (size_t)want) != 0) {
      fuzz_dump("path", in, len);
      fuzz_dump("reference", ref, (size_t)want);
      if (got >= 0)
        fuzz_dump("normalised", out, (size_t)got);
    }
    FUZZ_CHECK(got == want && memcmp(out, ref, (size_t)want) == 0,
               "normalised %zd bytes, reference %zd", got, want);
    size_t n = (size_t)got;
    FUZZ_CHECK(n >= 1 && n <= len && out[0] == '/' && out[n] == '\0',
               "shape of the result");
    FUZZ_CHECK(memchr(out, '\0', n) == NULL, "NUL inside");
    for (size_t s = 1; s <= n;) { /* no "." or ".." segment */
      size_t e = s;
      while (e < n && out[e] != '/')
        e++;
      FUZZ_CHECK(!(e - s == 1 && out[s] == '.') &&
                     !(e - s == 2 && out[s] == '.' && out[s + 1] == '.'),
                 "dot-segment left at %zu", s);
      s = e + 1;
    }
    /* Normalising again changes nothing when no escape is left. */
    if (memchr(out, '%', n) == NULL) {
      char *again = malloc(n + 1);
      if (again == NULL)
        abort();
      ssize_t r2 = hcs_path_normalize(out, n, again);
      FUZZ_CHECK(r2 == got && memcmp(again, out, n) == 0, "not idempotent");
      free(again);
    }
  }
  /* in place */
  char *buf = malloc(len + 1);
  if (buf == NULL)
    abort();
  if (len > 0)
    memcpy(buf, in, len);
  ssize_t inplace = hcs_path_normalize(buf, len, buf);
  FUZZ_CHECK(inplace == got, "in place %zd, separate %zd", inplace, got);
  FUZZ_CHECK(got < 0 || memcmp(buf, out, (size_t)got + 1) == 0,
             "in place bytes differ");
  free(buf);
  free(src);
  free(out);
  free(ref);
}

/* ---- request-targets ----------------------------------------------------- */

static bool prefix_ci(const char *s, size_t len, const char *lit) {
  size_t n = strlen(lit);
  if (len < n)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c + 32);
    if (c != lit[i])
      return false;
  }
  return true;
}

static void check_target(const char *in, size_t len) {
  char *t = fuzz_dup(in, len);
  hcs_str_t target = {t, len}, path = {NULL, 99}, query = {NULL, 99};
  int rc = hcs_target_split(target, &path, &query);

  /* the reference verdict and the expected path/query */
  bool ok = len > 0 && memchr(t, '#', len) == NULL;
  size_t auth = 0, after = 0; /* authority start; where it ends */
  bool absolute = false;
  if (ok && !(len == 1 && t[0] == '*') && t[0] != '/') {
    if (prefix_ci(t, len, "http://"))
      auth = 7;
    else if (prefix_ci(t, len, "https://"))
      auth = 8;
    else
      ok = false;
    if (ok) {
      absolute = true;
      after = auth;
      while (after < len && t[after] != '/' && t[after] != '?')
        after++;
      if (after == auth || memchr(t + auth, '@', after - auth) != NULL)
        ok = false;
    }
  }
  FUZZ_CHECK((rc == 0) == ok, "target_split %d, reference %s", rc,
             ok ? "accepts" : "refuses");
  if (rc != 0) {
    free(t);
    return;
  }
  FUZZ_CHECK(path.len > 0, "empty path");
  if (len == 1 && t[0] == '*') {
    FUZZ_CHECK(path.len == 1 && path.base == t && query.len == 0, "\"*\"");
  } else {
    size_t from = absolute ? after : 0;
    const char *qm = memchr(t + from, '?', len - from);
    size_t plen = (size_t)((qm ? qm : t + len) - (t + from));
    if (plen == 0) {
      FUZZ_CHECK(absolute && path.len == 1 && path.base[0] == '/',
                 "no path: \"/\" expected");
    } else {
      FUZZ_CHECK(path.base == t + from && path.len == plen,
                 "path [%zu, +%zu) expected", from, plen);
      FUZZ_CHECK(path.base[0] == '/', "path does not start with '/'");
    }
    if (qm) {
      FUZZ_CHECK(query.len == (size_t)(t + len - qm - 1) &&
                     (query.len == 0 || query.base == qm + 1),
                 "query after the '?'");
    } else {
      FUZZ_CHECK(query.len == 0, "query without '?'");
    }
    check_normalize(path.base, path.len);
  }
  check_pairs(query.base, query.len);
  free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  check_pairs(in, size);
  check_decode(in, size);
  check_target(in, size);
  check_normalize(in, size);
  return 0;
}
