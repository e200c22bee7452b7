/* SPDX-License-Identifier: MIT */
/*
 * sse/clock.h: alarms on an hcs_clock_t, for heartbeats.
 *
 * An alarm wakes a waker once its clock reaches the time it was set to. On
 * the monotonic clock it is a libuv timer on the loop of the thread that
 * created it; on a manual clock it sits in the clock's list until
 * hcs_clock_manual_advance passes its time. Alarms are created, set and freed
 * on one loop thread; manual clocks may be advanced from any thread.
 */
#ifndef HCS_SSE_CLOCK_H
#define HCS_SSE_CLOCK_H

#include <stdbool.h>

#include "hcs/clock.h"
#include "hcs/response.h"

typedef struct hcs_alarm_s hcs_alarm_t;

/*
 * An unset alarm that will wake `waker` (a reference is taken). Loop thread
 * only. Sets *out and returns 0; HCS_ENOMEM; HCS_ESTATE (monotonic clock
 * off a loop thread).
 */
int hcs__alarm_new(hcs_alarm_t **out, hcs_clock_t *clock, hcs_waker_t *waker);

/* Wake the waker when the clock reaches `at` (replaces an earlier time). */
void hcs__alarm_set(hcs_alarm_t *a, double at);

/* True once the alarm rang since it was last set (loop thread). A timer may
 * ring a little before its time by the clock, so callers re-arm then. */
bool hcs__alarm_rang(hcs_alarm_t *a);

/* Disarm and free (a libuv timer is freed by its close callback). NULL ok. */
void hcs__alarm_free(hcs_alarm_t *a);

#endif
