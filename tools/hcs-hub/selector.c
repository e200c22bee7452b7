/* SPDX-License-Identifier: MIT */
/*
 * selector.c: compiled Mercure topic selectors: "*", exact strings and
 * RFC 6570 URI templates matched as the reference hub matches them
 * (selector.h has the rules; specs/uri-template.md §4 the background).
 *
 * A selector compiles into one heap block: the header, the parsed template
 * elements (literal or expression) and a NUL-terminated copy of the text.
 * Parsing runs twice over the text, once to validate and count the elements
 * and once to fill them, so that compiling allocates exactly once.
 *
 * Matching does not backtrack and uses no regex library. For each element in
 * turn it computes, from the set of topic offsets where the element may
 * start, the set where it may end (a byte per offset holds these bits and
 * the classes of the topic byte there, computed once per match). An
 * expression adds one more state: at each offset, the fewest items needed to
 * end an item there (fewer items always leave more room under the {0,n-1}
 * bound, so the minimum is all that must be kept). Every step only looks
 * back 1 or 3 bytes, so one left-to-right pass per element suffices.
 *
 * Not here: caching compiled selectors or (selector, topic) results, and
 * indexing exact selectors; those belong to the callers.
 *
 * Threads: compiled selectors are immutable; matching writes only to its own
 * work area (on the stack, or on the heap for long topics).
 */
#include "selector.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- compiled form ------------------------------------------------------- */

enum { SEL_EXACT, SEL_ANY, SEL_TEMPLATE };

/* The repetition bound of an expression with an exploded variable. */
#define REP_UNBOUNDED UINT32_MAX

typedef struct {
  bool is_expr;
  /* Literal: its bytes in the selector's text. */
  size_t off;
  size_t len;
  /* Expression ( first ITEM ( sep ITEM ){0,max} )?, first 0 when none. */
  unsigned char first;
  unsigned char sep;
  uint32_t max;  /* 0, n-1, or REP_UNBOUNDED */
  uint8_t mask1; /* CH_* bits of the bytes the first ITEM may hold */
  uint8_t mask2; /* CH_* bits of the bytes the later ITEMs may hold */
} elem_t;

struct hub_selector_s {
  int kind;         /* SEL_* */
  bool need_counts; /* some expression has max > 0 */
  size_t len;       /* of text */
  char *text;       /* NUL-terminated copy, after elems in the same block */
  size_t nelems;
  elem_t elems[];
};

/* ---- character classes --------------------------------------------------- */

static const char RESERVED[] = ":/?#[]@!$&'()*+,;=";

static bool is_alpha(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static bool is_unreserved(unsigned char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

/* A "%XX" triplet starts at p, with at least 3 bytes readable. */
static bool is_pct(const unsigned char *p) {
  return p[0] == '%' && is_hex(p[1]) && is_hex(p[2]);
}

/*
 * What the bytes of a topic may be part of, one bit each (see run_template),
 * and ITEM sets as unions of them, as the reference has them: "+" and "#"
 * allow unreserved and reserved bytes; every other operator unreserved and
 * ",", plus "=" when eq is set (named operator, or an exploded variable).
 */
#define CH_UC 0x10u  /* unreserved or "," */
#define CH_EQ 0x20u  /* "=" */
#define CH_UR 0x40u  /* unreserved or reserved */
#define CH_PCT 0x80u /* a "%XX" triplet starts here */
#define CH_ALL (CH_UC | CH_EQ | CH_UR | CH_PCT)

static uint8_t item_mask(bool reserved, bool eq) {
  if (reserved)
    return CH_UR;
  return eq ? CH_UC | CH_EQ : CH_UC;
}

/*
 * A literal's ASCII bytes (RFC 6570 §2.1): printable, minus space " % < > \
 * ^ ` { | }. "'" is allowed, as in the reference (and erratum 6937); "%" is
 * handled by the caller, as it must start a triplet.
 */
static bool is_literal_ascii(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f)
    return false;
  switch (c) {
  case '"':
  case '%':
  case '<':
  case '>':
  case '\\':
  case '^':
  case '`':
  case '{':
  case '|':
  case '}':
    return false;
  default:
    return true;
  }
}

/*
 * Decode one UTF-8 sequence of s (n > 0 bytes readable) into *cp. Returns
 * its length, or 0 when malformed (overlong, surrogate, beyond U+10FFFF,
 * truncated, or a stray continuation byte).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  size_t need;
  uint32_t v;
  if (c < 0xc2)
    return 0; /* ASCII is handled by the caller; 80-C1 never start one */
  if (c < 0xe0) {
    need = 2;
    v = c & 0x1fu;
  } else if (c < 0xf0) {
    need = 3;
    v = c & 0x0fu;
  } else if (c < 0xf5) {
    need = 4;
    v = c & 0x07u;
  } else {
    return 0;
  }
  if (n < need)
    return 0;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    v = (v << 6) | (s[i] & 0x3fu);
  }
  if ((need == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
      (need == 4 && (v < 0x10000 || v > 0x10ffff)))
    return 0;
  *cp = v;
  return need;
}

