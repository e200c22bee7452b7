/* SPDX-License-Identifier: MIT */
/*
 * examples/sse_events.c: Server-Sent Events with hcs and hive, the seed's
 * `events_handler` in C (subscribe the connection to a topic, the callback
 * feeds the connection's stream, the stream feeds an SSE response,
 * unsubscribe when the response ends), plus a stream of tricky test vectors.
 *
 *   GET  /events?topic=T  subscribe to topic T (default "updates") with
 *                   hive_sse_respond, the whole pattern in one call on hive's
 *                   zero-copy path: every event published from now on, and
 *                   the keepalive comment ":" after 15 s of silence
 *                   (--heartbeat SECONDS changes the interval). A request
 *                   with Last-Event-ID first replays the topic's history
 *                   after that id (hive keeps the last 100 events, 4 MiB at
 *                   most), then goes live with no gap and no duplicate; the
 *                   response says X-Hcs-Last-Event-ID: found, or unknown
 *                   (the id is not in the history: live events only). A
 *                   subscriber with more than 1 MiB of events waiting, on
 *                   top of the connection's own 1 MiB of unsent bytes, is
 *                   disconnected (HIVE_SLOW_CLOSE, the default policy).
 *   GET  /events-manual?topic=T  the same pattern spelled out with the
 *                   public pieces, as the seed writes it: hive_subscribe, a
 *                   callback pushing events into an hcs_stream_t of 32,
 *                   hcs_sse_respond_with_heartbeat, hive_unsubscribe in the
 *                   response's on_close. Live events only (no replay); an
 *                   event that finds the stream full is dropped for this
 *                   subscriber and counted (manual_drops in /stats).
 *   POST /publish?topic=T  publish the request body as an event's data to
 *                   topic T (default "updates") with hive_publish_event;
 *                   optional query parameters `event` (type) and `id`. 200
 *                   with the event's id as the body (without `id`, the
 *                   example numbers the event itself: 1, 2, ... per
 *                   process), or 400 when the type, id or topic cannot be
 *                   used
 *   GET  /stats     hive's counters (hive_bus_stats), one "name value" line
 *                   each: topics, subscribers, published, deliveries, drops,
 *                   slow_closes; then this example's manual_drops
 *   GET  /vectors   the wire-format vectors of specs/sse.md §8 with ids 1, 2,
 *                   ..., then the end of the stream. Last-Event-ID: N resumes
 *                   after vector N (the response says X-Hcs-Resumed-After: N),
 *                   and 204 once nothing is left, so EventSource stops.
 *                   ?raw=1 sends preformatted text (hcs_sse_respond_raw) and
 *                   adds what only raw text can carry: an id-only block and
 *                   comments. ?stop=K ends a stream that started before
 *                   vector K right after it, so that the client resumes.
 *
 * Threads: handlers, hive callbacks and close callbacks run on the worker
 * threads. A subscription's callback runs on the worker that subscribed,
 * which is the one owning that connection, so a callback touches only its
 * own connection's state and takes no lock; the example's counters are
 * atomics. hive_publish_event may run on any thread (here: the worker that
 * received the POST). Events pushed into a stream are the stream's (freed
 * with hcs_sse_event_free_item).
 *
 * Builds in-tree, or against an installed hcs (hive is part of libhcs):
 *   cc sse_events.c $(pkg-config --cflags --libs hcs) -pthread -o sse_events
 * Run:  ./sse_events [--host 127.0.0.1] [--port 8080] [--workers N]
 *                    [--heartbeat SECONDS]
 * It prints "sse_events: listening on http://HOST:PORT/" once it accepts
 * connections (--port 0 picks a free port) and stops on SIGINT or SIGTERM,
 * exiting 1 if any hive subscription outlived its response.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <hcs/hcs.h>
#include <hive/pubsub.h>
#include <hive/sse.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the application -------------------------------------------------- */

/* History kept per topic for Last-Event-ID replay: the last HISTORY_COUNT
 * events, at most HISTORY_BYTES of wire text. */
#define HISTORY_COUNT 100
#define HISTORY_BYTES ((size_t)4 << 20)

/* The seed's `Eio.Stream.create 32`, for /events-manual. */
#define MANUAL_STREAM_CAPACITY 32

