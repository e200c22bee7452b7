// SPDX-License-Identifier: MIT
/*
 * tests/browser/conformance.mjs: what the Mercure project's own conformance
 * suite (dunglas/mercure conformance-tests/mercure.spec.ts; specs/mercure.md
 * §10) checks in a browser, and the rest of issue 6's browser list, run in
 * Debian's Chromium driven by playwright-core (from tests/node; never a
 * downloaded browser). tests/integration/hub_conformance.sh starts the hub in
 * development mode and runs:
 *   node tests/browser/conformance.mjs BASE_URL
 *
 * As the suite does, every case opens BASE_URL + "/" (the hub's own page) and
 * then, inside the page (page.evaluate), subscribes with a same-origin
 * EventSource on /.well-known/mercure and publishes with fetch() and a
 * URLSearchParams body once the stream is open. An update must arrive within
 * 2 s (or must not, for negative cases: the suite's 2 s wait), as a
 * MessageEvent of type "message" (unless the update set a type), lastEventId
 * equal to the update's id, and data byte-equal to the suite's
 *   "data for\n\n        <case name>"
 * (an inner empty line, 8 leading spaces). After each case a public
 * "sentinel" update the subscriber matches is published and must arrive:
 * the stream is ordered, so everything the case's update caused is in by
 * then: this proves a positive update came exactly once, and that a negative
 * case's stream was alive (not passing for being broken).
 *
 * Groups: public selectors (raw string, URI, *, URI template, alternate
 * topic, several selectors, one delivery when several match, non-matching
 * string/URI/template); private updates (never to anonymous subscribers; to
 * tokens in the `authorization` query parameter and in the
 * mercureAuthorization cookie, set with document.cookie and with
 * context.addCookies, whose mercure.subscribe claim matches exactly or as a
 * template, and not to a claim that does not match); custom and generated
 * (urn:uuid:) ids; Last-Event-ID replay with the lastEventID query parameter
 * (and `earliest`), with the Last-Event-ID response header; the error
 * statuses a browser sees (401, 403, 400; an EventSource without a topic
 * fails and ends CLOSED).
 *
 * Tokens are made here with node:crypto (HS256, the development key); the
 * publisher token is the very one the suite sends, checked byte for byte.
 * Every case runs even when one fails; each failure prints what was sent,
 * what was expected and what came: "not ok - <case>: ...". Exit 1 if any
 * failed, 2 on usage, 3 on the overall time limit.
 * Environment: CHROMIUM (default /usr/bin/chromium); CASES=REGEX runs only
 * the matching cases.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

// playwright-core lives in tests/node/node_modules (installed by scripts/deps).
const require = createRequire(new URL('../node/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!base) {
  console.error('usage: node conformance.mjs BASE_URL');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const only = process.env.CASES ? new RegExp(process.env.CASES) : null;

// A hard stop, in case something waits without a timeout.
setTimeout(() => {
  console.error('conformance: timed out after 240 s');
  process.exit(3);
}, 240_000).unref();

const WAIT = 2000; // the suite's wait per case, ms

// ---- tokens -------------------------------------------------------------------

const DEV_KEY = '!ChangeThisMercureHubJWTSecretKey!';
const b64url = (s) => Buffer.from(s).toString('base64url');
function token(payload, header = { alg: 'HS256' }, key = DEV_KEY) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
// The suite's publisher token (specs/mercure.md §9, §10).
const SUITE_TOKEN =
  'eyJhbGciOiJIUzI1NiJ9.eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdLCJzdWJzY3JpYmUiOlsiKiJdfX0.bVXdlWXwfw9ySx7-iV5OpUSHo34RkjUdVzDLBcc6l_g';
assert.equal(token({ mercure: { publish: ['*'], subscribe: ['*'] } }), SUITE_TOKEN,
  'node:crypto HS256 reproduces the suite token');
const PUBLISHER = SUITE_TOKEN;
const subscriberToken = (claim) => token({ mercure: { subscribe: claim } });

const rnd = () => randomBytes(20).toString('hex'); // as the suite's randomString()
const run = randomBytes(4).toString('hex');
const dataFor = (name) => `data for\n\n        ${name}`;

// ---- in-page helpers (installed in every page of the context) -----------------

function pageHelpers() {
  const streams = new Map();
  let seq = 0;
  const notify = (s) => { for (const w of s.waiters.splice(0)) w(); };
  // Resolves true once pred() holds, false after ms.
  function until(s, pred, ms) {
    return new Promise((resolve) => {
      const t0 = Date.now();
      const check = () => {
        if (pred()) return resolve(true);
        const left = ms - (Date.now() - t0);
        if (left <= 0) return resolve(false);
        const timer = setTimeout(() => { s.waiters = s.waiters.filter((w) => w !== again); resolve(pred()); }, left);
        const again = () => { clearTimeout(timer); check(); };
        s.waiters.push(again);
      };
      check();
    });
  }
  const state = (s) => ({ opened: s.opened, readyState: s.es.readyState, errors: s.errors,
    errorStates: s.errorStates.slice(), events: s.events.map((e) => ({ ...e })) });
  window.__hcs = {
    // new EventSource(url); resolves once it opens, fails for good, or ms pass.
    async open(url, types = [], ms = 5000) {
      const key = ++seq;
      const s = { es: new EventSource(url), events: [], errors: 0, errorStates: [], opened: false, waiters: [] };
      streams.set(key, s);
      const record = (e) => {
        s.events.push({ type: e.type, lastEventId: e.lastEventId, data: e.data });
        notify(s);
      };
      s.es.onmessage = record;
      for (const t of types) s.es.addEventListener(t, record);
      s.es.onopen = () => { s.opened = true; notify(s); };
      s.es.onerror = () => { s.errors++; s.errorStates.push(s.es.readyState); notify(s); };
      await until(s, () => s.opened || s.es.readyState === EventSource.CLOSED, ms);
      return { key, ...state(s) };
    },
    // Waits until an event with this id came (or ms pass); returns the state.
    async waitId(key, id, ms) {
      const s = streams.get(key);
      await until(s, () => s.events.some((e) => e.lastEventId === id), ms);
      return state(s);
    },
    async waitCount(key, n, ms) {
      const s = streams.get(key);
      await until(s, () => s.events.length >= n, ms);
      return state(s);
    },
    async sleep(key, ms) {
      await new Promise((r) => setTimeout(r, ms));
      return state(streams.get(key));
    },
    close(key) {
      const s = streams.get(key);
      if (s) { s.es.close(); streams.delete(key); }
    },
    closeAll() {
      for (const s of streams.values()) s.es.close();
      streams.clear();
    },
    // POST /.well-known/mercure with a URLSearchParams body, as the suite.
    async publish(fields, tok) {
      const body = new URLSearchParams();
      for (const [k, v] of fields) body.append(k, v);
      const headers = tok ? { Authorization: `Bearer ${tok}` } : {};
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 5000);
      try {
        const r = await fetch('/.well-known/mercure', { method: 'POST', headers, body, signal: ctl.signal });
        return { status: r.status, contentType: r.headers.get('Content-Type'), body: await r.text() };
      } catch (err) {
        return { status: 0, error: String(err) };
      } finally {
        clearTimeout(timer);
      }
    },
    // GET url; the status and some headers, then the body if it is not a
    // stream (a stream is aborted once its headers came).
    async head(url) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 5000);
      try {
        const r = await fetch(url, { signal: ctl.signal });
        const out = { status: r.status, contentType: r.headers.get('Content-Type'),
          lastEventId: r.headers.get('Last-Event-ID'), cacheControl: r.headers.get('Cache-Control') };
        if (/^text\/event-stream/.test(out.contentType || '')) ctl.abort();
        else out.body = await r.text();
        return out;
      } catch (err) {
        return { status: 0, error: String(err) };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

// ---- the browser ----------------------------------------------------------------

const args = ['--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
const browser = await chromium.launch({ executablePath, headless: true, args, timeout: 60_000 });
const context = await browser.newContext();
await context.addInitScript(pageHelpers);
let page = null;
const pageErrors = [];

// The hub's page, (re)loaded before each case as the suite's beforeEach
// does: no stream or state survives from one case to the next.
async function freshPage() {
  if (!page || page.isClosed()) {
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageErrors.push(String(err)));
  }
  const res = await page.goto(`${base}/`, { waitUntil: 'load', timeout: 15_000 });
  assert.equal(res.status(), 200, `GET ${base}/`);
  await page.waitForFunction(() => !!window.__hcs, null, { timeout: 5000 });
}
const ev = (fn, arg) => page.evaluate(fn, arg);
const hubUrl = (selectors, extra = []) => {
  const u = new URL('/.well-known/mercure', base);
  for (const s of selectors) u.searchParams.append('topic', s);
  for (const [k, v] of extra) u.searchParams.append(k, v);
  return u.pathname + u.search;
};
const open = (url, types = []) => ev(([u, t]) => window.__hcs.open(u, t), [url, types]);
const publish = (fields, tok = PUBLISHER) => ev(([f, t]) => window.__hcs.publish(f, t), [fields, tok]);
const waitId = (key, id, ms = WAIT) => ev(([k, i, m]) => window.__hcs.waitId(k, i, m), [key, id, ms]);
const waitCount = (key, n, ms = WAIT) => ev(([k, c, m]) => window.__hcs.waitCount(k, c, m), [key, n, ms]);
const sleep = (key, ms) => ev(([k, m]) => window.__hcs.sleep(k, m), [key, ms]);
const head = (url) => ev((u) => window.__hcs.head(u), url);
const show = (x) => JSON.stringify(x);

// ---- running cases ----------------------------------------------------------------

const results = [];
async function test(name, fn) {
  if (only && !only.test(name)) return;
  const t0 = Date.now();
  try {
    await freshPage();
    await fn(name);
    results.push({ name, ok: true });
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push({ name, ok: false });
    const msg = err && err.message ? err.message : String(err);
    console.log(`not ok - ${name}\n${msg.split('\n').map((l) => `    ${l}`).join('\n')}`);
  } finally {
    if (page) await ev(() => window.__hcs && window.__hcs.closeAll()).catch(() => {});
    await context.clearCookies().catch(() => {});
  }
}

// A successful publish: 200, text/plain, body = the id (when one was given).
function checkPublished(r, fields, what) {
  const sent = new URLSearchParams(fields).toString();
  assert.ok(r.status === 200 && /^text\/plain(?:$|;.*)/.test(r.contentType || ''),
    `${what}: POST ${sent}\n  expected 200 text/plain, got ${r.status} ${show(r.contentType)} body ${show(r.body ?? r.error)}`);
  const id = fields.find(([k]) => k === 'id');
  if (id) assert.equal(r.body, id[1], `${what}: the response body must be the posted id`);
  return r.body;
}

// The events of a stream, less the sentinel and what followed it.
const before = (events, id) => {
  const i = events.findIndex((e) => e.lastEventId === id);
  return i < 0 ? events : events.slice(0, i);
};

/*
 * One subscribe-then-publish case, the suite's shape:
 *   selectors    the EventSource's topic selectors
 *   query        more query parameters ([name, value] pairs), e.g. a token
 *   topics       the update's topics (first canonical)
 *   priv         a private update
 *   id           the update's id (undefined: the hub generates one)
 *   type         the update's type
 *   delivered    whether it must arrive
 *   sentinel     a public topic the subscriber matches, for the sentinel
 */
