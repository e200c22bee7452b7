/* SPDX-License-Identifier: MIT */
/*
 * jwt.h: verification of the JSON Web Tokens (JWS compact serialisation)
 * that carry Mercure authorization (specs/mercure.md §5).
 *
 * The hub configures one key per role (publisher, subscriber); each key has
 * exactly one algorithm, HS256 (shared secret) or RS256 (RSA public key), and
 * a token is accepted only if its header names that algorithm: "none" and
 * every other value are refused, so a token cannot pick how it is checked
 * (algorithm confusion, RFC 8725 §3.1). The module verifies and extracts the
 * Mercure claims; it does not sign, fetch keys, read "kid" or check "aud",
 * "iss" or "iat", and it knows nothing of HTTP (where a token comes from and
 * which status a failure earns belong to the caller).
 *
 * Threads: a key is immutable once built, so one key may verify tokens on
 * any number of threads at once. hub_jwt_key_free must not race with a
 * verification using that key.
 *
 * Ownership: keys copy what they are given. Claims are caller-owned structs
 * filled by hub_jwt_verify; the strings they point to belong to the struct
 * and are released by hub_claims_cleanup only (they come from OpenSSL's
 * allocator, see jwt.c).
 *
 * Error codes: 0 on success, a negative HUB_JWT_E* (below) for a token that
 * must be refused, or a negative HCS_E* (hcs/error.h) for anything else.
 * The HUB_JWT_E* block, -7101 to -7105, is clear of errno and of hcs's own
 * block (which starts at -7001). Every one of them should become a 401
 * with `WWW-Authenticate: Bearer error="invalid_token"` (specs/mercure.md §5).
 */
#ifndef HUB_JWT_H
#define HUB_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcs/error.h"
#include "hcs/export.h"

#define HUB_JWT_ERRNO_MAP(XX)                                                  \
  XX(EMALFORMED, -7101, "malformed token")                                     \
  XX(EALG, -7102, "token algorithm not accepted for this key")                 \
  XX(ESIGNATURE, -7103, "token signature does not verify")                     \
  XX(EEXPIRED, -7104, "token expired")                                         \
  XX(ENOTYET, -7105, "token not valid yet")

typedef enum {
#define HUB_JWT_ERR_ENUM(name, value, text) HUB_JWT_##name = (value),
  HUB_JWT_ERRNO_MAP(HUB_JWT_ERR_ENUM)
#undef HUB_JWT_ERR_ENUM
} hub_jwt_errno_t;

/* A verification key: one algorithm and its key material. Opaque. */
typedef struct hub_jwt_key_s hub_jwt_key_t;

/*
 * Build an HS256 (HMAC-SHA-256) key from a shared secret of len bytes
 * (borrowed for the call; copied, and wiped when the key is freed).
 *
 * RFC 7518 §3.2 asks for at least 256 bits (32 bytes). Shorter secrets are
 * accepted anyway, as the reference hub accepts them and deployments use
 * them; a caller that wants the RFC's floor checks len itself (or warns).
 * The development secret "!ChangeThisMercureHubJWTSecretKey!" is 34 bytes.
 *
 * Returns 0 and sets *out, or (leaving *out untouched):
 *   HCS_EINVAL  len is 0 or larger than INT_MAX;
 *   HCS_ENOMEM  out of memory.
 */
HCS_WARN_UNUSED int hub_jwt_key_hs256(hub_jwt_key_t **out, const void *secret,
                                      size_t len);

/*
 * Build an RS256 (RSASSA-PKCS1-v1_5 with SHA-256) key from a PEM text of len
 * bytes (borrowed for the call; it need not be NUL-terminated). Accepted
 * blocks: "PUBLIC KEY" (SubjectPublicKeyInfo), "RSA PUBLIC KEY" (PKCS#1) and
 * "CERTIFICATE" (X.509; its subject key is used, the certificate itself is
 * not checked). Text before the first block is skipped. The first block is
 * tried as a public key; if it is not one, the first certificate in the text
 * is used (so a chain file gives its leaf). Private keys are refused: the
 * hub only verifies. The key must be RSA (not RSA-PSS, EC, ...) with a
 * modulus of at least 2048 bits (RFC 7518 §3.3).
 *
 * Returns 0 and sets *out, or (leaving *out untouched):
 *   HCS_EINVAL  no usable key: not PEM, not one of the blocks above, not
 *               RSA, modulus under 2048 bits, or len > INT_MAX (OpenSSL does
 *               not tell an allocation failure inside its decoders apart,
 *               so one there also reads as HCS_EINVAL);
 *   HCS_ENOMEM  out of memory.
 */
