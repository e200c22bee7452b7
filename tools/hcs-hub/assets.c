/* SPDX-License-Identifier: MIT */
/*
 * hcs-hub/assets.c: lookup in the embedded dashboard files (assets.h). The
 * table itself is generated at build time (embed_assets.cmake writes
 * dashboard_assets.c); it holds a handful of entries, so a linear scan is as
 * fast as anything else and needs no state.
 */
#include "assets.h"

#include <string.h>

const hub_asset_t *hub_asset_find(const char *path, size_t len) {
  size_t i;
  const char *end;

  if (path == NULL)
    return NULL;
  /* Browsers add cache-busting query strings; the asset is the same. */
  end = memchr(path, '?', len);
  if (end != NULL)
    len = (size_t)(end - path);
  end = memchr(path, '#', len);
  if (end != NULL)
    len = (size_t)(end - path);
  for (i = 0; i < hub_nassets; i++) {
    const hub_asset_t *a = &hub_assets[i];
    if (strlen(a->path) == len && memcmp(a->path, path, len) == 0)
      return a;
  }
  return NULL;
}
