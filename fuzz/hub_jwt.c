/* SPDX-License-Identifier: MIT */
/*
 * fuzz/hub_jwt.c: the JWT verifier (tools/hcs-hub/jwt.h) with a fixed HS256
 * key (the development secret of specs/mercure.md §9).
 *
 * Input: a mode byte, then bytes.
 *   mode % 4 == 0  the bytes are a token, verified as received;
 *   mode % 4 == 1  the bytes are a payload (JSON, or not), signed here under
 *                  the header {"alg":"HS256","typ":"JWT"};
 *   mode % 4 == 2  "header\npayload" (split at the first LF), both signed
 *                  here as they are;
 *   mode % 4 == 3  "seg1.seg2" (split at the first '.'), taken as the
 *                  token's first two segments as they are (any bytes, so
 *                  non-canonical base64url too) and signed here.
 *   mode bit 7     leeway 5 s instead of 0.
 * now is fixed at 1700000000.
 *
 * Checks:
 *  - never a crash, a leak or undefined behaviour; the result is 0 or one of
 *    the codes jwt.h lists, claims zeroed on failure;
 *  - a token that verifies was signed with the key: its third segment is
 *    the base64url of HMAC-SHA-256(key, seg1 "." seg2), recomputed here;
 *    the same token under another key fails;
 *  - a token signed here gets exactly the verdict jwt.h's steps give
 *    (segments: canonical unpadded base64url, checked with a decoder here),
 *    computed with jansson (header: object with a string "alg", EMALFORMED;
 *    "alg" HS256 and no "crit", else EALG; payload: the claim types, else
 *    EMALFORMED; then exp, nbf), and on success the claims round-trip:
 *    publish/subscribe arrays, payload as compact JSON, exp rounded up;
 *  - one base64url character of the signature changed: refused.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"
#include "jwt.h"

#define NOW INT64_C(1700000000)

static const char secret[] = "!ChangeThisMercureHubJWTSecretKey!";
static const char other_secret[] = "!ChangeThisMercureHubJWTSecretKeY!";
static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static hub_jwt_key_t *key, *other_key;

/* ---- base64url (no padding) ---------------------------------------------- */

static size_t b64_encode(const unsigned char *in, size_t len, char *out) {
  size_t o = 0, i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = b64url[v >> 18];
    out[o++] = b64url[(v >> 12) & 63];
    out[o++] = b64url[(v >> 6) & 63];
    out[o++] = b64url[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = b64url[v >> 18];
    out[o++] = b64url[(v >> 12) & 63];
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = b64url[v >> 18];
    out[o++] = b64url[(v >> 12) & 63];
    out[o++] = b64url[(v >> 6) & 63];
  }
  return o;
}

