/* SPDX-License-Identifier: MIT */
/*
 * test_hub_selector.c: unit tests for compiled topic selectors and the
 * RFC 6570 unreserved encoder (tools/hcs-hub/selector.c).
 *
 * Case tables, each row its own cmocka test (run one with
 * ./test_hub_selector 'ut5/books*'):
 *   ut5/      every example of specs/uri-template.md §5 (and §4's list);
 *   expand/   every expansion of uri-template.md §2 matches its template;
 *   op/       what each operator's items may hold, counts, separators;
 *   lit/      literal text: byte for byte, no decoding, non-ASCII;
 *   valid/    template syntax accepted;
 *   invalid/  template syntax refused: exact comparison only;
 *   exact/    "*", plain strings, case, no decoding;
 *   mercure/  specs/mercure.md §2, §5's claim example, §10's conformance
 *             cases.
 * Every row also checks that the selector matches its own text, that
 * hub_selector_is_template says what the row expects, and that the work
 * stayed within O(|topic| x |selector|). Selector and topic live in
 * exact-size heap copies so that AddressSanitizer catches a read past the
 * end. The gen/ tests cover long topics, pathological templates, the
 * encoder and ownership.
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

#include "hcs/error.h"
#include "selector.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

static void print_bytes(const char *what, const char *p, size_t n) {
  print_error("%s (%zu bytes): \"", what, n);
  for (size_t i = 0; i < n && i < 300; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '"' || c == '\\')
      print_error("\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      print_error("\\x%02x", c);
    else
      print_error("%c", c);
  }
  print_error("%s\"\n", n > 300 ? "..." : "");
}

static char *dup_exact(const char *p, size_t n) {
  char *d = malloc(n > 0 ? n : 1);
  assert_non_null(d);
  if (n > 0)
    memcpy(d, p, n);
  return d;
}

static hub_selector_t *compile_n(const char *s, size_t n) {
  hub_selector_t *sel = NULL;
  char *copy = dup_exact(s, n);
  assert_int_equal(hub_selector_compile(&sel, copy, n), 0);
  assert_non_null(sel);
  free(copy); /* the selector keeps its own copy */
  return sel;
}

static hub_selector_t *compile(const char *s) {
  return compile_n(s, strlen(s));
}

/* The O(|topic| x |selector|) bound selector.h promises. */
static size_t step_bound(size_t tlen, size_t slen) {
  return (tlen + 1) * (2 * slen + 1);
}

/*
 * Match topic (n bytes) against sel, through both entry points, checking
 * the step bound; fail, printing both sides, when the answer is not want.
 */
static void expect_match_n(const hub_selector_t *sel, const char *topic,
                           size_t n, bool want) {
  size_t slen, steps = 0;
  const char *stext = hub_selector_text(sel, &slen);
  char *t = dup_exact(topic, n);
  bool got = hub_selector_match(sel, t, n);
  bool got2 = hub__selector_match_steps(sel, t, n, &steps);
  free(t);
  if (got != want || got2 != got || steps > step_bound(n, slen)) {
    print_error("match: got %s (steps entry point %s, %zu steps, bound %zu), "
                "want %s\n",
                got ? "yes" : "no", got2 ? "yes" : "no", steps,
                step_bound(n, slen), want ? "yes" : "no");
    print_bytes("  selector", stext, slen);
    print_bytes("  topic   ", topic, n);
    fail();
  }
}

static void expect_match(const hub_selector_t *sel, const char *topic,
                         bool want) {
  expect_match_n(sel, topic, strlen(topic), want);
}

/* ---- case tables -------------------------------------------------------- */

enum { NOT_TEMPLATE = 0, TEMPLATE = 1 };

typedef struct {
  const char *name;
  const char *selector;
  const char *topic;
  bool want;
  int tmpl; /* what hub_selector_is_template must say */
} mcase_t;

#define YES true
#define NO false
#define BOOKS "https://example.com/books/{id}"