async function deliveryCase(name, c) {
  const url = hubUrl(c.selectors, c.query || []);
  const st = await open(url, c.type ? [c.type] : []);
  assert.ok(st.opened, `EventSource ${url} did not open within 5 s: readyState ${st.readyState}, ${st.errors} error(s)`);
  const fields = c.topics.map((t) => ['topic', t]);
  if (c.id !== undefined) fields.push(['id', c.id]);
  fields.push(['data', dataFor(name)]);
  if (c.type) fields.push(['type', c.type]);
  if (c.priv) fields.push(['private', 'on']);
  const sent = `EventSource ${url}; POST ${new URLSearchParams(fields).toString()}`;
  const r = await publish(fields);
  const id = checkPublished(r, fields, name);
  if (c.id === undefined)
    assert.match(id, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      `${sent}\n  expected a generated urn:uuid: id in the response body, got ${show(id)}`);
  const want = { type: c.type || 'message', lastEventId: id, data: dataFor(name) };
  let s;
  if (c.delivered) {
    s = await waitId(st.key, id, WAIT);
    assert.ok(s.events.some((e) => e.lastEventId === id),
      `${sent}\n  expected the update within ${WAIT} ms; got none; events: ${show(s.events)}; ` +
      `readyState ${s.readyState}, errors ${s.errors}`);
  } else {
    s = await sleep(st.key, WAIT);
    assert.equal(s.events.length, 0, `${sent}\n  expected no event within ${WAIT} ms; got ${show(s.events)}`);
  }
  // The sentinel: public, matched, after the update on the same stream.
  const sid = `sentinel-${rnd()}`;
  const sf = [['topic', c.sentinel], ['id', sid], ['data', dataFor(`${name} (sentinel)`)]];
  checkPublished(await publish(sf), sf, `${name} (sentinel)`);
  s = await waitId(st.key, sid, WAIT);
  assert.ok(s.events.some((e) => e.lastEventId === sid),
    `${sent}\n  then a public sentinel update on ${show(c.sentinel)}: expected it within ${WAIT} ms; ` +
    `events: ${show(s.events)}; readyState ${s.readyState}, errors ${s.errors}`);
  const got = before(s.events, sid);
  assert.deepEqual(got, c.delivered ? [want] : [],
    `${sent}\n  expected exactly ${show(c.delivered ? [want] : [])} before the sentinel\n  got ${show(got)}`);
  assert.equal(s.errors, 0, `${sent}\n  the EventSource had ${s.errors} error(s)`);
}

