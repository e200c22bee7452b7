/* SPDX-License-Identifier: MIT */
/*
 * The Mercure protocol (specs/mercure.md): subscription (§3), publication
 * (§4), authorization (§5) and reconciliation (§6).
 *
 * An update is published to hive with its SSE event as wire bytes and, as
 * payload, its routing data: a flags byte (private), then each topic as a
 * 4-byte length and its bytes. A subscriber's hive filter reads that to
 * decide, on the subscriber's worker, whether the update is for it.
 */
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hub_internal.h"
#include "selector.h"

#define MAX_TOPICS 1000
#define FLAG_PRIVATE 1

/* ---- tokens (§5) --------------------------------------------------------- */

typedef enum { TOKEN_NONE, TOKEN_HEADER, TOKEN_QUERY, TOKEN_COOKIE } token_src_t;

/* The value of cookie `name` in a Cookie header ("a=1; b=2"). */
static bool cookie_value(hcs_str_t header, const char *name, hcs_str_t *out) {
  size_t nlen = strlen(name), i = 0;
  while (i < header.len) {
    while (i < header.len && (header.base[i] == ' ' || header.base[i] == ';'))
      i++;
    size_t start = i;
    while (i < header.len && header.base[i] != ';')
      i++;
    const char *pair = header.base + start;
    size_t plen = i - start;
    if (plen > nlen && memcmp(pair, name, nlen) == 0 && pair[nlen] == '=') {
      out->base = pair + nlen + 1;
      out->len = plen - nlen - 1;
      return true;
    }
  }
  return false;
}

/*
 * Find the request's token, first match wins (§5): the Authorization header
 * (which must then be "Bearer <token>", any case for the scheme), the
 * `authorization` query parameter, the cookie. Returns the source; a
 * malformed header or repeated query parameter gives *bad = true.
 */
static token_src_t find_token(hub_t *hub, hcs_request_t *req, hcs_str_t *tok,
                              bool *bad) {
  hcs_str_t v;
  *bad = false;
  if (hcs_request_header(req, "Authorization", &v) == 0) {
    if (v.len <= 7 || strncasecmp(v.base, "bearer ", 7) != 0) {
      *bad = true;
      return TOKEN_HEADER;
    }
    tok->base = v.base + 7;
    tok->len = v.len - 7;
    while (tok->len && *tok->base == ' ')
      tok->base++, tok->len--;
    return TOKEN_HEADER;
  }
  size_t it = 0;
  if (hcs_request_query_next(req, "authorization", &it, tok) == 0) {
    hcs_str_t again;
    *bad = hcs_request_query_next(req, "authorization", &it, &again) == 0;
    return TOKEN_QUERY;
  }
  if (hcs_request_header(req, "Cookie", &v) == 0 &&
      cookie_value(v, hub->cfg->cookie_name, tok))
    return TOKEN_COOKIE;
  return TOKEN_NONE;
}

static hcs_response_t *unauthorized(const char *detail, bool invalid_token) {
  hcs_response_t *res = hub_error(401, detail);
  if (res)
    hub_header(res, "WWW-Authenticate",
        invalid_token ? "Bearer error=\"invalid_token\"" : "Bearer");
  return res;
}

/* ---- selectors ------------------------------------------------------------- */

typedef struct {
  hub_selector_t **items;
  size_t n;
} selectors_t;

static void selectors_free(selectors_t *s) {
  for (size_t i = 0; i < s->n; i++)
    hub_selector_free(s->items[i]);
  free(s->items);
  s->items = NULL;
  s->n = 0;
}

static int selectors_add(selectors_t *s, const char *text, size_t len) {
  hub_selector_t **items = realloc(s->items, (s->n + 1) * sizeof(*items));
  if (items == NULL)
    return HCS_ENOMEM;
  s->items = items;
  int err = hub_selector_compile(&s->items[s->n], text, len);
  if (err == 0)
    s->n++;
  return err;
}

static int selectors_from_list(selectors_t *s, char **list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int err = selectors_add(s, list[i], strlen(list[i]));
    if (err < 0)
      return err;
  }
  return 0;
}

