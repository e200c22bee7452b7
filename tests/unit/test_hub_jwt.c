/* SPDX-License-Identifier: MIT */
/*
 * test_hub_jwt.c: unit tests for the hub's JWT verification
 * (tools/hcs-hub/jwt.h: keys, hub_jwt_verify, claims, error texts).
 *
 * Fixed vectors are the two HS256 tokens of specs/mercure.md §9, signed
 * with the development secret; every other token is built here, with a
 * small signer (base64url + HMAC() or EVP_DigestSign), so that each case
 * changes exactly one thing in an otherwise valid token and the expected
 * error is the only possible one. The signer is first checked against §9.
 * RSA keys are generated once per run (EVP_PKEY_Q_keygen): two of 2048 bits
 * (one to sign, one "other"), one of 1024 bits that must be refused.
 *
 * Cases are named "group/case"; run one with ./test_hub_jwt 'alg/none'.
 * "alloc/..." make the N-th allocation fail for every N, through both
 * OpenSSL's hook (CRYPTO_set_mem_functions, set first thing in main, as it
 * must be) and jansson's (json_set_alloc_funcs): jwt.c allocates only
 * through OpenSSL, so every allocation of a verification is covered; the
 * sanitizer build proves no path leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hcs/error.h"
#include "jwt.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* specs/mercure.md §9 */
#define DEV_SECRET "!ChangeThisMercureHubJWTSecretKey!"
#define SPEC_PAYLOAD "{\"mercure\":{\"publish\":[\"*\"],\"subscribe\":[\"*\"]}}"
#define SPEC_TOKEN_TYP                                                         \
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                      \
  "eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdLCJzdWJzY3JpYmUiOlsiKiJdfX0."           \
  "nINXJPMGL7u4vvquYYm3zgMosrqrxTSooTs7R_OJLZA"
#define SPEC_TOKEN_CT                                                          \
  "eyJhbGciOiJIUzI1NiJ9."                                                      \
  "eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdLCJzdWJzY3JpYmUiOlsiKiJdfX0."           \
  "bVXdlWXwfw9ySx7-iV5OpUSHo34RkjUdVzDLBcc6l_g"
#define HS256_HEADER "{\"alg\":\"HS256\"}"
#define RS256_HEADER "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"

/* A fixed "now" for time checks; any value works. */
#define NOW INT64_C(1750000000)

/* ---- allocation hooks --------------------------------------------------- */

/* Which allocator a failure targets. */
enum { FAIL_OPENSSL = 1, FAIL_JSON = 2 };

static unsigned long fail_after; /* 0: off; else the N-th and later fail */
static unsigned long alloc_count;
static int fail_kinds;
static bool hooks_installed;

static bool alloc_fails(int kind) {
  if (fail_after == 0 || !(fail_kinds & kind))
    return false;
  return ++alloc_count >= fail_after;
}

/* Make the nth allocation of the given kinds (counted from now) and every
 * later one fail; 0 disarms. */
static void arm_alloc_failure(unsigned long nth, int kinds) {
  alloc_count = 0;
  fail_after = nth;
  fail_kinds = kinds;
}

static void *hook_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  /* As OpenSSL's own CRYPTO_malloc. */
  if (n == 0 || alloc_fails(FAIL_OPENSSL))
    return NULL;
  return malloc(n);
}

static void *hook_realloc(void *p, size_t n, const char *file, int line) {
  if (p == NULL)
    return hook_malloc(n, file, line);
  if (n == 0) {
    free(p);
    return NULL;
  }
  if (alloc_fails(FAIL_OPENSSL))
    return NULL;
  return realloc(p, n);
}

static void hook_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  free(p);
}

static void *hook_json_malloc(size_t n) {
  return alloc_fails(FAIL_JSON) ? NULL : malloc(n);
}

static void hook_json_free(void *p) {
  free(p);
}

/* ---- helpers ------------------------------------------------------------ */

/* Which case of a loop is running, printed with a failure. */
static char context[400];

static void set_context(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(context, sizeof(context), fmt, ap);
  va_end(ap);
}

static void fail_here(void) {
  if (context[0])
    print_error("while checking: %s\n", context);
  fail();
}

/* What a test allocated, freed by the teardown so a failed assertion leaks
 * nothing either. */
static void *garbage[4096];
static size_t ngarbage;
static hub_jwt_key_t *keys[16];
static size_t nkeys;

static void *keep(void *p) {
  assert_non_null(p);
  assert_true(ngarbage < COUNT(garbage));
  garbage[ngarbage++] = p;
  return p;
}

static hub_jwt_key_t *keep_key(hub_jwt_key_t *key) {
  assert_non_null(key);
  assert_true(nkeys < COUNT(keys));
  keys[nkeys++] = key;
  return key;
}

static int setup(void **state) {
  (void)state;
  context[0] = '\0';
  return 0;
}

static int teardown(void **state) {
  (void)state;
  arm_alloc_failure(0, 0);
  while (ngarbage > 0)
    free(garbage[--ngarbage]);
  while (nkeys > 0)
    hub_jwt_key_free(keys[--nkeys]);
  return 0;
}

static char *str_printf(const char *fmt, ...) {
  va_list ap;
  int n;
  char *s;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  assert_true(n >= 0);
  s = keep(malloc((size_t)n + 1));
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* base64url without padding (RFC 4648 §5), written independently of jwt.c. */
static char *b64url_n(const void *data, size_t n) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const unsigned char *p = data;
  char *out = keep(malloc(n / 3 * 4 + 4));
  size_t i = 0, o = 0;

  for (; i + 3 <= n; i += 3) {
    unsigned long v =
        (unsigned long)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
    out[o++] = abc[(v >> 18) & 63];
    out[o++] = abc[(v >> 12) & 63];
    out[o++] = abc[(v >> 6) & 63];
    out[o++] = abc[v & 63];
  }
  if (n - i == 1) {
    unsigned long v = (unsigned long)p[i] << 16;
    out[o++] = abc[(v >> 18) & 63];
    out[o++] = abc[(v >> 12) & 63];
  } else if (n - i == 2) {
    unsigned long v = (unsigned long)p[i] << 16 | (unsigned)p[i + 1] << 8;
    out[o++] = abc[(v >> 18) & 63];
    out[o++] = abc[(v >> 12) & 63];
    out[o++] = abc[(v >> 6) & 63];
  }
  out[o] = '\0';
  return out;
}

static char *b64url(const char *s) {
  return b64url_n(s, strlen(s));
}

/* B64URL(header) "." B64URL(payload): the JWS signing input. */
static char *signing_input(const char *header, const char *payload) {
  return str_printf("%s.%s", b64url(header), b64url(payload));
}

/* An HMAC-signed token, with any digest and secret. */
static char *hmac_token(const EVP_MD *md, const void *secret, size_t len,
                        const char *header, const char *payload) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  char *input = signing_input(header, payload);

  assert_non_null(HMAC(md, secret, (int)len, (const unsigned char *)input,
                       strlen(input), mac, &mac_len));
  return str_printf("%s.%s", input, b64url_n(mac, mac_len));
}

/* HS256 with the development secret, any header. */
static char *dev_token_h(const char *header, const char *payload) {
  return hmac_token(EVP_sha256(), DEV_SECRET, strlen(DEV_SECRET), header,
                    payload);
}

/* HS256 with the development secret and the header {"alg":"HS256"}. */
static char *dev_token(const char *payload) {
  return dev_token_h(HS256_HEADER, payload);
}

/* An RS256 (PKCS#1 v1.5, SHA-256) token signed with a private key. */
static char *rs_token(EVP_PKEY *priv, const char *header, const char *payload) {
  char *input = signing_input(header, payload);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char *sig;
  size_t sig_len = 0;

  assert_non_null(ctx);
  assert_int_equal(
      EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, priv, NULL), 1);
  assert_int_equal(EVP_DigestSign(ctx, NULL, &sig_len,
                                  (const unsigned char *)input, strlen(input)),
                   1);
  sig = keep(malloc(sig_len));
  assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len,
                                  (const unsigned char *)input, strlen(input)),
                   1);
  EVP_MD_CTX_free(ctx);
  return str_printf("%s.%s", input, b64url_n(sig, sig_len));
}

static hub_jwt_key_t *dev_key(void) {
  hub_jwt_key_t *key = NULL;
  assert_int_equal(hub_jwt_key_hs256(&key, DEV_SECRET, strlen(DEV_SECRET)), 0);
  return keep_key(key);
}

/* Fail unless the claims are all zero (as after any failed verification). */
static void check_zeroed(const hub_claims_t *c) {
  if (c->has_publish || c->publish || c->npublish || c->has_subscribe ||
      c->subscribe || c->nsubscribe || c->payload || c->has_exp || c->exp) {
    print_error("claims not zeroed after a failure\n");
    fail_here();
  }
}

