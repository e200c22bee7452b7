/* SPDX-License-Identifier: MIT */
/*
 * http1/chunked.h: an incremental decoder for chunked request bodies
 * (RFC 9112 §7.1). Pure: bytes in, decoded bytes out, no I/O.
 *
 * Chunk extensions are accepted (bounded) and ignored; trailer fields are
 * parsed for syntax (bounded) and discarded. Lines end with CRLF only.
 */
#ifndef HCS_HTTP1_CHUNKED_H
#define HCS_HTTP1_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

typedef struct hcs_chunked_decoder_s {
  int state;          /* private */
  uint64_t remaining; /* private: bytes left in the current chunk */
  size_t line_bytes;  /* private: length of the current size/trailer line */
  size_t trailer_bytes; /* private: total trailer bytes so far */
  int size_digits;    /* private */
} hcs_chunked_decoder_t;

#define HCS_CHUNKED_MAX_LINE 4096     /* size line with extensions */
#define HCS_CHUNKED_MAX_TRAILER 16384 /* all trailer fields        */

/* Prepare *d (caller-owned) for a new body. */
void hcs_chunked_decoder_init(hcs_chunked_decoder_t *d);

/*
 * Decode in[0..in_len). Decoded body bytes are written to out (capacity at
 * least in_len; out may equal in: decoding in place is allowed), and their
 * number is stored in *out_len. *consumed is set to the input bytes used.
 *
 * Returns 1 when the body is complete (last chunk and trailers consumed;
 * bytes after it are not consumed), 0 when more input is needed (all input
 * was consumed), HCS_EBADREQUEST for malformed framing (bad hex, size
 * overflow, missing CRLF, over-long line or trailer).
 *
 * Details: chunk-size is 1*16HEXDIG (leading zeros count) and at most
 * INT64_MAX; BWS is allowed between the size and a ';' only; extensions may
 * hold any byte but CTLs other than HTAB, and the size line without its
 * CRLF is at most HCS_CHUNKED_MAX_LINE bytes. Trailer lines are checked
 * like head fields (tchar name, ':' right after it, no obs-fold, value
 * without CTLs other than HTAB) and together, CRLFs included, hold at most
 * HCS_CHUNKED_MAX_TRAILER bytes. Any split of the input across calls gives
 * the same decoded bytes and the same result. On error, *out_len and
 * *consumed tell how far decoding got; the decoder then stays failed (every
 * later call returns HCS_EBADREQUEST and consumes nothing), and a finished
 * decoder returns 1 and consumes nothing.
 */
int hcs_chunked_decode(hcs_chunked_decoder_t *d, const char *in,
                       size_t in_len, char *out, size_t *out_len,
                       size_t *consumed);

#endif
