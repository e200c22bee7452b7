/* SPDX-License-Identifier: MIT */
/*
 * sse/respond.h: the stream-backed SSE response with every option, for
 * other modules of the library (hive's SSE glue).
 */
#ifndef HCS_SSE_RESPOND_H
#define HCS_SSE_RESPOND_H

#include <stdbool.h>

#include "hcs/sse.h"

/*
 * A response draining `stream`: items are hcs_buf_t * (raw) or
 * hcs_sse_event_t *. On `clock`: heartbeats as in
 * hcs_sse_respond_with_heartbeat when interval > 0, and the stream ends
 * (cleanly, reason HCS_CLOSE_ERROR) end_after seconds from now when
 * end_after > 0. Returns 0, HCS_EINVAL, HCS_ENOMEM.
 */
int hcs__sse_respond_stream(hcs_response_t **out,
                            const hcs_sse_options_t *opts,
                            hcs_stream_t *stream, bool raw,
                            hcs_clock_t *clock, double interval,
                            double end_after);

#endif
