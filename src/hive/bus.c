/* SPDX-License-Identifier: MIT */
/*
 * hive's in-process bus (hive/pubsub.h): topics, subscriptions, history and
 * the per-worker fan-out.
 *
 * Locks: the bus's rwlock guards the topic table; each topic's mutex guards
 * its sequence number, its history and its per-worker subscriber counts.
 * Order: bus lock, then topic lock. A topic's per-worker subscriber lists
 * belong to that worker's loop thread and are never locked.
 *
 * Fan-out: publish formats the message once (wire bytes in an hcs_buf),
 * appends it to the history, and posts one delivery task per worker that
 * has subscribers, all under the topic lock, so every worker receives the
 * topic's messages in sequence order. On the worker, the task walks the
 * topic's local list and calls each subscriber: no lock, no allocation, no
 * copy per subscriber.
 *
 * Joining: a subscription records the topic's sequence number when it is
 * made (start_seq) and only receives messages after it; history replay
 * covers what came before, so replay and live messages meet exactly.
 *
 * Unsubscribing inside a delivery only marks the subscription dead; it is
 * unlinked and freed when the worker's outermost delivery returns, so the
 * walk never steps on freed memory.
 */
#include "hive/bus.h"
#include "hive/backend.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/list.h"
#include "hcs/error.h"
#include "response/response.h"
#include "server/server.h"
#include "server/worker.h"

typedef struct hive_topic_s hive_topic_t;
typedef struct hive_msg_s hive_msg_t;

/* One worker's share of a topic. */
typedef struct {
  hcs_list_t subs; /* that worker's loop thread only */
  unsigned count;  /* live subscriptions; under the topic lock */
} topic_local_t;

struct hive_topic_s {
  atomic_size_t refs;  /* the table's, one per subscription, one per message */
  hive_bus_t *bus;
  hive_topic_t *next;  /* hash chain; under the bus lock */
  uint64_t hash;
  bool in_table;       /* under the bus lock */
  uv_mutex_t lock;
  uint64_t seq;        /* last sequence number given; under lock */
  size_t nsubs;        /* live subscriptions; under lock */
  topic_local_t *local; /* [nworkers] */
  hive_msg_t **hist;   /* history ring, history_count slots; under lock */
  size_t hist_head, hist_count, hist_bytes;
  size_t name_len;
  char name[];
};

/* A message's delivery to one worker. */
typedef struct {
  hcs__task_t task;
  hive_msg_t *msg;
  unsigned worker;
} delivery_t;

struct hive_msg_s {
  atomic_size_t refs;   /* creator, history slot, pending deliveries, replays */
  hive_topic_t *topic;  /* a reference */
  hive_message_t view;  /* what callbacks see; id and payload in this block */
  delivery_t *deliveries; /* [nworkers], in this block */
};

struct hive_sub_s {
  hcs_list_t node;        /* in topic->local[worker].subs */
  hcs_list_t zombie_node; /* in the worker's zombies once dead mid-delivery */
  hive_topic_t *topic;    /* a reference */
  hive_message_cb cb;
  void *ud;
  uint64_t start_seq;     /* messages up to this one are not for us */
  unsigned worker;
  bool dead;
};

/* Per worker: delivery nesting and subscriptions waiting to be freed. */
typedef struct {
  unsigned depth;
  hcs_list_t zombies;
} bus_worker_t;

struct hive_bus_s {
  hcs_server_t *srv;
  unsigned nworkers;
  hive_bus_config_t cfg;
  uv_rwlock_t lock;
  hive_topic_t **buckets; /* power-of-two table; under lock */
  size_t nbuckets, ntopics;
  bus_worker_t *workers;  /* [nworkers], each its loop thread's */
  atomic_uint_fast64_t subscribers, published, deliveries, drops, slow_closes;
};

/* ---- messages ------------------------------------------------------------ */

static void topic_unref(hive_topic_t *t);