static void check_rc(const char *what, int got, int want) {
  if (got == want)
    return;
  print_error("%s: expected %d (%s), got %d (%s)\n", what, want,
              hub_jwt_err_name(want), got, hub_jwt_err_name(got));
  fail_here();
}

/* Verify a NUL-terminated token; on success the caller cleans claims up. */
static int verify_at(const hub_jwt_key_t *key, const char *token, int64_t now,
                     int64_t leeway, hub_claims_t *claims) {
  return hub_jwt_verify(key, token, strlen(token), now, leeway, claims);
}

/* Expect verification of token (len bytes) to give want, then clean up. */
static void expect_n(const hub_jwt_key_t *key, const char *token, size_t len,
                     int64_t now, int64_t leeway, int want) {
  hub_claims_t claims;
  int rc;

  memset(&claims, 0x5a, sizeof(claims));
  rc = hub_jwt_verify(key, token, len, now, leeway, &claims);
  if (rc != want)
    print_error("token (%zu bytes): \"%.*s\"\n", len,
                (int)(len > 2000 ? 2000 : len), token ? token : "");
  check_rc("hub_jwt_verify", rc, want);
  if (rc != 0)
    check_zeroed(&claims);
  hub_claims_cleanup(&claims);
}

static void expect(const hub_jwt_key_t *key, const char *token, int want) {
  expect_n(key, token, strlen(token), NOW, 0, want);
}

static void expect_at(const hub_jwt_key_t *key, const char *token, int64_t now,
                      int64_t leeway, int want) {
  expect_n(key, token, strlen(token), now, leeway, want);
}

static void check_list(const char *what, char **got, size_t ngot,
                       const char *const *want, size_t nwant) {
  if (ngot != nwant) {
    print_error("%s: %zu selectors, expected %zu\n", what, ngot, nwant);
    fail_here();
  }
  if (nwant == 0 && got != NULL) {
    print_error("%s: empty list but non-NULL array\n", what);
    fail_here();
  }
  for (size_t i = 0; i < nwant; i++)
    if (got[i] == NULL || strcmp(got[i], want[i]) != 0) {
      print_error("%s[%zu]: expected \"%s\", got \"%s\"\n", what, i, want[i],
                  got[i] ? got[i] : "(null)");
      fail_here();
    }
}

static void check_star_claims(const hub_claims_t *c) {
  static const char *const star[] = {"*"};
  assert_true(c->has_publish);
  check_list("publish", c->publish, c->npublish, star, 1);
  assert_true(c->has_subscribe);
  check_list("subscribe", c->subscribe, c->nsubscribe, star, 1);
  assert_null(c->payload);
  assert_false(c->has_exp);
}

/* A copy of s with the character at i replaced by c. */
static char *with_char(const char *s, size_t i, char c) {
  char *t = str_printf("%s", s);
  assert_true(i < strlen(t));
  t[i] = c;
  return t;
}

/* Where the third segment of a token starts. */
static size_t sig_offset(const char *token) {
  const char *dot = strrchr(token, '.');
  assert_non_null(dot);
  return (size_t)(dot - token) + 1;
}

/* ---- RSA fixtures ------------------------------------------------------- */

static EVP_PKEY *rsa_priv;  /* 2048 bits, signs the RS256 tokens */
static EVP_PKEY *rsa_other; /* 2048 bits, an unrelated key */
static EVP_PKEY *rsa_weak;  /* 1024 bits */
static EVP_PKEY *ec_priv;   /* P-256, not RSA */

/* Serialise a key's public half: "PUBLIC KEY" (SubjectPublicKeyInfo) or,
 * with pkcs1, "RSA PUBLIC KEY" through the encoder API (the PEM_write
 * function for it is deprecated). */
static char *public_pem(EVP_PKEY *pkey, bool pkcs1) {
  BIO *bio = BIO_new(BIO_s_mem());
  char *data = NULL;
  long n;
  char *out;

  assert_non_null(bio);
  if (pkcs1) {
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(
        pkey, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);
    assert_non_null(ectx);
    assert_int_equal(OSSL_ENCODER_to_bio(ectx, bio), 1);
    OSSL_ENCODER_CTX_free(ectx);
  } else {
    assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
  }
  n = BIO_get_mem_data(bio, &data);
  assert_true(n > 0);
  out = keep(malloc((size_t)n + 1));
  memcpy(out, data, (size_t)n);
  out[n] = '\0';
  BIO_free(bio);
  return out;
}

static char *private_pem(EVP_PKEY *pkey) {
  BIO *bio = BIO_new(BIO_s_mem());
  char *data = NULL;
  long n;
  char *out;

  assert_non_null(bio);
  assert_int_equal(
      PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
  n = BIO_get_mem_data(bio, &data);
  assert_true(n > 0);
  out = keep(malloc((size_t)n + 1));
  memcpy(out, data, (size_t)n);
  out[n] = '\0';
  BIO_free(bio);
  return out;
}

/* A self-signed X.509 certificate for pkey, as PEM. */
static char *certificate_pem(EVP_PKEY *pkey) {
  X509 *x = X509_new();
  X509_NAME *name;
  BIO *bio = BIO_new(BIO_s_mem());
  char *data = NULL;
  long n;
  char *out;

  assert_non_null(x);
  assert_non_null(bio);
  assert_int_equal(X509_set_version(x, 2), 1);
  assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
  assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
  assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
  assert_int_equal(X509_set_pubkey(x, pkey), 1);
  name = X509_get_subject_name(x);
  assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                              (const unsigned char *)"hub", -1,
                                              -1, 0),
                   1);
  assert_int_equal(X509_set_issuer_name(x, name), 1);
  assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
  assert_int_equal(PEM_write_bio_X509(bio, x), 1);
  n = BIO_get_mem_data(bio, &data);
  assert_true(n > 0);
  out = keep(malloc((size_t)n + 1));
  memcpy(out, data, (size_t)n);
  out[n] = '\0';
  BIO_free(bio);
  X509_free(x);
  return out;
}

static hub_jwt_key_t *rs_key_from(const char *pem) {
  hub_jwt_key_t *key = NULL;
  int rc = hub_jwt_key_rs256_pem(&key, pem, strlen(pem));
  check_rc("hub_jwt_key_rs256_pem", rc, 0);
  return keep_key(key);
}

static void expect_key_refused(const char *what, const char *pem, size_t len,
                               int want) {
  hub_jwt_key_t *const untouched = (hub_jwt_key_t *)(uintptr_t)0x1234;
  hub_jwt_key_t *key = untouched;

  set_context("%s", what);
  check_rc("hub_jwt_key_rs256_pem", hub_jwt_key_rs256_pem(&key, pem, len),
           want);
  assert_ptr_equal(key, untouched);
  context[0] = '\0';
}

static int group_setup(void **state) {
  (void)state;
  rsa_priv = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  rsa_weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  ec_priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  return rsa_priv && rsa_other && rsa_weak && ec_priv ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  EVP_PKEY_free(rsa_priv);
  EVP_PKEY_free(rsa_other);
  EVP_PKEY_free(rsa_weak);
  EVP_PKEY_free(ec_priv);
  return 0;
}

/* ---- spec/: the §9 vectors ---------------------------------------------- */

static void spec_token_typ_jwt(void **state) {
  hub_claims_t claims;
  (void)state;

  check_rc("verify", verify_at(dev_key(), SPEC_TOKEN_TYP, NOW, 0, &claims), 0);
  check_star_claims(&claims);
  hub_claims_cleanup(&claims);
  check_zeroed(&claims);
  hub_claims_cleanup(&claims); /* twice is harmless */
}

static void spec_token_conformance(void **state) {
  hub_claims_t claims;
  (void)state;

  check_rc("verify", verify_at(dev_key(), SPEC_TOKEN_CT, NOW, 0, &claims), 0);
  check_star_claims(&claims);
  hub_claims_cleanup(&claims);
  /* No exp: valid at any time. */
  expect_at(dev_key(), SPEC_TOKEN_CT, 0, 0, 0);
  expect_at(dev_key(), SPEC_TOKEN_CT, INT64_MAX, 0, 0);
  expect_at(dev_key(), SPEC_TOKEN_CT, INT64_MIN, INT64_MAX, 0);
}

/* The test's own signer reproduces §9 byte for byte, so the tokens it
 * builds elsewhere differ from valid ones only where a case says. */
static void spec_signer_reproduces_vectors(void **state) {
  (void)state;
  assert_string_equal(
      dev_token_h("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", SPEC_PAYLOAD),
      SPEC_TOKEN_TYP);
  assert_string_equal(dev_token(SPEC_PAYLOAD), SPEC_TOKEN_CT);
  assert_string_equal(b64url("{\"alg\":\"HS256\"}"), "eyJhbGciOiJIUzI1NiJ9");
}

/* The token need not be NUL-terminated: only len bytes are read (ASan
 * catches a read past an exact-size copy), and a shorter len is a shorter
 * token. */
