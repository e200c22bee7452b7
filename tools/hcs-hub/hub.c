/* SPDX-License-Identifier: MIT */
/*
 * The hub's set-up and life (hub.h), and the pages around the protocol: the
 * dashboard's files, /hub/info and /hub/stats for it, /metrics, /healthz,
 * CORS, the access log, and answers to paths nobody serves.
 */
#include "hub.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include <hive/redis.h>

#include "assets.h"
#include "hub_internal.h"

#define HUB_VERSION "0.1.0"

/* ---- responses ------------------------------------------------------------- */

hcs_response_t *hub_text(int status, const char *content_type,
                         const char *body, size_t len) {
  hcs_response_t *res;
  if (hcs_response_new(&res, status) < 0)
    return NULL;
  if ((content_type &&
       hcs_response_add_header(res, "Content-Type", content_type) < 0) ||
      (len > 0 && hcs_response_set_body(res, body, len) < 0)) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

hcs_response_t *hub_error(int status, const char *detail) {
  char body[512];
  int n = snprintf(body, sizeof body, "%s\n", detail);
  if (n < 0 || (size_t)n >= sizeof body)
    n = (int)sizeof body - 1;
  return hub_text(status, "text/plain; charset=utf-8", body, (size_t)n);
}

static hcs_response_t *json_response(json_t *doc) {
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  if (text == NULL)
    return hub_error(500, "out of memory");
  hcs_response_t *res = hub_text(200, "application/json", text, strlen(text));
  free(text);
  if (res && hcs_response_add_header(res, "Cache-Control", "no-store") < 0) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

hcs_response_t *hub_logged(hub_t *hub, hcs_request_t *req,
                           hcs_response_t *res) {
  if (!hub->cfg->access_log)
    return res;
  char peer[64], when[40];
  (void)hcs_request_peer(req, peer, sizeof peer);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  hcs_str_t m = hcs_request_method(req), t = hcs_request_target(req);
  /* Control characters never reach the log: the target is printed with
   * them replaced, so a request cannot forge log lines. */
  char target[1024];
  size_t n = t.len < sizeof target - 1 ? t.len : sizeof target - 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)t.base[i];
    target[i] = c < 0x20 || c == 0x7f || c == '"' ? '?' : (char)c;
  }
  target[n] = '\0';
  printf("%s - - [%s] \"%.*s %s HTTP/1.%d\" %d\n", peer, when, (int)m.len,
         m.base, target, hcs_request_minor_version(req),
         res ? hcs_response_status(res) : 500);
  fflush(stdout);
  return res;
}

bool hub_cors(hub_t *hub, hcs_request_t *req, hcs_response_t *res) {
  hcs_str_t origin;
  if (hub->cfg->ncors == 0 || hcs_request_header(req, "Origin", &origin) < 0)
    return false;
  char o[512];
  if (origin.len >= sizeof o)
    return false;
  memcpy(o, origin.base, origin.len);
  o[origin.len] = '\0';
  bool any = false, listed = false;
  for (size_t i = 0; i < hub->cfg->ncors; i++) {
    if (strcmp(hub->cfg->cors_origins[i], "*") == 0)
      any = true;
    else if (strcmp(hub->cfg->cors_origins[i], o) == 0)
      listed = true;
  }
  if (listed) {
    /* An explicit origin may send credentials (cookies). */
    hub_header(res, "Access-Control-Allow-Origin", o);
    hub_header(res, "Access-Control-Allow-Credentials", "true");
  } else if (any) {
    hub_header(res, "Access-Control-Allow-Origin", "*");
  } else {
    return false;
  }
  hub_header(res, "Vary", "Origin");
  hub_header(res, "Access-Control-Expose-Headers", "Last-Event-ID, Link");
  return true;
}

/* ---- pages ------------------------------------------------------------------- */

static hcs_response_t *h_asset(hcs_request_t *req, void *ud) {
  hub_t *hub = ud;
  hcs_str_t path = hcs_request_path(req);
  const hub_asset_t *a = hub_asset_find(path.base, path.len);
  hcs_response_t *res =
      a ? hub_text(200, a->content_type, (const char *)a->data, a->len)
        : hub_error(404, "not found");
  if (res && a) {
    char link[64];
    snprintf(link, sizeof link, "<%s>; rel=\"mercure\"", HUB_PATH);
    if (hcs_response_add_header(res, "Link", link) < 0 ||
        hcs_response_add_header(res, "Cache-Control", "no-cache") < 0) {
      hcs_response_free(res);
      res = NULL;
    }
  }
  return hub_logged(hub, req, res);
}

