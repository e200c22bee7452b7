/* SPDX-License-Identifier: MIT */
/*
 * hive's Redis backend (hive/redis.h): a bus's messages go through one
 * Redis stream, written with XADD and read back, by every process, with
 * XREAD. docs/design.md ("hive on Redis") says why one stream and what
 * happens when Redis goes away.
 *
 * Threads: everything that touches Redis runs on the backend's own thread
 * and libuv loop: two hiredis connections (links), their timers, and the
 * reader's position. Other threads only append publishes to a queue under
 * `lock` and wake the loop (uv_async_send, only when the queue was empty),
 * and read the counters under `stats_lock`. start() waits on `cond` for the
 * first connection of both links.
 *
 * The command link sends each publish as one XADD, pipelined, and answers
 * it (done) when Redis replies: 0 with the id, or HCS_EAGAIN when the link
 * is down, too many publishes are in flight, or the link dropped before the
 * reply (Redis may then have the entry: see the design notes). The reader
 * link first catches up (at start: the newest `backfill` entries, into
 * history; after a reconnect: everything after its position), then loops on
 * XREAD BLOCK from its position, handing each entry in order to
 * hive__deliver. Its position only moves forward, so an entry is delivered
 * at most once, and it survives reconnects, so none is skipped.
 *
 * hiredis callbacks: a context is freed by hiredis after a failed connect
 * or a disconnect, and by us (redisAsyncFree) to drop a link; a link forgets
 * its context (l->ac = NULL) before either, so callbacks that hiredis runs
 * for a forgotten context (NULL replies while it is freed) are recognised as
 * stale and ignored — except a publish's, which always answers.
 */
#include "hive/redis.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/list.h"
#include "hcs/error.h"
#include "hive/backend.h"
#include "hive/redis_uv.h"

/* Entries per XREAD / XRANGE reply. */
#define READ_BATCH 256
/* How often the counters are refreshed from Redis (read lag), and late
 * replies on the command link looked for. */
#define POLL_MS 1000
/* Arguments of one XADD: XADD key MAXLEN ~ n * and six field pairs. */
#define XADD_ARGS 20

/* A stream entry id, "ms-seq". */
typedef struct {
  uint64_t ms, seq;
} sid_t;

typedef enum {
  LINK_DOWN,
  LINK_CONNECTING,
  LINK_HANDSHAKE,
  LINK_UP
} link_state_t;

typedef struct rb_s rb_t;

/* One connection to Redis and its life: connect, AUTH/SELECT, up, lost,
 * wait (backoff), connect again. */
typedef struct {
  rb_t *rb;
  const char *name;      /* "command", "reader" */
  redisAsyncContext *ac; /* the current context, or NULL */
  link_state_t state;
  uv_timer_t retry;    /* the backoff wait */
  uv_timer_t deadline; /* connect timeout; the reader's reply watchdog */
  unsigned attempt;    /* failed attempts in a row */
  bool ever_up;
} link_t;

/* One publish, from publish() to its reply. */
typedef struct {
  hcs_list_t node; /* in rb->queue (under lock), then rb->inflight */
  hive_backend_done_cb done;
  void *ctx;
  uint64_t sent_ns;
  size_t topic_len, id_len, type_len, data_len, payload_len;
  bool has_id, has_type, has_payload;
  int64_t retry;
  char *topic, *id, *type, *data, *payload; /* in bytes[] */
  char bytes[];
} job_t;

struct rb_s {
  hive_backend_t base;
  /* settings (immutable after new) */
  char *host, *user, *pass, *key;
  int port;
  unsigned db;
  size_t max_len, backfill, max_inflight;
  char max_len_str[24];
  unsigned connect_timeout_ms, reply_timeout_ms, block_ms;
  unsigned reconnect_min_ms, reconnect_max_ms;
  hive_redis_log_cb log;
  void *log_ud;
  hive_bus_t *bus;

  /* the thread */
  bool loop_ready;     /* loop and handles initialised (start) */
  bool thread_running; /* created and not yet joined */
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t poll_timer;
  uv_timer_t start_timer;

  /* shared with publishers and start(): under lock */
  uv_mutex_t lock;
  uv_cond_t cond;
  hcs_list_t queue;
  bool stopping;
  int start_status; /* 1 while starting, then 0 or an error */

  /* backend thread only */
  link_t cmd, rd;
  bool start_over; /* start() has its answer */
  bool started;    /* ... and it was 0 */
  bool closing;    /* shutting down: answers are HCS_ECANCELED */
  hcs_list_t inflight;
  size_t ninflight;
  uint64_t rng;
  bool have_pos;         /* the reader has a position */
  sid_t pos;             /* the last entry delivered, or the stream's
                            last id when the reader caught up */
  bool added_known;      /* Redis reports entries-added (7.0+) */
  uint64_t added_at_pos; /* entries the stream had added up to pos */
  bool xadd_failing;     /* the last XADD got an error reply */
  bool poll_busy;
  uint64_t poll_sent_ns;

  /* counters and the last error: under stats_lock */
  uv_mutex_t stats_lock;
  hive_backend_stats_t st;
  char error[256];
};

/* ---- small helpers ------------------------------------------------------- */

static uint64_t wall_ms(void) {
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) != 0)
    return 0;
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static int sid_cmp(sid_t a, sid_t b) {
  if (a.ms != b.ms)
    return a.ms < b.ms ? -1 : 1;
  return a.seq < b.seq ? -1 : a.seq > b.seq;
}

static bool sid_parse(const char *s, size_t len, sid_t *out) {
  char buf[48];
  if (len == 0 || len >= sizeof buf)
    return false;
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *end;
  if (!isdigit((unsigned char)buf[0]))
    return false;
  out->ms = strtoull(buf, &end, 10);
  out->seq = 0;
  if (*end == '\0')
    return true;
  if (*end != '-' || !isdigit((unsigned char)end[1]))
    return false;
  out->seq = strtoull(end + 1, &end, 10);
  return *end == '\0';
}

