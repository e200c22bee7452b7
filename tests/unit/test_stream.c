/* SPDX-License-Identifier: MIT */
/*
 * test_stream.c: unit tests for the bounded thread-safe stream
 * (hcs/stream.h, src/stream/stream.c), without a server: the test is the
 * consumer, taking items with hcs_stream_try_take.
 *
 * Items are heap objects whose free callback counts its calls, so every
 * test can assert exactly how many items the stream freed; items the stream
 * refused stay the caller's and the test frees them itself (ASan reports a
 * double free or a leak if ownership is wrong). Threaded cases never sleep
 * unboundedly: waits poll a flag with a deadline and threads are joined
 * with a timeout, so a stuck push fails the test instead of hanging it.
 * Assertions run on the main thread only; other threads record results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "hcs/stream.h"

/* Upper bound for any wait that should succeed; never reached when passing. */
#define DEADLINE_S 10.0

/* ---- items and helpers -------------------------------------------------- */

typedef struct {
  int producer;
  int seq;
} item_t;

static atomic_int freed; /* free callback calls in the current test */

static void free_item(void *p) {
  atomic_fetch_add(&freed, 1);
  free(p);
}

static item_t *item_new(int producer, int seq) {
  item_t *it = malloc(sizeof(*it));
  assert_non_null(it);
  it->producer = producer;
  it->seq = seq;
  return it;
}

static int reset(void **state) {
  atomic_store(&freed, 0);
  return 0;
}

static void check_rc(const char *what, int got, int exp) {
  if (got == exp)
    return;
  print_error("%s: expected %d (%s), got %d (%s)\n", what, exp,
              exp ? hcs_err_name(exp) : "ok", got,
              got ? hcs_err_name(got) : "ok");
  fail();
}

static hcs_stream_t *stream_new(size_t capacity, hcs_stream_free_cb cb) {
  hcs_stream_t *s = NULL;
  check_rc("hcs_stream_new", hcs_stream_new(&s, capacity, cb), 0);
  assert_non_null(s);
  return s;
}