/* specs/uri-template.md §5, row by row, then §4's "consequences". */
static const mcase_t ut5_cases[] = {
    {"ut5/books_1", BOOKS, "https://example.com/books/1", YES, TEMPLATE},
    {"ut5/books_empty_expression", BOOKS, "https://example.com/books/", YES,
     TEMPLATE},
    {"ut5/books_slash", BOOKS, "https://example.com/books/1/reviews", NO,
     TEMPLATE},
    {"ut5/books_pct", BOOKS, "https://example.com/books/a%2Fb", YES, TEMPLATE},
    {"ut5/books_bad_triplet", BOOKS, "https://example.com/books/%zz", NO,
     TEMPLATE},
    {"ut5/books_space", BOOKS, "https://example.com/books/hello world", NO,
     TEMPLATE},
    {"ut5/books_raw_non_ascii", BOOKS, "https://example.com/books/caf\xc3\xa9",
     NO, TEMPLATE},
    {"ut5/books_encoded_non_ascii", BOOKS,
     "https://example.com/books/caf%C3%A9", YES, TEMPLATE},
    {"ut5/books_list_form", BOOKS, "https://example.com/books/1,2", YES,
     TEMPLATE},
    {"ut5/books_case", BOOKS, "https://example.com/BOOKS/1", NO, TEMPLATE},
    {"ut5/books_json_vs_xml", "https://example.com/books/{id}.json",
     "https://example.com/books/1.xml", NO, TEMPLATE},
    {"ut5/books_json", "https://example.com/books/{id}.json",
     "https://example.com/books/1.json", YES, TEMPLATE},
    {"ut5/plus_base", "{+base}/books/{id}", "https://example.com/books/1", YES,
     TEMPLATE},
    {"ut5/plus_path", "https://example.com/{+path}",
     "https://example.com/a/b/c?x=1#f", YES, TEMPLATE},
    {"ut5/slash_explode", "https://example.com{/segments*}",
     "https://example.com/a/b/c", YES, TEMPLATE},
    {"ut5/slash_one_item", "https://example.com{/seg}",
     "https://example.com/a/b", NO, TEMPLATE},
    {"ut5/query_two", "https://example.com/search{?q,lang}",
     "https://example.com/search?q=mercure&lang=fr", YES, TEMPLATE},
    {"ut5/query_three_items", "https://example.com/search{?q,lang}",
     "https://example.com/search?q=a&lang=fr&page=2", NO, TEMPLATE},
    {"ut5/query_names_unchecked", "https://example.com/search{?q,lang}",
     "https://example.com/search?foo=bar", YES, TEMPLATE},
    {"ut5/query_form_plus", "https://example.com/search{?q}",
     "https://example.com/search?q=a+b", NO, TEMPLATE},
    {"ut5/query_pct20", "https://example.com/search{?q}",
     "https://example.com/search?q=a%20b", YES, TEMPLATE},
    {"ut5/claim_encoded", "https://example.com/users/foo/{?topic}",
     "https://example.com/users/foo/"
     "?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1",
     YES, TEMPLATE},
    {"ut5/claim_raw", "https://example.com/users/foo/{?topic}",
     "https://example.com/users/foo/?topic=https://example.com/books/1", NO,
     TEMPLATE},
    {"ut5/path_and_query_explode", "https://example.com/a{/p*}{?q*}",
     "https://example.com/a/x/y?q=1&r=2", YES, TEMPLATE},
    {"ut5/prefix_unchecked", "/{var:3}", "/abcdef", YES, TEMPLATE},
    {"ut5/unclosed_is_exact", "https://example.com/{id",
     "https://example.com/1", NO, NOT_TEMPLATE},
    {"ut5/space_is_exact", "https://example.com/a b/{id}",
     "https://example.com/a b/1", NO, NOT_TEMPLATE},
    {"ut5/subscriptions_optional",
     "/.well-known/mercure/subscriptions{/topic}{/subscriber}",
     "/.well-known/mercure/subscriptions", YES, TEMPLATE},
    {"ut5/subscriptions_event",
     "/.well-known/mercure/subscriptions/{topic}/{subscriber}",
     "/.well-known/mercure/subscriptions/"
     "https%3A%2F%2Fexample.com%2F%7Bselector%7D/"
     "urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6",
     YES, TEMPLATE},
    {"ut5/conformance_bar_foo", "https://example.net/bar/{var}",
     "https://example.net/foo/will-not-match}", NO, TEMPLATE},
    {"ut5/star_any", "*", "any string", YES, NOT_TEMPLATE},
    /* §4: consequences worth testing. */
    {"ut4/id_stops_at_query", BOOKS, "https://example.com/books/1?x=1", NO,
     TEMPLATE},
    {"ut4/id_stops_at_fragment", BOOKS, "https://example.com/books/1#f", NO,
     TEMPLATE},
    {"ut4/query_other_name", "{?q}", "?x=1", YES, TEMPLATE},
    {"ut4/alone_empty", "{x}", "", YES, TEMPLATE},
    {"ut4/raw_plus", "{?q}", "?q=a+b", NO, TEMPLATE},
    {"ut4/pct20", "{?q}", "?q=a%20b", YES, TEMPLATE},
};

/* uri-template.md §2: each expansion matches its template. */
static const mcase_t expand_cases[] = {
    {"expand/var", "{var}", "value", YES, TEMPLATE},
    {"expand/hello", "{hello}", "Hello%20World%21", YES, TEMPLATE},
    {"expand/plus_hello", "{+hello}", "Hello%20World!", YES, TEMPLATE},
    {"expand/plus_path_here", "{+path}/here", "/foo/bar/here", YES, TEMPLATE},
    {"expand/hash_hello", "{#hello}", "#Hello%20World!", YES, TEMPLATE},
    {"expand/map_xy", "map?{x,y}", "map?1024,768", YES, TEMPLATE},
    {"expand/dot_xy", "X{.x,y}", "X.1024.768", YES, TEMPLATE},
    {"expand/slash_var_x_here", "{/var,x}/here", "/value/1024/here", YES,
     TEMPLATE},
    {"expand/semi_xy_empty", "{;x,y,empty}", ";x=1024;y=768;empty", YES,
     TEMPLATE},
    {"expand/query_xy_empty", "{?x,y,empty}", "?x=1024&y=768&empty=", YES,
     TEMPLATE},
    {"expand/amp_fixed", "?fixed=yes{&x}", "?fixed=yes&x=1024", YES, TEMPLATE},
    {"expand/prefix", "{var:3}", "val", YES, TEMPLATE},
    {"expand/list", "{list}", "red,green,blue", YES, TEMPLATE},
    {"expand/slash_list_explode", "{/list*}", "/red/green/blue", YES, TEMPLATE},
    {"expand/semi_list_explode", "{;list*}", ";list=red;list=green;list=blue",
     YES, TEMPLATE},
    {"expand/query_list_explode", "{?list*}", "?list=red&list=green&list=blue",
     YES, TEMPLATE},
    {"expand/keys_explode", "{keys*}", "semi=%3B,dot=.,comma=%2C", YES,
     TEMPLATE},
    {"expand/plus_keys_explode", "{+keys*}", "semi=;,dot=.,comma=,", YES,
     TEMPLATE},
    {"expand/slash_list_path_prefix", "{/list*,path:4}",
     "/red/green/blue/%2Ffoo", YES, TEMPLATE},
    {"expand/query_keys_explode", "{?keys*}", "?semi=%3B&dot=.&comma=%2C", YES,
     TEMPLATE},
    /* And the unencoded values do not, where encoding changed them. */
    {"expand/hello_raw", "{hello}", "Hello World!", NO, TEMPLATE},
    {"expand/plus_hello_raw", "{+hello}", "Hello World!", NO, TEMPLATE},
    {"expand/keys_raw", "{keys*}", "semi=;,dot=.,comma=,", NO, TEMPLATE},
};