static void sid_format(sid_t id, char out[48]) {
  snprintf(out, 48, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
}

/* The smallest id after id (for an inclusive XRANGE start). */
static sid_t sid_next(sid_t id) {
  if (id.seq == UINT64_MAX)
    return (sid_t){id.ms + 1, 0};
  return (sid_t){id.ms, id.seq + 1};
}

static void note(rb_t *rb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(rb_t *rb, const char *fmt, ...) {
  if (rb->log == NULL)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  rb->log(line, rb->log_ud);
}

static void set_error(rb_t *rb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(rb_t *rb, const char *fmt, ...) {
  va_list ap;
  uv_mutex_lock(&rb->stats_lock);
  va_start(ap, fmt);
  vsnprintf(rb->error, sizeof rb->error, fmt, ap);
  va_end(ap);
  uv_mutex_unlock(&rb->stats_lock);
}

/* xorshift64*: jitter only, no need for more. */
static uint64_t rng_next(rb_t *rb) {
  uint64_t x = rb->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rb->rng = x;
  return x * 2685821657736338717ull;
}

/* The field value of a reply array of name/value pairs (XINFO). */
static const redisReply *reply_field(const redisReply *r, const char *name) {
  if (r == NULL || r->type != REDIS_REPLY_ARRAY)
    return NULL;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    const redisReply *k = r->element[i];
    if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS) &&
        strcmp(k->str, name) == 0)
      return r->element[i + 1];
  }
  return NULL;
}

/* What XINFO STREAM says: whether the stream exists, its last id and how
 * many entries it ever had (0.0.0 on Redis < 7: added_ok false). */
typedef struct {
  bool exists, added_ok;
  sid_t last;
  uint64_t added;
} stream_info_t;

static bool parse_info(const redisReply *r, stream_info_t *info) {
  memset(info, 0, sizeof(*info));
  if (r->type == REDIS_REPLY_ERROR)
    return true; /* "ERR no such key" */
  const redisReply *last = reply_field(r, "last-generated-id");
  if (last == NULL || last->type != REDIS_REPLY_STRING ||
      !sid_parse(last->str, last->len, &info->last))
    return false;
  info->exists = true;
  const redisReply *added = reply_field(r, "entries-added");
  if (added && added->type == REDIS_REPLY_INTEGER && added->integer >= 0) {
    info->added_ok = true;
    info->added = (uint64_t)added->integer;
  }
  return true;
}

/* ---- publishes: answers -------------------------------------------------- */

static void job_answer(rb_t *rb, job_t *job, int status, const char *entry_id,
                       size_t entry_len) {
  if (status < 0) {
    uv_mutex_lock(&rb->stats_lock);
    rb->st.publish_errors++;
    uv_mutex_unlock(&rb->stats_lock);
  }
  if (status == 0 && job->has_id)
    job->done(job->ctx, 0, job->id, job->id_len);
  else if (status == 0)
    job->done(job->ctx, 0, entry_id, entry_len);
  else
    job->done(job->ctx, status, NULL, 0);
  hcs__free(job);
}

/* An error reply that says "later" rather than "never". */
static bool transient_error(const char *msg) {
  static const char *const prefixes[] = {
      "LOADING",    "BUSY",     "OOM",         "READONLY",
      "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
      return true;
  return false;
}

static void on_xadd(redisAsyncContext *ac, void *reply, void *privdata) {
  link_t *l = ac->data;
  rb_t *rb = l->rb;
  redisReply *r = reply;
  job_t *job = privdata;
  hcs_list_remove(&job->node);
  rb->ninflight--;
  double ms = (double)(uv_hrtime() - job->sent_ns) / 1e6;
  if (r == NULL) {
    /* The link dropped before the answer: Redis may or may not have the
     * entry; the publisher is told to try again. */
    job_answer(rb, job, rb->closing ? HCS_ECANCELED : HCS_EAGAIN, NULL, 0);
    return;
  }
  uv_mutex_lock(&rb->stats_lock);
  rb->st.publish_ms = ms;
  uv_mutex_unlock(&rb->stats_lock);
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
    rb->xadd_failing = false;
    job_answer(rb, job, 0, r->str, r->len);
    return;
  }
  const char *msg = r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
  if (!rb->xadd_failing) /* once per run of failures */
    note(rb, "XADD to %s failed: %s", rb->key, msg);
  rb->xadd_failing = true;
  job_answer(rb, job, transient_error(msg) ? HCS_EAGAIN : HCS_EIO, NULL, 0);
}

static void job_send(rb_t *rb, job_t *job) {
  if (rb->closing) {
    job_answer(rb, job, HCS_ECANCELED, NULL, 0);
    return;
  }
  if (rb->cmd.state != LINK_UP || rb->ninflight >= rb->max_inflight) {
    job_answer(rb, job, HCS_EAGAIN, NULL, 0);
    return;
  }
  const char *argv[XADD_ARGS];
  size_t len[XADD_ARGS];
  int n = 0;
#define ARG(s, l) (argv[n] = (s), len[n] = (l), n++)
#define ARGZ(s) ARG(s, strlen(s))
  char retry[24];
  ARGZ("XADD");
  ARGZ(rb->key);
  if (rb->max_len) {
    ARGZ("MAXLEN");
    ARGZ("~");
    ARGZ(rb->max_len_str);
  }
  ARGZ("*");
  ARGZ("topic");
  ARG(job->topic, job->topic_len);
  if (job->has_id) {
    ARGZ("id");
    ARG(job->id, job->id_len);
  }
  if (job->has_type) {
    ARGZ("type");
    ARG(job->type, job->type_len);
  }
  if (job->retry != HCS_SSE_NO_RETRY) {
    snprintf(retry, sizeof retry, "%" PRId64, job->retry);
    ARGZ("retry");
    ARGZ(retry);
  }
  ARGZ("data");
  ARG(job->data, job->data_len);
  if (job->has_payload) {
    ARGZ("payload");
    ARG(job->payload, job->payload_len);
  }
#undef ARG
#undef ARGZ
  if (redisAsyncCommandArgv(rb->cmd.ac, on_xadd, job, n, argv, len) !=
      REDIS_OK) {
    job_answer(rb, job, HCS_EAGAIN, NULL, 0);
    return;
  }
  job->sent_ns = uv_hrtime();
  hcs_list_push_back(&rb->inflight, &job->node);
  rb->ninflight++;
}

/* ---- links -----------------------------------------------------------------
 */

static void link_connect(link_t *l);
static void reader_catch_up(rb_t *rb);
static void reader_next(rb_t *rb);
static void start_done(rb_t *rb, int status);

static void on_retry(uv_timer_t *t) {
  link_connect(t->data);
}

/* Forget the link's context and free it (hiredis answers what was pending
 * with NULL replies meanwhile). Safe inside a hiredis callback: the free
 * then happens when the callback returns. */
