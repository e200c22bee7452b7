/* SPDX-License-Identifier: MIT */
/*
 * examples/sse_events.c: Server-Sent Events with hcs, the seed's
 * `events_handler` in C, plus a stream of tricky test vectors.
 *
 *   GET  /events    subscribe to the topic: every event published from now
 *                   on, and the keepalive comment ":" after 15 s of silence
 *                   (--heartbeat SECONDS changes the interval)
 *   POST /publish   publish the request body as an event's data to every
 *                   subscriber; optional query parameters `event` (type) and
 *                   `id`. 200 with the number of subscribers reached (header
 *                   X-Hcs-Dropped: subscribers whose queue was full), or 400
 *                   when the type or id cannot go on the wire
 *   GET  /stats     subscribers now; events published, delivered, dropped
 *   GET  /vectors   the wire-format vectors of specs/sse.md §8 with ids 1, 2,
 *                   ..., then the end of the stream. Last-Event-ID: N resumes
 *                   after vector N (the response says X-Hcs-Resumed-After: N),
 *                   and 204 once nothing is left, so EventSource stops.
 *                   ?raw=1 sends preformatted text (hcs_sse_respond_raw) and
 *                   adds what only raw text can carry: an id-only block and
 *                   comments. ?stop=K ends a stream that started before
 *                   vector K right after it, so that the client resumes.
 *
 * The topic is a tiny in-process pub/sub (a mutex-protected list of
 * subscribers, each owning an hcs_stream_t); hive, the real one, comes later.
 * Publishing never blocks: when a subscriber's queue is full the event is
 * dropped for that subscriber alone, and counted.
 *
 * Threads: handlers and close callbacks run on the worker threads; the topic
 * is shared by all of them, so it takes its lock. Events pushed into a
 * stream are the stream's (freed with hcs_sse_event_free_item).
 *
 * Builds in-tree, or against an installed hcs:
 *   cc sse_events.c $(pkg-config --cflags --libs hcs) -pthread -o sse_events
 * Run:  ./sse_events [--host 127.0.0.1] [--port 8080] [--workers N]
 *                    [--heartbeat SECONDS]
 * It prints "sse_events: listening on http://HOST:PORT/" once it accepts
 * connections (--port 0 picks a free port) and stops on SIGINT or SIGTERM.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <hcs/hcs.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a minimal topic --------------------------------------------------- */

typedef struct subscriber_s subscriber_t;

typedef struct {
  pthread_mutex_t lock;
  subscriber_t *head; /* doubly linked, newest first */
  size_t count;
  uint64_t published, delivered, dropped;
} topic_t;

struct subscriber_s {
  subscriber_t *prev, *next;
  topic_t *topic;
  hcs_stream_t *stream; /* our reference; the response holds its own */
};

static void topic_init(topic_t *t) {
  memset(t, 0, sizeof *t);
  pthread_mutex_init(&t->lock, NULL);
}

static void topic_subscribe(topic_t *t, subscriber_t *s) {
  pthread_mutex_lock(&t->lock);
  s->topic = t;
  s->prev = NULL;
  s->next = t->head;
  if (t->head)
    t->head->prev = s;
  t->head = s;
  t->count++;
  pthread_mutex_unlock(&t->lock);
}

static void topic_unsubscribe(subscriber_t *s) {
  topic_t *t = s->topic;
  pthread_mutex_lock(&t->lock);
  if (s->prev)
    s->prev->next = s->next;
  else
    t->head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  t->count--;
  pthread_mutex_unlock(&t->lock);
}

/*
 * Push a copy of ev (borrowed) into every subscriber's stream. Never waits:
 * a full stream drops the event for that subscriber, a cancelled one (its
 * client is gone and on_close will unsubscribe it) is skipped. Sets *dropped
 * and returns the number of subscribers that took the event.
 */
static size_t topic_publish(topic_t *t, const hcs_sse_event_t *ev,
                            size_t *dropped) {
  size_t reached = 0;
  *dropped = 0;
  pthread_mutex_lock(&t->lock);
  t->published++;
  for (subscriber_t *s = t->head; s != NULL; s = s->next) {
    /* Each stream owns and frees its own copy: an event is not shared. */
    hcs_sse_event_t *copy;
    if (hcs_sse_make(&copy, ev->event_type, ev->id, ev->retry, ev->data.base,
                     ev->data.len) < 0) {
      (*dropped)++; /* out of memory: as good as a full queue */
      continue;
    }
    int err = hcs_stream_try_push(s->stream, copy);
    if (err == 0) {
      reached++;
      continue;
    }
    hcs_sse_event_free(copy); /* refused: still ours */
    if (err != HCS_ECLOSED)   /* full (HCS_EAGAIN), or HCS_ENOMEM */
      (*dropped)++;
  }
  t->delivered += reached;
  t->dropped += *dropped;
  pthread_mutex_unlock(&t->lock);
  return reached;
}

/* ---- the application -------------------------------------------------- */