static void spec_token_not_nul_terminated(void **state) {
  size_t len = strlen(SPEC_TOKEN_CT);
  char *exact = keep(malloc(len));
  char *padded = str_printf("%s.garbage", SPEC_TOKEN_CT);
  (void)state;

  memcpy(exact, SPEC_TOKEN_CT, len);
  expect_n(dev_key(), exact, len, NOW, 0, 0);
  expect_n(dev_key(), padded, len, NOW, 0, 0);
  expect_n(dev_key(), padded, len + 1, NOW, 0, HUB_JWT_EMALFORMED);
  /* Shorter lengths cut the signature: one byte short it ends in '_',
   * whose unused bits are then non-zero; two short, 41 % 4 == 1 characters
   * decode to nothing; three short, it is a valid but short signature. */
  expect_n(dev_key(), exact, len - 1, NOW, 0, HUB_JWT_EMALFORMED);
  expect_n(dev_key(), exact, len - 2, NOW, 0, HUB_JWT_EMALFORMED);
  expect_n(dev_key(), exact, len - 3, NOW, 0, HUB_JWT_ESIGNATURE);
  expect_n(dev_key(), exact, 0, NOW, 0, HUB_JWT_EMALFORMED);
  expect_n(dev_key(), NULL, 0, NOW, 0, HUB_JWT_EMALFORMED);
}

/* ---- sig/: signatures --------------------------------------------------- */

static void sig_wrong_key(void **state) {
  hub_jwt_key_t *other = NULL;
  static const char secret[] = "another secret, also 32 bytes ok";
  (void)state;

  assert_int_equal(hub_jwt_key_hs256(&other, secret, strlen(secret)), 0);
  keep_key(other);
  /* The dev token under another key, and a token signed with another key
   * under the dev key. */
  expect(other, SPEC_TOKEN_CT, HUB_JWT_ESIGNATURE);
  expect(dev_key(),
         hmac_token(EVP_sha256(), secret, strlen(secret), HS256_HEADER,
                    SPEC_PAYLOAD),
         HUB_JWT_ESIGNATURE);
  /* A secret that is a prefix of the right one, or one byte longer. */
  assert_int_equal(
      hub_jwt_key_hs256(&other, DEV_SECRET, strlen(DEV_SECRET) - 1), 0);
  keep_key(other);
  expect(other, SPEC_TOKEN_CT, HUB_JWT_ESIGNATURE);
  assert_int_equal(
      hub_jwt_key_hs256(&other, DEV_SECRET "x", strlen(DEV_SECRET) + 1), 0);
  keep_key(other);
  expect(other, SPEC_TOKEN_CT, HUB_JWT_ESIGNATURE);
}

/* Change every character of the signature in turn. All but the last are
 * plain mismatches; the last of 43 characters carries 2 unused bits, so a
 * change there is either a mismatch or a non-canonical encoding. */
static void sig_every_char_flipped(void **state) {
  hub_jwt_key_t *key = dev_key();
  size_t off = sig_offset(SPEC_TOKEN_CT), len = strlen(SPEC_TOKEN_CT);
  (void)state;

  assert_int_equal(len - off, 43);
  for (size_t i = off; i < len; i++) {
    char c = SPEC_TOKEN_CT[i];
    char flipped = c == 'A' ? 'B' : 'A';
    set_context("signature char %zu '%c' -> '%c'", i - off, c, flipped);
    if (i + 1 < len)
      expect(key, with_char(SPEC_TOKEN_CT, i, flipped), HUB_JWT_ESIGNATURE);
  }
  /* 'g' (100000b) -> 'h' (100001b): only the unused bits differ. */
  assert_int_equal(SPEC_TOKEN_CT[len - 1], 'g');
  expect(key, with_char(SPEC_TOKEN_CT, len - 1, 'h'), HUB_JWT_EMALFORMED);
  /* 'g' -> 'w' (110000b): a used bit differs. */
  expect(key, with_char(SPEC_TOKEN_CT, len - 1, 'w'), HUB_JWT_ESIGNATURE);
}

/* The signed bytes are the received ones: touching header or payload
 * breaks the signature, even where the decoded JSON would mean the same. */
static void sig_covers_received_bytes(void **state) {
  hub_jwt_key_t *key = dev_key();
  size_t sig = sig_offset(SPEC_TOKEN_CT);
  char *t;
  (void)state;

  /* Header of one §9 token with payload and signature of the other. */
  expect(key,
         str_printf("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.%s",
                    strchr(SPEC_TOKEN_CT, '.') + 1),
         HUB_JWT_ESIGNATURE);
  /* One payload character changed ('J' of "eyJ..." -> 'K'). */
  t = with_char(SPEC_TOKEN_CT, strlen("eyJhbGciOiJIUzI1NiJ9.ey"), 'K');
  expect(key, t, HUB_JWT_ESIGNATURE);
  /* Same JSON, other bytes: a space in the header. */
  t = str_printf("%s.%s", b64url("{\"alg\": \"HS256\"}"),
                 strchr(SPEC_TOKEN_CT, '.') + 1);
  expect(key, t, HUB_JWT_ESIGNATURE);
  /* Signature too short, too long, empty. */
  t = str_printf("%.*s", (int)(strlen(SPEC_TOKEN_CT) - 3), SPEC_TOKEN_CT);
  expect(key, t, HUB_JWT_ESIGNATURE);
  expect(key, str_printf("%sAAAA", SPEC_TOKEN_CT), HUB_JWT_ESIGNATURE);
  expect(key, str_printf("%.*s", (int)sig, SPEC_TOKEN_CT), HUB_JWT_ESIGNATURE);
}

/* ---- alg/: algorithm checks --------------------------------------------- */

static void alg_none(void **state) {
  hub_jwt_key_t *key = dev_key();
  hub_jwt_key_t *rs = rs_key_from(public_pem(rsa_priv, false));
  char *input = signing_input("{\"alg\":\"none\"}", SPEC_PAYLOAD);
  char *typ = signing_input("{\"alg\":\"none\",\"typ\":\"JWT\"}", SPEC_PAYLOAD);
  (void)state;

  /* The unsecured JWS of RFC 7515 appendix A.5: empty signature. */
  expect(key, str_printf("%s.", input), HUB_JWT_EALG);
  expect(rs, str_printf("%s.", input), HUB_JWT_EALG);
  expect(key, str_printf("%s.", typ), HUB_JWT_EALG);
  /* With the signature of a valid token attached. */
  expect(key,
         str_printf("%s.%s", input, &SPEC_TOKEN_CT[sig_offset(SPEC_TOKEN_CT)]),
         HUB_JWT_EALG);
  /* Spelled otherwise. */
  expect(key,
         str_printf("%s.", signing_input("{\"alg\":\"None\"}", SPEC_PAYLOAD)),
         HUB_JWT_EALG);
  expect(key,
         str_printf("%s.", signing_input("{\"alg\":\"NONE\"}", SPEC_PAYLOAD)),
         HUB_JWT_EALG);
}

/* Correctly signed, but with an algorithm the key does not have. */
static void alg_other_hmac(void **state) {
  hub_jwt_key_t *key = dev_key();
  (void)state;

  expect(key,
         hmac_token(EVP_sha512(), DEV_SECRET, strlen(DEV_SECRET),
                    "{\"alg\":\"HS512\"}", SPEC_PAYLOAD),
         HUB_JWT_EALG);
  expect(key,
         hmac_token(EVP_sha384(), DEV_SECRET, strlen(DEV_SECRET),
                    "{\"alg\":\"HS384\"}", SPEC_PAYLOAD),
         HUB_JWT_EALG);
  /* Right MAC, wrong name: the name decides. */
  static const char *const names[] = {
      "{\"alg\":\"hs256\"}",        "{\"alg\":\"HS256 \"}",
      "{\"alg\":\" HS256\"}",       "{\"alg\":\"HS2560\"}",
      "{\"alg\":\"HS25\"}",         "{\"alg\":\"\"}",
      "{\"alg\":\"RS256\"}",        "{\"alg\":\"ES256\"}",
      "{\"alg\":\"PS256\"}",        "{\"alg\":\"EdDSA\"}",
      "{\"alg\":\"HS256\\u0000\"}",
  };
  for (size_t i = 0; i < COUNT(names); i++) {
    set_context("header %s", names[i]);
    /* "\u0000" is refused by the parser (no NUL in strings): malformed. */
    expect(key, dev_token_h(names[i], SPEC_PAYLOAD),
           i == COUNT(names) - 1 ? HUB_JWT_EMALFORMED : HUB_JWT_EALG);
  }
}

