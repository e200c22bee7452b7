/* SPDX-License-Identifier: MIT */
/*
 * bench/sse_stream_server.c: the server side of bench/sse_stream.sh, a
 * benchmark, not an example to copy. It streams a fixed number of SSE events
 * as fast as one connection takes them, then ends the response:
 *
 *   GET /events?n=N&size=S  hcs_sse_respond with an event generator: each
 *                           pull returns a data-only event of S bytes ('x',
 *                           one line), formatted by the library; after N
 *                           events the generator returns HCS_SSE_END.
 *   GET /raw?n=N&size=S     hcs_sse_respond_raw: the same wire bytes,
 *                           formatted once per response into one buffer whose
 *                           reference each pull hands out (no formatting, no
 *                           copy: the by-reference path fan-out uses).
 *
 * N is 1..100,000,000 and S is 0..65536. Each response owns a small state
 * struct, freed in on_close (or by the handler when hcs_sse_respond fails,
 * since on_close never runs then). Everything runs on the worker loops.
 *
 *   sse_stream_server [--host 127.0.0.1] [--port P] [--workers N]
 * Stops on SIGINT or SIGTERM.
 */
#include <hcs/hcs.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 100000000L
#define MAX_SIZE 65536L

/* The payload every event carries (a prefix of it): no line breaks. */
static char payload[MAX_SIZE];

/* One response's progress; owned by the response, freed in on_close. */
typedef struct {
  long left;       /* events still to send */
  size_t size;     /* data bytes per event */
  hcs_buf_t *wire; /* /raw: the preformatted event; NULL for /events */
} stream_state_t;

static int gen_event(hcs_response_t *res, hcs_sse_event_t *out, void *ud) {
  (void)res;
  stream_state_t *st = ud;
  if (st->left == 0)
    return HCS_SSE_END;
  st->left--;
  out->data.base = payload;
  out->data.len = st->size;
  return HCS_SSE_NEXT;
}

static int gen_raw(hcs_response_t *res, hcs_buf_t **out, void *ud) {
  (void)res;
  stream_state_t *st = ud;
  if (st->left == 0)
    return HCS_SSE_END;
  st->left--;
  *out = hcs_buf_ref(st->wire); /* the library takes this reference */
  return HCS_SSE_NEXT;
}

static void on_close(hcs_response_t *res, hcs_close_reason_t why, void *ud) {
  (void)res;
  stream_state_t *st = ud;
  if (why != HCS_CLOSE_FINISHED)
    fprintf(stderr,
            "sse_stream_server: stream ended early (reason %d) with "
            "%ld events unsent\n",
            (int)why, st->left);
  hcs_buf_unref(st->wire);
  free(st);
}

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

/* Query parameter `name` as a long in [lo, hi]; false if absent or bad. */
static bool param(hcs_request_t *req, const char *name, long lo, long hi,
                  long *out) {
  hcs_str_t v;
  char tmp[24];
  if (hcs_request_query_param(req, name, &v) != 0 || v.len == 0 ||
      v.len >= sizeof tmp)
    return false;
  memcpy(tmp, v.base, v.len);
  tmp[v.len] = '\0';
  char *end;
  long n = strtol(tmp, &end, 10);
  if (*end != '\0' || n < lo || n > hi)
    return false;
  *out = n;
  return true;
}

static hcs_response_t *events(hcs_request_t *req, void *ud) {
  bool raw = ud != NULL;
  long n, size;
  if (!param(req, "n", 1, MAX_EVENTS, &n) ||
      !param(req, "size", 0, MAX_SIZE, &size))
    return text(400, "need n=1..100000000 and size=0..65536\n");
  stream_state_t *st = calloc(1, sizeof *st);
  if (st == NULL)
    return NULL;
  st->left = n;
  st->size = (size_t)size;
  if (raw) {
    hcs_sse_event_t ev = {
        {NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY, {payload, st->size}};
    if (hcs_sse_format(&ev, &st->wire) < 0) {
      free(st);
      return NULL;
    }
  }
  hcs_sse_options_t opts = {.on_close = on_close, .ud = st};
  hcs_response_t *res;
  int err = raw ? hcs_sse_respond_raw(&res, &opts, gen_raw)
                : hcs_sse_respond(&res, &opts, gen_event);
  if (err < 0) {
    /* on_close never runs for a failed respond: free the state here. */
    hcs_buf_unref(st->wire);
    free(st);
    return NULL;
  }
  return res;
}

int main(int argc, char **argv) {
  hcs_server_config_t cfg;
  hcs_server_config_init(&cfg);
  cfg.workers = 1;
  bool bad = argc % 2 == 0; /* options come in pairs */
  for (int i = 1; i + 1 < argc && !bad; i += 2) {
    if (strcmp(argv[i], "--host") == 0)
      cfg.host = argv[i + 1];
    else if (strcmp(argv[i], "--port") == 0)
      cfg.port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--workers") == 0)
      cfg.workers = (unsigned)atoi(argv[i + 1]);
    else
      bad = true;
  }
  if (bad) {
    fprintf(stderr, "usage: %s [--host H] [--port P] [--workers N]\n", argv[0]);
    return 2;
  }
  memset(payload, 'x', sizeof payload);

  hcs_server_t *srv;
  int err = hcs_server_new(&srv, &cfg);
  if (err < 0) {
    fprintf(stderr, "sse_stream_server: %s\n", hcs_strerror(err));
    return 2;
  }
  static int raw_tag;
  if (hcs_server_route(srv, "GET", "/events", 0, events, NULL) < 0 ||
      hcs_server_route(srv, "GET", "/raw", 0, events, &raw_tag) < 0) {
    fprintf(stderr, "sse_stream_server: cannot add routes\n");
    hcs_server_free(srv);
    return 1;
  }
  err = hcs_server_run(srv);
  if (err < 0)
    fprintf(stderr, "sse_stream_server: %s\n", hcs_strerror(err));
  hcs_server_free(srv);
  return err < 0 ? 1 : 0;
}