/* Canonical unpadded base64url: the decoded length, or -1. */
static ssize_t b64_decode(const char *in, size_t len, unsigned char *out) {
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t o = 0;
  if (len % 4 == 1)
    return -1;
  for (size_t i = 0; i < len; i++) {
    const char *p = in[i] ? strchr(b64url, in[i]) : NULL;
    if (p == NULL)
      return -1;
    acc = acc << 6 | (uint32_t)(p - b64url);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return acc == 0 ? (ssize_t)o : -1;
}

static void mac(const char *secret_, const char *msg, size_t len,
                unsigned char out[32]) {
  unsigned int n = 32;
  FUZZ_CHECK(HMAC(EVP_sha256(), secret_, (int)strlen(secret_),
                  (const unsigned char *)msg, len, out, &n) != NULL &&
                 n == 32,
             "HMAC failed");
}

/* header "." payload "." signature, each base64url; *sig_at = where the
 * signature starts. */
static char *sign(const char *h, size_t hlen, const char *p, size_t plen,
                  size_t *len, size_t *sig_at) {
  char *tok = malloc(4 * (hlen + plen + 32) / 3 + 16);
  unsigned char m[32];
  if (tok == NULL)
    abort();
  size_t n = b64_encode((const unsigned char *)h, hlen, tok);
  tok[n++] = '.';
  n += b64_encode((const unsigned char *)p, plen, tok + n);
  mac(secret, tok, n, m);
  tok[n++] = '.';
  *sig_at = n;
  n += b64_encode(m, 32, tok + n);
  *len = n;
  return tok;
}

/* ---- verification -------------------------------------------------------- */

static bool zeroed(const hub_claims_t *c) {
  static const hub_claims_t zero;
  return memcmp(c, &zero, sizeof(zero)) == 0;
}

static int verify(const hub_jwt_key_t *k, const char *tok, size_t len,
                  int64_t leeway, hub_claims_t *c) {
  char *copy = fuzz_dup(tok, len);
  memset(c, 0xa5, sizeof(*c));
  int rc = hub_jwt_verify(k, copy, len, NOW, leeway, c);
  free(copy);
  FUZZ_CHECK(rc == 0 || rc == HUB_JWT_EMALFORMED || rc == HUB_JWT_EALG ||
                 rc == HUB_JWT_ESIGNATURE || rc == HUB_JWT_EEXPIRED ||
                 rc == HUB_JWT_ENOTYET || rc == HCS_ENOMEM,
             "result %d", rc);
  if (rc != 0) {
    FUZZ_CHECK(zeroed(c), "claims not zeroed on failure (%d)", rc);
  } else {
    FUZZ_CHECK(c->npublish <= 1000 && c->nsubscribe <= 1000, "claim counts");
    FUZZ_CHECK((c->npublish == 0) == (c->publish == NULL), "publish array");
    FUZZ_CHECK((c->nsubscribe == 0) == (c->subscribe == NULL),
               "subscribe array");
    FUZZ_CHECK(c->has_publish || c->npublish == 0, "publish without claim");
    FUZZ_CHECK(c->has_subscribe || c->nsubscribe == 0,
               "subscribe without claim");
    for (size_t i = 0; i < c->npublish; i++)
      FUZZ_CHECK(c->publish[i] != NULL, "publish[%zu] NULL", i);
    for (size_t i = 0; i < c->nsubscribe; i++)
      FUZZ_CHECK(c->subscribe[i] != NULL, "subscribe[%zu] NULL", i);
  }
  return rc;
}

/* A verified token: its signature is the MAC of its first two segments. */
static void check_signed_by_key(const char *tok, size_t len, int64_t leeway) {
  const char *d1 = memchr(tok, '.', len);
  FUZZ_CHECK(d1 != NULL, "verified token without '.'");
  const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
  FUZZ_CHECK(d2 != NULL, "verified token with one '.'");
  size_t signing_len = (size_t)(d2 - tok);
  unsigned char m[32];
  char want[44];
  mac(secret, tok, signing_len, m);
  size_t wlen = b64_encode(m, 32, want);
  FUZZ_CHECK(len - signing_len - 1 == wlen && memcmp(d2 + 1, want, wlen) == 0,
             "a verified token's signature is not the key's MAC");
  hub_claims_t c;
  int rc = verify(other_key, tok, len, leeway, &c);
  FUZZ_CHECK(rc == HUB_JWT_ESIGNATURE, "another key gives %d", rc);
}

/* ---- the expected verdict ------------------------------------------------ */

typedef struct {
  int rc;
  json_t *payload; /* parsed, when rc is 0 */
  json_t *claims;  /* the winning mercure object, or NULL */
} expect_t;

static json_t *load(const char *s, size_t len) {
  json_error_t err;
  return json_loadb(s, len, JSON_REJECT_DUPLICATES, &err);
}

static bool selectors_ok(const json_t *m, const char *name) {
  json_t *a = json_object_get(m, name);
  if (a == NULL || json_is_null(a))
    return true;
  if (!json_is_array(a) || json_array_size(a) > 1000)
    return false;
  for (size_t i = 0; i < json_array_size(a); i++)
    if (!json_is_string(json_array_get(a, i)))
      return false;
  return true;
}

/* NumericDate rounded up, saturated. */
static int64_t seconds(const json_t *v) {
  if (json_is_integer(v))
    return (int64_t)json_integer_value(v);
  double d = ceil(json_real_value(v));
  if (d >= 9223372036854775807.0)
    return INT64_MAX;
  if (d <= -9223372036854775807.0)
    return INT64_MIN;
  return (int64_t)d;
}

static void expect(const char *h, size_t hlen, const char *p, size_t plen,
                   int64_t leeway, expect_t *e) {
  memset(e, 0, sizeof(*e));
  json_t *hj = hlen ? load(h, hlen) : NULL;
  if (hj == NULL || !json_is_object(hj) ||
      !json_is_string(json_object_get(hj, "alg"))) {
    json_decref(hj);
    e->rc = HUB_JWT_EMALFORMED;
    return;
  }
  json_t *alg = json_object_get(hj, "alg");
  bool alg_ok = json_string_length(alg) == 5 &&
                memcmp(json_string_value(alg), "HS256", 5) == 0 &&
                json_object_get(hj, "crit") == NULL;
  json_decref(hj);
  /* An empty payload segment is malformed (step 1), before the algorithm. */
  if (plen == 0) {
    e->rc = HUB_JWT_EMALFORMED;
    return;
  }
  if (!alg_ok) {
    e->rc = HUB_JWT_EALG;
    return;
  }
  json_t *pj = load(p, plen);
  e->rc = HUB_JWT_EMALFORMED;
  if (pj == NULL || !json_is_object(pj)) {
    json_decref(pj);
    return;
  }
  json_t *m = json_object_get(pj, "mercure");
  json_t *ns = json_object_get(pj, "https://mercure.rocks/");
  json_t *exp = json_object_get(pj, "exp"), *nbf = json_object_get(pj, "nbf");
  if ((m && !json_is_object(m) && !json_is_null(m)) ||
      (ns && !json_is_object(ns) && !json_is_null(ns)) ||
      (exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf))) {
    json_decref(pj);
    return;
  }
  json_t *win = json_is_object(ns) ? ns : json_is_object(m) ? m : NULL;
  if (win &&
      (!selectors_ok(win, "publish") || !selectors_ok(win, "subscribe"))) {
    json_decref(pj);
    return;
  }
  if (leeway < 0)
    leeway = 0;
  if (exp && !(seconds(exp) > NOW - leeway))
    e->rc = HUB_JWT_EEXPIRED;
  else if (nbf && !(seconds(nbf) <= NOW + leeway))
    e->rc = HUB_JWT_ENOTYET;
  else
    e->rc = 0;
  e->payload = pj;
  e->claims = win;
}