/* Operators: item sets, separators, counts, the optional expression. */
static const mcase_t op_cases[] = {
    /* simple {x}: unreserved, ",", %XX (either case) */
    {"op/simple_unreserved", "{x}", "a~b-c.d_e09AZ", YES, TEMPLATE},
    {"op/simple_star", "{x}", "a*b", NO, TEMPLATE},
    {"op/simple_equals", "{x}", "a=b", NO, TEMPLATE},
    {"op/simple_colon", "{x}", "a:b", NO, TEMPLATE},
    {"op/simple_lone_pct", "{x}", "a%", NO, TEMPLATE},
    {"op/simple_short_pct", "{x}", "a%2", NO, TEMPLATE},
    {"op/simple_lower_hex", "{x}", "%2f%c3%a9", YES, TEMPLATE},
    {"op/simple_list", "{a,b}", "1,2,3", YES, TEMPLATE},
    {"op/simple_explode_pairs", "{x*}", "a=b,c=d", YES, TEMPLATE},
    {"op/simple_then_literal", "{x}/{y}", "a/b", YES, TEMPLATE},
    {"op/simple_then_literal_more", "{x}/{y}", "a/b/c", NO, TEMPLATE},
    {"op/simple_adjacent", "{x}{y}", "ab", YES, TEMPLATE},
    {"op/simple_control", "{x}", "a\x01", NO, TEMPLATE},
    {"op/simple_del", "{x}", "a\x7f", NO, TEMPLATE},
    /* reserved {+x} */
    {"op/plus_reserved", "{+x}", ":/?#[]@!$&'()*+,;=", YES, TEMPLATE},
    {"op/plus_space", "{+x}", "a b", NO, TEMPLATE},
    {"op/plus_lone_pct", "{+x}", "a%zz", NO, TEMPLATE},
    {"op/plus_non_ascii", "{+x}", "caf\xc3\xa9", NO, TEMPLATE},
    {"op/plus_quote", "{+x}", "a\"b", NO, TEMPLATE},
    {"op/plus_braces", "{+x}", "a{b}", NO, TEMPLATE},
    {"op/plus_pct", "{+x}", "%2f%2F", YES, TEMPLATE},
    /* fragment {#x} */
    {"op/hash_reserved", "{#frag}", "#a/b?c", YES, TEMPLATE},
    {"op/hash_missing_first", "{#frag}", "a", NO, TEMPLATE},
    {"op/hash_absent", "x{#frag}", "x", YES, TEMPLATE},
    {"op/hash_empty_item", "{#frag}", "#", YES, TEMPLATE},
    /* label {.x}: "." is unreserved, so one item spans labels */
    {"op/dot_labels", "X{.x}", "X.a.b", YES, TEMPLATE},
    {"op/dot_missing_first", "X{.x}", "Xa", NO, TEMPLATE},
    /* path {/x} */
    {"op/slash_three", "{/a,b,c}", "/1/2/3", YES, TEMPLATE},
    {"op/slash_four", "{/a,b,c}", "/1/2/3/4", NO, TEMPLATE},
    {"op/slash_equals", "{/a}", "/k=v", NO, TEMPLATE},
    {"op/slash_explode_equals", "{/a*}", "/k=v", YES, TEMPLATE},
    {"op/slash_empty_items", "{/a,b}", "//", YES, TEMPLATE},
    /* The reference's ITEM sets: "=" in later items when any variable is
     * exploded, in the first item only when the first is. */
    {"op/slash_later_explode_equals", "{/a,b*}", "/x/k=v", YES, TEMPLATE},
    {"op/slash_later_explode_first_equals", "{/a,b*}", "/k=v/x", NO, TEMPLATE},
    /* path-style {;x} */
    {"op/semi_one", "{;x}", ";x=1", YES, TEMPLATE},
    {"op/semi_too_many", "{;x}", ";x=1;y=2", NO, TEMPLATE},
    {"op/semi_two", "{;x,y}", ";x=1;y=2", YES, TEMPLATE},
    {"op/semi_three_of_two", "{;a,b}", ";a;b;c", NO, TEMPLATE},
    /* query {?x} and continuation {&x} */
    {"op/query_bare", "{?q}", "?", YES, TEMPLATE},
    {"op/query_absent", "{?q}", "", YES, TEMPLATE},
    {"op/query_empty_items", "{?q,lang}", "?&", YES, TEMPLATE},
    {"op/query_wrong_first", "{?q}", "&q=1", NO, TEMPLATE},
    {"op/query_sep_needs_first_item", "{?a,b}", "&x", NO, TEMPLATE},
    {"op/query_colon", "{?q}", "?q=a:b", NO, TEMPLATE},
    {"op/amp_too_many", "{&x}", "&x=1&y=2", NO, TEMPLATE},
    {"op/amp_two", "{&x,y}", "&x=1&y=2", YES, TEMPLATE},
    {"op/amp_after_query", "/s{?a}{&b}", "/s?a=1&b=2", YES, TEMPLATE},
    {"op/amp_after_query_extra", "/s{?a}{&b}", "/s?a=1&b=2&c=3", NO, TEMPLATE},
    {"op/mixed_explode_unbounded", "{?a,b*}", "?a=1&b=2&b=3&b=4", YES,
     TEMPLATE},
    {"op/mixed_bounded_nine", "{?a,b,c,d,e,f,g,h,i}", "?a&b&c&d&e&f&g&h&i", YES,
     TEMPLATE},
    {"op/mixed_bounded_ten", "{?a,b,c,d,e,f,g,h,i}", "?a&b&c&d&e&f&g&h&i&j", NO,
     TEMPLATE},
};

/* Literal text: byte for byte, case-sensitive, no decoding. */
static const mcase_t lit_cases[] = {
    {"lit/pct_same", "https://example.com/a%2Fb/{id}",
     "https://example.com/a%2Fb/1", YES, TEMPLATE},
    {"lit/pct_lower", "https://example.com/a%2Fb/{id}",
     "https://example.com/a%2fb/1", NO, TEMPLATE},
    {"lit/pct_decoded", "https://example.com/a%2Fb/{id}",
     "https://example.com/a/b/1", NO, TEMPLATE},
    {"lit/non_ascii", "https://example.com/caf\xc3\xa9/{id}",
     "https://example.com/caf\xc3\xa9/1", YES, TEMPLATE},
    {"lit/non_ascii_encoded", "https://example.com/caf\xc3\xa9/{id}",
     "https://example.com/caf%C3%A9/1", NO, TEMPLATE},
    {"lit/apostrophe", "https://example.com/it's/{id}",
     "https://example.com/it's/1", YES, TEMPLATE},
    {"lit/host_case", "https://example.com/{id}", "https://EXAMPLE.com/1", NO,
     TEMPLATE},
    {"lit/trailing", BOOKS, "https://example.com/books/1 ", NO, TEMPLATE},
    {"lit/prefix_only", BOOKS, "https://example.com/book", NO, TEMPLATE},
    {"lit/encoded_whole", BOOKS, "https%3A%2F%2Fexample.com%2Fbooks%2F1", NO,
     TEMPLATE},
    {"lit/self", BOOKS, BOOKS, YES, TEMPLATE},
    {"lit/self_query", "https://example.com/search{?q,lang}",
     "https://example.com/search{?q,lang}", YES, TEMPLATE},
};