/* Take one item, which must be (producer, seq); frees it. */
static void take_expect(hcs_stream_t *s, int producer, int seq) {
  void *p = NULL;
  check_rc("hcs_stream_try_take", hcs_stream_try_take(s, &p), 0);
  assert_non_null(p);
  item_t *it = p;
  assert_int_equal(it->producer, producer);
  assert_int_equal(it->seq, seq);
  free(it);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* Wait (bounded) until *flag holds at least want. */
static bool wait_flag(atomic_int *flag, int want, double timeout_s) {
  double end = now_s() + timeout_s;
  while (atomic_load(flag) < want) {
    if (now_s() > end)
      return false;
    sleep_ms(1);
  }
  return true;
}

/* Join with a timeout; false if the thread is still running. */
static bool join_bounded(pthread_t t, double timeout_s) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += (time_t)timeout_s;
  return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

/* ---- single-threaded ------------------------------------------------------
 */

static void new_rejects_zero_capacity(void **state) {
  hcs_stream_t *const untouched = (hcs_stream_t *)(uintptr_t)0x5678;
  hcs_stream_t *s = untouched;

  check_rc("hcs_stream_new(capacity 0)", hcs_stream_new(&s, 0, free_item),
           HCS_EINVAL);
  assert_ptr_equal(s, untouched);
  check_rc("hcs_stream_new(capacity 0, no free)", hcs_stream_new(&s, 0, NULL),
           HCS_EINVAL);
  assert_ptr_equal(s, untouched);

  /* Capacity 1 is the smallest valid one. */
  s = stream_new(1, free_item);
  assert_int_equal(hcs_stream_capacity(s), 1);
  assert_int_equal(hcs_stream_length(s), 0);
  assert_false(hcs_stream_cancelled(s));
  hcs_stream_unref(s);

  s = stream_new(32, NULL);
  assert_int_equal(hcs_stream_capacity(s), 32);
  hcs_stream_unref(s);
  hcs_stream_unref(NULL);
}

/* Fail the N-th allocation for every N: HCS_ENOMEM and *out untouched. */
static void new_alloc_failures(void **state) {
  bool done = false;
  for (unsigned long nth = 1; nth <= 16 && !done; nth++) {
    hcs_stream_t *const untouched = (hcs_stream_t *)(uintptr_t)0x5678;
    hcs_stream_t *s = untouched;
    hcs__alloc_fail_after(nth);
    int rc = hcs_stream_new(&s, 8, free_item);
    hcs__alloc_fail_after(0);
    if (rc == 0) {
      assert_true(nth > 1); /* it allocates through the hook */
      assert_ptr_not_equal(s, untouched);
      hcs_stream_unref(s);
      done = true;
    } else {
      check_rc("hcs_stream_new under allocation failure", rc, HCS_ENOMEM);
      assert_ptr_equal(s, untouched);
    }
  }
  assert_true(done);
}

static void try_push_until_full(void **state) {
  hcs_stream_t *s = stream_new(4, free_item);

  for (int i = 0; i < 4; i++) {
    check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, i)), 0);
    assert_int_equal(hcs_stream_length(s), (size_t)i + 1);
  }
  /* Full: refused, the caller keeps the item, nothing freed. */
  item_t *extra = item_new(0, 4);
  check_rc("hcs_stream_try_push (full)", hcs_stream_try_push(s, extra),
           HCS_EAGAIN);
  check_rc("hcs_stream_try_push (full, again)", hcs_stream_try_push(s, extra),
           HCS_EAGAIN);
  assert_int_equal(hcs_stream_length(s), 4);
  assert_int_equal(atomic_load(&freed), 0);
  extra->seq = 4; /* still ours: ASan would flag a use after free */

  /* One take makes room for exactly one more. */
  take_expect(s, 0, 0);
  assert_int_equal(hcs_stream_length(s), 3);
  check_rc("hcs_stream_try_push (after take)", hcs_stream_try_push(s, extra),
           0);
  item_t *extra2 = item_new(0, 5);
  check_rc("hcs_stream_try_push (full again)", hcs_stream_try_push(s, extra2),
           HCS_EAGAIN);
  free(extra2);

  /* The items left (1..4) are freed with the last reference. */
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 4);
}

/* Items come out in push order, across many turns of a small ring. */
static void fifo_order(void **state) {
  hcs_stream_t *s = stream_new(3, NULL);
  uintptr_t next_in = 1, next_out = 1;
  uint32_t x = 12345;

  for (int round = 0; round < 500; round++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    int pushes = (int)(x % 4), takes = (int)((x >> 8) % 4);
    for (int i = 0; i < pushes; i++) {
      int rc = hcs_stream_try_push(s, (void *)next_in);
      if (next_in - next_out == 3) {
        check_rc("hcs_stream_try_push (full)", rc, HCS_EAGAIN);
      } else {
        check_rc("hcs_stream_try_push", rc, 0);
        next_in++;
      }
    }
    for (int i = 0; i < takes; i++) {
      void *p = NULL;
      int rc = hcs_stream_try_take(s, &p);
      if (next_in == next_out) {
        check_rc("hcs_stream_try_take (empty)", rc, HCS_EAGAIN);
      } else {
        check_rc("hcs_stream_try_take", rc, 0);
        assert_int_equal((uintptr_t)p, next_out);
        next_out++;
      }
    }
    assert_int_equal(hcs_stream_length(s), next_in - next_out);
  }
  assert_true(next_out > 300);
  hcs_stream_unref(s);
}

static void take_empty(void **state) {
  hcs_stream_t *s = stream_new(2, free_item);
  void *p = NULL;

  check_rc("hcs_stream_try_take (empty, open)", hcs_stream_try_take(s, &p),
           HCS_EAGAIN);
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(1, 1)), 0);
  take_expect(s, 1, 1);
  check_rc("hcs_stream_try_take (emptied, open)", hcs_stream_try_take(s, &p),
           HCS_EAGAIN);
  hcs_stream_close(s);
  check_rc("hcs_stream_try_take (empty, closed)", hcs_stream_try_take(s, &p),
           HCS_ECLOSED);
  check_rc("hcs_stream_try_take (empty, closed, again)",
           hcs_stream_try_take(s, &p), HCS_ECLOSED);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 0);
}