/* ucschar or iprivate (RFC 6570 §2.1, from RFC 3987). */
static bool is_ucs_literal(uint32_t cp) {
  if (cp >= 0xa0 && cp <= 0xd7ff)
    return true;
  if (cp >= 0xe000 && cp <= 0xfdcf) /* iprivate E000-F8FF, then F900-FDCF */
    return true;
  if (cp >= 0xfdf0 && cp <= 0xffef)
    return true;
  /* Planes 1-16 minus each plane's last two code points, and minus
   * E0000-E0FFF (tags and the like, in neither production). */
  return cp >= 0x10000 && (cp & 0xffff) <= 0xfffd &&
         !(cp >= 0xe0000 && cp <= 0xe0fff);
}

/* ---- parsing ------------------------------------------------------------- */

/* Length of the varchar (ALPHA / DIGIT / "_" / pct-encoded) at s[i], or 0. */
static size_t varchar_len(const unsigned char *s, size_t len, size_t i) {
  if (i >= len)
    return 0;
  if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_')
    return 1;
  if (s[i] == '%' && len - i >= 3 && is_pct(s + i))
    return 3;
  return 0;
}

/*
 * Parse the expression starting at s[*pos] == '{'. On success advance *pos
 * past its '}' and, when e is not NULL, fill e. Returns false when invalid.
 */
static bool parse_expression(const unsigned char *s, size_t len, size_t *pos,
                             elem_t *e) {
  size_t i = *pos + 1;
  unsigned char op = 0;
  if (i >= len)
    return false;
  switch (s[i]) {
  case '+':
  case '#':
  case '.':
  case '/':
  case ';':
  case '?':
  case '&':
    op = s[i++];
    break;
  case '=':
  case ',':
  case '!':
  case '@':
  case '|':
    return false; /* reserved for future extensions [6570 §2.2] */
  default:
    break;
  }

  size_t nvars = 0;
  bool first_explode = false, any_explode = false;
  for (;;) {
    /* varname = varchar *( ["."] varchar ): no leading, trailing or
     * doubled dots. */
    size_t n = varchar_len(s, len, i);
    if (n == 0)
      return false;
    i += n;
    for (;;) {
      if (i < len && s[i] == '.') {
        n = varchar_len(s, len, i + 1);
        if (n == 0)
          return false;
        i += 1 + n;
      } else if ((n = varchar_len(s, len, i)) > 0) {
        i += n;
      } else {
        break;
      }
    }
    if (i >= len)
      return false;

    bool explode = false;
    if (s[i] == ':') {
      /* max-length = %x31-39 0*3DIGIT: 1 to 9999, no leading zero; a
       * fifth digit is then neither ',' nor '}' and fails below. */
      i++;
      if (i >= len || s[i] < '1' || s[i] > '9')
        return false;
      i++;
      for (int d = 0; d < 3 && i < len && is_digit(s[i]); d++)
        i++;
    } else if (s[i] == '*') {
      explode = true;
      i++;
    }
    if (nvars == 0)
      first_explode = explode;
    any_explode = any_explode || explode;
    nvars++;

    if (i >= len)
      return false;
    if (s[i] == '}') {
      i++;
      break;
    }
    if (s[i] != ',')
      return false;
    i++;
  }

  if (e != NULL) {
    bool reserved = op == '+' || op == '#';
    bool named = op == ';' || op == '?' || op == '&';
    memset(e, 0, sizeof(*e));
    e->is_expr = true;
    e->first = (op == 0 || op == '+') ? 0 : op;
    e->sep = op == '?' ? '&' : (op == 0 || op == '+' || op == '#') ? ',' : op;
    /* The reference lets an exploded variable's items hold "=" (k=v map
     * pairs): the first ITEM when the first variable is exploded, the
     * later ones when any is. */
    e->mask1 = item_mask(reserved, named || first_explode);
    e->mask2 = item_mask(reserved, named || any_explode);
    if (any_explode)
      e->max = REP_UNBOUNDED;
    else
      e->max =
          nvars - 1 < REP_UNBOUNDED ? (uint32_t)(nvars - 1) : REP_UNBOUNDED - 1;
  }
  *pos = i;
  return true;
}