/* Valid syntax: is_template, and one topic each. */
static const mcase_t valid_cases[] = {
    {"valid/dotted_name", "/{a.b}", "/x", YES, TEMPLATE},
    {"valid/pct_name", "/{a%2Fb}", "/x", YES, TEMPLATE},
    {"valid/underscore_digit_name", "/{_1}", "/x", YES, TEMPLATE},
    {"valid/prefix_1", "/{a:1}", "/x", YES, TEMPLATE},
    {"valid/prefix_9999", "/{a:9999}", "/x", YES, TEMPLATE},
    {"valid/mixed_varspecs", "/{a,b*,c:5}", "/x,y", YES, TEMPLATE},
    {"valid/every_operator", "{a}{+b}{#c}{.d}{/e}{;f}{?g}{&h}",
     "x/y#z.w/v;f=1?g=2&h=3", YES, TEMPLATE},
    {"valid/nbsp_literal", "/\xc2\xa0{a}", "/\xc2\xa0x", YES, TEMPLATE},
    {"valid/iprivate_plane16", "/\xf4\x8f\xbf\xbd{a}", "/\xf4\x8f\xbf\xbdx",
     YES, TEMPLATE},
    {"valid/emoji_literal", "/\xf0\x9f\x98\x80{a}", "/\xf0\x9f\x98\x80x", YES,
     TEMPLATE},
    {"valid/literal_punct", "!#$&()*+,-./:;=?@[]_~{a}",
     "!#$&()*+,-./:;=?@[]_~x", YES, TEMPLATE},
};

/* Invalid syntax: exact comparison only (the row's own text still matches;
 * the topic is what the template would match if it were accepted). */
static const mcase_t invalid_cases[] = {
    {"invalid/unclosed", "/{id", "/1", NO, NOT_TEMPLATE},
    {"invalid/unclosed_after_name", "/{id,", "/1", NO, NOT_TEMPLATE},
    {"invalid/lone_brace", "/{", "/", NO, NOT_TEMPLATE},
    {"invalid/nested", "/{a{b}}", "/1", NO, NOT_TEMPLATE},
    {"invalid/empty_expression", "/{}", "/", NO, NOT_TEMPLATE},
    {"invalid/operator_only", "/{+}", "/", NO, NOT_TEMPLATE},
    {"invalid/dot_operator_only", "/{.}", "/", NO, NOT_TEMPLATE},
    {"invalid/leading_dot", "/{+.a}", "/1", NO, NOT_TEMPLATE},
    {"invalid/trailing_dot", "/{a.}", "/1", NO, NOT_TEMPLATE},
    {"invalid/double_dot", "/{a..b}", "/1", NO, NOT_TEMPLATE},
    {"invalid/hyphen_name", "/{a-b}", "/1", NO, NOT_TEMPLATE},
    {"invalid/space_in_name", "/{a b}", "/1", NO, NOT_TEMPLATE},
    {"invalid/space_before_name", "/{ a}", "/1", NO, NOT_TEMPLATE},
    {"invalid/non_ascii_name", "/{caf\xc3\xa9}", "/1", NO, NOT_TEMPLATE},
    {"invalid/bad_pct_name", "/{a%zz}", "/1", NO, NOT_TEMPLATE},
    {"invalid/short_pct_name", "/{a%2}", "/1", NO, NOT_TEMPLATE},
    {"invalid/empty_first_var", "/{,a}", "/1", NO, NOT_TEMPLATE},
    {"invalid/empty_last_var", "/{a,}", "/1", NO, NOT_TEMPLATE},
    {"invalid/reserved_op_equals", "/{=a}", "/1", NO, NOT_TEMPLATE},
    {"invalid/reserved_op_bang", "/{!a}", "/1", NO, NOT_TEMPLATE},
    {"invalid/reserved_op_at", "/{@a}", "/1", NO, NOT_TEMPLATE},
    {"invalid/reserved_op_pipe", "/{|a}", "/1", NO, NOT_TEMPLATE},
    {"invalid/double_operator", "/{+#a}", "/1", NO, NOT_TEMPLATE},
    {"invalid/prefix_0", "/{a:0}", "/1", NO, NOT_TEMPLATE},
    {"invalid/prefix_10000", "/{a:10000}", "/1", NO, NOT_TEMPLATE},
    {"invalid/prefix_leading_zero", "/{a:01}", "/1", NO, NOT_TEMPLATE},
    {"invalid/prefix_empty", "/{a:}", "/1", NO, NOT_TEMPLATE},
    {"invalid/prefix_letters", "/{a:x}", "/1", NO, NOT_TEMPLATE},
    {"invalid/prefix_and_explode", "/{a:3*}", "/1", NO, NOT_TEMPLATE},
    {"invalid/explode_and_prefix", "/{a*:3}", "/1", NO, NOT_TEMPLATE},
    {"invalid/double_explode", "/{a**}", "/1", NO, NOT_TEMPLATE},
    {"invalid/star_expression", "/{*}", "/1", NO, NOT_TEMPLATE},
    {"invalid/stray_close", "/}{id}", "/}1", NO, NOT_TEMPLATE},
    {"invalid/stray_close_end", "/{id}}", "/1}", NO, NOT_TEMPLATE},
    {"invalid/space_literal", "/a b/{id}", "/a b/1", NO, NOT_TEMPLATE},
    {"invalid/bad_pct_literal", "/%zz/{id}", "/%zz/1", NO, NOT_TEMPLATE},
    {"invalid/short_pct_literal", "/%2{id}", "/%21", NO, NOT_TEMPLATE},
    {"invalid/trailing_pct_literal", "/{id}%", "/1%", NO, NOT_TEMPLATE},
    {"invalid/dquote", "/\"{id}", "/\"1", NO, NOT_TEMPLATE},
    {"invalid/lt", "/<{id}", "/<1", NO, NOT_TEMPLATE},
    {"invalid/gt", "/>{id}", "/>1", NO, NOT_TEMPLATE},
    {"invalid/backslash", "/\\{id}", "/\\1", NO, NOT_TEMPLATE},
    {"invalid/caret", "/^{id}", "/^1", NO, NOT_TEMPLATE},
    {"invalid/backtick", "/`{id}", "/`1", NO, NOT_TEMPLATE},
    {"invalid/pipe", "/|{id}", "/|1", NO, NOT_TEMPLATE},
    {"invalid/tab", "/\t{id}", "/\t1", NO, NOT_TEMPLATE},
    {"invalid/del", "/\x7f{id}",
     "/\x7f"
     "1",
     NO, NOT_TEMPLATE},
    {"invalid/utf8_bad_byte", "/\xff{id}",
     "/\xff"
     "1",
     NO, NOT_TEMPLATE},
    {"invalid/utf8_truncated", "/\xc3{id}",
     "/\xc3"
     "1",
     NO, NOT_TEMPLATE},
    {"invalid/utf8_overlong", "/\xc0\xaf{id}",
     "/\xc0\xaf"
     "1",
     NO, NOT_TEMPLATE},
    {"invalid/utf8_surrogate", "/\xed\xa0\x80{id}",
     "/\xed\xa0\x80"
     "1",
     NO, NOT_TEMPLATE},
    {"invalid/c1_control", "/\xc2\x85{id}",
     "/\xc2\x85"
     "1",
     NO, NOT_TEMPLATE},
    {"invalid/noncharacter_fffe", "/\xef\xbf\xbe{id}",
     "/\xef\xbf\xbe"
     "1",
     NO, NOT_TEMPLATE},
    {"invalid/noncharacter_1fffe", "/\xf0\x9f\xbf\xbe{id}",
     "/\xf0\x9f\xbf\xbe"
     "1",
     NO, NOT_TEMPLATE},
    {"invalid/tag_e0001", "/\xf3\xa0\x80\x81{id}",
     "/\xf3\xa0\x80\x81"
     "1",
     NO, NOT_TEMPLATE},
    {"invalid/beyond_10ffff", "/\xf4\x90\x80\x80{id}",
     "/\xf4\x90\x80\x80"
     "1",
     NO, NOT_TEMPLATE},
};

