/* SPDX-License-Identifier: MIT */
/*
 * http1/urlencoded.c: percent-decoding (RFC 3986 §2.1), request-target
 * forms (RFC 9112 §3.2), path normalisation (RFC 3986 §5.2.4) and
 * application/x-www-form-urlencoded pairs.
 *
 * Pure functions over caller-owned bytes: nothing is allocated, the slices
 * returned point into the caller's input, and decoding may be done in place
 * because output never runs ahead of input. Any thread.
 */
#include "http1/urlencoded.h"

#include <string.h>

#include "hcs/error.h"

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

ssize_t hcs_percent_decode(const char *in, size_t len, char *out,
                           bool plus_is_space) {
  size_t i = 0, o = 0;
  while (i < len) {
    char c = in[i];
    if (c == '%') {
      int hi, lo;
      if (len - i < 3)
        return HCS_EINVAL;
      hi = hex_value((unsigned char)in[i + 1]);
      lo = hex_value((unsigned char)in[i + 2]);
      if (hi < 0 || lo < 0)
        return HCS_EINVAL;
      out[o++] = (char)(hi << 4 | lo);
      i += 3;
    } else {
      out[o++] = (plus_is_space && c == '+') ? ' ' : c;
      i++;
    }
  }
  return (ssize_t)o;
}

ssize_t hcs_path_normalize(const char *in, size_t len, char *out) {
  ssize_t decoded;
  size_t r, w, n;

  if (len == 0 || in[0] != '/')
    return HCS_EINVAL;
  decoded = hcs_percent_decode(in, len, out, false);
  if (decoded < 0)
    return decoded;
  n = (size_t)decoded;
  if (memchr(out, '\0', n) != NULL)
    return HCS_EINVAL;

  /*
   * Walk the decoded path one "/segment" at a time (r reads, w writes,
   * w <= r, so the output overwrites only bytes already read). The output
   * is a sequence of "/segment" items too: "." adds nothing, ".." removes
   * the last item, anything else is appended. Each output byte is scanned
   * back over at most once when its item is removed, so this is linear.
   */
  r = 0;
  w = 0;
  while (r < n) {
    size_t seg = r + 1, end = seg, seg_len;
    while (end < n && out[end] != '/')
      end++;
    seg_len = end - seg;
    if (seg_len == 1 && out[seg] == '.') {
      /* nothing */
    } else if (seg_len == 2 && out[seg] == '.' && out[seg + 1] == '.') {
      if (w == 0)
        return HCS_EINVAL; /* above the root */
      do
        w--;
      while (out[w] != '/');
    } else {
      memmove(out + w, out + r, seg_len + 1);
      w += seg_len + 1;
    }
    r = end;
  }
  if (w == 0)
    out[w++] = '/';
  out[w] = '\0';
  return (ssize_t)w;
}

/* A case-insensitive prefix test against a lowercase literal. */
static bool has_prefix_ci(hcs_str_t s, const char *lit) {
  size_t n = strlen(lit);
  if (s.len < n)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s.base[i];
    if (c >= 'A' && c <= 'Z')
      c = (unsigned char)(c + ('a' - 'A'));
    if (c != (unsigned char)lit[i])
      return false;
  }
  return true;
}

int hcs_target_split(hcs_str_t target, hcs_str_t *path, hcs_str_t *query) {
  static const char root[] = "/";
  const char *p = target.base, *end = target.base + target.len, *q;

  if (target.len == 0)
    return HCS_EINVAL;
  /* A fragment is never part of a request-target (RFC 9112 §3.2). */
  if (memchr(target.base, '#', target.len) != NULL)
    return HCS_EINVAL;

  if (target.len == 1 && p[0] == '*') {
    path->base = p;
    path->len = 1;
    query->base = end;
    query->len = 0;
    return 0;
  }

  if (p[0] != '/') {
    /* absolute-form: scheme "://" authority [ path-abempty ] [ "?" query ] */
    const char *auth;
    if (has_prefix_ci(target, "http://"))
      p += 7;
    else if (has_prefix_ci(target, "https://"))
      p += 8;
    else
      return HCS_EINVAL; /* authority-form, relative or other schemes */
    auth = p;
    while (p < end && *p != '/' && *p != '?')
      p++;
    /*
     * An http(s) URI needs a host; userinfo is deprecated and treated as an
     * error (RFC 9110 §4.2.4), so neither can reach a handler.
     */
    if (p == auth || memchr(auth, '@', (size_t)(p - auth)) != NULL)
      return HCS_EINVAL;
    if (p == end || *p == '?') {
      path->base = root;
      path->len = 1;
      goto query;
    }
  }

  /* origin-form, or the path of an absolute-form */
  q = memchr(p, '?', (size_t)(end - p));
  path->base = p;
  path->len = (size_t)((q ? q : end) - p);
  p = q ? q : end;

query:
  if (p < end) { /* at '?' */
    query->base = p + 1;
    query->len = (size_t)(end - p - 1);
  } else {
    query->base = end;
    query->len = 0;
  }
  return 0;
}

int hcs_urlencoded_next(hcs_str_t in, size_t *pos, hcs_str_t *name,
                        hcs_str_t *value) {
  while (*pos < in.len) {
    const char *s = in.base + *pos, *end = in.base + in.len, *e, *eq;
    e = memchr(s, '&', (size_t)(end - s));
    if (e == NULL)
      e = end;
    *pos = (size_t)(e - in.base) + (e < end ? 1 : 0);
    if (e == s)
      continue; /* "a=1&&b=2", a leading or a trailing '&' */
    eq = memchr(s, '=', (size_t)(e - s));
    name->base = s;
    name->len = (size_t)((eq ? eq : e) - s);
    value->base = eq ? eq + 1 : e;
    value->len = eq ? (size_t)(e - eq - 1) : 0;
    return 0;
  }
  return HCS_ENOENT;
}
