// SPDX-License-Identifier: MIT
// tests/node/eventsource_vectors.mjs: examples/sse_events (and optionally
// examples/sse_clock) seen by a client nobody here wrote, the `eventsource`
// npm package (a WHATWG EventSource for Node.js, pinned in package.json).
//
//   node eventsource_vectors.mjs EVENTS_BASE [CLOCK_BASE]
//   (EVENTS_BASE = http://127.0.0.1:PORT of sse_events run with
//    --heartbeat 1; CLOCK_BASE the same for sse_clock)
//
// Checks, each bounded by a timeout:
//  - /vectors, once with events (hcs_sse_respond) and once with raw text
//    (hcs_sse_respond_raw): the client dispatches exactly the expected events
//    (type, data, lastEventId) in order; sees the first stream end after
//    vector 12 or 13 (?stop=13), reconnects by itself with Last-Event-ID,
//    which the server echoes back (X-Hcs-Resumed-After), and gets the rest
//    without duplicates or gaps; then reconnects once more, gets 204 and
//    stops (readyState CLOSED).
//  - /events + POST /publish: subscribers receive what is published, with
//    type and id; the reply counts them; an invalid id or event type (CR, LF,
//    NUL, surrounding space) is refused with 400 and nothing reaches anyone;
//    closing a client unsubscribes it (GET /stats); an idle stream carries
//    the ":" heartbeat; a subscriber that stops reading loses events to the
//    drop policy (X-Hcs-Dropped, /stats) while the server stays bounded.
//  - /clock: three events a second apart, ids counting up, then the end.
// Prints "ok: ..." per check and exits 0, or prints "FAIL: ..." and exits 1.

import assert from 'node:assert/strict';
import net from 'node:net';
import { EventSource } from 'eventsource';

const [eventsBase, clockBase] = process.argv.slice(2);
if (!eventsBase) {
  console.error('usage: node eventsource_vectors.mjs EVENTS_BASE [CLOCK_BASE]');
  process.exit(2);
}

// What the client must dispatch for the vectors of examples/sse_events.c
// (keep in step with its `vectors` table): [id, type, data]. Vectors 13
// (an id-only block), 17 and 24 (comments) exist on the raw stream only and
// fire nothing.
const BIG = 'x'.repeat(1 << 20);
const EXPECTED = [
  [1, 'message', 'hello'],
  [2, 'message', ''],
  [3, 'message', 'a\nb'],
  [4, 'message', 'a\nb'],
  [5, 'message', 'a\nb'],
  [6, 'message', 'a\n'],
  [7, 'message', 'a\n'],
  [8, 'message', '\n'],
  [9, 'message', 'a\n\nb'],
  [10, 'message', ' x'],
  [11, 'message', '\tx'],
  [12, 'message', 'x  '],
  [14, 'message', ':no comment'],
  [15, 'message', 'a\n:b'],
  [16, 'message', 'id: 7\nevent: evil'],
  [18, 'message', 'h\u00e9llo \u20ac\u{1F600}'],
  [19, 'message', 'a\u2028b\u0085c'],
  [20, 'message', 'a\0b'],
  [21, 'message', '\uFEFFx'],
  [22, 'add', 'x'],
  [23, 'message', 'x'],
  [25, 'update', 'multi\nline\nupdate'],
  [26, 'message', BIG],
  [27, 'message', 'cr at end\n'],
  [28, 'done', 'last'],
].map(([id, type, data]) => ({ type, data, lastEventId: String(id) }));
const LAST_ID = '28';
const STOP = 13;
// Every type the server might dispatch, including ones it must not
// ("evil" would mean a field injection worked).
const TYPES = ['message', 'add', 'update', 'done', 'evil', 'greet'];

// ---- helpers --------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Shorten long strings (the 1 MiB vector) in messages.
function show(v) {
  const s = JSON.stringify(v, (k, x) =>
    typeof x === 'string' && x.length > 80 ? `${x.slice(0, 40)}...(${x.length} chars)` : x);
  return s;
}

// Resolve when pred() holds, checking every 20 ms; reject after ms. `what`
// is a string, or a function giving one when the time is up.
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
    }
    await sleep(20);
  }
}

// fetch with a deadline.
async function fetchT(url, init = {}, ms = 5000) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
}

