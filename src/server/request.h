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

typedef struct hcs_query_pair_s {
  hcs_str_t name, value; /* decoded */
} hcs_query_pair_t;

struct hcs_request_s {
  const hcs_http1_request_t *head;
  hcs_str_t path, query, body;
  hcs_query_pair_t *pairs; /* decoded query, built on first use */
  size_t npairs;
  bool pairs_ready;
};

/* Free what the request allocated (the decoded query). */
void hcs__request_cleanup(hcs_request_t *req);

#endif