static hcs_response_t *h_info(hcs_request_t *req, void *ud) {
  hub_t *hub = ud;
  json_t *doc = json_pack("{s:s,s:b,s:b,s:s}", "version", HUB_VERSION,
                          "dev_mode", hub->cfg->dev, "anonymous",
                          hub->cfg->anonymous, "hub_url", HUB_PATH);
  if (doc && hub->dev_token)
    json_object_set_new(doc, "dev_token", json_string(hub->dev_token));
  return hub_logged(hub, req, json_response(doc));
}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

typedef struct {
  hcs_server_stats_t server;
  hive_stats_t bus;
  hive_backend_stats_t backend;
  uint64_t subscribers, published, uptime_s;
} counters_t;

static void counters(hub_t *hub, counters_t *c) {
  hcs_server_stats(hub->srv, &c->server);
  hive_bus_stats(hub->bus, &c->bus);
  hive_bus_backend_stats(hub->bus, &c->backend);
  c->subscribers = atomic_load(&hub->subscribers);
  c->published = atomic_load(&hub->published);
  c->uptime_s = (now_ms() - hub->started_ms) / 1000;
}

static hcs_response_t *h_stats(hcs_request_t *req, void *ud) {
  hub_t *hub = ud;
  counters_t c;
  counters(hub, &c);
  json_t *topics = hub_topics_json(hub->topics, 100);
  json_t *doc = json_pack(
      "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "uptime_seconds",
      (json_int_t)c.uptime_s, "connections",
      (json_int_t)c.server.connections_open, "subscribers",
      (json_int_t)c.subscribers, "published", (json_int_t)c.published,
      "delivered", (json_int_t)c.bus.deliveries, "dropped",
      (json_int_t)c.bus.drops, "slow_closes", (json_int_t)c.bus.slow_closes,
      "bytes_out", (json_int_t)c.server.bytes_out, "topics",
      topics ? topics : json_array());
  return hub_logged(hub, req, json_response(doc));
}