static bool selectors_match(const selectors_t *s, const char *topic, size_t len) {
  for (size_t i = 0; i < s->n; i++)
    if (hub_selector_match(s->items[i], topic, len))
      return true;
  return false;
}

/* ---- routing data of an update -------------------------------------------- */

static bool meta_flags(hcs_str_t meta, unsigned *flags) {
  if (meta.len < 1)
    return false;
  *flags = (unsigned char)meta.base[0];
  return true;
}

/* Iterate the topics of an update's routing data: *pos starts at 1. */
static bool meta_next_topic(hcs_str_t meta, size_t *pos, hcs_str_t *topic) {
  if (*pos + 4 > meta.len)
    return false;
  uint32_t len;
  memcpy(&len, meta.base + *pos, 4);
  if (*pos + 4 + len > meta.len)
    return false;
  topic->base = meta.base + *pos + 4;
  topic->len = len;
  *pos += 4 + len;
  return true;
}

/* True when some topic of the update matches some selector. */
static bool meta_matches(hcs_str_t meta, const selectors_t *sels) {
  size_t pos = 1;
  hcs_str_t topic;
  while (meta_next_topic(meta, &pos, &topic))
    if (selectors_match(sels, topic.base, topic.len))
      return true;
  return false;
}

/* ---- authorization of subscribers (§5) ------------------------------------- */

void hub_authorize_subscriber(hub_t *hub, hcs_request_t *req,
                              hub_claims_t *claims, bool *have_claims,
                              hcs_response_t **refusal) {
  hcs_str_t tok;
  bool bad;
  *have_claims = false;
  *refusal = NULL;
  token_src_t src = find_token(hub, req, &tok, &bad);
  if (bad) {
    *refusal = unauthorized("malformed authorization", true);
  } else if (src == TOKEN_NONE) {
    if (!hub->cfg->anonymous)
      *refusal = unauthorized("a subscriber token is required", false);
  } else if (hub->subscriber_key == NULL) {
    *refusal = unauthorized("this hub has no subscriber key", true);
  } else {
    int err = hub_jwt_verify(hub->subscriber_key, tok.base, tok.len,
                             (int64_t)time(NULL), 0, claims);
    if (err < 0)
      *refusal = unauthorized(hub_jwt_strerror(err), true);
    else
      *have_claims = true;
  }
  if (*refusal == NULL && !*have_claims && src != TOKEN_NONE)
    *refusal = hub_error(500, "out of memory");
}

bool hub_claims_allow(const hub_claims_t *claims, const char *topic,
                      size_t len) {
  selectors_t sels = {0};
  bool ok = claims->has_subscribe &&
            selectors_from_list(&sels, claims->subscribe, claims->nsubscribe) == 0 &&
            selectors_match(&sels, topic, len);
  selectors_free(&sels);
  return ok;
}

/* ---- subscription (§3) ----------------------------------------------------- */

typedef struct {
  hub_t *hub;
  selectors_t topics;  /* the connection's topic selectors */
  selectors_t allowed; /* its token's mercure.subscribe claim */
  char **texts;        /* the selector strings, for the dashboard counters */
  size_t ntexts;
  void *registry;      /* active subscriptions entry, or NULL */
} subscriber_t;

static void subscriber_free(subscriber_t *s) {
  hub_subs_remove(s->hub, s->registry);
  for (size_t i = 0; i < s->ntexts; i++) {
    hub_topics_subscribers(s->hub->topics, s->texts[i], strlen(s->texts[i]), -1);
    free(s->texts[i]);
  }
  free(s->texts);
  selectors_free(&s->topics);
  selectors_free(&s->allowed);
  free(s);
}

/* The delivery filter (§3): subscribed, and public or allowed. */
static bool subscriber_wants(const hive_message_t *msg, void *ud) {
  subscriber_t *s = ud;
  unsigned flags;
  if (!meta_flags(msg->payload, &flags) || !meta_matches(msg->payload, &s->topics))
    return false;
  return !(flags & FLAG_PRIVATE) || meta_matches(msg->payload, &s->allowed);
}