/* "*", plain strings, case, no decoding. */
static const mcase_t exact_cases[] = {
    {"exact/star_empty", "*", "", YES, NOT_TEMPLATE},
    {"exact/star_url", "*", "https://example.com/books/1", YES, NOT_TEMPLATE},
    {"exact/star_binary", "*", "\x01\xff{}", YES, NOT_TEMPLATE},
    {"exact/double_star", "**", "a", NO, NOT_TEMPLATE},
    {"exact/star_prefix", "https://example.com/*", "https://example.com/1", NO,
     NOT_TEMPLATE},
    {"exact/same", "https://example.com/books/1", "https://example.com/books/1",
     YES, NOT_TEMPLATE},
    {"exact/trailing_slash", "https://example.com/books/1",
     "https://example.com/books/1/", NO, NOT_TEMPLATE},
    {"exact/prefix", "https://example.com/books/1",
     "https://example.com/books/", NO, NOT_TEMPLATE},
    {"exact/case", "https://example.com/books/1", "HTTPS://example.com/books/1",
     NO, NOT_TEMPLATE},
    {"exact/no_decoding_topic", "https://example.com/books/1",
     "https://example.com/books/%31", NO, NOT_TEMPLATE},
    {"exact/no_decoding_selector", "https://example.com/books/%31",
     "https://example.com/books/1", NO, NOT_TEMPLATE},
    {"exact/pct_case", "https://example.com/a%2Fb", "https://example.com/a%2fb",
     NO, NOT_TEMPLATE},
    {"exact/empty_empty", "", "", YES, NOT_TEMPLATE},
    {"exact/empty_other", "", "a", NO, NOT_TEMPLATE},
    {"exact/not_uri", "just a string with spaces", "just a string with spaces",
     YES, NOT_TEMPLATE},
    {"exact/close_brace_only", "/a}", "/a}", YES, NOT_TEMPLATE},
};

/* specs/mercure.md: §5's claim example, §10's conformance cases. */
static const mcase_t mercure_cases[] = {
    {"mercure/claim_alternate", "https://example.com/users/foo/{?topic}",
     "https://example.com/users/foo/"
     "?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1",
     YES, TEMPLATE},
    {"mercure/claim_canonical", "https://example.com/users/foo/{?topic}",
     "https://example.com/books/1", NO, TEMPLATE},
    {"mercure/claim_other_user", "https://example.com/users/foo/{?topic}",
     "https://example.com/users/bar/"
     "?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1",
     NO, TEMPLATE},
    {"mercure/subscription_canonical", BOOKS, "https://example.com/books/1",
     YES, TEMPLATE},
    {"mercure/subscription_alternate", BOOKS,
     "https://example.com/users/foo/"
     "?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1",
     NO, TEMPLATE},
    {"mercure/ct_raw_string", "string-topic", "string-topic", YES,
     NOT_TEMPLATE},
    {"mercure/ct_raw_string_other", "string-topic", "other-string-topic", NO,
     NOT_TEMPLATE},
    {"mercure/ct_uri", "https://example.net/foo/bar",
     "https://example.net/foo/bar", YES, NOT_TEMPLATE},
    {"mercure/ct_uri_other", "https://example.net/foo/bar",
     "https://example.net/foo/baz", NO, NOT_TEMPLATE},
    {"mercure/ct_template_random", "https://example.net/foo/{random}",
     "https://example.net/foo/0.7152376219046788", YES, TEMPLATE},
    {"mercure/ct_template_uuid", "https://example.net/foo/{random}",
     "https://example.net/foo/3fa85f64-5717-4562-b3fc-2c963f66afa6", YES,
     TEMPLATE},
    {"mercure/ct_template_other_path", "https://example.net/foo/{random}",
     "https://example.net/bar/1", NO, TEMPLATE},
    {"mercure/ct_template_negative", "https://example.net/bar/{var}",
     "https://example.net/foo/will-not-match}", NO, TEMPLATE},
    {"mercure/ct_template_negative_brace", "https://example.net/bar/{var}",
     "https://example.net/bar/will-not-match}", NO, TEMPLATE},
};

