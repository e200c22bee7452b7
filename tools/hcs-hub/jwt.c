/* SPDX-License-Identifier: MIT */
/*
 * jwt.c: JWS compact verification (HS256, RS256) and Mercure claims
 * (specs/mercure.md §5; RFC 7515, 7518, 7519, 8725).
 *
 * A token is taken apart without copying: the signature is checked over the
 * received bytes `seg1.seg2` exactly, never over a re-encoding. Segments are
 * decoded into scratch buffers; JSON goes through jansson with duplicate
 * keys refused. The header is parsed (only to read "alg" and "crit") before
 * the signature is checked, the payload only after it.
 *
 * Memory: everything this file allocates, including what it hands out in
 * hub_claims_t, comes from OPENSSL_malloc. OpenSSL then sees all of it
 * through one hook (CRYPTO_set_mem_functions); together with jansson's
 * json_set_alloc_funcs a test can make the N-th allocation of a whole
 * verification fail and check every path returns HCS_ENOMEM without a leak.
 * hcs's own allocation hook is private to the library, so it is not used.
 *
 * OpenSSL errors raised here are removed from the thread's error queue
 * (ERR_set_mark / ERR_pop_to_mark) so they never surprise a later OpenSSL
 * user on the same worker thread.
 */
#include "jwt.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define HS256_MAC_LEN 32
#define MIN_RSA_BITS 2048
#define MAX_SELECTORS 1000
#define NAMESPACED_CLAIM "https://mercure.rocks/"
#define PAYLOAD_DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

typedef enum { ALG_HS256, ALG_RS256 } jwt_alg_t;

static const char *const alg_names[] = {"HS256", "RS256"};

struct hub_jwt_key_s {
  jwt_alg_t alg;
  unsigned char *secret; /* HS256: the copied secret, wiped on free */
  size_t secret_len;
  EVP_PKEY *pkey; /* RS256: the public key */
  size_t sig_len; /* bytes a valid signature decodes to */
};

/* ---- errors ------------------------------------------------------------- */

const char *hub_jwt_strerror(int err) {
  switch (err) {
#define HUB_JWT_ERR_TEXT(name, value, text)                                    \
  case HUB_JWT_##name:                                                         \
    return text;
    HUB_JWT_ERRNO_MAP(HUB_JWT_ERR_TEXT)
#undef HUB_JWT_ERR_TEXT
  default:
    return hcs_strerror(err);
  }
}

const char *hub_jwt_err_name(int err) {
  switch (err) {
#define HUB_JWT_ERR_NAME(name, value, text)                                    \
  case HUB_JWT_##name:                                                         \
    return #name;
    HUB_JWT_ERRNO_MAP(HUB_JWT_ERR_NAME)
#undef HUB_JWT_ERR_NAME
  default:
    return hcs_err_name(err);
  }
}

/* ---- keys --------------------------------------------------------------- */

int hub_jwt_key_hs256(hub_jwt_key_t **out, const void *secret, size_t len) {
  hub_jwt_key_t *key;

  assert(out != NULL);
  /* HMAC() takes the key length as an int. */
  if (secret == NULL || len == 0 || len > INT_MAX)
    return HCS_EINVAL;
  key = OPENSSL_zalloc(sizeof(*key));
  if (key == NULL)
    return HCS_ENOMEM;
  key->secret = OPENSSL_memdup(secret, len);
  if (key->secret == NULL) {
    OPENSSL_free(key);
    return HCS_ENOMEM;
  }
  key->alg = ALG_HS256;
  key->secret_len = len;
  key->sig_len = HS256_MAC_LEN;
  *out = key;
  return 0;
}

/*
 * Read the first public key the PEM text in bio holds: SubjectPublicKeyInfo
 * or PKCS#1 through the decoder API, else an X.509 certificate's subject
 * key. Returns the key (a new reference) or NULL.
 */
