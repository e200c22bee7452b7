/* SPDX-License-Identifier: MIT */
/*
 * hcs/request.h: read-only access to a parsed HTTP request.
 *
 * A request is handed to a handler (see hcs/server.h) and is valid only for
 * the duration of that handler call: every slice returned here points into
 * memory the library reuses afterwards. Copy what must outlive the call.
 * All functions run on the worker thread that called the handler.
 */
#ifndef HCS_REQUEST_H
#define HCS_REQUEST_H

#include <stddef.h>

#include "export.h"
#include "str.h"

typedef struct hcs_request_s hcs_request_t;

/* The method token exactly as sent ("GET", "POST", ...). */
HCS_EXTERN hcs_str_t hcs_request_method(const hcs_request_t *req);

/* The raw request-target as sent (e.g. "/a%20b?x=1"). */
HCS_EXTERN hcs_str_t hcs_request_target(const hcs_request_t *req);

/*
 * The path: percent-decoded, dot-segments removed, without the query.
 * Requests whose path cannot be decoded (bad escape, NUL, ".." above the
 * root) never reach a handler: they are answered 400.
 */
HCS_EXTERN hcs_str_t hcs_request_path(const hcs_request_t *req);

/* The raw query string after '?', not decoded; empty when there is none. */
HCS_EXTERN hcs_str_t hcs_request_query(const hcs_request_t *req);

/* The HTTP minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
HCS_EXTERN int hcs_request_minor_version(const hcs_request_t *req);

/*
 * Look up the first header field whose name equals `name` (ASCII
 * case-insensitive). On success sets *value (leading and trailing spaces and
 * tabs removed) and returns 0; returns HCS_ENOENT when absent.
 */
HCS_EXTERN int hcs_request_header(const hcs_request_t *req, const char *name,
                                  hcs_str_t *value);

/* Number of header fields, in the order received. */
HCS_EXTERN size_t hcs_request_header_count(const hcs_request_t *req);

/*
 * The index-th header field. Returns 0, or HCS_ERANGE when index is not below
 * hcs_request_header_count().
 */
HCS_EXTERN int hcs_request_header_at(const hcs_request_t *req, size_t index,
                                     hcs_str_t *name, hcs_str_t *value);

/*
 * Iterate over the query parameters named `name`, decoded as
 * application/x-www-form-urlencoded ('+' is a space, %XX escapes decoded).
 * Start with *cursor = 0; each call that finds the next match sets *value and
 * returns 0, and HCS_ENOENT ends the iteration. Pairs with a malformed escape
 * are skipped. Returns HCS_ENOMEM if the decoded copy could not be allocated,
 * HCS_E2BIG when the query has more than 10000 pairs.
 *
 *   size_t it = 0; hcs_str_t topic;
 *   while (hcs_request_query_next(req, "topic", &it, &topic) == 0) { ... }
 */
HCS_EXTERN int hcs_request_query_next(hcs_request_t *req, const char *name,
                                      size_t *cursor, hcs_str_t *value);

/* The first query parameter named `name`; 0, HCS_ENOENT or HCS_ENOMEM. */
HCS_EXTERN int hcs_request_query_param(hcs_request_t *req, const char *name,
                                       hcs_str_t *value);

/*
 * The client's address as text ("127.0.0.1", "::1") into buf (cap bytes,
 * NUL-terminated). Returns 0, or a negative error (then buf holds "-").
 */
HCS_EXTERN int hcs_request_peer(const hcs_request_t *req, char *buf,
                                size_t cap);

/*
 * Like hcs_request_query_next and hcs_request_query_param, over the body
 * read as application/x-www-form-urlencoded (the Content-Type is not
 * checked: see hcs_request_header). Decoded on first use; values stay valid
 * until the handler returns.
 */
HCS_EXTERN int hcs_request_form_next(hcs_request_t *req, const char *name,
                                     size_t *cursor, hcs_str_t *value);
HCS_EXTERN int hcs_request_form_param(hcs_request_t *req, const char *name,
                                      hcs_str_t *value);

/*
 * The request body, de-chunked, complete (the handler runs after the whole
 * body has arrived, up to the server's max_body_bytes). Empty when none.
 */
HCS_EXTERN hcs_str_t hcs_request_body(const hcs_request_t *req);

#endif
