/* SPDX-License-Identifier: MIT */
/*
 * http1/urlencoded.h: percent-decoding, request paths, and
 * application/x-www-form-urlencoded pairs (query strings and form bodies).
 * Pure functions over bytes.
 */
#ifndef HCS_HTTP1_URLENCODED_H
#define HCS_HTTP1_URLENCODED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "hcs/str.h"

/*
 * Percent-decode in[0..len) into out (capacity >= len; out may equal in).
 * With plus_is_space, '+' becomes ' '. Returns the decoded length or
 * HCS_EINVAL for a malformed escape ('%' not followed by two hex digits).
 */
ssize_t hcs_percent_decode(const char *in, size_t len, char *out,
                           bool plus_is_space);

/*
 * Turn the path part of a request-target (origin-form "/a/b", or the path
 * of an absolute-form "http://host/a/b"; the query is not included) into the
 * decoded, normalised path written to out (capacity >= len + 1): escapes
 * decoded, dot-segments removed (RFC 3986 §5.2.4). Returns the length, or
 * HCS_EINVAL for a malformed escape, a decoded NUL, a path that does not
 * start with '/', or ".." that climbs above the root.
 */
ssize_t hcs_path_normalize(const char *in, size_t len, char *out);

/*
 * Split a request-target into path and query. Absolute-form
 * ("http://host:port/p?q") yields the path and query of the URL; "*" yields
 * "*". Returns 0, or HCS_EINVAL for an unsupported form.
 */
int hcs_target_split(hcs_str_t target, hcs_str_t *path, hcs_str_t *query);

/*
 * Iterate over the raw pairs of an urlencoded string: split on '&', then on
 * the first '='. *pos starts at 0. Returns 0 with the raw (undecoded) name
 * and value, skipping empty pieces, or HCS_ENOENT at the end.
 */
int hcs_urlencoded_next(hcs_str_t in, size_t *pos, hcs_str_t *name,
                        hcs_str_t *value);

#endif