// ---- 1. public updates (the suite's dataset) -------------------------------------

const r = Array.from({ length: 6 }, rnd);
const suiteId = (topics) => `id-${JSON.stringify(topics)}`; // the suite's ids
{
  const cases = [
    ['raw string', { topics: [r[0]], selectors: [r[0]] }, true],
    ['multiple topics', { topics: [rnd(), r[1]], selectors: [r[1]] }, true],
    ['multiple topic selectors', { topics: [r[2]], selectors: ['foo', r[2]] }, true],
    ['URI', { topics: [`https://example.net/foo/${r[3]}`], selectors: [`https://example.net/foo/${r[3]}`] }, true],
    ['URI template', { topics: [`https://example.net/foo/${r[4]}`], selectors: ['https://example.net/foo/{random}'] }, true],
    ['star selector', { topics: [`https://example.net/star/${r[5]}`], selectors: ['*'] }, true],
    ['nonmatching raw string', { topics: ['will-not-match}'], selectors: ['another-name'] }, false],
    ['nonmatching URI', { topics: ['https://example.net/foo/will-not-match}'], selectors: ['https://example.net/foo/another-name'] }, false],
    ['nonmatching URI template', { topics: ['https://example.net/foo/will-not-match}'], selectors: ['https://example.net/bar/{var}'] }, false],
  ];
  for (const [name, c, delivered] of cases) {
    await test(`public: ${name}`, (n) => deliveryCase(n, {
      ...c, delivered, id: `${suiteId(c.topics)}-${run}`,
      // A public topic the selectors match: the first selector itself (a
      // selector always matches its own text).
      sentinel: c.selectors[c.selectors.length - 1] === '*' ? `sentinel-${run}` : c.selectors[c.selectors.length - 1],
    }));
  }
  const t = `https://example.net/once/${rnd()}`;
  await test('public: several matching selectors, one delivery', (n) => deliveryCase(n, {
    topics: [t], selectors: [t, '*', 'https://example.net/once/{x}', 'https://example.net/{a}/{b}'],
    delivered: true, id: `once-${rnd()}`, sentinel: t,
  }));
  const t2 = `https://example.net/once-alt/${rnd()}`;
  await test('public: several matching topics and selectors, one delivery', (n) => deliveryCase(n, {
    topics: [t2, `${t2}/alt`, `${t2}/alt2`], selectors: [t2, `${t2}/alt`, `${t2}/{x}`],
    delivered: true, id: `once-alt-${rnd()}`, sentinel: t2,
  }));
  const t3 = `https://example.net/typed/${rnd()}`;
  await test('public: a typed update arrives with its type', (n) => deliveryCase(n, {
    topics: [t3], selectors: [t3], type: 'custom-type', delivered: true, id: `typed-${rnd()}`, sentinel: t3,
  }));
}