/*
 * Parse the literal run starting at s[*pos] (up to the next '{' or the end).
 * Returns false when it holds a byte a literal may not.
 */
static bool parse_literal(const unsigned char *s, size_t len, size_t *pos) {
  size_t i = *pos;
  while (i < len && s[i] != '{') {
    unsigned char c = s[i];
    if (c == '%') {
      if (len - i < 3 || !is_pct(s + i))
        return false;
      i += 3;
    } else if (c < 0x80) {
      if (!is_literal_ascii(c))
        return false;
      i++;
    } else {
      uint32_t cp;
      size_t n = utf8_decode(s + i, len - i, &cp);
      if (n == 0 || !is_ucs_literal(cp))
        return false;
      i += n;
    }
  }
  *pos = i;
  return true;
}

/*
 * Parse s as a URI template. Counts the elements into *nelems and, when
 * elems is not NULL, fills them (it must have room for the count a first
 * call returned). *need_counts says whether some expression has max > 0.
 * Returns false when s is not a valid template.
 */
static bool parse_template(const unsigned char *s, size_t len, elem_t *elems,
                           size_t *nelems, bool *need_counts) {
  size_t i = 0, n = 0;
  bool counts = false;
  while (i < len) {
    elem_t *e = elems != NULL ? &elems[n] : NULL;
    if (s[i] == '{') {
      elem_t tmp;
      if (!parse_expression(s, len, &i, e != NULL ? e : &tmp))
        return false;
      if ((e != NULL ? e : &tmp)->max > 0)
        counts = true;
    } else {
      size_t start = i;
      if (!parse_literal(s, len, &i))
        return false;
      if (e != NULL) {
        memset(e, 0, sizeof(*e));
        e->off = start;
        e->len = i - start;
      }
    }
    n++;
  }
  *nelems = n;
  *need_counts = counts;
  return true;
}

/* ---- public: compile ----------------------------------------------------- */

int hub_selector_compile(hub_selector_t **out, const char *selector,
                         size_t len) {
  assert(out != NULL);
  assert(selector != NULL || len == 0);
  const unsigned char *s = (const unsigned char *)selector;
  int kind = SEL_EXACT;
  size_t nelems = 0;
  bool need_counts = false;

  if (len == 1 && s[0] == '*') {
    kind = SEL_ANY;
  } else if (len > 0 && memchr(s, '{', len) != NULL &&
             parse_template(s, len, NULL, &nelems, &need_counts)) {
    /* A valid template with a '{' has at least one expression. */
    kind = SEL_TEMPLATE;
  } else {
    nelems = 0;
    need_counts = false;
  }

  size_t head = sizeof(hub_selector_t);
  if (nelems > (SIZE_MAX - head - 1 - len) / sizeof(elem_t))
    return HCS_ENOMEM;
  hub_selector_t *sel = malloc(head + nelems * sizeof(elem_t) + len + 1);
  if (sel == NULL)
    return HCS_ENOMEM;
  sel->kind = kind;
  sel->need_counts = need_counts;
  sel->len = len;
  sel->nelems = nelems;
  sel->text = (char *)(sel->elems + nelems);
  if (len > 0)
    memcpy(sel->text, selector, len);
  sel->text[len] = '\0';

  if (kind == SEL_TEMPLATE) {
    size_t n2 = 0;
    bool ok = parse_template((const unsigned char *)sel->text, len, sel->elems,
                             &n2, &need_counts);
    /* The same bytes parsed the same way a moment ago. */
    assert(ok && n2 == nelems);
    (void)ok;
  }
  *out = sel;
  return 0;
}

