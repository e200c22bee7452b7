/* SPDX-License-Identifier: MIT */
/*
 * hcs/hcs.h: the umbrella header; includes every public hcs header.
 */
#ifndef HCS_HCS_H
#define HCS_HCS_H

#include "buf.h"
#include "error.h"
#include "request.h"
#include "response.h"
#include "server.h"
#include "str.h"
#include "version.h"

#endif
