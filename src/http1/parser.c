/* SPDX-License-Identifier: MIT */
/*
 * http1/parser.c: the HTTP/1.1 request-head parser (RFC 9112, RFC 9110).
 *
 * One forward scan over the caller's bytes: every byte is classified once
 * through a 256-entry table, and the first offending byte decides the error,
 * so a prefix of the input is either accepted as incomplete (HCS_EAGAIN) or
 * rejected with the same code the whole input would get. Nothing is
 * allocated and nothing global is written; the result's slices point into
 * the caller's buffer. Any thread, any number of concurrent calls.
 *
 * It is not a URL parser (see http1/urlencoded.h) and not a body reader
 * (see http1/chunked.h); it only decides how the body is framed.
 */
#include "http1/parser.h"

#include <assert.h>
#include <string.h>

#include "hcs/error.h"

/* Byte classes, combined as bits in char_class[]. */
enum {
  C_TCHAR = 1,  /* RFC 9110 tchar                                      */
  C_VALUE = 2,  /* field-value byte: HTAB, SP, VCHAR, obs-text          */
  C_TARGET = 4, /* request-target byte: visible ASCII 0x21-0x7E         */
};

static const unsigned char char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    2, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 0x20  !"#$%&'()*+,-./ */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, /* 0x30 0-9:;<=>?   */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x40 @A-O        */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7, /* 0x50 P-Z[\]^_    */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x60 `a-o        */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0, /* 0x70 p-z{|}~DEL  */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 obs-text   */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xa0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xb0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xc0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xd0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xe0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xf0 */
};

#define IS(c, cls) ((char_class[(unsigned char)(c)] & (cls)) != 0)

/*
 * What the field lines said about framing and the connection, collected
 * while scanning and judged when the head is complete.
 */
typedef struct {
  int minor;
  unsigned hosts;         /* Host field lines seen                        */
  bool cl_seen;           /* some Content-Length field line seen          */
  uint64_t cl;            /* its value (all of them are equal)            */
  bool te_seen;           /* some Transfer-Encoding field line seen       */
  unsigned te_codings;    /* transfer codings listed, over all TE lines   */
  bool te_last_chunked;   /* the last listed coding is "chunked"          */
  bool conn_close;        /* Connection lists "close"                     */
  bool conn_keep_alive;   /* Connection lists "keep-alive"                */
  bool expect_continue;   /* an Expect: 100-continue was seen             */
  bool expect_other;      /* an Expect with any other value was seen      */
} framing_t;

static inline unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static inline bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

static inline bool is_hex(unsigned char c) {
  return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f');
}

static inline bool is_ows(unsigned char c) {
  return c == ' ' || c == '\t';
}

bool hcs_http1_is_tchar(unsigned char c) {
  return IS(c, C_TCHAR);
}

bool hcs_http1_str_ieq(hcs_str_t a, const char *b) {
  size_t i;
  for (i = 0; i < a.len; i++) {
    if (b[i] == '\0' || lower((unsigned char)a.base[i]) != lower((unsigned char)b[i]))
      return false;
  }
  return b[i] == '\0';
}

int hcs_http1_find_header(const hcs_http1_request_t *req, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < req->num_headers; i++) {
    /* Compare lengths first: it rejects almost every field cheaply. */
    if (req->headers[i].name.len == n &&
        hcs_http1_str_ieq(req->headers[i].name, name))
      return (int)i;
  }
  return -1;
}

static bool is_token(hcs_str_t s) {
  if (s.len == 0)
    return false;
  for (size_t i = 0; i < s.len; i++) {
    if (!IS(s.base[i], C_TCHAR))
      return false;
  }
  return true;
}

/*
 * The next element of a comma-separated list (RFC 9110 §5.6.1), with OWS
 * around it removed; it may be empty. *pos starts at 0. Returns false after
 * the last element.
 */
static bool list_next(hcs_str_t v, size_t *pos, hcs_str_t *elem) {
  size_t i = *pos, e;
  if (i > v.len)
    return false;
  e = i;
  while (e < v.len && v.base[e] != ',')
    e++;
  *pos = e + 1;
  while (i < e && is_ows((unsigned char)v.base[i]))
    i++;
  while (e > i && is_ows((unsigned char)v.base[e - 1]))
    e--;
  elem->base = v.base + i;
  elem->len = e - i;
  return true;
}

