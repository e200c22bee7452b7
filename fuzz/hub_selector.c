/* SPDX-License-Identifier: MIT */
/*
 * fuzz/hub_selector.c: Mercure topic selectors (tools/hcs-hub/selector.h):
 * hub_selector_compile / hub_selector_match against an independent oracle.
 *
 * Input: "selector\ntopic" (split at the first LF; without one, the whole
 * input is both). Checks:
 *  - compiling succeeds, hub_selector_text gives the bytes back;
 *  - a selector always matches its own text; "*" matches every topic;
 *  - hub_selector_is_template equals a validity check written here from
 *    specs/uri-template.md §1 and selector.h (RFC 6570 syntax, literals
 *    with UTF-8 ucschar/iprivate, at least one expression);
 *  - the match equals the oracle: "*", byte equality, or, for a template,
 *    a POSIX extended regular expression built from specs/uri-template.md
 *    §4 (ITEM sets, ( first ITEM ( sep ITEM ){0,n-1} )?, "*" when
 *    exploded) and run with regexec (skipped for very long inputs, where
 *    glibc's regex would be slow);
 *  - the match takes at most |topic| + 2 (|topic| + 1)(|selector| + 1)
 *    steps (hub__selector_match_steps), the O(|topic| x |selector|) claim;
 *  - hub_uri_encode_unreserved: the size it announces, only unreserved
 *    bytes and upper-case %XX in the output, decoding gives the topic back,
 *    and "/s/{x}" matches "/s/" + the encoding.
 */
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "selector.h"

#define ORACLE_MAX 1024 /* longest selector / topic given to regexec */
#define ORACLE_MAX_VARS 40

/* ---- a growable string --------------------------------------------------- */

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
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void puts_(sbuf_t *b, const char *s) {
  put(b, s, strlen(s));
}

/* ---- template syntax (the oracle's own) ---------------------------------- */

