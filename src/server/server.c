/* SPDX-License-Identifier: MIT */
/*
 * server/server.c: server lifecycle: configuration, binding one
 * SO_REUSEPORT socket per worker, starting and joining the workers, and the
 * signal-driven hcs_server_run.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "response/response.h"

void hcs_server_config_init(hcs_server_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->host = "127.0.0.1";
  cfg->max_connections = 10000;
  cfg->max_header_bytes = 16384;
  cfg->max_body_bytes = 1 << 20;
  cfg->header_timeout_ms = 10000;
  cfg->keepalive_timeout_ms = 60000;
  cfg->shutdown_timeout_ms = 10000;
  cfg->max_unsent_bytes = 1 << 20;
}

static int parse_host(const char *host, int port,
                      struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return 0;
  }
  return HCS_EINVAL;
}

int hcs_server_new(hcs_server_t **out, const hcs_server_config_t *cfg) {
  hcs_server_config_t c;
  hcs_server_config_init(&c);
  if (cfg) {
    /* Zero fields mean "default"; take the rest as given. */
    if (cfg->host) c.host = cfg->host;
    c.port = cfg->port;
    if (cfg->workers) c.workers = cfg->workers;
    if (cfg->max_connections) c.max_connections = cfg->max_connections;
    if (cfg->max_header_bytes) c.max_header_bytes = cfg->max_header_bytes;
    if (cfg->max_body_bytes) c.max_body_bytes = cfg->max_body_bytes;
    if (cfg->header_timeout_ms) c.header_timeout_ms = cfg->header_timeout_ms;
    if (cfg->keepalive_timeout_ms)
      c.keepalive_timeout_ms = cfg->keepalive_timeout_ms;
    if (cfg->shutdown_timeout_ms)
      c.shutdown_timeout_ms = cfg->shutdown_timeout_ms;
    if (cfg->max_unsent_bytes) c.max_unsent_bytes = cfg->max_unsent_bytes;
  }
  struct sockaddr_storage ss;
  if (c.port < 0 || c.port > 65535 || parse_host(c.host, c.port, &ss) < 0 ||
      c.max_header_bytes < 64 || c.workers > 1024)
    return HCS_EINVAL;
  if (c.workers == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c.workers = n > 0 ? (unsigned)n : 1;
  }

  hcs_server_t *srv = hcs__calloc(1, sizeof(*srv));
  if (srv == NULL)
    return HCS_ENOMEM;
  srv->host = hcs__strdup(c.host);
  if (srv->host == NULL || uv_mutex_init(&srv->done_lock) != 0) {
    hcs__free(srv->host);
    hcs__free(srv);
    return HCS_ENOMEM;
  }
  c.host = srv->host;
  srv->cfg = c;
  hcs__router_init(&srv->router);
  *out = srv;
  return 0;
}

int hcs_server_route(hcs_server_t *srv, const char *method, const char *path,
                     unsigned flags, hcs_handler_cb handler, void *ud) {
  if (srv->started)
    return HCS_ESTATE;
  return hcs__router_add(&srv->router, method, path, flags, handler, ud);
}

/* A listening socket for one worker. All workers share the address through
 * SO_REUSEPORT; the first one picks the port when the config says 0. */
static int open_listener(hcs_server_t *srv, int port, int *fd_out) {
  struct sockaddr_storage ss;
  if (parse_host(srv->cfg.host, port, &ss) < 0)
    return HCS_EINVAL;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  socklen_t len = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                          : sizeof(struct sockaddr_in6);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
      bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  *fd_out = fd;
  return 0;
}

static int bound_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
    return -1;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int hcs_server_start(hcs_server_t *srv) {
  if (srv->started)
    return HCS_ESTATE;
  /* A peer that vanishes must cost a write error, not the process. */
  signal(SIGPIPE, SIG_IGN);

  unsigned n = srv->cfg.workers;
  srv->workers = hcs__calloc(n, sizeof(*srv->workers));
  if (srv->workers == NULL)
    return HCS_ENOMEM;
  int *fds = hcs__calloc(n, sizeof(int));
  if (fds == NULL) {
    hcs__free(srv->workers);
    srv->workers = NULL;
    return HCS_ENOMEM;
  }
  int err = 0, port = srv->cfg.port;
  unsigned opened = 0, inited = 0;
  for (; opened < n; opened++) {
    if ((err = open_listener(srv, port, &fds[opened])) < 0)
      break;
    if (opened == 0)
      port = bound_port(fds[0]);
  }
  for (; err == 0 && inited < n; inited++)
    err = hcs__worker_init(&srv->workers[inited], srv, inited, fds[inited]);
  if (err < 0) {
    for (unsigned i = 0; i < inited; i++) {
      hcs__worker_join(&srv->workers[i]); /* never started: just frees */
      hcs__worker_destroy(&srv->workers[i]);
    }
    for (unsigned i = inited; i < opened; i++)
      close(fds[i]);
    hcs__free(fds);
    hcs__free(srv->workers);
    srv->workers = NULL;
    return err;
  }
  hcs__free(fds);
  srv->port = port;
  srv->nworkers = n;
  srv->started = true;
  atomic_store(&srv->running, n);
  for (unsigned i = 0; i < n; i++) {
    if ((err = hcs__worker_start(&srv->workers[i])) < 0) {
      /* Stop those already running; the rest never ran. */
      atomic_fetch_sub(&srv->running, n - i);
      srv->nworkers = i;
      hcs_server_stop(srv);
      hcs_server_wait(srv);
      for (unsigned j = i; j < n; j++)
        hcs__worker_join(&srv->workers[j]);
      srv->nworkers = n;
      srv->waited = true;
      return err;
    }
  }
  return 0;
}

