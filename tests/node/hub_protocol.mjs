// SPDX-License-Identifier: MIT
// tests/node/hub_protocol.mjs: the Mercure protocol of hcs-hub
// (specs/mercure.md) through real clients: the `eventsource` npm package (a
// WHATWG EventSource for Node.js) for subscribing, fetch for publishing, and
// plain node:http requests where raw statuses and headers matter. Tokens are
// built here: HS256 with node:crypto HMAC, RS256 with an RSA key.
//
// Run by tests/integration/hub_protocol.sh, which starts the hubs and sets:
//   HUB_A      a hub run with --dev --cors-origins http://a.example
//              --publish-origins http://pub.example --max-body 65536
//   HUB_B      a hub run with --jwt-key $HUB_B_KEY --heartbeat 0.5 (not
//              anonymous)
//   HUB_R      a hub run with --jwt-alg RS256 --jwt-key @<public key of
//              the PEM private key in $HUB_RSA_KEY>
//   HUB_CASES  optional regex: run only the cases whose name matches
//
// Every case is named and independent (its own topics, its own
// subscribers, closed afterwards); every wait is bounded. Negative delivery
// checks ("receives nothing") publish a public "sentinel" update after the
// updates under test on a topic every subscriber of the case listens to: the
// hub delivers in publish order, so once each subscriber has the sentinel,
// anything it was going to receive has arrived. Prints "ok: <case>" or
// "FAIL: <case>: <request, expected, actual>", then a summary; exits 1 if
// any case failed.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { EventSource } from 'eventsource';

const HUB_A = process.env.HUB_A;
const HUB_B = process.env.HUB_B;
const HUB_R = process.env.HUB_R;
const HUB_B_KEY = process.env.HUB_B_KEY;
const RSA_KEY = process.env.HUB_RSA_KEY ? fs.readFileSync(process.env.HUB_RSA_KEY, 'utf8') : null;
const ONLY = process.env.HUB_CASES ? new RegExp(process.env.HUB_CASES) : null;
if (!HUB_A || !HUB_B || !HUB_R || !HUB_B_KEY || !RSA_KEY) {
  console.error('hub_protocol.mjs: set HUB_A, HUB_B, HUB_R, HUB_B_KEY and HUB_RSA_KEY (see hub_protocol.sh)');
  process.exit(2);
}

const DEV_KEY = '!ChangeThisMercureHubJWTSecretKey!';
const HUB_PATH = '/.well-known/mercure';
const RUN = crypto.randomBytes(4).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

// Shorten long strings in messages.
function show(v) {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s !== undefined && s.length > 300 ? `${s.slice(0, 300)}... (${s.length} chars)` : s;
}

// Checks that fail with the message alone (no diff dump): the message says
// what was sent, what was expected and what came.
const assert = {
  ok(cond, msg) {
    if (!cond) throw new Error(msg || 'check failed');
  },
  equal(actual, expected, msg) {
    if (actual !== expected) throw new Error(msg ? `${msg} [got ${show(actual)}, expected ${show(expected)}]` : `got ${show(actual)}, expected ${show(expected)}`);
  },
  notEqual(actual, other, msg) {
    if (actual === other) throw new Error(msg || `got ${show(actual)} twice`);
  },
  deepEqual(actual, expected, msg) {
    if (!isDeepStrictEqual(actual, expected)) throw new Error(msg || `got ${show(actual)}, expected ${show(expected)}`);
  },
  match(actual, re, msg) {
    if (!re.test(actual)) throw new Error(msg || `${show(actual)} does not match ${re}`);
  },
};

// ---- tokens -------------------------------------------------------------------

const b64u = (x) => Buffer.from(x).toString('base64url');

// A compact JWS: header and payload are objects (serialised here) or
// strings (taken as they are).
function signingInput(header, payload) {
  const enc = (x) => b64u(typeof x === 'string' ? x : JSON.stringify(x));
  return `${enc(header)}.${enc(payload)}`;
}
function hs256(payload, key = DEV_KEY, header = { alg: 'HS256', typ: 'JWT' }) {
  const s = signingInput(header, payload);
  return `${s}.${crypto.createHmac('sha256', key).update(s).digest('base64url')}`;
}
function rs256(payload, privateKey = RSA_KEY, header = { alg: 'RS256', typ: 'JWT' }) {
  const s = signingInput(header, payload);
  return `${s}.${crypto.sign('sha256', Buffer.from(s), privateKey).toString('base64url')}`;
}
const claims = (publish, subscribe, extra = {}) => {
  const mercure = {};
  if (publish) mercure.publish = publish;
  if (subscribe) mercure.subscribe = subscribe;
  return { mercure, ...extra };
};
// The publisher token for hub A: may publish everywhere.
const PUB = hs256(claims(['*'], ['*']));

// ---- HTTP ---------------------------------------------------------------------

// A raw request. For a text/event-stream answer, reads only `streamMs` of
// the body (or until `until(bodyText)` holds) and then closes the socket.
function raw(base, { method = 'GET', path = HUB_PATH, headers = {}, body, streamMs = 300, until } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        res.destroy();
        resolve({ status: res.statusCode, headers: res.headers, body: text });
      };
      const stream = /^text\/event-stream/.test(res.headers['content-type'] || '');
      const timer = setTimeout(finish, stream ? streamMs : 5000);
      res.on('data', (c) => {
        chunks.push(c);
        if (until && until(Buffer.concat(chunks).toString('utf8'))) finish();
      });
      res.on('end', finish);
      res.on('error', finish);
    });
    req.on('error', reject);
    req.setTimeout(6000, () => req.destroy(new Error(`no answer to ${method} ${path} within 6 s`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Publish with fetch. `fields`: an array of [name, value] pairs, or a string
// sent as the body as it is. Returns { status, type, body }.
async function publish(base, fields, { token = PUB, contentType = 'application/x-www-form-urlencoded', headers = {} } = {}) {
  const h = { ...headers };
  if (contentType) h['Content-Type'] = contentType;
  if (token) h.Authorization = `Bearer ${token}`;
  const body = typeof fields === 'string' ? fields : new URLSearchParams(fields).toString();
  const res = await fetch(new URL(HUB_PATH, base), { method: 'POST', headers: h, body, signal: AbortSignal.timeout(5000) });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text(), headers: res.headers };
}

// Publish and insist on 200; returns the id the hub answered.
async function publishOk(base, fields, opts) {
  const r = await publish(base, fields, opts);
  if (r.status !== 200)
    throw new Error(`publish ${show(typeof fields === 'string' ? fields : new URLSearchParams(fields).toString())} -> ${r.status} ${show(r.body)}, expected 200`);
  return r.body;
}

// ---- subscribers ----------------------------------------------------------------

const TYPES = ['message', 'update', 'greet', 'other'];

// A subscriber through the eventsource package. opts:
//   topics       selectors (the case's sentinel topic is added)
//   token        sent as `Authorization: <scheme> <token>` (scheme "Bearer")
//   via          'header' (default), 'query' or 'cookie'
//   headers      more request headers (e.g. Last-Event-ID)
//   query        more query parameters: [[name, value]...]
// Records events (type, data, lastEventId; sentinels apart), responses
// (status + headers of each connection), errors, and the open promise.
class Sub {
  constructor(ctx, base, opts = {}) {
    this.ctx = ctx;
    this.events = [];
    this.sentinels = [];
    this.responses = [];
    this.errors = [];
    this.waiters = [];
    const url = new URL(HUB_PATH, base);
    for (const t of [...(opts.topics || []), ctx.sentinel]) url.searchParams.append('topic', t);
    for (const [k, v] of opts.query || []) url.searchParams.append(k, v);
    const extra = { ...(opts.headers || {}) };
    const via = opts.via || 'header';
    if (opts.token && via === 'query') url.searchParams.append('authorization', opts.token);
    if (opts.token && via === 'header') extra.Authorization = `${opts.scheme || 'Bearer'} ${opts.token}`;
    if (opts.token && via === 'cookie') extra.Cookie = `other=1; mercureAuthorization=${opts.token}; x=y`;
    this.url = url.toString();
    this.es = new EventSource(this.url, {
      fetch: async (input, init) => {
        const res = await fetch(input, { ...init, headers: { ...init.headers, ...extra } });
        this.responses.push({ status: res.status, headers: res.headers, at: Date.now() });
        this._wake();
        return res;
      },
    });
    let rejectOpen;
    this.opened = new Promise((resolve, reject) => {
      rejectOpen = reject;
      this.es.addEventListener('open', () => resolve(), { once: true });
    });
    this.opened.catch(() => {});
    this.es.addEventListener('error', (e) => {
      this.errors.push({ code: e.code, message: e.message, readyState: this.es.readyState, at: Date.now() });
      rejectOpen(new Error(`subscribe ${this.url} failed: ${e.code ?? ''} ${e.message ?? ''}`));
      this._wake();
    });
    for (const type of TYPES) {
      this.es.addEventListener(type, (e) => {
        const ev = { type, data: e.data, lastEventId: e.lastEventId };
        (e.lastEventId.startsWith('sentinel-') ? this.sentinels : this.events).push(ev);
        this._wake();
      });
    }
    ctx.subs.push(this);
  }
  _wake() {
    for (const w of [...this.waiters]) w();
  }
  // Wait until pred() holds, at most ms; the error says what was awaited.
  waitFor(pred, ms, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pred()) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; received ${show(this.events.map((e) => e.lastEventId))}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }
  waitEvents(n, ms = 2500) {
    return this.waitFor(() => this.events.length >= n, ms, `${n} event(s)`);
  }
  ids() {
    return this.events.map((e) => e.lastEventId);
  }
  close() {
    this.es.close();
  }
}

// ---- the cases ----------------------------------------------------------------------

const cases = [];
const test = (name, fn, ms = 10000) => cases.push({ name, fn, ms });

let caseNo = 0;
function newCtx() {
  const n = ++caseNo;
  const ctx = {
    n,
    subs: [],
    sentinel: `https://example.com/${RUN}/case${n}/sentinel`,
    sentNo: 0,
    // A topic of this case only.
    t: (s) => `https://example.com/${RUN}/case${n}/${s}`,
    sub: (base, opts) => new Sub(ctx, base, opts),
    // Subscribe and wait for the stream to open.
    open: async (base, opts) => {
      const s = new Sub(ctx, base, opts);
      let timer;
      await Promise.race([s.opened, new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`subscribe ${s.url}: no open event within 3 s`)), 3000);
      })]).finally(() => clearTimeout(timer));
      return s;
    },
    // Publish a sentinel on `base` and wait until each of subs has it.
    settle: async (base, ...subs) => {
      const id = `sentinel-${n}-${++ctx.sentNo}`;
      await publishOk(base, [['topic', ctx.sentinel], ['id', id]], { token: base === HUB_A ? PUB : base === HUB_B ? hs256(claims(['*']), HUB_B_KEY) : rs256(claims(['*'])) });
      await Promise.all(subs.map((s) => s.waitFor(() => s.sentinels.some((e) => e.lastEventId === id), 2500, `the sentinel ${id}`)));
    },
  };
  return ctx;
}

