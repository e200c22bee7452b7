/* SPDX-License-Identifier: MIT */
/*
 * hcs/version.h: the library's version, as numbers and as a string.
 */
#ifndef HCS_VERSION_H
#define HCS_VERSION_H

#define HCS_VERSION_MAJOR 0
#define HCS_VERSION_MINOR 1
#define HCS_VERSION_PATCH 0
#define HCS_VERSION_STRING "0.1.0"

#endif
