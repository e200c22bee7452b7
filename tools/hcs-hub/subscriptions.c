/* SPDX-License-Identifier: MIT */
/*
 * Active subscriptions (specs/mercure.md §7), when --subscriptions is on:
 * a registry of open subscriber connections, the private update published
 * when each one starts and ends (one per topic selector), and the
 * subscriptions API under /.well-known/mercure/subscriptions.
 *
 * The registry is a list under one mutex, touched once per subscriber
 * start and end and by API reads; never per delivery.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hub_internal.h"
#include "selector.h"

#define SUBS_PATH HUB_PATH "/subscriptions"

typedef struct sub_entry_s {
  struct sub_entry_s *next;
  char id[HUB_UUID_URN_LEN];
  char **topics; /* the connection's selectors */
  size_t ntopics;
  json_t *payload; /* the token's mercure.payload, or NULL */
} sub_entry_t;

struct hub_subs_s {
  pthread_mutex_t lock;
  sub_entry_t *head;
};

int hub_subs_new(hub_subs_t **out) {
  hub_subs_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return HCS_ENOMEM;
  pthread_mutex_init(&s->lock, NULL);
  *out = s;
  return 0;
}

static void entry_free(sub_entry_t *e) {
  for (size_t i = 0; i < e->ntopics; i++)
    free(e->topics[i]);
  free(e->topics);
  json_decref(e->payload);
  free(e);
}

void hub_subs_free(hub_subs_t *s) {
  if (s == NULL)
    return;
  while (s->head) {
    sub_entry_t *e = s->head;
    s->head = e->next;
    entry_free(e);
  }
  pthread_mutex_destroy(&s->lock);
  free(s);
}

/* "/.well-known/mercure/subscriptions/{topic}/{subscriber}", both parts
 * percent-encoded as RFC 6570 simple expansion does. Caller frees. */
static char *event_topic(const char *topic, const char *subscriber) {
  size_t tl = strlen(topic), sl = strlen(subscriber);
  size_t need = sizeof SUBS_PATH + 2 + hub_uri_encode_unreserved(topic, tl, NULL, 0) +
                hub_uri_encode_unreserved(subscriber, sl, NULL, 0);
  char *out = malloc(need);
  if (out == NULL)
    return NULL;
  size_t n = sizeof SUBS_PATH - 1;
  memcpy(out, SUBS_PATH, n);
  out[n++] = '/';
  n += hub_uri_encode_unreserved(topic, tl, out + n, need - n);
  out[n++] = '/';
  n += hub_uri_encode_unreserved(subscriber, sl, out + n, need - n);
  out[n] = '\0';
  return out;
}

/* The JSON-LD document of one subscription (one selector of a connection). */
static json_t *entry_doc(const sub_entry_t *e, size_t i, bool active) {
  char *topic = event_topic(e->topics[i], e->id);
  if (topic == NULL)
    return NULL;
  json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "@context",
                          "https://mercure.rocks/", "id", topic, "type",
                          "Subscription", "topic", e->topics[i], "subscriber",
                          e->id, "active", active);
  free(topic);
  if (doc && e->payload)
    json_object_set(doc, "payload", e->payload);
  return doc;
}

/* Publish the private "subscription started/ended" updates of e. */
static void announce(hub_t *hub, const sub_entry_t *e, bool active) {
  for (size_t i = 0; i < e->ntopics; i++) {
    json_t *doc = entry_doc(e, i, active);
    char *data = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    const char *topic = doc ? json_string_value(json_object_get(doc, "id")) : NULL;
    char id[HUB_UUID_URN_LEN];
    if (data && topic && hub_uuid_urn(id) == 0) {
      hcs_str_t t = hcs_str_c(topic);
      hcs_sse_event_t ev = {{NULL, 0}, hcs_str_c(id), HCS_SSE_NO_RETRY,
                            hcs_str_c(data)};
      (void)hub_dispatch(hub, &t, 1, true, &ev);
    }
    free(data);
    json_decref(doc);
  }
}

void *hub_subs_add(hub_t *hub, char **topics, size_t ntopics,
                   const char *payload_json) {
  sub_entry_t *e = calloc(1, sizeof(*e));
  if (e == NULL || hub_uuid_urn(e->id) < 0) {
    free(e);
    return NULL;
  }
  e->topics = calloc(ntopics, sizeof(char *));
  if (e->topics == NULL) {
    free(e);
    return NULL;
  }
  for (size_t i = 0; i < ntopics; i++) {
    if ((e->topics[i] = strdup(topics[i])) == NULL) {
      entry_free(e);
      return NULL;
    }
    e->ntopics++;
  }
  if (payload_json)
    e->payload = json_loads(payload_json, JSON_DECODE_ANY, NULL);
  pthread_mutex_lock(&hub->subs->lock);
  e->next = hub->subs->head;
  hub->subs->head = e;
  pthread_mutex_unlock(&hub->subs->lock);
  announce(hub, e, true);
  return e;
}

