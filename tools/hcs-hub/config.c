/* SPDX-License-Identifier: MIT */
/*
 * hcs-hub configuration (config.h): one table of options, read from the
 * environment first and then from the command line, then checked as a whole.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
    "usage: hcs-hub [options]\n"
    "\n"
    "A Mercure hub (https://mercure.rocks/spec) built on hcs.\n"
    "Every option may also be set with an environment variable HCS_HUB_<NAME>\n"
    "(for example HCS_HUB_LISTEN=0.0.0.0:80); the command line wins.\n"
    "\n"
    "  --listen HOST:PORT          address to serve (default 127.0.0.1:8080)\n"
    "  --dev                       development mode: the well-known key\n"
    "                              \"" HUB_DEV_KEY "\"\n"
    "                              (HS256) for publishers and subscribers,\n"
    "                              anonymous subscribers allowed\n"
    "  --jwt-key KEY               key for publishers and subscribers: an\n"
    "                              HS256 secret, or for RS256 a PEM public key;\n"
    "                              @FILE reads it from FILE\n"
    "  --jwt-alg HS256|RS256       its algorithm (default HS256)\n"
    "  --publisher-jwt-key KEY     publishers' key (default: --jwt-key)\n"
    "  --publisher-jwt-alg ALG\n"
    "  --subscriber-jwt-key KEY    subscribers' key (default: --jwt-key)\n"
    "  --subscriber-jwt-alg ALG\n"
    "  --anonymous on|off          allow subscribers without a token\n"
    "                              (default off; on with --dev)\n"
    "  --cookie-name NAME          authorization cookie (default\n"
    "                              mercureAuthorization)\n"
    "  --heartbeat SECONDS         keep-alive comment after this much\n"
    "                              silence; 0 disables (default 15)\n"
    "  --history N                 updates kept for Last-Event-ID (default 1000)\n"
    "  --history-bytes N           and at most this many bytes (default 16777216)\n"
    "  --cors-origins LIST         browser origins allowed cross-origin,\n"
    "                              separated by spaces or commas; * for any\n"
    "                              (then without credentials)\n"
    "  --publish-origins LIST      origins allowed to publish with the cookie\n"
    "  --workers N                 worker threads (default: one per core)\n"
    "  --max-connections N         open connections (default 20000)\n"
    "  --slow-consumer-bytes N     bytes queued per subscriber before the\n"
    "                              policy applies (default 1048576)\n"
    "  --slow-consumer-policy P    close (default) or drop (oldest updates)\n"
    "  --access-log on|off         one line per request on stdout (default on)\n"
    "  --subscriptions on|off      publish subscription events and serve the\n"
    "                              subscriptions API (default off)\n"
    "  --max-body N                largest publish body (default 4194304)\n"
    "  --transport URL             share updates, history and Last-Event-ID\n"
    "                              replay with other hubs through Redis:\n"
    "                              redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]\n"
    "                              [?stream=KEY&maxlen=N] (default: none, this\n"
    "                              process only; rediss:// is not supported:\n"
    "                              see docs/design.md for a TLS tunnel)\n"
    "  --help                      this text\n";

const char *hub_config_usage(void) { return usage; }

typedef enum { OPT_FLAG, OPT_TEXT, OPT_UINT, OPT_SECONDS, OPT_BOOL } opt_kind_t;

typedef struct {
  const char *name; /* without the leading "--" */
  opt_kind_t kind;
} opt_t;