// ---- 2. private updates -----------------------------------------------------------

{
  // Anonymous: never, whatever the selector (the suite's three, and *).
  const anon = [
    ['private raw string', [r[0]], [r[0]]],
    ['private URI', [`https://example.net/foo/${r[3]}`], [`https://example.net/foo/${r[3]}`]],
    ['private URI template', [`https://example.net/foo/${r[4]}`], ['https://example.net/foo/{random}']],
    ['private, * selector', [`https://example.net/priv/${rnd()}`], ['*']],
  ];
  for (const [name, topics, selectors] of anon) {
    await test(`anonymous: ${name}`, (n) => deliveryCase(n, {
      topics, selectors, priv: true, delivered: false, id: `${suiteId(topics)}-private-${run}`,
      sentinel: selectors[0] === '*' ? `sentinel-${run}` : topics[0],
    }));
  }

  // With a token: its mercure.subscribe claim decides.
  const p = `https://example.net/private/${rnd()}`;
  const claims = [
    ['exact claim', [p], true],
    ['template claim', ['https://example.net/private/{id}'], true],
    ['* claim', ['*'], true],
    ['claim on the alternate topic only', [`${p}/alternate`], true, [p, `${p}/alternate`]],
    ['non-matching exact claim', [`${p}/other`], false],
    ['non-matching template claim', ['https://example.net/public/{id}'], false],
    ['empty claim', [], false],
  ];
  const transports = [
    ['authorization query parameter', async (tok) => [['authorization', tok]]],
    ['mercureAuthorization cookie (document.cookie)', async (tok) => {
      await ev((t) => { document.cookie = `mercureAuthorization=${t}; path=/; SameSite=Strict`; }, tok);
      const set = await ev(() => document.cookie);
      assert.ok(set.includes('mercureAuthorization='), `document.cookie did not take the cookie: ${show(set)}`);
      return [];
    }],
    ['mercureAuthorization cookie (context.addCookies)', async (tok) => {
      await context.addCookies([{ name: 'mercureAuthorization', value: tok, url: `${base}/.well-known/mercure` }]);
      return [];
    }],
  ];
  for (const [tname, setup] of transports) {
    for (const [cname, claim, delivered, topics] of claims) {
      await test(`private via ${tname}: ${cname} ${delivered ? 'receives' : 'does not receive'}`, async (n) => {
        const tok = subscriberToken(claim);
        const query = await setup(tok);
        await deliveryCase(n, {
          topics: topics || [p], selectors: [topics ? topics[0] : p], query, priv: true, delivered,
          id: `private-${rnd()}`, sentinel: p,
        });
      });
    }
  }
  // specs/mercure.md §5 "Subscribers", the draft's own example.
  await test('private: the draft\'s example (claim on a query template, alternate topic)', (n) => deliveryCase(n, {
    topics: ['https://example.com/books/1', 'https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1'],
    selectors: ['https://example.com/books/{id}'],
    query: [['authorization', subscriberToken(['https://example.com/users/foo/{?topic}'])]],
    priv: true, delivered: true, id: `draft-example-${rnd()}`, sentinel: 'https://example.com/books/{id}',
  }));
  await test('private: the draft\'s example, another user\'s claim does not receive', (n) => deliveryCase(n, {
    topics: ['https://example.com/books/1', 'https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1'],
    selectors: ['https://example.com/books/{id}'],
    query: [['authorization', subscriberToken(['https://example.com/users/bar/{?topic}'])]],
    priv: true, delivered: false, id: `draft-example-${rnd()}`, sentinel: 'https://example.com/books/{id}',
  }));
}

