/* SPDX-License-Identifier: MIT */
/*
 * hcs-hub/assets.h: the dashboard's files, embedded in the binary.
 *
 * At build time embed_assets.cmake turns every file under
 * tools/hcs-hub/dashboard/ into a byte array of the generated
 * dashboard_assets.c, which defines hub_assets[] and hub_nassets. Nothing is
 * read from disk at run time and nothing is fetched from a CDN: the page, its
 * script and its style sheet are served from these arrays.
 *
 * URL paths: dashboard/index.html is "/", every other file is
 * "/assets/<its path under dashboard/>" (dashboard/app.js is
 * "/assets/app.js"). The table is constant and immutable: any thread may read
 * it at any time, nothing is allocated and nothing needs freeing.
 */
#ifndef HCS_HUB_ASSETS_H
#define HCS_HUB_ASSETS_H

#include <stddef.h>

/* One embedded file. Every field points to static storage. */
typedef struct {
  /* The URL path it is served at: "/" for index.html, "/assets/app.js", ... */
  const char *path;
  /* The Content-Type header value, with "; charset=utf-8" for text types:
   * "text/html; charset=utf-8", "text/javascript; charset=utf-8",
   * "text/css; charset=utf-8", "image/svg+xml", ... */
  const char *content_type;
  /* The file's bytes; a NUL follows the last one (data[len] == 0), so a text
   * asset is also a C string, but len is what to send. */
  const unsigned char *data;
  /* The number of bytes, without that NUL. */
  size_t len;
} hub_asset_t;

/* The table, in the order of the files' paths; hub_nassets entries. */
extern const hub_asset_t hub_assets[];
extern const size_t hub_nassets;

/*
 * Finds the asset served at a URL path.
 *
 * path: the request target's path, borrowed for the call; it need not be
 * NUL-terminated. A query string ("?v=1") or fragment is ignored, so the
 * raw request target may be passed. len: its length in bytes.
 *
 * Returns the asset, or NULL when no asset has that path (the caller answers
 * 404). Paths are compared byte for byte, case-sensitively, with no decoding.
 * Thread-safe.
 *
 *   const hub_asset_t *a = hub_asset_find(target, target_len);
 *   if (a != NULL)
 *     send 200 with Content-Type a->content_type and body a->data, a->len
 */
const hub_asset_t *hub_asset_find(const char *path, size_t len);

#endif /* HCS_HUB_ASSETS_H */
