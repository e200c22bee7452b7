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
//  - /events (hive_sse_respond) + POST /publish (hive_publish_event):
//    subscribers of a topic receive exactly what is published to it (type,
//    data, and lastEventId = the id given, or the one the server answered);
//    the default topic is "updates"; an invalid id, event type or topic is
//    refused with 400 and nothing is published; closing a client brings
//    hive's subscriber count (GET /stats) back down, to 0 after each check.
//  - Replay: a client whose connection drops reconnects by itself with
//    Last-Event-ID and first receives, from hive's history, what was
//    published while it was away, then live events, with no gap and no
//    duplicate (X-Hcs-Last-Event-ID: found); an unknown id replays nothing
//    (X-Hcs-Last-Event-ID: unknown).
//  - /events-manual (the seed's pattern by hand: hive_subscribe, a stream,
//    hcs_sse_respond_with_heartbeat, hive_unsubscribe on close) delivers the
//    same events as /events.
//  - The ":" heartbeat on an idle /events and /events-manual stream.
//  - Slow consumer: a raw socket subscribed to /events that never reads,
//    while 512 KiB events are published (at most 200, each wait bounded):
//    hive closes it (HIVE_SLOW_CLOSE; slow_closes counts exactly 1; the
//    client sees its connection end having received less than was
//    published), while a reading subscriber of the same topic gets every
//    event and stays connected.
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
  return { status: res.status, body: await res.text() };
}