static hcs_response_t *h_metrics(hcs_request_t *req, void *ud) {
  hub_t *hub = ud;
  counters_t c;
  counters(hub, &c);
  char body[4096];
  int n = snprintf(
      body, sizeof body,
      "# HELP hcs_hub_connections Open client connections.\n"
      "# TYPE hcs_hub_connections gauge\n"
      "hcs_hub_connections %llu\n"
      "# HELP hcs_hub_subscribers Open subscriber streams.\n"
      "# TYPE hcs_hub_subscribers gauge\n"
      "hcs_hub_subscribers %llu\n"
      "# HELP hcs_hub_topics Topics with subscribers or history.\n"
      "# TYPE hcs_hub_topics gauge\n"
      "hcs_hub_topics %llu\n"
      "# HELP hcs_hub_updates_published_total Updates accepted.\n"
      "# TYPE hcs_hub_updates_published_total counter\n"
      "hcs_hub_updates_published_total %llu\n"
      "# HELP hcs_hub_deliveries_total Updates handed to subscriber streams "
      "(before filtering).\n"
      "# TYPE hcs_hub_deliveries_total counter\n"
      "hcs_hub_deliveries_total %llu\n"
      "# HELP hcs_hub_dropped_total Updates dropped for slow subscribers.\n"
      "# TYPE hcs_hub_dropped_total counter\n"
      "hcs_hub_dropped_total %llu\n"
      "# HELP hcs_hub_slow_consumer_closes_total Subscribers closed as too "
      "slow.\n"
      "# TYPE hcs_hub_slow_consumer_closes_total counter\n"
      "hcs_hub_slow_consumer_closes_total %llu\n"
      "# HELP hcs_hub_bytes_out_total Bytes written to sockets.\n"
      "# TYPE hcs_hub_bytes_out_total counter\n"
      "hcs_hub_bytes_out_total %llu\n"
      "# HELP hcs_hub_requests_total Requests routed.\n"
      "# TYPE hcs_hub_requests_total counter\n"
      "hcs_hub_requests_total %llu\n"
      "# HELP hcs_hub_uptime_seconds Seconds since start.\n"
      "# TYPE hcs_hub_uptime_seconds gauge\n"
      "hcs_hub_uptime_seconds %llu\n",
      (unsigned long long)c.server.connections_open,
      (unsigned long long)c.subscribers, (unsigned long long)c.bus.topics,
      (unsigned long long)c.published, (unsigned long long)c.bus.deliveries,
      (unsigned long long)c.bus.drops, (unsigned long long)c.bus.slow_closes,
      (unsigned long long)c.server.bytes_out,
      (unsigned long long)c.server.requests, (unsigned long long)c.uptime_s);
  /* The transport between hubs (in-process: always up, no lag). */
  if (n > 0 && (size_t)n < sizeof body) {
    int m = snprintf(
        body + n, sizeof body - (size_t)n,
        "# HELP hcs_hub_backend_up Whether the transport can take updates now "
        "(1) or publishes get 503 (0).\n"
        "# TYPE hcs_hub_backend_up gauge\n"
        "hcs_hub_backend_up{backend=\"%s\"} %d\n"
        "# HELP hcs_hub_backend_reconnects_total Transport connections made "
        "after the first.\n"
        "# TYPE hcs_hub_backend_reconnects_total counter\n"
        "hcs_hub_backend_reconnects_total %llu\n"
        "# HELP hcs_hub_backend_read_lag_entries Updates in the transport's "
        "log not yet read by this hub.\n"
        "# TYPE hcs_hub_backend_read_lag_entries gauge\n"
        "hcs_hub_backend_read_lag_entries %llu\n"
        "# HELP hcs_hub_backend_read_lag_milliseconds Age of the oldest update "
        "not yet read by this hub.\n"
        "# TYPE hcs_hub_backend_read_lag_milliseconds gauge\n"
        "hcs_hub_backend_read_lag_milliseconds %.0f\n"
        "# HELP hcs_hub_backend_publish_milliseconds Round trip of the last "
        "publish to the transport.\n"
        "# TYPE hcs_hub_backend_publish_milliseconds gauge\n"
        "hcs_hub_backend_publish_milliseconds %.3f\n"
        "# HELP hcs_hub_backend_publish_errors_total Publishes the transport "
        "refused (answered 503 or 500).\n"
        "# TYPE hcs_hub_backend_publish_errors_total counter\n"
        "hcs_hub_backend_publish_errors_total %llu\n",
        c.backend.name ? c.backend.name : "", c.backend.connected ? 1 : 0,
        (unsigned long long)c.backend.reconnects,
        (unsigned long long)c.backend.read_lag, c.backend.read_lag_ms,
        c.backend.publish_ms, (unsigned long long)c.backend.publish_errors);
    n = m < 0 || (size_t)m >= sizeof body - (size_t)n ? -1 : n + m;
  }
  if (n < 0)
    return hub_logged(hub, req, hub_error(500, "metrics do not fit"));
  return hub_logged(hub, req,
                    hub_text(200, "text/plain; version=0.0.4; charset=utf-8",
                             body, (size_t)n));
}

static hcs_response_t *h_health(hcs_request_t *req, void *ud) {
  return hub_logged(ud, req, hub_text(200, "text/plain", "ok\n", 3));
}

/* Anything else: 405 with Allow on a known path, else 404. */
static hcs_response_t *h_other(hcs_request_t *req, void *ud) {
  hub_t *hub = ud;
  hcs_str_t path = hcs_request_path(req);
  const char *allow = NULL;
  if (hcs_str_eq(path, HUB_PATH))
    allow = "GET, POST, OPTIONS";
  else if (hcs_str_eq(path, "/hub/info") || hcs_str_eq(path, "/hub/stats") ||
           hcs_str_eq(path, "/metrics") || hcs_str_eq(path, "/healthz") ||
           hub_asset_find(path.base, path.len))
    allow = "GET, HEAD";
  hcs_response_t *res =
      allow ? hub_error(405, "method not allowed") : hub_error(404, "not found");
  if (res && allow && hcs_response_add_header(res, "Allow", allow) < 0) {
    hcs_response_free(res);
    res = NULL;
  }
  return hub_logged(hub, req, res);
}

/* ---- the development token ------------------------------------------------- */

static size_t b64url(const unsigned char *in, size_t len, char *out) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0, i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = tab[v >> 18], out[o++] = tab[(v >> 12) & 63];
    out[o++] = tab[(v >> 6) & 63], out[o++] = tab[v & 63];
  }
  if (i + 1 == len) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = tab[v >> 18], out[o++] = tab[(v >> 12) & 63];
  } else if (i + 2 == len) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = tab[v >> 18], out[o++] = tab[(v >> 12) & 63];
    out[o++] = tab[(v >> 6) & 63];
  }
  out[o] = '\0';
  return o;
}

