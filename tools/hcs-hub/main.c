/* SPDX-License-Identifier: MIT */
/*
 * hcs-hub: a Mercure hub. Reads its configuration (flags and HCS_HUB_*
 * variables, see --help), serves until SIGINT or SIGTERM, and exits 0 after
 * a graceful stop; 2 for an invalid configuration, 1 when it cannot serve.
 */
#include <stdio.h>

#include <hcs/error.h>

#include "config.h"
#include "hub.h"

int main(int argc, char **argv) {
  hub_config_t cfg;
  const char *msg = NULL;
  int rc = hub_config_parse(&cfg, argc, argv, &msg);
  if (rc == 1) {
    fputs(msg, stdout);
    hub_config_cleanup(&cfg);
    return 0;
  }
  if (rc < 0) {
    fprintf(stderr, "hcs-hub: %s\n", msg);
    hub_config_cleanup(&cfg);
    return 2;
  }
  hub_t *hub;
  if (hub_new(&hub, &cfg, &msg) < 0) {
    fprintf(stderr, "hcs-hub: %s\n", msg);
    hub_config_cleanup(&cfg);
    return 2;
  }
  int err = hub_run(hub);
  if (err < 0)
    fprintf(stderr, "hcs-hub: cannot serve on %s:%d: %s\n", cfg.host, cfg.port,
            hcs_strerror(err));
  hub_free(hub);
  hub_config_cleanup(&cfg);
  return err < 0 ? 1 : 0;
}