/* Close: no more pushes, but what is queued is still delivered, in order. */
static void close_keeps_queued(void **state) {
  hcs_stream_t *s = stream_new(4, free_item);
  void *p = NULL;

  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 0)), 0);
  check_rc("hcs_stream_push", hcs_stream_push(s, item_new(0, 1)), 0);
  hcs_stream_close(s);
  assert_false(hcs_stream_cancelled(s));

  item_t *late = item_new(0, 2);
  check_rc("hcs_stream_try_push (closed)", hcs_stream_try_push(s, late),
           HCS_ECLOSED);
  check_rc("hcs_stream_push (closed)", hcs_stream_push(s, late), HCS_ECLOSED);
  assert_int_equal(atomic_load(&freed), 0);
  free(late); /* still the caller's */

  hcs_stream_close(s); /* idempotent */
  assert_int_equal(hcs_stream_length(s), 2);
  take_expect(s, 0, 0);
  take_expect(s, 0, 1);
  check_rc("hcs_stream_try_take (drained)", hcs_stream_try_take(s, &p),
           HCS_ECLOSED);
  assert_false(hcs_stream_cancelled(s));
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 0);
}

/* Cancel: queued items are freed at once, later pushes and takes fail. */
static void cancel_frees_queued(void **state) {
  hcs_stream_t *s = stream_new(4, free_item);
  void *p = NULL;

  for (int i = 0; i < 3; i++)
    check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, i)), 0);
  hcs_stream_cancel(s);
  assert_int_equal(atomic_load(&freed), 3);
  assert_true(hcs_stream_cancelled(s));
  assert_int_equal(hcs_stream_length(s), 0);

  item_t *late = item_new(0, 9);
  check_rc("hcs_stream_try_push (cancelled)", hcs_stream_try_push(s, late),
           HCS_ECLOSED);
  check_rc("hcs_stream_push (cancelled)", hcs_stream_push(s, late),
           HCS_ECLOSED);
  check_rc("hcs_stream_try_take (cancelled)", hcs_stream_try_take(s, &p),
           HCS_ECLOSED);
  free(late);

  hcs_stream_cancel(s); /* idempotent: nothing freed twice */
  hcs_stream_close(s);
  assert_int_equal(atomic_load(&freed), 3);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 3);

  /* Cancel after close frees what close left queued. */
  s = stream_new(4, free_item);
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 0)), 0);
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 1)), 0);
  hcs_stream_close(s);
  assert_false(hcs_stream_cancelled(s));
  hcs_stream_cancel(s);
  assert_true(hcs_stream_cancelled(s));
  assert_int_equal(atomic_load(&freed), 5);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 5);
}

/* Cancel frees every queued item exactly once even when allocation fails. */
static void cancel_under_alloc_failure(void **state) {
  hcs_stream_t *s = stream_new(3, free_item);

  for (int i = 0; i < 3; i++)
    check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, i)), 0);
  hcs__alloc_fail_after(1);
  hcs_stream_cancel(s);
  hcs__alloc_fail_after(0);
  assert_int_equal(atomic_load(&freed), 3);
  assert_true(hcs_stream_cancelled(s));
  assert_int_equal(hcs_stream_length(s), 0);
  item_t *late = item_new(0, 3);
  check_rc("hcs_stream_try_push (cancelled)", hcs_stream_try_push(s, late),
           HCS_ECLOSED);
  free(late);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 3);
}

/* The last reference frees the items left; earlier unrefs free nothing. */
static void unref_frees_left_items(void **state) {
  hcs_stream_t *s = stream_new(4, free_item);

  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 0)), 0);
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 1)), 0);
  assert_ptr_equal(hcs_stream_ref(s), s);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 0);
  /* Still usable through the remaining reference. */
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 2)), 0);
  take_expect(s, 0, 0);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 2);
}