async function publish(query, body) {
  const res = await fetchT(`${eventsBase}/publish${query}`, { method: 'POST', body });
  return { status: res.status, body: await res.text(), dropped: res.headers.get('x-hcs-dropped') };
}

async function stats() {
  const text = await (await fetchT(`${eventsBase}/stats`)).text();
  const out = {};
  for (const line of text.trim().split('\n')) {
    const [k, v] = line.split(' ');
    out[k] = Number(v);
  }
  return out;
}

// An EventSource that records everything it dispatches, and every request
// it makes (through its documented `fetch` option) with the Last-Event-ID it
// sent and what the server answered.
function recorder(url) {
  const rec = { got: [], errors: [], opens: 0, conns: [] };
  const spy = async (u, init) => {
    const conn = {
      lastEventId: new Headers(init.headers).get('last-event-id'),
      status: null,
      resumedAfter: null,
      events: 0,
    };
    rec.conns.push(conn);
    const res = await fetch(u, init);
    conn.status = res.status;
    conn.resumedAfter = res.headers.get('x-hcs-resumed-after');
    conn.contentType = res.headers.get('content-type');
    return res;
  };
  const es = new EventSource(url, { fetch: spy });
  for (const t of TYPES) {
    es.addEventListener(t, (ev) => {
      rec.got.push({ type: ev.type, data: ev.data, lastEventId: ev.lastEventId });
      rec.conns[rec.conns.length - 1].events++;
    });
  }
  es.addEventListener('open', () => rec.opens++);
  es.addEventListener('error', (ev) => {
    rec.errors.push({ readyState: es.readyState, code: ev.code, message: ev.message });
  });
  rec.es = es;
  return rec;
}

const results = [];
async function check(name, fn) {
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok: ${name}`);
  } catch (err) {
    results.push([name, false]);
    console.log(`FAIL: ${name}: ${err && err.stack ? err.stack : err}`);
  }
}

// ---- /vectors ---------------------------------------------------------------

async function vectors(raw) {
  const rec = recorder(`${eventsBase}/vectors?stop=${STOP}${raw ? '&raw=1' : ''}`);
  try {
    // More than three requests means a resume went wrong: stop there.
    await until(() => rec.es.readyState === rec.es.CLOSED || rec.conns.length > 3, 20000, () =>
      `the stream to end, resume and be refused with 204 (got ${rec.got.length} events; ` +
      `first requests ${show(rec.conns.slice(0, 4))} of ${rec.conns.length}; ` +
      `first errors ${show(rec.errors.slice(0, 4))} of ${rec.errors.length})`);
  } finally {
    rec.es.close();
  }

  // Exactly the expected events, in order: no loss, no duplicate, nothing
  // injected.
  const n = Math.max(rec.got.length, EXPECTED.length);
  for (let i = 0; i < n; i++) {
    assert.deepEqual(rec.got[i], EXPECTED[i],
      `event #${i + 1}: got ${show(rec.got[i])}, expected ${show(EXPECTED[i])}`);
  }

  // Three requests: the first stream ends at the stop, the client resumes by
  // itself after the last id it knows, and the server resumes there.
  assert.equal(rec.conns.length, 3, `requests: ${show(rec.conns)}`);
  const [first, second, third] = rec.conns;
  assert.deepEqual([first.status, first.lastEventId, first.resumedAfter], [200, null, null],
    `first request: ${show(first)}`);
  assert.equal(first.contentType, 'text/event-stream');
  assert.equal(first.events, 12, `events on the first stream: ${first.events}`);
  // The spec (HTML §9.2.6, specs/sse.md §8 row 3) makes the id-only block
  // of the raw stream ("id: 13", no data) set the last event id to 13. The
  // pinned eventsource (3.0.7 with eventsource-parser 3.x) drops ids of
  // blocks without data and resumes after 12: both are fine for the server,
  // which must resume after whatever the client sent.
  const okIds = raw ? ['12', '13'] : ['12'];
  assert.ok(okIds.includes(second.lastEventId),
    `second request sent Last-Event-ID ${show(second.lastEventId)}, expected one of ${show(okIds)}`);
  assert.equal(second.status, 200);
  assert.equal(second.resumedAfter, second.lastEventId,
    `the server resumed after ${show(second.resumedAfter)}, the client sent ${show(second.lastEventId)}`);
  assert.equal(second.events, EXPECTED.length - 12);
  assert.deepEqual([third.status, third.lastEventId, third.events], [204, LAST_ID, 0],
    `third request: ${show(third)}`);

  // The client saw each end: two stream ends (reconnect), then the 204.
  assert.equal(rec.opens, 2, `open events: ${rec.opens}`);
  assert.deepEqual(rec.errors.map((e) => [e.readyState, e.code ?? null]),
    [[0, null], [0, null], [2, 204]], `error events: ${show(rec.errors)}`);
  if (raw && second.lastEventId === '12') {
    console.log('note: eventsource ignored the id of the id-only block (id: 13); the server resumed after 12');
  }
}