static void link_drop(link_t *l) {
  redisAsyncContext *ac = l->ac;
  l->ac = NULL;
  l->state = LINK_DOWN;
  uv_timer_stop(&l->deadline);
  if (ac)
    redisAsyncFree(ac);
}

/* The link failed (why: a sentence): drop it, and either fail the start or
 * try again after a jittered, exponentially growing wait. */
static void link_failed(link_t *l, const char *why) {
  rb_t *rb = l->rb;
  bool was_up = l->state == LINK_UP;
  link_drop(l);
  if (l == &rb->cmd) {
    uv_mutex_lock(&rb->stats_lock);
    rb->st.connected = false;
    uv_mutex_unlock(&rb->stats_lock);
  }
  if (rb->closing)
    return;
  set_error(rb, "%s", why);
  if (!rb->started) {
    /* At start a failure is an answer, not a reason to wait. */
    start_done(rb, HCS_EIO);
    return;
  }
  l->attempt++;
  if (was_up)
    note(rb, "%s; reconnecting%s", why,
         l == &rb->cmd ? " (publishes are refused until then)" : "");
  else if (l->attempt % 10 == 0)
    note(rb, "%s (attempt %u); still trying", why, l->attempt);
  /* Exponential, capped, then jittered to 50-100 % so that many processes
   * losing the same server do not come back in lockstep. */
  uint64_t delay = rb->reconnect_min_ms;
  for (unsigned i = 1; i < l->attempt && delay < rb->reconnect_max_ms; i++)
    delay *= 2;
  if (delay > rb->reconnect_max_ms)
    delay = rb->reconnect_max_ms;
  delay = delay / 2 + rng_next(rb) % (delay / 2 + 1);
  uv_timer_start(&l->retry, on_retry, delay, 0);
}

