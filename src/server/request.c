/* SPDX-License-Identifier: MIT */
/*
 * server/request.c: request accessors (hcs/request.h). The query string is
 * decoded once, on first use, into one allocation freed after the handler.
 */
#include "server/request.h"

#include <string.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "http1/urlencoded.h"

hcs_str_t hcs_request_method(const hcs_request_t *req) {
  return req->head->method;
}

hcs_str_t hcs_request_target(const hcs_request_t *req) {
  return req->head->target;
}

hcs_str_t hcs_request_path(const hcs_request_t *req) {
  return req->path;
}

hcs_str_t hcs_request_query(const hcs_request_t *req) {
  return req->query;
}

int hcs_request_minor_version(const hcs_request_t *req) {
  return req->head->minor_version;
}

int hcs_request_header(const hcs_request_t *req, const char *name,
                       hcs_str_t *value) {
  int i = hcs_http1_find_header(req->head, name);
  if (i < 0)
    return HCS_ENOENT;
  *value = req->head->headers[i].value;
  return 0;
}

size_t hcs_request_header_count(const hcs_request_t *req) {
  return req->head->num_headers;
}

int hcs_request_header_at(const hcs_request_t *req, size_t index,
                          hcs_str_t *name, hcs_str_t *value) {
  if (index >= req->head->num_headers)
    return HCS_ERANGE;
  *name = req->head->headers[index].name;
  *value = req->head->headers[index].value;
  return 0;
}

hcs_str_t hcs_request_body(const hcs_request_t *req) {
  return req->body;
}

/* Decode every pair of the query into one block: the pair array, then the
 * decoded bytes (never longer than the raw query). */
static int decode_query(hcs_request_t *req) {
  hcs_str_t q = req->query;
  size_t max_pairs = 1;
  for (size_t i = 0; i < q.len; i++)
    max_pairs += q.base[i] == '&';
  hcs_query_pair_t *pairs =
      hcs__malloc(max_pairs * sizeof(*pairs) + q.len + 1);
  if (pairs == NULL)
    return HCS_ENOMEM;
  char *out = (char *)(pairs + max_pairs);
  size_t n = 0, pos = 0;
  hcs_str_t name, value;
  while (hcs_urlencoded_next(q, &pos, &name, &value) == 0) {
    ssize_t nl = hcs_percent_decode(name.base, name.len, out, true);
    if (nl < 0)
      continue;
    ssize_t vl = hcs_percent_decode(value.base, value.len, out + nl, true);
    if (vl < 0)
      continue;
    pairs[n].name = (hcs_str_t){out, (size_t)nl};
    pairs[n].value = (hcs_str_t){out + nl, (size_t)vl};
    out += nl + vl;
    n++;
  }
  req->pairs = pairs;
  req->npairs = n;
  req->pairs_ready = true;
  return 0;
}

int hcs_request_query_next(hcs_request_t *req, const char *name,
                           size_t *cursor, hcs_str_t *value) {
  if (!req->pairs_ready) {
    int err = decode_query(req);
    if (err < 0)
      return err;
  }
  for (size_t i = *cursor; i < req->npairs; i++) {
    if (hcs_str_eq(req->pairs[i].name, name)) {
      *value = req->pairs[i].value;
      *cursor = i + 1;
      return 0;
    }
  }
  *cursor = req->npairs;
  return HCS_ENOENT;
}

int hcs_request_query_param(hcs_request_t *req, const char *name,
                            hcs_str_t *value) {
  size_t it = 0;
  return hcs_request_query_next(req, name, &it, value);
}

void hcs__request_cleanup(hcs_request_t *req) {
  hcs__free(req->pairs);
  req->pairs = NULL;
  req->pairs_ready = false;
}
