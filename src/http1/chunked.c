/* SPDX-License-Identifier: MIT */
/*
 * http1/chunked.c: the incremental decoder for chunked request bodies
 * (RFC 9112 §7.1).
 *
 * A byte-at-a-time state machine for the framing (size lines, CRLFs,
 * trailers) and a block copy for chunk data, so any split of the input
 * across calls gives the same bytes and the same verdict. It allocates
 * nothing; the decoder state is the caller's and belongs to one body. It
 * does not enforce a body size limit: the caller counts the bytes it gets.
 */
#include "http1/chunked.h"

#include <stdbool.h>
#include <string.h>

#include "hcs/error.h"
#include "http1/parser.h"

enum {
  S_SIZE_FIRST,   /* first hex digit of a chunk-size                   */
  S_SIZE,         /* more hex digits, ';', BWS or CR                   */
  S_SIZE_BWS,     /* whitespace after the size: only ';' may follow    */
  S_EXT,          /* chunk extensions, up to CR                        */
  S_SIZE_LF,      /* LF ending the size line                           */
  S_DATA,         /* chunk data                                        */
  S_DATA_CR,      /* CR after chunk data                               */
  S_DATA_LF,      /* LF after chunk data                               */
  S_TRAILER,      /* start of a trailer line, or of the final CRLF     */
  S_TRAILER_NAME, /* field name, up to ':'                             */
  S_TRAILER_VAL,  /* field value, up to CR                             */
  S_TRAILER_LF,   /* LF ending a trailer line                          */
  S_FINAL_LF,     /* LF of the final empty line                        */
  S_DONE,         /* complete; further input is not ours               */
  S_ERROR,        /* rejected; every later call says so again          */
};

#define MAX_SIZE_DIGITS 16
#define MAX_CHUNK_SIZE UINT64_C(0x7fffffffffffffff)

void hcs_chunked_decoder_init(hcs_chunked_decoder_t *d) {
  memset(d, 0, sizeof(*d));
  d->state = S_SIZE_FIRST;
}

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/*
 * Bytes allowed in chunk extensions and trailer field values: HTAB, SP,
 * VCHAR and obs-text, that is no CTL but HTAB (and so no NUL, CR or LF).
 */
static bool text_byte_ok(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int hcs_chunked_decode(hcs_chunked_decoder_t *d, const char *in,
                       size_t in_len, char *out, size_t *out_len,
                       size_t *consumed) {
  size_t i = 0, o = 0;
  int rc = 0;

  /* A finished body takes no more bytes; a rejected one stays rejected. */
  if (d->state == S_DONE || d->state == S_ERROR) {
    *out_len = 0;
    *consumed = 0;
    return d->state == S_DONE ? 1 : HCS_EBADREQUEST;
  }

  while (i < in_len) {
    unsigned char c;

    if (d->state == S_DATA) {
      /*
       * Copy as much of the chunk as we have in one go. memmove, because
       * out may be in: o never passes i, so the copy only moves bytes down.
       */
      size_t n = in_len - i;
      if ((uint64_t)n > d->remaining)
        n = (size_t)d->remaining;
      if (out + o != in + i)
        memmove(out + o, in + i, n);
      i += n;
      o += n;
      d->remaining -= n;
      if (d->remaining == 0)
        d->state = S_DATA_CR;
      continue;
    }
    c = (unsigned char)in[i++];
    switch (d->state) {
    case S_SIZE_FIRST:
    case S_SIZE: {
      int v = hex_value(c);
      if (v >= 0) {
        /*
         * More than 16 digits is refused even with leading zeros, and so is
         * a size past INT64_MAX, which other parsers might wrap or clamp.
         */
        if (++d->size_digits > MAX_SIZE_DIGITS ||
            d->remaining > (MAX_CHUNK_SIZE - (uint64_t)v) / 16)
          goto fail;
        d->remaining = d->remaining * 16 + (uint64_t)v;
        d->line_bytes++;
        d->state = S_SIZE;
        break;
      }
      if (d->state == S_SIZE_FIRST)
        goto fail;
      d->line_bytes++;
      if (c == ';')
        d->state = S_EXT;
      else if (c == ' ' || c == '\t')
        d->state = S_SIZE_BWS; /* chunk-ext = *( BWS ";" ... ) */
      else if (c == '\r')
        d->state = S_SIZE_LF;
      else
        goto fail;
      break;
    }
    case S_SIZE_BWS:
      if (++d->line_bytes > HCS_CHUNKED_MAX_LINE)
        goto fail;
      if (c == ';')
        d->state = S_EXT;
      else if (c != ' ' && c != '\t')
        goto fail;
      break;
    case S_EXT:
      if (c == '\r') {
        d->state = S_SIZE_LF;
        break;
      }
      if (!text_byte_ok(c) || ++d->line_bytes > HCS_CHUNKED_MAX_LINE)
        goto fail;
      break;
    case S_SIZE_LF:
      if (c != '\n')
        goto fail;
      d->line_bytes = 0;
      d->size_digits = 0;
      d->state = d->remaining == 0 ? S_TRAILER : S_DATA;
      break;
    case S_DATA_CR:
      if (c != '\r')
        goto fail;
      d->state = S_DATA_LF;
      break;
    case S_DATA_LF:
      if (c != '\n')
        goto fail;
      d->state = S_SIZE_FIRST;
      break;
    case S_TRAILER:
      if (c == '\r') {
        d->state = S_FINAL_LF;
        break;
      }
      /* As in a head: no obs-fold, no empty name, no bare LF. */
      if (!hcs_http1_is_tchar(c))
        goto fail;
      d->state = S_TRAILER_NAME;
      goto count_trailer;
    case S_TRAILER_NAME:
      if (c == ':')
        d->state = S_TRAILER_VAL;
      else if (!hcs_http1_is_tchar(c))
        goto fail; /* includes whitespace before the colon */
      goto count_trailer;
    case S_TRAILER_VAL:
      if (c == '\r')
        d->state = S_TRAILER_LF;
      else if (!text_byte_ok(c))
        goto fail;
      goto count_trailer;
    case S_TRAILER_LF:
      if (c != '\n')
        goto fail;
      d->state = S_TRAILER;
      goto count_trailer;
    case S_FINAL_LF:
      if (c != '\n')
        goto fail;
      d->state = S_DONE;
      rc = 1;
      goto out;
    default:
      goto fail;
    }
    continue;

  count_trailer:
    /* Trailer field lines, their CRLFs included, share one budget. */
    if (++d->trailer_bytes > HCS_CHUNKED_MAX_TRAILER)
      goto fail;
  }

out:
  *out_len = o;
  *consumed = i;
  return rc;

fail:
  d->state = S_ERROR;
  *out_len = o;
  *consumed = i;
  return HCS_EBADREQUEST;
}
