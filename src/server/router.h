/* SPDX-License-Identifier: MIT */
/*
 * server/router.h: the route table. Routes are added before the server
 * starts and are read-only afterwards, so workers match without locks.
 */
#ifndef HCS_SERVER_ROUTER_H
#define HCS_SERVER_ROUTER_H

#include <stddef.h>

#include "hcs/server.h"
#include "hcs/str.h"

typedef struct hcs_route_s {
  char *method; /* NULL: any method */
  char *path;
  size_t path_len;
  unsigned flags;
  hcs_handler_cb handler;
  void *ud;
} hcs_route_t;

typedef struct hcs_router_s {
  hcs_route_t *routes;
  size_t count, cap;
} hcs_router_t;

void hcs__router_init(hcs_router_t *r);
void hcs__router_cleanup(hcs_router_t *r);

/* Add a route (strings copied). 0, HCS_EINVAL or HCS_ENOMEM. */
int hcs__router_add(hcs_router_t *r, const char *method, const char *path,
                    unsigned flags, hcs_handler_cb handler, void *ud);

/*
 * Find the route for method + decoded path. Returns it, or NULL; on NULL,
 * *allow is set to the "Allow" value (e.g. "GET, HEAD, POST", written into
 * allow_buf of allow_cap bytes) when the path matched routes of other
 * methods (405), or to an empty slice when nothing matched (404).
 */
const hcs_route_t *hcs__router_match(const hcs_router_t *r, hcs_str_t method,
                                     hcs_str_t path, char *allow_buf,
                                     size_t allow_cap, hcs_str_t *allow);

/* True for the methods the server knows (RFC 9110 and PATCH). */
int hcs__method_known(hcs_str_t method);

#endif