static void subscriber_closed(hcs_response_t *res, hcs_close_reason_t reason,
                              void *ud) {
  (void)res;
  (void)reason;
  subscriber_t *s = ud;
  atomic_fetch_sub(&s->hub->subscribers, 1);
  subscriber_free(s);
}

/* Verify a token with key; fills claims. Returns 0 or a hub_jwt error. */
static int verify(const hub_jwt_key_t *key, hcs_str_t tok, hub_claims_t *claims) {
  return hub_jwt_verify(key, tok.base, tok.len, (int64_t)time(NULL), 0, claims);
}

hcs_response_t *hub_subscribe(hcs_request_t *req, void *ud) {
  hub_t *hub = ud;
  subscriber_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return hub_logged(hub, req, hub_error(500, "out of memory"));
  s->hub = hub;
  hcs_response_t *res = NULL;
  hub_claims_t claims = {0};
  bool have_claims = false;

  /* Selectors: at least one, at most MAX_TOPICS. */
  size_t it = 0;
  hcs_str_t v;
  int err = 0;
  while (err == 0 && hcs_request_query_next(req, "topic", &it, &v) == 0) {
    if (s->topics.n == MAX_TOPICS) {
      res = hub_error(400, "too many \"topic\" parameters");
      goto done;
    }
    err = selectors_add(&s->topics, v.base, v.len);
  }
  if (err < 0) {
    res = hub_error(500, "out of memory");
    goto done;
  }
  if (s->topics.n == 0) {
    res = hub_error(400, "missing \"topic\" parameter");
    goto done;
  }

  /* Authorization: a token must be valid if given; none is fine only for
   * anonymous subscribers, who receive public updates only. */
  hub_authorize_subscriber(hub, req, &claims, &have_claims, &res);
  if (res)
    goto done;
  if (have_claims && claims.has_subscribe &&
      selectors_from_list(&s->allowed, claims.subscribe, claims.nsubscribe) < 0) {
    res = hub_error(500, "out of memory");
    goto done;
  }

  /* Reconciliation (§6): the header wins over the query parameter. */
  char last_id[1024];
  bool has_last = false;
  if (hcs_request_header(req, "Last-Event-ID", &v) == 0 ||
      hcs_request_query_param(req, "lastEventID", &v) == 0) {
    if (v.len >= sizeof last_id) {
      res = hub_error(400, "Last-Event-ID is too long");
      goto done;
    }
    memcpy(last_id, v.base, v.len);
    last_id[v.len] = '\0';
    has_last = true;
  }
  bool earliest = has_last && strcmp(last_id, "earliest") == 0;

  /* The dashboard's counters, by selector text. */
  s->texts = calloc(s->topics.n, sizeof(char *));
  if (s->texts == NULL) {
    res = hub_error(500, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < s->topics.n; i++) {
    size_t len;
    const char *text = hub_selector_text(s->topics.items[i], &len);
    if ((s->texts[i] = strndup(text, len)) == NULL) {
      res = hub_error(500, "out of memory");
      goto done;
    }
    s->ntexts++;
    hub_topics_subscribers(hub->topics, text, len, +1);
  }

  hive_sse_options_t opts;
  hive_sse_options_init(&opts);
  opts.sse.flush_headers_immediately = true;
  opts.sse.on_close = subscriber_closed;
  opts.sse.ud = s;
  opts.filter = subscriber_wants;
  opts.filter_ud = s;
  opts.heartbeat_interval = hub->cfg->heartbeat;
  /* A token that expires ends the stream then (§3): the client comes back
   * and must bring a fresh token. */
  if (have_claims && claims.has_exp) {
    int64_t left = claims.exp - (int64_t)time(NULL);
    opts.end_after = left > 0 ? (double)left : 0.001;
  }
  opts.max_queued_bytes = hub->cfg->slow_bytes;
  opts.slow_policy =
      hub->cfg->slow_policy == HUB_SLOW_DROP ? HIVE_SLOW_DROP_OLDEST : HIVE_SLOW_CLOSE;
  bool found = false;
  if (has_last) {
    if (earliest)
      opts.replay_all = true;
    else
      opts.last_event_id = last_id;
    opts.last_event_id_found = &found;
  }
  const char *topic = HUB_BUS_TOPIC;
  err = hive_sse_respond(&res, hub->bus, &topic, 1, &opts);
  if (err < 0) {
    res = hub_error(err == HCS_ENOMEM ? 503 : 500, hcs_strerror(err));
    goto done;
  }
  /* As the reference hub: nothing may store a stream, least of all one
   * whose URL may carry a token (§5). */
  if (hcs_response_remove_header(res, "Cache-Control") == 0)
    hub_header(res, "Cache-Control",
               "private, no-cache, no-store, must-revalidate, max-age=0");
  hub_header(res, "Pragma", "no-cache");
  atomic_fetch_add(&hub->subscribers, 1);
  if (hub->cfg->subscriptions)
    s->registry = hub_subs_add(hub, s->texts, s->ntexts,
                               have_claims ? claims.payload : NULL);
  s = NULL; /* the response owns it now */
  if (has_last)
    hub_header(res, "Last-Event-ID",
                                  found && !earliest ? last_id : "earliest");
  hub_cors(hub, req, res);

done:
  if (have_claims)
    hub_claims_cleanup(&claims);
  if (s)
    subscriber_free(s);
  return hub_logged(hub, req, res);
}

/* ---- publication (§4) ------------------------------------------------------ */

int hub_uuid_urn(char out[HUB_UUID_URN_LEN]) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1)
    return HCS_EIO;
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, HUB_UUID_URN_LEN,
           "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x"
           "%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
  return 0;
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      k = 1, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      k = 2, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + k >= n)
      return false; /* truncated sequence */
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return false;
    i += k + 1;
  }
  return true;
}