// ---- /events and /publish ---------------------------------------------------

// Poll an async probe until it returns {ok: true, ...}; reject after ms.
async function untilAsync(probe, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const last = await probe();
    if (last.ok) return last;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${show(last)})`);
    await sleep(50);
  }
}

function subscribersAre(n) {
  return untilAsync(async () => {
    const s = await stats();
    return { ok: s.subscribers === n, ...s };
  }, 5000, `${n} subscribers`);
}

async function openRecorder(path) {
  const rec = recorder(`${eventsBase}${path}`);
  try {
    await until(() => rec.opens === 1, 5000, `${path} to open`);
  } catch (err) {
    rec.es.close();
    throw err;
  }
  return rec;
}

async function events() {
  await subscribersAre(0);
  const a = await openRecorder('/events');
  let b;
  try {
    // With flush_headers_immediately the subscriber exists once "open" has
    // fired, so a publish right now must reach it.
    let r = await publish('?event=greet&id=p1', 'hi\nthere');
    assert.deepEqual([r.status, r.body, r.dropped], [200, '1\n', '0'], `publish p1: ${show(r)}`);
    await until(() => a.got.length === 1, 5000, 'the first published event');
    assert.deepEqual(a.got[0], { type: 'greet', data: 'hi\nthere', lastEventId: 'p1' });

    b = await openRecorder('/events');
    r = await publish('?id=p2', 'two\r\nlines');
    assert.deepEqual([r.status, r.body], [200, '2\n'], `publish p2: ${show(r)}`);
    await until(() => a.got.length === 2 && b.got.length === 1, 5000, 'p2 at both subscribers');
    const p2 = { type: 'message', data: 'two\nlines', lastEventId: 'p2' };
    assert.deepEqual(a.got[1], p2);
    assert.deepEqual(b.got[0], p2);

    // Invalid fields (percent-encoded in the query): refused with 400 and a
    // message, nothing queued anywhere.
    for (const q of ['?id=1%0A2', '?id=1%0D2', '?id=a%00b', '?id=%207%20', '?id=7%09',
      '?event=a%0Ab', '?event=a%00', '?event=x%0D%0Aid:%209',
      '?event=greet&id=ok%0Aevent:%20evil']) {
      r = await publish(q, 'must not arrive');
      assert.equal(r.status, 400, `publish${q}: ${show(r)}`);
      assert.match(r.body, /^invalid event/, `publish${q}: ${show(r)}`);
    }
    r = await publish('?event=greet&id=p3', 'after');
    assert.deepEqual([r.status, r.body], [200, '2\n'], `publish p3: ${show(r)}`);
    await until(() => a.got.length === 3 && b.got.length === 2, 5000, 'p3 at both subscribers');
    const p3 = { type: 'greet', data: 'after', lastEventId: 'p3' };
    assert.deepEqual(a.got[2], p3, 'the event after the refused ones');
    assert.deepEqual(b.got[1], p3);

    // Closing a client ends its response, whose on_close unsubscribes it.
    b.es.close();
    await subscribersAre(1);
    r = await publish('?id=p4', 'one left');
    assert.deepEqual([r.status, r.body], [200, '1\n'], `publish p4: ${show(r)}`);
    await until(() => a.got.length === 4, 5000, 'p4');
    assert.deepEqual(a.got[3], { type: 'message', data: 'one left', lastEventId: 'p4' });
    assert.equal(b.got.length, 2, 'the closed client got nothing more');
    assert.deepEqual([a.errors, b.errors, a.opens, b.opens], [[], [], 1, 1]);
  } finally {
    a.es.close();
    if (b) b.es.close();
  }
  await subscribersAre(0);
}

// The heartbeat: sse_events runs with --heartbeat 1, so an idle /events
// stream carries ":\n\n" within about a second (bounded at 5 s here).
async function heartbeat() {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    const res = await fetch(`${eventsBase}/events`, { signal: ctl.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const reader = res.body.getReader();
    let text = '';
    const t0 = Date.now();
    while (!text.includes(':\n\n')) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the stream ended: ${show(text)}`);
      text += new TextDecoder().decode(value);
    }
    assert.equal(text, ':\n\n', 'only the keepalive on an idle stream');
    const ms = Date.now() - t0;
    assert.ok(ms >= 500, `heartbeat after ${ms} ms, expected about 1000`);
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  await subscribersAre(0);
}