static void check_list(const json_t *win, const char *name, bool has,
                       char **list, size_t n) {
  json_t *a = win ? json_object_get(win, name) : NULL;
  bool want_has = a != NULL && !json_is_null(a);
  FUZZ_CHECK(has == want_has, "has_%s %d, expected %d", name, has, want_has);
  size_t want_n = want_has ? json_array_size(a) : 0;
  FUZZ_CHECK(n == want_n, "%zu %s selectors, expected %zu", n, name, want_n);
  for (size_t i = 0; i < n; i++) {
    const char *s = json_string_value(json_array_get(a, i));
    FUZZ_CHECK(strcmp(list[i], s) == 0, "%s[%zu] differs", name, i);
  }
}

static void check_claims(const expect_t *e, const hub_claims_t *c) {
  check_list(e->claims, "publish", c->has_publish, c->publish, c->npublish);
  check_list(e->claims, "subscribe", c->has_subscribe, c->subscribe,
             c->nsubscribe);
  json_t *pl = e->claims ? json_object_get(e->claims, "payload") : NULL;
  if (pl == NULL || json_is_null(pl)) {
    FUZZ_CHECK(c->payload == NULL, "payload without a claim");
  } else {
    char *want = json_dumps(pl, JSON_COMPACT | JSON_ENCODE_ANY);
    FUZZ_CHECK(want != NULL, "json_dumps");
    FUZZ_CHECK(c->payload != NULL && strcmp(c->payload, want) == 0,
               "payload \"%s\", expected \"%s\"", c->payload ? c->payload : "",
               want);
    free(want);
  }
  json_t *exp = json_object_get(e->payload, "exp");
  FUZZ_CHECK(c->has_exp == (exp != NULL), "has_exp");
  FUZZ_CHECK(!exp || c->exp == seconds(exp), "exp %lld, expected %lld",
             (long long)c->exp, (long long)seconds(exp));
}

/* Sign header and payload, check the verdict, the claims and a tampered
 * copy. */