/* Without a free callback nothing is freed (items here are not heap). */
static void no_free_callback(void **state) {
  int a = 1, b = 2, c = 3;
  hcs_stream_t *s = stream_new(2, NULL);
  void *p = NULL;

  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, &a), 0);
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, &b), 0);
  check_rc("hcs_stream_try_push (full)", hcs_stream_try_push(s, &c),
           HCS_EAGAIN);
  check_rc("hcs_stream_try_take", hcs_stream_try_take(s, &p), 0);
  assert_ptr_equal(p, &a);
  hcs_stream_unref(s); /* b left in it */

  s = stream_new(2, NULL);
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, &a), 0);
  hcs_stream_cancel(s);
  assert_int_equal(hcs_stream_length(s), 0);
  hcs_stream_unref(s);
  assert_int_equal(a + b + c, 6);
}

/* hcs_stream_set_waker(s, NULL) detaches (no waker to release) and is safe. */
static void set_waker_null(void **state) {
  hcs_stream_t *s = stream_new(2, free_item);

  hcs_stream_set_waker(s, NULL);
  hcs_stream_set_waker(s, NULL);
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 0)), 0);
  check_rc("hcs_stream_push", hcs_stream_push(s, item_new(0, 1)), 0);
  take_expect(s, 0, 0);
  hcs_stream_close(s);
  hcs_stream_set_waker(s, NULL);
  take_expect(s, 0, 1);
  hcs_stream_cancel(s);
  hcs_stream_set_waker(s, NULL);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 0);
}

/* Byte accounting with a sizer, and the drop-oldest policy. */
static size_t item_size(const void *p) {
  const item_t *it = p;
  return (size_t)it->seq * 10 + 1;
}

static void sizer_and_drop_oldest(void **state) {
  hcs_stream_t *s = stream_new(3, free_item);
  size_t n = 0;

  hcs_stream_set_sizer(s, item_size);
  assert_int_equal(hcs_stream_bytes(s), 0);
  for (int i = 1; i <= 3; i++)
    check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, i)), 0);
  assert_int_equal(hcs_stream_bytes(s), 11 + 21 + 31);
  take_expect(s, 0, 1);
  assert_int_equal(hcs_stream_bytes(s), 21 + 31);

  /* Drop-oldest frees the oldest through the callback and reports its size. */
  check_rc("hcs_stream_drop_oldest", hcs_stream_drop_oldest(s, &n), 0);
  assert_int_equal(n, 21);
  assert_int_equal(atomic_load(&freed), 1);
  assert_int_equal(hcs_stream_length(s), 1);
  assert_int_equal(hcs_stream_bytes(s), 31);

  /* Full: drop the oldest to make room; order is kept. */
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 4)), 0);
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 5)), 0);
  item_t *extra = item_new(0, 6);
  check_rc("hcs_stream_try_push (full)", hcs_stream_try_push(s, extra),
           HCS_EAGAIN);
  check_rc("hcs_stream_drop_oldest", hcs_stream_drop_oldest(s, NULL), 0);
  assert_int_equal(atomic_load(&freed), 2);
  check_rc("hcs_stream_try_push (after drop)", hcs_stream_try_push(s, extra),
           0);
  assert_int_equal(hcs_stream_bytes(s), 41 + 51 + 61);
  take_expect(s, 0, 4);
  take_expect(s, 0, 5);
  take_expect(s, 0, 6);
  assert_int_equal(hcs_stream_bytes(s), 0);
  check_rc("hcs_stream_drop_oldest (empty)", hcs_stream_drop_oldest(s, &n),
           HCS_EAGAIN);
  assert_int_equal(atomic_load(&freed), 2);

  /* Cancel empties the count too. */
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 7)), 0);
  assert_int_equal(hcs_stream_bytes(s), 71);
  hcs_stream_cancel(s);
  assert_int_equal(hcs_stream_bytes(s), 0);
  assert_int_equal(atomic_load(&freed), 3);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 3);

  /* Without a sizer nothing is counted. */
  s = stream_new(2, free_item);
  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(0, 8)), 0);
  assert_int_equal(hcs_stream_bytes(s), 0);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 4);
}

/* ---- threads --------------------------------------------------------------
 */

typedef struct {
  hcs_stream_t *s;
  item_t *item;
  atomic_int started, done;
  int rc;
  pthread_t tid;
} pusher_t;