static bool is_form(hcs_request_t *req) {
  hcs_str_t ct;
  if (hcs_request_header(req, "Content-Type", &ct) < 0)
    return false;
  static const char form[] = "application/x-www-form-urlencoded";
  size_t n = sizeof form - 1;
  if (ct.len < n || strncasecmp(ct.base, form, n) != 0)
    return false;
  return ct.len == n || ct.base[n] == ';' || ct.base[n] == ' ';
}

/* The Origin of a request, or scheme://host of its Referer. */
static bool request_origin(hcs_request_t *req, char *out, size_t cap) {
  hcs_str_t v;
  if (hcs_request_header(req, "Origin", &v) == 0) {
    if (v.len >= cap)
      return false;
    memcpy(out, v.base, v.len);
    out[v.len] = '\0';
    return true;
  }
  if (hcs_request_header(req, "Referer", &v) < 0)
    return false;
  const char *scheme_end = memmem(v.base, v.len, "://", 3);
  if (scheme_end == NULL)
    return false;
  size_t start = (size_t)(scheme_end - v.base) + 3, end = start;
  while (end < v.len && v.base[end] != '/' && v.base[end] != '?' && v.base[end] != '#')
    end++;
  if (end >= cap)
    return false;
  memcpy(out, v.base, end);
  out[end] = '\0';
  return true;
}

static bool origin_listed(char **list, size_t n, const char *origin) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i], "*") == 0 || strcmp(list[i], origin) == 0)
      return true;
  return false;
}

/* The routing data of an update: flags, then each topic as a 4-byte length
 * and its bytes. Caller frees. */
static char *routing_data(const hcs_str_t *topics, size_t ntopics,
                          bool private_update, size_t *len) {
  *len = 1;
  for (size_t i = 0; i < ntopics; i++)
    *len += 4 + topics[i].len;
  char *meta = malloc(*len);
  if (meta == NULL)
    return NULL;
  meta[0] = private_update ? FLAG_PRIVATE : 0;
  char *p = meta + 1;
  for (size_t i = 0; i < ntopics; i++) {
    uint32_t l = (uint32_t)topics[i].len;
    memcpy(p, &l, 4);
    memcpy(p + 4, topics[i].base, topics[i].len);
    p += 4 + topics[i].len;
  }
  return meta;
}