typedef struct {
  hive_bus_t *bus;
  double heartbeat;                  /* seconds */
  atomic_uint_fast64_t next_id;      /* ids for events published without one */
  atomic_uint_fast64_t manual_drops; /* events /events-manual could not queue */
} app_t;

/* A plain-text response, or NULL (answered 500) when out of memory. */
static hcs_response_t *text(int status, const char *body) {
  hcs_response_t *res;
  if (hcs_response_new(&res, status) < 0)
    return NULL;
  if (hcs_response_add_header(res, "Content-Type", "text/plain") < 0 ||
      hcs_response_set_body(res, body, strlen(body)) < 0) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

/*
 * The `topic` query parameter (default "updates") as a NUL-terminated string
 * in buf (HIVE_TOPIC_MAX + 1 bytes), since hive takes C strings. Returns 0,
 * HCS_EINVAL (empty, too long, or holding a NUL that would cut it short) or
 * HCS_ENOMEM.
 */
static int topic_param(hcs_request_t *req, char *buf) {
  hcs_str_t t;
  int err = hcs_request_query_param(req, "topic", &t);
  if (err == HCS_ENOENT)
    t = hcs_str_c("updates");
  else if (err < 0)
    return err;
  if (t.len == 0 || t.len > HIVE_TOPIC_MAX || memchr(t.base, '\0', t.len))
    return HCS_EINVAL;
  memcpy(buf, t.base, t.len);
  buf[t.len] = '\0';
  return 0;
}

static hcs_response_t *bad_topic(void) {
  return text(400, "invalid topic: it must be 1 to 4096 bytes, without NUL\n");
}

/* ---- GET /events: hive_sse_respond ------------------------------------ */

static hcs_response_t *events(hcs_request_t *req, void *ud) {
  app_t *app = ud;
  char topic[HIVE_TOPIC_MAX + 1];
  int err = topic_param(req, topic);
  if (err == HCS_EINVAL)
    return bad_topic();
  if (err < 0)
    return NULL;

  hive_sse_options_t opts;
  hive_sse_options_init(&opts); /* flush headers at once, close if slow */
  opts.heartbeat_interval = app->heartbeat;

  /* A reconnecting EventSource sends the last id it saw: hive replays the
   * topic's history after it before going live. hive wants a C string, and
   * the header is a slice into the request, so copy it for the call. */
  hcs_str_t v;
  char *last_id = NULL;
  bool found = false;
  if (hcs_request_header(req, "Last-Event-ID", &v) == 0) {
    last_id = malloc(v.len + 1);
    if (last_id == NULL)
      return NULL;
    memcpy(last_id, v.base, v.len);
    last_id[v.len] = '\0';
    /* An id with a NUL is not one we sent (hcs_sse_validate refuses them);
     * cut short it could match another, so it is simply unknown. */
    if (memchr(v.base, '\0', v.len) == NULL) {
      opts.last_event_id = last_id;
      opts.last_event_id_found = &found;
    }
  }

  /* Subscription, stream, heartbeat and unsubscribe on close, in one call.
   * The subscription exists before the response head leaves, so whatever is
   * published once the client sees "open" reaches it. */
  const char *topics[] = {topic};
  hcs_response_t *res;
  err = hive_sse_respond(&res, app->bus, topics, 1, &opts);
  if (err < 0) {
    free(last_id);
    return NULL;
  }
  if (last_id != NULL) {
    fprintf(stderr,
            "sse_events: /events?topic=%.64s: Last-Event-ID \"%.*s\": %s\n",
            topic, (int)(v.len > 64 ? 64 : v.len), v.base,
            found ? "replaying after it" : "unknown, live only");
    free(last_id);
    /* On failure freeing the response ends the subscription too. */
    if (hcs_response_add_header(res, "X-Hcs-Last-Event-ID",
                                found ? "found" : "unknown") < 0) {
      hcs_response_free(res);
      return NULL;
    }
  }
  return res;
}

/* ---- GET /events-manual: the seed's code, piece by piece --------------- */

/*
 * One /events-manual response: its subscription and its stream. Owned by
 * the response, freed in its on_close; everything here is touched on the
 * connection's worker loop only.
 */
typedef struct {
  app_t *app;
  hive_sub_t *sub;      /* NULL once unsubscribed */
  hcs_stream_t *stream; /* our reference; the response holds its own */
} manual_t;

/*
 * The event type of a message, read back from its wire text: hive_message_t
 * carries the id and the data but not the type, and hcs_sse_format writes
 * the "event: " line first (the type cannot hold a line break). Absent when
 * the event is a plain "message".
 */
static hcs_str_t wire_event_type(const hcs_buf_t *wire) {
  static const char prefix[] = "event: ";
  const size_t n = sizeof prefix - 1;
  hcs_str_t none = {NULL, 0};
  if (wire->len < n || memcmp(wire->data, prefix, n) != 0)
    return none;
  const char *type = wire->data + n;
  const char *eol = memchr(type, '\n', wire->len - n);
  return eol ? (hcs_str_t){type, (size_t)(eol - type)} : none;
}

/*
 * The seed's `fun ~payload -> Eio.Stream.add events (Hcs.Sse.event payload)`.
 * Runs on this connection's worker loop (the one that subscribed).
 *
 * Which item: an event built with hcs_sse_make from msg->payload, not the
 * shared msg->wire through a raw stream. hcs_sse_respond_with_heartbeat,
 * the keepalive the seed recommends behind buffering proxies, drains a
 * stream of events; the raw stream (hcs_sse_respond_raw_stream) would write
 * msg->wire by reference with no copy, but has no heartbeat. The price is
 * one allocation and one format per subscriber and message: fine for this
 * route, while /events (hive_sse_respond) shares msg->wire and is the one
 * to use for many subscribers. The id goes along too (the seed's
 * `Hcs.Sse.event payload` would drop it), so that EventSource's lastEventId
 * is the same on both routes.
 *
 * The seed's Eio.Stream.add waits for room; a loop thread must not wait, so
 * a full stream (a client that stopped reading) drops the event for this
 * subscriber and counts it. A cancelled stream (the response is ending; its
 * on_close is about to unsubscribe) refuses it quietly.
 */
static void manual_on_message(hive_sub_t *sub, const hive_message_t *msg,
                              void *ud) {
  (void)sub;
  manual_t *m = ud;
  hcs_sse_event_t *ev;
  if (hcs_sse_make(&ev, wire_event_type(msg->wire), msg->id, HCS_SSE_NO_RETRY,
                   msg->payload.base, msg->payload.len) < 0) {
    atomic_fetch_add(&m->app->manual_drops, 1); /* out of memory */
    return;
  }
  int err = hcs_stream_try_push(m->stream, ev);
  if (err == 0)
    return;
  hcs_sse_event_free(ev); /* refused: still ours */
  if (err != HCS_ECLOSED) /* full (HCS_EAGAIN), or HCS_ENOMEM */
    atomic_fetch_add(&m->app->manual_drops, 1);
}

/*
 * The response ended (client gone, server stopping): unsubscribe. This is
 * the seed's `Eio.Cancel.Cancelled` handler. Loop thread, exactly once, the
 * same worker as the callback; after hive_unsubscribe no callback runs for
 * m->sub, and the library never uses m afterwards, so it is freed here.
 */
static void manual_closed(hcs_response_t *res, hcs_close_reason_t reason,
                          void *ud) {
  (void)res;
  (void)reason;
  manual_t *m = ud;
  hive_unsubscribe(&m->sub);
  hcs_stream_unref(m->stream);
  free(m);
}

static hcs_response_t *events_manual(hcs_request_t *req, void *ud) {
  app_t *app = ud;
  char topic[HIVE_TOPIC_MAX + 1];
  int err = topic_param(req, topic);
  if (err == HCS_EINVAL)
    return bad_topic();
  if (err < 0)
    return NULL;
  manual_t *m = calloc(1, sizeof *m);
  if (m == NULL)
    return NULL;
  m->app = app;
  /* let events = Eio.Stream.create 32 */
  if (hcs_stream_new(&m->stream, MANUAL_STREAM_CAPACITY,
                     hcs_sse_event_free_item) < 0) {
    free(m);
    return NULL;
  }
  /* let unsubscribe = bus.subscribe ~topic (fun ~payload -> ...). Callbacks
   * run on this worker's loop, after this handler returns, so the response
   * exists by then. */
  if (hive_subscribe(&m->sub, app->bus, topic, manual_on_message, m) < 0) {
    hcs_stream_unref(m->stream);
    free(m);
    return NULL;
  }
  /* Hcs.Sse.respond_with_heartbeat ~clock ~interval events */
  hcs_sse_options_t opts = {
      .flush_headers_immediately = true, .on_close = manual_closed, .ud = m};
  hcs_response_t *res;
  if (hcs_sse_respond_with_heartbeat(&res, &opts, hcs_clock_monotonic(),
                                     app->heartbeat, m->stream) < 0) {
    /* On failure on_close never runs: undo here. */
    hive_unsubscribe(&m->sub);
    hcs_stream_unref(m->stream);
    free(m);
    return NULL;
  }
  return res;
}

/* ---- POST /publish ---------------------------------------------------- */

static hcs_response_t *publish(hcs_request_t *req, void *ud) {
  app_t *app = ud;
  char topic[HIVE_TOPIC_MAX + 1];
  int err = topic_param(req, topic);
  if (err == HCS_EINVAL)
    return bad_topic();
  if (err < 0)
    return NULL;
  hcs_str_t none = {NULL, 0}, type = none, id = none;
  err = hcs_request_query_param(req, "event", &type);
  if (err == HCS_ENOENT)
    type = none;
  else if (err < 0)
    return NULL;
  err = hcs_request_query_param(req, "id", &id);
  if (err == HCS_ENOENT)
    id = none;
  else if (err < 0)
    return NULL;

  /* Without an id hive would use the topic's sequence number, but
   * hive_publish_event does not say which number that was, and this reply
   * must give the id. So the example numbers such events itself, across
   * topics: the ids stay unique, which is all Last-Event-ID replay needs. */
  char own_id[24];
  if (id.base == NULL) {
    uint64_t n = atomic_fetch_add(&app->next_id, 1) + 1;
    snprintf(own_id, sizeof own_id, "%" PRIu64, n);
    id = hcs_str_c(own_id);
  }

  hcs_str_t body = hcs_request_body(req);
  hcs_sse_event_t ev = {type, id, HCS_SSE_NO_RETRY, body};
  /* hive_publish_event answers HCS_EINVAL for a bad event as for a bad
   * topic; the topic is known good, but checking the event first keeps the
   * message exact. Nothing is queued anywhere for a refused event. */
  if (hcs_sse_validate(&ev) < 0)
    return text(400, "invalid event: the event type must not contain control "
                     "characters, and the id must not contain CR, LF or NUL "
                     "nor start or end with a space or tab\n");
  err = hive_publish_event(app->bus, topic, &ev);
  if (err == HCS_EINVAL)
    return bad_topic();
  if (err < 0)
    return NULL;

  /* The id, then a newline; the id may be long (up to the request's size),
   * so build the body on the heap. */
  char *reply = malloc(id.len + 2);
  if (reply == NULL)
    return NULL;
  memcpy(reply, id.base, id.len);
  reply[id.len] = '\n';
  reply[id.len + 1] = '\0';
  hcs_response_t *res = text(200, reply);
  free(reply);
  return res;
}

/* ---- GET /stats ------------------------------------------------------- */

static hcs_response_t *stats(hcs_request_t *req, void *ud) {
  (void)req;
  app_t *app = ud;
  hive_stats_t s;
  hive_bus_stats(app->bus, &s);
  char body[320];
  snprintf(body, sizeof body,
           "topics %" PRIu64 "\nsubscribers %" PRIu64 "\npublished %" PRIu64
           "\ndeliveries %" PRIu64 "\ndrops %" PRIu64 "\nslow_closes %" PRIu64
           "\nmanual_drops %" PRIu64 "\n",
           s.topics, s.subscribers, s.published, s.deliveries, s.drops,
           s.slow_closes, (uint64_t)atomic_load(&app->manual_drops));
  return text(200, body);
}

/* ---- GET /vectors ----------------------------------------------------- */

/* What a vector is on the wire. */
typedef enum {
  V_EVENT,   /* an event with id "<index>" */
  V_ID_ONLY, /* raw "id: <index>\n\n": sets the last event id, fires nothing */
  V_COMMENT, /* a comment (hcs_sse_comment): fires nothing, no id */
} vector_kind_t;

typedef struct {
  vector_kind_t kind;
  const char *type; /* event type, NULL for none */
  int64_t retry;    /* HCS_SSE_NO_RETRY for none */
  const char *data; /* data, or comment text; NULL with len 0: the big one */
  size_t len;
} vector_t;

#define BIG_LEN ((size_t)1 << 20)
static char big[BIG_LEN]; /* 1 MiB of 'x', filled in main */

/* clang-format off */
/* D: a literal's bytes and length, embedded NULs included. NR: no retry. */
#define D(s) (s), sizeof(s) - 1
#define NR HCS_SSE_NO_RETRY
#define EV(s) {V_EVENT, NULL, NR, D(s)}

/*
 * specs/sse.md §8, rows named in comments; vector i (from 1) has id "i".
 * tests/node/eventsource_vectors.mjs holds the same list as what a client
 * must dispatch: keep them in step.
 */
static const vector_t vectors[] = {
    {V_EVENT, NULL, 100, D("hello")},      /* 1: row 1, + retry 100 ms */
    EV(""),                                /* 2: row 2, empty data fires */
    EV("a\nb"),                            /* 3: row 4 */
    EV("a\r\nb"),                          /* 4: row 5, CRLF -> LF */
    EV("a\rb"),                            /* 5: row 6, lone CR -> LF */
    EV("a\n"),                             /* 6: row 7, trailing newline */
    EV("a\r\n"),                           /* 7: row 8 */
    EV("\n"),                              /* 8: row 9 */
    EV("a\n\nb"),                          /* 9: row 10, inner blank line */
    EV(" x"),                              /* 10: row 11, leading space */
    EV("\tx"),                             /* 11: row 12 */
    EV("x  "),                             /* 12: row 13, trailing spaces */
    {V_ID_ONLY, NULL, NR, NULL, 0},        /* 13: row 3, raw only */
    EV(":no comment"),                     /* 14: row 14 */
    EV("a\n:b"),                           /* 15: row 15 */
    EV("id: 7\nevent: evil"),              /* 16: row 16, no injection */
    {V_COMMENT, NULL, NR, D("a\nb")},      /* 17: row 36, raw only */
    EV("h\xC3\xA9llo \xE2\x82\xAC\xF0\x9F\x98\x80"),   /* 18: row 17, UTF-8 */
    EV("a\xE2\x80\xA8" "b\xC2\x85" "c"),   /* 19: row 18, U+2028, U+0085 */
    EV("a\0b"),                            /* 20: row 19, NUL in data */
    EV("\xEF\xBB\xBF" "x"),                /* 21: row 20, inner BOM kept */
    {V_EVENT, "add", NR, D("x")},          /* 22: row 21, typed */
    {V_EVENT, "", NR, D("x")},             /* 23: row 22, empty type */
    {V_COMMENT, NULL, NR, D("")},          /* 24: row 35, keepalive, raw */
    {V_EVENT, "update", 150, D("multi\nline\r\nupdate")}, /* 25: 21 + 32 */
    {V_EVENT, NULL, NR, NULL, 0},          /* 26: row 37, 1 MiB of 'x' */
    EV("cr at end\r"),                     /* 27: lone CR last */
    {V_EVENT, "done", NR, D("last")},      /* 28: the end */
};
/* clang-format on */

#define NVECTORS (sizeof vectors / sizeof vectors[0])

/* One /vectors response: owned by it, freed in its on_close. */
typedef struct {
  size_t next;  /* index (from 1) of the next vector to consider */
  size_t first; /* where this response started */
  size_t stop;  /* 0, or the vector after which to end if first < stop */
  char id[24];  /* the id of the event being sent */
} vectors_state_t;

/* The next vector to send, or NULL at the end; advances st->next. */
static const vector_t *next_vector(vectors_state_t *st, bool raw) {
  for (;;) {
    if (st->next > NVECTORS)
      return NULL;
    if (st->stop && st->first < st->stop && st->next > st->stop)
      return NULL;
    const vector_t *v = &vectors[st->next - 1];
    snprintf(st->id, sizeof st->id, "%zu", st->next);
    st->next++;
    if (raw || v->kind == V_EVENT)
      return v;
  }
}

/* An event vector's fields; borrowed from the table, st->id and big. */
static void vector_event(const vector_t *v, vectors_state_t *st,
                         hcs_sse_event_t *ev) {
  ev->event_type = v->type ? hcs_str_c(v->type) : (hcs_str_t){NULL, 0};
  ev->id = hcs_str_c(st->id);
  ev->retry = v->retry;
  ev->data.base = v->data ? v->data : big;
  ev->data.len = v->data ? v->len : BIG_LEN;
}

/* Event generator: the seed's `unit -> event option`. */
static int vectors_next(hcs_response_t *res, hcs_sse_event_t *out, void *ud) {
  (void)res;
  vectors_state_t *st = ud;
  const vector_t *v = next_vector(st, false);
  if (v == NULL)
    return HCS_SSE_END;
  vector_event(v, st, out);
  return HCS_SSE_NEXT;
}

/* Raw generator: the same vectors as preformatted wire text, and more. */
static int vectors_next_raw(hcs_response_t *res, hcs_buf_t **out, void *ud) {
  (void)res;
  vectors_state_t *st = ud;
  const vector_t *v = next_vector(st, true);
  if (v == NULL)
    return HCS_SSE_END;
  switch (v->kind) {
  case V_EVENT: {
    hcs_sse_event_t ev;
    vector_event(v, st, &ev);
    return hcs_sse_format(&ev, out) < 0 ? HCS_ENOMEM : HCS_SSE_NEXT;
  }
  case V_ID_ONLY: {
    char block[40];
    int n = snprintf(block, sizeof block, "id: %s\n\n", st->id);
    return hcs_buf_copy(out, block, (size_t)n) < 0 ? HCS_ENOMEM : HCS_SSE_NEXT;
  }
  case V_COMMENT:
    return hcs_sse_comment(v->data, v->len, out) < 0 ? HCS_ENOMEM
                                                     : HCS_SSE_NEXT;
  }
  return HCS_EINVAL;
}

static void vectors_closed(hcs_response_t *res, hcs_close_reason_t reason,
                           void *ud) {
  (void)res;
  (void)reason;
  free(ud);
}

/* A decimal number of at most 9 digits, or -1. */
static long small_number(hcs_str_t s) {
  if (s.len == 0 || s.len > 9)
    return -1;
  long n = 0;
  for (size_t i = 0; i < s.len; i++) {
    if (s.base[i] < '0' || s.base[i] > '9')
      return -1;
    n = n * 10 + (s.base[i] - '0');
  }
  return n;
}

static hcs_response_t *vectors_handler(hcs_request_t *req, void *ud) {
  (void)ud;
  hcs_str_t v;
  bool raw = hcs_request_query_param(req, "raw", &v) == 0 && hcs_str_eq(v, "1");
  long stop = 0;
  if (hcs_request_query_param(req, "stop", &v) == 0 &&
      (stop = small_number(v)) < 0)
    return text(400, "stop must be a vector number\n");

  /* Resume after the last id the client saw; an id that is not one of ours
   * starts from the beginning. */
  long after = -1;
  if (hcs_request_header(req, "Last-Event-ID", &v) == 0) {
    after = small_number(v);
    if (after > 0 && (size_t)after >= NVECTORS) {
      fprintf(stderr,
              "sse_events: /vectors: Last-Event-ID %ld: nothing left, "
              "204\n",
              after);
      hcs_response_t *res;
      return hcs_response_new(&res, 204) < 0 ? NULL : res;
    }
    fprintf(stderr, "sse_events: /vectors: Last-Event-ID \"%.*s\": %s\n",
            (int)(v.len > 64 ? 64 : v.len), v.base,
            after >= 0 ? "resuming" : "unknown, from the start");
  }

  vectors_state_t *st = calloc(1, sizeof *st);
  if (st == NULL)
    return NULL;
  st->first = st->next = after > 0 ? (size_t)after + 1 : 1;
  st->stop = (size_t)stop;
  hcs_sse_options_t opts = {.on_close = vectors_closed, .ud = st};
  hcs_response_t *res;
  int err = raw ? hcs_sse_respond_raw(&res, &opts, vectors_next_raw)
                : hcs_sse_respond(&res, &opts, vectors_next);
  if (err < 0) {
    free(st);
    return NULL;
  }
  if (after >= 0) {
    char n[24];
    snprintf(n, sizeof n, "%ld", after);
    /* On failure the response frees st through on_close. */
    if (hcs_response_add_header(res, "X-Hcs-Resumed-After", n) < 0) {
      hcs_response_free(res);
      return NULL;
    }
  }
  return res;
}

/* ---- main ------------------------------------------------------------- */

int main(int argc, char **argv) {
  hcs_server_config_t cfg;
  hcs_server_config_init(&cfg);
  cfg.port = 8080;
  app_t app = {.bus = NULL, .heartbeat = 15.0};
  atomic_init(&app.next_id, 0);
  atomic_init(&app.manual_drops, 0);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--host") == 0)
      cfg.host = argv[i + 1];
    else if (strcmp(argv[i], "--port") == 0)
      cfg.port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--workers") == 0)
      cfg.workers = (unsigned)atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--heartbeat") == 0)
      app.heartbeat = atof(argv[i + 1]);
    else
      goto usage;
  }
  if (argc % 2 == 0 || !(app.heartbeat > 0))
    goto usage;
  memset(big, 'x', sizeof big);

  /* Signals are taken by sigwait below: block them before the workers start,
   * so that every thread inherits the mask. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  hcs_server_t *srv;
  int err = hcs_server_new(&srv, &cfg);
  if (err < 0) {
    fprintf(stderr, "sse_events: %s\n", hcs_strerror(err));
    return 2;
  }
  /* The bus delivers on this server's workers; it lives until the server
   * has stopped. */
  hive_bus_config_t bus_cfg;
  hive_bus_config_init(&bus_cfg);
  bus_cfg.history_count = HISTORY_COUNT;
  bus_cfg.history_bytes = HISTORY_BYTES;
  err = hive_bus_new(&app.bus, srv, &bus_cfg);
  if (err < 0) {
    fprintf(stderr, "sse_events: %s\n", hcs_strerror(err));
    hcs_server_free(srv);
    return 1;
  }
  if (hcs_server_route(srv, "GET", "/events", 0, events, &app) < 0 ||
      hcs_server_route(srv, "GET", "/events-manual", 0, events_manual, &app) <
          0 ||
      hcs_server_route(srv, "POST", "/publish", 0, publish, &app) < 0 ||
      hcs_server_route(srv, "GET", "/stats", 0, stats, &app) < 0 ||
      hcs_server_route(srv, "GET", "/vectors", 0, vectors_handler, &app) < 0) {
    fprintf(stderr, "sse_events: cannot add routes\n");
    hive_bus_free(app.bus);
    hcs_server_free(srv);
    return 1;
  }
  err = hcs_server_start(srv);
  if (err < 0) {
    fprintf(stderr, "sse_events: %s\n", hcs_strerror(err));
    hive_bus_free(app.bus);
    hcs_server_free(srv);
    return 1;
  }
  fprintf(stderr, "sse_events: listening on http://%s:%d/\n",
          cfg.host ? cfg.host : "127.0.0.1", hcs_server_port(srv));

  int sig = 0;
  sigwait(&stop_signals, &sig);
  fprintf(stderr, "sse_events: %s, stopping\n",
          sig == SIGINT ? "SIGINT" : "SIGTERM");
  hcs_server_stop(srv);
  hcs_server_wait(srv);
  /* Every response has ended, and each one's end unsubscribed it: hive
   * should have no subscriber left. */
  hive_stats_t s;
  hive_bus_stats(app.bus, &s);
  if (s.subscribers != 0)
    fprintf(stderr, "sse_events: %" PRIu64 " subscribers left after stop\n",
            s.subscribers);
  /* No callback runs any more: the bus goes first, then the server it
   * borrowed. */
  hive_bus_free(app.bus);
  hcs_server_free(srv);
  return s.subscribers == 0 ? 0 : 1;

usage:
  fprintf(stderr,
          "usage: %s [--host H] [--port P] [--workers N] [--heartbeat S]\n",
          argv[0]);
  return 2;
}
