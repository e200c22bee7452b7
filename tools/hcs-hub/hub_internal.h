/* SPDX-License-Identifier: MIT */
/*
 * The hub's shared state and the helpers its modules share: hub.c (set-up,
 * run, the pages around the protocol), mercure.c (subscribe, publish,
 * authorization), topics.c (the per-topic counters of the dashboard).
 */
#ifndef HUB_INTERNAL_H
#define HUB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <hcs/hcs.h>
#include <hive/pubsub.h>
#include <hive/sse.h>

#include "config.h"
#include "jwt.h"

/* The hive topic every update goes through. */
#define HUB_BUS_TOPIC "mercure"

/* The hub's URL path. */
#define HUB_PATH "/.well-known/mercure"

/* "urn:uuid:" + 36 characters + NUL. */
#define HUB_UUID_URN_LEN 46

/* Longest update id kept as the hub's last event id. */
#define HUB_ID_MAX 1024

typedef struct hub_subs_s hub_subs_t;

struct hub_s {
  const hub_config_t *cfg;
  hcs_server_t *srv;
  hive_bus_t *bus;
  hub_jwt_key_t *publisher_key;
  hub_jwt_key_t *subscriber_key; /* NULL: anonymous subscribers only */
  char *dev_token;               /* --dev: publish+subscribe "*" token */
  uint64_t started_ms;
  atomic_uint_fast64_t subscribers; /* open subscriber connections */
  atomic_uint_fast64_t published;   /* updates accepted */
  struct hub_topics_s *topics;      /* dashboard counters */
  hub_subs_t *subs;                 /* active subscriptions (--subscriptions) */
  pthread_mutex_t last_lock;
  char last_id[HUB_ID_MAX];         /* the last update dispatched, or "" */
};

typedef struct hub_s hub_t;

/* ---- mercure.c ----------------------------------------------------------- */

hcs_response_t *hub_subscribe(hcs_request_t *req, void *ud);
hcs_response_t *hub_publish(hcs_request_t *req, void *ud);
hcs_response_t *hub_preflight(hcs_request_t *req, void *ud);

/*
 * Publish an update: its topics (the first canonical), private or not, and
 * its event, whose id must be set. Records the id as the hub's last.
 * Returns 0 or a negative hcs error.
 */
int hub_dispatch(hub_t *hub, const hcs_str_t *topics, size_t ntopics,
                 bool private_update, const hcs_sse_event_t *ev);

/* "urn:uuid:" + a random (version 4) UUID. Returns 0 or HCS_EIO. */
int hub_uuid_urn(char out[HUB_UUID_URN_LEN]);

/*
 * Authorize a subscriber-side request (§5): a token, if any, must be valid
 * (*have_claims then true); without one, anonymous access must be on. On
 * refusal sets *refusal to the error response (401).
 */
void hub_authorize_subscriber(hub_t *hub, hcs_request_t *req,
                              hub_claims_t *claims, bool *have_claims,
                              hcs_response_t **refusal);

/* True when some mercure.subscribe selector of claims matches topic. */
bool hub_claims_allow(const hub_claims_t *claims, const char *topic,
                      size_t len);

/* The last update's id, or "earliest" when none was dispatched. */
void hub_last_event_id(hub_t *hub, char *out, size_t cap);

/* ---- subscriptions.c ------------------------------------------------------ */

int hub_subs_new(hub_subs_t **out);
void hub_subs_free(hub_subs_t *s);
/* Register a subscriber connection (its selectors, its token's payload
 * JSON or NULL) and announce it; returns the entry for hub_subs_remove, or
 * NULL (out of memory: it is then simply not listed). */
void *hub_subs_add(hub_t *hub, char **topics, size_t ntopics,
                   const char *payload_json);
/* Unregister and announce the end. NULL is a no-op. */
void hub_subs_remove(hub_t *hub, void *entry);
/* GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]] */
hcs_response_t *hub_subscriptions_api(hcs_request_t *req, void *ud);

/* ---- hub.c ---------------------------------------------------------------- */

/* A text response (copied body) with the given content type, or NULL. */
hcs_response_t *hub_text(int status, const char *content_type,
                         const char *body, size_t len);

/* A plain-text error response: "<status> <reason>: <detail>\n". */
hcs_response_t *hub_error(int status, const char *detail);

/* Write the access-log line for req (if enabled) and return res. */
hcs_response_t *hub_logged(hub_t *hub, hcs_request_t *req,
                           hcs_response_t *res);

/* Add a header when possible: for optional headers, where a failure (no
 * memory, a value unfit for a header) leaves the response valid without. */
static inline void hub_header(hcs_response_t *res, const char *name,
                              const char *value) {
  if (hcs_response_add_header(res, name, value) < 0)
    return;
}

/* Add the CORS headers the request's Origin earns, and say whether it
 * earned any (none for an origin not allowed). */
bool hub_cors(hub_t *hub, hcs_request_t *req, hcs_response_t *res);

/* ---- topics.c ------------------------------------------------------------- */

typedef struct hub_topics_s hub_topics_t;

int hub_topics_new(hub_topics_t **out);
void hub_topics_free(hub_topics_t *t);
/* Count a subscriber in (+1) or out (-1) of a selector's entry. */
void hub_topics_subscribers(hub_topics_t *t, const char *topic, size_t len,
                            int delta);
/* Count an update on a topic. */
void hub_topics_update(hub_topics_t *t, const char *topic, size_t len);
/* The entries as a JSON array (jansson json_t *), most recent first. */
void *hub_topics_json(hub_topics_t *t, size_t max);

#endif