static void link_failedf(link_t *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void link_failedf(link_t *l, const char *fmt, ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  link_failed(l, why);
}

static void on_deadline(uv_timer_t *t) {
  link_t *l = t->data;
  rb_t *rb = l->rb;
  if (l->state == LINK_CONNECTING)
    link_failedf(l, "cannot connect to Redis at %s:%d: no answer within %u ms",
                 rb->host, rb->port, rb->connect_timeout_ms);
  else
    link_failedf(l,
                 "Redis at %s:%d stopped answering the %s connection "
                 "(nothing for %u ms)",
                 rb->host, rb->port, l->name, rb->reply_timeout_ms);
}

/* The link is ready for its work. */
static void link_up(link_t *l) {
  rb_t *rb = l->rb;
  l->state = LINK_UP;
  uv_timer_stop(&l->deadline);
  if (l->ever_up) {
    uv_mutex_lock(&rb->stats_lock);
    rb->st.reconnects++;
    uv_mutex_unlock(&rb->stats_lock);
    note(rb, "the %s connection to Redis at %s:%d is back%s", l->name, rb->host,
         rb->port,
         l == &rb->rd ? "; reading on after the last entry delivered" : "");
  }
  l->ever_up = true;
  l->attempt = 0;
  if (l == &rb->cmd) {
    uv_mutex_lock(&rb->stats_lock);
    rb->st.connected = true;
    uv_mutex_unlock(&rb->stats_lock);
  }
  if (!rb->started && rb->cmd.state == LINK_UP && rb->rd.state == LINK_UP)
    start_done(rb, 0);
}

static bool stale(const redisAsyncContext *ac) {
  link_t *l = ac->data;
  return l == NULL || l->ac != ac;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  if (stale(ac))
    return;
  link_t *l = ac->data;
  rb_t *rb = l->rb;
  l->ac = NULL; /* hiredis frees it */
  link_failedf(l, "lost the %s connection to Redis at %s:%d: %s", l->name,
               rb->host, rb->port,
               status == REDIS_OK || ac->errstr[0] == '\0'
                   ? "closed by the server"
                   : ac->errstr);
}

/* A handshake reply: AUTH and SELECT must succeed; the last one (PING)
 * makes the link ready. privdata: the command's name, or NULL for the
 * last. */
static void on_handshake(redisAsyncContext *ac, void *reply, void *privdata) {
  redisReply *r = reply;
  if (r == NULL || stale(ac))
    return;
  link_t *l = ac->data;
  rb_t *rb = l->rb;
  if (r->type == REDIS_REPLY_ERROR) {
    link_failedf(l, "Redis at %s:%d refused %s: %s", rb->host, rb->port,
                 privdata ? (const char *)privdata : "PING", r->str);
    return;
  }
  if (privdata != NULL)
    return;
  if (l == &rb->cmd)
    link_up(l);
  else
    reader_catch_up(rb); /* link_up once caught up */
}

static void on_connect(const redisAsyncContext *cac, int status) {
  if (stale(cac))
    return;
  redisAsyncContext *ac = (redisAsyncContext *)cac;
  link_t *l = ac->data;
  rb_t *rb = l->rb;
  if (status != REDIS_OK) {
    l->ac = NULL; /* hiredis frees it */
    link_failedf(l, "cannot connect to Redis at %s:%d: %s", rb->host, rb->port,
                 ac->errstr[0] ? ac->errstr : "connection failed");
    return;
  }
  l->state = LINK_HANDSHAKE;
  uv_timer_start(&l->deadline, on_deadline, rb->reply_timeout_ms, 0);
  int ok = REDIS_OK;
  if (rb->pass && rb->user) {
    const char *argv[] = {"AUTH", rb->user, rb->pass};
    ok = redisAsyncCommandArgv(ac, on_handshake, (void *)"AUTH", 3, argv, NULL);
  } else if (rb->pass) {
    const char *argv[] = {"AUTH", rb->pass};
    ok = redisAsyncCommandArgv(ac, on_handshake, (void *)"AUTH", 2, argv, NULL);
  }
  if (ok == REDIS_OK && rb->db)
    ok = redisAsyncCommand(ac, on_handshake, (void *)"SELECT", "SELECT %u",
                           rb->db);
  if (ok == REDIS_OK)
    ok = redisAsyncCommand(ac, on_handshake, NULL, "PING");
  if (ok != REDIS_OK)
    link_failedf(l, "cannot talk to Redis at %s:%d", rb->host, rb->port);
}

static void link_connect(link_t *l) {
  rb_t *rb = l->rb;
  if (rb->closing)
    return;
  /* Name resolution happens here, on the backend's thread (hiredis 0.14
   * resolves synchronously); use an address to avoid it. */
  redisAsyncContext *ac = redisAsyncConnect(rb->host, rb->port);
  if (ac == NULL) {
    link_failedf(l, "cannot connect to Redis at %s:%d: out of memory", rb->host,
                 rb->port);
    return;
  }
  if (ac->err) {
    char why[256];
    snprintf(why, sizeof why, "cannot connect to Redis at %s:%d: %s", rb->host,
             rb->port, ac->errstr);
    redisAsyncFree(ac);
    link_failed(l, why);
    return;
  }
  if (hive__redis_uv_attach(ac, &rb->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    link_failedf(l, "cannot connect to Redis at %s:%d: cannot poll the socket",
                 rb->host, rb->port);
    return;
  }
  ac->data = l;
  l->ac = ac;
  l->state = LINK_CONNECTING;
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  redisAsyncSetConnectCallback(ac, on_connect); /* waits for writable */
  uv_timer_start(&l->deadline, on_deadline, rb->connect_timeout_ms, 0);
}

/* ---- the reader -------------------------------------------------------------
 */

/* Deliver one entry ([id, [field, value, ...]]) if it is after pos. */
static void deliver_entry(rb_t *rb, const redisReply *e) {
  sid_t id;
  if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
      e->element[0]->type != REDIS_REPLY_STRING ||
      !sid_parse(e->element[0]->str, e->element[0]->len, &id))
    return;
  if (sid_cmp(id, rb->pos) <= 0)
    return; /* delivered already */
  rb->pos = id;
  rb->added_at_pos++;
  const redisReply *f = e->element[1];
  if (f->type != REDIS_REPLY_ARRAY)
    return;
  hcs_str_t topic = {NULL, 0}, payload = {NULL, 0};
  bool has_payload = false;
  hcs_sse_event_t ev = {{NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY, {"", 0}};
  for (size_t i = 0; i + 1 < f->elements; i += 2) {
    const redisReply *k = f->element[i], *v = f->element[i + 1];
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
      continue;
    hcs_str_t val = {v->str, v->len};
    if (strcmp(k->str, "topic") == 0) {
      topic = val;
    } else if (strcmp(k->str, "id") == 0) {
      ev.id = val;
    } else if (strcmp(k->str, "type") == 0) {
      ev.event_type = val;
    } else if (strcmp(k->str, "data") == 0) {
      ev.data = val;
    } else if (strcmp(k->str, "payload") == 0) {
      payload = val;
      has_payload = true;
    } else if (strcmp(k->str, "retry") == 0) {
      char *end;
      long long n = strtoll(v->str, &end, 10);
      if (v->len > 0 && *end == '\0' && n >= 0 && n <= HCS_SSE_RETRY_MAX)
        ev.retry = n;
    }
  }
  if (ev.id.base == NULL)
    ev.id = (hcs_str_t){e->element[0]->str, e->element[0]->len};
  if (!has_payload)
    payload = ev.data;
  if (topic.base == NULL || hive__deliver(rb->bus, topic.base, topic.len, &ev,
                                          payload.base, payload.len) < 0)
    note(rb,
         "stream %s: entry %s skipped (no topic, an invalid event, or "
         "no memory)",
         rb->key, e->element[0]->str);
}

/* Entries of an XRANGE/XREAD entry list, oldest first (or newest first
 * when reversed: XREVRANGE). */
static void deliver_entries(rb_t *rb, const redisReply *list, bool reversed) {
  if (list == NULL || list->type != REDIS_REPLY_ARRAY)
    return;
  for (size_t i = 0; i < list->elements; i++)
    deliver_entry(rb, list->element[reversed ? list->elements - 1 - i : i]);
}

/* The reply to MULTI; XREVRANGE|XRANGE; XINFO STREAM; EXEC. */
static void on_catch_up(redisAsyncContext *ac, void *reply, void *privdata) {
  redisReply *r = reply;
  if (r == NULL || stale(ac))
    return;
  link_t *l = ac->data;
  rb_t *rb = l->rb;
  uv_timer_stop(&l->deadline);
  stream_info_t info;
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type == REDIS_REPLY_ERROR ||
      !parse_info(r->element[1], &info)) {
    link_failedf(l, "cannot read stream %s from Redis at %s:%d: %s", rb->key,
                 rb->host, rb->port,
                 r->type == REDIS_REPLY_ERROR ? r->str
                 : r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                         r->element[0]->type == REDIS_REPLY_ERROR
                     ? r->element[0]->str
                     : "unexpected reply");
    return;
  }
  const redisReply *range = r->element[0];
  if (!rb->have_pos) {
    /* The first read: the newest entries fill the history; live reading
     * starts after the stream's last id, all in one transaction, so that
     * nothing falls between. */
    rb->pos = (sid_t){0, 0};
    deliver_entries(rb, range, true);
    rb->have_pos = true;
    if (info.exists)
      rb->pos = info.last;
    /* A stream created later counts its entries from 0. */
    rb->added_known = info.added_ok || !info.exists;
    rb->added_at_pos = info.added;
    link_up(l);
    reader_next(rb);
    return;
  }
  /* After a reconnect. A stream whose last id is behind ours, or that has
   * added fewer entries than we have read, is a new one (Redis restarted
   * without persistence, or the key was deleted): all its entries are new
   * to us, so read it from the start. */
  sid_t zero = {0, 0};
  bool reset = info.exists ? sid_cmp(info.last, rb->pos) < 0 ||
                                 (info.added_ok && rb->added_known &&
                                  info.added < rb->added_at_pos)
                           : sid_cmp(rb->pos, zero) != 0;
  if (reset) {
    char old[48];
    sid_format(rb->pos, old);
    note(rb,
         "stream %s was reset (Redis restarted without its data?); "
         "reading its new entries from the start (last delivered: %s)",
         rb->key, old);
    rb->pos = zero;
    rb->added_at_pos = 0;
    reader_catch_up(rb);
    return;
  }
  deliver_entries(rb, range, false);
  if (range->type == REDIS_REPLY_ARRAY && range->elements >= READ_BATCH) {
    reader_catch_up(rb); /* more to read */
    return;
  }
  /* Caught up at the moment of the transaction. */
  if (info.exists && sid_cmp(info.last, rb->pos) > 0)
    rb->pos = info.last;
  rb->added_known = info.added_ok || !info.exists;
  rb->added_at_pos = info.added;
  if (l->state != LINK_UP)
    link_up(l);
  reader_next(rb);
}

/* Read what is after pos (or, the first time, the newest entries) together
 * with the stream's counters. */
static void reader_catch_up(rb_t *rb) {
  link_t *l = &rb->rd;
  redisAsyncContext *ac = l->ac;
  char from[48], count[24];
  int ok = redisAsyncCommand(ac, NULL, NULL, "MULTI");
  if (!rb->have_pos) {
    snprintf(count, sizeof count, "%zu", rb->backfill);
    const char *argv[] = {"XREVRANGE", rb->key, "+", "-", "COUNT", count};
    if (ok == REDIS_OK)
      ok = redisAsyncCommandArgv(ac, NULL, NULL, 6, argv, NULL);
  } else {
    sid_format(sid_next(rb->pos), from);
    snprintf(count, sizeof count, "%d", READ_BATCH);
    const char *argv[] = {"XRANGE", rb->key, from, "+", "COUNT", count};
    if (ok == REDIS_OK)
      ok = redisAsyncCommandArgv(ac, NULL, NULL, 6, argv, NULL);
  }
  const char *info[] = {"XINFO", "STREAM", rb->key};
  if (ok == REDIS_OK)
    ok = redisAsyncCommandArgv(ac, NULL, NULL, 3, info, NULL);
  if (ok == REDIS_OK)
    ok = redisAsyncCommand(ac, on_catch_up, NULL, "EXEC");
  if (ok != REDIS_OK) {
    link_failedf(l, "cannot talk to Redis at %s:%d", rb->host, rb->port);
    return;
  }
  uv_timer_start(&l->deadline, on_deadline, rb->reply_timeout_ms, 0);
}

static void on_xread(redisAsyncContext *ac, void *reply, void *privdata) {
  redisReply *r = reply;
  if (r == NULL || stale(ac))
    return;
  link_t *l = ac->data;
  rb_t *rb = l->rb;
  uv_timer_stop(&l->deadline);
  if (r->type == REDIS_REPLY_ERROR) {
    link_failedf(l, "XREAD on %s failed: %s", rb->key, r->str);
    return;
  }
  /* [[key, [entry, ...]]], or nil when BLOCK timed out. */
  if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
      r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
    deliver_entries(rb, r->element[0]->element[1], false);
  reader_next(rb);
}

/* The next blocking read after pos. */
static void reader_next(rb_t *rb) {
  link_t *l = &rb->rd;
  char from[48], count[24], block[24];
  sid_format(rb->pos, from);
  snprintf(count, sizeof count, "%d", READ_BATCH);
  snprintf(block, sizeof block, "%u", rb->block_ms);
  const char *argv[] = {"XREAD", "COUNT",   count,   "BLOCK",
                        block,   "STREAMS", rb->key, from};
  if (redisAsyncCommandArgv(l->ac, on_xread, NULL, 8, argv, NULL) != REDIS_OK) {
    link_failedf(l, "cannot talk to Redis at %s:%d", rb->host, rb->port);
    return;
  }
  /* A silent server (a dead peer without a reset) is found by the lack of
   * an answer after BLOCK has run out. */
  uv_timer_start(&l->deadline, on_deadline,
                 (uint64_t)rb->block_ms + rb->reply_timeout_ms, 0);
}

/* ---- counters: read lag
 * ------------------------------------------------------- */

static void on_poll_first(redisAsyncContext *ac, void *reply, void *privdata) {
  redisReply *r = reply;
  link_t *l = ac->data;
  rb_t *rb = l->rb;
  rb->poll_busy = false;
  if (r == NULL || stale(ac))
    return;
  double lag_ms = 0;
  const redisReply *e =
      r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0] : NULL;
  sid_t id;
  if (e && e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
      e->element[0]->type == REDIS_REPLY_STRING &&
      sid_parse(e->element[0]->str, e->element[0]->len, &id)) {
    uint64_t now = wall_ms();
    lag_ms = now > id.ms ? (double)(now - id.ms) : 0;
  }
  uv_mutex_lock(&rb->stats_lock);
  rb->st.read_lag_ms = lag_ms;
  uv_mutex_unlock(&rb->stats_lock);
}