static EVP_PKEY *read_public_key(BIO *bio) {
  OSSL_DECODER_CTX *dctx;
  EVP_PKEY *pkey = NULL;
  X509 *cert;

  /* With no structure named, the PEM decoder chain accepts both "PUBLIC
   * KEY" and "RSA PUBLIC KEY" blocks, and the "RSA" type keeps it from
   * trying every other key type. */
  dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, "RSA",
                                       EVP_PKEY_PUBLIC_KEY, NULL, NULL);
  if (dctx != NULL) {
    if (OSSL_DECODER_from_bio(dctx, bio) != 1) {
      EVP_PKEY_free(pkey);
      pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
  }
  if (pkey != NULL)
    return pkey;

  /* The decoders know no certificates; read the text again as one. A memory
   * BIO rewinds on reset, as long as it was not made read-write. */
  if (BIO_reset(bio) < 0)
    return NULL;
  cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  if (cert == NULL)
    return NULL;
  pkey = X509_get_pubkey(cert);
  X509_free(cert);
  return pkey;
}

int hub_jwt_key_rs256_pem(hub_jwt_key_t **out, const char *pem, size_t len) {
  hub_jwt_key_t *key;
  EVP_PKEY *pkey;
  BIO *bio;
  int marked, rc;

  assert(out != NULL);
  if (pem == NULL || len == 0 || len > INT_MAX)
    return HCS_EINVAL;
  key = OPENSSL_zalloc(sizeof(*key));
  if (key == NULL)
    return HCS_ENOMEM;

  marked = ERR_set_mark();
  bio = BIO_new_mem_buf(pem, (int)len);
  if (bio == NULL) {
    rc = HCS_ENOMEM;
    goto done;
  }
  pkey = read_public_key(bio);
  BIO_free(bio);
  if (pkey == NULL) {
    rc = HCS_EINVAL;
    goto done;
  }
  /* "RSA" excludes RSA-PSS keys (whose parameters could restrict the
   * padding) and every other type a certificate may carry. */
  if (!EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_get_bits(pkey) < MIN_RSA_BITS ||
      EVP_PKEY_get_size(pkey) <= 0) {
    EVP_PKEY_free(pkey);
    rc = HCS_EINVAL;
    goto done;
  }
  key->alg = ALG_RS256;
  key->pkey = pkey;
  key->sig_len = (size_t)EVP_PKEY_get_size(pkey);
  *out = key;
  key = NULL;
  rc = 0;

done:
  if (marked)
    ERR_pop_to_mark();
  OPENSSL_free(key);
  return rc;
}

void hub_jwt_key_free(hub_jwt_key_t *key) {
  if (key == NULL)
    return;
  if (key->secret != NULL)
    OPENSSL_clear_free(key->secret, key->secret_len);
  EVP_PKEY_free(key->pkey);
  OPENSSL_free(key);
}

/* ---- base64url ---------------------------------------------------------- */

/* The 6-bit value of a base64url character (RFC 4648 §5), or -1. */
static int b64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/*
 * Decode n base64url characters without padding into a new buffer
 * (*out, *outlen; NUL-terminated for convenience, never NULL on success).
 * Refused: '=' and any character outside the alphabet, a length that leaves
 * one lone character (n % 4 == 1), and non-zero unused low bits in the last
 * character, so each byte string has exactly one accepted encoding and a
 * token cannot be altered without changing what is signed or verified.
 * Returns 0, HUB_JWT_EMALFORMED or HCS_ENOMEM.
 */
static int b64url_decode(const char *s, size_t n, unsigned char **out,
                         size_t *outlen) {
  unsigned char *buf;
  size_t len, o = 0;
  unsigned acc = 0, bits = 0;

  if (n % 4 == 1)
    return HUB_JWT_EMALFORMED;
  len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
  buf = OPENSSL_malloc(len + 1);
  if (buf == NULL)
    return HCS_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    int v = b64url_value((unsigned char)s[i]);
    if (v < 0)
      goto bad;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  /* Whatever is left (2 or 4 bits) is padding and must be zero. */
  if (acc != 0)
    goto bad;
  assert(o == len);
  buf[len] = '\0';
  *out = buf;
  *outlen = len;
  return 0;

bad:
  OPENSSL_free(buf);
  return HUB_JWT_EMALFORMED;
}

/* ---- JSON --------------------------------------------------------------- */

/*
 * Parse len bytes as one JSON object (duplicate keys refused, RFC 7515 §5.2
 * allows either refusing or taking the last). Returns 0 and a new reference
 * in *out, HUB_JWT_EMALFORMED or HCS_ENOMEM.
 */