// Expect the ids a subscriber received, in order.
function expectIds(sub, want, what) {
  assert.deepEqual(sub.ids(), want, `${what}: received ids ${show(sub.ids())}, expected ${show(want)}`);
}

// ---- sanity of the test's own signer ----------------------------------------------------

test('tokens: the signer reproduces the spec §9 HS256 tokens', async () => {
  const payload = '{"mercure":{"publish":["*"],"subscribe":["*"]}}';
  assert.equal(hs256(payload, DEV_KEY, '{"alg":"HS256","typ":"JWT"}'),
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdLCJzdWJzY3JpYmUiOlsiKiJdfX0.nINXJPMGL7u4vvquYYm3zgMosrqrxTSooTs7R_OJLZA');
  assert.equal(hs256(payload, DEV_KEY, '{"alg":"HS256"}'),
    'eyJhbGciOiJIUzI1NiJ9.eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdLCJzdWJzY3JpYmUiOlsiKiJdfX0.bVXdlWXwfw9ySx7-iV5OpUSHo34RkjUdVzDLBcc6l_g');
});

test('tokens: the conformance suite\'s publisher token (spec §9, bVXd...) publishes on --dev', async (ctx) => {
  const ct = 'eyJhbGciOiJIUzI1NiJ9.eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdLCJzdWJzY3JpYmUiOlsiKiJdfX0.bVXdlWXwfw9ySx7-iV5OpUSHo34RkjUdVzDLBcc6l_g';
  const s = await ctx.open(HUB_A, { topics: [ctx.t('ct')] });
  const r = await publish(HUB_A, [['topic', ctx.t('ct')], ['id', 'ct-1'], ['data', 'x']], { token: ct, contentType: 'application/x-www-form-urlencoded;charset=UTF-8' });
  assert.equal(r.status, 200, `POST with the CT token and Content-Type application/x-www-form-urlencoded;charset=UTF-8 -> ${r.status} ${show(r.body)}, expected 200`);
  assert.equal(r.body, 'ct-1', `the answer body is ${show(r.body)}, expected the posted id "ct-1"`);
  assert.match(r.type || '', /^text\/plain/, `the answer Content-Type is ${r.type}, expected text/plain`);
  await s.waitEvents(1);
  assert.deepEqual(s.events[0], { type: 'message', data: 'x', lastEventId: 'ct-1' });
});

// ---- selectors (§2, §3) ----------------------------------------------------------------

test('selector: exact topic string delivers, with the conformance suite\'s data', async (ctx) => {
  const data = 'data for\n\n        exact';
  const s = await ctx.open(HUB_A, { topics: [ctx.t('books/1')] });
  await publishOk(HUB_A, [['topic', ctx.t('books/1')], ['id', 'e-1'], ['data', data]]);
  await s.waitEvents(1);
  assert.deepEqual(s.events, [{ type: 'message', data, lastEventId: 'e-1' }],
    `an exact selector received ${show(s.events)}`);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['e-1'], 'exactly one delivery');
});

test('selector: a raw non-IRI string selector matches itself only', async (ctx) => {
  const topic = `raw string ${RUN} ${ctx.n}`;
  const s = await ctx.open(HUB_A, { topics: [topic] });
  await publishOk(HUB_A, [['topic', `${topic}x`], ['id', 'r-0']]);
  await publishOk(HUB_A, [['topic', topic], ['id', 'r-1']]);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['r-1'], `selector ${show(topic)}`);
});

test('selector: * receives every topic', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: ['*'] });
  await publishOk(HUB_A, [['topic', ctx.t('anything/at/all')], ['id', 'star-1']]);
  await publishOk(HUB_A, [['topic', `urn:${RUN}:${ctx.n}`], ['id', 'star-2']]);
  await ctx.settle(HUB_A, s);
  // * also sees other cases' traffic, but none runs concurrently.
  expectIds(s, ['star-1', 'star-2'], 'selector *');
});

test('selector: URI template https://example.com/.../books/{id}', async (ctx) => {
  const sel = ctx.t('books/{id}');
  const s = await ctx.open(HUB_A, { topics: [sel] });
  const pubs = [
    ['books/1', true], ['books/a%2Fb', true], ['books/1/reviews', false], ['BOOKS/1', false],
    ['books/%zz', false], ['books/1,2', true],
  ];
  for (const [i, [p]] of pubs.entries()) await publishOk(HUB_A, [['topic', ctx.t(p)], ['id', `tpl-${i}`]]);
  await ctx.settle(HUB_A, s);
  const want = pubs.flatMap(([, m], i) => (m ? [`tpl-${i}`] : []));
  assert.deepEqual(s.ids(), want,
    `selector ${sel} with topics ${show(pubs.map(([p, m]) => `${p}:${m ? 'match' : 'no'}`))}: received ${show(s.ids())}, expected ${show(want)}`);
});

test('selector: non-matching string, URI and template selectors receive nothing', async (ctx) => {
  const a = await ctx.open(HUB_A, { topics: [`not-${RUN}`] });
  const b = await ctx.open(HUB_A, { topics: [ctx.t('other/1')] });
  const c = await ctx.open(HUB_A, { topics: [ctx.t('bar/{var}')] });
  await publishOk(HUB_A, [['topic', ctx.t('foo/will-not-match}')], ['id', 'nm-1']]);
  await publishOk(HUB_A, [['topic', ctx.t('other/2')], ['id', 'nm-2']]);
  await ctx.settle(HUB_A, a, b, c);
  await sleep(100);
  for (const [n, s] of [['string', a], ['URI', b], ['template', c]])
    assert.deepEqual(s.ids(), [], `the non-matching ${n} selector received ${show(s.ids())}`);
});

