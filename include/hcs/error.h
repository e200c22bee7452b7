/* SPDX-License-Identifier: MIT */
/*
 * hcs/error.h: the library's error codes.
 *
 * Every fallible function returns 0 (or a count) on success and a negative
 * HCS_E* code on failure. Where POSIX has the meaning the code is -errno, as
 * in libuv on Linux, so libuv's codes pass through unchanged. hcs's own codes
 * live in a block (-7000 and below) clear of errno and libuv values.
 *
 * One X-macro table, HCS_ERRNO_MAP, yields the enum, hcs_strerror() and
 * hcs_err_name().
 */
#ifndef HCS_ERROR_H
#define HCS_ERROR_H

#include <errno.h>

#include "export.h"

#define HCS_ERRNO_MAP(XX)                                                     \
  XX(EPERM, -EPERM, "operation not permitted")                                \
  XX(ENOENT, -ENOENT, "no such entry")                                        \
  XX(EIO, -EIO, "i/o error")                                                  \
  XX(E2BIG, -E2BIG, "too big")                                                \
  XX(EAGAIN, -EAGAIN, "resource temporarily unavailable (full or empty)")    \
  XX(ENOMEM, -ENOMEM, "not enough memory")                                    \
  XX(EACCES, -EACCES, "permission denied")                                    \
  XX(EBUSY, -EBUSY, "resource busy")                                          \
  XX(EEXIST, -EEXIST, "already exists")                                       \
  XX(EINVAL, -EINVAL, "invalid argument")                                     \
  XX(EMFILE, -EMFILE, "too many open files")                                  \
  XX(ENOSPC, -ENOSPC, "no space left")                                        \
  XX(EPIPE, -EPIPE, "broken pipe")                                            \
  XX(ERANGE, -ERANGE, "value out of range")                                   \
  XX(ENOSYS, -ENOSYS, "function not implemented")                             \
  XX(ECANCELED, -ECANCELED, "operation canceled")                             \
  XX(EADDRINUSE, -EADDRINUSE, "address already in use")                       \
  XX(EADDRNOTAVAIL, -EADDRNOTAVAIL, "address not available")                  \
  XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                     \
  XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                      \
  XX(ECLOSED, -7001, "object already closed")                                 \
  XX(EBADREQUEST, -7002, "malformed HTTP request")                            \
  XX(EHEADERTOOBIG, -7003, "request header fields too large")                 \
  XX(EURITOOLONG, -7004, "request target too long")                           \
  XX(EBODYTOOBIG, -7005, "request body too large")                            \
  XX(EBADVERSION, -7006, "HTTP version not supported")                        \
  XX(ENOTIMPL, -7007, "not implemented")                                      \
  XX(EEXPECT, -7008, "expectation not supported")                             \
  XX(ESTATE, -7009, "call not allowed in this state")

typedef enum {
#define HCS_ERR_ENUM(name, value, text) HCS_##name = (value),
  HCS_ERRNO_MAP(HCS_ERR_ENUM)
#undef HCS_ERR_ENUM
} hcs_errno_t;

/*
 * Describe an error code in a short sentence. Unknown codes (including
 * errno values not in the table) get the C library's text or "unknown error".
 * Returns a static string; never NULL. Any thread.
 */
HCS_EXTERN const char *hcs_strerror(int err);

/*
 * The symbolic name of an error code ("EINVAL", "EBADREQUEST"), or "UNKNOWN".
 * Returns a static string; never NULL. Any thread.
 */
HCS_EXTERN const char *hcs_err_name(int err);

#endif
