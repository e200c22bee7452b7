/* SPDX-License-Identifier: MIT */
/*
 * server/server.h: the server object's private side, read by workers and
 * connections. Everything but `conns` and the stop machinery is immutable
 * once the server has started.
 */
#ifndef HCS_SERVER_SERVER_H
#define HCS_SERVER_SERVER_H

#include <stdatomic.h>
#include <uv.h>

#include "hcs/server.h"
#include "server/router.h"
#include "server/worker.h"

struct hcs_server_s {
  hcs_server_config_t cfg; /* defaults filled in; cfg.host points at host */
  char *host;
  hcs_router_t router;
  hcs_worker_t *workers;
  unsigned nworkers;
  int port;
  bool started, waited;
  atomic_uint conns;       /* open connections, all workers */
  atomic_uint running;     /* workers whose loop still runs */
  uv_async_t *on_done;     /* hcs_server_run's loop, told when all stopped */
  uv_mutex_t done_lock;    /* guards on_done against the last worker */
};

/* Called by each worker as its loop ends. */
void hcs__server_worker_done(hcs_server_t *srv);

#endif