static void check_signed(const char *h, size_t hlen, const char *p, size_t plen,
                         int64_t leeway, unsigned pick) {
  size_t len, sig_at;
  char *tok = sign(h, hlen, p, plen, &len, &sig_at);
  expect_t e;
  hub_claims_t c;
  expect(h, hlen, p, plen, leeway, &e);
  int rc = verify(key, tok, len, leeway, &c);
  if (rc != e.rc) {
    fuzz_dump("header", h, hlen);
    fuzz_dump("payload", p, plen);
  }
  FUZZ_CHECK(rc == e.rc, "verified %d (%s), expected %d (%s)", rc,
             hub_jwt_err_name(rc), e.rc, hub_jwt_err_name(e.rc));
  if (rc == 0) {
    check_claims(&e, &c);
    hub_claims_cleanup(&c);
    hub_claims_cleanup(&c); /* twice is harmless */
    check_signed_by_key(tok, len, leeway);
  }
  json_decref(e.payload);

  /* One signature character changed to another base64url character. */
  size_t at = sig_at + pick % (len - sig_at);
  const char *pos = strchr(b64url, tok[at]);
  tok[at] = b64url[(size_t)(pos - b64url + 1 + pick % 63) % 64];
  rc = verify(key, tok, len, leeway, &c);
  FUZZ_CHECK(rc != 0, "a tampered signature verifies");
  free(tok);
}

/* Mode 3: the fuzzer's own first two segments, signed here. */
static void check_raw_segments(const char *in, size_t len, int64_t leeway) {
  const char *dot = memchr(in, '.', len);
  size_t alen = dot ? (size_t)(dot - in) : len;
  const char *b = dot ? dot + 1 : in + len;
  size_t blen = dot ? len - alen - 1 : 0;
  char *tok = malloc(alen + blen + 64);
  unsigned char m[32];
  if (tok == NULL)
    abort();
  memcpy(tok, in, alen);
  tok[alen] = '.';
  memcpy(tok + alen + 1, b, blen);
  size_t n = alen + 1 + blen;
  mac(secret, tok, n, m);
  tok[n++] = '.';
  n += b64_encode(m, 32, tok + n);

  expect_t e = {HUB_JWT_EMALFORMED, NULL, NULL};
  unsigned char *h = malloc(alen + 1), *p = malloc(blen + 1);
  if (h == NULL || p == NULL)
    abort();
  ssize_t hl = b64_decode(in, alen, h), pl = b64_decode(b, blen, p);
  if (hl > 0 && pl > 0 && memchr(b, '.', blen) == NULL)
    expect((const char *)h, (size_t)hl, (const char *)p, (size_t)pl, leeway,
           &e);
  hub_claims_t c;
  int rc = verify(key, tok, n, leeway, &c);
  if (rc != e.rc)
    fuzz_dump("token", tok, n);
  FUZZ_CHECK(rc == e.rc, "verified %d (%s), expected %d (%s)", rc,
             hub_jwt_err_name(rc), e.rc, hub_jwt_err_name(e.rc));
  if (rc == 0) {
    check_claims(&e, &c);
    hub_claims_cleanup(&c);
    check_signed_by_key(tok, n, leeway);
  }
  json_decref(e.payload);
  free(h);
  free(p);
  free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (key == NULL) {
    FUZZ_CHECK(hub_jwt_key_hs256(&key, secret, strlen(secret)) == 0, "key");
    FUZZ_CHECK(
        hub_jwt_key_hs256(&other_key, other_secret, strlen(other_secret)) == 0,
        "key");
  }
  if (size < 1)
    return 0;
  int64_t leeway = (data[0] & 0x80) ? 5 : 0;
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  unsigned pick = 0;
  for (size_t i = 0; i < size; i++)
    pick = pick * 31 + data[i];

  switch ((data[0] & 0x7f) % 4) {
  case 0: {
    hub_claims_t c;
    int rc = verify(key, in, len, leeway, &c);
    if (rc == 0) {
      hub_claims_cleanup(&c);
      check_signed_by_key(in, len, leeway);
    }
    break;
  }
  case 1: {
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    check_signed(header, strlen(header), in, len, leeway, pick);
    break;
  }
  case 3:
    check_raw_segments(in, len, leeway);
    break;
  default: {
    const char *nl = memchr(in, '\n', len);
    size_t hlen = nl ? (size_t)(nl - in) : len;
    const char *p = nl ? nl + 1 : in + len;
    size_t plen = nl ? len - hlen - 1 : 0;
    check_signed(in, hlen, p, plen, leeway, pick);
    break;
  }
  }
  return 0;
}
