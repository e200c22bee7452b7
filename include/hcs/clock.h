/* SPDX-License-Identifier: MIT */
/*
 * hcs/clock.h: the clocks heartbeats read (the seed's `Eio.Time.clock`).
 *
 * Two kinds: the process-wide monotonic clock, whose alarms are timers on the
 * loop of the response that set them, and manual clocks for tests, whose time
 * moves only when hcs_clock_manual_advance says so; advancing fires every
 * alarm that became due, so heartbeat tests never sleep.
 *
 * Time is in seconds as a double, from an arbitrary origin.
 */
#ifndef HCS_CLOCK_H
#define HCS_CLOCK_H

#include "export.h"

typedef struct hcs_clock_s hcs_clock_t;

/* The monotonic clock (uv_hrtime). Static: never freed. */
HCS_EXTERN hcs_clock_t *hcs_clock_monotonic(void);

/*
 * A manual clock starting at `start` seconds. Sets *out and returns 0, or
 * HCS_ENOMEM. Free with hcs_clock_free once no response uses it.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_clock_manual_new(hcs_clock_t **out,
                                                    double start);

/*
 * Move a manual clock forward by `seconds` (>= 0) and wake every response
 * whose alarm is now due. Any thread. Returns 0, HCS_EINVAL (negative
 * seconds, or not a manual clock).
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_clock_manual_advance(hcs_clock_t *clock,
                                                        double seconds);

/* The current time of clock, in seconds. Any thread. */
HCS_EXTERN double hcs_clock_now(hcs_clock_t *clock);

/* Free a manual clock. The monotonic clock and NULL are ignored. */
HCS_EXTERN void hcs_clock_free(hcs_clock_t *clock);

#endif