/*
 * Content-Length = 1*DIGIT; a list of values is tolerated only when every
 * value is the same (RFC 9110 §8.6). Empty elements, signs, inner spaces,
 * hex and values above INT64_MAX are rejected: a length that some other
 * parser might read differently is a smuggling vector.
 */
static int on_content_length(framing_t *f, hcs_str_t v) {
  size_t pos = 0;
  hcs_str_t e;
  while (list_next(v, &pos, &e)) {
    uint64_t n = 0;
    if (e.len == 0)
      return HCS_EBADREQUEST;
    for (size_t i = 0; i < e.len; i++) {
      unsigned char c = (unsigned char)e.base[i];
      if (!is_digit(c))
        return HCS_EBADREQUEST;
      if (n > (UINT64_C(0x7fffffffffffffff) - (c - '0')) / 10)
        return HCS_EBADREQUEST;
      n = n * 10 + (c - '0');
    }
    if (f->cl_seen && n != f->cl)
      return HCS_EBADREQUEST;
    f->cl_seen = true;
    f->cl = n;
  }
  return 0;
}

/*
 * Transfer-Encoding field lines form one list together (RFC 9110 §5.3).
 * Each element must be a bare coding name; parameters are not supported
 * (no coding we accept takes any), so they are a 400 here. Empty elements
 * are refused too, although RFC 9110 §5.6.1 would have them ignored: a
 * front end that parses lists less carefully could see no "chunked" in
 * "chunked," or in an empty line before "Transfer-Encoding: chunked", and
 * frame the body differently. The list as a whole is judged when the head
 * is complete.
 */
static int on_transfer_encoding(framing_t *f, hcs_str_t v) {
  size_t pos = 0;
  hcs_str_t e;
  /* RFC 9112 §6.1: a 1.0 recipient cannot rely on chunked framing. */
  if (f->minor == 0)
    return HCS_EBADREQUEST;
  f->te_seen = true;
  while (list_next(v, &pos, &e)) {
    if (!is_token(e)) /* also an empty element */
      return HCS_EBADREQUEST;
    f->te_codings++;
    f->te_last_chunked = hcs_http1_str_ieq(e, "chunked");
  }
  return 0;
}

static int on_connection(framing_t *f, hcs_str_t v) {
  size_t pos = 0;
  hcs_str_t e;
  while (list_next(v, &pos, &e)) {
    if (e.len == 0)
      continue;
    if (!is_token(e))
      return HCS_EBADREQUEST;
    if (hcs_http1_str_ieq(e, "close"))
      f->conn_close = true;
    else if (hcs_http1_str_ieq(e, "keep-alive"))
      f->conn_keep_alive = true;
  }
  return 0;
}

static bool is_unreserved_or_sub_delim(unsigned char c) {
  if ((lower(c) >= 'a' && lower(c) <= 'z') || is_digit(c))
    return true;
  return strchr("-._~!$&'()*+,;=", c) != NULL && c != '\0';
}

/*
 * Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2); an empty
 * value is allowed. IP literals are checked for their alphabet only.
 */
static bool host_valid(hcs_str_t v) {
  const unsigned char *p = (const unsigned char *)v.base;
  const unsigned char *end = p + v.len;
  if (p == end)
    return true;
  if (*p == '[') {
    const unsigned char *s = ++p;
    while (p < end && *p != ']') {
      if (!is_unreserved_or_sub_delim(*p) && *p != ':')
        return false;
      p++;
    }
    if (p == end || p == s)
      return false;
    p++;
  } else {
    while (p < end && *p != ':') {
      if (*p == '%') {
        if (end - p < 3 || !is_hex(p[1]) || !is_hex(p[2]))
          return false;
        p += 3;
        continue;
      }
      if (!is_unreserved_or_sub_delim(*p))
        return false;
      p++;
    }
  }
  if (p == end)
    return true;
  if (*p++ != ':')
    return false;
  while (p < end) {
    if (!is_digit(*p++))
      return false;
  }
  return true;
}

/*
 * Apply one complete field line to the framing state. Returns 0 or the
 * error that rejects the request at once; errors that depend on the whole
 * head (missing Host, the final transfer coding, Expect) wait for its end.
 */