static int parse_object(const unsigned char *text, size_t len, json_t **out) {
  json_error_t error;
  json_t *json;

  /* jansson says "out of memory" for most failed allocations; when it
   * cannot even set its lexer up it returns with the error untouched (hence
   * the memset: no code, no text). A few failed allocations inside the lexer
   * read as syntax errors, refusing the token as malformed: the safe side. */
  memset(&error, 0, sizeof(error));
  json = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &error);
  if (json == NULL)
    return json_error_code(&error) == json_error_out_of_memory ||
                   error.text[0] == '\0'
               ? HCS_ENOMEM
               : HUB_JWT_EMALFORMED;
  if (!json_is_object(json)) {
    json_decref(json);
    return HUB_JWT_EMALFORMED;
  }
  *out = json;
  return 0;
}

/* A NUL-terminated copy of a JSON string (which jansson guarantees holds no
 * NUL, as JSON_ALLOW_NUL is never set), or NULL when out of memory. */
static char *copy_string(const json_t *str) {
  size_t len = json_string_length(str);
  char *copy = OPENSSL_malloc(len + 1);

  if (copy != NULL) {
    memcpy(copy, json_string_value(str), len);
    copy[len] = '\0';
  }
  return copy;
}

/*
 * Copy the selector array `name` of the claims object, if present and not
 * null, into *list / *count and set *has. The count is set as soon as the
 * (zeroed) array exists, so hub_claims_cleanup frees a partial copy.
 * Returns 0, HUB_JWT_EMALFORMED or HCS_ENOMEM.
 */
static int copy_selectors(const json_t *mercure, const char *name, bool *has,
                          char ***list, size_t *count) {
  json_t *array = json_object_get(mercure, name);
  size_t n;
  char **copy;

  if (array == NULL || json_is_null(array))
    return 0;
  if (!json_is_array(array))
    return HUB_JWT_EMALFORMED;
  n = json_array_size(array);
  /* The reference hub's limit: a token cannot make each later match walk an
   * unbounded list. */
  if (n > MAX_SELECTORS)
    return HUB_JWT_EMALFORMED;
  for (size_t i = 0; i < n; i++)
    if (!json_is_string(json_array_get(array, i)))
      return HUB_JWT_EMALFORMED;
  *has = true;
  if (n == 0)
    return 0;
  copy = OPENSSL_zalloc(n * sizeof(*copy));
  if (copy == NULL)
    return HCS_ENOMEM;
  *list = copy;
  *count = n;
  for (size_t i = 0; i < n; i++) {
    copy[i] = copy_string(json_array_get(array, i));
    if (copy[i] == NULL)
      return HCS_ENOMEM;
  }
  return 0;
}

/* Re-serialise mercure.payload as compact JSON into a new string. */
static int copy_payload(const json_t *payload, char **out) {
  size_t need, wrote;
  char *text;

  /* json_dumpb returns the size it needs when the buffer is too small, and
   * 0 only on failure; a parsed value always encodes, so 0 means it ran out
   * of memory (it allocates while checking for cycles). */
  need = json_dumpb(payload, NULL, 0, PAYLOAD_DUMP_FLAGS);
  if (need == 0)
    return HCS_ENOMEM;
  text = OPENSSL_malloc(need + 1);
  if (text == NULL)
    return HCS_ENOMEM;
  wrote = json_dumpb(payload, text, need, PAYLOAD_DUMP_FLAGS);
  if (wrote != need) {
    OPENSSL_free(text);
    return HCS_ENOMEM;
  }
  text[need] = '\0';
  *out = text;
  return 0;
}

/*
 * A NumericDate (RFC 7519 §2) as whole seconds, rounded up and saturated at
 * the int64 range. For an integer n, x <= n exactly when ceil(x) <= n, and
 * x > n exactly when ceil(x) > n, so comparing the rounded exp and nbf with
 * an integer `now` gives the same answers as comparing the exact values.
 */
static int64_t seconds_of(const json_t *date) {
  double d, t;

  if (json_is_integer(date))
    return (int64_t)json_integer_value(date);
  d = json_real_value(date);
  /* 2^63 is exact in a double; beyond it the conversion would be undefined. */
  if (d >= 9223372036854775808.0)
    return INT64_MAX;
  if (d <= -9223372036854775808.0)
    return INT64_MIN;
  t = (double)(int64_t)d; /* truncates toward zero */
  return t < d ? (int64_t)t + 1 : (int64_t)t;
}

/*
 * Fill claims from the payload object (types checked, strings copied).
 * nbf is returned through *has_nbf / *nbf as claims have no field for it.
 * Returns 0, HUB_JWT_EMALFORMED or HCS_ENOMEM; on failure the caller cleans
 * claims up.
 */