/* An HS256 token granting publish and subscribe on every topic. */
static char *dev_token(const char *key) {
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  static const char payload[] =
      "{\"mercure\":{\"publish\":[\"*\"],\"subscribe\":[\"*\"]}}";
  char *tok = malloc(512);
  if (tok == NULL)
    return NULL;
  size_t n = b64url((const unsigned char *)header, sizeof header - 1, tok);
  tok[n++] = '.';
  n += b64url((const unsigned char *)payload, sizeof payload - 1, tok + n);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned mac_len = 0;
  if (HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)tok, n,
           mac, &mac_len) == NULL) {
    free(tok);
    return NULL;
  }
  tok[n++] = '.';
  b64url(mac, mac_len, tok + n);
  return tok;
}

/* ---- set-up and life -------------------------------------------------------- */

/* The Redis transport's connection news, on its thread. */
static void transport_log(const char *line, void *ud) {
  (void)ud;
  fprintf(stderr, "hcs-hub: transport: %s\n", line);
}

/* The bus, on the transport of cfg (NULL: in-process). */
static int new_bus(hub_t *hub, const hub_config_t *cfg,
                   hive_bus_config_t *bcfg, const char **msg) {
  static char errbuf[512];
  if (cfg->transport == NULL) {
    int err = hive_bus_new(&hub->bus, hub->srv, bcfg);
    if (err < 0)
      *msg = hcs_strerror(err);
    return err;
  }
  hive_redis_options_t ropts;
  hive_redis_options_init(&ropts);
  ropts.backfill = cfg->history; /* Last-Event-ID works on a fresh hub too */
  ropts.log = transport_log;
  const char *why = NULL;
  hive_backend_t *be;
  int err = hive_backend_redis_new(&be, cfg->transport, &ropts, &why);
  if (err < 0) {
    snprintf(errbuf, sizeof errbuf, "--transport: %s",
             why ? why : hcs_strerror(err));
    *msg = errbuf;
    return err;
  }
  bcfg->backend = be;
  if ((err = hive_bus_new(&hub->bus, hub->srv, bcfg)) < 0) {
    const char *e = hive_backend_redis_error(be);
    snprintf(errbuf, sizeof errbuf, "--transport: %s",
             e[0] ? e : hcs_strerror(err));
    *msg = errbuf;
    hive_backend_free(be);
  }
  return err;
}

static int load_key(hub_jwt_key_t **out, const char *key, hub_alg_t alg) {
  return alg == HUB_ALG_HS256 ? hub_jwt_key_hs256(out, key, strlen(key))
                              : hub_jwt_key_rs256_pem(out, key, strlen(key));
}