static void run_match(void **state) {
  const mcase_t *c = *state;
  hub_selector_t *sel = compile(c->selector);
  size_t len;
  const char *text = hub_selector_text(sel, &len);

  if ((int)hub_selector_is_template(sel) != c->tmpl) {
    print_error("is_template: got %d, want %d\n",
                (int)hub_selector_is_template(sel), c->tmpl);
    print_bytes("  selector", c->selector, strlen(c->selector));
    fail();
  }
  assert_int_equal(len, strlen(c->selector));
  assert_memory_equal(text, c->selector, len);
  expect_match(sel, c->topic, c->want);
  expect_match(sel, c->selector, true); /* a selector matches its text */
  hub_selector_free(sel);
}

/* ---- generated cases ---------------------------------------------------- */

/* A topic of n bytes: prefix, then unit repeated, then suffix (heap). */
static char *build(const char *prefix, const char *unit, size_t reps,
                   const char *suffix, size_t *n) {
  size_t p = strlen(prefix), u = strlen(unit), s = strlen(suffix);
  char *t = malloc(p + u * reps + s + 1);
  assert_non_null(t);
  memcpy(t, prefix, p);
  for (size_t i = 0; i < reps; i++)
    memcpy(t + p + i * u, unit, u);
  memcpy(t + p + u * reps, suffix, s + 1);
  *n = p + u * reps + s;
  return t;
}

static void gen_long_topics(void **state) {
  (void)state;
  size_t n;
  char *t;
  hub_selector_t *path = compile("https://example.com/{+path}");
  hub_selector_t *id = compile(BOOKS);
  hub_selector_t *segs = compile("https://example.com{/segs*}");
  hub_selector_t *three = compile("https://example.com{/a,b,c}");

  /* 128 KiB: far past the on-stack work area. */
  t = build("https://example.com/", "a/", 65536, "", &n);
  expect_match_n(path, t, n, true);
  expect_match_n(segs, t, n - 1, true); /* without the final "/" */
  expect_match_n(segs, t, n, true);     /* ... and with: an empty item */
  expect_match_n(three, t, n, false);
  expect_match_n(id, t, n, false);
  free(t);
  t = build("https://example.com/", "a/", 65536, " ", &n);
  expect_match_n(path, t, n, false);
  free(t);

  t = build("https://example.com/books/", "x", 10000, "", &n);
  expect_match_n(id, t, n, true);
  free(t);
  t = build("https://example.com/books/", "%2F", 10000, "", &n);
  expect_match_n(id, t, n, true);
  free(t);
  t = build("https://example.com/books/", "x", 10000, "/", &n);
  expect_match_n(id, t, n, false);
  free(t);
  t = build("https://example.com/books/", "x", 10000, "%2", &n);
  expect_match_n(id, t, n, false);
  free(t);

  /* Around the stack/heap boundary of the work area (about 400 bytes). */
  for (size_t reps = 350; reps < 450; reps++) {
    t = build("https://example.com/", "b/", reps, "", &n);
    expect_match_n(segs, t, n - 1, true);
    expect_match_n(three, t, n - 1, reps <= 3);
    expect_match_n(path, t, n, true);
    free(t);
  }

  /* A long exact selector. */
  t = build("urn:", "z", 100000, "", &n);
  hub_selector_t *ex = compile_n(t, n);
  assert_false(hub_selector_is_template(ex));
  expect_match_n(ex, t, n, true);
  expect_match_n(ex, t, n - 1, false);
  hub_selector_free(ex);
  free(t);

  hub_selector_free(path);
  hub_selector_free(id);
  hub_selector_free(segs);
  hub_selector_free(three);
}

/*
 * Templates that make a backtracking regex engine take exponential time:
 * many adjacent expressions that can each take any share of a run of the
 * same byte, then a mismatch at the end. The answers must be right and the
 * work within the O(|topic| x |selector|) bound expect_match_n checks.
 */
static void gen_pathological(void **state) {
  (void)state;
  size_t sn, tn, steps;
  char *s, *t;
  hub_selector_t *sel;

  /* {a}{a}...{a}b against aaaa...a (no b), then with the b. */
  s = build("", "{a}", 300, "b", &sn);
  sel = compile_n(s, sn);
  assert_true(hub_selector_is_template(sel));
  t = build("", "a", 4000, "", &tn);
  expect_match_n(sel, t, tn, false);
  assert_true(hub__selector_match_steps(sel, t, tn, &steps) == false);
  /* Each offset is classified once, then visited once per expression, and
   * once (plus one byte compared) for the final literal: no more. A
   * backtracking matcher would try every split of the run among the 300
   * expressions. */
  if (steps > tn + (tn + 1) * 300 + 2 * (tn + 1)) {
    print_error("steps: %zu\n", steps);
    fail();
  }
  free(t);
  t = build("", "a", 4000, "b", &tn);
  expect_match_n(sel, t, tn, true);
  free(t);
  hub_selector_free(sel);
  free(s);

  /* {+x}a{+x}a... against a run of a: literals interleaved. */
  s = build("", "{+x}a", 200, "", &sn);
  sel = compile_n(s, sn);
  t = build("", "a", 4000, "", &tn);
  expect_match_n(sel, t, tn, true);
  free(t);
  t = build("", "a", 4000, " ", &tn);
  expect_match_n(sel, t, tn, false);
  free(t);
  t = build("", "a", 199, "", &tn); /* one a short of the 200 literals */
  expect_match_n(sel, t, tn, false);
  free(t);
  hub_selector_free(sel);
  free(s);

  /* A long bounded repetition: {/a,a,...} with 1000 variables allows
   * exactly 1000 items (the reference's ( sep ITEM ){0,999}). */
  s = build("{/a", ",a", 999, "}", &sn);
  sel = compile_n(s, sn);
  assert_true(hub_selector_is_template(sel));
  t = build("", "/x", 1000, "", &tn);
  expect_match_n(sel, t, tn, true);
  free(t);
  t = build("", "/x", 1001, "", &tn);
  expect_match_n(sel, t, tn, false);
  free(t);
  t = build("", "/", 4000, "", &tn); /* empty items */
  expect_match_n(sel, t, tn, false);
  free(t);
  hub_selector_free(sel);
  free(s);

  /* Many multi-variable expressions in a row, each able to eat commas. */
  s = build("", "{a,b,c}", 100, "!", &sn);
  sel = compile_n(s, sn);
  t = build("", ",", 3000, "", &tn);
  expect_match_n(sel, t, tn, false);
  free(t);
  hub_selector_free(sel);
  free(s);

  /* Query items that may be empty, far more "&" than allowed. */
  s = build("", "{?a,b}{&c,d}", 50, "#", &sn);
  sel = compile_n(s, sn);
  t = build("?", "&", 3000, "", &tn);
  expect_match_n(sel, t, tn, false);
  free(t);
  hub_selector_free(sel);
  free(s);
}

