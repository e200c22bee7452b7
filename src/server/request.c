/* SPDX-License-Identifier: MIT */
/*
 * server/request.c: request accessors (hcs/request.h). The query string is
 * decoded once, on first use, into one allocation freed after the handler.
 */
#include "server/request.h"

#include <string.h>
#include <sys/socket.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "http1/urlencoded.h"

/* Most name=value pairs decoded from one query or form body. */
#define HCS_MAX_PAIRS 10000

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

/* Decode every pair of an urlencoded string into one block: the pair array,
 * then the decoded bytes (never longer than the raw string). Pairs with a
 * malformed escape are skipped. */
static int decode_pairs(hcs_str_t in, hcs_pairs_t *out) {
  size_t max_pairs = 1;
  for (size_t i = 0; i < in.len; i++)
    max_pairs += in.base[i] == '&';
  /* A pair costs 32 bytes however short: "a&a&..." must not cost 16 times
   * its size. */
  if (max_pairs > HCS_MAX_PAIRS)
    return HCS_E2BIG;
  hcs_query_pair_t *pairs =
      hcs__malloc(max_pairs * sizeof(*pairs) + in.len + 1);
  if (pairs == NULL)
    return HCS_ENOMEM;
  char *dst = (char *)(pairs + max_pairs);
  size_t n = 0, pos = 0;
  hcs_str_t name, value;
  while (hcs_urlencoded_next(in, &pos, &name, &value) == 0) {
    ssize_t nl = hcs_percent_decode(name.base, name.len, dst, true);
    if (nl < 0)
      continue;
    ssize_t vl = hcs_percent_decode(value.base, value.len, dst + nl, true);
    if (vl < 0)
      continue;
    pairs[n].name = (hcs_str_t){dst, (size_t)nl};
    pairs[n].value = (hcs_str_t){dst + nl, (size_t)vl};
    dst += nl + vl;
    n++;
  }
  out->pairs = pairs;
  out->n = n;
  out->ready = true;
  return 0;
}

/* The next pair named `name` at or after *cursor. */
static int pairs_next(hcs_str_t in, hcs_pairs_t *ps, const char *name,
                      size_t *cursor, hcs_str_t *value) {
  if (!ps->ready) {
    int err = decode_pairs(in, ps);
    if (err < 0)
      return err;
  }
  for (size_t i = *cursor; i < ps->n; i++) {
    if (hcs_str_eq(ps->pairs[i].name, name)) {
      *value = ps->pairs[i].value;
      *cursor = i + 1;
      return 0;
    }
  }
  *cursor = ps->n;
  return HCS_ENOENT;
}

int hcs_request_query_next(hcs_request_t *req, const char *name,
                           size_t *cursor, hcs_str_t *value) {
  return pairs_next(req->query, &req->query_pairs, name, cursor, value);
}

int hcs_request_query_param(hcs_request_t *req, const char *name,
                            hcs_str_t *value) {
  size_t it = 0;
  return hcs_request_query_next(req, name, &it, value);
}

int hcs_request_form_next(hcs_request_t *req, const char *name,
                          size_t *cursor, hcs_str_t *value) {
  return pairs_next(req->body, &req->form_pairs, name, cursor, value);
}

int hcs_request_form_param(hcs_request_t *req, const char *name,
                           hcs_str_t *value) {
  size_t it = 0;
  return hcs_request_form_next(req, name, &it, value);
}

void hcs__request_cleanup(hcs_request_t *req) {
  hcs__free(req->query_pairs.pairs);
  hcs__free(req->form_pairs.pairs);
  req->query_pairs = (hcs_pairs_t){0};
  req->form_pairs = (hcs_pairs_t){0};
}

int hcs_request_peer(const hcs_request_t *req, char *buf, size_t cap) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  int err = req->tcp ? uv_tcp_getpeername(req->tcp, (struct sockaddr *)&ss, &len)
                     : HCS_ENOENT;
  if (err == 0)
    err = ss.ss_family == AF_INET6
              ? uv_ip6_name((struct sockaddr_in6 *)&ss, buf, cap)
              : uv_ip4_name((struct sockaddr_in *)&ss, buf, cap);
  if (err < 0 && cap >= 2)
    memcpy(buf, "-", 2);
  return err;
}