static void on_poll_info(redisAsyncContext *ac, void *reply, void *privdata) {
  redisReply *r = reply;
  link_t *l = ac->data;
  rb_t *rb = l->rb;
  rb->poll_busy = false;
  stream_info_t info;
  if (r == NULL || stale(ac) || !parse_info(r, &info))
    return;
  uint64_t lag = 0;
  if (info.exists && rb->have_pos) {
    if (info.added_ok && rb->added_known)
      lag = info.added > rb->added_at_pos ? info.added - rb->added_at_pos : 0;
    else
      lag = sid_cmp(info.last, rb->pos) > 0; /* at least one, unknown */
  }
  uv_mutex_lock(&rb->stats_lock);
  rb->st.read_lag = lag;
  if (lag == 0)
    rb->st.read_lag_ms = 0;
  uv_mutex_unlock(&rb->stats_lock);
  if (lag == 0)
    return;
  /* The oldest unread entry's age, from its id's time part. */
  char from[48];
  sid_format(sid_next(rb->pos), from);
  const char *argv[] = {"XRANGE", rb->key, from, "+", "COUNT", "1"};
  if (redisAsyncCommandArgv(ac, on_poll_first, NULL, 6, argv, NULL) ==
      REDIS_OK) {
    rb->poll_busy = true;
    rb->poll_sent_ns = uv_hrtime();
  }
}

static void on_poll_timer(uv_timer_t *t) {
  rb_t *rb = t->data;
  link_t *l = &rb->cmd;
  if (l->state != LINK_UP)
    return;
  /* A reply overdue on the command link means a dead peer that sent no
   * reset: drop the link (publishes in flight answer HCS_EAGAIN). */
  uint64_t now = uv_hrtime(), limit = (uint64_t)rb->reply_timeout_ms * 1000000;
  hcs_list_t *first = hcs_list_first(&rb->inflight);
  uint64_t oldest = first ? hcs_list_entry(first, job_t, node)->sent_ns : now;
  if (rb->poll_busy && rb->poll_sent_ns < oldest)
    oldest = rb->poll_sent_ns;
  if (now - oldest > limit) {
    link_failedf(l,
                 "Redis at %s:%d stopped answering the command connection "
                 "(nothing for %u ms)",
                 rb->host, rb->port, rb->reply_timeout_ms);
    return;
  }
  if (rb->poll_busy)
    return;
  const char *argv[] = {"XINFO", "STREAM", rb->key};
  if (redisAsyncCommandArgv(l->ac, on_poll_info, NULL, 3, argv, NULL) ==
      REDIS_OK) {
    rb->poll_busy = true;
    rb->poll_sent_ns = now;
  }
}