/* The subscription-event topic of specs/mercure.md §7, built with the
 * encoder and matched by the watchers' selectors. */
static void gen_subscription_topics(void **state) {
  (void)state;
  static const char base[] = "/.well-known/mercure/subscriptions/";
  static const char sub[] = "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6";
  hub_selector_t *exact =
      compile("/.well-known/mercure/subscriptions/{topic}/{subscriber}");
  hub_selector_t *optional =
      compile("/.well-known/mercure/subscriptions{/topic}{/subscriber}");
  hub_selector_t *any_topic =
      compile("/.well-known/mercure/subscriptions/{topic}/"
              "urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6");
  const char *selectors[] = {"https://example.com/{selector}", "a b", "*",
                             "caf\xc3\xa9/{?q}", ""};
  for (size_t k = 0; k < COUNT(selectors); k++) {
    char buf[512];
    size_t n = strlen(base);
    memcpy(buf, base, n);
    n += hub_uri_encode_unreserved(selectors[k], strlen(selectors[k]), buf + n,
                                   sizeof(buf) - n);
    buf[n++] = '/';
    n += hub_uri_encode_unreserved(sub, strlen(sub), buf + n, sizeof(buf) - n);
    buf[n] = '\0';
    if (k == 0)
      assert_string_equal(buf, "/.well-known/mercure/subscriptions/"
                               "https%3A%2F%2Fexample.com%2F%7Bselector%7D/"
                               "urn%3Auuid%3Abb3de268-05b0-4c65-b44e-"
                               "8f9acefc29d6");
    expect_match_n(exact, buf, n, true);
    expect_match_n(optional, buf, n, true);
    expect_match_n(any_topic, buf, n, true);
  }
  /* Go's QueryEscape writes a space as "+", which {topic} refuses. */
  expect_match(exact,
               "/.well-known/mercure/subscriptions/a+b/"
               "urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6",
               false);
  expect_match(optional, "/.well-known/mercure/subscriptions/a%20b", true);
  expect_match(optional, "/.well-known/mercure/subscriptions/a/b/c", false);
  hub_selector_free(exact);
  hub_selector_free(optional);
  hub_selector_free(any_topic);
}

static void check_encode(const char *in, size_t len, const char *want) {
  char out[1024];
  size_t need = hub_uri_encode_unreserved(in, len, NULL, 0);
  assert_int_equal(need, strlen(want));
  memset(out, '#', sizeof(out));
  assert_int_equal(hub_uri_encode_unreserved(in, len, out, need), need);
  if (need > 0 && memcmp(out, want, need) != 0) {
    print_bytes("encode input", in, len);
    print_bytes("  got ", out, need);
    print_bytes("  want", want, need);
    fail();
  }
  assert_int_equal(out[need], '#'); /* no terminator, nothing past need */
}

static void gen_encode(void **state) {
  (void)state;
  check_encode("Hello World!", 12, "Hello%20World%21");
  check_encode("value", 5, "value");
  check_encode("/foo/bar", 8, "%2Ffoo%2Fbar");
  check_encode("a b+c", 5, "a%20b%2Bc");
  check_encode("AZaz09-._~", 10, "AZaz09-._~");
  check_encode(":/?#[]@!$&'()*+,;=%", 19,
               "%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25");
  check_encode("caf\xc3\xa9", 5, "caf%C3%A9");
  check_encode("a\0b", 3, "a%00b");
  check_encode("{}", 2, "%7B%7D");
  check_encode("", 0, "");
  check_encode(NULL, 0, "");

  /* Every byte value: unreserved passes, the rest is %XX upper-case. */
  for (unsigned c = 0; c < 256; c++) {
    char in = (char)c, out[4] = {0};
    bool unres = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                 c == '~';
    char want[4];
    if (unres)
      snprintf(want, sizeof(want), "%c", (int)c);
    else
      snprintf(want, sizeof(want), "%%%02X", c);
    assert_int_equal(hub_uri_encode_unreserved(&in, 1, out, 3), unres ? 1 : 3);
    assert_memory_equal(out, want, unres ? 1 : 3);
  }

  /* Too small: the length is returned and nothing is written. */
  char small[8];
  memset(small, '#', sizeof(small));
  assert_int_equal(hub_uri_encode_unreserved("a b", 3, small, 4), 5);
  for (size_t i = 0; i < sizeof(small); i++)
    assert_int_equal(small[i], '#');
  assert_int_equal(hub_uri_encode_unreserved("a b", 3, small, 5), 5);
  assert_memory_equal(small, "a%20b", 5);
  assert_int_equal(small[5], '#');

  /* An encoded value always matches a simple expression. */
  hub_selector_t *sel = compile("/x/{v}");
  for (unsigned c = 0; c < 256; c++) {
    char in[3] = {'a', (char)c, 'z'}, topic[16] = "/x/";
    size_t n = 3 + hub_uri_encode_unreserved(in, 3, topic + 3, 12);
    expect_match_n(sel, topic, n, true);
  }
  hub_selector_free(sel);
}