static void msg_unref(hive_msg_t *m) {
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
    return;
  hcs_buf_unref(m->view.wire);
  topic_unref(m->topic);
  hcs__free(m);
}

static hive_msg_t *msg_ref(hive_msg_t *m) {
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

/* ---- topics -------------------------------------------------------------- */

static uint64_t hash_name(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static void topic_unref(hive_topic_t *t) {
  if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
    return;
  /* Nothing refers to it: no lock needed. History holds no references
   * here (a topic with history stays in the table until the bus is freed). */
  uv_mutex_destroy(&t->lock);
  hcs__free(t->hist);
  hcs__free(t->local);
  hcs__free(t);
}

/* Under the bus lock (read or write). */
static hive_topic_t *table_find(hive_bus_t *bus, const char *name, size_t len,
                                uint64_t h) {
  for (hive_topic_t *t = bus->buckets[h & (bus->nbuckets - 1)]; t; t = t->next)
    if (t->hash == h && t->name_len == len && memcmp(t->name, name, len) == 0)
      return t;
  return NULL;
}

/* Under the write lock. Doubling when full keeps chains short; a failed
 * grow only makes them longer. */
static void table_grow(hive_bus_t *bus) {
  size_t n = bus->nbuckets * 2;
  hive_topic_t **b = hcs__calloc(n, sizeof(*b));
  if (b == NULL)
    return;
  for (size_t i = 0; i < bus->nbuckets; i++) {
    hive_topic_t *t = bus->buckets[i], *next;
    for (; t; t = next) {
      next = t->next;
      t->next = b[t->hash & (n - 1)];
      b[t->hash & (n - 1)] = t;
    }
  }
  hcs__free(bus->buckets);
  bus->buckets = b;
  bus->nbuckets = n;
}

/* Under the write lock: create and insert a topic. */
static hive_topic_t *table_create(hive_bus_t *bus, const char *name, size_t len,
                                  uint64_t h) {
  hive_topic_t *t = hcs__calloc(1, sizeof(*t) + len + 1);
  if (t == NULL)
    return NULL;
  t->local = hcs__calloc(bus->nworkers, sizeof(*t->local));
  if (bus->cfg.history_count)
    t->hist = hcs__calloc(bus->cfg.history_count, sizeof(*t->hist));
  if (t->local == NULL || (bus->cfg.history_count && t->hist == NULL) ||
      uv_mutex_init(&t->lock) != 0) {
    hcs__free(t->local);
    hcs__free(t->hist);
    hcs__free(t);
    return NULL;
  }
  for (unsigned i = 0; i < bus->nworkers; i++)
    hcs_list_init(&t->local[i].subs);
  atomic_init(&t->refs, 1); /* the table's */
  t->bus = bus;
  t->hash = h;
  t->name_len = len;
  memcpy(t->name, name, len);
  if (bus->ntopics >= bus->nbuckets)
    table_grow(bus);
  hive_topic_t **slot = &bus->buckets[h & (bus->nbuckets - 1)];
  t->next = *slot;
  *slot = t;
  t->in_table = true;
  bus->ntopics++;
  return t;
}

/* Under the write lock: unlink t from the table (the caller drops the
 * table's reference). */
static void table_remove(hive_bus_t *bus, hive_topic_t *t) {
  hive_topic_t **p = &bus->buckets[t->hash & (bus->nbuckets - 1)];
  while (*p != t)
    p = &(*p)->next;
  *p = t->next;
  t->in_table = false;
  bus->ntopics--;
}

/* Free t if it has neither subscribers nor history. Takes the locks. */
static void topic_maybe_remove(hive_bus_t *bus, hive_topic_t *t) {
  bool removed = false;
  uv_rwlock_wrlock(&bus->lock);
  uv_mutex_lock(&t->lock);
  if (t->in_table && t->nsubs == 0 && t->hist_count == 0) {
    table_remove(bus, t);
    removed = true;
  }
  uv_mutex_unlock(&t->lock);
  uv_rwlock_wrunlock(&bus->lock);
  if (removed)
    topic_unref(t);
}

static int check_topic(const char *topic, size_t *len) {
  if (topic == NULL)
    return HCS_EINVAL;
  *len = strnlen(topic, HIVE_TOPIC_MAX + 1);
  return *len == 0 || *len > HIVE_TOPIC_MAX ? HCS_EINVAL : 0;
}

/* ---- the bus ------------------------------------------------------------- */

void hive_bus_config_init(hive_bus_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->history_bytes = 1u << 20;
}

int hive_bus_new(hive_bus_t **out, hcs_server_t *srv,
                 const hive_bus_config_t *cfg) {
  hive_bus_t *bus = hcs__calloc(1, sizeof(*bus));
  if (bus == NULL)
    return HCS_ENOMEM;
  if (cfg)
    bus->cfg = *cfg;
  else
    hive_bus_config_init(&bus->cfg);
  bus->srv = srv;
  bus->nworkers = hcs_server_worker_count(srv);
  bus->nbuckets = 64;
  bus->buckets = hcs__calloc(bus->nbuckets, sizeof(*bus->buckets));
  bus->workers = hcs__calloc(bus->nworkers, sizeof(*bus->workers));
  if (bus->buckets == NULL || bus->workers == NULL ||
      uv_rwlock_init(&bus->lock) != 0) {
    hcs__free(bus->buckets);
    hcs__free(bus->workers);
    hcs__free(bus);
    return HCS_ENOMEM;
  }
  for (unsigned i = 0; i < bus->nworkers; i++)
    hcs_list_init(&bus->workers[i].zombies);
  if (bus->cfg.backend) {
    int err = bus->cfg.backend->ops->start(bus->cfg.backend, bus);
    if (err < 0) {
      bus->cfg.backend = NULL; /* still the caller's */
      hive_bus_free(bus);
      return err;
    }
  }
  *out = bus;
  return 0;
}

void hive_backend_free(hive_backend_t *b) {
  if (b)
    b->ops->destroy(b);
}

void hive_bus_backend_stats(hive_bus_t *bus, hive_backend_stats_t *out) {
  memset(out, 0, sizeof(*out));
  if (bus->cfg.backend) {
    bus->cfg.backend->ops->stats(bus->cfg.backend, out);
    return;
  }
  out->name = "in-process";
  out->connected = true;
}

/* Drop a topic's history. Under its lock or when nothing else can see it. */
static void history_clear(hive_topic_t *t, size_t nslots) {
  for (size_t i = 0; i < t->hist_count; i++)
    msg_unref(t->hist[(t->hist_head + i) % nslots]);
  t->hist_head = t->hist_count = t->hist_bytes = 0;
}

void hive_bus_free(hive_bus_t *bus) {
  if (bus == NULL)
    return;
  /* The backend first: it may still be delivering. */
  hive_backend_free(bus->cfg.backend);
  /* The server has stopped: no loop runs, so every list may be touched. */
  for (size_t i = 0; i < bus->nbuckets; i++) {
    hive_topic_t *t = bus->buckets[i], *next;
    for (; t; t = next) {
      next = t->next;
      for (unsigned w = 0; w < bus->nworkers; w++) {
        hcs_list_t *n;
        while ((n = hcs_list_first(&t->local[w].subs)) != NULL) {
          hive_sub_t *sub = hcs_list_entry(n, hive_sub_t, node);
          hcs_list_remove(n);
          topic_unref(sub->topic);
          hcs__free(sub);
        }
      }
      /* History messages hold topic references: keep one ourselves while
       * dropping them. */
      atomic_fetch_add(&t->refs, 1);
      history_clear(t, bus->cfg.history_count);
      topic_unref(t); /* ours */
      topic_unref(t); /* the table's */
    }
  }
  uv_rwlock_destroy(&bus->lock);
  hcs__free(bus->buckets);
  hcs__free(bus->workers);
  hcs__free(bus);
}

void hive_bus_stats(hive_bus_t *bus, hive_stats_t *out) {
  uv_rwlock_rdlock(&bus->lock);
  out->topics = bus->ntopics;
  uv_rwlock_rdunlock(&bus->lock);
  out->subscribers = atomic_load_explicit(&bus->subscribers, memory_order_relaxed);
  out->published = atomic_load_explicit(&bus->published, memory_order_relaxed);
  out->deliveries = atomic_load_explicit(&bus->deliveries, memory_order_relaxed);
  out->drops = atomic_load_explicit(&bus->drops, memory_order_relaxed);
  out->slow_closes = atomic_load_explicit(&bus->slow_closes, memory_order_relaxed);
}

void hive__count_drops(hive_bus_t *bus, uint64_t n) {
  atomic_fetch_add_explicit(&bus->drops, n, memory_order_relaxed);
}

void hive__count_slow_close(hive_bus_t *bus) {
  atomic_fetch_add_explicit(&bus->slow_closes, 1, memory_order_relaxed);
}

/* ---- delivery (worker loop threads) -------------------------------------- */

static void free_zombies(bus_worker_t *bw) {
  hcs_list_t *n;
  while ((n = hcs_list_first(&bw->zombies)) != NULL) {
    hive_sub_t *sub = hcs_list_entry(n, hive_sub_t, zombie_node);
    hcs_list_remove(n);
    hcs_list_remove(&sub->node);
    topic_unref(sub->topic);
    hcs__free(sub);
  }
}

/* Call every live subscriber of t on worker w that has not seen m. */
static void deliver_local(hive_bus_t *bus, unsigned w, hive_msg_t *m) {
  bus_worker_t *bw = &bus->workers[w];
  hcs_list_t *head = &m->topic->local[w].subs;
  uint64_t seq = m->view.seq, n = 0;
  bw->depth++;
  /* Subscriptions added meanwhile are linked at the end and skipped by
   * start_seq; dead ones stay linked until the walk is over. */
  for (hcs_list_t *node = head->next; node != head; node = node->next) {
    hive_sub_t *sub = hcs_list_entry(node, hive_sub_t, node);
    if (sub->dead || seq <= sub->start_seq)
      continue;
    sub->cb(sub, &m->view, sub->ud);
    n++;
  }
  if (--bw->depth == 0)
    free_zombies(bw);
  atomic_fetch_add_explicit(&bus->deliveries, n, memory_order_relaxed);
}

static void on_delivery(hcs__task_t *task, int status) {
  delivery_t *d = (delivery_t *)task;
  hive_msg_t *m = d->msg;
  if (status == 0)
    deliver_local(m->topic->bus, d->worker, m);
  msg_unref(m);
}

/* ---- publishing ---------------------------------------------------------- */

/* Append m to t's history, evicting the oldest past either bound. Under the
 * topic lock. */
static void history_append(hive_bus_t *bus, hive_topic_t *t, hive_msg_t *m) {
  size_t slots = bus->cfg.history_count;
  size_t bytes = m->view.wire->len;
  if (slots == 0)
    return;
  if (bytes > bus->cfg.history_bytes) {
    /* It cannot be kept, and keeping older ones would let a client resume
     * after them past this one unnoticed: forget them all, so their ids
     * are unknown (HCS_ENOENT) and the client resynchronises. */
    history_clear(t, slots);
    return;
  }
  while (t->hist_count > 0 &&
         (t->hist_count == slots || t->hist_bytes + bytes > bus->cfg.history_bytes)) {
    hive_msg_t *old = t->hist[t->hist_head];
    t->hist_head = (t->hist_head + 1) % slots;
    t->hist_count--;
    t->hist_bytes -= old->view.wire->len;
    msg_unref(old);
  }
  t->hist[(t->hist_head + t->hist_count) % slots] = msg_ref(m);
  t->hist_count++;
  t->hist_bytes += bytes;
}

/* Build the message for t's next sequence number. Under the topic lock. */
static int msg_new(hive_bus_t *bus, hive_topic_t *t, const hcs_sse_event_t *ev,
                   hcs_str_t payload, hive_msg_t **out) {
  uint64_t seq = t->seq + 1;
  char seq_id[24];
  hcs_sse_event_t e = *ev;
  if (e.id.base == NULL) {
    int n = snprintf(seq_id, sizeof seq_id, "%" PRIu64, seq);
    e.id.base = seq_id;
    e.id.len = (size_t)n;
  }
  size_t deliveries = bus->nworkers * sizeof(delivery_t);
  hive_msg_t *m = hcs__malloc(sizeof(*m) + deliveries + e.id.len +
                              e.event_type.len + payload.len);
  if (m == NULL)
    return HCS_ENOMEM;
  int err = hcs_sse_format(&e, &m->view.wire);
  if (err < 0) {
    hcs__free(m);
    return err;
  }
  atomic_init(&m->refs, 1);
  m->deliveries = (delivery_t *)(m + 1);
  char *p = (char *)(m->deliveries + bus->nworkers);
  memcpy(p, e.id.base, e.id.len);
  m->view.id.base = p;
  m->view.id.len = e.id.len;
  p += e.id.len;
  m->view.event_type.base = NULL;
  m->view.event_type.len = 0;
  if (e.event_type.base) {
    if (e.event_type.len)
      memcpy(p, e.event_type.base, e.event_type.len);
    m->view.event_type.base = p;
    m->view.event_type.len = e.event_type.len;
    p += e.event_type.len;
  }
  if (payload.len)
    memcpy(p, payload.base, payload.len);
  m->view.payload.base = p;
  m->view.payload.len = payload.len;
  m->view.topic.base = t->name;
  m->view.topic.len = t->name_len;
  m->view.seq = seq;
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
  m->topic = t;
  t->seq = seq;
  *out = m;
  return 0;
}

/* Find (or, when create, make) a topic and take a reference to it. */
static hive_topic_t *topic_get(hive_bus_t *bus, const char *name, size_t len,
                               bool create) {
  uint64_t h = hash_name(name, len);
  uv_rwlock_rdlock(&bus->lock);
  hive_topic_t *t = table_find(bus, name, len, h);
  if (t)
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
  uv_rwlock_rdunlock(&bus->lock);
  if (t || !create)
    return t;
  uv_rwlock_wrlock(&bus->lock);
  t = table_find(bus, name, len, h);
  if (t == NULL)
    t = table_create(bus, name, len, h);
  if (t)
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
  uv_rwlock_wrunlock(&bus->lock);
  return t;
}

/*
 * Fan a message out to this process's subscribers and keep it in history:
 * the in-process publish, and what a backend does with each message it
 * reads. The topic is checked; the event is valid. When ev has no id, the
 * sequence number becomes it and is copied to seq_id (24 bytes).
 */
static int publish_local(hive_bus_t *bus, const char *topic, size_t len,
                         const hcs_sse_event_t *ev, hcs_str_t payload,
                         char *seq_id) {
  /* Without history, a topic nobody subscribes to keeps nothing. */
  bool keep = bus->cfg.history_count > 0;
  hive_topic_t *t = topic_get(bus, topic, len, keep);
  if (t == NULL) {
    if (keep)
      return HCS_ENOMEM;
    atomic_fetch_add_explicit(&bus->published, 1, memory_order_relaxed);
    if (seq_id)
      snprintf(seq_id, 24, "0"); /* nobody listens: no sequence */
    return 0;
  }
  hive_msg_t *m;
  uv_mutex_lock(&t->lock);
  int err = msg_new(bus, t, ev, payload, &m);
  bool unused = false;
  if (err == 0) {
    if (seq_id)
      snprintf(seq_id, 24, "%" PRIu64, m->view.seq);
    history_append(bus, t, m);
    for (unsigned w = 0; w < bus->nworkers; w++) {
      if (t->local[w].count == 0)
        continue;
      delivery_t *d = &m->deliveries[w];
      d->task.fn = on_delivery;
      d->msg = msg_ref(m);
      d->worker = w;
      if (hcs__worker_post_task(&bus->srv->workers[w], &d->task) < 0)
        msg_unref(m); /* that worker has stopped */
    }
  }
  /* Created for its history, which could not keep this message. */
  unused = t->nsubs == 0 && t->hist_count == 0;
  uv_mutex_unlock(&t->lock);
  if (unused)
    topic_maybe_remove(bus, t);
  if (err == 0) {
    msg_unref(m); /* ours */
    atomic_fetch_add_explicit(&bus->published, 1, memory_order_relaxed);
  }
  topic_unref(t);
  return err;
}

static int check_message(const char *topic, size_t *len,
                         const hcs_sse_event_t *ev, const void *payload,
                         size_t plen) {
  if (check_topic(topic, len) < 0 || ev == NULL || hcs_sse_validate(ev) < 0 ||
      (payload == NULL && plen > 0))
    return HCS_EINVAL;
  return 0;
}

int hive__deliver(hive_bus_t *bus, const char *topic, size_t topic_len,
                  const hcs_sse_event_t *ev, const void *payload, size_t len) {
  if (topic_len == 0 || topic_len > HIVE_TOPIC_MAX || ev == NULL ||
      ev->id.base == NULL || hcs_sse_validate(ev) < 0)
    return HCS_EINVAL;
  return publish_local(bus, topic, topic_len, ev, (hcs_str_t){payload, len},
                       NULL);
}

/* ---- publishing through a backend ---------------------------------------- */

/* One hive_publish_async waiting for its backend. */
typedef struct {
  hcs__task_t task;   /* runs cb on the publisher's worker */
  hive_bus_t *bus;
  hive_publish_cb cb; /* NULL: a fire-and-forget publish */
  void *ud;
  int worker;         /* the publisher's worker, or -1 */
  int status;
  size_t id_len;
  char *id;
} pending_t;

static void pending_finish(pending_t *p, int status) {
  if (p->cb)
    p->cb(status, p->id ? p->id : "", p->id_len, p->ud);
  hcs__free(p->id);
  hcs__free(p);
}

static void on_pending_task(hcs__task_t *t, int status) {
  pending_t *p = (pending_t *)t;
  pending_finish(p, status == 0 ? p->status : HCS_ECANCELED);
}

/* The backend answered (any thread): go back to the publisher's worker. */
static void backend_done(void *ctx, int status, const char *id, size_t id_len) {
  pending_t *p = ctx;
  p->status = status;
  if (status == 0 && id_len > 0 && (p->id = hcs__malloc(id_len + 1)) != NULL) {
    memcpy(p->id, id, id_len);
    p->id[id_len] = '\0';
    p->id_len = id_len;
  }
  if (p->cb == NULL || p->worker < 0) {
    pending_finish(p, status);
    return;
  }
  p->task.fn = on_pending_task;
  if (hcs__worker_post_task(&p->bus->srv->workers[p->worker], &p->task) < 0)
    pending_finish(p, HCS_ECANCELED); /* that worker has stopped */
}

static int publish_backend(hive_bus_t *bus, const char *topic, size_t len,
                           const hcs_sse_event_t *ev, const void *payload,
                           size_t plen, hive_publish_cb cb, void *ud) {
  pending_t *p = hcs__calloc(1, sizeof(*p));
  if (p == NULL)
    return HCS_ENOMEM;
  hcs_worker_t *w = hcs__current_worker();
  p->bus = bus;
  p->cb = cb;
  p->ud = ud;
  p->worker = w && w->server == bus->srv ? (int)w->index : -1;
  int err = bus->cfg.backend->ops->publish(bus->cfg.backend, topic, len, ev,
                                           payload, plen, backend_done, p);
  if (err < 0)
    hcs__free(p);
  return err;
}

int hive_publish_async(hive_bus_t *bus, const char *topic,
                       const hcs_sse_event_t *ev, const void *payload,
                       size_t plen, hive_publish_cb cb, void *ud) {
  size_t len;
  if (cb == NULL || check_message(topic, &len, ev, payload, plen) < 0)
    return HCS_EINVAL;
  if (bus->cfg.backend)
    return publish_backend(bus, topic, len, ev, payload, plen, cb, ud);
  char seq_id[24];
  int err = publish_local(bus, topic, len, ev, (hcs_str_t){payload, plen},
                          seq_id);
  if (err < 0)
    return err;
  if (ev->id.base)
    cb(0, ev->id.base, ev->id.len, ud);
  else
    cb(0, seq_id, strlen(seq_id), ud);
  return 0;
}

int hive_publish_event_with(hive_bus_t *bus, const char *topic,
                            const hcs_sse_event_t *ev, const void *payload,
                            size_t plen) {
  size_t len;
  if (check_message(topic, &len, ev, payload, plen) < 0)
    return HCS_EINVAL;
  if (bus->cfg.backend)
    return publish_backend(bus, topic, len, ev, payload, plen, NULL, NULL);
  return publish_local(bus, topic, len, ev, (hcs_str_t){payload, plen}, NULL);
}

int hive_publish_event(hive_bus_t *bus, const char *topic,
                       const hcs_sse_event_t *ev) {
  if (ev == NULL)
    return HCS_EINVAL;
  return hive_publish_event_with(bus, topic, ev, ev->data.base, ev->data.len);
}

int hive_publish(hive_bus_t *bus, const char *topic, const void *payload,
                 size_t len) {
  hcs_sse_event_t ev = {{NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY, {payload, len}};
  return hive_publish_event(bus, topic, &ev);
}

/* ---- subscribing ----------------------------------------------------------- */

/* References to the history from position `from` (0 = oldest) to the end,
 * in *replay (count *n). Under the topic lock. */
static int collect(hive_topic_t *t, size_t slots, size_t from,
                   hive_msg_t ***replay, size_t *n) {
  size_t count = t->hist_count - from;
  if (count == 0)
    return 0;
  hive_msg_t **r = hcs__malloc(count * sizeof(*r));
  if (r == NULL)
    return HCS_ENOMEM;
  for (size_t i = 0; i < count; i++)
    r[i] = msg_ref(t->hist[(t->hist_head + from + i) % slots]);
  *replay = r;
  *n = count;
  return 0;
}

/* The history after the message with id last_id (everything when NULL), as new references in
 * *replay (count *n). Under the topic lock. Returns 0, HCS_ENOENT (no such
 * id: nothing collected) or HCS_ENOMEM. */
static int history_after(hive_bus_t *bus, hive_topic_t *t, const char *last_id,
                         hive_msg_t ***replay, size_t *n) {
  size_t slots = bus->cfg.history_count;
  *replay = NULL;
  *n = 0;
  if (last_id == NULL)
    return collect(t, slots, 0, replay, n); /* everything retained */
  size_t idlen = strlen(last_id);
  /* Newest first: a resuming client is usually close to the end. */
  for (size_t k = t->hist_count; k-- > 0;) {
    hive_msg_t *m = t->hist[(t->hist_head + k) % slots];
    if (m->view.id.len != idlen || memcmp(m->view.id.base, last_id, idlen) != 0)
      continue;
    return collect(t, slots, k + 1, replay, n);
  }
  return HCS_ENOENT;
}

static int subscribe(hive_sub_t **out, hive_bus_t *bus, const char *topic,
                     bool replay, const char *last_id, hive_message_cb cb,
                     void *ud) {
  hcs_worker_t *worker = hcs__current_worker();
  if (worker == NULL || worker->server != bus->srv)
    return HCS_ESTATE;
  size_t len;
  if (cb == NULL || check_topic(topic, &len) < 0)
    return HCS_EINVAL;
  unsigned w = worker->index;
  hive_sub_t *sub = hcs__calloc(1, sizeof(*sub));
  if (sub == NULL)
    return HCS_ENOMEM;
  hcs_list_init(&sub->node);
  hcs_list_init(&sub->zombie_node);
  sub->cb = cb;
  sub->ud = ud;
  sub->worker = w;

  /* Register while holding the table lock, so that the topic cannot be
   * removed between finding it and counting us in. */
  uint64_t h = hash_name(topic, len);
  uv_rwlock_wrlock(&bus->lock);
  hive_topic_t *t = table_find(bus, topic, len, h);
  if (t == NULL)
    t = table_create(bus, topic, len, h);
  if (t == NULL) {
    uv_rwlock_wrunlock(&bus->lock);
    hcs__free(sub);
    return HCS_ENOMEM;
  }
  hive_msg_t **replayed = NULL;
  size_t nreplay = 0;
  int found = 0;
  uv_mutex_lock(&t->lock);
  if (replay && t->hist_count > 0)
    found = history_after(bus, t, last_id, &replayed, &nreplay);
  else if (replay && last_id)
    found = HCS_ENOENT; /* no history at all */
  if (found != HCS_ENOMEM) {
    sub->start_seq = t->seq;
    t->local[w].count++;
    t->nsubs++;
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    sub->topic = t;
  }
  uv_mutex_unlock(&t->lock);
  uv_rwlock_wrunlock(&bus->lock);
  if (found == HCS_ENOMEM) {
    hcs__free(sub);
    topic_maybe_remove(bus, t);
    return HCS_ENOMEM;
  }
  hcs_list_push_back(&t->local[w].subs, &sub->node);
  atomic_fetch_add_explicit(&bus->subscribers, 1, memory_order_relaxed);
  *out = sub;

  /* Replay now, on this thread; live messages come later through the
   * worker's queue, all after start_seq. */
  bus_worker_t *bw = &bus->workers[w];
  bw->depth++;
  uint64_t delivered = 0;
  for (size_t i = 0; i < nreplay; i++) {
    if (!sub->dead) {
      cb(sub, &replayed[i]->view, ud);
      delivered++;
    }
    msg_unref(replayed[i]);
  }
  hcs__free(replayed);
  if (--bw->depth == 0)
    free_zombies(bw);
  atomic_fetch_add_explicit(&bus->deliveries, delivered, memory_order_relaxed);
  return found;
}

int hive_subscribe(hive_sub_t **out, hive_bus_t *bus, const char *topic,
                   hive_message_cb cb, void *ud) {
  return subscribe(out, bus, topic, false, NULL, cb, ud);
}

int hive_subscribe_after(hive_sub_t **out, hive_bus_t *bus, const char *topic,
                         const char *last_id, hive_message_cb cb, void *ud) {
  return subscribe(out, bus, topic, true, last_id, cb, ud);
}

void hive_unsubscribe(hive_sub_t **subp) {
  hive_sub_t *sub = subp ? *subp : NULL;
  if (sub == NULL)
    return;
  *subp = NULL;
  hive_topic_t *t = sub->topic;
  hive_bus_t *bus = t->bus;
  unsigned w = sub->worker;
  sub->dead = true;
  uv_mutex_lock(&t->lock);
  t->local[w].count--;
  t->nsubs--;
  bool unused = t->nsubs == 0 && t->hist_count == 0;
  uv_mutex_unlock(&t->lock);
  atomic_fetch_sub_explicit(&bus->subscribers, 1, memory_order_relaxed);
  bus_worker_t *bw = &bus->workers[w];
  /* The zombie keeps its topic reference until it is unlinked. */
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
  if (bw->depth > 0) {
    hcs_list_push_back(&bw->zombies, &sub->zombie_node);
  } else {
    hcs_list_remove(&sub->node);
    topic_unref(sub->topic);
    hcs__free(sub);
  }
  if (unused)
    topic_maybe_remove(bus, t);
  topic_unref(t);
}

hive_bus_t *hive_sub_bus(const hive_sub_t *sub) { return sub->topic->bus; }
