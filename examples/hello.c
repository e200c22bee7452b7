/* SPDX-License-Identifier: MIT */
/*
 * examples/hello.c: the smallest useful hcs server.
 *
 *   GET  /        "Hello, world!"
 *   POST /echo    the request body, back
 *   GET  /count   a streamed body: the numbers 1..N (?n=N, default 10), one
 *                 chunk each, produced on demand
 *
 * Builds in-tree, or against an installed hcs:
 *   cc hello.c $(pkg-config --cflags --libs hcs) -o hello
 * Run:  ./hello [--host 127.0.0.1] [--port 8080] [--workers N]
 */
#include <hcs/hcs.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hcs_response_t *text(int status, const char *body) {
  hcs_response_t *res;
  if (hcs_response_new(&res, status) < 0)
    return NULL;
  if (hcs_response_add_header(res, "Content-Type", "text/plain") < 0 ||
      hcs_response_set_body(res, body, strlen(body)) < 0) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

static hcs_response_t *hello(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  return text(200, "Hello, world!\n");
}

static hcs_response_t *echo(hcs_request_t *req, void *ud) {
  (void)ud;
  hcs_str_t body = hcs_request_body(req);
  hcs_response_t *res;
  if (hcs_response_new(&res, 200) < 0)
    return NULL;
  if (hcs_response_set_body(res, body.base, body.len) < 0) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

/* State of one /count stream: owned by the response, freed on close. */
typedef struct {
  long next, last;
} counter_t;

static int count_produce(hcs_response_t *res, void *ud) {
  counter_t *c = ud;
  if (c->next > c->last)
    return HCS_PRODUCE_END;
  char line[32];
  int n = snprintf(line, sizeof line, "%ld\n", c->next++);
  int err = hcs_response_write(res, line, (size_t)n);
  return err < 0 ? err : HCS_PRODUCE_MORE;
}

static void count_close(hcs_response_t *res, hcs_close_reason_t why, void *ud) {
  (void)res;
  (void)why;
  free(ud);
}

static hcs_response_t *count(hcs_request_t *req, void *ud) {
  (void)ud;
  long n = 10;
  hcs_str_t v;
  if (hcs_request_query_param(req, "n", &v) == 0 && v.len > 0 && v.len < 12) {
    char tmp[16];
    memcpy(tmp, v.base, v.len);
    tmp[v.len] = '\0';
    n = strtol(tmp, NULL, 10);
  }
  if (n < 0 || n > 1000000)
    return text(400, "n must be between 0 and 1000000\n");
  counter_t *c = malloc(sizeof *c);
  hcs_response_t *res;
  if (c == NULL || hcs_response_new(&res, 200) < 0) {
    free(c);
    return NULL;
  }
  c->next = 1;
  c->last = n;
  if (hcs_response_add_header(res, "Content-Type", "text/plain") < 0 ||
      hcs_response_set_producer(res, count_produce, count_close, c) < 0) {
    free(c); /* the producer was not set, so its close callback won't run */
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

int main(int argc, char **argv) {
  hcs_server_config_t cfg;
  hcs_server_config_init(&cfg);
  cfg.port = 8080;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--host") == 0)
      cfg.host = argv[i + 1];
    else if (strcmp(argv[i], "--port") == 0)
      cfg.port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--workers") == 0)
      cfg.workers = (unsigned)atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: %s [--host H] [--port P] [--workers N]\n", argv[0]);
      return 2;
    }
  }

  hcs_server_t *srv;
  int err = hcs_server_new(&srv, &cfg);
  if (err < 0) {
    fprintf(stderr, "hello: %s\n", hcs_strerror(err));
    return 2;
  }
  if (hcs_server_route(srv, "GET", "/", 0, hello, NULL) < 0 ||
      hcs_server_route(srv, "POST", "/echo", 0, echo, NULL) < 0 ||
      hcs_server_route(srv, "GET", "/count", 0, count, NULL) < 0) {
    fprintf(stderr, "hello: cannot add routes\n");
    hcs_server_free(srv);
    return 1;
  }
  /* Start first, so that the line names the port bound (useful with 0). */
  err = hcs_server_start(srv);
  if (err == 0) {
    fprintf(stderr, "hello: listening on http://%s:%d/\n", cfg.host,
            hcs_server_port(srv));
    err = hcs_server_run(srv);
  }
  if (err < 0)
    fprintf(stderr, "hello: %s\n", hcs_strerror(err));
  hcs_server_free(srv);
  return err < 0 ? 1 : 0;
}
