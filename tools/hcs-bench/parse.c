/* SPDX-License-Identifier: MIT */
/*
 * hcs-bench's HTTP/1.1 response reader and SSE event-stream reader: byte
 * state machines over caller buffers, no allocation, no I/O (see parse.h).
 * Hot paths (body spans, data values) move over runs of bytes with memchr
 * and friends rather than byte by byte.
 */
#include "parse.h"

#include <string.h>

/* ---- HTTP/1.1 response --------------------------------------------------*/

enum {
  R_STATUS,     /* reading the status line */
  R_HEADER,     /* reading header lines */
  R_BODY_LEN,   /* Content-Length body */
  R_CHUNK_SIZE, /* chunk size line */
  R_CHUNK_DATA, /* chunk data */
  R_CHUNK_END,  /* the CRLF after a chunk's data */
  R_TRAILER,    /* trailer lines after the last chunk */
  R_BODY_CLOSE, /* body up to the end of the connection */
  R_DONE,
};

/* The largest head we accept: a server that sends more is broken or hostile. */
#define MAX_HEAD_BYTES 65536
/* A chunk larger than this (1 TiB) is taken for a malformed size. */
#define MAX_CHUNK ((uint64_t)1 << 40)

void hb_resp_init(hb_resp_t *r) {
  memset(r, 0, sizeof(*r));
  r->state = R_STATUS;
}

int hb_resp_closes(const hb_resp_t *r) {
  return r->conn_close || r->state == R_BODY_CLOSE;
}

int hb_resp_eof(hb_resp_t *r) {
  if (r->state != R_BODY_CLOSE && r->state != R_DONE)
    return HB_RESP_ERROR;
  r->state = R_DONE;
  return HB_RESP_DONE;
}

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Whether the LEN bytes at S start with the lower-case NAME, ignoring case. */
static int has_prefix_ci(const char *s, size_t len, const char *name) {
  size_t n = strlen(name);
  if (len < n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)s[i]) != name[i])
      return 0;
  return 1;
}

/* Whether the lower-case WORD occurs in the LEN bytes at S, ignoring case. */
static int contains_ci(const char *s, size_t len, const char *word) {
  size_t n = strlen(word);
  for (size_t i = 0; i + n <= len; i++)
    if (has_prefix_ci(s + i, len - i, word))
      return 1;
  return 0;
}

/* A complete header line (without its line end) kept in r->line. */
static int header_line(hb_resp_t *r) {
  const char *s = r->line;
  size_t len = r->line_len;
  const char *colon = memchr(s, ':', len);
  if (!colon)
    return 0; /* not a header we use (or cut before its colon) */
  const char *v = colon + 1;
  size_t vlen = len - (size_t)(v - s);
  while (vlen && (*v == ' ' || *v == '\t'))
    v++, vlen--;
  size_t nlen = (size_t)(colon - s);
  if (nlen == 17 && has_prefix_ci(s, nlen, "transfer-encoding")) {
    if (contains_ci(v, vlen, "chunked"))
      r->chunked = 1;
  } else if (nlen == 14 && has_prefix_ci(s, nlen, "content-length")) {
    uint64_t x = 0;
    size_t i = 0;
    for (; i < vlen && v[i] >= '0' && v[i] <= '9'; i++) {
      x = x * 10 + (uint64_t)(v[i] - '0');
      if (x > MAX_CHUNK)
        return -1;
    }
    if (i == 0)
      return -1;
    r->have_len = 1;
    r->remaining = x;
  } else if (nlen == 10 && has_prefix_ci(s, nlen, "connection")) {
    if (contains_ci(v, vlen, "close"))
      r->conn_close = 1;
  }
  return 0;
}

