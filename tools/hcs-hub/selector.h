/* SPDX-License-Identifier: MIT */
/*
 * selector.h: compiled Mercure topic selectors (specs/mercure.md §2,
 * specs/uri-template.md §3-§5).
 *
 * A selector matches a topic when, in order: the selector is exactly "*";
 * or selector and topic are byte-identical (so a template matches its own
 * text); or the selector is a valid RFC 6570 URI template with at least one
 * expression and the topic matches it as the reference hub matches it
 * (yosida95/uritemplate's Template.Regexp()). Anything else, including an
 * invalid template, is an ordinary string compared byte for byte. Matching
 * is case-sensitive, with no percent-decoding or normalisation on either
 * side.
 *
 * Template matching, element by element, anchored at both ends:
 *  - literal text must appear byte for byte ("%2F" in the template matches
 *    "%2F" only, not "%2f" nor "/");
 *  - an expression with n variables becomes
 *      ( first ITEM ( sep ITEM ){0,n-1} )?
 *    with "*" instead of {0,n-1} when any variable is exploded, and "first",
 *    "sep" from the RFC 6570 operator table ({x}: "" and ","; {+x}: "" and
 *    ","; {#x}: "#" and ","; {.x}: "." and "."; {/x}: "/" and "/"; {;x}:
 *    ";" and ";"; {?x}: "?" and "&"; {&x}: "&" and "&");
 *  - ITEM is zero or more of "%" + two hex digits (either case) or one byte
 *    of a set: for {+x} and {#x} unreserved plus reserved; for the others
 *    unreserved plus ",", plus "=" when the operator is named (; ? &) or,
 *    as the reference does, for the first ITEM when the first variable is
 *    exploded and for the later ITEMs when any variable is exploded.
 * Variable names and prefix lengths ({var:3}) are not checked, as in the
 * reference: {?q} accepts "?x=1" and {var:3} accepts "abcdef".
 *
 * Cost: matching never backtracks. It walks the topic once per template
 * element, keeping the set of offsets reachable so far (and, for a bounded
 * repetition, the fewest items needed to reach each offset), so the work is
 * O(|topic| x |selector|) byte steps at worst, whatever the template; no
 * step budget is needed and no answer depends on one.
 *
 * Threads and ownership: a compiled selector is immutable; any number of
 * threads may match against it at once. hub_selector_free must not race
 * with a match. Compiling copies the text.
 */
#ifndef HUB_SELECTOR_H
#define HUB_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "hcs/error.h"
#include "hcs/export.h"

/* A compiled topic selector. Opaque. */
typedef struct hub_selector_s hub_selector_t;

/*
 * Compile the selector of len bytes at selector (borrowed for the call; it
 * need not be NUL-terminated and may hold any bytes; NULL only with len 0).
 * "*" matches everything; a valid URI template containing at least one
 * expression matches as described above; anything else, an invalid
 * template included, matches only its own bytes. An invalid template is not
 * an error: the caller cannot tell it from a plain string except through
 * hub_selector_is_template.
 *
 * Template validity (RFC 6570 §2 as specs/uri-template.md §1 restates it):
 * literals are printable ASCII except space " % < > \ ^ ` { | } (a "%" is
 * allowed when it starts a %XX triplet, and "'" is allowed, as in the
 * reference), or UTF-8 encoded ucschar/iprivate; an expression is "{",
 * an optional operator (+ # . / ; ? &; the reserved = , ! @ | make the
 * template invalid), then varspecs separated by ",": a varname (ALPHA,
 * DIGIT, "_" or %XX, with single dots between them) and an optional ":n"
 * (1 to 9999, no leading zero) or "*", then "}".
 *
 * Returns 0 and sets *out, or (leaving *out untouched):
 *   HCS_ENOMEM  out of memory.
 */
HCS_WARN_UNUSED int hub_selector_compile(hub_selector_t **out,
                                         const char *selector, size_t len);

/*
 * True when the topic of len bytes (borrowed for the call; NULL only with
 * len 0) matches sel (see the top of this file). Any thread.
 *
 * A template match needs a work area of one byte per topic byte, five when
 * some expression may hold several items ({a,b}, {x*}); it lives on the
 * stack up to 2 KiB (topics of about 400 or 2000 bytes) and on the heap
 * beyond. If that allocation fails the answer is false (no match: the safe
 * side for authorization). Exact and "*" selectors never allocate.
 */
bool hub_selector_match(const hub_selector_t *sel, const char *topic,
                        size_t len);

/*
 * The selector's text as compiled: a pointer to sel's own copy (valid until
 * hub_selector_free; NUL-terminated, though the text itself may contain NUL
 * bytes), its length stored in *len when len is not NULL.
 */
const char *hub_selector_text(const hub_selector_t *sel, size_t *len);

/* True when sel compiled as a URI template (valid, with an expression). */
bool hub_selector_is_template(const hub_selector_t *sel);

/* Free a selector. NULL does nothing. */
void hub_selector_free(hub_selector_t *sel);

/*
 * Encode the len bytes at in (borrowed; NULL only with len 0) as RFC 6570
 * §3.2.2 simple string expansion does: unreserved bytes (A-Z a-z 0-9 - . _
 * ~) unchanged, every other byte as "%XX" with upper-case hex (a space is
 * "%20", never "+"; UTF-8 text is encoded byte by byte, which is RFC 6570's
 * "UTF-8 encode, then percent-encode"). Used to build subscription-event
 * topics (specs/mercure.md §7).
 *
 * Writes the result at out (cap bytes; may be NULL when cap is 0) only if
 * it fits entirely, without a terminating NUL, and returns the length the
 * result needs (at most 3 * len) either way: call with cap 0 to measure.
 */
size_t hub_uri_encode_unreserved(const char *in, size_t len, char *out,
                                 size_t cap);

/*
 * For tests: as hub_selector_match, also storing in *steps the number of
 * work steps the match took (one per topic byte to classify it, one per
 * topic offset examined per template element, plus the bytes of a literal
 * at each offset where it is compared). Shows the O(|topic| x |selector|)
 * bound without timing.
 */
bool hub__selector_match_steps(const hub_selector_t *sel, const char *topic,
                               size_t len, size_t *steps);

#endif