test('selector: an update whose alternate topic only matches is delivered once', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('users/kevin/books')] });
  await publishOk(HUB_A, [['topic', ctx.t('books/1')], ['topic', ctx.t('users/kevin/books')], ['id', 'alt-1'], ['data', 'a']]);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['alt-1'], 'canonical books/1 + alternate users/kevin/books to a users/kevin/books subscriber');
});

test('selector: two matching selectors on one connection deliver the update once', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('books/{id}'), ctx.t('books/1'), '*'] });
  await publishOk(HUB_A, [['topic', ctx.t('books/1')], ['id', 'once-1']]);
  await publishOk(HUB_A, [['topic', ctx.t('books/1')], ['topic', ctx.t('books/2')], ['id', 'once-2']]);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['once-1', 'once-2'], 'three matching selectors, one and two matching topics');
});

test('selector: several topics and selectors, in publish order', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('x'), ctx.t('y/{id}'), ctx.t('search{?q,lang}')] });
  const other = await ctx.open(HUB_A, { topics: [ctx.t('z')] });
  const pubs = [
    [['x'], true], [['y/7'], true], [['z'], false], [['z', 'x'], true], [['y/7/8'], false],
    [['search?q=mercure&lang=fr'], true], [['search?q=a+b'], false], [['z', 'y/1', 'x'], true],
  ];
  for (const [i, [topics]] of pubs.entries())
    await publishOk(HUB_A, [...topics.map((t) => ['topic', ctx.t(t)]), ['id', `m-${i}`]]);
  await ctx.settle(HUB_A, s, other);
  const want = pubs.flatMap(([, m], i) => (m ? [`m-${i}`] : []));
  expectIds(s, want, 'selectors x, y/{id}, search{?q,lang}');
  expectIds(other, ['m-2', 'm-3', 'm-7'], 'selector z');
});

// ---- private updates (§5 Subscribers) ----------------------------------------------------

test('private: an exact mercure.subscribe claim receives; anonymous and non-matching do not', async (ctx) => {
  const topic = ctx.t('secret/1');
  const yes = await ctx.open(HUB_A, { topics: [topic], token: hs256(claims(null, [topic])) });
  const anon = await ctx.open(HUB_A, { topics: [topic] });
  const no = await ctx.open(HUB_A, { topics: [topic], token: hs256(claims(null, [ctx.t('secret/2')])) });
  const none = await ctx.open(HUB_A, { topics: [topic], token: hs256({ sub: 'no mercure claim' }) });
  const empty = await ctx.open(HUB_A, { topics: [topic], token: hs256(claims(['*'], [])) });
  await publishOk(HUB_A, [['topic', topic], ['id', 'p-1'], ['data', 'private'], ['private', 'on']]);
  await publishOk(HUB_A, [['topic', topic], ['id', 'p-2'], ['private', '']]); // presence is enough
  await publishOk(HUB_A, [['topic', topic], ['id', 'p-3']]); // public
  await ctx.settle(HUB_A, yes, anon, no, none, empty);
  expectIds(yes, ['p-1', 'p-2', 'p-3'], `claim subscribe:[${topic}]`);
  expectIds(anon, ['p-3'], 'an anonymous subscriber (private updates p-1, p-2 must not arrive)');
  expectIds(no, ['p-3'], 'claim subscribe:[.../secret/2] (private p-1, p-2 must not arrive)');
  expectIds(none, ['p-3'], 'a token without a mercure claim');
  expectIds(empty, ['p-3'], 'a token with mercure.subscribe = []');
});

test('private: a URI-template mercure.subscribe claim receives', async (ctx) => {
  const yes = await ctx.open(HUB_A, { topics: ['*'], token: hs256(claims(null, [ctx.t('books/{id}')])) });
  await publishOk(HUB_A, [['topic', ctx.t('books/5')], ['id', 'pt-1'], ['private', 'on']]);
  await publishOk(HUB_A, [['topic', ctx.t('books/5/x')], ['id', 'pt-2'], ['private', 'on']]);
  await publishOk(HUB_A, [['topic', ctx.t('authors/5')], ['topic', ctx.t('books/6')], ['id', 'pt-3'], ['private', 'on']]);
  await ctx.settle(HUB_A, yes);
  expectIds(yes, ['pt-1', 'pt-3'], 'claim books/{id}: books/5 yes, books/5/x no, alternate books/6 yes');
});

test('private: the spec §6.5 example ({?topic} claim, alternate topic)', async (ctx) => {
  const book = ctx.t('books/1');
  const alt = `${ctx.t('users/foo/')}?topic=${encodeURIComponent(book)}`;
  const sel = ctx.t('books/{id}');
  const foo = await ctx.open(HUB_A, { topics: [sel], token: hs256(claims(null, [`${ctx.t('users/foo/')}{?topic}`])) });
  const bar = await ctx.open(HUB_A, { topics: [sel], token: hs256(claims(null, [`${ctx.t('users/bar/')}{?topic}`])) });
  const anon = await ctx.open(HUB_A, { topics: [sel] });
  await publishOk(HUB_A, [['topic', book], ['topic', alt], ['id', 'ex-1'], ['data', 'for foo'], ['private', 'on']]);
  // The same with the alternate not percent-encoded: {?topic} cannot produce ":" or "/".
  await publishOk(HUB_A, [['topic', book], ['topic', `${ctx.t('users/foo/')}?topic=${book}`], ['id', 'ex-2'], ['private', 'on']]);
  await ctx.settle(HUB_A, foo, bar, anon);
  expectIds(foo, ['ex-1'], `user foo (claim users/foo/{?topic}), alternate ${alt}`);
  expectIds(bar, [], 'user bar (claim users/bar/{?topic})');
  expectIds(anon, [], 'an anonymous subscriber');
});

test('private: replay with Last-Event-ID honours the claim too', async (ctx) => {
  const topic = ctx.t('h');
  await publishOk(HUB_A, [['topic', topic], ['id', 'hp-1']]);
  await publishOk(HUB_A, [['topic', topic], ['id', 'hp-2'], ['private', 'on']]);
  await publishOk(HUB_A, [['topic', topic], ['id', 'hp-3']]);
  const anon = ctx.sub(HUB_A, { topics: [topic], query: [['lastEventID', 'earliest']] });
  const yes = ctx.sub(HUB_A, { topics: [topic], query: [['lastEventID', 'earliest']], token: hs256(claims(null, [topic])) });
  await Promise.all([anon.opened, yes.opened]);
  await ctx.settle(HUB_A, anon, yes);
  expectIds(anon, ['hp-1', 'hp-3'], 'anonymous replay from earliest (private hp-2 must be skipped)');
  expectIds(yes, ['hp-1', 'hp-2', 'hp-3'], 'replay from earliest with a matching claim');
});

// ---- token transports (§5) ------------------------------------------------------------

for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
  test(`transport: Authorization: ${scheme} <token> header`, async (ctx) => {
    const topic = ctx.t('s');
    const s = await ctx.open(HUB_A, { topics: [topic], token: hs256(claims(null, [topic])), scheme });
    await publishOk(HUB_A, [['topic', topic], ['id', 'h-1'], ['private', 'on']]);
    await ctx.settle(HUB_A, s);
    expectIds(s, ['h-1'], `private update to a subscriber sending "Authorization: ${scheme} ..."`);
    const r = await publish(HUB_A, [['topic', topic], ['id', 'h-2']], { token: null, headers: { Authorization: `${scheme} ${PUB}` } });
    assert.equal(r.status, 200, `publish with "Authorization: ${scheme} <token>" -> ${r.status} ${show(r.body)}, expected 200`);
  });
}

test('transport: authorization query parameter', async (ctx) => {
  const topic = ctx.t('s');
  const s = await ctx.open(HUB_A, { topics: [topic], token: hs256(claims(null, [topic])), via: 'query' });
  await publishOk(HUB_A, [['topic', topic], ['id', 'q-1'], ['private', 'on']]);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['q-1'], 'private update to a subscriber with ?authorization=<token>');
  const cc = s.responses[0].headers.get('cache-control') || '';
  assert.match(cc, /private/, `the stream answered with Cache-Control ${show(cc)}; with a token in the query it SHOULD be private (spec §5, M7 §6.3)`);
  // Publishing with the query parameter.
  const res = await fetch(`${HUB_A}${HUB_PATH}?authorization=${PUB}`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `topic=${encodeURIComponent(topic)}`,
  });
  assert.equal(res.status, 200, `POST ${HUB_PATH}?authorization=<token> -> ${res.status}, expected 200`);
});