/* ---- the thread ------------------------------------------------------------
 */

/* The start is over (once): wake start(). */
static void start_done(rb_t *rb, int status) {
  if (rb->start_over)
    return;
  rb->start_over = true;
  rb->started = status == 0;
  uv_timer_stop(&rb->start_timer);
  uv_mutex_lock(&rb->lock);
  rb->start_status = status;
  uv_cond_signal(&rb->cond);
  uv_mutex_unlock(&rb->lock);
}

static void on_start_timeout(uv_timer_t *t) {
  rb_t *rb = t->data;
  if (rb->started)
    return;
  set_error(rb, "Redis at %s:%d did not answer within %u ms", rb->host,
            rb->port, rb->connect_timeout_ms + rb->reply_timeout_ms);
  start_done(rb, HCS_ETIMEDOUT);
}

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* Stop: answer every publish, drop the links, close every handle; the loop
 * then ends. */
static void shutdown_loop(rb_t *rb) {
  rb->closing = true;
  link_drop(&rb->cmd); /* in-flight publishes answer HCS_ECANCELED */
  link_drop(&rb->rd);
  hcs_list_t *n;
  while ((n = hcs_list_first(&rb->inflight)) != NULL) {
    hcs_list_remove(n);
    rb->ninflight--;
    job_answer(rb, hcs_list_entry(n, job_t, node), HCS_ECANCELED, NULL, 0);
  }
  close_handle((uv_handle_t *)&rb->wake);
  close_handle((uv_handle_t *)&rb->poll_timer);
  close_handle((uv_handle_t *)&rb->start_timer);
  close_handle((uv_handle_t *)&rb->cmd.retry);
  close_handle((uv_handle_t *)&rb->cmd.deadline);
  close_handle((uv_handle_t *)&rb->rd.retry);
  close_handle((uv_handle_t *)&rb->rd.deadline);
}

static void on_wake(uv_async_t *a) {
  rb_t *rb = a->data;
  hcs_list_t jobs;
  hcs_list_init(&jobs);
  uv_mutex_lock(&rb->lock);
  hcs_list_move_all(&rb->queue, &jobs);
  bool stopping = rb->stopping;
  uv_mutex_unlock(&rb->lock);
  if (stopping)
    rb->closing = true;
  hcs_list_t *n;
  while ((n = hcs_list_first(&jobs)) != NULL) {
    hcs_list_remove(n);
    job_send(rb, hcs_list_entry(n, job_t, node));
  }
  if (stopping && !uv_is_closing((uv_handle_t *)&rb->wake))
    shutdown_loop(rb);
}

