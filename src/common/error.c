/* SPDX-License-Identifier: MIT */
/*
 * common/error.c: hcs_strerror() and hcs_err_name() from the HCS_ERRNO_MAP
 * table in hcs/error.h.
 */
#include "hcs/error.h"

#include <string.h>

const char *hcs_strerror(int err) {
  switch (err) {
#define HCS_ERR_TEXT(name, value, text)                                       \
  case value:                                                                 \
    return text;
    HCS_ERRNO_MAP(HCS_ERR_TEXT)
#undef HCS_ERR_TEXT
  default:
    break;
  }
  if (err < 0 && err > -4096)
    return strerror(-err); /* glibc's strerror returns static text */
  return "unknown error";
}

const char *hcs_err_name(int err) {
  switch (err) {
#define HCS_ERR_NAME(name, value, text)                                       \
  case value:                                                                 \
    return #name;
    HCS_ERRNO_MAP(HCS_ERR_NAME)
#undef HCS_ERR_NAME
  default:
    return "UNKNOWN";
  }
}