test('transport: a repeated authorization query parameter is refused (401)', async (ctx) => {
  const tok = hs256(claims(null, ['*']));
  const r = await raw(HUB_A, { path: `${HUB_PATH}?topic=${encodeURIComponent(ctx.t('x'))}&authorization=${tok}&authorization=${tok}` });
  assert.equal(r.status, 401, `GET with two authorization parameters -> ${r.status}, expected 401`);
});

test('transport: mercureAuthorization cookie (subscribe)', async (ctx) => {
  const topic = ctx.t('s');
  const s = await ctx.open(HUB_A, { topics: [topic], token: hs256(claims(null, [topic])), via: 'cookie' });
  await publishOk(HUB_A, [['topic', topic], ['id', 'c-1'], ['private', 'on']]);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['c-1'], 'private update to a subscriber with Cookie: ...; mercureAuthorization=<token>; ...');
});

test('transport: the header wins and never falls back (bad header + good query/cookie -> 401)', async (ctx) => {
  const good = hs256(claims(null, ['*']));
  const bad = hs256(claims(null, ['*']), 'wrong key wrong key wrong key wrong key');
  const path = `${HUB_PATH}?topic=${encodeURIComponent(ctx.t('x'))}&authorization=${good}`;
  let r = await raw(HUB_A, { path, headers: { Authorization: `Bearer ${bad}`, Cookie: `mercureAuthorization=${good}` } });
  assert.equal(r.status, 401, `GET ?authorization=<good> with Authorization: Bearer <bad signature> -> ${r.status}, expected 401`);
  r = await raw(HUB_A, { path, headers: { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
  assert.equal(r.status, 401, `GET ?authorization=<good> with Authorization: Basic ... -> ${r.status}, expected 401`);
  // And the query parameter wins over the cookie.
  r = await raw(HUB_A, { path: `${HUB_PATH}?topic=x&authorization=${bad}`, headers: { Cookie: `mercureAuthorization=${good}` } });
  assert.equal(r.status, 401, `GET ?authorization=<bad> with a good cookie -> ${r.status}, expected 401`);
});

// Publishing with the cookie: only from an allowed Origin (or Referer).
async function cookiePublish(ctx, headers) {
  return raw(HUB_A, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `mercureAuthorization=${PUB}`, ...headers },
    body: `topic=${encodeURIComponent(ctx.t('cookie'))}&data=x`,
  });
}

test('transport: cookie publish from an allowed Origin -> 200', async (ctx) => {
  const r = await cookiePublish(ctx, { Origin: 'http://pub.example' });
  assert.equal(r.status, 200, `POST with the cookie and Origin: http://pub.example (--publish-origins) -> ${r.status} ${show(r.body)}, expected 200`);
  const r2 = await cookiePublish(ctx, { Referer: 'http://pub.example/page?x=1' });
  assert.equal(r2.status, 200, `POST with the cookie and only Referer: http://pub.example/page?x=1 -> ${r2.status} ${show(r2.body)}, expected 200`);
});

test('transport: cookie publish without Origin, or from a foreign one -> 403', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('cookie')] });
  for (const h of [{}, { Origin: 'http://evil.example' }, { Origin: 'http://pub.example.evil.example' },
    { Referer: 'http://evil.example/' }, { Origin: 'null' }]) {
    const r = await cookiePublish(ctx, h);
    assert.equal(r.status, 403, `POST with the cookie and ${show(h)} -> ${r.status} ${show(r.body)}, expected 403`);
  }
  await ctx.settle(HUB_A, s);
  expectIds(s, [], 'updates refused with 403 must not be delivered');
});

// ---- bad tokens (§5) ----------------------------------------------------------------

const BAD_TOKENS = () => ({
  expired: hs256(claims(['*'], ['*'], { exp: now() - 10 })),
  'not yet valid (nbf in 60 s)': hs256(claims(['*'], ['*'], { nbf: now() + 60 })),
  'wrong signature': hs256(claims(['*'], ['*']), 'not the development key, not at all'),
  'tampered payload': (() => {
    const [h, , sig] = PUB.split('.');
    return `${h}.${b64u(JSON.stringify(claims(['*'], ['*'], { x: 1 })))}.${sig}`;
  })(),
  'alg none, no signature': `${signingInput({ alg: 'none', typ: 'JWT' }, claims(['*'], ['*']))}.`,
  'alg none, HS256 signature': (() => {
    const s = signingInput({ alg: 'none' }, claims(['*'], ['*']));
    return `${s}.${crypto.createHmac('sha256', DEV_KEY).update(s).digest('base64url')}`;
  })(),
  'alg HS512': (() => {
    const s = signingInput({ alg: 'HS512' }, claims(['*'], ['*']));
    return `${s}.${crypto.createHmac('sha512', DEV_KEY).update(s).digest('base64url')}`;
  })(),
  'unknown crit': hs256(claims(['*'], ['*']), DEV_KEY, { alg: 'HS256', crit: ['x-unknown'], 'x-unknown': 1 }),
  'malformed: one segment': 'garbage',
  'malformed: two segments': 'abc.def',
  'malformed: four segments': `${PUB}.x`,
  'malformed: header not JSON': (() => {
    const s = `${b64u('not json')}.${b64u(JSON.stringify(claims(['*'], ['*'])))}`;
    return `${s}.${crypto.createHmac('sha256', DEV_KEY).update(s).digest('base64url')}`;
  })(),
  'malformed: payload not JSON': hs256('{"mercure":', DEV_KEY),
  'malformed: bad base64url': `${PUB.slice(0, 10)}*${PUB.slice(11)}`,
  'malformed: empty': '',
});

test('bad tokens: subscribing with each -> 401 with WWW-Authenticate: Bearer', async (ctx) => {
  const errors = [];
  for (const [name, tok] of Object.entries(BAD_TOKENS())) {
    const r = await raw(HUB_A, { path: `${HUB_PATH}?topic=${encodeURIComponent(ctx.t('x'))}`, headers: { Authorization: `Bearer ${tok}` } });
    if (r.status !== 401) errors.push(`${name}: GET with it -> ${r.status}, expected 401`);
    else if (!/^Bearer/i.test(r.headers['www-authenticate'] || ''))
      errors.push(`${name}: 401 without WWW-Authenticate: Bearer (got ${show(r.headers['www-authenticate'])})`);
  }
  assert.deepEqual(errors, [], errors.join('; '));
});

