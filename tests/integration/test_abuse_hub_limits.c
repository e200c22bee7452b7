/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_abuse_hub_limits.c: the hcs-hub binary against
 * requests and loads past its limits. Each case starts its own hub
 * (tests/support/testhub.h: --dev, 2 workers, port 0, access log off) and
 * ends by checking that it is still healthy and exits 0 on SIGTERM (so,
 * in the ASan build, without a sanitizer or leak report).
 *
 *  - oversized_requests: request line (414), header count and size (431),
 *    a huge Authorization header / cookie (431) or query token (414), a
 *    large garbage token (401 invalid_token), a large valid token (accepted)
 *    and one with too many selectors (401), a token whose header or signed
 *    payload nests JSON 4000 deep (401), bodies over --max-body with
 *    Content-Length and chunked (413; exactly the limit passes), topics per
 *    subscription and per update (1000 accepted, 1001 refused 400), an id
 *    and a Last-Event-ID over 1023 bytes (400), many form fields; /healthz
 *    answers after every one.
 *  - form_fields_memory: one publish body of --max-body bytes made of tiny
 *    form fields (more than the 10000 the library decodes: 413) must not
 *    cost the hub more than 4 x --max-body of memory
 *    (peak RSS, VmHWM), the bound docs/security.md states; skipped under
 *    sanitizers, whose allocators inflate RSS.
 *  - connection_limit: with --max-connections 64, 64 open streams, then
 *    64 more connections are refused (503 or a close, never served); the
 *    held streams keep streaming; the hub serves again once load drops,
 *    64 new streams included.
 *  - fd_exhaustion: the hub (2 workers) under RLIMIT_NOFILE 256, three
 *    waves of 600 connections: accept failures do not spin (the hub's CPU
 *    time over a 1 s window stays under 0.25 s; an idle hub uses ~0.01 s,
 *    a busy loop a core or what it gets of one), existing keep-alive
 *    connections are still served, and after each wave the hub serves
 *    again (connections left waiting in the backlog are reported).
 *
 * Run one case: ./test_abuse_hub_limits <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testhub.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define DEV_KEY "!ChangeThisMercureHubJWTSecretKey!"
#define HUB "/.well-known/mercure"
#define STOP_MS 20000 /* the hub's shutdown deadline (10 s) + a margin */

static th_hub_t hub;
static char token[1024]; /* the development token: publish/subscribe "*" */

static int teardown(void **state) {
  (void)state;
  tn_cleanup();
  th_hub_cleanup(&hub);
  return 0;
}

static void start_hub(long nofile, const char *const *args) {
  int rc = th_hub_startv(&hub, nofile, args);
  assert_int_equal(rc, 0);
  assert_int_equal(th_dev_token(hub.port, token, sizeof token), 0);
}

static void assert_healthy(void) {
  int st = th_get_status(hub.port, "/healthz", NULL);
  if (st != 200) {
    print_message("/healthz answered %d\n", st);
    th_hub_print_log(&hub, 30);
  }
  assert_int_equal(st, 200);
}

/* SIGTERM: exit 0 within the deadline, no sanitizer report. */
static void assert_clean_exit(void) {
  int rc = th_hub_stop(&hub, STOP_MS);
  if (rc != 0 || th_hub_log_has(&hub, "Sanitizer")) {
    print_message("hub exit: %d\n", rc);
    th_hub_print_log(&hub, 60);
  }
  assert_int_equal(rc, 0);
  assert_false(th_hub_log_has(&hub, "Sanitizer"));
}

/* One request on a fresh connection: the status of its response head (a
 * subscription's stream does not end), and whether the connection closed
 * after it (within a short wait). */
static int request_status(const char *req, size_t len, bool *closed) {
  tn_conn_t *c = tn_connect(hub.port);
  if (c == NULL)
    return -errno;
  (void)tn_send(c, req, len); /* the hub may answer and close before */
  th_sse_t s;
  th_sse_init(&s, c);
  int rc = th_sse_wait_head(&s, TN_WAIT_MS);
  int st = rc == 0 ? s.status : rc;
  th_sse_free(&s);
  if (closed)
    *closed = tn_read_eof(c, 300) == 0;
  tn_close(c);
  return st;
}