static void thread_main(void *arg) {
  rb_t *rb = arg;
  /* hiredis writes with write(2): a server gone away must cost EPIPE, not
   * the process. Blocked here, SIGPIPE stays pending on this thread only. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  uv_timer_start(&rb->start_timer, on_start_timeout,
                 (uint64_t)rb->connect_timeout_ms + rb->reply_timeout_ms, 0);
  uv_timer_start(&rb->poll_timer, on_poll_timer, POLL_MS, POLL_MS);
  link_connect(&rb->cmd);
  if (!rb->start_over)
    link_connect(&rb->rd);
  uv_run(&rb->loop, UV_RUN_DEFAULT);
}

/* ---- the backend's operations
 * ------------------------------------------------ */

static void link_init(rb_t *rb, link_t *l, const char *name) {
  l->rb = rb;
  l->name = name;
  uv_timer_init(&rb->loop, &l->retry);
  uv_timer_init(&rb->loop, &l->deadline);
  l->retry.data = l->deadline.data = l;
}

static void stop_thread(rb_t *rb) {
  if (!rb->thread_running)
    return;
  uv_mutex_lock(&rb->lock);
  rb->stopping = true;
  uv_mutex_unlock(&rb->lock);
  uv_async_send(&rb->wake);
  uv_thread_join(&rb->thread);
  rb->thread_running = false;
}

static int rb_start(hive_backend_t *b, hive_bus_t *bus) {
  rb_t *rb = (rb_t *)b;
  if (rb->loop_ready)
    return HCS_ESTATE; /* one bus, once */
  rb->bus = bus;
  int err = uv_loop_init(&rb->loop);
  if (err < 0)
    return err;
  if ((err = uv_async_init(&rb->loop, &rb->wake, on_wake)) < 0) {
    (void)uv_loop_close(&rb->loop);
    return err;
  }
  rb->loop_ready = true;
  rb->wake.data = rb;
  uv_timer_init(&rb->loop, &rb->poll_timer);
  uv_timer_init(&rb->loop, &rb->start_timer);
  rb->poll_timer.data = rb->start_timer.data = rb;
  link_init(rb, &rb->cmd, "command");
  link_init(rb, &rb->rd, "reader");
  rb->start_status = 1;
  if ((err = uv_thread_create(&rb->thread, thread_main, rb)) < 0) {
    /* Nothing ran on the loop: close the handles here. */
    shutdown_loop(rb);
    uv_run(&rb->loop, UV_RUN_DEFAULT);
    return err;
  }
  rb->thread_running = true;
  uv_mutex_lock(&rb->lock);
  while (rb->start_status == 1)
    uv_cond_wait(&rb->cond, &rb->lock);
  err = rb->start_status;
  uv_mutex_unlock(&rb->lock);
  if (err < 0)
    stop_thread(rb);
  return err;
}

static int rb_publish(hive_backend_t *b, const char *topic, size_t topic_len,
                      const hcs_sse_event_t *ev, const void *payload,
                      size_t len, hive_backend_done_cb done, void *ctx) {
  rb_t *rb = (rb_t *)b;
  /* The payload is stored only when it differs from the data (hive_publish
   * passes the data as payload). */
  bool has_payload = len != ev->data.len ||
                     (len > 0 && memcmp(payload, ev->data.base, len) != 0);
  size_t id_len = ev->id.base ? ev->id.len : 0;
  size_t type_len = ev->event_type.base ? ev->event_type.len : 0;
  size_t plen = has_payload ? len : 0;
  job_t *job = hcs__malloc(sizeof(*job) + topic_len + id_len + type_len +
                           ev->data.len + plen + 1);
  if (job == NULL)
    return HCS_ENOMEM;
  hcs_list_init(&job->node);
  job->done = done;
  job->ctx = ctx;
  job->retry = ev->retry;
  char *p = job->bytes;
#define PUT(dst, src, n)                                                       \
  do {                                                                         \
    job->dst = p;                                                              \
    if (n)                                                                     \
      memcpy(p, src, n);                                                       \
    p += n;                                                                    \
  } while (0)
  PUT(topic, topic, topic_len);
  PUT(id, ev->id.base, id_len);
  PUT(type, ev->event_type.base, type_len);
  PUT(data, ev->data.base, ev->data.len);
  PUT(payload, payload, plen);
#undef PUT
  *p = '\0';
  job->topic_len = topic_len;
  job->id_len = id_len;
  job->type_len = type_len;
  job->data_len = ev->data.len;
  job->payload_len = plen;
  job->has_id = ev->id.base != NULL;
  job->has_type = ev->event_type.base != NULL;
  job->has_payload = has_payload;

  uv_mutex_lock(&rb->lock);
  if (rb->stopping || !rb->thread_running) {
    uv_mutex_unlock(&rb->lock);
    hcs__free(job);
    return HCS_ECANCELED;
  }
  bool was_empty = hcs_list_empty(&rb->queue);
  hcs_list_push_back(&rb->queue, &job->node);
  uv_mutex_unlock(&rb->lock);
  if (was_empty)
    uv_async_send(&rb->wake);
  return 0;
}

static void rb_stats(hive_backend_t *b, hive_backend_stats_t *out) {
  rb_t *rb = (rb_t *)b;
  uv_mutex_lock(&rb->stats_lock);
  *out = rb->st;
  uv_mutex_unlock(&rb->stats_lock);
  out->name = "redis";
}

static void rb_destroy(hive_backend_t *b) {
  rb_t *rb = (rb_t *)b;
  stop_thread(rb);
  if (rb->loop_ready) {
    /* The thread closed every handle; let their close callbacks run. */
    uv_run(&rb->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&rb->loop);
  }
  hcs_list_t *n;
  while ((n = hcs_list_first(&rb->queue)) != NULL) {
    hcs_list_remove(n);
    job_t *job = hcs_list_entry(n, job_t, node);
    job->done(job->ctx, HCS_ECANCELED, NULL, 0);
    hcs__free(job);
  }
  uv_cond_destroy(&rb->cond);
  uv_mutex_destroy(&rb->lock);
  uv_mutex_destroy(&rb->stats_lock);
  hcs__free(rb->host);
  hcs__free(rb->user);
  hcs__free(rb->pass);
  hcs__free(rb->key);
  hcs__free(rb);
}

static const hive_backend_ops_t redis_ops = {
    "redis", rb_start, rb_publish, rb_stats, rb_destroy,
};

/* ---- configuration
 * ------------------------------------------------------------ */

void hive_redis_options_init(hive_redis_options_t *o) {
  memset(o, 0, sizeof(*o));
  o->stream_key = "hive:stream";
  o->max_len = 100000;
  o->backfill = 1000;
  o->connect_timeout_ms = 2000;
  o->reply_timeout_ms = 5000;
  o->block_ms = 1000;
  o->reconnect_min_ms = 100;
  o->reconnect_max_ms = 2000;
  o->max_inflight = 10000;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A %-decoded copy of s[0..n), or NULL (no memory: *nomem, or a bad
 * escape or a NUL). */
static char *decode(const char *s, size_t n, bool *nomem) {
  char *out = hcs__malloc(n + 1);
  if (out == NULL) {
    *nomem = true;
    return NULL;
  }
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      out[o++] = s[i];
      continue;
    }
    int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
    int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
      hcs__free(out);
      return NULL;
    }
    out[o++] = (char)(hi * 16 + lo);
    i += 2;
  }
  out[o] = '\0';
  return out;
}

static bool parse_num(const char *s, size_t n, uint64_t max, uint64_t *out) {
  if (n == 0 || n > 20)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i]))
      return false;
    if (v > (UINT64_MAX - 9) / 10)
      return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v > max)
    return false;
  *out = v;
  return true;
}

#define URL_FORM                                                               \
  "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?stream=KEY&maxlen=N]"