test('bad tokens: publishing with each -> 401, nothing delivered', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('x')] });
  const errors = [];
  for (const [name, tok] of Object.entries(BAD_TOKENS())) {
    const r = await publish(HUB_A, [['topic', ctx.t('x')], ['data', name]], { token: null, headers: { Authorization: `Bearer ${tok}` } });
    if (r.status !== 401) errors.push(`${name}: POST with it -> ${r.status}, expected 401`);
  }
  // Also through the query parameter and the cookie.
  const exp = BAD_TOKENS().expired;
  let res = await fetch(`${HUB_A}${HUB_PATH}?authorization=${exp}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `topic=${encodeURIComponent(ctx.t('x'))}` });
  if (res.status !== 401) errors.push(`expired token in ?authorization= on POST -> ${res.status}, expected 401`);
  res = await raw(HUB_A, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `mercureAuthorization=${exp}`, Origin: 'http://pub.example' }, body: `topic=${encodeURIComponent(ctx.t('x'))}` });
  if (res.status !== 401) errors.push(`expired token in the cookie on POST from an allowed Origin -> ${res.status}, expected 401`);
  await ctx.settle(HUB_A, s);
  if (s.ids().length) errors.push(`refused updates were delivered: ${show(s.ids())}`);
  assert.deepEqual(errors, [], errors.join('; '));
});

test('bad tokens: no token on publish -> 401 with WWW-Authenticate', async (ctx) => {
  const r = await raw(HUB_A, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `topic=${encodeURIComponent(ctx.t('x'))}` });
  assert.equal(r.status, 401, `POST without any token -> ${r.status} ${show(r.body)}, expected 401`);
  assert.match(r.headers['www-authenticate'] || '', /^Bearer/i, `401 without WWW-Authenticate: Bearer (got ${show(r.headers['www-authenticate'])})`);
});

test('bad tokens: a valid token without mercure.publish -> 403', async (ctx) => {
  for (const [what, tok] of [
    ['only mercure.subscribe', hs256(claims(null, ['*']))],
    ['mercure.publish = []', hs256(claims([], ['*']))],
    ['no mercure claim', hs256({ sub: 'x' })],
  ]) {
    const r = await publish(HUB_A, [['topic', ctx.t('x')]], { token: tok });
    assert.equal(r.status, 403, `POST with a token with ${what} -> ${r.status} ${show(r.body)}, expected 403 (spec §5 Publishers)`);
  }
});

test('bad tokens: publishing outside the mercure.publish claim -> 403, nothing dispatched', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: ['*'] });
  const tok = hs256(claims([ctx.t('allowed/{id}'), ctx.t('exact')], null));
  let r = await publish(HUB_A, [['topic', ctx.t('allowed/1')], ['id', 'ok-1']], { token: tok });
  assert.equal(r.status, 200, `POST to allowed/1 with claim allowed/{id} -> ${r.status} ${show(r.body)}, expected 200`);
  r = await publish(HUB_A, [['topic', ctx.t('exact')], ['id', 'ok-2']], { token: tok });
  assert.equal(r.status, 200, `POST to exact with claim exact -> ${r.status}, expected 200`);
  r = await publish(HUB_A, [['topic', ctx.t('denied/1')], ['id', 'no-1']], { token: tok });
  assert.equal(r.status, 403, `POST to denied/1 with claim allowed/{id} -> ${r.status} ${show(r.body)}, expected 403`);
  r = await publish(HUB_A, [['topic', ctx.t('allowed/1')], ['topic', ctx.t('denied/1')], ['id', 'no-2']], { token: tok });
  assert.equal(r.status, 403, `POST to allowed/1 + alternate denied/1 -> ${r.status} ${show(r.body)}, expected 403 (every topic must be allowed)`);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['ok-1', 'ok-2'], 'only the allowed publishes are delivered');
});

test('bad tokens: a non-anonymous hub (--jwt-key K) refuses anonymous subscribers (401)', async (ctx) => {
  const path = `${HUB_PATH}?topic=${encodeURIComponent(ctx.t('x'))}`;
  let r = await raw(HUB_B, { path });
  assert.equal(r.status, 401, `GET on hub B without a token -> ${r.status}, expected 401`);
  assert.match(r.headers['www-authenticate'] || '', /^Bearer/i, `401 without WWW-Authenticate: Bearer (got ${show(r.headers['www-authenticate'])})`);
  r = await raw(HUB_B, { path, headers: { Authorization: `Bearer ${hs256(claims(null, ['*']))}` } });
  assert.equal(r.status, 401, `GET on hub B with a token signed with the development key -> ${r.status}, expected 401`);
  // A valid token for hub B subscribes (even without any claim: public updates only).
  const good = await ctx.open(HUB_B, { topics: [ctx.t('x')], token: hs256({}, HUB_B_KEY) });
  await publishOk(HUB_B, [['topic', ctx.t('x')], ['id', 'b-1']], { token: hs256(claims([ctx.t('x')]), HUB_B_KEY) });
  await publishOk(HUB_B, [['topic', ctx.t('x')], ['id', 'b-2'], ['private', 'on']], { token: hs256(claims([ctx.t('x')]), HUB_B_KEY) });
  await ctx.settle(HUB_B, good);
  expectIds(good, ['b-1'], 'hub B subscriber with a claim-less token');
  r = await publish(HUB_B, [['topic', ctx.t('x')]], { token: PUB });
  assert.equal(r.status, 401, `POST on hub B with a development-key token -> ${r.status}, expected 401`);
});

test('RS256: a hub with --jwt-alg RS256 --jwt-key @pub.pem', async (ctx) => {
  const topic = ctx.t('rs');
  const s = await ctx.open(HUB_R, { topics: [topic], token: rs256(claims(null, [topic])) });
  const id = await publishOk(HUB_R, [['topic', topic], ['id', 'rs-1'], ['private', 'on'], ['data', 'signed']], { token: rs256(claims([topic])) });
  assert.equal(id, 'rs-1');
  await ctx.settle(HUB_R, s);
  assert.deepEqual(s.events, [{ type: 'message', data: 'signed', lastEventId: 'rs-1' }], `RS256 subscriber received ${show(s.events)}`);
  const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const pubPem = crypto.createPublicKey(RSA_KEY).export({ type: 'spki', format: 'pem' });
  const errors = [];
  for (const [name, tok] of [
    ['RS256 signed by another key', rs256(claims(['*'], ['*']), other)],
    ['HS256 (the hub has an RS256 key)', hs256(claims(['*'], ['*']))],
    ['HS256 keyed with the public PEM (algorithm confusion)', hs256(claims(['*'], ['*']), pubPem)],
    ['alg none', `${signingInput({ alg: 'none' }, claims(['*'], ['*']))}.`],
    ['expired RS256', rs256(claims(['*'], ['*'], { exp: now() - 5 }))],
  ]) {
    const r1 = await publish(HUB_R, [['topic', topic]], { token: tok });
    if (r1.status !== 401) errors.push(`POST with ${name} -> ${r1.status}, expected 401`);
    const r2 = await raw(HUB_R, { path: `${HUB_PATH}?topic=${encodeURIComponent(topic)}`, headers: { Authorization: `Bearer ${tok}` } });
    if (r2.status !== 401) errors.push(`GET with ${name} -> ${r2.status}, expected 401`);
  }
  assert.deepEqual(errors, [], errors.join('; '));
});

// ---- malformed publishes (§4) ----------------------------------------------------------

// [name, body string, status, content type]
const MALFORMED = (t) => [
  ['missing topic', 'data=x&id=a', 400],
  ['empty body', '', 400],
  ['Content-Type text/plain', `topic=${t}`, 415, 'text/plain'],
  ['Content-Type multipart/form-data', `topic=${t}`, 415, 'multipart/form-data; boundary=x'],
  ['no Content-Type', `topic=${t}`, 415, null],
  ['Content-Type application/x-www-form-urlencodedX', `topic=${t}`, 415, 'application/x-www-form-urlencodedX'],
  ['retry=abc', `topic=${t}&retry=abc`, 400],
  ['retry=-1', `topic=${t}&retry=-1`, 400],
  ['retry=1.5', `topic=${t}&retry=1.5`, 400],
  ['retry=+5', `topic=${t}&retry=%2B5`, 400],
  ['retry=99999999999999999999', `topic=${t}&retry=99999999999999999999`, 400],
  ['id with LF (%0A)', `topic=${t}&id=a%0Aevent%3A%20evil`, 400],
  ['id with CR (%0D)', `topic=${t}&id=a%0Db`, 400],
  ['id with NUL (%00)', `topic=${t}&id=a%00b`, 400],
  ['type with a control character (%01)', `topic=${t}&type=a%01b`, 400],
  ['type with LF (%0A)', `topic=${t}&type=a%0Adata%3A%20x`, 400],
  ['id starting with #', `topic=${t}&id=%23123`, 400],
  ['id "earliest"', `topic=${t}&id=earliest`, 400],
  ['topic containing /.well-known/mercure', `topic=${encodeURIComponent('https://example.com/.well-known/mercure/subscriptions/x')}`, 403],
  ['alternate topic containing /.well-known/mercure', `topic=${t}&topic=%2F.well-known%2Fmercure%2Fsubscriptions`, 403],
  ['data not UTF-8 (%FF)', `topic=${t}&data=a%FFb`, 400],
  ['data not UTF-8 (truncated %C3)', `topic=${t}&data=a%C3`, 400],
  ['data not UTF-8 (overlong %C0%AF)', `topic=${t}&data=%C0%AF`, 400],
  ['data not UTF-8 (surrogate %ED%A0%80)', `topic=${t}&data=%ED%A0%80`, 400],
];

test('malformed publish: each refused with its status, nothing delivered', async (ctx) => {
  const topic = ctx.t('m');
  const s = await ctx.open(HUB_A, { topics: ['*'] });
  const errors = [];
  for (const [name, body, want, ct = 'application/x-www-form-urlencoded'] of MALFORMED(encodeURIComponent(topic))) {
    const r = await publish(HUB_A, body, { contentType: ct });
    if (r.status !== want) errors.push(`${name}: POST ${show(body)} (Content-Type ${ct}) -> ${r.status} ${show(r.body.trim())}, expected ${want}`);
  }
  await ctx.settle(HUB_A, s);
  if (s.ids().length) errors.push(`refused updates were delivered: ${show(s.events)}`);
  assert.deepEqual(errors, [], `\n    ${errors.join('\n    ')}`);
});

test('malformed publish: a body over --max-body (64 KiB) -> 413', async (ctx) => {
  const body = `topic=${encodeURIComponent(ctx.t('big'))}&data=${'x'.repeat(70000)}`;
  let r;
  try {
    r = await raw(HUB_A, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${PUB}` }, body });
  } catch (e) {
    throw new Error(`POST of ${body.length} bytes: no HTTP answer (${e.message}), expected 413`);
  }
  assert.equal(r.status, 413, `POST of ${body.length} bytes -> ${r.status} ${show(r.body)}, expected 413`);
  // Just under the limit is fine.
  const ok = `topic=${encodeURIComponent(ctx.t('big'))}&data=${'y'.repeat(60000)}`;
  const r2 = await publish(HUB_A, ok);
  assert.equal(r2.status, 200, `POST of ${ok.length} bytes -> ${r2.status} ${show(r2.body)}, expected 200`);
});