static void alg_family_confusion(void **state) {
  char *pem = public_pem(rsa_priv, false);
  hub_jwt_key_t *rs = rs_key_from(pem);
  hub_jwt_key_t *hs = dev_key();
  hub_jwt_key_t *pem_secret = NULL;
  char *rs_tok = rs_token(rsa_priv, RS256_HEADER, SPEC_PAYLOAD);
  (void)state;

  expect(rs, rs_tok, 0);
  /* RS256 token to an HS256 key, HS256 token to an RS256 key. */
  expect(hs, rs_tok, HUB_JWT_EALG);
  expect(rs, SPEC_TOKEN_CT, HUB_JWT_EALG);
  /* The classic attack: an HS256 token whose "secret" is the public PEM. */
  char *forged =
      hmac_token(EVP_sha256(), pem, strlen(pem), HS256_HEADER, SPEC_PAYLOAD);
  expect(rs, forged, HUB_JWT_EALG);
  /* (Which a key built from that text would accept: the key decides.) */
  assert_int_equal(hub_jwt_key_hs256(&pem_secret, pem, strlen(pem)), 0);
  keep_key(pem_secret);
  expect(pem_secret, forged, 0);
}

static void alg_wrong_type_or_missing(void **state) {
  static const char *const headers[] = {
      "{}",
      "{\"typ\":\"JWT\"}",
      "{\"alg\":null}",
      "{\"alg\":256}",
      "{\"alg\":true}",
      "{\"alg\":[\"HS256\"]}",
      "{\"alg\":{\"name\":\"HS256\"}}",
      "{\"ALG\":\"HS256\"}",
  };
  hub_jwt_key_t *key = dev_key();
  (void)state;

  for (size_t i = 0; i < COUNT(headers); i++) {
    set_context("header %s", headers[i]);
    expect(key, dev_token_h(headers[i], SPEC_PAYLOAD), HUB_JWT_EMALFORMED);
  }
}

/* No extension is understood, so any "crit" refuses the token. */
static void alg_crit(void **state) {
  static const char *const headers[] = {
      "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
      "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}",
      "{\"alg\":\"HS256\",\"crit\":[]}",
      "{\"alg\":\"HS256\",\"crit\":\"x\"}",
      "{\"alg\":\"HS256\",\"crit\":null}",
  };
  hub_jwt_key_t *key = dev_key();
  (void)state;

  for (size_t i = 0; i < COUNT(headers); i++) {
    set_context("header %s", headers[i]);
    expect(key, dev_token_h(headers[i], SPEC_PAYLOAD), HUB_JWT_EALG);
  }
  /* Other header parameters are ignored. */
  expect(key,
         dev_token_h("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\","
                     "\"cty\":\"x\",\"b64\":false}",
                     SPEC_PAYLOAD),
         0);
}

/* ---- header/: the protected header ------------------------------------- */

static void header_not_json_or_not_object(void **state) {
  static const char *const headers[] = {
      "not json",
      "{\"alg\":\"HS256\"",
      "{\"alg\":\"HS256\"}x",
      "{\"alg\":\"HS256\"}{}",
      "{'alg':'HS256'}",
      "{\"alg\":\"HS256\",}",
      "[\"HS256\"]",
      "[]",
      "\"HS256\"",
      "256",
      "null",
      "true",
      " ",
      "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", /* duplicate key */
      "{\"alg\":\"HS256\",\"x\":\"\xff\"}",    /* not UTF-8 */
  };
  hub_jwt_key_t *key = dev_key();
  (void)state;

  for (size_t i = 0; i < COUNT(headers); i++) {
    set_context("header %s", headers[i]);
    expect(key, dev_token_h(headers[i], SPEC_PAYLOAD), HUB_JWT_EMALFORMED);
  }
  /* Whitespace around a valid object is fine (the bytes are signed). */
  expect(key, dev_token_h(" {\"alg\" : \"HS256\"}\n", SPEC_PAYLOAD), 0);
}

/* ---- shape/: segments and base64url ------------------------------------ */

static void shape_segments(void **state) {
  hub_jwt_key_t *key = dev_key();
  const char *p = strchr(SPEC_TOKEN_CT, '.') + 1; /* payload.signature */
  char *header =
      str_printf("%.*s", (int)(p - 1 - SPEC_TOKEN_CT), SPEC_TOKEN_CT);
  char *payload = str_printf("%.*s", (int)(strchr(p, '.') - p), p);
  const char *sig = &SPEC_TOKEN_CT[sig_offset(SPEC_TOKEN_CT)];
  const char *const cases[] = {
      "",
      ".",
      "..",
      "...",
      header,
      str_printf("%s.%s", header, payload),
      str_printf("%s.%s.%s.%s", header, payload, sig, sig),
      str_printf("%s.", SPEC_TOKEN_CT),
      str_printf("%s..", SPEC_TOKEN_CT),
      str_printf(".%s", SPEC_TOKEN_CT),
      str_printf(".%s.%s", payload, sig),
      str_printf("%s..%s", header, sig),
      str_printf("..%s", sig),
      str_printf("%s.%s.%s.", header, payload, sig),
  };
  (void)state;

  for (size_t i = 0; i < COUNT(cases); i++) {
    set_context("case %zu: \"%s\"", i, cases[i]);
    expect(key, cases[i], HUB_JWT_EMALFORMED);
  }
  /* An empty signature is well-formed and wrong. */
  expect(key, str_printf("%s.%s.", header, payload), HUB_JWT_ESIGNATURE);
}

/* Every segment refuses padding and characters outside base64url. */
static void shape_base64url_alphabet(void **state) {
  static const char *const inserts[] = {
      "=",  "==",   "+", "/",   " ",    "\t",
      "\n", "\r\n", "$", "%3D", "\x80", "\xc3\xa9",
  };
  hub_jwt_key_t *key = dev_key();
  const char *t = SPEC_TOKEN_CT;
  size_t d1 = (size_t)(strchr(t, '.') - t), d2 = sig_offset(t) - 1;
  const size_t at[] = {d1,     d2, strlen(t), 0,      d1 + 1,
                       d2 + 1, 5,  d1 + 10,   d2 + 10};
  (void)state;

  for (size_t i = 0; i < COUNT(inserts); i++)
    for (size_t j = 0; j < COUNT(at); j++) {
      char *bad = str_printf("%.*s%s%s", (int)at[j], t, inserts[i], t + at[j]);
      set_context("\"%s\" inserted at %zu", inserts[i], at[j]);
      expect(key, bad, HUB_JWT_EMALFORMED);
    }
  /* A NUL byte inside len. */
  char *nul = str_printf("%s", t);
  nul[d1 + 3] = '\0';
  expect_n(key, nul, strlen(t), NOW, 0, HUB_JWT_EMALFORMED);
  /* Standard base64 instead of base64url: the signature holds '-' and
   * '_', which become '+' and '/'. */
  char *std = str_printf("%s", t);
  for (char *c = std; *c; c++)
    *c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
  expect(key, std, HUB_JWT_EMALFORMED);
  /* With "Bearer " still in front. */
  expect(key, str_printf("Bearer %s", t), HUB_JWT_EMALFORMED);
  /* The payload padded to a multiple of 4 (63 characters + "="). */
  char *pad = str_printf("%.*s=%s", (int)d2, t, t + d2);
  expect(key, pad, HUB_JWT_EMALFORMED);
}

/* Lengths with a lone last character (n % 4 == 1) and non-zero unused bits
 * cannot come from any byte string. */
static void shape_base64url_canonical(void **state) {
  hub_jwt_key_t *key = dev_key();
  const char *t = SPEC_TOKEN_CT;
  size_t d2 = sig_offset(t) - 1;
  (void)state;

  /* Header of 20 characters + 1. */
  expect(key, str_printf("%.*sA%s", 20, t, t + 20), HUB_JWT_EMALFORMED);
  /* The header "{}" encodes as "e30"; "e31" has a non-zero unused bit. */
  expect(key, str_printf("e31.%s", strchr(t, '.') + 1), HUB_JWT_EMALFORMED);
  expect(key, str_printf("e30.%s", strchr(t, '.') + 1), HUB_JWT_EMALFORMED);
  /* The payload's last character "0" (110100b) carries 2 unused bits, as
   * the segment has 63 % 4 == 3 characters: "1" differs only there. */
  assert_int_equal(t[d2 - 1], '0');
  expect(key, with_char(t, d2 - 1, '1'), HUB_JWT_EMALFORMED);
}

/* ---- payload/ and claims/ ---------------------------------------------- */