// ---- 3. ids ---------------------------------------------------------------------------

{
  const t = `https://example.net/ids/${rnd()}`;
  await test('ids: a custom id is the response body and the event\'s lastEventId', (n) => deliveryCase(n, {
    topics: [t], selectors: [t], delivered: true, id: `custom-id-${rnd()}`, sentinel: t,
  }));
  await test('ids: a custom IRI id with JSON characters (the suite\'s shape)', (n) => deliveryCase(n, {
    topics: [t], selectors: [t], delivered: true, id: `https://example.net/ids/${rnd()}#${JSON.stringify(['a b', 'ü'])}`, sentinel: t,
  }));
  await test('ids: a generated urn:uuid: id is returned and used', (n) => deliveryCase(n, {
    topics: [t], selectors: [t], delivered: true, id: undefined, sentinel: t,
  }));
  await test('ids: generated ids differ', async () => {
    const ids = new Set();
    for (let i = 0; i < 5; i++) {
      const f = [['topic', t], ['data', 'x']];
      ids.add(checkPublished(await publish(f), f, 'publish'));
    }
    assert.equal(ids.size, 5, `five publishes without an id gave ${show([...ids])}`);
  });
}

// ---- 4. Last-Event-ID replay -----------------------------------------------------------

{
  const t = `https://example.net/replay/${rnd()}`;
  const ids = [];
  const pub = async (name, extra = []) => {
    const f = [['topic', t], ['data', dataFor(name)], ...extra];
    const id = checkPublished(await publish(f), f, name);
    ids.push({ id, data: dataFor(name), priv: extra.some(([k]) => k === 'private') });
    return id;
  };
  const msg = (x) => ({ type: 'message', lastEventId: x.id, data: x.data });
  // Subscribes with lastEventID = ids[from].id (or "earliest" for from < 0):
  // exactly the later updates this subscriber may see must come, in order,
  // then a live update and a sentinel, nothing twice.
  async function replay(what, from, query, withPrivate) {
    const lastEventID = from < 0 ? 'earliest' : ids[from].id;
    const want = ids.slice(from + 1).filter((x) => withPrivate || !x.priv);
    const url = hubUrl([t], [...query, ['lastEventID', lastEventID]]);
    // The response header is checked last, so that a failure reports the
    // events too.
    const h = await head(url);
    const headerProblem = h.status !== 200 || h.lastEventId !== lastEventID
      ? `fetch GET ${url}: expected 200 with the response header Last-Event-ID: ${lastEventID}, ` +
        `got ${h.status} ${h.error || ''} with Last-Event-ID: ${show(h.lastEventId)}`
      : null;
    const st = await open(url);
    assert.ok(st.opened, `EventSource ${url} did not open: readyState ${st.readyState}`);
    let s = await waitCount(st.key, want.length, WAIT);
    assert.deepEqual(s.events.slice(0, want.length), want.map(msg),
      (headerProblem ? `${headerProblem}\n  and ` : '') + `EventSource ${url}: expected the replay ${show(want.map((x) => x.id))} within ${WAIT} ms, ` +
      `got ${show(s.events.map((e) => e.lastEventId))}\n  events: ${show(s.events)}`);
    const live = { id: `live-${rnd()}`, data: dataFor(`${what} (live)`) };
    const f = [['topic', t], ['id', live.id], ['data', live.data]];
    checkPublished(await publish(f), f, `${what} (live)`);
    const sentinel = { id: `sentinel-${rnd()}`, data: dataFor(`${what} (sentinel)`) };
    const f2 = [['topic', t], ['id', sentinel.id], ['data', sentinel.data]];
    checkPublished(await publish(f2), f2, `${what} (sentinel)`);
    ids.push(live, sentinel);
    s = await waitId(st.key, sentinel.id, WAIT);
    const expected = [...want, live, sentinel].map(msg);
    assert.deepEqual(s.events, expected,
      `EventSource ${url}, then a live update ${live.id} and a sentinel ${sentinel.id}:\n  expected ` +
      `${show(expected.map((e) => e.lastEventId))}\n  got ${show(s.events.map((e) => e.lastEventId))}\n  events: ${show(s.events)}`);
    assert.equal(s.errors, 0, `EventSource ${url}: ${s.errors} error(s)`);
    assert.ok(!headerProblem, `${headerProblem} (the events were right)`);
  }

  let prepared = false;
  async function prepare() {
    if (prepared) return;
    prepared = true;
    await pub('replay 1');
    await pub('replay 2');
    await pub('replay 2b (private)', [['private', 'on']]);
    await pub('replay 3', [['id', `replay-3-${rnd()}`]]);
  }
  await test('replay: lastEventID=<first id> gives exactly updates 2 and 3, then live ones (anonymous)', async () => {
    await prepare();
    await replay('replay anonymous', 0, [], false);
  });
  await test('replay: lastEventID=<first id> with a token for the topic adds the private update', async () => {
    await prepare();
    await replay('replay with a token', 0, [['authorization', subscriberToken([t])]], true);
  });
  await test('replay: lastEventID=<last id> gives nothing old, then live ones', async () => {
    await prepare();
    await replay('replay from the last', ids.length - 1, [], false);
  });
  await test('replay: lastEventID=earliest gives everything retained', async () => {
    await prepare();
    await replay('replay earliest', -1, [], false);
  });
  await test('replay: an unknown lastEventID answers Last-Event-ID: earliest', async () => {
    await prepare();
    const url = hubUrl([t], [['lastEventID', `unknown-${rnd()}`]]);
    const h = await head(url);
    assert.equal(h.status, 200, `GET ${url}: status ${h.status}`);
    assert.equal(h.lastEventId, 'earliest', `GET ${url}: Last-Event-ID header ${show(h.lastEventId)}, expected "earliest"`);
  });
}