static bool alpha(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
static bool digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
static bool hex(unsigned char c) {
  return digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}
static bool unreserved(unsigned char c) {
  return alpha(c) || digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3987 ucschar / iprivate. */
static bool ucs_or_private(uint32_t cp) {
  static const uint32_t ranges[][2] = {
      {0xA0, 0xD7FF},     {0xF900, 0xFDCF},   {0xFDF0, 0xFFEF},
      {0x10000, 0x1FFFD}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
      {0x40000, 0x4FFFD}, {0x50000, 0x5FFFD}, {0x60000, 0x6FFFD},
      {0x70000, 0x7FFFD}, {0x80000, 0x8FFFD}, {0x90000, 0x9FFFD},
      {0xA0000, 0xAFFFD}, {0xB0000, 0xBFFFD}, {0xC0000, 0xCFFFD},
      {0xD0000, 0xDFFFD}, {0xE1000, 0xEFFFD}, /* ucschar */
      {0xE000, 0xF8FF},   {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD}};
  for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
    if (cp >= ranges[i][0] && cp <= ranges[i][1])
      return true;
  return false;
}

/* Strict UTF-8: the sequence length at s, or 0 (overlong, surrogate,
 * > U+10FFFF, truncated, bad continuation). */
static size_t utf8(const unsigned char *s, size_t n, uint32_t *cp) {
  size_t need;
  uint32_t min;
  if (s[0] >= 0xC0 && s[0] <= 0xDF)
    need = 2, min = 0x80, *cp = s[0] & 0x1F;
  else if (s[0] >= 0xE0 && s[0] <= 0xEF)
    need = 3, min = 0x800, *cp = s[0] & 0x0F;
  else if (s[0] >= 0xF0 && s[0] <= 0xF7)
    need = 4, min = 0x10000, *cp = s[0] & 0x07;
  else
    return 0;
  if (n < need)
    return 0;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    *cp = *cp << 6 | (s[i] & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
    return 0;
  return need;
}

typedef struct {
  bool is_expr;
  size_t start, len; /* literal bytes, or the expression's text */
  char op;           /* 0 or + # . / ; ? & */
  size_t nvars;
  bool first_explode, any_explode;
} elem_t;

/* Parse a template into elements; false when it is not a valid one. */
static bool parse_template(const unsigned char *s, size_t len, elem_t **out,
                           size_t *nout) {
  elem_t *el = calloc(len + 1, sizeof(*el));
  size_t n = 0, i = 0, exprs = 0;
  if (el == NULL)
    abort();
  while (i < len) {
    elem_t *e = &el[n++];
    e->start = i;
    if (s[i] != '{') {
      e->is_expr = false;
      while (i < len && s[i] != '{') {
        unsigned char c = s[i];
        uint32_t cp;
        size_t k;
        if (c == '%') {
          if (i + 2 >= len || !hex(s[i + 1]) || !hex(s[i + 2]))
            goto invalid;
          i += 3;
        } else if (c >= 0x80) {
          if ((k = utf8(s + i, len - i, &cp)) == 0 || !ucs_or_private(cp))
            goto invalid;
          i += k;
        } else if (c > 0x20 && c < 0x7F && !strchr("\"<>\\^`{|}", c)) {
          i++;
        } else {
          goto invalid;
        }
      }
      e->len = i - e->start;
      continue;
    }
    /* expression */
    e->is_expr = true;
    exprs++;
    i++;
    if (i < len && strchr("+#./;?&", s[i]) && s[i] != '\0')
      e->op = (char)s[i++];
    for (;;) {
      /* varname: varchar *( ["."] varchar ) */
      bool need_char = true;
      for (;;) {
        if (i < len && (alpha(s[i]) || digit(s[i]) || s[i] == '_')) {
          i++;
        } else if (i + 2 < len && s[i] == '%' && hex(s[i + 1]) &&
                   hex(s[i + 2])) {
          i += 3;
        } else if (!need_char && i < len && s[i] == '.') {
          i++;
          need_char = true;
          continue;
        } else {
          break;
        }
        need_char = false;
      }
      if (need_char)
        goto invalid; /* empty name, or a dot with nothing after it */
      bool explode = false;
      if (i < len && s[i] == ':') {
        size_t d = 0;
        i++;
        if (i >= len || s[i] == '0')
          goto invalid;
        while (i < len && digit(s[i]))
          i++, d++;
        if (d < 1 || d > 4)
          goto invalid;
      } else if (i < len && s[i] == '*') {
        explode = true;
        i++;
      }
      if (e->nvars == 0)
        e->first_explode = explode;
      e->any_explode = e->any_explode || explode;
      e->nvars++;
      if (i >= len)
        goto invalid;
      if (s[i] == '}') {
        i++;
        break;
      }
      if (s[i] != ',')
        goto invalid;
      i++;
    }
    e->len = i - e->start;
  }
  if (exprs == 0)
    goto invalid;
  *out = el;
  *nout = n;
  return true;
invalid:
  free(el);
  return false;
}

/* ---- the regular expression ---------------------------------------------- */

static void put_char(sbuf_t *b, unsigned char c) {
  char tmp[3] = {'\\', (char)c, 0};
  if (strchr(".[()*+?${}|^\\", c) && c != '\0')
    put(b, tmp, 2);
  else
    put(b, tmp + 1, 1);
}

static void put_item(sbuf_t *b, bool reserved, bool eq) {
  puts_(b, "(%[0-9A-Fa-f][0-9A-Fa-f]|");
  if (reserved)
    puts_(b, "[][A-Za-z0-9._~:/?#@!$&'()*+,;=-]");
  else if (eq)
    puts_(b, "[A-Za-z0-9._~,=-]");
  else
    puts_(b, "[A-Za-z0-9._~,-]");
  puts_(b, ")*");
}

static bool build_regex(const unsigned char *s, const elem_t *el, size_t n,
                        sbuf_t *b) {
  puts_(b, "^");
  for (size_t k = 0; k < n; k++) {
    const elem_t *e = &el[k];
    if (!e->is_expr) {
      for (size_t i = 0; i < e->len; i++)
        put_char(b, s[e->start + i]);
      continue;
    }
    if (e->nvars > ORACLE_MAX_VARS)
      return false;
    char op = e->op;
    bool reserved = op == '+' || op == '#';
    bool named = op == ';' || op == '?' || op == '&';
    char first = (op == 0 || op == '+') ? 0 : op;
    char sep = op == '?' ? '&' : (op == 0 || op == '+' || op == '#') ? ',' : op;
    puts_(b, "(");
    if (first)
      put_char(b, (unsigned char)first);
    put_item(b, reserved, named || e->first_explode);
    if (e->any_explode || e->nvars > 1) {
      puts_(b, "(");
      put_char(b, (unsigned char)sep);
      put_item(b, reserved, named || e->any_explode);
      if (e->any_explode) {
        puts_(b, ")*");
      } else {
        char rep[32];
        snprintf(rep, sizeof(rep), "){0,%zu}", e->nvars - 1);
        puts_(b, rep);
      }
    }
    puts_(b, ")?");
  }
  puts_(b, "$");
  return true;
}

/* 1 match, 0 no match, -1 no verdict (too big for the oracle). */
static int oracle_template(const unsigned char *s, const elem_t *el, size_t n,
                           const char *topic, size_t tlen) {
  sbuf_t re = {0};
  regex_t rx;
  int verdict = -1;
  if (memchr(topic, '\0', tlen) != NULL)
    return 0; /* NUL is in no ITEM set, and literals cannot hold it */
  if (build_regex(s, el, n, &re)) {
    int rc = regcomp(&rx, re.p, REG_EXTENDED | REG_NOSUB);
    FUZZ_CHECK(rc == 0, "oracle regex does not compile (%d): %s", rc, re.p);
    regmatch_t m[1] = {{0, (regoff_t)tlen}};
    char *t = malloc(tlen + 1);
    if (t == NULL)
      abort();
    memcpy(t, topic, tlen);
    t[tlen] = '\0';
    verdict = regexec(&rx, t, 1, m, REG_STARTEND) == 0;
    regfree(&rx);
    free(t);
  }
  free(re.p);
  return verdict;
}

/* ---- checks -------------------------------------------------------------- */

static hub_selector_t *compile(const char *s, size_t len) {
  hub_selector_t *sel = NULL;
  char *copy = fuzz_dup(s, len);
  int rc = hub_selector_compile(&sel, copy, len);
  FUZZ_CHECK(rc == 0 && sel != NULL, "compile: %d", rc);
  free(copy);
  size_t tlen = 0;
  const char *text = hub_selector_text(sel, &tlen);
  FUZZ_CHECK(tlen == len && (len == 0 || memcmp(text, s, len) == 0) &&
                 text[len] == '\0',
             "selector text differs");
  return sel;
}

static bool match(const hub_selector_t *sel, const char *topic, size_t len,
                  size_t sel_len) {
  char *copy = fuzz_dup(topic, len);
  size_t steps = 0;
  bool m = hub_selector_match(sel, copy, len);
  bool m2 = hub__selector_match_steps(sel, copy, len, &steps);
  FUZZ_CHECK(m == m2, "match %d, match_steps %d", m, m2);
  size_t bound = len + 2 * (len + 1) * (sel_len + 1);
  FUZZ_CHECK(steps <= bound, "%zu steps for %zu x %zu bytes (bound %zu)", steps,
             len, sel_len, bound);
  free(copy);
  return m;
}

static void check_encode(const char *topic, size_t len) {
  size_t need = hub_uri_encode_unreserved(topic, len, NULL, 0);
  FUZZ_CHECK(need >= len && need <= 3 * len, "encoding needs %zu for %zu", need,
             len);
  char *out = malloc(need + 3), *dec = malloc(len + 1);
  if (out == NULL || dec == NULL)
    abort();
  memcpy(out, "/s/", 3);
  if (need > 0) {
    size_t short_by_one =
        hub_uri_encode_unreserved(topic, len, out + 3, need - 1);
    FUZZ_CHECK(short_by_one == need, "size changes with cap");
  }
  FUZZ_CHECK(hub_uri_encode_unreserved(topic, len, out + 3, need) == need,
             "size changes with cap");
  size_t o = 0;
  for (size_t i = 3; i < need + 3;) {
    unsigned char c = (unsigned char)out[i];
    if (c == '%') {
      FUZZ_CHECK(i + 2 < need + 3, "truncated escape");
      unsigned char h = (unsigned char)out[i + 1],
                    l = (unsigned char)out[i + 2];
      FUZZ_CHECK((digit(h) || (h >= 'A' && h <= 'F')) &&
                     (digit(l) || (l >= 'A' && l <= 'F')),
                 "escape not upper-case hex");
      unsigned v = (unsigned)((digit(h) ? h - '0' : h - 'A' + 10) * 16 +
                              (digit(l) ? l - '0' : l - 'A' + 10));
      FUZZ_CHECK(!unreserved((unsigned char)v), "unreserved byte escaped");
      dec[o++] = (char)v;
      i += 3;
    } else {
      FUZZ_CHECK(unreserved(c), "byte 0x%02x left unescaped", c);
      dec[o++] = (char)c;
      i++;
    }
  }
  FUZZ_CHECK(o == len && (len == 0 || memcmp(dec, topic, len) == 0),
             "encoding does not decode back");
  hub_selector_t *sel = compile("/s/{x}", 6);
  FUZZ_CHECK(match(sel, out, need + 3, 6), "/s/{x} refuses the encoding");
  hub_selector_free(sel);
  free(out);
  free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static hub_selector_t *star;
  const char *in = (const char *)data;
  const char *nl = memchr(in, '\n', size);
  const char *s = in, *t = in;
  size_t slen = size, tlen = size;
  if (nl != NULL) {
    slen = (size_t)(nl - in);
    t = nl + 1;
    tlen = size - slen - 1;
  }
  if (star == NULL)
    star = compile("*", 1);

  hub_selector_t *sel = compile(s, slen);
  elem_t *el = NULL;
  size_t nel = 0;
  bool valid = parse_template((const unsigned char *)s, slen, &el, &nel);
  if (valid != hub_selector_is_template(sel))
    fuzz_dump("selector", s, slen);
  FUZZ_CHECK(valid == hub_selector_is_template(sel),
             "is_template %d, oracle %d", hub_selector_is_template(sel), valid);

  FUZZ_CHECK(match(sel, s, slen, slen), "selector does not match itself");
  FUZZ_CHECK(match(star, t, tlen, 1), "\"*\" does not match");

  bool got = match(sel, t, tlen, slen);
  int want;
  if ((slen == 1 && s[0] == '*') ||
      (slen == tlen && (slen == 0 || memcmp(s, t, slen) == 0)))
    want = 1;
  else if (!valid)
    want = 0;
  else if (slen > ORACLE_MAX || tlen > ORACLE_MAX)
    want = -1;
  else
    want = oracle_template((const unsigned char *)s, el, nel, t, tlen);
  if (want >= 0 && got != (want == 1)) {
    fuzz_dump("selector", s, slen);
    fuzz_dump("topic", t, tlen);
  }
  FUZZ_CHECK(want < 0 || got == (want == 1), "match %d, oracle %d", got, want);

  check_encode(t, tlen);
  free(el);
  hub_selector_free(sel);
  return 0;
}