/* Parse url into rb. Returns 0, HCS_ENOMEM, or HCS_EINVAL with *why. */
static int parse_url(rb_t *rb, const char *url, const char **why) {
  bool nomem = false;
  if (strncmp(url, "rediss://", 9) == 0) {
    *why = "rediss:// (Redis over TLS) is not supported: Debian 12's hiredis "
           "0.14 has no TLS. Run a TLS tunnel (stunnel) on this machine and "
           "point the transport at its local end with redis:// (see "
           "docs/design.md, \"hive on Redis\")";
    return HCS_EINVAL;
  }
  if (strncmp(url, "redis://", 8) != 0) {
    *why = "the transport URL must look like " URL_FORM;
    return HCS_EINVAL;
  }
  const char *p = url + 8;
  size_t auth_len = strcspn(p, "/?#");
  const char *auth_end = p + auth_len;
  if (*auth_end == '#') {
    *why = "the Redis URL may not have a #fragment";
    return HCS_EINVAL;
  }
  /* userinfo: the last '@' of the authority */
  const char *at = NULL;
  for (const char *q = p; q < auth_end; q++)
    if (*q == '@')
      at = q;
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon == NULL) {
      *why = "the Redis URL's user information needs a password: "
             "redis://:PASSWORD@HOST or redis://USER:PASSWORD@HOST";
      return HCS_EINVAL;
    }
    if (colon > p &&
        (rb->user = decode(p, (size_t)(colon - p), &nomem)) == NULL)
      goto bad_escape;
    if ((rb->pass = decode(colon + 1, (size_t)(at - colon - 1), &nomem)) ==
        NULL)
      goto bad_escape;
    p = at + 1;
  }
  /* host[:port], host may be [v6] */
  const char *host = p, *host_end, *port = NULL;
  if (*p == '[') {
    const char *close = memchr(p, ']', (size_t)(auth_end - p));
    if (close == NULL) {
      *why = "the Redis URL has '[' without ']' around its IPv6 address";
      return HCS_EINVAL;
    }
    host = p + 1;
    host_end = close;
    if (close + 1 < auth_end) {
      if (close[1] != ':') {
        *why = "the Redis URL has something other than :PORT after ']'";
        return HCS_EINVAL;
      }
      port = close + 2;
    }
  } else {
    const char *colon = memchr(p, ':', (size_t)(auth_end - p));
    host_end = colon ? colon : auth_end;
    if (colon)
      port = colon + 1;
  }
  if (host_end == host) {
    *why = "the Redis URL has no host: " URL_FORM;
    return HCS_EINVAL;
  }
  if ((rb->host = hcs__strndup(host, (size_t)(host_end - host))) == NULL)
    return HCS_ENOMEM;
  rb->port = 6379;
  if (port) {
    uint64_t v;
    if (!parse_num(port, (size_t)(auth_end - port), 65535, &v) || v == 0) {
      *why = "the Redis URL's port must be a number from 1 to 65535";
      return HCS_EINVAL;
    }
    rb->port = (int)v;
  }
  p = auth_end;
  if (*p == '/') {
    p++;
    size_t n = strcspn(p, "?");
    uint64_t v = 0;
    if (n > 0 && !parse_num(p, n, 1u << 20, &v)) {
      *why = "the Redis URL's path must be a database number (redis://HOST/0)";
      return HCS_EINVAL;
    }
    rb->db = (unsigned)v;
    p += n;
  }
  if (*p == '?') {
    p++;
    while (*p) {
      size_t n = strcspn(p, "&");
      const char *eq = memchr(p, '=', n);
      if (eq == NULL) {
        *why = "the Redis URL's query must be stream=KEY and/or maxlen=N";
        return HCS_EINVAL;
      }
      size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
      if (klen == 6 && memcmp(p, "stream", 6) == 0) {
        char *k = decode(eq + 1, vlen, &nomem);
        if (k == NULL)
          goto bad_escape;
        if (k[0] == '\0') {
          hcs__free(k);
          *why = "the Redis URL's stream= is empty";
          return HCS_EINVAL;
        }
        hcs__free(rb->key);
        rb->key = k;
      } else if (klen == 6 && memcmp(p, "maxlen", 6) == 0) {
        uint64_t v;
        if (!parse_num(eq + 1, vlen, SIZE_MAX, &v)) {
          *why =
              "the Redis URL's maxlen= must be a whole number (0: unbounded)";
          return HCS_EINVAL;
        }
        rb->max_len = (size_t)v;
      } else {
        *why = "the Redis URL's query knows only stream=KEY and maxlen=N";
        return HCS_EINVAL;
      }
      p += n;
      if (*p == '&')
        p++;
    }
  }
  return 0;
bad_escape:
  if (nomem)
    return HCS_ENOMEM;
  *why = "the Redis URL has a bad %-escape (or %00) in its user, password "
         "or stream";
  return HCS_EINVAL;
}

int hive_backend_redis_new(hive_backend_t **out, const char *url,
                           const hive_redis_options_t *opts,
                           const char **errmsg) {
  const char *dummy;
  if (errmsg == NULL)
    errmsg = &dummy;
  *errmsg = NULL;
  hive_redis_options_t defaults;
  if (opts == NULL) {
    hive_redis_options_init(&defaults);
    opts = &defaults;
  }
  if (out == NULL || url == NULL) {
    *errmsg = "no Redis URL";
    return HCS_EINVAL;
  }
  if (opts->stream_key == NULL || opts->stream_key[0] == '\0' ||
      opts->connect_timeout_ms == 0 || opts->reply_timeout_ms == 0 ||
      opts->block_ms == 0 || opts->reconnect_min_ms == 0 ||
      opts->reconnect_max_ms < opts->reconnect_min_ms ||
      opts->max_inflight == 0) {
    *errmsg = "invalid Redis backend options (empty stream key, a zero "
              "timeout, or reconnect_max_ms below reconnect_min_ms)";
    return HCS_EINVAL;
  }
  rb_t *rb = hcs__calloc(1, sizeof(*rb));
  if (rb == NULL)
    return HCS_ENOMEM;
  rb->base.ops = &redis_ops;
  rb->max_len = opts->max_len;
  rb->backfill = opts->backfill;
  rb->max_inflight = opts->max_inflight;
  rb->connect_timeout_ms = opts->connect_timeout_ms;
  rb->reply_timeout_ms = opts->reply_timeout_ms;
  rb->block_ms = opts->block_ms;
  rb->reconnect_min_ms = opts->reconnect_min_ms;
  rb->reconnect_max_ms = opts->reconnect_max_ms;
  rb->log = opts->log;
  rb->log_ud = opts->log_ud;
  rb->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)rb;
  if (rb->rng == 0)
    rb->rng = 88172645463325252ull;
  hcs_list_init(&rb->queue);
  hcs_list_init(&rb->inflight);
  int err = HCS_ENOMEM;
  if ((rb->key = hcs__strdup(opts->stream_key)) == NULL)
    goto fail;
  if ((err = parse_url(rb, url, errmsg)) < 0)
    goto fail;
  snprintf(rb->max_len_str, sizeof rb->max_len_str, "%zu", rb->max_len);
  err = HCS_ENOMEM;
  if (uv_mutex_init(&rb->lock) != 0)
    goto fail;
  if (uv_mutex_init(&rb->stats_lock) != 0) {
    uv_mutex_destroy(&rb->lock);
    goto fail;
  }
  if (uv_cond_init(&rb->cond) != 0) {
    uv_mutex_destroy(&rb->lock);
    uv_mutex_destroy(&rb->stats_lock);
    goto fail;
  }
  rb->st.name = "redis";
  *out = &rb->base;
  return 0;
fail:
  if (err == HCS_ENOMEM && *errmsg == NULL)
    *errmsg = "out of memory";
  hcs__free(rb->host);
  hcs__free(rb->user);
  hcs__free(rb->pass);
  hcs__free(rb->key);
  hcs__free(rb);
  return err;
}

const char *hive_backend_redis_error(const hive_backend_t *b) {
  if (b == NULL || b->ops != &redis_ops)
    return "";
  return ((const rb_t *)b)->error;
}