static int on_field(framing_t *f, hcs_str_t name, hcs_str_t value) {
  /* Dispatch on length first: most fields are none of these. */
  switch (name.len) {
  case 4:
    if (!hcs_http1_str_ieq(name, "host"))
      return 0;
    /* RFC 9112 §3.2: more than one Host, or an invalid one, is a 400. */
    if (++f->hosts > 1 || !host_valid(value))
      return HCS_EBADREQUEST;
    return 0;
  case 6:
    if (!hcs_http1_str_ieq(name, "expect"))
      return 0;
    if (hcs_http1_str_ieq(value, "100-continue"))
      f->expect_continue = true;
    else
      f->expect_other = true;
    return 0;
  case 10:
    if (!hcs_http1_str_ieq(name, "connection"))
      return 0;
    return on_connection(f, value);
  case 14: {
    int rc;
    if (!hcs_http1_str_ieq(name, "content-length"))
      return 0;
    rc = on_content_length(f, value);
    if (rc == 0 && f->te_seen)
      rc = HCS_EBADREQUEST; /* RFC 9112 §6.3: both framings, reject */
    return rc;
  }
  case 17: {
    int rc;
    if (!hcs_http1_str_ieq(name, "transfer-encoding"))
      return 0;
    rc = on_transfer_encoding(f, value);
    if (rc == 0 && f->cl_seen)
      rc = HCS_EBADREQUEST;
    return rc;
  }
  default:
    return 0;
  }
}

static inline hcs_str_t slice(const unsigned char *b, const unsigned char *e) {
  hcs_str_t s = {(const char *)b, (size_t)(e - b)};
  return s;
}

