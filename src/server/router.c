/* SPDX-License-Identifier: MIT */
/*
 * server/router.c: route matching by method and exact or prefix path. The
 * first matching route wins; GET routes answer HEAD too.
 */
#include "server/router.h"

#include <string.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "http1/parser.h"

void hcs__router_init(hcs_router_t *r) {
  memset(r, 0, sizeof(*r));
}

void hcs__router_cleanup(hcs_router_t *r) {
  for (size_t i = 0; i < r->count; i++) {
    hcs__free(r->routes[i].method);
    hcs__free(r->routes[i].path);
  }
  hcs__free(r->routes);
  hcs__router_init(r);
}

int hcs__router_add(hcs_router_t *r, const char *method, const char *path,
                    unsigned flags, hcs_handler_cb handler, void *ud) {
  if (path == NULL || path[0] != '/' || handler == NULL ||
      (flags & ~(unsigned)HCS_ROUTE_PREFIX))
    return HCS_EINVAL;
  if (method) {
    if (*method == '\0')
      return HCS_EINVAL;
    for (const char *p = method; *p; p++)
      if (!hcs_http1_is_tchar((unsigned char)*p))
        return HCS_EINVAL;
  }
  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    hcs_route_t *routes = hcs__realloc(r->routes, cap * sizeof(*routes));
    if (routes == NULL)
      return HCS_ENOMEM;
    r->routes = routes;
    r->cap = cap;
  }
  hcs_route_t *rt = &r->routes[r->count];
  rt->method = method ? hcs__strdup(method) : NULL;
  rt->path = hcs__strdup(path);
  if ((method && rt->method == NULL) || rt->path == NULL) {
    hcs__free(rt->method);
    hcs__free(rt->path);
    return HCS_ENOMEM;
  }
  rt->path_len = strlen(path);
  rt->flags = flags;
  rt->handler = handler;
  rt->ud = ud;
  r->count++;
  return 0;
}

static int path_matches(const hcs_route_t *rt, hcs_str_t path) {
  if (rt->flags & HCS_ROUTE_PREFIX)
    return path.len >= rt->path_len &&
           memcmp(path.base, rt->path, rt->path_len) == 0;
  return path.len == rt->path_len && memcmp(path.base, rt->path, path.len) == 0;
}

/* Append ", name" (or "name" first) to the Allow list unless present. */
static void allow_add(char *buf, size_t cap, size_t *len, const char *name) {
  size_t n = strlen(name);
  for (const char *p = buf; p < buf + *len;) {
    const char *end = memchr(p, ',', (size_t)(buf + *len - p));
    size_t item = end ? (size_t)(end - p) : (size_t)(buf + *len - p);
    if (item == n && memcmp(p, name, n) == 0)
      return;
    p = end ? end + 2 : buf + *len;
  }
  size_t sep = *len ? 2 : 0;
  if (*len + sep + n >= cap)
    return; /* the list is advisory; a truncated one stays well-formed */
  if (sep)
    memcpy(buf + *len, ", ", 2);
  memcpy(buf + *len + sep, name, n);
  *len += sep + n;
}

const hcs_route_t *hcs__router_match(const hcs_router_t *r, hcs_str_t method,
                                     hcs_str_t path, char *allow_buf,
                                     size_t allow_cap, hcs_str_t *allow) {
  size_t allow_len = 0;
  bool any = false;
  for (size_t i = 0; i < r->count; i++) {
    const hcs_route_t *rt = &r->routes[i];
    if (!path_matches(rt, path))
      continue;
    if (rt->method == NULL || hcs_str_eq(method, rt->method) ||
        (hcs_str_eq(method, "HEAD") && strcmp(rt->method, "GET") == 0))
      return rt;
    any = true;
    allow_add(allow_buf, allow_cap, &allow_len, rt->method);
    if (strcmp(rt->method, "GET") == 0)
      allow_add(allow_buf, allow_cap, &allow_len, "HEAD");
  }
  allow->base = allow_buf;
  allow->len = any ? allow_len : 0;
  return NULL;
}

int hcs__method_known(hcs_str_t m) {
  static const char *const known[] = {"GET",     "HEAD",    "POST",
                                      "PUT",     "DELETE",  "CONNECT",
                                      "OPTIONS", "TRACE",   "PATCH"};
  for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
    if (hcs_str_eq(m, known[i]))
      return 1;
  return 0;
}
