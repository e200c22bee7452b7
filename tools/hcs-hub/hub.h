/* SPDX-License-Identifier: MIT */
/*
 * hcs-hub: the Mercure hub on hcs and hive.
 *
 * Every update is published once to one hive topic; each subscriber
 * connection holds one hive subscription whose filter applies the
 * connection's topic selectors and, for private updates, its token's
 * mercure.subscribe claim. So one update reaches a connection at most once
 * however many of its selectors match, and Last-Event-ID replay is hive's
 * history of that topic, joined to live delivery without gap or duplicate.
 */
#ifndef HUB_HUB_H
#define HUB_HUB_H

#include "config.h"

typedef struct hub_s hub_t;

/*
 * Build a hub from cfg (borrowed for the hub's life): keys, server, routes,
 * bus. Returns 0, or a negative code with *msg saying why (bad key, ...).
 */
int hub_new(hub_t **out, const hub_config_t *cfg, const char **msg);

/*
 * Serve until SIGINT or SIGTERM, then stop gracefully. Prints where it
 * listens (and, in development mode, how to subscribe and publish) on
 * stderr once ready. Returns 0, or a negative hcs error (e.g. the address
 * is in use).
 */
int hub_run(hub_t *hub);

/* Free a hub that is not running. NULL is a no-op. */
void hub_free(hub_t *hub);

#endif
