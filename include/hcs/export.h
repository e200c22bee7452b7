/* SPDX-License-Identifier: MIT */
/*
 * hcs/export.h: symbol visibility and function attributes shared by every
 * public header. The library is built with hidden visibility; only
 * declarations marked HCS_EXTERN are exported.
 */
#ifndef HCS_EXPORT_H
#define HCS_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define HCS_EXTERN __attribute__((visibility("default")))
#define HCS_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define HCS_EXTERN
#define HCS_WARN_UNUSED
#endif

#endif