typedef struct {
  topic_t topic;
  double heartbeat; /* seconds */
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

/* ---- GET /events ------------------------------------------------------ */

/*
 * The response ended (client gone, server stopping): unsubscribe. This is
 * the seed's `Eio.Cancel.Cancelled` handler. Loop thread, exactly once; the
 * library never uses sub afterwards, so it is freed here.
 */
static void events_closed(hcs_response_t *res, hcs_close_reason_t reason,
                          void *ud) {
  (void)res;
  (void)reason;
  subscriber_t *sub = ud;
  topic_unsubscribe(sub);
  hcs_stream_unref(sub->stream);
  free(sub);
}

static hcs_response_t *events(hcs_request_t *req, void *ud) {
  (void)req;
  app_t *app = ud;
  subscriber_t *sub = calloc(1, sizeof *sub);
  if (sub == NULL)
    return NULL;
  /* let events = Eio.Stream.create 32 */
  if (hcs_stream_new(&sub->stream, 32, hcs_sse_event_free_item) < 0) {
    free(sub);
    return NULL;
  }
  /* Subscribe before the response (and its head) goes out, so that whatever
   * is published once the client sees "open" reaches it. */
  topic_subscribe(&app->topic, sub);
  hcs_sse_options_t opts = {
      .flush_headers_immediately = true, .on_close = events_closed, .ud = sub};
  hcs_response_t *res;
  if (hcs_sse_respond_with_heartbeat(&res, &opts, hcs_clock_monotonic(),
                                     app->heartbeat, sub->stream) < 0) {
    /* On failure on_close never runs: undo here. */
    topic_unsubscribe(sub);
    hcs_stream_unref(sub->stream);
    free(sub);
    return NULL;
  }
  return res;
}

/* ---- POST /publish ---------------------------------------------------- */

static hcs_response_t *publish(hcs_request_t *req, void *ud) {
  app_t *app = ud;
  hcs_str_t none = {NULL, 0}, type = none, id = none;
  int err = hcs_request_query_param(req, "event", &type);
  if (err == HCS_ENOENT)
    type = none;
  else if (err < 0)
    return NULL;
  err = hcs_request_query_param(req, "id", &id);
  if (err == HCS_ENOENT)
    id = none;
  else if (err < 0)
    return NULL;
  /* Build the event once: this is where an invalid type or id is refused,
   * before anything is queued anywhere. */
  hcs_str_t body = hcs_request_body(req);
  hcs_sse_event_t *ev;
  err = hcs_sse_make(&ev, type, id, HCS_SSE_NO_RETRY, body.base, body.len);
  if (err == HCS_EINVAL)
    return text(400, "invalid event: the event type must not contain control "
                     "characters, and the id must not contain CR, LF or NUL "
                     "nor start or end with a space or tab\n");
  if (err < 0)
    return NULL;
  size_t dropped;
  size_t reached = topic_publish(&app->topic, ev, &dropped);
  hcs_sse_event_free(ev);

  char n[48];
  hcs_response_t *res = text(200, "");
  if (res == NULL)
    return NULL;
  snprintf(n, sizeof n, "%zu", dropped);
  if (hcs_response_add_header(res, "X-Hcs-Dropped", n) < 0) {
    hcs_response_free(res);
    return NULL;
  }
  snprintf(n, sizeof n, "%zu\n", reached);
  if (hcs_response_set_body(res, n, strlen(n)) < 0) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

/* ---- GET /stats ------------------------------------------------------- */

static hcs_response_t *stats(hcs_request_t *req, void *ud) {
  (void)req;
  topic_t *t = &((app_t *)ud)->topic;
  char body[160];
  pthread_mutex_lock(&t->lock);
  snprintf(body, sizeof body,
           "subscribers %zu\npublished %" PRIu64 "\ndelivered %" PRIu64
           "\ndropped %" PRIu64 "\n",
           t->count, t->published, t->delivered, t->dropped);
  pthread_mutex_unlock(&t->lock);
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
  app_t app;
  topic_init(&app.topic);
  app.heartbeat = 15.0;
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
  if (hcs_server_route(srv, "GET", "/events", 0, events, &app) < 0 ||
      hcs_server_route(srv, "POST", "/publish", 0, publish, &app) < 0 ||
      hcs_server_route(srv, "GET", "/stats", 0, stats, &app) < 0 ||
      hcs_server_route(srv, "GET", "/vectors", 0, vectors_handler, &app) < 0) {
    fprintf(stderr, "sse_events: cannot add routes\n");
    hcs_server_free(srv);
    return 1;
  }
  err = hcs_server_start(srv);
  if (err < 0) {
    fprintf(stderr, "sse_events: %s\n", hcs_strerror(err));
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
  /* Every response has ended, so every subscriber has unsubscribed. */
  if (app.topic.count != 0)
    fprintf(stderr, "sse_events: %zu subscribers left after stop\n",
            app.topic.count);
  hcs_server_free(srv);
  pthread_mutex_destroy(&app.topic.lock);
  return app.topic.count == 0 ? 0 : 1;

usage:
  fprintf(stderr,
          "usage: %s [--host H] [--port P] [--workers N] [--heartbeat S]\n",
          argv[0]);
  return 2;
}