/* Count an update that was published, with its id as delivered. */
static void published(hub_t *hub, const hcs_str_t *topics, size_t ntopics,
                      const char *id, size_t id_len) {
  pthread_mutex_lock(&hub->last_lock);
  if (id_len < sizeof hub->last_id) {
    memcpy(hub->last_id, id, id_len);
    hub->last_id[id_len] = '\0';
  }
  pthread_mutex_unlock(&hub->last_lock);
  atomic_fetch_add(&hub->published, 1);
  for (size_t i = 0; i < ntopics; i++)
    hub_topics_update(hub->topics, topics[i].base, topics[i].len);
}

int hub_dispatch(hub_t *hub, const hcs_str_t *topics, size_t ntopics,
                 bool private_update, const hcs_sse_event_t *ev) {
  size_t len;
  char *meta = routing_data(topics, ntopics, private_update, &len);
  if (meta == NULL)
    return HCS_ENOMEM;
  int err = hive_publish_event_with(hub->bus, HUB_BUS_TOPIC, ev, meta, len);
  free(meta);
  if (err == 0)
    published(hub, topics, ntopics, ev->id.base, ev->id.len);
  return err;
}

/*
 * A publish waiting for the bus's answer. In-process the answer comes at
 * once and the reply is an ordinary response; with a backend (Redis) the
 * reply is a response that waits (pending producer) and then says 200 with
 * the id, or 503 when the backend is unavailable. Two references: the
 * answer callback's and the reply's.
 */
typedef struct {
  atomic_int refs;
  hub_t *hub;
  bool done;
  int status;
  char id[HUB_ID_MAX];
  size_t id_len;
  hcs_waker_t *waker;   /* the waiting reply's, once it waits */
  hcs_str_t *topics;    /* for the counters, once published */
  size_t ntopics;
  char *topic_bytes;
} publish_wait_t;

static void wait_release(publish_wait_t *w) {
  if (atomic_fetch_sub(&w->refs, 1) != 1)
    return;
  hcs_waker_unref(w->waker);
  free(w->topics);
  free(w->topic_bytes);
  free(w);
}

static void on_published(int status, const char *id, size_t id_len, void *ud) {
  publish_wait_t *w = ud;
  w->status = status;
  if (status == 0) {
    w->id_len = id_len < sizeof w->id ? id_len : sizeof w->id - 1;
    memcpy(w->id, id, w->id_len);
    published(w->hub, w->topics, w->ntopics, w->id, w->id_len);
  }
  w->done = true;
  if (w->waker)
    hcs_waker_wake(w->waker);
  wait_release(w);
}

/* The waiting reply's producer: pending until the answer, then the reply. */
static int publish_reply(hcs_response_t *res, void *ud) {
  publish_wait_t *w = ud;
  if (!w->done) {
    if (w->waker == NULL && (w->waker = hcs_response_waker(res)) == NULL)
      return HCS_ENOMEM;
    return HCS_PRODUCE_PENDING;
  }
  if (w->status == 0) {
    if (hcs_response_write(res, w->id, w->id_len) < 0)
      return HCS_ENOMEM;
    return HCS_PRODUCE_END;
  }
  static const char busy[] = "the hub's backend is unavailable; retry later\n";
  if (hcs_response_set_status(res, w->status == HCS_EAGAIN ? 503 : 500) < 0 ||
      hcs_response_add_header(res, "Retry-After", "1") < 0 ||
      hcs_response_write(res, busy, sizeof busy - 1) < 0)
    return HCS_ENOMEM;
  return HCS_PRODUCE_END;
}

static void publish_reply_closed(hcs_response_t *res, hcs_close_reason_t why,
                                 void *ud) {
  (void)res;
  (void)why;
  wait_release(ud);
}

