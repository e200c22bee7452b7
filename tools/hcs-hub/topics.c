/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's per-topic counters: subscribers per selector and updates
 * per topic, for at most MAX_ENTRIES topics. When full, the entry least
 * recently touched without subscribers makes room; if every entry has
 * subscribers, a new topic is simply not tracked. One mutex: these counters
 * are touched once per subscribe, close and publish, never per delivery.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hub_internal.h"

#define MAX_ENTRIES 1024

typedef struct {
  char *topic;
  size_t len;
  uint64_t subscribers, updates, touched;
} entry_t;

struct hub_topics_s {
  pthread_mutex_t lock;
  entry_t entries[MAX_ENTRIES];
  size_t n;
  uint64_t clock; /* ticks on every touch: recency */
};

int hub_topics_new(hub_topics_t **out) {
  hub_topics_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return HCS_ENOMEM;
  pthread_mutex_init(&t->lock, NULL);
  *out = t;
  return 0;
}

void hub_topics_free(hub_topics_t *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->n; i++)
    free(t->entries[i].topic);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

/* The entry for topic, created if there is room. Under the lock. */
static entry_t *entry(hub_topics_t *t, const char *topic, size_t len,
                      bool create) {
  for (size_t i = 0; i < t->n; i++)
    if (t->entries[i].len == len && memcmp(t->entries[i].topic, topic, len) == 0)
      return &t->entries[i];
  if (!create)
    return NULL;
  entry_t *e = NULL;
  if (t->n < MAX_ENTRIES) {
    e = &t->entries[t->n++];
  } else {
    for (size_t i = 0; i < t->n; i++)
      if (t->entries[i].subscribers == 0 &&
          (e == NULL || t->entries[i].touched < e->touched))
        e = &t->entries[i];
    if (e == NULL)
      return NULL;
    free(e->topic);
  }
  memset(e, 0, sizeof(*e));
  e->topic = malloc(len + 1);
  if (e->topic == NULL) {
    /* Leave a harmless empty slot: it is reused by the next topic. */
    e->len = 0;
    return NULL;
  }
  memcpy(e->topic, topic, len);
  e->topic[len] = '\0';
  e->len = len;
  return e;
}

void hub_topics_subscribers(hub_topics_t *t, const char *topic, size_t len,
                            int delta) {
  pthread_mutex_lock(&t->lock);
  entry_t *e = entry(t, topic, len, delta > 0);
  if (e) {
    if (delta > 0)
      e->subscribers++;
    else if (e->subscribers > 0)
      e->subscribers--;
    e->touched = ++t->clock;
  }
  pthread_mutex_unlock(&t->lock);
}

void hub_topics_update(hub_topics_t *t, const char *topic, size_t len) {
  pthread_mutex_lock(&t->lock);
  entry_t *e = entry(t, topic, len, true);
  if (e) {
    e->updates++;
    e->touched = ++t->clock;
  }
  pthread_mutex_unlock(&t->lock);
}

static int by_recency(const void *a, const void *b) {
  const entry_t *x = *(entry_t *const *)a, *y = *(entry_t *const *)b;
  return x->touched < y->touched ? 1 : x->touched > y->touched ? -1 : 0;
}

void *hub_topics_json(hub_topics_t *t, size_t max) {
  json_t *arr = json_array();
  if (arr == NULL)
    return NULL;
  pthread_mutex_lock(&t->lock);
  entry_t *sorted[MAX_ENTRIES];
  size_t n = 0;
  for (size_t i = 0; i < t->n; i++)
    if (t->entries[i].topic)
      sorted[n++] = &t->entries[i];
  qsort(sorted, n, sizeof(*sorted), by_recency);
  for (size_t i = 0; i < n && i < max; i++) {
    json_t *o = json_pack("{s:s%,s:I,s:I}", "topic", sorted[i]->topic,
                          sorted[i]->len, "subscribers",
                          (json_int_t)sorted[i]->subscribers, "updates",
                          (json_int_t)sorted[i]->updates);
    if (o)
      json_array_append_new(arr, o);
  }
  pthread_mutex_unlock(&t->lock);
  return arr;
}