const char *hub_selector_text(const hub_selector_t *sel, size_t *len) {
  if (len != NULL)
    *len = sel->len;
  return sel->text;
}

bool hub_selector_is_template(const hub_selector_t *sel) {
  return sel->kind == SEL_TEMPLATE;
}

void hub_selector_free(hub_selector_t *sel) {
  free(sel);
}

/* ---- matching ------------------------------------------------------------ */

/*
 * Per-offset bits of the work area: the matching state of the current
 * element, and what the topic byte there may be part of (computed once per
 * match, so the scans test one byte instead of a bitmap and a triplet).
 */
#define ST_IN 0x01u  /* the current element may start here */
#define ST_D1 0x02u  /* an expression's first ITEM may end here */
#define ST_OUT 0x04u /* the current element may end here */

#define NO_COUNT UINT32_MAX

static unsigned char_bits(const unsigned char *t, size_t len, size_t i) {
  unsigned char c = t[i];
  unsigned f = 0;
  if (is_unreserved(c) || c == ',')
    f |= CH_UC;
  if (c == '=')
    f |= CH_EQ;
  if (is_unreserved(c) || (c != 0 && strchr(RESERVED, c) != NULL))
    f |= CH_UR;
  if (c == '%' && len - i >= 3 && is_pct(t + i))
    f |= CH_PCT;
  return f;
}

/*
 * Match topic t (len bytes) against the template elements of sel. st has
 * len + 1 bytes; dist, when sel->need_counts, len + 1 counts. Adds the work
 * done to *steps.
 */
static bool run_template(const hub_selector_t *sel, const unsigned char *t,
                         size_t len, uint8_t *st, uint32_t *dist,
                         size_t *steps) {
  const unsigned char *text = (const unsigned char *)sel->text;
  size_t work = len;
  /* lo..hi bounds the offsets where the current element may start. */
  size_t lo = 0, hi = 0;
  for (size_t i = 0; i < len; i++)
    st[i] = (uint8_t)char_bits(t, len, i);
  st[len] = 0;
  st[0] |= ST_IN;

  for (size_t k = 0; k < sel->nelems; k++) {
    const elem_t *e = &sel->elems[k];
    size_t nlo = SIZE_MAX, nhi = 0, end;

    if (!e->is_expr) {
      const unsigned char *lit = text + e->off;
      size_t n = e->len;
      for (size_t i = lo; i <= hi; i++) {
        work++;
        if (!(st[i] & ST_IN) || n > len - i)
          continue;
        work += n;
        if (t[i] == lit[0] && memcmp(t + i, lit, n) == 0) {
          st[i + n] |= ST_OUT;
          if (nlo == SIZE_MAX)
            nlo = i + n;
          nhi = i + n;
        }
      }
      end = hi + e->len < len ? hi + e->len : len;
    } else {
      const unsigned first = e->first, sep = e->sep;
      const unsigned m1 = e->mask1, m2 = e->mask2;
      const uint32_t max = e->max;
      /* Offsets where something (a start, or an item) was last live; past
       * hi + 1 with nothing live in the last 3 bytes, nothing further can
       * be reached, so the scan stops there. */
      size_t last_live = lo;
      size_t i;
      for (i = lo; i <= len; i++) {
        if (i > hi + 1 && i > last_live + 3)
          break;
        work++;
        unsigned cur = st[i];
        /* What ends at i - 1 and i - 3 (nothing before lo belongs to this
         * element), with the bytes that would carry it to i. */
        unsigned p1 = i > lo ? st[i - 1] : 0;
        unsigned p3 = i >= lo + 3 && (st[i - 3] & CH_PCT) ? st[i - 3] : 0;

        /* The first ITEM: entered after "first" (or right away when the
         * operator has none), extended by a byte of mask1 or a triplet. */
        bool d1 =
            first != 0 ? (p1 & ST_IN) && t[i - 1] == first : (cur & ST_IN) != 0;
        d1 = d1 || ((p1 & ST_D1) && (p1 & m1)) || (p3 & ST_D1);
        if (d1)
          cur |= ST_D1;

        /* Later ITEMs: the fewest items that can end here. A separator
         * after c items starts item c + 1 when c <= max. */
        uint32_t dk = NO_COUNT;
        if (max > 0) {
          if (i > lo) {
            uint32_t c1 = dist[i - 1];
            if (t[i - 1] == sep) {
              uint32_t c = (p1 & ST_D1) ? 1 : c1;
              if (c != NO_COUNT && c <= max)
                dk = c + 1;
            }
            if ((p1 & m2) && c1 < dk)
              dk = c1;
            if (p3 && dist[i - 3] < dk)
              dk = dist[i - 3];
          }
          dist[i] = dk;
        }

        /* The expression is optional: a start is also an end. */
        if (d1 || dk != NO_COUNT) {
          last_live = i;
          cur |= ST_OUT;
        } else if (cur & ST_IN) {
          cur |= ST_OUT;
        }
        if (cur & ST_OUT) {
          if (nlo == SIZE_MAX)
            nlo = i;
          nhi = i;
        }
        st[i] = (uint8_t)cur;
      }
      end = i > len ? len : i;
    }

    /* Ends become the next element's starts; clear the rest. */
    for (size_t i = lo; i <= end; i++)
      st[i] = (uint8_t)((st[i] & CH_ALL) | ((st[i] & ST_OUT) ? ST_IN : 0));
    if (nlo == SIZE_MAX) {
      *steps += work;
      return false;
    }
    lo = nlo;
    hi = nhi;
  }
  *steps += work;
  return (st[len] & ST_IN) != 0;
}

