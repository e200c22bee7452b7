#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora fuzz/corpus/<target>/ (run from anywhere; the
files are committed, so this only documents and regenerates them). Each
target's input layout is described at the top of fuzz/<target>.c."""
import hashlib, hmac, base64, os, struct, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SPLITS = [bytes([0x10, 0x30, 0x50, 0x70, 0x90, 0xb0, 0xd0]),
          bytes([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xfe]),
          bytes([0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86]),
          bytes([0x00, 0x00, 0x40, 0x40, 0xc0, 0xc0, 0xff])]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def reset(target):
    shutil.rmtree(os.path.join(HERE, "corpus", target), ignore_errors=True)


# ---- http1_parser: ctl[0] limits, ctl[1..7] splits, then the request -------
def http(name, req, limits=0, split=0):
    write("http1_parser", name, bytes([limits]) + SPLITS[split % 4] + req)


reset("http1_parser")
H = b"Host: hub.example.com\r\n"
http("get", b"GET / HTTP/1.1\r\n" + H + b"\r\n")
http("get_1_0", b"GET /index.html HTTP/1.0\r\n\r\n", split=1)
http("get_1_0_keepalive", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", split=2)
http("subscribe", b"GET /.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D&topic=https%3A%2F%2Fexample.com%2Fusers%2Fkevin%2Fbooks HTTP/1.1\r\n"
     + H + b"Accept: text/event-stream\r\nLast-Event-ID: book-1-rev-6\r\nCache-Control: no-cache\r\n\r\n", split=3)
body = b"topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&data=%7B%7D&id=book-1-rev-7&type=update&retry=5000"
http("publish", b"POST /.well-known/mercure HTTP/1.1\r\n" + H
     + b"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdLCJzdWJzY3JpYmUiOlsiKiJdfX0.bVXdlWXwfw9ySx7-iV5OpUSHo34RkjUdVzDLBcc6l_g\r\n"
     + b"Content-Type: application/x-www-form-urlencoded;charset=UTF-8\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
http("chunked", b"POST /upload HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n", split=1)
http("pipelined", b"GET /a HTTP/1.1\r\n" + H + b"\r\nGET /b HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n", split=2)
http("leading_crlf", b"\r\n\r\nOPTIONS * HTTP/1.1\r\n" + H + b"\r\n", split=3)
http("absolute_form", b"GET http://hub.example.com:8080/p?q=1 HTTP/1.1\r\nHost: hub.example.com:8080\r\n\r\n")
http("cl_list", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", split=1)
# smuggling shapes and other refusals
http("smuggle_cl_te", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", split=2)
http("smuggle_te_cl", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", split=3)
http("smuggle_te_identity", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, identity\r\n\r\n")
http("smuggle_te_gzip_chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n", split=1)
http("smuggle_te_obsfold", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n chunked\r\n\r\n", split=2)
http("smuggle_te_space_colon", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n", split=3)
http("smuggle_te_xchunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n")
http("smuggle_te_1_0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", split=1)
http("smuggle_cl_differ", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", split=2)
http("smuggle_cl_plus", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello", split=3)
http("smuggle_cl_huge", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999\r\n\r\n")
http("smuggle_bare_lf", b"GET / HTTP/1.1\n" + H + b"\n", split=1)
http("smuggle_bare_cr", b"GET / HTTP/1.1\r" + H + b"\r\r\n", split=2)
http("two_hosts", b"GET / HTTP/1.1\r\n" + H + H + b"\r\n", split=3)
http("no_host", b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n")
http("bad_host", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", split=1)
http("nul_in_value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", split=2)
http("obs_text", b"GET / HTTP/1.1\r\n" + H + b"X-Name: caf\xc3\xa9 \t\r\n\r\n", split=3)
http("expect_other", b"POST / HTTP/1.1\r\n" + H + b"Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx")
http("version_505", b"GET / HTTP/2.0\r\n" + H + b"\r\n", split=1)
http("version_bad", b"GET / HTTP/1.10\r\n" + H + b"\r\n", split=2)
http("connection_list", b"GET / HTTP/1.1\r\n" + H + b"Connection: Upgrade, close\r\n\r\n", split=3)
http("target_too_long", b"GET /" + b"a" * 40 + b" HTTP/1.1\r\n" + H + b"\r\n", limits=3 << 3)
http("head_too_big", b"GET / HTTP/1.1\r\n" + H + b"X-Pad: " + b"p" * 300 + b"\r\n\r\n", limits=3)
http("many_headers", b"GET / HTTP/1.1\r\n" + H + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n", split=1)

# ---- http1_chunked: ctl[0] bit 0 mode, ctl[1..7] splits, then bytes ---------
def chunked(name, data, mode=0, split=0):
    write("http1_chunked", name, bytes([mode]) + SPLITS[split % 4] + data)


reset("http1_chunked")
chunked("simple", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
chunked("then_next_request", b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n", split=1)
chunked("extensions", b"4;name=value;flag\r\nWiki\r\n5 ;x=\"a;b\"\r\npedia\r\n0;last\r\n\r\n", split=2)
chunked("trailers", b"a\r\n0123456789\r\n0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\nX-Sum: 1\r\n\r\n", split=3)
chunked("leading_zeros_upper", b"000000000000000A\r\n0123456789\r\n00\r\n\r\n")
chunked("binary", b"4\r\n\x00\r\n\xff\r\n0\r\n\r\n", split=1)
chunked("bad_bws_no_ext", b"5 \r\nhello\r\n0\r\n\r\n", split=2)
chunked("bad_overflow", b"8000000000000000\r\n", split=3)
chunked("bad_17_digits", b"00000000000000001\r\nx\r\n0\r\n\r\n")
chunked("bad_lf_only", b"5\nhello\n0\n\n", split=1)
chunked("bad_missing_crlf", b"5\r\nhelloX0\r\n\r\n", split=2)
chunked("bad_negative", b"-5\r\nhello\r\n0\r\n\r\n", split=3)
chunked("bad_trailer_fold", b"0\r\nX-A: 1\r\n folded\r\n\r\n")
chunked("bad_trailer_space", b"0\r\nX-A : 1\r\n\r\n", split=1)
chunked("bad_ext_ctl", b"1;a=\x01\r\nx\r\n0\r\n\r\n", split=2)
chunked("encode_text", b"the quick brown fox jumps over the lazy dog", mode=1)
chunked("encode_binary", bytes(range(256)), mode=1, split=1)
chunked("encode_empty", b"", mode=1, split=2)

# ---- urlencoded: any bytes -------------------------------------------------
reset("urlencoded")
for name, data in [
    ("form_publish", b"topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&topic=https%3A%2F%2Fexample.com%2Fusers%2Fkevin%2Fbooks&data=%7B%0A++%22title%22%3A+%22Mercure%22%0A%7D&id=book-1-rev-7&type=update&retry=5000"),
    ("form_empty_pieces", b"&&a=1&&=v&k&==&a=%zz&"),
    ("form_private", b"topic=urn:x&private=on&data=a+b%20c"),
    ("target_subscribe", b"/.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D&lastEventID=earliest"),
    ("target_absolute", b"http://hub.example.com:8080/a/b?x=1&y=2"),
    ("target_absolute_nopath", b"HTTPS://example.com?q"),
    ("target_userinfo", b"http://user@evil/"),
    ("target_authority", b"example.com:443"),
    ("target_star", b"*"),
    ("target_fragment", b"/a#frag"),
    ("path_dots", b"/a/b/../c/./d/.."),
    ("path_encoded_dots", b"/a/%2e%2E/%2e/b%2Fc/"),
    ("path_climb", b"/a/../../etc/passwd"),
    ("path_empty_segments", b"//a///b/.//../"),
    ("path_nul", b"/a%00b"),
    ("path_bad_escape", b"/a%2"),
    ("path_percent_percent", b"/%252e%252e/x"),
]:
    write("urlencoded", name, data)

# ---- hub_selector: selector LF topic ---------------------------------------
reset("hub_selector")
SEL = [
    ("https://example.com/books/{id}", "https://example.com/books/1"),
    ("https://example.com/books/{id}", "https://example.com/books/1/reviews"),
    ("https://example.com/books/{id}", "https://example.com/books/a%2Fb"),
    ("https://example.com/books/{id}", "https://example.com/books/caf\u00e9"),
    ("https://example.com/books/{id}.json", "https://example.com/books/1.xml"),
    ("{+base}/books/{id}", "https://example.com/books/1"),
    ("https://example.com/{+path}", "https://example.com/a/b/c?x=1#f"),
    ("https://example.com{/segments*}", "https://example.com/a/b/c"),
    ("https://example.com{/seg}", "https://example.com/a/b"),
    ("https://example.com/search{?q,lang}", "https://example.com/search?q=a&lang=fr&page=2"),
    ("https://example.com/search{?q}", "https://example.com/search?q=a+b"),
    ("https://example.com/users/foo/{?topic}", "https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1"),
    ("https://example.com/a{/p*}{?q*}", "https://example.com/a/x/y?q=1&r=2"),
    ("/{var:3}", "/abcdef"),
    ("https://example.com/{id", "https://example.com/1"),
    ("https://example.com/a b/{id}", "https://example.com/a b/1"),
    ("/.well-known/mercure/subscriptions{/topic}{/subscriber}", "/.well-known/mercure/subscriptions"),
    ("/.well-known/mercure/subscriptions/{topic}/{subscriber}", "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2F%7Bselector%7D/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"),
    ("https://example.net/bar/{var}", "https://example.net/foo/will-not-match}"),
    ("*", "anything at all"),
    ("X{.x,y}", "X.1024.768"),
    ("{;x,y,empty}", ";x=1024;y=768;empty"),
    ("{#hello}", "#Hello%20World!"),
    ("{keys*}", "semi=%3B,dot=.,comma=%2C"),
    ("?fixed=yes{&x}", "?fixed=yes&x=1024"),
    ("{/list*,path:4}", "/red/green/blue/%2Ffoo"),
    ("{a.b%41_c}{=x}", "x"),
    ("caf\u00e9/\U000F0000/{x}", "caf\u00e9/\U000F0000/1"),
]
for i, (s, t) in enumerate(SEL):
    write("hub_selector", "ut5_%02d" % i, (s + "\n" + t).encode())
# long topics: the match's work area moves from the stack to the heap
write("hub_selector", "long_reserved", b"/{+x}\n/" + b"a/b%2F" * 500)
write("hub_selector", "long_multi", b"/{/a,b,c,d,e,f,g,h}{?q*}\n" + b"/x" * 1000 + b"?q=1&r=2")
write("hub_selector", "many_vars", b"{" + b",".join(b"v%d" % i for i in range(60)) + b"}\n" + b",".join(b"%d" % i for i in range(61)))

# ---- hub_jwt: mode byte, then token / payload / header LF payload -----------
reset("hub_jwt")
KEY = b"!ChangeThisMercureHubJWTSecretKey!"
b64 = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=")


def token(h, p, key=KEY):
    s = b64(h) + b"." + b64(p)
    return s + b"." + b64(hmac.new(key, s, hashlib.sha256).digest())


ALL = b'{"mercure":{"publish":["*"],"subscribe":["*"]}}'
write("hub_jwt", "token_spec_typ", b"\x00" + token(b'{"alg":"HS256","typ":"JWT"}', ALL))
write("hub_jwt", "token_spec_conformance", b"\x00" + token(b'{"alg":"HS256"}', ALL))
write("hub_jwt", "token_wrong_key", b"\x00" + token(b'{"alg":"HS256"}', ALL, b"other"))
write("hub_jwt", "token_none", b"\x00" + b64(b'{"alg":"none"}') + b"." + b64(ALL) + b".")
write("hub_jwt", "token_padded", b"\x00" + token(b'{"alg":"HS256"}', ALL) + b"=")
write("hub_jwt", "token_expired_leeway", b"\x80" + token(b'{"alg":"HS256"}', b'{"exp":1699999998,"mercure":{"subscribe":["a"]}}'))
for i, p in enumerate([
        ALL,
        b'{"mercure":{"publish":["https://example.com/books/{id}"],"subscribe":[],"payload":{"user":"kevin","n":[1,2.5,null,true]}},"exp":1700000000.5}',
        b'{"https://mercure.rocks/":{"subscribe":["*"]},"mercure":{"publish":"bad"}}',
        b'{"mercure":null,"nbf":1700000003,"exp":9e18}',
        b'{"mercure":{"publish":["a","a"]},"mercure":{}}',
        b'{"exp":-1e300,"mercure":{"payload":"caf\\u00e9\\n"}}',
        b'{"mercure":{"subscribe":[1]}}',
        b'[]',
        b'{"exp":9223372036854775807}',
]):
    write("hub_jwt", "payload_%02d" % i, bytes([1 if i % 2 == 0 else 0x81]) + p)
for i, h in enumerate([b'{"alg":"none"}', b'{"alg":"RS256"}', b'{"alg":"HS256","crit":["b64"]}',
                       b'{"alg":"hs256"}', b'{"alg":["HS256"]}', b'{"typ":"JWT"}', b'{"alg":"HS256","alg":"HS256"}']):
    write("hub_jwt", "header_%02d" % i, b"\x02" + h + b"\n" + ALL)

# mode 3: the first two segments as sent (signed by the harness)
for i, segs in enumerate([b64(b'{"alg":"HS256"}') + b"." + b64(ALL),
                          b64(b'{"alg":"HS256"}') + b"=." + b64(ALL),
                          b64(b'{"alg":"HS256"}') + b"." + b64(ALL)[:-1] + b"1",
                          b64(b'{"alg":"HS256"}') + b".." + b64(ALL),
                          b64(b'{"alg":"HS256"}') + b".",
                          b"eyJhbGciOiJIUzI1NiJ9.e30"]):
    write("hub_jwt", "segments_%02d" % i, b"\x03" + segs)

# ---- sse_roundtrip: flags, retry (8), type len, id len, pad, fields --------
reset("sse_roundtrip")


def sse(name, flags, retry, typ, ident, data):
    write("sse_roundtrip", name, bytes([flags]) + struct.pack("<q", retry)
          + bytes([len(typ), len(ident), 0]) + typ + ident + data)


sse("mercure_update", 1 | 2 | 4 | 8, 5000, b"update", b"book-1-rev-7", b'{\n  "title": "Mercure"\n}')
sse("conformance", 2, 0, b"", b"urn:uuid:1", b"data for\n\n        case name")
sse("line_breaks", 0, 0, b"", b"", b"a\r\nb\rc\nd\r\r\n\n\r")
sse("empty_data", 16, 0, b"", b"", b"")
sse("empty_id_forget", 2, 0, b"", b"", b"x")
sse("leading_space_data", 1 | 4, 2147483647, b"ping", b"", b" x\n  y\n:not a comment\nid: 7\n")
sse("invalid_type_lf", 1, 0, b"a\nb", b"", b"x")
sse("invalid_id_cr", 2, 0, b"", b"7\r", b"x")
sse("invalid_id_nul", 2, 0, b"", b"a\x00b", b"x")
sse("invalid_id_space", 2, 0, b"", b" 7", b"x")
sse("invalid_retry_negative", 4 | 8, -1, b"", b"", b"x")
sse("invalid_retry_big", 4 | 8, 2147483648, b"", b"", b"x")
sse("utf8", 1 | 2, 0, b"caf\xc3\xa9", b"\xe2\x82\xac1", b"\xef\xbb\xbfbom\xff\xfe")