/* The status line "HTTP/1.x SSS ...", kept in r->line. */
static int status_line(hb_resp_t *r) {
  const char *s = r->line;
  if (r->line_len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ')
    return -1;
  int st = 0;
  for (int i = 9; i < 12; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    st = st * 10 + (s[i] - '0');
  }
  if (st < 100)
    return -1;
  r->status = (uint16_t)st;
  return 0;
}

/* The empty line after the headers: choose the body framing. Returns the
 * next state, or -1 when HEAD refuses the response. */
static int end_of_head(hb_resp_t *r, hb_resp_head_cb head, void *ud) {
  if (r->status >= 100 && r->status < 200 && r->status != 101) {
    /* An interim response (100 Continue): the real one follows. */
    hb_resp_init(r);
    return R_STATUS;
  }
  if (head && head(r->status, ud) != 0)
    return -1;
  if (r->status == 204 || r->status == 304)
    return R_DONE;
  if (r->chunked) {
    r->remaining = 0;
    return R_CHUNK_SIZE;
  }
  if (r->have_len)
    return r->remaining ? R_BODY_LEN : R_DONE;
  return R_BODY_CLOSE;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

int hb_resp_feed(hb_resp_t *r, const char *p, size_t n, hb_resp_head_cb head,
                 hb_resp_body_cb body, void *ud, size_t *used) {
  size_t i = 0;
  int rc = HB_RESP_MORE;
  while (i < n && r->state != R_DONE) {
    switch (r->state) {
    case R_STATUS:
    case R_HEADER: {
      char c = p[i++];
      if (++r->head_bytes > MAX_HEAD_BYTES) {
        rc = HB_RESP_ERROR;
        goto out;
      }
      if (c == '\r')
        break; /* only valid before LF; dropping it is harmless */
      if (c != '\n') {
        if (r->line_len < sizeof(r->line))
          r->line[r->line_len++] = c;
        break;
      }
      if (r->state == R_STATUS) {
        if (status_line(r) < 0) {
          rc = HB_RESP_ERROR;
          goto out;
        }
        r->state = R_HEADER;
      } else if (r->line_len == 0) {
        int next = end_of_head(r, head, ud);
        if (next < 0) {
          rc = HB_RESP_ERROR;
          goto out;
        }
        r->state = (uint8_t)next;
      } else if (header_line(r) < 0) {
        rc = HB_RESP_ERROR;
        goto out;
      }
      r->line_len = 0;
      break;
    }
    case R_BODY_LEN:
    case R_CHUNK_DATA: {
      size_t k = n - i;
      if (k > r->remaining)
        k = (size_t)r->remaining;
      if (body)
        body(p + i, k, ud);
      i += k;
      r->remaining -= k;
      if (r->remaining == 0)
        r->state = r->state == R_BODY_LEN ? R_DONE : R_CHUNK_END;
      break;
    }
    case R_BODY_CLOSE:
      if (body)
        body(p + i, n - i, ud);
      i = n;
      break;
    case R_CHUNK_SIZE: {
      char c = p[i++];
      int h;
      if (c == '\n') {
        if (r->line_len == 0) {
          rc = HB_RESP_ERROR; /* no digits */
          goto out;
        }
        r->line_len = 0;
        r->ext = 0;
        r->state = r->remaining ? R_CHUNK_DATA : R_TRAILER;
      } else if (r->ext || c == '\r') {
        /* chunk extensions and the CR are skipped */
      } else if (c == ';' || c == ' ' || c == '\t') {
        r->ext = 1;
      } else if ((h = hexval((unsigned char)c)) >= 0) {
        r->remaining = r->remaining * 16 + (uint64_t)h;
        if (r->remaining > MAX_CHUNK) {
          rc = HB_RESP_ERROR;
          goto out;
        }
        r->line_len = 1;
      } else {
        rc = HB_RESP_ERROR;
        goto out;
      }
      break;
    }
    case R_CHUNK_END: {
      char c = p[i++];
      if (c == '\n')
        r->state = R_CHUNK_SIZE;
      else if (c != '\r') {
        rc = HB_RESP_ERROR;
        goto out;
      }
      break;
    }
    case R_TRAILER: {
      char c = p[i++];
      if (c == '\n') {
        if (r->line_len == 0)
          r->state = R_DONE;
        r->line_len = 0;
      } else if (c != '\r') {
        r->line_len = 1;
      }
      break;
    }
    }
  }
  if (r->state == R_DONE)
    rc = HB_RESP_DONE;
out:
  if (used)
    *used = i;
  return rc;
}

/* ---- SSE event stream ---------------------------------------------------*/

enum {
  S_START,       /* at the start of a line */
  S_NAME,        /* in the field name */
  S_VALUE_FIRST, /* right after the colon: one space is skipped */
  S_VALUE,       /* in the value */
  S_COMMENT,     /* a line starting with ':' */
};

enum { F_OTHER, F_DATA, F_ID, F_EVENT };

/* Marker matcher states: 0..4 are "matched that many bytes of hcsb-". */
enum { MK_SEQ0 = 5, MK_SEQ, MK_TS0, MK_TS };
static const char MARKER[] = "hcsb-";
/* Larger numbers are not ours: give up rather than overflow. */
#define MK_MAX ((uint64_t)1 << 62)

void hb_sse_init(hb_sse_t *s) {
  memset(s, 0, sizeof(*s));
}

static void mk_restart(hb_sse_t *s, char c) {
  s->mk = c == 'h' ? 1 : 0;
}

/* Runs the marker matcher over a span of one data line's value. */
static void mk_span(hb_sse_t *s, const char *p, size_t n) {
  const char *end = p + n;
  while (p < end && !s->have_mk) {
    if (s->mk == 0) {
      /* Most data is payload padding: jump to the next candidate. */
      const char *h = memchr(p, 'h', (size_t)(end - p));
      if (!h)
        return;
      s->mk = 1;
      p = h + 1;
      continue;
    }
    char c = *p++;
    int digit = c >= '0' && c <= '9';
    switch (s->mk) {
    case MK_SEQ0:
      if (digit) {
        s->mk_seq = (uint64_t)(c - '0');
        s->mk = MK_SEQ;
      } else {
        mk_restart(s, c);
      }
      break;
    case MK_SEQ:
      if (digit) {
        s->mk_seq = s->mk_seq * 10 + (uint64_t)(c - '0');
        if (s->mk_seq > MK_MAX)
          s->mk = 0;
      } else if (c == '-') {
        s->mk_ts = 0;
        s->mk = MK_TS0;
      } else {
        s->mk_ts = 0;
        s->have_mk = 1;
      }
      break;
    case MK_TS0:
      if (digit) {
        s->mk_ts = (uint64_t)(c - '0');
        s->mk = MK_TS;
      } else {
        s->have_mk = 1;
      }
      break;
    case MK_TS:
      if (digit) {
        s->mk_ts = s->mk_ts * 10 + (uint64_t)(c - '0');
        if (s->mk_ts > MK_MAX)
          s->mk_ts = 0, s->have_mk = 1;
      } else {
        s->have_mk = 1;
      }
      break;
    default: /* 1..4: inside "hcsb-" */
      if (c == MARKER[s->mk]) {
        s->mk++;
        if (s->mk == MK_SEQ0)
          s->mk_seq = 0;
      } else {
        mk_restart(s, c);
      }
      break;
    }
  }
}

/* The field name is complete: which field is it. */
static void begin_value(hb_sse_t *s) {
  s->field = F_OTHER;
  if (s->name_len == 4 && memcmp(s->name, "data", 4) == 0) {
    s->field = F_DATA;
    /* Lines of data are joined by LF. */
    if (s->data_lines)
      s->data_bytes++;
    s->data_lines++;
    if (!s->have_mk)
      s->mk = 0;
  } else if (s->name_len == 2 && memcmp(s->name, "id", 2) == 0) {
    s->field = F_ID;
    s->id_val = 0;
    s->id_ok = 1;
    s->val_type_len = 0; /* counts the id's digits here */
  } else if (s->name_len == 5 && memcmp(s->name, "event", 5) == 0) {
    s->field = F_EVENT;
    s->val_type_len = 0;
    s->val_type_over = 0;
  }
}

static void value_span(hb_sse_t *s, const char *p, size_t n) {
  switch (s->field) {
  case F_DATA:
    s->data_bytes += n;
    if (!s->have_mk)
      mk_span(s, p, n);
    break;
  case F_ID:
    for (size_t i = 0; i < n; i++) {
      char c = p[i];
      if (c == '\0') {
        s->id_ok = 2; /* an id with NUL is ignored altogether */
      } else if (s->id_ok == 1 && c >= '0' && c <= '9' && s->id_val < MK_MAX) {
        s->id_val = s->id_val * 10 + (uint64_t)(c - '0');
        if (s->val_type_len < 255)
          s->val_type_len++;
      } else if (s->id_ok == 1) {
        s->id_ok = 0;
      }
    }
    break;
  case F_EVENT:
    for (size_t i = 0; i < n; i++) {
      if (s->val_type_len < sizeof(s->val_type))
        s->val_type[s->val_type_len++] = p[i];
      else
        s->val_type_over = 1;
    }
    break;
  default:
    break;
  }
}

/* The end of a field's line. */
static void end_value(hb_sse_t *s) {
  switch (s->field) {
  case F_DATA:
    if (!s->have_mk && (s->mk == MK_SEQ || s->mk == MK_TS0 || s->mk == MK_TS))
      s->have_mk = 1;
    else if (!s->have_mk)
      s->mk = 0;
    break;
  case F_ID:
    if (s->id_ok == 2)
      break;
    s->last_id_ok = s->id_ok == 1 && s->val_type_len > 0 && s->id_val > 0;
    s->last_id = s->last_id_ok ? s->id_val : 0;
    break;
  case F_EVENT:
    memcpy(s->type, s->val_type, s->val_type_len);
    s->type_len = s->val_type_len;
    s->type_over = s->val_type_over;
    break;
  default:
    break;
  }
  s->field = F_OTHER;
}

/* An empty line: dispatch the event being built, if it has data. */
static void dispatch(hb_sse_t *s, hb_sse_event_cb ev, void *ud) {
  if (s->data_lines && s->data_bytes && ev) {
    hb_sse_event_t e;
    e.seq = s->have_mk ? s->mk_seq : s->last_id_ok ? s->last_id : 0;
    e.ts_ns = s->have_mk ? s->mk_ts : 0;
    e.data_bytes = s->data_bytes;
    if (s->type_len) {
      e.type = s->type;
      e.type_len = s->type_len;
    } else {
      e.type = "message";
      e.type_len = 7;
    }
    e.type_truncated = s->type_over;
    ev(&e, ud);
  }
  s->data_lines = 0;
  s->data_bytes = 0;
  s->have_mk = 0;
  s->mk = 0;
  s->type_len = 0;
  s->type_over = 0;
}

/* Index of the first CR or LF in P[0..N), or N. */
static size_t eol(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] == '\n' || p[i] == '\r')
      return i;
  return n;
}