static bool match_template(const hub_selector_t *sel, const char *topic,
                           size_t len, size_t *steps) {
  /* Counts never exceed len + 1 (each item past the first needs its own
   * separator byte), so they fit in 32 bits below this length. */
  if (len >= NO_COUNT - 2 || len >= SIZE_MAX / 8)
    return false;
  size_t n = len + 1;
  size_t need = sel->need_counts ? n * (sizeof(uint32_t) + 1) : n;
  uint32_t stack[512];
  void *heap = NULL;
  void *area = stack;
  if (need > sizeof(stack)) {
    heap = malloc(need);
    if (heap == NULL)
      return false; /* documented: no match when out of memory */
    area = heap;
  }
  uint32_t *dist = sel->need_counts ? (uint32_t *)area : NULL;
  uint8_t *st = (uint8_t *)area + (sel->need_counts ? n * sizeof(uint32_t) : 0);
  bool ok =
      run_template(sel, (const unsigned char *)topic, len, st, dist, steps);
  free(heap);
  return ok;
}

bool hub__selector_match_steps(const hub_selector_t *sel, const char *topic,
                               size_t len, size_t *steps) {
  assert(sel != NULL);
  assert(topic != NULL || len == 0);
  *steps = 0;
  if (sel->kind == SEL_ANY)
    return true;
  /* Byte-identical always matches, so a template matches its own text. */
  if (len == sel->len && (len == 0 || memcmp(topic, sel->text, len) == 0))
    return true;
  if (sel->kind != SEL_TEMPLATE)
    return false;
  return match_template(sel, topic, len, steps);
}

bool hub_selector_match(const hub_selector_t *sel, const char *topic,
                        size_t len) {
  size_t steps;
  return hub__selector_match_steps(sel, topic, len, &steps);
}

/* ---- expansion encoding -------------------------------------------------- */

size_t hub_uri_encode_unreserved(const char *in, size_t len, char *out,
                                 size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *s = (const unsigned char *)in;
  size_t need = 0;
  for (size_t i = 0; i < len; i++)
    need += is_unreserved(s[i]) ? 1 : 3;
  if (need > cap)
    return need;
  size_t j = 0;
  for (size_t i = 0; i < len; i++) {
    if (is_unreserved(s[i])) {
      out[j++] = (char)s[i];
    } else {
      out[j++] = '%';
      out[j++] = hex[s[i] >> 4];
      out[j++] = hex[s[i] & 0xf];
    }
  }
  return need;
}