test('malformed publish: retry=0, empty data, an empty type and id with space inside are accepted', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('ok')] });
  await publishOk(HUB_A, [['topic', ctx.t('ok')], ['retry', '0'], ['id', 'ok 1'], ['type', '']]);
  await ctx.settle(HUB_A, s);
  assert.deepEqual(s.events, [{ type: 'message', data: '', lastEventId: 'ok 1' }], `received ${show(s.events)}`);
});

// ---- ids (§4) ----------------------------------------------------------------------

const UUID_V4 = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('ids: without id the hub answers 200 text/plain urn:uuid:<v4> and the event carries it', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('gen')] });
  const r1 = await publish(HUB_A, [['topic', ctx.t('gen')], ['data', 'one']]);
  const r2 = await publish(HUB_A, [['topic', ctx.t('gen')], ['data', 'two']]);
  for (const r of [r1, r2]) {
    assert.equal(r.status, 200, `publish without id -> ${r.status} ${show(r.body)}`);
    assert.match(r.type || '', /^text\/plain(;|$)/, `Content-Type ${show(r.type)}, expected text/plain`);
    assert.match(r.body, UUID_V4, `the answer ${show(r.body)} is not urn:uuid: + an RFC 4122 version 4 UUID (lower-case hex)`);
  }
  assert.notEqual(r1.body, r2.body, 'two generated ids are equal');
  await s.waitEvents(2);
  assert.deepEqual(s.events.map((e) => [e.data, e.lastEventId]), [['one', r1.body], ['two', r2.body]],
    `the events' lastEventId must be the ids in the answers`);
});

test('ids: a custom id is echoed exactly and used', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('custom')] });
  const ids = ['book-1-rev-7', 'https://example.com/ids/é?x=1#f', 'urn:uuid:0190b8c2-0000-7000-8000-000000000000', 'a:b'];
  for (const id of ids) {
    const r = await publish(HUB_A, [['topic', ctx.t('custom')], ['id', id]]);
    assert.equal(r.status, 200, `publish with id ${show(id)} -> ${r.status} ${show(r.body)}`);
    assert.equal(r.body, id, `publish with id ${show(id)} answered ${show(r.body)}`);
  }
  await s.waitEvents(ids.length);
  expectIds(s, ids, 'custom ids');
});

// ---- event fields (§3) --------------------------------------------------------------

test('fields: type becomes the event name, retry and id are written (spec §9 wire format)', async (ctx) => {
  const topics = [ctx.t('books/1'), ctx.t('users/kevin/books')];
  // The raw stream, to see the bytes.
  const wire = raw(HUB_A, {
    path: `${HUB_PATH}?topic=${encodeURIComponent(ctx.t('books/{id}'))}&topic=${encodeURIComponent(topics[1])}`,
    streamMs: 3000, until: (b) => b.includes('\n\n', b.indexOf('id: book-1-rev-7')),
  });
  const s = await ctx.open(HUB_A, { topics: [ctx.t('books/{id}')] });
  await sleep(100); // the raw subscriber has no "open" event
  const data = '{\n  "title": "Mercure"\n}';
  const body = `${topics.map((t) => `topic=${encodeURIComponent(t)}`).join('&')}&data=${encodeURIComponent(data).replace(/%20/g, '+')}&id=book-1-rev-7&type=update&retry=5000`;
  const r = await publish(HUB_A, body, { contentType: 'application/x-www-form-urlencoded;charset=UTF-8' });
  assert.equal(r.status, 200, `the §9 publish -> ${r.status} ${show(r.body)}`);
  assert.equal(r.body, 'book-1-rev-7');
  await s.waitEvents(1);
  assert.deepEqual(s.events, [{ type: 'update', data, lastEventId: 'book-1-rev-7' }],
    `EventSource got ${show(s.events)}, expected one "update" event`);
  const w = await wire;
  assert.equal(w.status, 200, `raw subscribe -> ${w.status}`);
  assert.match(w.headers['content-type'] || '', /^text\/event-stream/);
  // The §9 block: event, then retry and id (the spec lists retry first;
  // their order means nothing to a client), then the data lines.
  const start = w.body.indexOf('event: update\n');
  const block = start < 0 ? '' : w.body.slice(start, w.body.indexOf('\n\n', start) + 2);
  const lines = block.split('\n');
  const want = ['event: update', 'id: book-1-rev-7', 'retry: 5000', 'data: {', 'data:   "title": "Mercure"', 'data: }', '', ''];
  const got = [lines[0], ...lines.slice(1, 3).sort(), ...lines.slice(3)];
  assert.deepEqual(got, want, `the stream bytes ${show(w.body)} do not hold the §9 event block (event: update / retry: 5000 / id: book-1-rev-7 / data: { / data:   "title": "Mercure" / data: })`);
  assert.equal(w.body.split('id: book-1-rev-7').length, 2, `the update reached the two-selector raw subscriber ${w.body.split('id: book-1-rev-7').length - 1} times`);
});

test('fields: multi-line (LF, CRLF, CR) and non-ASCII data arrive exactly', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('d')] });
  const cases = [
    ['lf', 'a\nb\nc', 'a\nb\nc'],
    ['crlf', 'a\r\nb\r\nc', 'a\nb\nc'],
    ['cr', 'a\rb', 'a\nb'],
    ['inner empty line and indentation', 'data for\n\n        indented', 'data for\n\n        indented'],
    ['trailing LF', 'a\n', 'a\n'],
    ['only LF', '\n', '\n'],
    ['empty', '', ''],
    ['leading space', ' x', ' x'],
    ['colon and field-looking lines', 'id: 7\nevent: evil\n: comment', 'id: 7\nevent: evil\n: comment'],
    ['non-ASCII', 'h\u00e9llo \u20ac \u{1F600} \u65e5\u672c \u2028', 'h\u00e9llo \u20ac \u{1F600} \u65e5\u672c \u2028'],
    ['BOM first', '\uFEFFx', '\uFEFFx'],
    ['plus and percent', 'a+b%20c&d=e', 'a+b%20c&d=e'],
  ];
  for (const [i, [, data]] of cases.entries()) await publishOk(HUB_A, [['topic', ctx.t('d')], ['id', `d-${i}`], ['data', data]]);
  await ctx.settle(HUB_A, s);
  const errors = [];
  for (const [i, [name, , want]] of cases.entries()) {
    const ev = s.events.find((e) => e.lastEventId === `d-${i}`);
    if (!ev) errors.push(`${name}: not received`);
    else if (ev.data !== want || ev.type !== 'message') errors.push(`${name}: data ${show(ev.data)} type ${ev.type}, expected ${show(want)} message`);
  }
  if (s.events.length !== cases.length) errors.push(`received ${s.events.length} events for ${cases.length} publishes: ${show(s.ids())}`);
  assert.deepEqual(errors, [], errors.join('; '));
});

test('fields: data near the 64 KiB body limit arrives exactly', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('big')] });
  const data = `${'\u00e9'.repeat(5000)}\n${'z'.repeat(20000)}`;
  await publishOk(HUB_A, [['topic', ctx.t('big')], ['id', 'big-1'], ['data', data]]);
  await s.waitEvents(1);
  assert.ok(s.events[0].data === data, `data of ${data.length} chars arrived as ${s.events[0].data.length} chars`);
});

// ---- reconciliation (§6) --------------------------------------------------------------

// Publish ids <prefix>-1..n on topic; returns the ids.
async function history(ctx, topic, prefix, n) {
  const ids = [];
  for (let i = 1; i <= n; i++) {
    ids.push(`${prefix}-${i}`);
    await publishOk(HUB_A, [['topic', topic], ['id', `${prefix}-${i}`], ['data', `${i}`]]);
  }
  return ids;
}