void hb_sse_feed(hb_sse_t *s, const char *p, size_t n, hb_sse_event_cb ev,
                 void *ud) {
  size_t i = 0;
  while (i < n) {
    char c = p[i];
    if (s->after_cr) {
      /* A CR ended the last line; an LF right after it belongs to it. */
      s->after_cr = 0;
      if (c == '\n') {
        i++;
        continue;
      }
    }
    switch (s->state) {
    case S_START:
      i++;
      if (c == '\r' || c == '\n') {
        s->after_cr = c == '\r';
        dispatch(s, ev, ud);
      } else if (c == ':') {
        s->state = S_COMMENT;
      } else {
        s->name[0] = c;
        s->name_len = 1;
        s->state = S_NAME;
      }
      break;
    case S_NAME:
      i++;
      if (c == ':') {
        begin_value(s);
        s->state = S_VALUE_FIRST;
      } else if (c == '\r' || c == '\n') {
        /* A line with no colon: the whole line names a field, value "". */
        begin_value(s);
        end_value(s);
        s->after_cr = c == '\r';
        s->state = S_START;
      } else if (s->name_len < sizeof(s->name)) {
        s->name[s->name_len++] = c;
      } /* else: longer than any field we know; stays unknown */
      break;
    case S_VALUE_FIRST:
      s->state = S_VALUE;
      if (c == ' ') {
        i++;
        break;
      }
      /* fall through */
    case S_VALUE: {
      size_t k = eol(p + i, n - i);
      if (k)
        value_span(s, p + i, k);
      i += k;
      if (i < n) {
        s->after_cr = p[i] == '\r';
        i++;
        end_value(s);
        s->state = S_START;
      }
      break;
    }
    case S_COMMENT: {
      size_t k = eol(p + i, n - i);
      i += k;
      if (i < n) {
        s->after_cr = p[i] == '\r';
        i++;
        s->state = S_START;
      }
      break;
    }
    }
  }
}
