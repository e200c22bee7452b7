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
 * decoded, normalised path written to out (capacity >= len + 1; out may
 * equal in): escapes decoded, dot-segments removed (RFC 3986 §5.2.4).
 * Returns the length, and out is NUL-terminated after it; or HCS_EINVAL for
 * a malformed escape, a decoded NUL, a path that does not start with a
 * literal '/', or ".." that climbs above the root.
 *
 * Escapes are decoded first, so "%2e%2e" is a dot-segment and "%2F" a
 * separator. Empty segments stay ("/a//b"). A final "." or ".." segment
 * leaves no trailing slash: "/a/b/.." gives "/a" and "/a/." gives "/a"
 * (RFC 3986 would give "/a/"), while "/a/b/../" gives "/a/"; a path that
 * normalises to nothing gives "/".
 */
ssize_t hcs_path_normalize(const char *in, size_t len, char *out);

/*
 * Split a request-target into path and query (neither decoded; the query
 * excludes the '?' and is empty when there is none). Origin-form ("/p?q")
 * is split as is. Absolute-form ("http://host:port/p?q", scheme "http" or
 * "https" in any case) skips the authority and yields the URL's path, or
 * "/" when it has none. "*" yields "*". The slices point into target,
 * except the "/" of an absolute-form without a path (a static string).
 * Returns 0, or HCS_EINVAL for an unsupported form: empty, authority-form
 * ("host:443"), relative, another scheme, an absolute-form without a host
 * or with userinfo ('@'), or any target holding '#'.
 */
int hcs_target_split(hcs_str_t target, hcs_str_t *path, hcs_str_t *query);

/*
 * Iterate over the raw pairs of an urlencoded string: split on '&', then on
 * the first '='. *pos starts at 0. Returns 0 with the raw (undecoded) name
 * and value, skipping empty pieces, or HCS_ENOENT at the end. A piece
 * without '=' has an empty value; "=v" has an empty name. The slices point
 * into in.
 */
int hcs_urlencoded_next(hcs_str_t in, size_t *pos, hcs_str_t *name,
                        hcs_str_t *value);

#endif