static void gen_ownership(void **state) {
  (void)state;
  char buf[] = "https://example.com/books/{id}";
  hub_selector_t *sel = NULL;
  assert_int_equal(hub_selector_compile(&sel, buf, strlen(buf)), 0);
  memset(buf, 'x', strlen(buf)); /* compiling copied the text */
  size_t len = 0;
  const char *text = hub_selector_text(sel, &len);
  assert_ptr_not_equal(text, buf);
  assert_int_equal(len, strlen(BOOKS));
  assert_string_equal(text, BOOKS); /* NUL-terminated */
  assert_ptr_equal(hub_selector_text(sel, NULL), text);
  assert_true(hub_selector_is_template(sel));
  expect_match(sel, "https://example.com/books/7", true);
  hub_selector_free(sel);

  hub_selector_free(NULL);

  /* A length shorter than the string: only those bytes count. */
  sel = compile_n("https://example.com/books/{id}/extra", strlen(BOOKS));
  assert_true(hub_selector_is_template(sel));
  assert_string_equal(hub_selector_text(sel, NULL), BOOKS);
  expect_match(sel, "https://example.com/books/1", true);
  expect_match(sel, "https://example.com/books/1/extra", false);
  hub_selector_free(sel);

  /* NULL with length 0 is the empty exact selector. */
  sel = NULL;
  assert_int_equal(hub_selector_compile(&sel, NULL, 0), 0);
  assert_false(hub_selector_is_template(sel));
  assert_string_equal(hub_selector_text(sel, &len), "");
  assert_int_equal(len, 0);
  expect_match_n(sel, NULL, 0, true);
  expect_match(sel, "a", false);
  hub_selector_free(sel);
}

static void gen_embedded_nul(void **state) {
  (void)state;
  /* Exact selectors compare all their bytes, NUL included. */
  hub_selector_t *sel = compile_n("a\0b", 3);
  assert_false(hub_selector_is_template(sel));
  expect_match_n(sel, "a\0b", 3, true);
  expect_match_n(sel, "a", 1, false);
  expect_match_n(sel, "a\0c", 3, false);
  hub_selector_free(sel);

  /* A NUL makes a template invalid: exact comparison only. */
  sel = compile_n("/\0{id}", 6);
  assert_false(hub_selector_is_template(sel));
  expect_match_n(sel, "/\0{id}", 6, true);
  expect_match_n(sel,
                 "/\0"
                 "1",
                 3, false);
  hub_selector_free(sel);

  /* And a topic's NUL is never in an item. */
  sel = compile("/{+id}");
  expect_match_n(sel, "/a\0b", 4, false);
  expect_match_n(sel, "/a%00b", 6, true);
  hub_selector_free(sel);
}

/* Every prefix of a template and of a topic: truncated templates are
 * either valid or exact, and never read past their end (ASan). */
static void gen_every_split(void **state) {
  (void)state;
  static const char *const templates[] = {
      "https://example.com/a{/p*}{?q*}", "/{a:9999,b*}{+c}%2F{#d}",
      "/.well-known/mercure/subscriptions{/topic}{/subscriber}",
      "caf\xc3\xa9{.x,y}"};
  static const char topic[] = "https://example.com/a/x%2Fy?q=1&r=%3d";
  for (size_t k = 0; k < COUNT(templates); k++) {
    size_t sl = strlen(templates[k]);
    for (size_t i = 0; i <= sl; i++) {
      hub_selector_t *sel = compile_n(templates[k], i);
      for (size_t j = 0; j <= sizeof(topic) - 1; j++) {
        char *t = dup_exact(topic, j);
        size_t steps;
        bool a = hub_selector_match(sel, t, j);
        bool b = hub__selector_match_steps(sel, t, j, &steps);
        assert_true(a == b);
        assert_true(steps <= step_bound(j, i));
        free(t);
      }
      expect_match_n(sel, templates[k], i, true);
      hub_selector_free(sel);
    }
  }
  /* Spot checks among those prefixes. */
  hub_selector_t *sel = compile_n(templates[0], strlen(templates[0]));
  expect_match(sel, "https://example.com/a/x%2Fy?q=1&r=%3d", true);
  expect_match(sel, "https://example.com/a", true);
  expect_match(sel, "https://example.com/a?q", true);
  expect_match(sel, "https://example.com/ab", false);
  hub_selector_free(sel);
}

static const struct {
  const char *name;
  CMUnitTestFunction fn;
} generated[] = {
    {"gen/long_topics", gen_long_topics},
    {"gen/pathological", gen_pathological},
    {"gen/subscription_topics", gen_subscription_topics},
    {"gen/encode", gen_encode},
    {"gen/ownership", gen_ownership},
    {"gen/embedded_nul", gen_embedded_nul},
    {"gen/every_split", gen_every_split},
};

int main(int argc, char **argv) {
  size_t n = 0,
         total = COUNT(ut5_cases) + COUNT(expand_cases) + COUNT(op_cases) +
                 COUNT(lit_cases) + COUNT(valid_cases) + COUNT(invalid_cases) +
                 COUNT(exact_cases) + COUNT(mercure_cases) + COUNT(generated);
  struct CMUnitTest *tests = calloc(total, sizeof(*tests));
  int rc;

  if (tests == NULL)
    return 1;
#define ADD(table)                                                             \
  for (size_t i = 0; i < COUNT(table); i++) {                                  \
    tests[n].name = table[i].name;                                             \
    tests[n].test_func = run_match;                                            \
    tests[n++].initial_state = (void *)&table[i];                              \
  }
  ADD(ut5_cases)
  ADD(expand_cases)
  ADD(op_cases)
  ADD(lit_cases)
  ADD(valid_cases)
  ADD(invalid_cases)
  ADD(exact_cases)
  ADD(mercure_cases)
#undef ADD
  for (size_t i = 0; i < COUNT(generated); i++) {
    tests[n].name = generated[i].name;
    tests[n++].test_func = generated[i].fn;
  }
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  rc = _cmocka_run_group_tests("hub_selector", tests, n, NULL, NULL);
  free(tests);
  return rc;
}