static int extract_claims(const json_t *payload, hub_claims_t *claims,
                          bool *has_nbf, int64_t *nbf) {
  json_t *mercure = json_object_get(payload, "mercure");
  json_t *namespaced = json_object_get(payload, NAMESPACED_CLAIM);
  json_t *exp = json_object_get(payload, "exp");
  json_t *not_before = json_object_get(payload, "nbf");
  json_t *value;
  int rc;

  /* exp and nbf bound the token's life: a value of the wrong type (null
   * included) must not read as "no limit". */
  if ((exp != NULL && !json_is_number(exp)) ||
      (not_before != NULL && !json_is_number(not_before)))
    return HUB_JWT_EMALFORMED;
  if (exp != NULL) {
    claims->has_exp = true;
    claims->exp = seconds_of(exp);
  }
  if (not_before != NULL) {
    *has_nbf = true;
    *nbf = seconds_of(not_before);
  }

  /* Both claim objects may be null, as the reference hub decodes null into
   * "no claims"; the namespaced one wins when it is an object, as there. */
  if ((mercure != NULL && !json_is_object(mercure) && !json_is_null(mercure)) ||
      (namespaced != NULL && !json_is_object(namespaced) &&
       !json_is_null(namespaced)))
    return HUB_JWT_EMALFORMED;
  if (json_is_object(namespaced))
    mercure = namespaced;
  if (!json_is_object(mercure))
    return 0;

  rc = copy_selectors(mercure, "publish", &claims->has_publish,
                      &claims->publish, &claims->npublish);
  if (rc == 0)
    rc = copy_selectors(mercure, "subscribe", &claims->has_subscribe,
                        &claims->subscribe, &claims->nsubscribe);
  if (rc != 0)
    return rc;
  value = json_object_get(mercure, "payload");
  if (value != NULL && !json_is_null(value))
    return copy_payload(value, &claims->payload);
  return 0;
}

/* ---- verification ------------------------------------------------------- */

/* Check the protected header: "alg" and "crit" (RFC 7515 §4.1.1, §4.1.11). */
static int check_header(const hub_jwt_key_t *key, const json_t *header) {
  json_t *alg = json_object_get(header, "alg");
  const char *want = alg_names[key->alg];

  if (!json_is_string(alg))
    return HUB_JWT_EMALFORMED;
  /* Exactly the key's algorithm; "none", other hashes and the other family
   * (an HS256 token checked with an RSA public key as the secret, say) all
   * fail here, before any signature code runs. */
  if (json_string_length(alg) != strlen(want) ||
      memcmp(json_string_value(alg), want, strlen(want)) != 0)
    return HUB_JWT_EALG;
  /* No extension is understood, so any "crit" is one we must not ignore. */
  if (json_object_get(header, "crit") != NULL)
    return HUB_JWT_EALG;
  return 0;
}

static int verify_hs256(const hub_jwt_key_t *key, const char *input, size_t len,
                        const unsigned char *sig, size_t sig_len) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;

  if (sig_len != HS256_MAC_LEN)
    return HUB_JWT_ESIGNATURE;
  /* With a valid key and digest, HMAC() can only fail for lack of memory. */
  if (HMAC(EVP_sha256(), key->secret, (int)key->secret_len,
           (const unsigned char *)input, len, mac, &mac_len) == NULL ||
      mac_len != HS256_MAC_LEN)
    return HCS_ENOMEM;
  /* Constant time: a byte-wise early exit would let a forger learn the MAC
   * one byte at a time. */
  return CRYPTO_memcmp(mac, sig, HS256_MAC_LEN) == 0 ? 0 : HUB_JWT_ESIGNATURE;
}

static int verify_rs256(const hub_jwt_key_t *key, const char *input, size_t len,
                        const unsigned char *sig, size_t sig_len) {
  EVP_PKEY_CTX *pctx = NULL;
  EVP_MD_CTX *ctx;
  int rc;

  /* RSASSA-PKCS1-v1_5 signatures are exactly as long as the modulus
   * (RFC 8017 §8.2.2 step 1). */
  if (sig_len != key->sig_len)
    return HUB_JWT_ESIGNATURE;
  ctx = EVP_MD_CTX_new();
  if (ctx == NULL)
    return HCS_ENOMEM;
  /* The key and the digest are known good, so a failed set-up can only be
   * for lack of memory. A failed verification cannot be told apart from
   * one that ran out of memory midway; both refuse the token. */
  if (EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA256", NULL, NULL, key->pkey,
                              NULL) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
    rc = HCS_ENOMEM;
  else if (EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input,
                            len) == 1)
    rc = 0;
  else
    rc = HUB_JWT_ESIGNATURE;
  EVP_MD_CTX_free(ctx);
  return rc;
}