static void payload_not_object(void **state) {
  static const char *const payloads[] = {
      "[]",
      "[{\"mercure\":{}}]",
      "\"mercure\"",
      "42",
      "null",
      "true",
      "not json",
      "{",
      "{\"mercure\":{}}x",
      "{\"mercure\":{}}{}",
      "{\"exp\":1,\"exp\":2}", /* duplicate key */
      "{\"mercure\":{\"publish\":[\"a\"],\"publish\":[\"*\"]}}",
      "{\"mercure\":{\"publish\":[\"\xff\"]}}",      /* not UTF-8 */
      "{\"mercure\":{\"publish\":[\"a\\u0000b\"]}}", /* NUL in a string */
      "{\"n\":100000000000000000000}",               /* beyond int64 */
      "{\"n\":1e999}",                               /* beyond double */
  };
  hub_jwt_key_t *key = dev_key();
  (void)state;

  for (size_t i = 0; i < COUNT(payloads); i++) {
    set_context("payload %s", payloads[i]);
    expect(key, dev_token(payloads[i]), HUB_JWT_EMALFORMED);
  }
  /* Also the empty payload segment. */
  expect(key,
         str_printf("eyJhbGciOiJIUzI1NiJ9..%s",
                    &SPEC_TOKEN_CT[sig_offset(SPEC_TOKEN_CT)]),
         HUB_JWT_EMALFORMED);
  /* An empty object is a valid token without claims. */
  expect(key, dev_token("{}"), 0);
}

static void claims_wrong_types(void **state) {
  static const char *const payloads[] = {
      "{\"mercure\":\"*\"}",
      "{\"mercure\":1}",
      "{\"mercure\":[]}",
      "{\"mercure\":true}",
      "{\"mercure\":{\"publish\":\"*\"}}",
      "{\"mercure\":{\"publish\":{\"0\":\"*\"}}}",
      "{\"mercure\":{\"publish\":[1]}}",
      "{\"mercure\":{\"publish\":[\"a\",null]}}",
      "{\"mercure\":{\"publish\":[[\"a\"]]}}",
      "{\"mercure\":{\"publish\":true}}",
      "{\"mercure\":{\"subscribe\":\"*\"}}",
      "{\"mercure\":{\"subscribe\":[{}]}}",
      "{\"mercure\":{\"subscribe\":[\"*\",false]}}",
      "{\"mercure\":{\"subscribe\":42}}",
      "{\"https://mercure.rocks/\":\"*\"}",
      "{\"https://mercure.rocks/\":[]}",
      "{\"https://mercure.rocks/\":{\"publish\":\"*\"}}",
      "{\"exp\":\"1750000100\"}",
      "{\"exp\":null}",
      "{\"exp\":true}",
      "{\"exp\":[1750000100]}",
      "{\"exp\":{}}",
      "{\"nbf\":\"0\"}",
      "{\"nbf\":null}",
      "{\"mercure\":{\"publish\":[\"*\"]},\"exp\":\"x\"}",
  };
  hub_jwt_key_t *key = dev_key();
  (void)state;

  for (size_t i = 0; i < COUNT(payloads); i++) {
    set_context("payload %s", payloads[i]);
    expect(key, dev_token(payloads[i]), HUB_JWT_EMALFORMED);
  }
}

static void claims_absent_null_empty(void **state) {
  hub_jwt_key_t *key = dev_key();
  hub_claims_t c;
  (void)state;

  static const char *const none[] = {
      "{}",
      "{\"mercure\":null}",
      "{\"mercure\":{}}",
      "{\"mercure\":{\"publish\":null,\"subscribe\":null,\"payload\":null}}",
      "{\"sub\":\"x\",\"aud\":\"y\",\"iat\":\"not checked\"}",
      "{\"https://mercure.rocks/\":null}",
  };
  for (size_t i = 0; i < COUNT(none); i++) {
    set_context("payload %s", none[i]);
    check_rc("verify", verify_at(key, dev_token(none[i]), NOW, 0, &c), 0);
    check_zeroed(&c);
    hub_claims_cleanup(&c);
  }

  check_rc("verify",
           verify_at(key,
                     dev_token("{\"mercure\":{\"publish\":[],"
                               "\"subscribe\":[\"a\"]}}"),
                     NOW, 0, &c),
           0);
  assert_true(c.has_publish);
  assert_null(c.publish);
  assert_int_equal(c.npublish, 0);
  assert_true(c.has_subscribe);
  check_list("subscribe", c.subscribe, c.nsubscribe, (const char *const[]){"a"},
             1);
  hub_claims_cleanup(&c);
}

static void claims_strings_decoded(void **state) {
  static const char *const want[] = {
      "https://example.com/books/{id}",
      "caf\xc3\xa9",
      "a\"b\\c/d",
      "",
      "\xf0\x9f\x98\x80",
      "https://example.com/users/foo/{?topic}",
  };
  hub_jwt_key_t *key = dev_key();
  hub_claims_t c;
  (void)state;

  check_rc("verify",
           verify_at(key,
                     dev_token("{\"mercure\":{\"subscribe\":["
                               "\"https:\\/\\/example.com/books/{id}\","
                               "\"caf\\u00e9\",\"a\\\"b\\\\c\\/d\",\"\","
                               "\"\\ud83d\\ude00\","
                               "\"https://example.com/users/foo/{?topic}\"]}}"),
                     NOW, 0, &c),
           0);
  assert_false(c.has_publish);
  assert_null(c.publish);
  check_list("subscribe", c.subscribe, c.nsubscribe, want, COUNT(want));
  hub_claims_cleanup(&c);
}

/* Arrays of up to 1000 selectors are accepted, 1001 refused. */
static void claims_array_limit(void **state) {
  hub_jwt_key_t *key = dev_key();
  hub_claims_t c;
  (void)state;

  for (size_t n = 999; n <= 1001; n++) {
    size_t cap = 32 + n * 16;
    char *json = keep(malloc(cap));
    size_t o = (size_t)snprintf(json, cap, "{\"mercure\":{\"publish\":[");
    for (size_t i = 0; i < n; i++)
      o += (size_t)snprintf(json + o, cap - o, "%s\"t%zu\"", i ? "," : "", i);
    snprintf(json + o, cap - o, "]}}");
    set_context("%zu publish selectors", n);
    int rc = verify_at(key, dev_token(json), NOW, 0, &c);
    if (n > 1000) {
      check_rc("verify", rc, HUB_JWT_EMALFORMED);
      check_zeroed(&c);
      continue;
    }
    check_rc("verify", rc, 0);
    assert_int_equal(c.npublish, n);
    assert_string_equal(c.publish[0], "t0");
    assert_string_equal(c.publish[n - 1], str_printf("t%zu", n - 1));
    hub_claims_cleanup(&c);
  }
  /* The same for subscribe. */
  char *big = keep(malloc(8 + 1001 * 4 + 40));
  size_t o = (size_t)sprintf(big, "{\"mercure\":{\"subscribe\":[");
  for (size_t i = 0; i < 1001; i++)
    o += (size_t)sprintf(big + o, "%s\"*\"", i ? "," : "");
  sprintf(big + o, "]}}");
  expect(key, dev_token(big), HUB_JWT_EMALFORMED);
}

static void claims_payload_reserialised(void **state) {
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"{ \"a\" : [ 1, 2.5, \"x\", true, null ], \"b\" : { } }",
       "{\"a\":[1,2.5,\"x\",true,null],\"b\":{}}"},
      {"{\"z\":1,\"a\":2,\"m\":{\"y\":[],\"b\":-3}}",
       "{\"z\":1,\"a\":2,\"m\":{\"y\":[],\"b\":-3}}"},
      {"{\"u\":\"caf\\u00e9 \\/ \\\"q\\\" \\n\"}",
       "{\"u\":\"caf\xc3\xa9 / \\\"q\\\" \\n\"}"},
      {"\"just a string\"", "\"just a string\""},
      {"42", "42"},
      {"-0.5", "-0.5"},
      {"true", "true"},
      {"[]", "[]"},
      {"{\"username\":\"alice\"}", "{\"username\":\"alice\"}"},
  };
  hub_jwt_key_t *key = dev_key();
  hub_claims_t c;
  (void)state;

  for (size_t i = 0; i < COUNT(cases); i++) {
    char *payload = str_printf(
        "{\"mercure\":{\"subscribe\":[\"*\"],\"payload\":%s}}", cases[i].in);
    set_context("payload %s", cases[i].in);
    check_rc("verify", verify_at(key, dev_token(payload), NOW, 0, &c), 0);
    assert_non_null(c.payload);
    assert_string_equal(c.payload, cases[i].out);
    hub_claims_cleanup(&c);
  }
}

/* The reference hub also reads claims from "https://mercure.rocks/", which
 * wins over "mercure" when it is an object. */