int hcs_server_port(const hcs_server_t *srv) {
  return srv->started ? srv->port : 0;
}

void hcs_server_stop(hcs_server_t *srv) {
  if (!srv->started)
    return;
  for (unsigned i = 0; i < srv->nworkers; i++)
    hcs__worker_request_stop(&srv->workers[i]);
}

int hcs_server_wait(hcs_server_t *srv) {
  if (!srv->started)
    return HCS_ESTATE;
  if (!srv->waited) {
    for (unsigned i = 0; i < srv->nworkers; i++)
      hcs__worker_join(&srv->workers[i]);
    srv->waited = true;
  }
  return 0;
}

void hcs__server_worker_done(hcs_server_t *srv) {
  uv_mutex_lock(&srv->done_lock);
  if (atomic_fetch_sub(&srv->running, 1) == 1 && srv->on_done)
    uv_async_send(srv->on_done);
  uv_mutex_unlock(&srv->done_lock);
}

static void on_signal(uv_signal_t *sig, int signum) {
  (void)signum;
  hcs_server_stop(sig->data);
}

static void close_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void on_all_done_cb(uv_async_t *async) {
  uv_walk(async->loop, close_handle, NULL);
}

int hcs_server_run(hcs_server_t *srv) {
  int err = srv->started ? 0 : hcs_server_start(srv);
  if (err < 0)
    return err;
  /* The calling thread waits on its own loop for SIGINT/SIGTERM and for the
   * last worker to finish. */
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  uv_async_t done;
  if ((err = uv_loop_init(&loop)) < 0) {
    hcs_server_stop(srv);
    hcs_server_wait(srv);
    return err;
  }
  uv_signal_init(&loop, &sigint);
  uv_signal_init(&loop, &sigterm);
  sigint.data = sigterm.data = srv;
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_async_init(&loop, &done, on_all_done_cb);
  uv_mutex_lock(&srv->done_lock);
  srv->on_done = &done;
  bool finished = atomic_load(&srv->running) == 0;
  uv_mutex_unlock(&srv->done_lock);
  if (finished)
    uv_async_send(&done);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_mutex_lock(&srv->done_lock);
  srv->on_done = NULL;
  uv_mutex_unlock(&srv->done_lock);
  uv_loop_close(&loop);
  return hcs_server_wait(srv);
}

void hcs_server_free(hcs_server_t *srv) {
  if (srv == NULL)
    return;
  if (srv->started && !srv->waited) {
    hcs_server_stop(srv);
    hcs_server_wait(srv);
  }
  if (srv->workers)
    for (unsigned i = 0; i < srv->nworkers; i++)
      hcs__worker_destroy(&srv->workers[i]);
  hcs__free(srv->workers);
  hcs__router_cleanup(&srv->router);
  uv_mutex_destroy(&srv->done_lock);
  hcs__free(srv->host);
  hcs__free(srv);
}

void hcs_server_stats(const hcs_server_t *srv, hcs_server_stats_t *out) {
  memset(out, 0, sizeof(*out));
  if (!srv->started)
    return;
  for (unsigned i = 0; i < srv->nworkers; i++) {
    const hcs_worker_stats_t *s = &srv->workers[i].stats;
    out->connections_open += atomic_load_explicit(&s->open, memory_order_relaxed);
    out->connections_accepted += atomic_load_explicit(&s->accepted, memory_order_relaxed);
    out->connections_refused += atomic_load_explicit(&s->refused, memory_order_relaxed);
    out->requests += atomic_load_explicit(&s->requests, memory_order_relaxed);
    out->bad_requests += atomic_load_explicit(&s->bad_requests, memory_order_relaxed);
    out->timeouts += atomic_load_explicit(&s->timeouts, memory_order_relaxed);
    out->streams_open += atomic_load_explicit(&s->streams_open, memory_order_relaxed);
    out->bytes_out += atomic_load_explicit(&s->bytes_out, memory_order_relaxed);
    out->writes += atomic_load_explicit(&s->writes, memory_order_relaxed);
  }
}

unsigned hcs_server_worker_count(const hcs_server_t *srv) {
  return srv->cfg.workers;
}

int hcs_worker_index(void) {
  hcs_worker_t *w = hcs__current_worker();
  return w ? (int)w->index : -1;
}

/* A task posted through the public API: the user's callback and argument. */
typedef struct {
  hcs__task_t task;
  hcs_task_cb fn;
  void *arg;
} user_task_t;

static void run_user_task(hcs__task_t *t, int status) {
  user_task_t *u = (user_task_t *)t;
  u->fn(u->arg, status);
  hcs__free(u);
}

int hcs_server_post(hcs_server_t *srv, unsigned worker, hcs_task_cb fn,
                    void *arg) {
  if (fn == NULL || worker >= srv->cfg.workers)
    return HCS_EINVAL;
  if (!srv->started)
    return HCS_ESTATE;
  user_task_t *u = hcs__malloc(sizeof(*u));
  if (u == NULL)
    return HCS_ENOMEM;
  u->task.fn = run_user_task;
  u->fn = fn;
  u->arg = arg;
  int err = hcs__worker_post_task(&srv->workers[worker], &u->task);
  if (err < 0)
    hcs__free(u);
  return err;
}