static void *pusher_main(void *arg) {
  pusher_t *p = arg;
  atomic_store(&p->started, 1);
  p->rc = hcs_stream_push(p->s, p->item);
  atomic_store(&p->done, 1);
  return NULL;
}

static void pusher_start(pusher_t *p, hcs_stream_t *s, item_t *item) {
  memset(p, 0, sizeof(*p));
  p->s = s;
  p->item = item;
  atomic_init(&p->started, 0);
  atomic_init(&p->done, 0);
  assert_int_equal(pthread_create(&p->tid, NULL, pusher_main, p), 0);
  assert_true(wait_flag(&p->started, 1, DEADLINE_S));
}

/* A blocking push waits while full and completes after a take. */
static void push_blocks_until_room(void **state) {
  hcs_stream_t *s = stream_new(1, free_item);
  pusher_t p;

  /* Not full: returns at once. */
  check_rc("hcs_stream_push", hcs_stream_push(s, item_new(0, 0)), 0);

  pusher_start(&p, s, item_new(0, 1));
  /* Give it time to return if it (wrongly) does not wait. */
  sleep_ms(50);
  assert_int_equal(atomic_load(&p.done), 0);
  assert_int_equal(hcs_stream_length(s), 1);

  take_expect(s, 0, 0);
  assert_true(wait_flag(&p.done, 1, DEADLINE_S));
  assert_true(join_bounded(p.tid, DEADLINE_S));
  check_rc("blocked hcs_stream_push", p.rc, 0);
  assert_int_equal(hcs_stream_length(s), 1);
  take_expect(s, 0, 1);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 0);
}

/* Cancel (or close) releases every blocked pusher with HCS_ECLOSED. */
static void blocked_pushers_released(bool cancel) {
  hcs_stream_t *s = stream_new(1, free_item);
  pusher_t p[3];

  check_rc("hcs_stream_try_push", hcs_stream_try_push(s, item_new(9, 0)), 0);
  for (int i = 0; i < 3; i++)
    pusher_start(&p[i], s, item_new(i, 1));
  sleep_ms(30);
  for (int i = 0; i < 3; i++)
    assert_int_equal(atomic_load(&p[i].done), 0);

  if (cancel)
    hcs_stream_cancel(s);
  else
    hcs_stream_close(s);
  for (int i = 0; i < 3; i++) {
    assert_true(wait_flag(&p[i].done, 1, DEADLINE_S));
    assert_true(join_bounded(p[i].tid, DEADLINE_S));
    check_rc(cancel ? "blocked push, then cancel" : "blocked push, then close",
             p[i].rc, HCS_ECLOSED);
    free(p[i].item); /* refused: the caller's */
  }
  if (cancel) {
    assert_int_equal(atomic_load(&freed), 1); /* the queued item only */
  } else {
    assert_int_equal(atomic_load(&freed), 0);
    take_expect(s, 9, 0); /* close still delivers it */
  }
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), cancel ? 1 : 0);
}

static void blocked_push_released_by_cancel(void **state) {
  blocked_pushers_released(true);
}

static void blocked_push_released_by_close(void **state) {
  blocked_pushers_released(false);
}

/* Several producers, one consumer: every item once, each producer in order. */
#define PRODUCERS 4
#define PER_PRODUCER 2000

typedef struct {
  hcs_stream_t *s;
  int id;
  bool blocking; /* hcs_stream_push, else try_push and retry */
  int failures;  /* unexpected return codes */
  int last_rc;
} producer_t;

typedef struct {
  hcs_stream_t *s;
  int next[PRODUCERS]; /* the seq expected next from each producer */
  int taken;
  int errors; /* out-of-order, duplicate or foreign items */
  int last_rc;
  bool timed_out;
} consumer_t;