static const opt_t options[] = {
    {"listen", OPT_TEXT},
    {"dev", OPT_FLAG},
    {"jwt-key", OPT_TEXT},
    {"jwt-alg", OPT_TEXT},
    {"publisher-jwt-key", OPT_TEXT},
    {"publisher-jwt-alg", OPT_TEXT},
    {"subscriber-jwt-key", OPT_TEXT},
    {"subscriber-jwt-alg", OPT_TEXT},
    {"anonymous", OPT_BOOL},
    {"cookie-name", OPT_TEXT},
    {"heartbeat", OPT_SECONDS},
    {"history", OPT_UINT},
    {"history-bytes", OPT_UINT},
    {"cors-origins", OPT_TEXT},
    {"publish-origins", OPT_TEXT},
    {"workers", OPT_UINT},
    {"max-connections", OPT_UINT},
    {"slow-consumer-bytes", OPT_UINT},
    {"slow-consumer-policy", OPT_TEXT},
    {"access-log", OPT_BOOL},
    {"subscriptions", OPT_BOOL},
    {"max-body", OPT_UINT},
    {"transport", OPT_TEXT},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* The raw value of every option, from the environment then argv. */
typedef struct {
  const char *value[NOPTIONS];
} raw_t;

static char errbuf[512];

static const char *fail(const char *fmt, const char *a, const char *b) {
  snprintf(errbuf, sizeof errbuf, fmt, a, b);
  return errbuf;
}

static int find_option(const char *name) {
  for (size_t i = 0; i < NOPTIONS; i++)
    if (strcmp(options[i].name, name) == 0)
      return (int)i;
  return -1;
}

/* HCS_HUB_<NAME> for option i. */
static void env_name(size_t i, char *out, size_t cap) {
  int n = snprintf(out, cap, "HCS_HUB_%s", options[i].name);
  for (int k = 8; k < n && (size_t)k < cap; k++)
    out[k] = out[k] == '-' ? '_' : (char)toupper((unsigned char)out[k]);
}

static int read_raw(raw_t *raw, int argc, char **argv, const char **msg) {
  for (size_t i = 0; i < NOPTIONS; i++) {
    char name[64];
    env_name(i, name, sizeof name);
    raw->value[i] = getenv(name);
  }
  for (int a = 1; a < argc; a++) {
    const char *arg = argv[a];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
      return 1;
    if (strncmp(arg, "--", 2) != 0) {
      *msg = fail("unexpected argument '%s'%s (see --help)", arg, "");
      return -1;
    }
    /* --name=value or --name value */
    char name[64];
    const char *eq = strchr(arg + 2, '=');
    size_t nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    if (nlen >= sizeof name) {
      *msg = fail("unknown option '%s'%s (see --help)", arg, "");
      return -1;
    }
    memcpy(name, arg + 2, nlen);
    name[nlen] = '\0';
    int i = find_option(name);
    if (i < 0) {
      *msg = fail("unknown option '%s'%s (see --help)", arg, "");
      return -1;
    }
    if (options[i].kind == OPT_FLAG) {
      if (eq) {
        *msg = fail("option --%s takes no value%s", name, "");
        return -1;
      }
      raw->value[i] = "1";
      continue;
    }
    if (eq) {
      raw->value[i] = eq + 1;
    } else if (a + 1 < argc) {
      raw->value[i] = argv[++a];
    } else {
      *msg = fail("option --%s needs a value%s", name, "");
      return -1;
    }
  }
  return 0;
}

static const char *raw_get(const raw_t *raw, const char *name) {
  return raw->value[find_option(name)];
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out) {
  if (s == NULL || !isdigit((unsigned char)*s))
    return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v > max)
    return false;
  *out = v;
  return true;
}

static bool parse_bool(const char *s, bool *out) {
  if (!strcasecmp(s, "1") || !strcasecmp(s, "on") || !strcasecmp(s, "true") ||
      !strcasecmp(s, "yes")) {
    *out = true;
    return true;
  }
  if (!strcasecmp(s, "0") || !strcasecmp(s, "off") || !strcasecmp(s, "false") ||
      !strcasecmp(s, "no")) {
    *out = false;
    return true;
  }
  return false;
}

static bool parse_alg(const char *s, hub_alg_t *out) {
  if (strcmp(s, "HS256") == 0)
    *out = HUB_ALG_HS256;
  else if (strcmp(s, "RS256") == 0)
    *out = HUB_ALG_RS256;
  else
    return false;
  return true;
}

