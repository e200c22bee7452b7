/* SPDX-License-Identifier: MIT */
/*
 * hcs/hcs.h: the umbrella header; includes every public hcs header.
 */
#ifndef HCS_HCS_H
#define HCS_HCS_H

#include "buf.h"
#include "clock.h"
#include "error.h"
#include "request.h"
#include "response.h"
#include "server.h"
#include "sse.h"
#include "str.h"
#include "stream.h"
#include "version.h"

#endif