static void *producer_main(void *arg) {
  producer_t *p = arg;
  double end = now_s() + DEADLINE_S;
  for (int i = 0; i < PER_PRODUCER; i++) {
    item_t *it = malloc(sizeof(*it));
    if (it == NULL) {
      p->failures++;
      return NULL;
    }
    it->producer = p->id;
    it->seq = i;
    int rc;
    if (p->blocking) {
      rc = hcs_stream_push(p->s, it);
    } else {
      while ((rc = hcs_stream_try_push(p->s, it)) == HCS_EAGAIN &&
             now_s() < end)
        sched_yield();
    }
    if (rc != 0) {
      p->failures++;
      p->last_rc = rc;
      free(it);
      return NULL;
    }
  }
  return NULL;
}

static void *consumer_main(void *arg) {
  consumer_t *c = arg;
  double end = now_s() + DEADLINE_S;
  for (;;) {
    void *v = NULL;
    int rc = hcs_stream_try_take(c->s, &v);
    if (rc == HCS_EAGAIN) {
      if (now_s() > end) {
        c->timed_out = true;
        return NULL;
      }
      sched_yield();
      continue;
    }
    if (rc != 0) {
      c->last_rc = rc;
      return NULL;
    }
    item_t *it = v;
    if (it->producer < 0 || it->producer >= PRODUCERS ||
        it->seq != c->next[it->producer])
      c->errors++;
    else
      c->next[it->producer]++;
    c->taken++;
    free(it);
  }
}

static void producers_and_consumer(void **state) {
  hcs_stream_t *s = stream_new(8, free_item);
  producer_t prod[PRODUCERS];
  pthread_t ptid[PRODUCERS], ctid;
  consumer_t cons;

  memset(&cons, 0, sizeof(cons));
  cons.s = s;
  assert_int_equal(pthread_create(&ctid, NULL, consumer_main, &cons), 0);
  for (int i = 0; i < PRODUCERS; i++) {
    memset(&prod[i], 0, sizeof(prod[i]));
    prod[i].s = s;
    prod[i].id = i;
    prod[i].blocking = i % 2 == 0;
    assert_int_equal(pthread_create(&ptid[i], NULL, producer_main, &prod[i]),
                     0);
  }
  for (int i = 0; i < PRODUCERS; i++)
    assert_true(join_bounded(ptid[i], DEADLINE_S + 5));
  /* All pushed: close, so the consumer ends after draining. */
  hcs_stream_close(s);
  assert_true(join_bounded(ctid, DEADLINE_S + 5));

  for (int i = 0; i < PRODUCERS; i++) {
    if (prod[i].failures)
      print_error("producer %d: last rc %s\n", i,
                  hcs_err_name(prod[i].last_rc));
    assert_int_equal(prod[i].failures, 0);
  }
  assert_false(cons.timed_out);
  check_rc("consumer's last take", cons.last_rc, HCS_ECLOSED);
  assert_int_equal(cons.errors, 0);
  assert_int_equal(cons.taken, PRODUCERS * PER_PRODUCER);
  for (int i = 0; i < PRODUCERS; i++)
    assert_int_equal(cons.next[i], PER_PRODUCER);
  assert_int_equal(hcs_stream_length(s), 0);
  hcs_stream_unref(s);
  assert_int_equal(atomic_load(&freed), 0);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(new_rejects_zero_capacity, reset),
      cmocka_unit_test_setup(new_alloc_failures, reset),
      cmocka_unit_test_setup(try_push_until_full, reset),
      cmocka_unit_test_setup(fifo_order, reset),
      cmocka_unit_test_setup(take_empty, reset),
      cmocka_unit_test_setup(close_keeps_queued, reset),
      cmocka_unit_test_setup(cancel_frees_queued, reset),
      cmocka_unit_test_setup(cancel_under_alloc_failure, reset),
      cmocka_unit_test_setup(unref_frees_left_items, reset),
      cmocka_unit_test_setup(no_free_callback, reset),
      cmocka_unit_test_setup(set_waker_null, reset),
      cmocka_unit_test_setup(sizer_and_drop_oldest, reset),
      cmocka_unit_test_setup(push_blocks_until_room, reset),
      cmocka_unit_test_setup(blocked_push_released_by_cancel, reset),
      cmocka_unit_test_setup(blocked_push_released_by_close, reset),
      cmocka_unit_test_setup(producers_and_consumer, reset),
  };
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