ssize_t hcs_http1_parse_request(const char *buf, size_t len,
                                const hcs_http1_limits_t *limits,
                                hcs_http1_request_t *out) {
  const unsigned char *const start = (const unsigned char *)buf;
  const unsigned char *end, *p, *mark;
  size_t max_target, n = 0;
  int major, rc;
  bool in_target = false;
  framing_t f;

  assert(limits != NULL && out != NULL);
  assert(buf != NULL || len == 0);
  if (len == 0) /* also keeps pointer arithmetic off a NULL buf */
    return limits->max_header_bytes > 0 ? HCS_EAGAIN : HCS_EHEADERTOOBIG;

  /*
   * Scan at most max_header_bytes: running out of bytes inside that window
   * means "more please", running into its end means the head cannot fit.
   */
  end = start + (len < limits->max_header_bytes ? len
                                                : limits->max_header_bytes);
  max_target = limits->max_target_bytes ? limits->max_target_bytes
                                        : limits->max_header_bytes;
  p = start;
  memset(&f, 0, sizeof(f));

  /* RFC 9112 §2.2: skip empty lines before the request line. */
  for (;;) {
    if (p == end)
      goto incomplete;
    if (*p != '\r')
      break;
    if (++p == end)
      goto incomplete;
    if (*p++ != '\n')
      return HCS_EBADREQUEST;
  }

  /* method SP */
  mark = p;
  while (p < end && IS(*p, C_TCHAR))
    p++;
  if (p == end)
    goto incomplete;
  if (p == mark || *p != ' ')
    return HCS_EBADREQUEST;
  out->method = slice(mark, p++);

  /* request-target SP; too long is known before its end arrives. */
  in_target = true;
  mark = p;
  while (p < end && IS(*p, C_TARGET)) {
    if ((size_t)(p - mark) == max_target)
      return HCS_EURITOOLONG;
    p++;
  }
  if (p == end)
    goto incomplete;
  if (p == mark || *p != ' ')
    return HCS_EBADREQUEST;
  out->target = slice(mark, p++);
  in_target = false;

  /* HTTP-version CRLF: "HTTP/" DIGIT "." DIGIT, case-sensitive. */
  for (const char *lit = "HTTP/"; *lit != '\0'; lit++, p++) {
    if (p == end)
      goto incomplete;
    if (*p != (unsigned char)*lit)
      return HCS_EBADREQUEST;
  }
  if (p == end)
    goto incomplete;
  if (!is_digit(*p))
    return HCS_EBADREQUEST;
  major = *p++ - '0';
  if (p == end)
    goto incomplete;
  if (*p++ != '.')
    return HCS_EBADREQUEST;
  if (p == end)
    goto incomplete;
  if (!is_digit(*p))
    return HCS_EBADREQUEST;
  f.minor = *p++ - '0';
  if (p == end)
    goto incomplete;
  if (*p++ != '\r')
    return HCS_EBADREQUEST;
  if (p == end)
    goto incomplete;
  if (*p++ != '\n')
    return HCS_EBADREQUEST;
  /*
   * Only a complete, well-formed line earns a 505: "HTTP/2.0x" is a 400,
   * and a prefix must not be answered differently from the whole.
   */
  if (major != 1 || f.minor > 1)
    return HCS_EBADVERSION;

  /* *( field-line CRLF ) CRLF */
  for (;;) {
    const unsigned char *name_end, *value, *value_end;
    if (p == end)
      goto incomplete;
    if (*p == '\r') {
      if (++p == end)
        goto incomplete;
      if (*p++ != '\n')
        return HCS_EBADREQUEST;
      break;
    }
    /*
     * A line must start with a tchar: this rejects obs-fold (SP or HTAB,
     * RFC 9112 §5.2), whitespace after the start-line (§2.2), an empty
     * name (':'), and bare LF.
     */
    if (!IS(*p, C_TCHAR))
      return HCS_EBADREQUEST;
    if (n == HCS_HTTP1_MAX_HEADERS)
      return HCS_EHEADERTOOBIG;

    mark = p;
    while (p < end && IS(*p, C_TCHAR))
      p++;
    if (p == end)
      goto incomplete;
    if (*p != ':') /* also whitespace before the colon (§5.1) */
      return HCS_EBADREQUEST;
    name_end = p++;

    while (p < end && is_ows(*p))
      p++;
    value = p;
    while (p < end && IS(*p, C_VALUE))
      p++;
    if (p == end)
      goto incomplete;
    if (*p != '\r') /* NUL, LF, other CTLs, DEL */
      return HCS_EBADREQUEST;
    value_end = p;
    if (++p == end)
      goto incomplete;
    if (*p++ != '\n')
      return HCS_EBADREQUEST;
    /* The leading OWS is skipped already; drop the trailing OWS. */
    while (value_end > value && is_ows(value_end[-1]))
      value_end--;

    out->headers[n].name = slice(mark, name_end);
    out->headers[n].value = slice(value, value_end);
    rc = on_field(&f, out->headers[n].name, out->headers[n].value);
    if (rc != 0)
      return rc;
    n++;
  }

  /* The head is complete: judge what needs all of it. 400s come first. */
  if (f.minor == 1 && f.hosts == 0)
    return HCS_EBADREQUEST;
  if (f.te_seen) {
    /* RFC 9112 §6.3: chunked must be the final coding, or it is a 400. */
    if (f.te_codings == 0 || !f.te_last_chunked)
      return HCS_EBADREQUEST;
    /* Anything before chunked would be ours to decode: we decode none. */
    if (f.te_codings > 1)
      return HCS_ENOTIMPL;
  }
  if (f.expect_other)
    return HCS_EEXPECT;

  out->minor_version = f.minor;
  out->num_headers = n;
  out->content_length = 0;
  if (f.te_seen) {
    out->body = HCS_HTTP1_BODY_CHUNKED;
  } else if (f.cl_seen && f.cl > 0) {
    out->body = HCS_HTTP1_BODY_LENGTH;
    out->content_length = f.cl;
  } else {
    out->body = HCS_HTTP1_BODY_NONE;
  }
  /* "close" wins over "keep-alive" when a client sends both. */
  out->keep_alive =
      !f.conn_close && (f.minor == 1 || f.conn_keep_alive);
  /* RFC 9110 §10.1.1: a 100-continue in HTTP/1.0 is ignored. */
  out->expect_continue = f.expect_continue && f.minor == 1;
  return (ssize_t)(p - start);

incomplete:
  if (len < limits->max_header_bytes)
    return HCS_EAGAIN;
  /* The window is full: the part being read is what does not fit. */
  return in_target ? HCS_EURITOOLONG : HCS_EHEADERTOOBIG;
}
