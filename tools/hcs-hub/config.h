/* SPDX-License-Identifier: MIT */
/*
 * hcs-hub configuration: command-line flags, each with an environment
 * variable (HCS_HUB_<FLAG>, upper case, '-' as '_'); a flag wins over its
 * variable. Parsing never exits: it returns an error message for main to
 * print (exit code 2).
 */
#ifndef HUB_CONFIG_H
#define HUB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* The well-known development key of Mercure tutorials (HS256). */
#define HUB_DEV_KEY "!ChangeThisMercureHubJWTSecretKey!"

typedef enum { HUB_ALG_HS256, HUB_ALG_RS256 } hub_alg_t;

typedef enum { HUB_SLOW_CLOSE, HUB_SLOW_DROP } hub_slow_t;

typedef struct hub_config_s {
  char host[256];
  int port;
  bool dev;               /* development mode: dev key, anonymous */
  bool anonymous;         /* subscribers without a token */
  char *publisher_key;    /* HS256 secret, or RS256 PEM text */
  hub_alg_t publisher_alg;
  char *subscriber_key;
  hub_alg_t subscriber_alg;
  char *cookie_name;      /* default mercureAuthorization */
  double heartbeat;       /* seconds; 0 = off */
  size_t history;         /* updates kept for Last-Event-ID */
  size_t history_bytes;
  char **cors_origins;    /* allowed browser origins ("*": any, no creds) */
  size_t ncors;
  char **publish_origins; /* origins allowed to publish with the cookie */
  size_t npublish_origins;
  unsigned workers;       /* 0: one per core */
  unsigned max_connections;
  size_t slow_bytes;      /* per subscriber queue bound */
  hub_slow_t slow_policy;
  bool access_log;
  bool subscriptions;     /* active subscription events and API */
  size_t max_body;        /* publish body bound */
  char *transport;        /* redis://... to share updates between hubs;
                             NULL: in-process */
} hub_config_t;

/*
 * Fill cfg from argv and the environment. Returns 0; 1 when --help was
 * asked (the usage is in *msg); -1 on an invalid configuration (*msg says
 * why). *msg is static or owned by cfg; free cfg with hub_config_cleanup.
 */
int hub_config_parse(hub_config_t *cfg, int argc, char **argv,
                     const char **msg);

void hub_config_cleanup(hub_config_t *cfg);

/* The usage text. */
const char *hub_config_usage(void);

#endif