// ---- 5. error statuses seen from the browser ---------------------------------------------

{
  const t = `https://example.net/errors/${rnd()}`;
  const pubCase = (name, fields, tok, status) => test(`errors: ${name} -> ${status}`, async () => {
    const res = await publish(fields, tok);
    assert.equal(res.status, status,
      `POST /.well-known/mercure ${new URLSearchParams(fields).toString()} with ${tok ? `token ${tok.slice(0, 40)}...` : 'no token'}: ` +
      `expected ${status}, got ${res.status} ${show(res.body ?? res.error)}`);
  });
  await pubCase('publish without a token', [['topic', t], ['data', 'x']], null, 401);
  await pubCase('publish with an invalid token', [['topic', t], ['data', 'x']], token({ mercure: { publish: ['*'] } }, { alg: 'HS256' }, 'wrong key, wrong key, wrong key!!'), 401);
  await pubCase('publish with a subscribe-only token', [['topic', t], ['data', 'x']], subscriberToken(['*']), 403);
  await pubCase('publish with a token for other topics', [['topic', t], ['data', 'x']], token({ mercure: { publish: ['https://example.net/other/{x}'] } }), 403);
  await pubCase('publish without a topic', [['data', 'x']], PUBLISHER, 400);

  const esFails = (name, url, status) => test(`errors: ${name}`, async () => {
    const st = await open(url);
    // A non-200 answer fails the connection: error, then CLOSED, no retry.
    let s = st;
    if (s.readyState !== 2) s = await sleep(st.key, 0);
    assert.ok(!st.opened && s.readyState === 2 && s.errors >= 1 && s.errorStates[0] === 2,
      `EventSource ${url}: expected error and readyState CLOSED (2) within 5 s; ` +
      `got opened=${st.opened}, readyState ${s.readyState}, errors ${s.errors} (states ${show(s.errorStates)})`);
    const h = await head(url);
    assert.equal(h.status, status, `fetch GET ${url}: expected ${status}, got ${h.status} ${show(h.body ?? h.error)}`);
  });
  await esFails('EventSource without topic fails (400)', '/.well-known/mercure', 400);
  await esFails('EventSource with an invalid token fails (401)',
    hubUrl([t], [['authorization', 'not.a.token']]), 401);
}

// ---- summary -------------------------------------------------------------------------------

await browser.close().catch(() => {});
const failed = results.filter((x) => !x.ok);
if (pageErrors.length) console.log(`# uncaught errors in the page: ${show(pageErrors)}`);
console.log(`# ${results.length - failed.length}/${results.length} passed`);
if (failed.length) {
  console.log(`# failed: ${failed.map((x) => x.name).join('; ')}`);
  process.exit(1);
}
process.exit(results.length ? 0 : 1);