/* A growable request text. */
typedef struct {
  char *p;
  size_t len, cap;
} text_t;

static void text_add(text_t *t, const char *s, size_t n) {
  if (t->len + n + 1 > t->cap) {
    t->cap = (t->len + n + 1) * 2;
    t->p = realloc(t->p, t->cap);
    assert_non_null(t->p);
  }
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

#define TEXT_ADDS(t, lit) text_add(t, lit, sizeof(lit) - 1)

static void text_addf(text_t *t, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof buf);
  text_add(t, buf, (size_t)n);
}

static void text_fill(text_t *t, char ch, size_t n) {
  char buf[4096];
  memset(buf, ch, sizeof buf);
  while (n > 0) {
    size_t k = n < sizeof buf ? n : sizeof buf;
    text_add(t, buf, k);
    n -= k;
  }
}

#define CHECK(label, t, want, must_close)                                      \
  do {                                                                         \
    bool closed_ = false;                                                      \
    int st_ = request_status((t)->p, (t)->len, &closed_);                      \
    print_message("%-48s %d%s\n", label, st_, closed_ ? " (closed)" : "");     \
    assert_int_equal(st_, want);                                               \
    /* Framing errors close; the hub's own refusals keep the connection. */    \
    assert_int_equal(closed_, must_close);                                     \
    assert_healthy();                                                          \
    (t)->len = 0;                                                              \
  } while (0)

/* ---- tokens -------------------------------------------------------------- */

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

/* An HS256 token (development key) whose mercure.subscribe claim lists
 * n selectors "https://example.com/sel/<i>" (with "*" first). malloc'd. */
static char *big_token(size_t n) {
  text_t payload = {0};
  TEXT_ADDS(&payload, "{\"mercure\":{\"subscribe\":[\"*\"");
  for (size_t i = 1; i < n; i++)
    text_addf(&payload, ",\"https://example.com/sel/%zu\"", i);
  TEXT_ADDS(&payload, "]}}");
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  char *tok = malloc(payload.len * 2 + 256);
  assert_non_null(tok);
  size_t len = b64url((const unsigned char *)header, sizeof header - 1, tok);
  tok[len++] = '.';
  len += b64url((const unsigned char *)payload.p, payload.len, tok + len);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned mac_len = 0;
  assert_non_null(HMAC(EVP_sha256(), DEV_KEY, (int)strlen(DEV_KEY),
                       (const unsigned char *)tok, len, mac, &mac_len));
  tok[len++] = '.';
  b64url(mac, mac_len, tok + len);
  free(payload.p);
  return tok;
}

/* ---- oversized requests -------------------------------------------------- */

#define MAX_BODY 65536