function lastEventIdHeader(sub) {
  return sub.responses[0]?.headers.get('last-event-id');
}

test('reconciliation: Last-Event-ID header replays exactly the later updates, then live ones', async (ctx) => {
  const topic = ctx.t('r');
  await publishOk(HUB_A, [['topic', ctx.t('elsewhere')], ['id', 'el-1']]);
  await history(ctx, topic, 'rh', 5);
  const s = await ctx.open(HUB_A, { topics: [topic], headers: { 'Last-Event-ID': 'rh-2' } });
  assert.equal(lastEventIdHeader(s), 'rh-2', `response Last-Event-ID ${show(lastEventIdHeader(s))}, expected rh-2`);
  await s.waitEvents(3);
  await publishOk(HUB_A, [['topic', topic], ['id', 'rh-6']]);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['rh-3', 'rh-4', 'rh-5', 'rh-6'], 'Last-Event-ID: rh-2 then one live update');
});

test('reconciliation: lastEventID query parameter', async (ctx) => {
  const topic = ctx.t('r');
  await history(ctx, topic, 'rq', 4);
  const s = await ctx.open(HUB_A, { topics: [topic], query: [['lastEventID', 'rq-3']] });
  assert.equal(lastEventIdHeader(s), 'rq-3', `response Last-Event-ID ${show(lastEventIdHeader(s))}, expected rq-3`);
  await publishOk(HUB_A, [['topic', topic], ['id', 'rq-5']]);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['rq-4', 'rq-5'], '?lastEventID=rq-3 then one live update');
});

test('reconciliation: the Last-Event-ID header wins over the lastEventID parameter', async (ctx) => {
  const topic = ctx.t('r');
  await history(ctx, topic, 'rb', 5);
  const s = await ctx.open(HUB_A, { topics: [topic], headers: { 'Last-Event-ID': 'rb-3' }, query: [['lastEventID', 'rb-1']] });
  assert.equal(lastEventIdHeader(s), 'rb-3', `response Last-Event-ID ${show(lastEventIdHeader(s))}, expected rb-3 (the header's)`);
  await ctx.settle(HUB_A, s);
  expectIds(s, ['rb-4', 'rb-5'], 'header rb-3 + query rb-1');
});

test('reconciliation: an unknown id answers Last-Event-ID: earliest', async (ctx) => {
  const topic = ctx.t('r');
  await history(ctx, topic, 'ru', 2);
  const s = await ctx.open(HUB_A, { topics: [topic], headers: { 'Last-Event-ID': `never-published-${RUN}` } });
  assert.equal(lastEventIdHeader(s), 'earliest', `response Last-Event-ID ${show(lastEventIdHeader(s))} for an unknown id, expected earliest`);
  await ctx.settle(HUB_A, s);
  // "earliest" says the events before the first one sent are unknown: what
  // was sent must be a suffix of history, in order, without duplicates.
  const got = s.ids();
  assert.ok(['', 'ru-2', 'ru-1,ru-2'].includes(got.join(',')), `after an unknown id the hub replayed ${show(got)}`);
});

test('reconciliation: lastEventID=earliest replays all history, in order', async (ctx) => {
  const topic = ctx.t('r');
  const ids = await history(ctx, topic, 're', 5);
  await publishOk(HUB_A, [['topic', ctx.t('other')], ['id', 're-other']]);
  const q = await ctx.open(HUB_A, { topics: [topic], query: [['lastEventID', 'earliest']] });
  const h = await ctx.open(HUB_A, { topics: [topic], headers: { 'Last-Event-ID': 'earliest' } });
  for (const s of [q, h]) assert.equal(lastEventIdHeader(s), 'earliest', `response Last-Event-ID ${show(lastEventIdHeader(s))}, expected earliest`);
  await ctx.settle(HUB_A, q, h);
  expectIds(q, ids, '?lastEventID=earliest');
  expectIds(h, ids, 'Last-Event-ID: earliest');
});

test('reconciliation: no Last-Event-ID, no Last-Event-ID response header and no replay', async (ctx) => {
  const topic = ctx.t('r');
  await history(ctx, topic, 'rn', 2);
  const s = await ctx.open(HUB_A, { topics: [topic] });
  assert.equal(lastEventIdHeader(s), null, `response Last-Event-ID ${show(lastEventIdHeader(s))} without one in the request`);
  await ctx.settle(HUB_A, s);
  expectIds(s, [], 'a plain subscription');
});

test('reconciliation: no gap, no duplicate while updates keep coming', async (ctx) => {
  const topic = ctx.t('r');
  const N = 60;
  let published = 0;
  let resume = null;
  const publisher = (async () => {
    for (let i = 1; i <= N; i++) {
      await publishOk(HUB_A, [['topic', topic], ['id', `rc-${i}`]]);
      published = i;
      if (i === 10) resume();
    }
  })();
  await new Promise((r) => { resume = r; });
  const s = ctx.sub(HUB_A, { topics: [topic], headers: { 'Last-Event-ID': 'rc-10' } });
  await publisher;
  await s.opened;
  await ctx.settle(HUB_A, s);
  const want = Array.from({ length: N - 10 }, (_, i) => `rc-${i + 11}`);
  assert.equal(published, N);
  expectIds(s, want, 'subscribed with Last-Event-ID rc-10 while rc-11..rc-60 were published');
});

// The Node client's own reconnection: an update with retry=100 shortens the
// wait, the hub ends nothing itself, so this uses the expiry path below.

test('expiry: a token with exp 2 s ahead ends the stream then; reconnecting gets 401', async (ctx) => {
  const topic = ctx.t('exp');
  const exp = now() + 2;
  const tok = hs256(claims(null, [topic], { exp }));
  const t0 = Date.now();
  // Through the query parameter, so that the client's reconnect carries it.
  const s = await ctx.open(HUB_A, { topics: [topic], token: tok, via: 'query' });
  await publishOk(HUB_A, [['topic', topic], ['id', 'x-1'], ['retry', '100'], ['private', 'on']]);
  await s.waitEvents(1);
  // The stream ends (the client reconnects: a second response), and the
  // reconnect is refused with 401, which stops the client for good.
  await s.waitFor(() => s.responses.length >= 2, 5000, 'the client to reconnect after the stream ended');
  const endedAt = s.responses[1].at;
  await s.waitFor(() => s.es.readyState === 2, 2000, 'the client to stop (readyState CLOSED)');
  const late = endedAt - exp * 1000;
  assert.ok(late > -1100 && late < 1600,
    `the stream ended (client reconnected) ${late} ms after exp (subscribed ${exp * 1000 - t0} ms before exp), expected about at exp`);
  assert.equal(s.responses[1].status, 401, `the reconnect with the expired token -> ${s.responses[1].status}, expected 401`);
  assert.equal(s.responses[1].headers.get('last-event-id'), null, 'a 401 should not carry Last-Event-ID');
  const codes = s.errors.map((e) => e.code).filter((c) => c !== undefined);
  assert.ok(codes.includes(401), `the client's error events carry codes ${show(codes)}, expected 401`);
  // And a fresh request with the same token.
  const r = await raw(HUB_A, { path: `${HUB_PATH}?topic=${encodeURIComponent(topic)}`, headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(r.status, 401, `GET with the expired token -> ${r.status}, expected 401`);
}, 12000);

test('expiry: the raw stream of a token expiring in 2 s ends by itself', async (ctx) => {
  const topic = ctx.t('exp');
  const exp = now() + 2;
  const t0 = Date.now();
  const r = await raw(HUB_A, {
    path: `${HUB_PATH}?topic=${encodeURIComponent(topic)}`,
    headers: { Authorization: `Bearer ${hs256(claims(null, ['*'], { exp }))}` },
    streamMs: 5000,
  });
  const ended = Date.now();
  assert.equal(r.status, 200);
  assert.ok(ended - t0 < 4900, `the stream of a token expiring ${exp * 1000 - t0} ms later was still open after 5 s`);
  assert.ok(ended - exp * 1000 > -1100, `the stream ended ${exp * 1000 - ended} ms before exp`);
}, 12000);

// ---- subscribe errors, CORS, pages (§3, §8) -------------------------------------------

test('subscribe: missing topic -> 400', async () => {
  for (const path of [HUB_PATH, `${HUB_PATH}?x=1`, `${HUB_PATH}?topics=a`]) {
    const r = await raw(HUB_A, { path });
    assert.equal(r.status, 400, `GET ${path} -> ${r.status} ${show(r.body)}, expected 400`);
  }
});

test('subscribe: stream headers (text/event-stream, no caching)', async (ctx) => {
  const r = await raw(HUB_A, { path: `${HUB_PATH}?topic=${encodeURIComponent(ctx.t('h'))}`, streamMs: 200 });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] || '', /^text\/event-stream/, `Content-Type ${show(r.headers['content-type'])}`);
  assert.match(r.headers['cache-control'] || '', /no-cache|no-store/, `Cache-Control ${show(r.headers['cache-control'])}`);
});