/* Publish and build the reply (see publish_wait_t). */
static hcs_response_t *dispatch_and_reply(hub_t *hub, hcs_request_t *req,
                                          const hcs_str_t *topics,
                                          size_t ntopics, bool private_update,
                                          const hcs_sse_event_t *ev) {
  publish_wait_t *w = calloc(1, sizeof(*w));
  size_t len, bytes = 0;
  for (size_t i = 0; i < ntopics; i++)
    bytes += topics[i].len;
  char *meta = routing_data(topics, ntopics, private_update, &len);
  if (w == NULL || meta == NULL ||
      (w->topics = malloc(ntopics * sizeof(*w->topics))) == NULL ||
      (w->topic_bytes = malloc(bytes + 1)) == NULL) {
    free(meta);
    if (w) {
      free(w->topics);
      free(w);
    }
    return hub_error(500, "out of memory");
  }
  /* Keep the topics: the request is gone when a backend answers. */
  char *p = w->topic_bytes;
  for (size_t i = 0; i < ntopics; i++) {
    memcpy(p, topics[i].base, topics[i].len);
    w->topics[i] = (hcs_str_t){p, topics[i].len};
    p += topics[i].len;
  }
  w->ntopics = ntopics;
  w->hub = hub;
  atomic_init(&w->refs, 2);
  int err = hive_publish_async(hub->bus, HUB_BUS_TOPIC, ev, meta, len,
                               on_published, w);
  free(meta);
  if (err < 0) {
    atomic_store(&w->refs, 1);
    wait_release(w);
    return hub_error(500, hcs_strerror(err));
  }
  hcs_response_t *res;
  if (w->done) {
    /* Answered already (in-process). */
    res = w->status == 0
              ? hub_text(200, "text/plain; charset=utf-8", w->id, w->id_len)
              : hub_error(503, "the hub's backend is unavailable; retry later");
    wait_release(w);
  } else if (hcs_response_new(&res, 200) == 0) {
    if (hcs_response_add_header(res, "Content-Type",
                                "text/plain; charset=utf-8") < 0 ||
        hcs_response_set_producer(res, publish_reply, publish_reply_closed, w) < 0) {
      hcs_response_free(res);
      res = NULL;
      wait_release(w);
    }
  } else {
    res = NULL;
    wait_release(w);
  }
  if (res)
    hub_cors(hub, req, res);
  return res;
}

void hub_last_event_id(hub_t *hub, char *out, size_t cap) {
  pthread_mutex_lock(&hub->last_lock);
  snprintf(out, cap, "%s", hub->last_id[0] ? hub->last_id : "earliest");
  pthread_mutex_unlock(&hub->last_lock);
}

