/* SPDX-License-Identifier: MIT */
/*
 * Clocks (hcs/clock.h) and their alarms (sse/clock.h).
 *
 * The monotonic clock reads uv_hrtime; its alarms are libuv timers on the
 * creating worker's loop. A manual clock keeps its time and its armed alarms
 * under one mutex; advancing it wakes the alarms that became due.
 */
#include "sse/clock.h"

#include <math.h>
#include <stdatomic.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/list.h"
#include "hcs/error.h"
#include "response/response.h"
#include "server/worker.h"

struct hcs_clock_s {
  bool manual;
  uv_mutex_t lock;   /* manual clocks: guards now and alarms */
  double now;        /* manual clocks: seconds */
  hcs_list_t alarms; /* manual clocks: armed alarms */
};

struct hcs_alarm_s {
  hcs_clock_t *clock;
  hcs_waker_t *waker;
  uv_timer_t timer;  /* monotonic clock */
  hcs_list_t node;    /* manual clock: in clock->alarms while armed */
  double at;
  atomic_bool rang;   /* rang since last set */
};

static hcs_clock_t monotonic = {.manual = false};

hcs_clock_t *hcs_clock_monotonic(void) { return &monotonic; }

int hcs_clock_manual_new(hcs_clock_t **out, double start) {
  hcs_clock_t *c = hcs__calloc(1, sizeof(*c));
  if (c == NULL)
    return HCS_ENOMEM;
  if (uv_mutex_init(&c->lock) != 0) {
    hcs__free(c);
    return HCS_ENOMEM;
  }
  c->manual = true;
  c->now = start;
  hcs_list_init(&c->alarms);
  *out = c;
  return 0;
}

void hcs_clock_free(hcs_clock_t *clock) {
  if (clock == NULL || !clock->manual)
    return;
  uv_mutex_destroy(&clock->lock);
  hcs__free(clock);
}

double hcs_clock_now(hcs_clock_t *clock) {
  if (!clock->manual)
    return (double)uv_hrtime() / 1e9;
  uv_mutex_lock(&clock->lock);
  double now = clock->now;
  uv_mutex_unlock(&clock->lock);
  return now;
}

int hcs_clock_manual_advance(hcs_clock_t *clock, double seconds) {
  if (clock == NULL || !clock->manual || !(seconds >= 0))
    return HCS_EINVAL;
  uv_mutex_lock(&clock->lock);
  clock->now += seconds;
  /* Wake under the lock, so no due alarm can be freed meanwhile; a wake only
   * posts to a queue. A woken alarm is disarmed until set again. */
  hcs_list_t *n, *next;
  for (n = clock->alarms.next; n != &clock->alarms; n = next) {
    next = n->next;
    hcs_alarm_t *a = hcs_list_entry(n, hcs_alarm_t, node);
    if (a->at <= clock->now) {
      hcs_list_remove(&a->node);
      atomic_store(&a->rang, true);
      hcs_waker_wake(a->waker);
    }
  }
  uv_mutex_unlock(&clock->lock);
  return 0;
}

int hcs__alarm_new(hcs_alarm_t **out, hcs_clock_t *clock, hcs_waker_t *waker) {
  hcs_worker_t *w = NULL;
  if (!clock->manual && (w = hcs__current_worker()) == NULL)
    return HCS_ESTATE;
  hcs_alarm_t *a = hcs__calloc(1, sizeof(*a));
  if (a == NULL)
    return HCS_ENOMEM;
  a->clock = clock;
  a->waker = hcs_waker_ref(waker);
  hcs_list_init(&a->node);
  if (!clock->manual) {
    uv_timer_init(&w->loop, &a->timer);
    a->timer.data = a;
  }
  *out = a;
  return 0;
}

static void on_timer(uv_timer_t *t) {
  hcs_alarm_t *a = t->data;
  atomic_store(&a->rang, true);
  hcs_waker_wake(a->waker);
}

bool hcs__alarm_rang(hcs_alarm_t *a) { return atomic_load(&a->rang); }

void hcs__alarm_set(hcs_alarm_t *a, double at) {
  a->at = at;
  atomic_store(&a->rang, false);
  if (!a->clock->manual) {
    double delay = at - hcs_clock_now(a->clock);
    uint64_t ms = delay <= 0 ? 0 : (uint64_t)ceil(delay * 1000.0);
    uv_timer_start(&a->timer, on_timer, ms, 0);
    return;
  }
  hcs_clock_t *c = a->clock;
  bool due;
  uv_mutex_lock(&c->lock);
  if (hcs_list_linked(&a->node))
    hcs_list_remove(&a->node);
  due = at <= c->now;
  if (!due)
    hcs_list_push_back(&c->alarms, &a->node);
  uv_mutex_unlock(&c->lock);
  if (due) {
    atomic_store(&a->rang, true);
    hcs_waker_wake(a->waker);
  }
}

static void on_timer_closed(uv_handle_t *h) {
  hcs_alarm_t *a = h->data;
  hcs_waker_unref(a->waker);
  hcs__free(a);
}

void hcs__alarm_free(hcs_alarm_t *a) {
  if (a == NULL)
    return;
  if (!a->clock->manual) {
    uv_close((uv_handle_t *)&a->timer, on_timer_closed);
    return;
  }
  uv_mutex_lock(&a->clock->lock);
  if (hcs_list_linked(&a->node))
    hcs_list_remove(&a->node);
  uv_mutex_unlock(&a->clock->lock);
  hcs_waker_unref(a->waker);
  hcs__free(a);
}