static int verify_signature(const hub_jwt_key_t *key, const char *input,
                            size_t len, const unsigned char *sig,
                            size_t sig_len) {
  int marked, rc;

  marked = ERR_set_mark();
  if (key->alg == ALG_HS256)
    rc = verify_hs256(key, input, len, sig, sig_len);
  else
    rc = verify_rs256(key, input, len, sig, sig_len);
  if (marked)
    ERR_pop_to_mark();
  return rc;
}

/* a - b and a + b for b >= 0, saturated at the int64 range. */
static int64_t sub_sat(int64_t a, int64_t b) {
  return a < INT64_MIN + b ? INT64_MIN : a - b;
}

static int64_t add_sat(int64_t a, int64_t b) {
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

int hub_jwt_verify(const hub_jwt_key_t *key, const char *token, size_t len,
                   int64_t now, int64_t leeway, hub_claims_t *claims) {
  const char *dot1, *dot2, *end;
  unsigned char *header_text = NULL, *payload_text = NULL, *sig = NULL;
  size_t header_len, payload_len, sig_len;
  json_t *header = NULL, *payload = NULL;
  bool has_nbf = false;
  int64_t nbf = 0;
  int rc;

  assert(key != NULL && claims != NULL && (token != NULL || len == 0));
  memset(claims, 0, sizeof(*claims));
  if (leeway < 0)
    leeway = 0;

  /* Step 1: the shape. A third '.' is caught by the base64url check of the
   * signature segment, as '.' is outside the alphabet. */
  if (len == 0)
    return HUB_JWT_EMALFORMED;
  end = token + len;
  if ((dot1 = memchr(token, '.', len)) == NULL ||
      (dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1))) == NULL ||
      dot1 == token || dot2 == dot1 + 1)
    return HUB_JWT_EMALFORMED;
  rc = b64url_decode(token, (size_t)(dot1 - token), &header_text, &header_len);
  if (rc == 0)
    rc = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload_text,
                       &payload_len);
  if (rc == 0)
    rc = b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), &sig, &sig_len);
  if (rc == 0)
    rc = parse_object(header_text, header_len, &header);
  /* Step 2: the algorithm, then step 3: the signature over the bytes as
   * received, up to (not including) the second '.'. */
  if (rc == 0)
    rc = check_header(key, header);
  if (rc == 0)
    rc = verify_signature(key, token, (size_t)(dot2 - token), sig, sig_len);
  /* Step 4: only a signed payload is parsed. */
  if (rc == 0)
    rc = parse_object(payload_text, payload_len, &payload);
  if (rc == 0)
    rc = extract_claims(payload, claims, &has_nbf, &nbf);
  /* Steps 5 and 6 (RFC 7519 §4.1.4, §4.1.5): valid while
   * nbf <= now < exp, each end widened by the leeway. */
  if (rc == 0 && claims->has_exp && claims->exp <= sub_sat(now, leeway))
    rc = HUB_JWT_EEXPIRED;
  if (rc == 0 && has_nbf && nbf > add_sat(now, leeway))
    rc = HUB_JWT_ENOTYET;

  json_decref(payload);
  json_decref(header);
  OPENSSL_free(sig);
  OPENSSL_free(payload_text);
  OPENSSL_free(header_text);
  if (rc != 0)
    hub_claims_cleanup(claims);
  return rc;
}

void hub_claims_cleanup(hub_claims_t *claims) {
  if (claims == NULL)
    return;
  for (size_t i = 0; i < claims->npublish; i++)
    OPENSSL_free(claims->publish[i]);
  for (size_t i = 0; i < claims->nsubscribe; i++)
    OPENSSL_free(claims->subscribe[i]);
  OPENSSL_free(claims->publish);
  OPENSSL_free(claims->subscribe);
  OPENSSL_free(claims->payload);
  memset(claims, 0, sizeof(*claims));
}