int hub_new(hub_t **out, const hub_config_t *cfg, const char **msg) {
  static char errbuf[256];
  hub_t *hub = calloc(1, sizeof(*hub));
  if (hub == NULL) {
    *msg = "out of memory";
    return HCS_ENOMEM;
  }
  hub->cfg = cfg;
  pthread_mutex_init(&hub->last_lock, NULL);
  int err = load_key(&hub->publisher_key, cfg->publisher_key, cfg->publisher_alg);
  if (err < 0) {
    snprintf(errbuf, sizeof errbuf, "publisher key: %s", hub_jwt_strerror(err));
    *msg = errbuf;
    hub_free(hub);
    return err;
  }
  if (cfg->subscriber_key &&
      (err = load_key(&hub->subscriber_key, cfg->subscriber_key,
                      cfg->subscriber_alg)) < 0) {
    snprintf(errbuf, sizeof errbuf, "subscriber key: %s", hub_jwt_strerror(err));
    *msg = errbuf;
    hub_free(hub);
    return err;
  }
  if (cfg->dev && (hub->dev_token = dev_token(HUB_DEV_KEY)) == NULL) {
    *msg = "cannot sign the development token";
    hub_free(hub);
    return HCS_ENOMEM;
  }

  hcs_server_config_t scfg;
  hcs_server_config_init(&scfg);
  scfg.host = cfg->host;
  scfg.port = cfg->port;
  if (cfg->workers)
    scfg.workers = cfg->workers;
  scfg.max_connections = cfg->max_connections;
  scfg.max_body_bytes = cfg->max_body;
  /* Subscribers stay for hours: no idle limit applies to an open stream;
   * keep-alive idling between requests keeps the library's default. */
  hive_bus_config_t bcfg;
  hive_bus_config_init(&bcfg);
  bcfg.history_count = cfg->history;
  bcfg.history_bytes = cfg->history_bytes;
  struct {
    const char *method, *path;
    unsigned flags;
    hcs_handler_cb fn;
  } routes[] = {
      {"GET", HUB_PATH, 0, hub_subscribe},
      {"POST", HUB_PATH, 0, hub_publish},
      {"OPTIONS", HUB_PATH, 0, hub_preflight},
      {"GET", HUB_PATH "/subscriptions", HCS_ROUTE_PREFIX, hub_subscriptions_api},
      {"GET", "/hub/info", 0, h_info},
      {"GET", "/hub/stats", 0, h_stats},
      {"GET", "/metrics", 0, h_metrics},
      {"GET", "/healthz", 0, h_health},
      {"GET", "/", 0, h_asset},
      {"GET", "/assets/", HCS_ROUTE_PREFIX, h_asset},
      {NULL, "/", HCS_ROUTE_PREFIX, h_other},
  };
  if ((err = hcs_server_new(&hub->srv, &scfg)) < 0) {
    *msg = hcs_strerror(err);
    hub_free(hub);
    return err;
  }
  if ((err = new_bus(hub, cfg, &bcfg, msg)) < 0) {
    hub_free(hub);
    return err;
  }
  if ((err = hub_topics_new(&hub->topics)) < 0 ||
      (err = hub_subs_new(&hub->subs)) < 0) {
    *msg = hcs_strerror(err);
    hub_free(hub);
    return err;
  }
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if ((err = hcs_server_route(hub->srv, routes[i].method, routes[i].path,
                                routes[i].flags, routes[i].fn, hub)) < 0) {
      *msg = hcs_strerror(err);
      hub_free(hub);
      return err;
    }
  }
  *out = hub;
  return 0;
}

static void banner(hub_t *hub) {
  const hub_config_t *cfg = hub->cfg;
  int port = hcs_server_port(hub->srv);
  char base[300];
  snprintf(base, sizeof base, "http://%s%s%s:%d", strchr(cfg->host, ':') ? "[" : "",
           cfg->host, strchr(cfg->host, ':') ? "]" : "", port);
  if (cfg->transport)
    fprintf(stderr, "hcs-hub: updates go through Redis (--transport), shared "
                    "with the hubs on the same stream\n");
  fprintf(stderr, "hcs-hub: listening on %s/\n", base);
  if (!cfg->dev) {
    fprintf(stderr, "hcs-hub: hub URL %s%s; anonymous subscribers %s\n", base,
            HUB_PATH, cfg->anonymous ? "on" : "off");
    return;
  }
  fprintf(stderr,
          "hcs-hub: DEVELOPMENT MODE: the publicly known key \"%s\" signs\n"
          "         every token and anonymous subscribers are on. Never expose "
          "it.\n"
          "  dashboard  %s/\n"
          "  subscribe  curl -N '%s%s?topic=https://example.com/books/1'\n"
          "  publish    curl -d 'topic=https://example.com/books/1' -d "
          "'data=hello' \\\n"
          "               -H 'Authorization: Bearer %s' \\\n"
          "               %s%s\n"
          "  token      %s\n",
          HUB_DEV_KEY, base, base, HUB_PATH, hub->dev_token, base, HUB_PATH,
          hub->dev_token);
}

int hub_run(hub_t *hub) {
  int err = hcs_server_start(hub->srv);
  if (err < 0)
    return err;
  hub->started_ms = now_ms();
  banner(hub);
  err = hcs_server_run(hub->srv);
  return err;
}

void hub_free(hub_t *hub) {
  if (hub == NULL)
    return;
  if (hub->srv) {
    hcs_server_stop(hub->srv);
    (void)hcs_server_wait(hub->srv);
  }
  hive_bus_free(hub->bus);
  hcs_server_free(hub->srv);
  hub_topics_free(hub->topics);
  hub_subs_free(hub->subs);
  pthread_mutex_destroy(&hub->last_lock);
  hub_jwt_key_free(hub->publisher_key);
  hub_jwt_key_free(hub->subscriber_key);
  free(hub->dev_token);
  free(hub);
}