// A subscriber that stops reading: once the server's buffers and its queue
// of 32 are full, publishing drops events for it (counted) instead of
// blocking or growing without bound; the other subscriber gets everything.
async function dropPolicy() {
  const url = new URL(eventsBase);
  const sock = net.connect(Number(url.port), url.hostname);
  sock.on('error', () => {});
  await new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
    setTimeout(() => reject(new Error('connect timed out')), 5000);
  });
  sock.write(`GET /events HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`);
  sock.pause(); // never read: the kernel buffers fill, then the server's
  try {
    await subscribersAre(1);
    const chunk = 'y'.repeat(512 << 10);
    let dropped = 0, sent = 0;
    // Kernel socket buffers, the server's unsent-bytes bound (1 MiB) and the
    // stream's 32 slots hold well under 200 such events.
    for (sent = 1; sent <= 200 && dropped === 0; sent++) {
      const r = await publish(`?id=big${sent}`, chunk);
      assert.equal(r.status, 200, show(r));
      dropped = Number(r.dropped);
      assert.equal(r.body, dropped ? '0\n' : '1\n', `publish ${sent}: ${show(r)}`);
    }
    assert.ok(dropped === 1, `no event was dropped after ${sent - 1} publishes of 512 KiB`);
    const s = await stats();
    assert.ok(s.dropped >= 1, show(s));
    console.log(`note: the first drop came at publish ${sent - 1} (512 KiB each)`);
  } finally {
    sock.destroy();
  }
  await subscribersAre(0);
}

// ---- /clock -----------------------------------------------------------------

async function clock() {
  const rec = recorder(`${clockBase}/clock?n=3`);
  const times = [];
  rec.es.addEventListener('message', () => times.push(Date.now()));
  try {
    await until(() => rec.errors.length > 0, 6000, 'three ticks and the end of the stream');
  } finally {
    rec.es.close();
  }
  assert.equal(rec.got.length, 3, `events: ${show(rec.got)}`);
  const ids = rec.got.map((e) => Number(e.lastEventId));
  for (const e of rec.got) {
    assert.equal(e.type, 'message');
    assert.match(e.data, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Math.abs(Date.parse(e.data) - Date.now()) < 10000, `time ${e.data}`);
  }
  assert.deepEqual(ids, [ids[0], ids[0] + 1, ids[0] + 2], `ids ${ids}`);
  // The first event leaves at once, the next at the ticker's next tick (up
  // to a second later), the third a whole tick after that.
  const gaps = [times[1] - times[0], times[2] - times[1]];
  assert.ok(gaps[0] < 2500 && gaps[1] > 200 && gaps[1] < 2500, `ticks ${gaps} ms apart`);
  assert.equal(rec.errors[0].readyState, 0, 'the stream ended (the client reconnects)');
}

// ---- main -------------------------------------------------------------------

await check('/vectors with an event generator: every vector, resume, 204', () => vectors(false));
await check('/vectors with a raw generator: every vector, resume, 204', () => vectors(true));
await check('/events + /publish: delivery, 400 on invalid fields, unsubscribe on close', events);
await check('/events heartbeat', heartbeat);
await check('/events drop policy for a subscriber that stops reading', dropPolicy);
if (clockBase) await check('/clock: one event a second', clock);

const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