static void oversized_requests(void **state) {
  (void)state;
  char max_body[32];
  snprintf(max_body, sizeof max_body, "%d", MAX_BODY);
  const char *args[] = {"--dev", "--workers",  "2",      "--heartbeat",
                        "0",     "--max-body", max_body, NULL};
  start_hub(0, args);
  text_t t = {0};

  /* Request line: a target past the 16 KiB head limit. */
  TEXT_ADDS(&t, "GET /");
  text_fill(&t, 'a', 20000);
  TEXT_ADDS(&t, " HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK("request line 20 KB", &t, 414, true);
  TEXT_ADDS(&t, "GET " HUB "?topic=");
  text_fill(&t, 't', 20000);
  TEXT_ADDS(&t, " HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK("subscribe with a 20 KB topic", &t, 414, true);

  /* Header count: 100 fields pass, 101 do not. */
  TEXT_ADDS(&t, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
  for (int i = 0; i < 99; i++)
    text_addf(&t, "X-%d: v\r\n", i);
  TEXT_ADDS(&t, "\r\n");
  CHECK("100 header fields", &t, 200, false);
  TEXT_ADDS(&t, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
  for (int i = 0; i < 100; i++)
    text_addf(&t, "X-%d: v\r\n", i);
  TEXT_ADDS(&t, "\r\n");
  CHECK("101 header fields", &t, 431, true);

  /* Header size. */
  TEXT_ADDS(&t, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
  text_fill(&t, 'b', 17000);
  TEXT_ADDS(&t, "\r\n\r\n");
  CHECK("one 17 KB header field", &t, 431, true);

  /* JWT size: in the Authorization header, the cookie, the query. */
  TEXT_ADDS(&t, "GET " HUB
                "?topic=x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ");
  text_fill(&t, 'j', 20000);
  TEXT_ADDS(&t, "\r\n\r\n");
  CHECK("subscribe, 20 KB Authorization", &t, 431, true);
  TEXT_ADDS(&t,
            "GET " HUB
            "?topic=x HTTP/1.1\r\nHost: t\r\nCookie: mercureAuthorization=");
  text_fill(&t, 'j', 20000);
  TEXT_ADDS(&t, "\r\n\r\n");
  CHECK("subscribe, 20 KB cookie", &t, 431, true);
  TEXT_ADDS(&t, "GET " HUB "?topic=x&authorization=");
  text_fill(&t, 'j', 20000);
  TEXT_ADDS(&t, " HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK("subscribe, 20 KB query token", &t, 414, true);
  /* Under the head limit but not a token: refused by the hub. */
  TEXT_ADDS(&t, "GET " HUB
                "?topic=x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ");
  text_fill(&t, 'j', 12000);
  TEXT_ADDS(&t, "\r\n\r\n");
  CHECK("subscribe, 12 KB garbage token", &t, 401, false);
  TEXT_ADDS(&t, "POST " HUB " HTTP/1.1\r\nHost: t\r\nContent-Type: "
                "application/x-www-form-urlencoded\r\nContent-Length: 14\r\n"
                "Authorization: Bearer a.");
  text_fill(&t, 'j', 12000);
  TEXT_ADDS(&t, ".b\r\n\r\ntopic=x&data=y");
  CHECK("publish, 12 KB garbage token", &t, 401, false);
  /* A valid 10 KB token (250 selectors) is fine; 1001 selectors are not
   * (the JWT module's limit), even in a smaller token. */
  char *big = big_token(250);
  print_message("valid token of %zu bytes\n", strlen(big));
  text_addf(&t, "GET " HUB
                "?topic=x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ");
  text_add(&t, big, strlen(big));
  TEXT_ADDS(&t, "\r\n\r\n");
  CHECK("subscribe, valid 10 KB token", &t, 200, false);
  free(big);
  {
    /* 1001 one-character selectors: about 5 KB of token. */
    text_t payload = {0};
    TEXT_ADDS(&payload, "{\"mercure\":{\"subscribe\":[\"*\"");
    for (int i = 1; i < 1001; i++)
      TEXT_ADDS(&payload, ",\"a\"");
    TEXT_ADDS(&payload, "]}}");
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *tok = malloc(payload.len * 2 + 256);
    assert_non_null(tok);
    size_t len = b64url((const unsigned char *)header, sizeof header - 1, tok);
    tok[len++] = '.';
    len += b64url((const unsigned char *)payload.p, payload.len, tok + len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    assert_non_null(HMAC(EVP_sha256(), DEV_KEY, (int)strlen(DEV_KEY),
                         (const unsigned char *)tok, len, mac, &mac_len));
    tok[len++] = '.';
    b64url(mac, mac_len, tok + len);
    text_addf(&t, "GET " HUB
                  "?topic=x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ");
    text_add(&t, tok, strlen(tok));
    TEXT_ADDS(&t, "\r\n\r\n");
    CHECK("subscribe, token with 1001 selectors", &t, 401, false);
    free(tok);
    free(payload.p);
  }

  /* Deep JSON: a header of 4000 nested arrays (read before any signature
   * check) and a correctly signed payload nested as deep are refused. */
  for (int signed_payload = 0; signed_payload <= 1; signed_payload++) {
    text_t deep = {0};
    text_fill(&deep, '[', 4000);
    text_fill(&deep, ']', 4000);
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char payload[] = "{\"mercure\":{\"subscribe\":[\"*\"]}}";
    char *tok = malloc(deep.len * 2 + 512);
    assert_non_null(tok);
    size_t len;
    if (signed_payload) {
      len = b64url((const unsigned char *)header, sizeof header - 1, tok);
      tok[len++] = '.';
      len += b64url((const unsigned char *)deep.p, deep.len, tok + len);
    } else {
      len = b64url((const unsigned char *)deep.p, deep.len, tok);
      tok[len++] = '.';
      len +=
          b64url((const unsigned char *)payload, sizeof payload - 1, tok + len);
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    assert_non_null(HMAC(EVP_sha256(), DEV_KEY, (int)strlen(DEV_KEY),
                         (const unsigned char *)tok, len, mac, &mac_len));
    tok[len++] = '.';
    b64url(mac, mac_len, tok + len);
    TEXT_ADDS(&t, "GET " HUB
                  "?topic=x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ");
    text_add(&t, tok, strlen(tok));
    TEXT_ADDS(&t, "\r\n\r\n");
    CHECK(signed_payload ? "subscribe, signed payload nested 4000 deep"
                         : "subscribe, token header nested 4000 deep",
          &t, 401, false);
    free(tok);
    free(deep.p);
  }

  /* Body: exactly --max-body passes; one byte more is 413, whether the
   * length is announced or the chunks add up to it. */
  const char *pub_head = "POST " HUB " HTTP/1.1\r\nHost: t\r\n"
                         "Content-Type: application/x-www-form-urlencoded\r\n";
  const char *form = "topic=x&data=";
  text_add(&t, pub_head, strlen(pub_head));
  text_addf(&t, "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
            token, MAX_BODY, form);
  text_fill(&t, 'd', MAX_BODY - strlen(form));
  CHECK("publish, body of exactly --max-body", &t, 200, false);
  text_add(&t, pub_head, strlen(pub_head));
  text_addf(&t, "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
            token, MAX_BODY + 1, form);
  text_fill(&t, 'd', MAX_BODY + 1 - strlen(form));
  CHECK("publish, body of --max-body + 1", &t, 413, true);
  text_add(&t, pub_head, strlen(pub_head));
  text_addf(&t,
            "Authorization: Bearer %s\r\nContent-Length: 99999999999\r\n\r\n%s",
            token, form);
  CHECK("publish, 100 GB announced", &t, 413, true);
  text_add(&t, pub_head, strlen(pub_head));
  text_addf(&t,
            "Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n",
            token);
  for (int i = 0; i <= MAX_BODY / 1000; i++) {
    text_addf(&t, "3e8\r\n");
    text_fill(&t, 'd', 1000);
    TEXT_ADDS(&t, "\r\n");
  }
  TEXT_ADDS(&t, "0\r\n\r\n");
  CHECK("publish, chunked past --max-body", &t, 413, true);

  /* Topics: 1000 per subscription and per update pass, 1001 do not. */
  for (int n = 1000; n <= 1001; n++) {
    TEXT_ADDS(&t, "GET " HUB "?");
    for (int i = 0; i < n; i++)
      text_addf(&t, "%stopic=t%d", i ? "&" : "", i);
    TEXT_ADDS(&t, " HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(n == 1000 ? "subscribe, 1000 topics" : "subscribe, 1001 topics", &t,
          n == 1000 ? 200 : 400, false);
    text_t body = {0};
    for (int i = 0; i < n; i++)
      text_addf(&body, "topic=t%d&", i);
    TEXT_ADDS(&body, "data=d");
    text_add(&t, pub_head, strlen(pub_head));
    text_addf(&t, "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
              token, body.len);
    text_add(&t, body.p, body.len);
    free(body.p);
    CHECK(n == 1000 ? "publish, 1000 topics" : "publish, 1001 topics", &t,
          n == 1000 ? 200 : 400, false);
  }

  /* Ids: 1023 bytes pass, 1024 do not; Last-Event-ID likewise. */
  for (int n = 1023; n <= 1024; n++) {
    text_t body = {0};
    TEXT_ADDS(&body, "topic=x&data=d&id=");
    text_fill(&body, 'i', (size_t)n);
    text_add(&t, pub_head, strlen(pub_head));
    text_addf(&t, "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
              token, body.len);
    text_add(&t, body.p, body.len);
    free(body.p);
    CHECK(n == 1023 ? "publish, 1023-byte id" : "publish, 1024-byte id", &t,
          n == 1023 ? 200 : 400, false);
    TEXT_ADDS(&t, "GET " HUB "?topic=x HTTP/1.1\r\nHost: t\r\nLast-Event-ID: ");
    text_fill(&t, 'i', (size_t)n);
    TEXT_ADDS(&t, "\r\n\r\n");
    CHECK(n == 1023 ? "subscribe, 1023-byte Last-Event-ID"
                    : "subscribe, 1024-byte Last-Event-ID",
          &t, n == 1023 ? 200 : 400, false);
  }

  /* Form fields: thousands of junk fields around a valid update. */
  {
    text_t body = {0};
    TEXT_ADDS(&body, "topic=x&data=d");
    while (body.len + 8 < MAX_BODY)
      TEXT_ADDS(&body, "&j=&k&&=");
    text_add(&t, pub_head, strlen(pub_head));
    text_addf(&t, "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
              token, body.len);
    text_add(&t, body.p, body.len);
    free(body.p);
    /* More than the library decodes (10000 pairs): refused, not costly. */
    CHECK("publish, 16000 junk form fields", &t, 413, false);
  }

  free(t.p);
  assert_true(th_hub_alive(&hub));
  assert_clean_exit();
}

/* ---- memory of form fields
 * --------------------------------------------------- */

#define FORM_MAX_BODY (1 << 20)

static void form_fields_memory(void **state) {
  (void)state;
  if (SANITIZED) {
    print_message("skipped: sanitizer allocators inflate RSS; measured in the "
                  "normal build\n");
    skip();
  }
  char max_body[32];
  snprintf(max_body, sizeof max_body, "%d", FORM_MAX_BODY);
  const char *args[] = {"--dev", "--workers",  "2",      "--heartbeat",
                        "0",     "--max-body", max_body, "--history",
                        "0",     NULL};
  start_hub(0, args);
  /* Warm up with one ordinary publish of the same size. */
  text_t body = {0};
  TEXT_ADDS(&body, "topic=x&data=");
  text_fill(&body, 'd', FORM_MAX_BODY - 13);
  tn_conn_t *c = tn_connect(hub.port);
  assert_non_null(c);
  assert_int_equal(
      th_publish_send(c, token, "x", NULL, body.p + 13, body.len - 13), 0);
  assert_int_equal(th_publish_read(c), 200);
  tn_sleep_ms(100);
  long rss = th_proc_kib(hub.pid, "VmRSS");
  long hwm0 = th_proc_kib(hub.pid, "VmHWM");
  assert_true(rss > 0);

  /* The same size as tiny fields: "a&" repeated. */
  body.len = 0;
  TEXT_ADDS(&body, "topic=x&data=d");
  while (body.len + 2 <= FORM_MAX_BODY)
    TEXT_ADDS(&body, "&a");
  assert_int_equal(
      tn_sendf(c,
               "POST " HUB " HTTP/1.1\r\nHost: t\r\n"
               "Authorization: Bearer %s\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n"
               "Content-Length: %zu\r\n\r\n",
               token, body.len),
      0);
  assert_int_equal(tn_send(c, body.p, body.len), 0);
  int st = th_publish_read(c);
  tn_close(c);
  free(body.p);
  long hwm = th_proc_kib(hub.pid, "VmHWM");
  long bound_kib = rss + 4 * (FORM_MAX_BODY / 1024);
  print_message("form fields: %zu fields in %d bytes answered %d; VmRSS before "
                "%ld KiB (VmHWM %ld KiB), VmHWM after %ld KiB: the request "
                "cost %ld KiB, bound rss + 4 x max-body = %ld KiB\n",
                (size_t)FORM_MAX_BODY / 2, FORM_MAX_BODY, st, rss, hwm0, hwm,
                hwm - rss, bound_kib);
  /* Over 10000 fields is refused (413) before it costs 32 bytes a pair. */
  assert_int_equal(st, 413);
  assert_healthy();
  assert_clean_exit();
  assert_true(hwm <= bound_kib);
}

/* ---- connection limit ---------------------------------------------------- */

#define LIMIT 64
#define EXTRA 64

/* Open one stream on a fresh connection: 200 and the head. */
static tn_conn_t *open_stream(const char *topic, th_sse_t *s) {
  tn_conn_t *c = tn_connect(hub.port);
  if (c == NULL)
    return NULL;
  char q[128];
  snprintf(q, sizeof q, "topic=%s", topic);
  th_sse_init(s, c);
  if (th_subscribe_send(c, q) < 0 || th_sse_wait_head(s, TN_WAIT_MS) < 0 ||
      s->status != 200) {
    print_message("stream: status %d\n", s->status);
    th_sse_free(s);
    tn_close(c);
    return NULL;
  }
  return c;
}

/* Publish one update on a fresh connection, retrying (bounded) while the
 * hub is still at its limit. Returns the last status. */
static int publish_retry(const char *topic, const char *id) {
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  int st = 0;
  do {
    tn_conn_t *c = tn_connect(hub.port);
    if (c) {
      st = th_publish_send(c, token, topic, id, "x", 1) == 0
               ? th_publish_read(c)
               : -EPIPE;
      tn_close(c);
    }
    if (st == 200)
      break;
    tn_sleep_ms(20);
  } while (tn_now_ms() < deadline);
  return st;
}

static void connection_limit(void **state) {
  (void)state;
  char limit[16];
  snprintf(limit, sizeof limit, "%d", LIMIT);
  const char *args[] = {"--dev", "--workers",         "2",   "--heartbeat",
                        "0",     "--max-connections", limit, NULL};
  start_hub(0, args);
  /* th_dev_token's connection may still be closing on the hub's side. */
  uint64_t v;
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_connections", 1, TN_WAIT_MS, &v), 0);

  static th_sse_t held[LIMIT];
  static tn_conn_t *hc[LIMIT];
  for (int i = 0; i < LIMIT; i++) {
    hc[i] = open_stream("lim", &held[i]);
    if (hc[i] == NULL)
      print_message("stream %d of %d was not opened\n", i + 1, LIMIT);
    assert_non_null(hc[i]);
  }

  /* The extra ones: never served; a 503 or just a close. */
  int refused_503 = 0, closed_silently = 0, served = 0, hung = 0;
  for (int i = 0; i < EXTRA; i++) {
    tn_conn_t *c = tn_connect(hub.port);
    if (c == NULL) {
      closed_silently++; /* refused by the kernel: also clean */
      continue;
    }
    (void)tn_send_str(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    if (tn_read_eof(c, TN_WAIT_MS) != 0)
      hung++;
    else if (c->len == 0)
      closed_silently++;
    else if (strncmp(c->buf, "HTTP/1.1 503 ", 13) == 0 &&
             tn_count(c->buf, c->len, "HTTP/1.1 ") == 1)
      refused_503++;
    else
      served++;
    tn_close(c);
  }
  print_message("%d connections over the limit of %d: %d answered 503, %d "
                "closed without an answer, %d served, %d left hanging\n",
                EXTRA, LIMIT, refused_503, closed_silently, served, hung);
  assert_int_equal(served, 0);
  assert_int_equal(hung, 0);
  assert_int_equal(refused_503 + closed_silently, EXTRA);

  /* Free one slot: a publisher gets in and every held stream receives. */
  th_sse_free(&held[0]);
  tn_close(hc[0]);
  hc[0] = NULL;
  assert_int_equal(publish_retry("lim", "after-limit"), 200);
  int received = 0;
  for (int i = 1; i < LIMIT; i++) {
    th_event_t ev;
    int64_t deadline = tn_now_ms() + TN_WAIT_MS;
    bool got = false;
    while (!got && tn_now_ms() < deadline) {
      while (th_sse_next(&held[i], &ev))
        got = got || strcmp(ev.id, "after-limit") == 0;
      if (!got && th_sse_pump(&held[i], 100) < -ETIMEDOUT)
        break;
    }
    received += got;
  }
  print_message("%d of %d held streams received the update\n", received,
                LIMIT - 1);
  assert_int_equal(received, LIMIT - 1);

  /* Load drops: everything closes and the count returns to the asker. */
  for (int i = 1; i < LIMIT; i++) {
    th_sse_free(&held[i]);
    tn_close(hc[i]);
  }
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_connections", 1, TN_WAIT_MS, &v), 0);
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_subscribers", 0, TN_WAIT_MS, &v), 0);
  /* And the full limit is usable again. */
  for (int i = 0; i < LIMIT; i++) {
    hc[i] = open_stream("lim2", &held[i]);
    assert_non_null(hc[i]);
  }
  for (int i = 0; i < LIMIT; i++) {
    th_sse_free(&held[i]);
    tn_close(hc[i]);
  }
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_connections", 1, TN_WAIT_MS, &v), 0);
  assert_healthy();
  assert_clean_exit();
}

/* ---- file-descriptor exhaustion ------------------------------------------ */

#define NOFILE 256
#define KEEP 16   /* keep-alive connections opened before the flood */
#define FLOOD 600 /* more connections than the hub has descriptors */
#define WAVES 3

/* Send GET /healthz on each kept connection; count the 200s, waiting at
 * most TN_WAIT_MS in all. */
static int kept_served(tn_conn_t **keep, int n) {
  int ok = 0;
  static bool sent[KEEP];
  for (int i = 0; i < n; i++)
    sent[i] =
        tn_send_str(keep[i], "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n") == 0;
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  for (int i = 0; i < n; i++) {
    tn_response_t r;
    memset(&r, 0, sizeof r);
    int left = (int)(deadline - tn_now_ms());
    int rc = sent[i] ? tn_read_response(keep[i], &r, 0, left > 0 ? left : 0)
                     : -EPIPE;
    if (rc == 0 && r.status == 200)
      ok++;
    else
      print_message("kept connection %d: rc %d status %d\n", i, rc, r.status);
    tn_response_free(&r);
  }
  return ok;
}

/* One wave: FLOOD connections beyond the hub's descriptors, a 1 s window
 * with more knocking, then every connection must be served or closed.
 * Asserts; releases the flood. */
static void exhaust_once(int wave, tn_conn_t **keep, int fds0) {
  static tn_conn_t *flood[FLOOD];
  int connected = 0;
  for (int i = 0; i < FLOOD; i++) {
    flood[i] = tn_connect(hub.port);
    connected += flood[i] != NULL;
  }
  tn_sleep_ms(300); /* the hub accepts what it can */
  int fds = th_proc_fds(hub.pid);

  /* The window: keep knocking while measuring the hub's CPU time. An idle
   * hub uses next to none; one looping on accept uses a core, or what it
   * gets of one on a busy machine. */
  long t0 = th_proc_cpu_ticks(hub.pid);
  int64_t w0 = tn_now_ms();
  int knocks = 0;
  while (tn_now_ms() - w0 < 1000) {
    tn_conn_t *c = tn_connect(hub.port);
    if (c) {
      knocks++;
      tn_close(c);
    }
    tn_sleep_ms(20);
  }
  long t1 = th_proc_cpu_ticks(hub.pid);
  int64_t w1 = tn_now_ms();
  double cpu_s = (double)(t1 - t0) / (double)th_clk_tck();
  int kept_ok = kept_served(keep, KEEP);

  /* Every flood connection is served or closed: none hangs. */
  int served = 0, closed = 0, hung = 0;
  static bool sent[FLOOD];
  for (int i = 0; i < FLOOD; i++) {
    sent[i] = flood[i] != NULL &&
              tn_send_str(flood[i], "GET /healthz HTTP/1.1\r\nHost: t\r\n"
                                    "Connection: close\r\n\r\n") == 0;
    if (flood[i] != NULL && !sent[i])
      closed++;
  }
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  for (int i = 0; i < FLOOD; i++) {
    if (!sent[i])
      continue;
    int left = (int)(deadline - tn_now_ms());
    if (tn_read_eof(flood[i], left > 0 ? left : 0) != 0) {
      hung++;
      continue;
    }
    if (flood[i]->len > 0 && strncmp(flood[i]->buf, "HTTP/1.1 200 ", 13) == 0)
      served++;
    else
      closed++;
  }
  for (int i = 0; i < FLOOD; i++)
    tn_close(flood[i]);
  print_message("wave %d: RLIMIT_NOFILE %d; hub descriptors %d before, %d with "
                "%d of %d flood connections made; %d more knocks in the "
                "window; hub CPU time %.2f s in %.2f s; kept connections "
                "served %d of %d; flood connections %d served, %d closed, %d "
                "hanging\n",
                wave, NOFILE, fds0, fds, connected, FLOOD, knocks, cpu_s,
                (double)(w1 - w0) / 1000.0, kept_ok, KEEP, served, closed,
                hung);
  assert_true(th_hub_alive(&hub));
  assert_true(t0 >= 0 && t1 >= t0);
  assert_true(cpu_s < 0.25);
  assert_int_equal(kept_ok, KEEP);
  /* Connections are refused at once while a spare descriptor is free; when
   * every descriptor is taken (another thread won the spare), the rest wait
   * in the backlog until descriptors free up: "hanging" counts those, and
   * is reported, not failed (docs/security.md). What must hold: no spin,
   * kept connections served, and recovery below. */
  assert_true(served > 0);

  /* It recovers: a fresh connection is served again. */
  int64_t until = tn_now_ms() + TN_WAIT_MS;
  int st;
  while ((st = th_get_status(hub.port, "/healthz", NULL)) != 200 &&
         tn_now_ms() < until)
    tn_sleep_ms(20);
  assert_int_equal(st, 200);
}

static void fd_exhaustion(void **state) {
  (void)state;
  const char *args[] = {"--dev", "--workers", "2", "--heartbeat", "0", NULL};
  start_hub(NOFILE, args);
  int fds0 = th_proc_fds(hub.pid);

  static tn_conn_t *keep[KEEP];
  for (int i = 0; i < KEEP; i++) {
    keep[i] = tn_connect(hub.port);
    assert_non_null(keep[i]);
  }
  assert_int_equal(kept_served(keep, KEEP), KEEP);
  /* Several waves: what exhaustion breaks may show only on a later one. */
  for (int wave = 0; wave < WAVES; wave++)
    exhaust_once(wave, keep, fds0);
  for (int i = 0; i < KEEP; i++)
    tn_close(keep[i]);

  /* After the load: a subscription and an update work. */
  th_sse_t s;
  tn_conn_t *sub = open_stream("fd", &s);
  assert_non_null(sub);
  assert_int_equal(publish_retry("fd", "recovered"), 200);
  th_event_t ev;
  bool got = false;
  int64_t d2 = tn_now_ms() + TN_WAIT_MS;
  while (!got && tn_now_ms() < d2) {
    while (th_sse_next(&s, &ev))
      got = got || strcmp(ev.id, "recovered") == 0;
    if (!got)
      (void)th_sse_pump(&s, 100);
  }
  th_sse_free(&s);
  tn_close(sub);
  assert_true(got);
  assert_clean_exit();
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
#define T(fn) cmocka_unit_test_teardown(fn, teardown)
  const struct CMUnitTest tests[] = {
      T(oversized_requests),
      T(form_fields_memory),
      T(connection_limit),
      T(fd_exhaustion),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