void hub_subs_remove(hub_t *hub, void *entry) {
  sub_entry_t *e = entry;
  if (e == NULL)
    return;
  pthread_mutex_lock(&hub->subs->lock);
  for (sub_entry_t **p = &hub->subs->head; *p; p = &(*p)->next) {
    if (*p == e) {
      *p = e->next;
      break;
    }
  }
  pthread_mutex_unlock(&hub->subs->lock);
  announce(hub, e, false);
  entry_free(e);
}

/* Decode a percent-encoded path segment into out (cap bytes). */
static bool decode_segment(const char *in, size_t len, char *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (n + 1 >= cap)
      return false;
    if (in[i] == '%' && i + 2 < len) {
      char hex[3] = {in[i + 1], in[i + 2], 0};
      char *end;
      long v = strtol(hex, &end, 16);
      if (*end)
        return false;
      out[n++] = (char)v;
      i += 2;
    } else if (in[i] == '%') {
      return false;
    } else {
      out[n++] = in[i];
    }
  }
  out[n] = '\0';
  return true;
}

hcs_response_t *hub_subscriptions_api(hcs_request_t *req, void *ud) {
  hub_t *hub = ud;
  hcs_response_t *res = NULL;
  hub_claims_t claims = {0};
  bool have_claims = false;
  if (!hub->cfg->subscriptions) {
    res = hub_error(404, "the subscriptions API is off (--subscriptions)");
    goto done;
  }
  /* The raw request path must match a mercure.subscribe selector (§7). */
  hcs_str_t target = hcs_request_target(req);
  const char *q = memchr(target.base, '?', target.len);
  size_t plen = q ? (size_t)(q - target.base) : target.len;
  hub_authorize_subscriber(hub, req, &claims, &have_claims, &res);
  if (res)
    goto done;
  if (!have_claims || !hub_claims_allow(&claims, target.base, plen)) {
    res = have_claims ? hub_error(403, "the token may not read this path")
                      : hub_error(401, "a subscriber token is required");
    goto done;
  }

  /* /subscriptions[/{topic}[/{subscriber}]] */
  char topic[4096] = "", subscriber[256] = "";
  const char *rest = target.base + sizeof SUBS_PATH - 1;
  size_t rlen = plen - (sizeof SUBS_PATH - 1);
  bool want_topic = false, want_sub = false;
  if (rlen > 0) {
    if (rest[0] != '/') {
      res = hub_error(404, "not found");
      goto done;
    }
    rest++, rlen--;
    const char *slash = memchr(rest, '/', rlen);
    size_t tl = slash ? (size_t)(slash - rest) : rlen;
    if (!decode_segment(rest, tl, topic, sizeof topic)) {
      res = hub_error(400, "bad percent-encoding in the path");
      goto done;
    }
    want_topic = tl > 0;
    if (slash) {
      if (!decode_segment(slash + 1, rlen - tl - 1, subscriber, sizeof subscriber)) {
        res = hub_error(400, "bad percent-encoding in the path");
        goto done;
      }
      want_sub = true;
    }
  }

  char path[8192];
  snprintf(path, sizeof path, "%.*s", (int)plen, target.base);
  json_t *list = json_array();
  pthread_mutex_lock(&hub->subs->lock);
  for (sub_entry_t *e = hub->subs->head; e && list; e = e->next) {
    if (want_sub && strcmp(e->id, subscriber) != 0)
      continue;
    for (size_t i = 0; i < e->ntopics; i++)
      if (!want_topic || strcmp(e->topics[i], topic) == 0)
        json_array_append_new(list, entry_doc(e, i, true));
  }
  pthread_mutex_unlock(&hub->subs->lock);
  char last[HUB_ID_MAX];
  hub_last_event_id(hub, last, sizeof last);
  json_t *doc;
  if (want_sub) {
    if (list == NULL || json_array_size(list) == 0) {
      json_decref(list);
      res = hub_error(404, "no such subscription");
      goto done;
    }
    doc = json_deep_copy(json_array_get(list, 0));
    json_decref(list);
    if (doc)
      json_object_set_new(doc, "lastEventID", json_string(last));
  } else {
    doc = json_pack("{s:s,s:s,s:s,s:s,s:o}", "@context", "https://mercure.rocks/",
                    "id", path, "type", "Subscriptions", "lastEventID", last,
                    "subscriptions", list ? list : json_array());
  }
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  res = text ? hub_text(200, "application/ld+json", text, strlen(text))
             : hub_error(500, "out of memory");
  free(text);
  if (res)
    hub_header(res, "ETag", last);

done:
  if (have_claims)
    hub_claims_cleanup(&claims);
  return hub_logged(hub, req, res);
}