// GET /stats: one "name value" line per counter.
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
// sent and what the server answered. Options:
//   lastEventId: send this Last-Event-ID on the first request too, as a
//     client resuming from an earlier page would;
//   beforeFetch(n): awaited before request n (from 1) goes out, to hold a
//     reconnection back;
//   droppable: each connection gets drop(), which ends the stream the client
//     reads and closes the real connection, as a network failure would.
function recorder(url, opts = {}) {
  const rec = { got: [], errors: [], opens: 0, conns: [] };
  const spy = async (u, init) => {
    const headers = new Headers(init.headers);
    if (opts.lastEventId && rec.conns.length === 0) headers.set('last-event-id', opts.lastEventId);
    const conn = {
      lastEventId: headers.get('last-event-id'),
      status: null,
      resumedAfter: null,
      replay: null,
      events: 0,
    };
    rec.conns.push(conn);
    if (opts.beforeFetch) await opts.beforeFetch(rec.conns.length);
    const res = await fetch(u, { ...init, headers });
    conn.status = res.status;
    conn.resumedAfter = res.headers.get('x-hcs-resumed-after');
    conn.replay = res.headers.get('x-hcs-last-event-id');
    conn.contentType = res.headers.get('content-type');
    if (!opts.droppable || !res.body) return res;
    // Hand the client a stream of our own, fed from the real one, that we
    // can end at will: the client then sees the stream end (and schedules a
    // reconnection), and cancelling the real body closes the TCP connection.
    const reader = res.body.getReader();
    let ctl;
    const body = new ReadableStream({
      start(c) { ctl = c; },
      async pull(c) {
        try {
          const { done, value } = await reader.read();
          if (done) c.close();
          else c.enqueue(value);
        } catch {
          try { c.close(); } catch { /* already ended */ }
        }
      },
      cancel(reason) { return reader.cancel(reason).catch(() => {}); },
    });
    conn.drop = () => {
      try { ctl.close(); } catch { /* already ended */ }
      reader.cancel().catch(() => {});
    };
    return new Response(body, { status: res.status, headers: res.headers });
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

// ---- /events, /events-manual and /publish -----------------------------------

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

// hive's subscriber count, as GET /stats reports it.
function subscribersAre(n) {
  return untilAsync(async () => {
    const s = await stats();
    return { ok: s.subscribers === n, ...s };
  }, 5000, `${n} subscribers`);
}

async function openRecorder(path, opts) {
  const rec = recorder(`${eventsBase}${path}`, opts);
  try {
    await until(() => rec.opens === 1, 5000, `${path} to open`);
  } catch (err) {
    rec.es.close();
    throw err;
  }
  return rec;
}

// Publish and check the reply: 200 with the event's id (the one given, or
// the one the server chose). Returns what a client must dispatch for it.
async function publishOk(query, body, type = 'message', data = body) {
  const r = await publish(query, body);
  assert.equal(r.status, 200, `publish${query}: ${show(r)}`);
  const m = /^([^\r\n]*)\n$/.exec(r.body);
  assert.ok(m, `publish${query}: the reply is not an id line: ${show(r)}`);
  const given = new URLSearchParams(query.slice(1)).get('id');
  if (given !== null) assert.equal(m[1], given, `publish${query}: reply id`);
  else assert.match(m[1], /^\d+$/, `publish${query}: the server's own id`);
  return { type, data, lastEventId: m[1] };
}

async function events() {
  await subscribersAre(0);
  // No topic: "updates", on both routes' sides.
  const a = await openRecorder('/events');
  let b;
  try {
    // With flush_headers_immediately the subscription exists once "open"
    // has fired, so a publish right now must reach it.
    const p1 = await publishOk('?event=greet&id=p1', 'hi\nthere', 'greet');
    await until(() => a.got.length === 1, 5000, 'the first published event');
    assert.deepEqual(a.got, [p1]);

    b = await openRecorder('/events?topic=updates');
    await subscribersAre(2);
    // No id: the server numbers the event and says which number it used.
    const p2 = await publishOk('?topic=updates', 'two\r\nlines', 'message', 'two\nlines');
    await until(() => a.got.length === 2 && b.got.length === 1, 5000, 'p2 at both subscribers');
    assert.deepEqual(a.got[1], p2);
    assert.deepEqual(b.got[0], p2);

    // Invalid fields (percent-encoded in the query): refused with 400 and a
    // message, nothing published anywhere.
    const before = await stats();
    for (const q of ['?id=1%0A2', '?id=1%0D2', '?id=a%00b', '?id=%207%20', '?id=7%09',
      '?event=a%0Ab', '?event=a%00', '?event=x%0D%0Aid:%209',
      '?event=greet&id=ok%0Aevent:%20evil']) {
      const r = await publish(q, 'must not arrive');
      assert.equal(r.status, 400, `publish${q}: ${show(r)}`);
      assert.match(r.body, /^invalid event/, `publish${q}: ${show(r)}`);
    }
    for (const q of ['?topic=', '?topic=a%00b', `?topic=${'t'.repeat(4097)}`]) {
      const r = await publish(q, 'must not arrive');
      assert.equal(r.status, 400, `publish${q.slice(0, 20)}: ${show(r)}`);
      assert.match(r.body, /^invalid topic/, `publish${q.slice(0, 20)}: ${show(r)}`);
    }
    for (const path of ['/events?topic=', '/events-manual?topic=a%00b']) {
      const res = await fetchT(`${eventsBase}${path}`);
      assert.equal(res.status, 400, `GET ${path}`);
      assert.match(await res.text(), /^invalid topic/);
    }
    assert.equal((await stats()).published, before.published, 'a refused event was published');

    // Another topic does not reach these subscribers.
    await publishOk('?topic=elsewhere&id=nope', 'not for us');
    const p3 = await publishOk('?event=greet&id=p3', 'after', 'greet');
    await until(() => a.got.length === 3 && b.got.length === 2, 5000, 'p3 at both subscribers');
    assert.deepEqual(a.got[2], p3, 'the event after the refused ones');
    assert.deepEqual(b.got[1], p3);

    // Closing a client ends its response, which unsubscribes it.
    b.es.close();
    await subscribersAre(1);
    const p4 = await publishOk('', 'one left');
    await until(() => a.got.length === 4, 5000, 'p4');
    assert.deepEqual(a.got, [p1, p2, p3, p4]);
    assert.deepEqual(b.got, [p2, p3], 'the closed client got nothing more');
    assert.deepEqual([a.errors, b.errors, a.opens, b.opens], [[], [], 1, 1]);
    assert.equal(a.conns[0].contentType, 'text/event-stream');
    assert.equal(a.conns[0].replay, null, 'no Last-Event-ID, no replay header');
  } finally {
    a.es.close();
    if (b) b.es.close();
  }
  await subscribersAre(0);
}

// The client's connection drops; what is published meanwhile comes back
// from hive's history when the client reconnects by itself with
// Last-Event-ID. The reconnection is held back (beforeFetch) until the
// publishes are done, so nothing here depends on timing.
async function replay() {
  await subscribersAre(0);
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const rec = recorder(`${eventsBase}/events?topic=replay`, {
    droppable: true,
    beforeFetch: (n) => (n > 1 ? gate : undefined),
  });
  try {
    await until(() => rec.opens === 1, 5000, 'the stream to open');
    const want = [];
    want.push(await publishOk('?topic=replay&id=r1', 'one'));
    want.push(await publishOk('?topic=replay&event=add', 'two', 'add'));
    await until(() => rec.got.length === 2, 5000, 'the first two events');

    rec.conns[0].drop();
    await subscribersAre(0);
    await until(() => rec.errors.length === 1, 5000, 'the client to see the stream end');
    assert.equal(rec.errors[0].readyState, 0, 'the client reconnects (CONNECTING)');

    // Published while the client is away.
    want.push(await publishOk('?topic=replay&id=r3', 'three\nlines'));
    want.push(await publishOk('?topic=replay', 'four'));
    release();
    // The client waits its reconnection delay (3 s by default) first.
    await until(() => rec.got.length === 4, 10000, () => `the replay (got ${show(rec.got)})`);
    // Then live again, after the replay, with nothing twice.
    want.push(await publishOk('?topic=replay&event=add&id=r5', 'five', 'add'));
    await until(() => rec.got.length === 5, 5000, 'the live event after the replay');
    await sleep(100); // room for a duplicate to show up
    assert.deepEqual(rec.got, want);

    assert.equal(rec.conns.length, 2, `requests: ${show(rec.conns)}`);
    const [first, second] = rec.conns;
    assert.deepEqual([first.status, first.lastEventId, first.replay, first.events], [200, null, null, 2]);
    assert.deepEqual([second.status, second.lastEventId, second.replay, second.events],
      [200, want[1].lastEventId, 'found', 3], `the reconnection: ${show(second)}`);
    assert.equal(rec.opens, 2);
  } finally {
    release();
    rec.es.close();
  }
  await subscribersAre(0);

  // An id hive does not know (never seen, or evicted): no replay, live only,
  // and the response says so.
  const u = await openRecorder('/events?topic=replay', { lastEventId: 'no-such-id' });
  try {
    assert.deepEqual([u.conns[0].lastEventId, u.conns[0].replay], ['no-such-id', 'unknown']);
    const r6 = await publishOk('?topic=replay&id=r6', 'six');
    await until(() => u.got.length === 1, 5000, 'the live event');
    await sleep(100);
    assert.deepEqual(u.got, [r6], 'nothing replayed for an unknown id');
  } finally {
    u.es.close();
  }
  await subscribersAre(0);
}

// /events-manual, the seed's pattern by hand, against /events on one topic.
async function manual() {
  await subscribersAre(0);
  const before = await stats();
  const h = await openRecorder('/events?topic=manual');
  let m;
  try {
    m = await openRecorder('/events-manual?topic=manual');
    await subscribersAre(2);
    const want = [
      await publishOk('?topic=manual&event=greet&id=m1', 'hi\nthere', 'greet'),
      await publishOk('?topic=manual', 'no id'),
      await publishOk('?topic=manual&event=add', 'a\r\nb\rc', 'add', 'a\nb\nc'),
      await publishOk('?topic=manual&id=m4', ''),
      await publishOk('?topic=manual&event=done&id=m5', 'data: x\n\nid: 9', 'done'),
    ];
    await until(() => h.got.length === want.length && m.got.length === want.length, 5000,
      () => `both routes to get ${want.length} events (hive_sse_respond ${show(h.got)}; manual ${show(m.got)})`);
    assert.deepEqual(h.got, want, '/events');
    assert.deepEqual(m.got, want, '/events-manual');

    // Closing the manual client runs its on_close: hive_unsubscribe.
    m.es.close();
    await subscribersAre(1);
    const last = await publishOk('?topic=manual&id=m6', 'after');
    await until(() => h.got.length === want.length + 1, 5000, 'the event after the close');
    assert.deepEqual(h.got.at(-1), last);
    assert.equal(m.got.length, want.length, 'the closed client got nothing more');
    assert.deepEqual([h.errors, m.errors, h.opens, m.opens], [[], [], 1, 1]);
    const s = await stats();
    assert.equal(s.manual_drops, before.manual_drops, show(s));
  } finally {
    h.es.close();
    if (m) m.es.close();
  }
  await subscribersAre(0);
}

// The heartbeat: sse_events runs with --heartbeat 1, so an idle stream
// carries ":\n\n" within about a second (bounded at 5 s here).
async function heartbeat(path) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    const res = await fetch(`${eventsBase}${path}?topic=idle`, { signal: ctl.signal });
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

// A subscriber that never reads while big events are published: once the
// kernel's buffers, the connection's unsent bytes (1 MiB) and its hive queue
// (1 MiB) are full, hive applies HIVE_SLOW_CLOSE and counts it. Memory
// stays bounded (nothing more is queued for it); a reading subscriber of
// the same topic gets every event. Proven by the server's counters and by
// what the slow client received, not by timing.
async function slowClose() {
  await subscribersAre(0);
  const before = await stats();
  const reader = await openRecorder('/events?topic=slow');
  const url = new URL(eventsBase);
  const sock = net.connect(Number(url.port), url.hostname);
  let received = 0, ended = false;
  sock.on('error', () => {});
  sock.on('data', (d) => { received += d.length; });
  sock.on('close', () => { ended = true; });
  try {
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('connect timed out')), 5000);
      sock.once('connect', () => { clearTimeout(t); resolve(); });
      sock.once('error', (err) => { clearTimeout(t); reject(err); });
    });
    sock.write(`GET /events?topic=slow HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`);
    sock.pause(); // read nothing more: the kernel buffers fill, then the server's
    await subscribersAre(2);

    const chunk = 'y'.repeat(512 << 10);
    const MAX = 200; // kernel buffers and both 1 MiB bounds hold far fewer
    const want = [];
    let s = before;
    for (let i = 1; i <= MAX && s.slow_closes === before.slow_closes; i++) {
      want.push(await publishOk(`?topic=slow&id=big${i}`, chunk));
      // The reading subscriber keeps up, so only the other one falls behind.
      await until(() => reader.got.length === i, 10000, () => `big${i} at the reading subscriber`);
      s = await stats();
    }
    const sent = want.length;
    assert.equal(s.slow_closes, before.slow_closes + 1,
      `no slow close after ${sent} publishes of 512 KiB: ${show(s)}`);
    assert.equal(s.drops, before.drops, 'HIVE_SLOW_CLOSE closes, it does not drop');
    await subscribersAre(1); // the slow one's response ended and unsubscribed

    // The slow client: what the kernel still held, then the end of the
    // connection; less than was published, because the rest was dropped
    // with the connection instead of being buffered.
    sock.resume();
    await until(() => ended, 10000, 'the slow connection to end');
    assert.ok(received < sent * chunk.length,
      `the slow client received ${received} bytes of ${sent} x 512 KiB`);

    // The reading subscriber is unaffected: everything, in order, still open.
    want.push(await publishOk('?topic=slow&id=after', 'still here'));
    await until(() => reader.got.length === want.length, 5000, 'the event after the close');
    assert.deepEqual(reader.got.map((e) => e.lastEventId), want.map((e) => e.lastEventId));
    assert.ok(reader.got.every((e, i) => e.data === want[i].data), 'data at the reading subscriber');
    assert.deepEqual([reader.errors, reader.opens], [[], 1]);
    s = await stats();
    assert.equal(s.slow_closes, before.slow_closes + 1, show(s));
    console.log(`note: the slow subscriber was closed after ${sent} publishes of 512 KiB ` +
      `(${received} bytes reached it)`);
  } finally {
    sock.destroy();
    reader.es.close();
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
await check('/events: a reconnection with Last-Event-ID replays what was missed; unknown id', replay);
await check('/events-manual delivers the same events as /events', manual);
await check('/events heartbeat', () => heartbeat('/events'));
await check('/events-manual heartbeat', () => heartbeat('/events-manual'));
await check('/events slow consumer: closed (HIVE_SLOW_CLOSE), counted, others unaffected', slowClose);
if (clockBase) await check('/clock: one event a second', clock);

const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