static void claims_namespaced_key(void **state) {
  hub_jwt_key_t *key = dev_key();
  hub_claims_t c;
  static const char *const a[] = {"a"}, *const b[] = {"b"};
  (void)state;

  check_rc(
      "verify",
      verify_at(key,
                dev_token("{\"https://mercure.rocks/\":{\"publish\":[\"a\"],"
                          "\"subscribe\":[\"b\"],\"payload\":{\"k\":1}}}"),
                NOW, 0, &c),
      0);
  check_list("publish", c.publish, c.npublish, a, 1);
  check_list("subscribe", c.subscribe, c.nsubscribe, b, 1);
  assert_string_equal(c.payload, "{\"k\":1}");
  hub_claims_cleanup(&c);

  check_rc(
      "verify",
      verify_at(key,
                dev_token("{\"mercure\":{\"publish\":[\"a\"]},"
                          "\"https://mercure.rocks/\":{\"publish\":[\"b\"]}}"),
                NOW, 0, &c),
      0);
  check_list("publish", c.publish, c.npublish, b, 1);
  assert_false(c.has_subscribe);
  hub_claims_cleanup(&c);

  check_rc("verify",
           verify_at(key,
                     dev_token("{\"https://mercure.rocks/\":null,"
                               "\"mercure\":{\"publish\":[\"a\"]}}"),
                     NOW, 0, &c),
           0);
  check_list("publish", c.publish, c.npublish, a, 1);
  hub_claims_cleanup(&c);

  /* Only the exact key counts. */
  check_rc(
      "verify",
      verify_at(key,
                dev_token("{\"https://mercure.rocks\":{\"publish\":[\"a\"]}}"),
                NOW, 0, &c),
      0);
  assert_false(c.has_publish);
  hub_claims_cleanup(&c);
}

/* ---- time/: exp and nbf ------------------------------------------------- */

static char *timed(const char *claims) {
  return dev_token(
      str_printf("{\"mercure\":{\"subscribe\":[\"*\"]},%s}", claims));
}

static void time_exp(void **state) {
  hub_jwt_key_t *key = dev_key();
  hub_claims_t c;
  (void)state;

  /* In the past, exactly now (exp is the first invalid second), one second
   * ahead. */
  expect(key, timed(str_printf("\"exp\":%lld", (long long)NOW - 3600)),
         HUB_JWT_EEXPIRED);
  expect(key, timed(str_printf("\"exp\":%lld", (long long)NOW)),
         HUB_JWT_EEXPIRED);
  check_rc("verify",
           verify_at(key, timed(str_printf("\"exp\":%lld", (long long)NOW + 1)),
                     NOW, 0, &c),
           0);
  assert_true(c.has_exp);
  assert_int_equal(c.exp, NOW + 1);
  hub_claims_cleanup(&c);
  /* Fractions: valid while now < exp, reported rounded up. */
  check_rc("verify", verify_at(key, timed("\"exp\":1000.5"), 1000, 0, &c), 0);
  assert_int_equal(c.exp, 1001);
  hub_claims_cleanup(&c);
  expect_at(key, timed("\"exp\":1000.5"), 1001, 0, HUB_JWT_EEXPIRED);
  expect_at(key, timed("\"exp\":1000.0"), 1000, 0, HUB_JWT_EEXPIRED);
  expect_at(key, timed("\"exp\":1000.0"), 999, 0, 0);
  expect_at(key, timed("\"exp\":-0.5"), -1, 0, 0);
  expect_at(key, timed("\"exp\":-0.5"), 0, 0, HUB_JWT_EEXPIRED);
  /* Far ends saturate. */
  check_rc("verify", verify_at(key, timed("\"exp\":1e300"), NOW, 0, &c), 0);
  assert_int_equal(c.exp, INT64_MAX);
  hub_claims_cleanup(&c);
  expect(key, timed("\"exp\":-1e300"), HUB_JWT_EEXPIRED);
  expect(key, timed("\"exp\":0"), HUB_JWT_EEXPIRED);
  expect_at(key, timed("\"exp\":9223372036854775807"), INT64_MAX, 0,
            HUB_JWT_EEXPIRED);
  expect_at(key, timed("\"exp\":-9223372036854775807"), INT64_MIN, 0, 0);
}

static void time_nbf(void **state) {
  hub_jwt_key_t *key = dev_key();
  (void)state;

  expect(key, timed(str_printf("\"nbf\":%lld", (long long)NOW + 1)),
         HUB_JWT_ENOTYET);
  expect(key, timed(str_printf("\"nbf\":%lld", (long long)NOW)), 0);
  expect(key, timed(str_printf("\"nbf\":%lld", (long long)NOW - 1)), 0);
  expect_at(key, timed("\"nbf\":1000.5"), 1000, 0, HUB_JWT_ENOTYET);
  expect_at(key, timed("\"nbf\":1000.5"), 1001, 0, 0);
  /* 1e300 saturates to INT64_MAX, still later than any other now. */
  expect_at(key, timed("\"nbf\":1e300"), INT64_MAX - 1, 0, HUB_JWT_ENOTYET);
  expect_at(key, timed("\"nbf\":-1e300"), INT64_MIN, 0, 0);
  /* Both bounds: the window [nbf, exp). */
  char *window = timed(str_printf("\"nbf\":%lld,\"exp\":%lld", (long long)NOW,
                                  (long long)NOW + 10));
  expect_at(key, window, NOW - 1, 0, HUB_JWT_ENOTYET);
  expect_at(key, window, NOW, 0, 0);
  expect_at(key, window, NOW + 9, 0, 0);
  expect_at(key, window, NOW + 10, 0, HUB_JWT_EEXPIRED);
  /* An empty window reports expiry first. */
  expect(key,
         timed(str_printf("\"nbf\":%lld,\"exp\":%lld", (long long)NOW + 10,
                          (long long)NOW - 10)),
         HUB_JWT_EEXPIRED);
}

static void time_leeway(void **state) {
  hub_jwt_key_t *key = dev_key();
  (void)state;

  /* exp <= now - leeway is expired. */
  char *exp = timed(str_printf("\"exp\":%lld", (long long)NOW));
  expect_at(key, exp, NOW, 1, 0);
  expect_at(key, exp, NOW + 9, 10, 0);
  expect_at(key, exp, NOW + 10, 10, HUB_JWT_EEXPIRED);
  expect_at(key, exp, NOW + 11, 10, HUB_JWT_EEXPIRED);
  /* nbf > now + leeway is not yet valid. */
  char *nbf = timed(str_printf("\"nbf\":%lld", (long long)NOW));
  expect_at(key, nbf, NOW - 10, 10, 0);
  expect_at(key, nbf, NOW - 11, 10, HUB_JWT_ENOTYET);
  /* A negative leeway is none. */
  expect_at(key, exp, NOW - 1, -100, 0);
  expect_at(key, exp, NOW, -100, HUB_JWT_EEXPIRED);
  expect_at(key, nbf, NOW, -100, 0);
  expect_at(key, nbf, NOW - 1, -100, HUB_JWT_ENOTYET);
  /* Huge values saturate instead of overflowing (UBSan watches). */
  expect_at(key, exp, INT64_MIN, INT64_MAX, 0);
  expect_at(key, nbf, INT64_MAX, INT64_MAX, 0);
  expect_at(key, nbf, INT64_MIN, INT64_MAX, HUB_JWT_ENOTYET);
  expect_at(key, timed("\"exp\":-9223372036854775807"), INT64_MIN + 1,
            INT64_MAX, 0);
}

/* The first failing step decides the code. */
static void order_of_checks(void **state) {
  hub_jwt_key_t *key = dev_key();
  char *expired_bad_claims = dev_token("{\"exp\":1,\"mercure\":\"x\"}");
  char *expired = dev_token("{\"exp\":1}");
  (void)state;

  /* A malformed claim beats expiry. */
  expect(key, expired_bad_claims, HUB_JWT_EMALFORMED);
  /* A bad signature beats a malformed payload and expiry. */
  expect(key,
         with_char(expired_bad_claims, sig_offset(expired_bad_claims),
                   expired_bad_claims[sig_offset(expired_bad_claims)] == 'A'
                       ? 'B'
                       : 'A'),
         HUB_JWT_ESIGNATURE);
  expect(key,
         with_char(expired, sig_offset(expired),
                   expired[sig_offset(expired)] == 'A' ? 'B' : 'A'),
         HUB_JWT_ESIGNATURE);
  /* An unsigned payload is never parsed: garbage there with a bad
   * signature is a signature error. */
  expect(key,
         str_printf("%s.%s.%s", b64url(HS256_HEADER), b64url("not json"),
                    &SPEC_TOKEN_CT[sig_offset(SPEC_TOKEN_CT)]),
         HUB_JWT_ESIGNATURE);
  /* The algorithm beats the signature. */
  expect(key,
         str_printf("%s.%s",
                    signing_input("{\"alg\":\"HS512\"}", "{\"exp\":1}"),
                    "AAAA"),
         HUB_JWT_EALG);
  /* The shape of every segment beats the algorithm. */
  expect(key,
         str_printf("%s.%s", signing_input("{\"alg\":\"none\"}", "{}"), "A=="),
         HUB_JWT_EMALFORMED);
}

/* ---- rs256/ ------------------------------------------------------------- */

