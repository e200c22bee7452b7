/* SPDX-License-Identifier: MIT */
/*
 * server/request.h: the request object handed to handlers (private side).
 * It lives on the worker's stack for one handler call and points into the
 * connection's input and the worker's scratch.
 */
#ifndef HCS_SERVER_REQUEST_H
#define HCS_SERVER_REQUEST_H

#include "hcs/request.h"
#include "http1/parser.h"

#include <uv.h>

typedef struct hcs_query_pair_s {
  hcs_str_t name, value; /* decoded */
} hcs_query_pair_t;

/* Decoded urlencoded pairs, built on first use in one allocation. */
typedef struct hcs_pairs_s {
  hcs_query_pair_t *pairs;
  size_t n;
  bool ready;
} hcs_pairs_t;

struct hcs_request_s {
  const hcs_http1_request_t *head;
  hcs_str_t path, query, body;
  const uv_tcp_t *tcp;      /* the connection's socket */
  hcs_pairs_t query_pairs; /* the query's */
  hcs_pairs_t form_pairs;  /* the body's, as a form */
};

/* Free what the request allocated (the decoded query and form). */
void hcs__request_cleanup(hcs_request_t *req);

#endif