test('subscribe: the heartbeat comment (hub B runs with --heartbeat 0.5)', async (ctx) => {
  const t0 = Date.now();
  const r = await raw(HUB_B, {
    path: `${HUB_PATH}?topic=${encodeURIComponent(ctx.t('hb'))}`,
    headers: { Authorization: `Bearer ${hs256({}, HUB_B_KEY)}` },
    streamMs: 3000,
    until: (b) => (b.match(/^:[^\n]*\n/gm) || []).length >= 3,
  });
  assert.equal(r.status, 200);
  const n = (r.body.match(/^:[^\n]*\n/gm) || []).length;
  assert.ok(n >= 3, `an idle stream held ${n} comment line(s) in ${Date.now() - t0} ms with --heartbeat 0.5: ${show(r.body)}`);
});

test('CORS: preflight from an allowed origin gets it back with credentials', async () => {
  const r = await raw(HUB_A, {
    method: 'OPTIONS',
    headers: { Origin: 'http://a.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization, last-event-id' },
  });
  assert.ok(r.status >= 200 && r.status < 300, `OPTIONS -> ${r.status}, expected 2xx`);
  assert.equal(r.headers['access-control-allow-origin'], 'http://a.example', `Access-Control-Allow-Origin ${show(r.headers['access-control-allow-origin'])}`);
  assert.equal(r.headers['access-control-allow-credentials'], 'true', `Access-Control-Allow-Credentials ${show(r.headers['access-control-allow-credentials'])}`);
  const allowH = (r.headers['access-control-allow-headers'] || '').toLowerCase();
  for (const h of ['authorization', 'last-event-id'])
    assert.ok(allowH.includes(h), `Access-Control-Allow-Headers ${show(allowH)} lacks ${h}`);
  assert.match(r.headers['access-control-allow-methods'] || '', /GET/, `Access-Control-Allow-Methods ${show(r.headers['access-control-allow-methods'])}`);
});

test('CORS: a foreign origin gets no CORS headers', async (ctx) => {
  const pre = await raw(HUB_A, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET' } });
  const get = await raw(HUB_A, { path: `${HUB_PATH}?topic=${encodeURIComponent(ctx.t('c'))}`, headers: { Origin: 'http://evil.example' }, streamMs: 100 });
  for (const [what, r] of [['OPTIONS', pre], ['GET', get]]) {
    const cors = Object.keys(r.headers).filter((h) => h.startsWith('access-control-allow-'));
    assert.deepEqual(cors, [], `${what} with Origin: http://evil.example answered ${show(cors.map((h) => `${h}: ${r.headers[h]}`))}`);
  }
});

test('CORS: the stream for an allowed origin allows credentials and exposes Last-Event-ID', async (ctx) => {
  const r = await raw(HUB_A, { path: `${HUB_PATH}?topic=${encodeURIComponent(ctx.t('c'))}&lastEventID=earliest`, headers: { Origin: 'http://a.example' }, streamMs: 100 });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'http://a.example');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  assert.match(r.headers['access-control-expose-headers'] || '', /last-event-id/i, `Access-Control-Expose-Headers ${show(r.headers['access-control-expose-headers'])}`);
  assert.equal(r.headers['last-event-id'], 'earliest');
});

test('pages: /healthz 200, discovery Link on /, 405 with Allow', async () => {
  let r = await raw(HUB_A, { path: '/healthz' });
  assert.equal(r.status, 200, `GET /healthz -> ${r.status}`);
  r = await raw(HUB_A, { path: '/' });
  assert.equal(r.status, 200, `GET / -> ${r.status}`);
  assert.match(r.headers.link || '', /<[^>]*\/\.well-known\/mercure>;\s*rel="mercure"/, `GET / Link header ${show(r.headers.link)}`);
  r = await raw(HUB_A, { method: 'PUT', body: 'x', headers: { 'Content-Type': 'text/plain' } });
  assert.equal(r.status, 405, `PUT ${HUB_PATH} -> ${r.status}, expected 405`);
  assert.match(r.headers.allow || '', /GET.*POST/, `Allow ${show(r.headers.allow)}`);
});

function metric(text, name) {
  const m = text.match(new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm'));
  return m ? Number(m[1]) : null;
}

test('metrics: the counters are there and move (published, deliveries, subscribers)', async (ctx) => {
  const names = ['hcs_hub_connections', 'hcs_hub_subscribers', 'hcs_hub_topics', 'hcs_hub_updates_published_total',
    'hcs_hub_deliveries_total', 'hcs_hub_dropped_total', 'hcs_hub_slow_consumer_closes_total', 'hcs_hub_bytes_out_total'];
  const get = async () => {
    const r = await raw(HUB_A, { path: '/metrics' });
    assert.equal(r.status, 200, `GET /metrics -> ${r.status}`);
    assert.match(r.headers['content-type'] || '', /^text\/plain/);
    return r.body;
  };
  const before = await get();
  const missing = names.filter((n) => metric(before, n) === null || !before.includes(`# TYPE ${n} `));
  assert.deepEqual(missing, [], `/metrics lacks ${show(missing)} (with # TYPE)`);
  const s = await ctx.open(HUB_A, { topics: [ctx.t('m')] });
  await publishOk(HUB_A, [['topic', ctx.t('m')], ['id', 'met-1']]);
  await s.waitEvents(1);
  const after = await get();
  const d = (n) => metric(after, n) - metric(before, n);
  assert.equal(d('hcs_hub_updates_published_total'), 1, `published moved by ${d('hcs_hub_updates_published_total')} after one publish`);
  assert.ok(d('hcs_hub_deliveries_total') >= 1, `deliveries moved by ${d('hcs_hub_deliveries_total')} after a delivered update`);
  assert.ok(d('hcs_hub_bytes_out_total') > 0, 'bytes out did not move');
  assert.ok(metric(after, 'hcs_hub_subscribers') >= 1, `subscribers = ${metric(after, 'hcs_hub_subscribers')} with one open`);
});

test('stats: /hub/stats is JSON with the counters and the open subscriber', async (ctx) => {
  const s = await ctx.open(HUB_A, { topics: [ctx.t('stats')] });
  await publishOk(HUB_A, [['topic', ctx.t('stats')], ['id', 'st-1']]);
  await s.waitEvents(1);
  const r = await raw(HUB_A, { path: '/hub/stats' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] || '', /^application\/json/);
  const j = JSON.parse(r.body);
  for (const k of ['connections', 'subscribers', 'published', 'delivered', 'dropped', 'bytes_out'])
    assert.equal(typeof j[k], 'number', `/hub/stats ${k} is ${show(j[k])}`);
  assert.ok(j.subscribers >= 1 && j.published >= 1, `/hub/stats ${show(j)}`);
  assert.ok(Array.isArray(j.topics), `/hub/stats topics is ${show(j.topics)}`);
});

// ---- run ---------------------------------------------------------------------------------

let failed = 0;
let ran = 0;
const started = Date.now();
// A hub that stops delivering would make every case wait for its timeouts:
// past this budget the remaining cases are reported as not run.
const BUDGET_MS = 75000;
for (const c of cases) {
  if (ONLY && !ONLY.test(c.name)) continue;
  ran++;
  if (Date.now() - started > BUDGET_MS) {
    failed++;
    console.log(`FAIL: ${c.name}: not run, the cases before it used the whole time budget (${BUDGET_MS} ms)`);
    continue;
  }
  const ctx = newCtx();
  const t0 = Date.now();
  let timer;
  try {
    await Promise.race([
      c.fn(ctx),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`the case did not finish within ${c.ms} ms`)), c.ms); }),
    ]);
    console.log(`ok: ${c.name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL: ${c.name}: ${e.message}`);
  } finally {
    clearTimeout(timer);
    for (const s of ctx.subs) s.close();
  }
}
console.log(`hub_protocol.mjs: ${ran - failed}/${ran} cases passed in ${Date.now() - started} ms`);
process.exit(failed ? 1 : 0);