static void rs256_spki_pkcs1_certificate(void **state) {
  static const char *const pub[] = {"https://example.com/books/{id}"};
  const char *const pems[] = {
      public_pem(rsa_priv, false),
      public_pem(rsa_priv, true),
      certificate_pem(rsa_priv),
  };
  char *tok =
      rs_token(rsa_priv, RS256_HEADER,
               "{\"mercure\":{\"publish\":[\"https://example.com/"
               "books/{id}\"],\"payload\":{\"u\":1}},\"exp\":1750000100}");
  hub_claims_t c;
  (void)state;

  assert_non_null(strstr(pems[0], "-----BEGIN PUBLIC KEY-----"));
  assert_non_null(strstr(pems[1], "-----BEGIN RSA PUBLIC KEY-----"));
  assert_non_null(strstr(pems[2], "-----BEGIN CERTIFICATE-----"));
  for (size_t i = 0; i < COUNT(pems); i++) {
    hub_jwt_key_t *key = rs_key_from(pems[i]);
    set_context("pem %zu", i);
    check_rc("verify", verify_at(key, tok, NOW, 0, &c), 0);
    check_list("publish", c.publish, c.npublish, pub, 1);
    assert_false(c.has_subscribe);
    assert_string_equal(c.payload, "{\"u\":1}");
    assert_true(c.has_exp);
    assert_int_equal(c.exp, 1750000100);
    hub_claims_cleanup(&c);
    expect_at(key, tok, 1750000100, 0, HUB_JWT_EEXPIRED);
    /* Other header parameters do not matter; the algorithm does. */
    expect(key, rs_token(rsa_priv, "{\"alg\":\"RS256\"}", "{}"), 0);
    expect(key, rs_token(rsa_priv, "{\"alg\":\"RS512\"}", "{}"), HUB_JWT_EALG);
    expect(key, rs_token(rsa_priv, "{\"alg\":\"PS256\"}", "{}"), HUB_JWT_EALG);
    expect(key, rs_token(rsa_priv, "{\"alg\":\"rs256\"}", "{}"), HUB_JWT_EALG);
  }
}

static void rs256_pem_framing(void **state) {
  char *pem = public_pem(rsa_priv, false);
  size_t len = strlen(pem);
  char *exact = keep(malloc(len));
  char *tok = rs_token(rsa_priv, RS256_HEADER, SPEC_PAYLOAD);
  hub_jwt_key_t *key = NULL;
  (void)state;

  /* Not NUL-terminated (exact-size copy: ASan checks the reads). */
  memcpy(exact, pem, len);
  assert_int_equal(hub_jwt_key_rs256_pem(&key, exact, len), 0);
  keep_key(key);
  expect(key, tok, 0);
  /* Text before the block, as in a file with comments. */
  expect(rs_key_from(str_printf("# hub key\nsome words\n%s", pem)), tok, 0);
  /* A certificate chain file: the first certificate's key. */
  expect(rs_key_from(str_printf("%s%s", certificate_pem(rsa_priv),
                                certificate_pem(rsa_other))),
         tok, 0);
}

static void rs256_bad_signatures(void **state) {
  hub_jwt_key_t *key = rs_key_from(public_pem(rsa_priv, false));
  char *tok = rs_token(rsa_priv, RS256_HEADER, SPEC_PAYLOAD);
  size_t off = sig_offset(tok), len = strlen(tok);
  (void)state;

  expect(key, tok, 0);
  /* One signature character changed, at a few places. */
  const size_t at[] = {off, off + 1, off + 100, len - 2};
  for (size_t i = 0; i < COUNT(at); i++) {
    set_context("signature char %zu", at[i] - off);
    expect(key, with_char(tok, at[i], tok[at[i]] == 'A' ? 'B' : 'A'),
           HUB_JWT_ESIGNATURE);
  }
  /* Signed by another key. */
  expect(key, rs_token(rsa_other, RS256_HEADER, SPEC_PAYLOAD),
         HUB_JWT_ESIGNATURE);
  /* Another payload under this signature. */
  char *other = rs_token(rsa_priv, RS256_HEADER, "{}");
  expect(key, str_printf("%.*s%s", (int)sig_offset(other), other, tok + off),
         HUB_JWT_ESIGNATURE);
  context[0] = '\0';
  /* Too short (by 2 characters: 340 % 4 == 0, so whatever the signature,
   * no unused bits are left to be non-zero), too long, empty, all zero. */
  expect(key, str_printf("%.*s", (int)(len - 2), tok), HUB_JWT_ESIGNATURE);
  expect(key, str_printf("%sAAAA", tok), HUB_JWT_ESIGNATURE);
  expect(key, str_printf("%.*s", (int)off, tok), HUB_JWT_ESIGNATURE);
  unsigned char zero[256] = {0};
  expect(key, str_printf("%.*s%s", (int)off, tok, b64url_n(zero, 256)),
         HUB_JWT_ESIGNATURE);
}

static void rs256_keys_refused(void **state) {
  static const char garbage_pem[] =
      "-----BEGIN PUBLIC KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ==\n"
      "-----END PUBLIC KEY-----\n";
  char *pem = public_pem(rsa_priv, false);
  (void)state;

  expect_key_refused("1024-bit SPKI", public_pem(rsa_weak, false),
                     strlen(public_pem(rsa_weak, false)), HCS_EINVAL);
  expect_key_refused("1024-bit PKCS#1", public_pem(rsa_weak, true),
                     strlen(public_pem(rsa_weak, true)), HCS_EINVAL);
  expect_key_refused("1024-bit certificate", certificate_pem(rsa_weak),
                     strlen(certificate_pem(rsa_weak)), HCS_EINVAL);
  expect_key_refused("EC key", public_pem(ec_priv, false),
                     strlen(public_pem(ec_priv, false)), HCS_EINVAL);
  expect_key_refused("EC certificate", certificate_pem(ec_priv),
                     strlen(certificate_pem(ec_priv)), HCS_EINVAL);
  expect_key_refused("garbage", "garbage", 7, HCS_EINVAL);
  expect_key_refused("bad base64 body", garbage_pem, strlen(garbage_pem),
                     HCS_EINVAL);
  expect_key_refused("truncated", pem, strlen(pem) / 2, HCS_EINVAL);
  expect_key_refused("empty", "", 0, HCS_EINVAL);
  expect_key_refused("NULL", NULL, 0, HCS_EINVAL);
  /* An HS256 secret is not PEM either. */
  expect_key_refused("secret", DEV_SECRET, strlen(DEV_SECRET), HCS_EINVAL);
}

/* A private key PEM is not a public key; refuse it rather than guess. */
static void rs256_private_key_pem(void **state) {
  hub_jwt_key_t *key = NULL;
  char *pem = private_pem(rsa_priv);
  int rc;
  (void)state;

  rc = hub_jwt_key_rs256_pem(&key, pem, strlen(pem));
  check_rc("hub_jwt_key_rs256_pem", rc, HCS_EINVAL);
  assert_null(key);
}

/* ---- keys/ and errors/ -------------------------------------------------- */

static void keys_hs256(void **state) {
  hub_jwt_key_t *const untouched = (hub_jwt_key_t *)(uintptr_t)0x1234;
  hub_jwt_key_t *key = untouched;
  char secret[] = DEV_SECRET;
  (void)state;

  check_rc("empty", hub_jwt_key_hs256(&key, secret, 0), HCS_EINVAL);
  check_rc("NULL", hub_jwt_key_hs256(&key, NULL, 4), HCS_EINVAL);
  check_rc("too long", hub_jwt_key_hs256(&key, secret, (size_t)INT32_MAX + 1),
           HCS_EINVAL);
  assert_ptr_equal(key, untouched);
  /* The secret is copied: changing the caller's buffer afterwards changes
   * nothing. */
  assert_int_equal(hub_jwt_key_hs256(&key, secret, strlen(secret)), 0);
  keep_key(key);
  memset(secret, 'x', strlen(secret));
  expect(key, SPEC_TOKEN_CT, 0);
  /* Short secrets are accepted (documented), binary ones too. */
  static const unsigned char bin[] = {0, 1, 2, 0, 255};
  assert_int_equal(hub_jwt_key_hs256(&key, bin, sizeof(bin)), 0);
  keep_key(key);
  expect(key, hmac_token(EVP_sha256(), bin, sizeof(bin), HS256_HEADER, "{}"),
         0);
  hub_jwt_key_free(NULL);
  hub_claims_cleanup(NULL);
}

static void errors_text(void **state) {
  static const int codes[] = {HUB_JWT_EMALFORMED, HUB_JWT_EALG,
                              HUB_JWT_ESIGNATURE, HUB_JWT_EEXPIRED,
                              HUB_JWT_ENOTYET};
  (void)state;

  for (size_t i = 0; i < COUNT(codes); i++) {
    assert_true(codes[i] <= -7101 && codes[i] >= -7105);
    assert_string_not_equal(hub_jwt_strerror(codes[i]), hcs_strerror(codes[i]));
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(hub_jwt_strerror(codes[i]),
                              hub_jwt_strerror(codes[j]));
  }
  assert_string_equal(hub_jwt_strerror(HUB_JWT_EEXPIRED), "token expired");
  assert_string_equal(hub_jwt_err_name(HUB_JWT_EALG), "EALG");
  assert_string_equal(hub_jwt_strerror(HCS_ENOMEM), hcs_strerror(HCS_ENOMEM));
  assert_string_equal(hub_jwt_err_name(HCS_ENOMEM), "ENOMEM");
  assert_non_null(hub_jwt_strerror(-7199));
  assert_non_null(hub_jwt_strerror(0));
}