HCS_WARN_UNUSED int hub_jwt_key_rs256_pem(hub_jwt_key_t **out, const char *pem,
                                          size_t len);

/* Free a key (and wipe an HS256 secret). NULL does nothing. */
void hub_jwt_key_free(hub_jwt_key_t *key);

/*
 * The Mercure claims of a verified token, filled by hub_jwt_verify and
 * released by hub_claims_cleanup. Claims come from the "mercure" object of
 * the payload, or from "https://mercure.rocks/" when that one is present and
 * not null (it then wins, as in the reference hub).
 */
typedef struct hub_claims_s {
  bool has_publish;   /* mercure.publish present (and not null) */
  char **publish;     /* its selectors, NUL-terminated; NULL when npublish 0 */
  size_t npublish;    /* how many (0 to 1000) */
  bool has_subscribe; /* mercure.subscribe present (and not null) */
  char **subscribe;   /* its selectors, NUL-terminated; NULL if nsubscribe 0 */
  size_t nsubscribe;  /* how many (0 to 1000) */
  char *payload;      /* mercure.payload as compact JSON (any JSON type, key
                         order kept), or NULL if absent or null */
  bool has_exp;       /* the token has an "exp" claim */
  int64_t exp;        /* exp in seconds since the epoch, rounded up when it has
                         a fraction; the token is expired once now >= exp */
} hub_claims_t;

/*
 * Verify a JWS compact token and extract its Mercure claims.
 *
 * key     the key to check with (borrowed for the call; any thread).
 * token   len bytes (borrowed for the call; need not be NUL-terminated, and
 *         must not hold anything else, e.g. no "Bearer " or whitespace).
 * now     the current time in seconds since the epoch.
 * leeway  seconds of clock skew forgiven on exp and nbf (negative reads as 0).
 * claims  caller-owned; filled on success (release with hub_claims_cleanup),
 *         zeroed on failure (cleanup is then harmless but unneeded).
 *
 * Checks, in order (the first failure decides the code):
 *  1. three segments separated by exactly two '.', each base64url without
 *     padding, in canonical form (unused low bits zero); header and payload
 *     not empty (the signature may be, as in an unsecured JWS, and then
 *     fails step 3); the header a JSON object whose "alg" is a string;
 *                                                               EMALFORMED
 *  2. "alg" equals the key's algorithm ("HS256" or "RS256", case-sensitive)
 *     and the header has no "crit" (no extension is understood);      EALG
 *  3. the signature verifies over the received bytes `seg1.seg2`: HMAC
 *     compared in constant time, RSA PKCS#1 v1.5 with SHA-256;  ESIGNATURE
 *  4. the payload is a JSON object; "mercure" and "https://mercure.rocks/"
 *     are objects or null; publish and subscribe, if present and not null,
 *     arrays of at most 1000 strings; "exp" and "nbf" numbers; every JSON
 *     text UTF-8 without duplicate keys and integers within int64; EMALFORMED
 *  5. exp > now - leeway                                          EEXPIRED
 *  6. nbf <= now + leeway                                         ENOTYET
 *
 * Returns 0, one of the HUB_JWT_E* codes above, or HCS_ENOMEM (out of
 * memory, or an OpenSSL failure that can only mean that).
 *
 * Example:
 *   hub_claims_t c;
 *   int rc = hub_jwt_verify(key, tok, tok_len, time(NULL), 5, &c);
 *   if (rc < 0) { reply 401 (HCS_ENOMEM: 500); log hub_jwt_strerror(rc); }
 *   else { ... c.publish ...; hub_claims_cleanup(&c); }
 */
HCS_WARN_UNUSED int hub_jwt_verify(const hub_jwt_key_t *key, const char *token,
                                   size_t len, int64_t now, int64_t leeway,
                                   hub_claims_t *claims);

/* Free what claims hold and zero the struct. NULL does nothing; calling it
 * twice is harmless. */
void hub_claims_cleanup(hub_claims_t *claims);

/*
 * Describe an error code: the HUB_JWT_E* codes here, anything else through
 * hcs_strerror(). Returns a static string; never NULL. Any thread.
 */
const char *hub_jwt_strerror(int err);

/*
 * The symbolic name of an error code ("EMALFORMED" for HUB_JWT_EMALFORMED,
 * anything else through hcs_err_name()). Static string; never NULL.
 */
const char *hub_jwt_err_name(int err);

#endif