hcs_response_t *hub_publish(hcs_request_t *req, void *ud) {
  hub_t *hub = ud;
  hcs_response_t *res = NULL;
  hub_claims_t claims = {0};
  bool have_claims = false;
  selectors_t allowed = {0};
  hcs_str_t *topics = NULL;

  /* Authorization first: publishing always needs a token (§5). */
  hcs_str_t tok;
  bool bad;
  token_src_t src = find_token(hub, req, &tok, &bad);
  if (bad) {
    res = unauthorized("malformed authorization", true);
    goto done;
  }
  if (src == TOKEN_NONE) {
    res = unauthorized("a publisher token is required", false);
    goto done;
  }
  int err = verify(hub->publisher_key, tok, &claims);
  if (err < 0) {
    res = unauthorized(hub_jwt_strerror(err), true);
    goto done;
  }
  have_claims = true;
  if (src == TOKEN_COOKIE) {
    /* A cookie is sent by the browser on its own: only allowed origins may
     * publish with it (CSRF, §5). */
    char origin[512];
    if (!request_origin(req, origin, sizeof origin) ||
        !origin_listed(hub->cfg->publish_origins, hub->cfg->npublish_origins,
                       origin)) {
      res = hub_error(403, "publishing with the cookie needs an allowed Origin");
      goto done;
    }
  }
  if (!claims.has_publish || claims.npublish == 0) {
    res = hub_error(403, "the token has no mercure.publish claim");
    goto done;
  }
  if (selectors_from_list(&allowed, claims.publish, claims.npublish) < 0) {
    res = hub_error(500, "out of memory");
    goto done;
  }

  if (!is_form(req)) {
    res = hub_error(415, "the body must be application/x-www-form-urlencoded");
    goto done;
  }

  /* Topics: required, all allowed by the claim, none in the hub's own
   * namespace. */
  size_t it = 0, ntopics = 0;
  hcs_str_t topic;
  while ((err = hcs_request_form_next(req, "topic", &it, &topic)) == 0)
    ntopics++;
  if (err == HCS_E2BIG) {
    res = hub_error(413, "too many form fields");
    goto done;
  }
  if (err == HCS_ENOMEM) {
    res = hub_error(503, "out of memory");
    goto done;
  }
  if (ntopics == 0) {
    res = hub_error(400, "missing \"topic\" field");
    goto done;
  }
  if (ntopics > MAX_TOPICS) {
    res = hub_error(400, "too many \"topic\" fields");
    goto done;
  }
  if ((topics = malloc(ntopics * sizeof(*topics))) == NULL) {
    res = hub_error(500, "out of memory");
    goto done;
  }
  it = 0;
  for (size_t i = 0; i < ntopics; i++) {
    (void)hcs_request_form_next(req, "topic", &it, &topics[i]);
    if (memmem(topics[i].base, topics[i].len, HUB_PATH, sizeof HUB_PATH - 1)) {
      res = hub_error(403, "topics under /.well-known/mercure are reserved");
      goto done;
    }
    if (!selectors_match(&allowed, topics[i].base, topics[i].len)) {
      res = hub_error(403, "the token may not publish to this topic");
      goto done;
    }
  }

  hcs_sse_event_t ev = {{NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY, {"", 0}};
  hcs_str_t v;
  if (hcs_request_form_param(req, "data", &v) == 0)
    ev.data = v;
  if (!valid_utf8((const unsigned char *)ev.data.base, ev.data.len)) {
    res = hub_error(400, "data is not valid UTF-8");
    goto done;
  }
  char generated[HUB_UUID_URN_LEN];
  if (hcs_request_form_param(req, "id", &v) == 0) {
    if (v.len == 0 || v.base[0] == '#' || v.len >= HUB_ID_MAX ||
        (v.len == 8 && memcmp(v.base, "earliest", 8) == 0)) {
      res = hub_error(400, "invalid id: empty, too long, starting with '#', "
                           "or \"earliest\"");
      goto done;
    }
    ev.id = v;
  } else {
    if (hub_uuid_urn(generated) < 0) {
      res = hub_error(500, "no randomness for an id");
      goto done;
    }
    ev.id = hcs_str_c(generated);
  }
  if (hcs_request_form_param(req, "type", &v) == 0 && v.len > 0)
    ev.event_type = v;
  if (hcs_request_form_param(req, "retry", &v) == 0) {
    int64_t r = 0;
    bool ok = v.len > 0 && v.len <= 10;
    for (size_t i = 0; ok && i < v.len; i++) {
      ok = v.base[i] >= '0' && v.base[i] <= '9';
      r = r * 10 + (v.base[i] - '0');
    }
    if (!ok || r > HCS_SSE_RETRY_MAX) {
      res = hub_error(400, "retry must be an unsigned integer (milliseconds)");
      goto done;
    }
    ev.retry = r;
  }
  if (hcs_sse_validate(&ev) < 0) {
    res = hub_error(400, "id or type holds a control character or "
                         "surrounding space");
    goto done;
  }
  bool private_update = hcs_request_form_param(req, "private", &v) == 0;

  res = dispatch_and_reply(hub, req, topics, ntopics, private_update, &ev);

done:
  free(topics);
  selectors_free(&allowed);
  if (have_claims)
    hub_claims_cleanup(&claims);
  return hub_logged(hub, req, res);
}

hcs_response_t *hub_preflight(hcs_request_t *req, void *ud) {
  hub_t *hub = ud;
  hcs_response_t *res = hub_text(204, NULL, NULL, 0);
  if (res && hub_cors(hub, req, res)) {
    if (hcs_response_add_header(res, "Access-Control-Allow-Methods",
                                "GET, POST, OPTIONS") < 0 ||
        hcs_response_add_header(res, "Access-Control-Allow-Headers",
                                "authorization, cache-control, last-event-id, "
                                "content-type") < 0 ||
        hcs_response_add_header(res, "Access-Control-Max-Age", "600") < 0) {
      hcs_response_free(res);
      res = NULL;
    }
  }
  return hub_logged(hub, req, res);
}