/* ---- alloc/: every allocation fails in turn ---------------------------- */

/*
 * Verify token with the N-th allocation of the given kinds failing, N = 1,
 * 2, ..., until a run succeeds. Failures must return HCS_ENOMEM or one of
 * the codes in `also` (0 for none) with claims zeroed; the success must give
 * the same claims as an unhindered run.
 */
static void verify_under_failures(const hub_jwt_key_t *key, const char *token,
                                  int kinds, int also) {
  hub_claims_t want, c;
  unsigned long nth;

  if (!hooks_installed)
    skip();
  /* Warm OpenSSL's caches (fetched algorithms, the error state) first. */
  check_rc("unhindered", verify_at(key, token, NOW, 0, &want), 0);
  for (nth = 1; nth < 10000; nth++) {
    arm_alloc_failure(nth, kinds);
    int rc = verify_at(key, token, NOW, 0, &c);
    arm_alloc_failure(0, 0);
    set_context("allocation %lu (kinds %d) fails", nth, kinds);
    if (rc == 0)
      break;
    if (also == 0 || rc != also)
      check_rc("verify", rc, HCS_ENOMEM);
    check_zeroed(&c);
  }
  assert_true(nth > 2 && nth < 10000);
  assert_int_equal(c.npublish, want.npublish);
  assert_int_equal(c.nsubscribe, want.nsubscribe);
  assert_string_equal(c.payload, want.payload);
  assert_string_equal(c.publish[want.npublish - 1],
                      want.publish[want.npublish - 1]);
  assert_int_equal(c.exp, want.exp);
  hub_claims_cleanup(&c);
  hub_claims_cleanup(&want);
}

#define RICH_PAYLOAD                                                           \
  "{\"mercure\":{\"publish\":[\"a\",\"b\",\"c\"],\"subscribe\":[\"d\"],"       \
  "\"payload\":{\"k\":[1,{\"x\":\"y\"}],\"s\":\"t\"}},\"exp\":1750000100}"

/* Everything jwt.c allocates, and HMAC(), must report HCS_ENOMEM exactly.
 * jansson reports a few of its failed allocations as syntax errors (see
 * parse_object in jwt.c), so when its allocations fail, EMALFORMED is
 * allowed too; the point there is that nothing leaks or crashes. */
static void alloc_hs256_verify(void **state) {
  (void)state;
  verify_under_failures(dev_key(), dev_token(RICH_PAYLOAD), FAIL_OPENSSL, 0);
  verify_under_failures(dev_key(), dev_token(RICH_PAYLOAD), FAIL_JSON,
                        HUB_JWT_EMALFORMED);
  verify_under_failures(dev_key(), dev_token(RICH_PAYLOAD),
                        FAIL_OPENSSL | FAIL_JSON, HUB_JWT_EMALFORMED);
}

/* RSA cannot tell a verification that ran out of memory from a failed one:
 * both refuse the token, as ESIGNATURE. */
static void alloc_rs256_verify(void **state) {
  hub_jwt_key_t *key = rs_key_from(public_pem(rsa_priv, false));
  char *tok = rs_token(rsa_priv, RS256_HEADER, RICH_PAYLOAD);
  (void)state;

  verify_under_failures(key, tok, FAIL_OPENSSL, HUB_JWT_ESIGNATURE);
  verify_under_failures(key, tok, FAIL_JSON, HUB_JWT_EMALFORMED);
}

static void alloc_keys(void **state) {
  const char *const pems[] = {public_pem(rsa_priv, false),
                              public_pem(rsa_priv, true),
                              certificate_pem(rsa_priv)};
  hub_jwt_key_t *const untouched = (hub_jwt_key_t *)(uintptr_t)0x1234;
  hub_jwt_key_t *key;
  unsigned long nth;
  int rc = -1;
  (void)state;

  if (!hooks_installed)
    skip();
  for (nth = 1; nth < 100; nth++) {
    key = untouched;
    arm_alloc_failure(nth, FAIL_OPENSSL);
    rc = hub_jwt_key_hs256(&key, DEV_SECRET, strlen(DEV_SECRET));
    arm_alloc_failure(0, 0);
    if (rc == 0)
      break;
    check_rc("hub_jwt_key_hs256", rc, HCS_ENOMEM);
    assert_ptr_equal(key, untouched);
  }
  assert_int_equal(rc, 0);
  assert_int_equal(nth, 3);
  expect(keep_key(key), SPEC_TOKEN_CT, 0);

  /* OpenSSL's decoders report a failed allocation as a failed decoding,
   * so either code may come back; what matters is no leak and no key. */
  for (size_t i = 0; i < COUNT(pems); i++) {
    rs_key_from(pems[i]); /* warm up */
    for (nth = 1; nth < 100000; nth++) {
      key = untouched;
      arm_alloc_failure(nth, FAIL_OPENSSL);
      rc = hub_jwt_key_rs256_pem(&key, pems[i], strlen(pems[i]));
      arm_alloc_failure(0, 0);
      set_context("pem %zu, allocation %lu fails", i, nth);
      if (rc == 0)
        break;
      if (rc != HCS_EINVAL)
        check_rc("hub_jwt_key_rs256_pem", rc, HCS_ENOMEM);
      assert_ptr_equal(key, untouched);
    }
    check_rc("hub_jwt_key_rs256_pem", rc, 0);
    expect(keep_key(key), rs_token(rsa_priv, RS256_HEADER, "{}"), 0);
  }
}

/* ---- main -----------------------------------------------------------------
 */

static const struct {
  const char *name;
  void (*fn)(void **);
} cases[] = {
    {"spec/token_typ_jwt", spec_token_typ_jwt},
    {"spec/token_conformance", spec_token_conformance},
    {"spec/signer_reproduces_vectors", spec_signer_reproduces_vectors},
    {"spec/token_not_nul_terminated", spec_token_not_nul_terminated},
    {"sig/wrong_key", sig_wrong_key},
    {"sig/every_char_flipped", sig_every_char_flipped},
    {"sig/covers_received_bytes", sig_covers_received_bytes},
    {"alg/none", alg_none},
    {"alg/other_hmac", alg_other_hmac},
    {"alg/family_confusion", alg_family_confusion},
    {"alg/wrong_type_or_missing", alg_wrong_type_or_missing},
    {"alg/crit", alg_crit},
    {"header/not_json_or_not_object", header_not_json_or_not_object},
    {"shape/segments", shape_segments},
    {"shape/base64url_alphabet", shape_base64url_alphabet},
    {"shape/base64url_canonical", shape_base64url_canonical},
    {"payload/not_object", payload_not_object},
    {"claims/wrong_types", claims_wrong_types},
    {"claims/absent_null_empty", claims_absent_null_empty},
    {"claims/strings_decoded", claims_strings_decoded},
    {"claims/array_limit", claims_array_limit},
    {"claims/payload_reserialised", claims_payload_reserialised},
    {"claims/namespaced_key", claims_namespaced_key},
    {"time/exp", time_exp},
    {"time/nbf", time_nbf},
    {"time/leeway", time_leeway},
    {"order/of_checks", order_of_checks},
    {"rs256/spki_pkcs1_certificate", rs256_spki_pkcs1_certificate},
    {"rs256/pem_framing", rs256_pem_framing},
    {"rs256/bad_signatures", rs256_bad_signatures},
    {"rs256/keys_refused", rs256_keys_refused},
    {"rs256/private_key_pem", rs256_private_key_pem},
    {"keys/hs256", keys_hs256},
    {"errors/text", errors_text},
    {"alloc/hs256_verify", alloc_hs256_verify},
    {"alloc/rs256_verify", alloc_rs256_verify},
    {"alloc/keys", alloc_keys},
};

int main(int argc, char **argv) {
  struct CMUnitTest tests[COUNT(cases)];

  /* Must precede every OpenSSL allocation, so it comes first. */
  hooks_installed =
      CRYPTO_set_mem_functions(hook_malloc, hook_realloc, hook_free) == 1;
  json_set_alloc_funcs(hook_json_malloc, hook_json_free);

  memset(tests, 0, sizeof(tests));
  for (size_t i = 0; i < COUNT(cases); i++) {
    tests[i].name = cases[i].name;
    tests[i].test_func = cases[i].fn;
    tests[i].setup_func = setup;
    tests[i].teardown_func = teardown;
  }
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  return _cmocka_run_group_tests("hub_jwt", tests, COUNT(tests), group_setup,
                                 group_teardown);
}