/* A key value: the text itself, or the contents of FILE for "@FILE". */
static char *load_key(const char *v, const char **msg) {
  if (v[0] != '@')
    return strdup(v);
  FILE *f = fopen(v + 1, "rb");
  if (f == NULL) {
    *msg = fail("cannot read key file '%s': %s", v + 1, strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *nb = cap <= (1u << 20) ? realloc(buf, cap) : NULL;
      if (nb == NULL) {
        *msg = fail("key file '%s' is too large%s", v + 1, "");
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    size_t n = fread(buf + len, 1, 4096, f);
    len += n;
    if (n == 0)
      break;
  }
  fclose(f);
  buf[len] = '\0';
  return buf;
}

/* Split a list on spaces and commas into cfg-owned strings. */
static int split_list(const char *v, char ***out, size_t *n) {
  size_t cap = 0;
  const char *p = v;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *start = p;
    while (*p && *p != ' ' && *p != ',')
      p++;
    if (p == start)
      break;
    if (*n == cap) {
      cap = cap ? cap * 2 : 4;
      char **nl = realloc(*out, cap * sizeof(char *));
      if (nl == NULL)
        return -1;
      *out = nl;
    }
    (*out)[*n] = strndup(start, (size_t)(p - start));
    if ((*out)[*n] == NULL)
      return -1;
    (*n)++;
  }
  return 0;
}

int hub_config_parse(hub_config_t *cfg, int argc, char **argv,
                     const char **msg) {
  memset(cfg, 0, sizeof(*cfg));
  strcpy(cfg->host, "127.0.0.1");
  cfg->port = 8080;
  cfg->heartbeat = 15;
  cfg->history = 1000;
  cfg->history_bytes = 16u << 20;
  cfg->max_connections = 20000;
  cfg->slow_bytes = 1u << 20;
  cfg->access_log = true;
  cfg->max_body = 4u << 20;
  *msg = NULL;

  raw_t raw;
  int rc = read_raw(&raw, argc, argv, msg);
  if (rc == 1) {
    *msg = usage;
    return 1;
  }
  if (rc < 0)
    return -1;

  const char *v;
  if ((v = raw_get(&raw, "listen")) != NULL) {
    const char *colon = strrchr(v, ':');
    uint64_t port;
    size_t hlen = colon ? (size_t)(colon - v) : 0;
    if (colon == NULL || hlen == 0 || hlen >= sizeof cfg->host ||
        !parse_uint(colon + 1, 65535, &port)) {
      *msg = fail("--listen wants HOST:PORT, got '%s'%s", v, "");
      return -1;
    }
    /* [::1]:80 */
    if (v[0] == '[' && hlen >= 2 && v[hlen - 1] == ']')
      memcpy(cfg->host, v + 1, hlen - 2), cfg->host[hlen - 2] = '\0';
    else
      memcpy(cfg->host, v, hlen), cfg->host[hlen] = '\0';
    cfg->port = (int)port;
  }
  if ((v = raw_get(&raw, "dev")) != NULL && !parse_bool(v, &cfg->dev)) {
    *msg = fail("--dev / HCS_HUB_DEV wants on or off, got '%s'%s", v, "");
    return -1;
  }
  cfg->anonymous = cfg->dev;
  if ((v = raw_get(&raw, "anonymous")) != NULL && !parse_bool(v, &cfg->anonymous)) {
    *msg = fail("--anonymous wants on or off, got '%s'%s", v, "");
    return -1;
  }
  if ((v = raw_get(&raw, "access-log")) != NULL && !parse_bool(v, &cfg->access_log)) {
    *msg = fail("--access-log wants on or off, got '%s'%s", v, "");
    return -1;
  }
  if ((v = raw_get(&raw, "subscriptions")) != NULL &&
      !parse_bool(v, &cfg->subscriptions)) {
    *msg = fail("--subscriptions wants on or off, got '%s'%s", v, "");
    return -1;
  }

  /* Keys: --publisher/--subscriber-jwt-key default to --jwt-key, which
   * defaults to the development key in --dev mode only. */
  hub_alg_t alg = HUB_ALG_HS256, palg, salg;
  if ((v = raw_get(&raw, "jwt-alg")) != NULL && !parse_alg(v, &alg)) {
    *msg = fail("--jwt-alg wants HS256 or RS256, got '%s'%s", v, "");
    return -1;
  }
  palg = salg = alg;
  if ((v = raw_get(&raw, "publisher-jwt-alg")) != NULL && !parse_alg(v, &palg)) {
    *msg = fail("--publisher-jwt-alg wants HS256 or RS256, got '%s'%s", v, "");
    return -1;
  }
  if ((v = raw_get(&raw, "subscriber-jwt-alg")) != NULL && !parse_alg(v, &salg)) {
    *msg = fail("--subscriber-jwt-alg wants HS256 or RS256, got '%s'%s", v, "");
    return -1;
  }
  const char *key = raw_get(&raw, "jwt-key");
  const char *pkey = raw_get(&raw, "publisher-jwt-key");
  const char *skey = raw_get(&raw, "subscriber-jwt-key");
  if (pkey == NULL)
    pkey = key;
  if (skey == NULL)
    skey = key;
  if (cfg->dev) {
    if (pkey == NULL)
      pkey = HUB_DEV_KEY, palg = HUB_ALG_HS256;
    if (skey == NULL)
      skey = HUB_DEV_KEY, salg = HUB_ALG_HS256;
  }
  if (pkey == NULL) {
    *msg = "no publisher key: set --jwt-key or --publisher-jwt-key (or "
           "HCS_HUB_JWT_KEY), or run with --dev for the development key";
    return -1;
  }
  if (skey == NULL && !cfg->anonymous) {
    *msg = "no subscriber key and anonymous subscribers are off: set "
           "--jwt-key or --subscriber-jwt-key, or --anonymous on";
    return -1;
  }
  if ((cfg->publisher_key = load_key(pkey, msg)) == NULL)
    return -1;
  if (skey && (cfg->subscriber_key = load_key(skey, msg)) == NULL)
    return -1;
  if (cfg->publisher_key[0] == '\0' ||
      (cfg->subscriber_key && cfg->subscriber_key[0] == '\0')) {
    *msg = "a JWT key is empty";
    return -1;
  }
  cfg->publisher_alg = palg;
  cfg->subscriber_alg = salg;

  cfg->cookie_name = strdup((v = raw_get(&raw, "cookie-name")) ? v : "mercureAuthorization");
  if (cfg->cookie_name == NULL || cfg->cookie_name[0] == '\0') {
    *msg = "--cookie-name is empty";
    return -1;
  }

  struct {
    const char *name;
    uint64_t max;
    void *dst;
    int size; /* sizeof the destination: 4 (unsigned) or 8 (size_t) */
  } nums[] = {
      {"history", 10000000, &cfg->history, sizeof(size_t)},
      {"history-bytes", (uint64_t)1 << 40, &cfg->history_bytes, sizeof(size_t)},
      {"workers", 256, &cfg->workers, sizeof(unsigned)},
      {"max-connections", 10000000, &cfg->max_connections, sizeof(unsigned)},
      {"slow-consumer-bytes", (uint64_t)1 << 40, &cfg->slow_bytes, sizeof(size_t)},
      {"max-body", (uint64_t)1 << 32, &cfg->max_body, sizeof(size_t)},
  };
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    uint64_t n;
    if ((v = raw_get(&raw, nums[i].name)) == NULL)
      continue;
    if (!parse_uint(v, nums[i].max, &n)) {
      *msg = fail("--%s wants a whole number in range, got '%s'", nums[i].name, v);
      return -1;
    }
    if (nums[i].size == sizeof(unsigned))
      *(unsigned *)nums[i].dst = (unsigned)n;
    else
      *(size_t *)nums[i].dst = (size_t)n;
  }
  if (cfg->slow_bytes == 0 || cfg->max_connections == 0 || cfg->max_body == 0) {
    *msg = "--slow-consumer-bytes, --max-connections and --max-body must be "
           "at least 1";
    return -1;
  }
  if ((v = raw_get(&raw, "heartbeat")) != NULL) {
    char *end;
    errno = 0;
    double s = strtod(v, &end);
    if (errno || end == v || *end || !(s >= 0) || s > 86400) {
      *msg = fail("--heartbeat wants seconds (0 to 86400), got '%s'%s", v, "");
      return -1;
    }
    cfg->heartbeat = s;
  }
  if ((v = raw_get(&raw, "slow-consumer-policy")) != NULL) {
    if (strcmp(v, "close") == 0)
      cfg->slow_policy = HUB_SLOW_CLOSE;
    else if (strcmp(v, "drop") == 0)
      cfg->slow_policy = HUB_SLOW_DROP;
    else {
      *msg = fail("--slow-consumer-policy wants close or drop, got '%s'%s", v, "");
      return -1;
    }
  }
  /* The URL itself is checked by the backend (hive/redis.h) when the hub
   * starts; "local" (or empty) names the default, in-process. */
  if ((v = raw_get(&raw, "transport")) != NULL && v[0] != '\0' &&
      strcmp(v, "local") != 0 && strcmp(v, "local://") != 0) {
    if (strncmp(v, "redis://", 8) != 0 && strncmp(v, "rediss://", 9) != 0) {
      *msg = fail("--transport wants redis://HOST:PORT[/DB] (or local), got "
                  "'%s'%s", v, "");
      return -1;
    }
    if ((cfg->transport = strdup(v)) == NULL) {
      *msg = "out of memory";
      return -1;
    }
  }
  if (((v = raw_get(&raw, "cors-origins")) != NULL &&
       split_list(v, &cfg->cors_origins, &cfg->ncors) < 0) ||
      ((v = raw_get(&raw, "publish-origins")) != NULL &&
       split_list(v, &cfg->publish_origins, &cfg->npublish_origins) < 0)) {
    *msg = "out of memory";
    return -1;
  }
  return 0;
}

static void free_list(char **l, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(l[i]);
  free(l);
}

void hub_config_cleanup(hub_config_t *cfg) {
  free(cfg->publisher_key);
  free(cfg->subscriber_key);
  free(cfg->cookie_name);
  free(cfg->transport);
  free_list(cfg->cors_origins, cfg->ncors);
  free_list(cfg->publish_origins, cfg->npublish_origins);
  memset(cfg, 0, sizeof(*cfg));
}
