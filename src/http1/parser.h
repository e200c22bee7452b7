/* SPDX-License-Identifier: MIT */
/*
 * http1/parser.h: the HTTP/1.1 request-head parser (RFC 9112), a pure
 * function over bytes: no I/O, no allocation, no global state.
 *
 * The caller accumulates received bytes and calls hcs_http1_parse_request on
 * the whole prefix each time more arrive; the parser either finds a complete
 * head, says it needs more, or rejects the input. The result's slices point
 * into the caller's buffer.
 *
 * It is strict, to leave no room for request smuggling: lines end with CRLF
 * only; tokens are RFC 9110 tchar; field values hold no NUL, CR or LF;
 * obs-fold, whitespace before a field's colon, both Content-Length and
 * Transfer-Encoding, differing Content-Length values, and any
 * Transfer-Encoding other than a final "chunked" are rejected.
 */
#ifndef HCS_HTTP1_PARSER_H
#define HCS_HTTP1_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hcs/str.h"

#define HCS_HTTP1_MAX_HEADERS 100 /* more fields: HCS_EHEADERTOOBIG (431) */

typedef struct hcs_http1_header_s {
  hcs_str_t name;  /* token, case preserved                              */
  hcs_str_t value; /* leading/trailing SP and HTAB removed               */
} hcs_http1_header_t;

typedef enum {
  HCS_HTTP1_BODY_NONE = 0,    /* no body (also "Content-Length: 0")      */
  HCS_HTTP1_BODY_LENGTH = 1,  /* content_length (> 0) bytes follow       */
  HCS_HTTP1_BODY_CHUNKED = 2, /* chunked body follows the head           */
} hcs_http1_body_t;

typedef struct hcs_http1_request_s {
  hcs_str_t method;       /* token                                         */
  hcs_str_t target;       /* request-target as sent                        */
  int minor_version;      /* 0 or 1                                        */
  size_t num_headers;
  hcs_http1_header_t headers[HCS_HTTP1_MAX_HEADERS];
  hcs_http1_body_t body;
  uint64_t content_length; /* with HCS_HTTP1_BODY_LENGTH, <= INT64_MAX;
                              0 otherwise                                  */
  bool keep_alive;        /* persistent after this request (version and
                             Connection: close / keep-alive tokens)        */
  bool expect_continue;   /* Expect: 100-continue, in HTTP/1.1 only (a
                             1.0 request's expectation is ignored,
                             RFC 9110 §10.1.1)                             */
} hcs_http1_request_t;

typedef struct hcs_http1_limits_s {
  size_t max_header_bytes; /* leading CRLFs + request line + fields +
                              final CRLF; must be > 0                      */
  size_t max_target_bytes; /* request-target; 0 = max_header_bytes         */
} hcs_http1_limits_t;

/*
 * Parse a request head from buf[0..len). Empty lines (CRLF) before the
 * request line are skipped (RFC 9112 §2.2) and counted in the head length.
 *
 * Returns the length of the head (through the empty line) and fills *out;
 * HCS_EAGAIN when the bytes are a valid but incomplete prefix (and fewer than
 * the limits allow); or an error, each with the status the server answers:
 *   HCS_EBADREQUEST   400  malformed syntax, smuggling shapes, bad framing
 *   HCS_EURITOOLONG   414  request-target longer than max_target_bytes
 *   HCS_EHEADERTOOBIG 431  head longer than max_header_bytes, or more than
 *                          HCS_HTTP1_MAX_HEADERS fields
 *   HCS_EBADVERSION   505  a well-formed version other than HTTP/1.0, 1.1
 *   HCS_ENOTIMPL      501  Transfer-Encoding other than chunked
 *   HCS_EEXPECT       417  an Expect value other than 100-continue
 * A prefix of a request that would be rejected may already be rejected, and
 * then with the same code: the bytes are judged in order and the first
 * offending byte decides. Syntax is checked byte by byte; each field line's
 * meaning (Content-Length, Transfer-Encoding on 1.0, both framings, a
 * second Host, Host and Connection syntax) when its CRLF arrives; missing
 * Host, the transfer codings (400 before 501) and Expect (417) when the
 * head is complete. On any error *out is left partly written.
 *
 * Details of the rules:
 *  - The request-target is 1*(0x21-0x7E); it is too long (414) as soon as
 *    its (max_target_bytes + 1)-th byte arrives. When max_header_bytes runs
 *    out while the target is still being read, the answer is 414, not 431.
 *  - A head is too big (431) once max_header_bytes bytes have arrived
 *    without its final empty line, or at the first byte of field line
 *    HCS_HTTP1_MAX_HEADERS + 1.
 *  - Only "HTTP/1.0" and "HTTP/1.1" are accepted; another "HTTP/" DIGIT "."
 *    DIGIT is a 505 once its CRLF arrives; anything else is a 400.
 *  - Content-Length: 1*DIGIT up to INT64_MAX; several values (list or
 *    repeated lines) only if all are equal in value. 0 gives BODY_NONE.
 *  - Transfer-Encoding (lines combined into one list; every element must
 *    be a bare coding name: parameters and empty elements are a 400):
 *    400 in HTTP/1.0, with Content-Length, with no coding, or when the last
 *    coding is not "chunked" ("identity", "gzip", "chunked, identity");
 *    501 when chunked is last but not alone ("gzip, chunked",
 *    "chunked, chunked"). Only a lone "chunked" gives BODY_CHUNKED.
 *  - Host (RFC 9112 §3.2): exactly one in HTTP/1.1, at most one in 1.0, its
 *    value empty or uri-host [":" port]; otherwise 400.
 *  - Connection must be a list of tokens (400 otherwise). keep_alive is
 *    true for 1.1 unless it lists "close", for 1.0 only if it lists
 *    "keep-alive" and not "close".
 *  - Expect: every Expect line must be exactly "100-continue" (case
 *    insensitive), otherwise 417.
 */
ssize_t hcs_http1_parse_request(const char *buf, size_t len,
                                const hcs_http1_limits_t *limits,
                                hcs_http1_request_t *out);

/*
 * Case-insensitive lookup of the first field named `name` (a C string) in a
 * parsed request. Returns its index, or -1.
 */
int hcs_http1_find_header(const hcs_http1_request_t *req, const char *name);

/*
 * ASCII case-insensitive comparison of a slice with a C string: true when
 * they have the same length and bytes up to ASCII case.
 */
bool hcs_http1_str_ieq(hcs_str_t a, const char *b);

/* True for an RFC 9110 tchar. */
bool hcs_http1_is_tchar(unsigned char c);

#endif
