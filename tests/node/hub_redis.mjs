// SPDX-License-Identifier: MIT
// tests/node/hub_redis.mjs: two hcs-hub processes sharing one Redis
// (--transport redis://...), seen by real clients: the `eventsource` npm
// package for subscribing, fetch for publishing.
//
// Run by tests/integration/hub_redis.sh, which starts redis-server and both
// hubs (--dev) and sets:
//   HUB_A, HUB_B      the hubs' base URLs
//   REDIS_PORT        the redis-server's port on 127.0.0.1
//   REDIS_DIR         its directory (the outage case restarts it there)
//   REDIS_PIDFILE     where its pid is; this script writes the restarted
//                     server's pid there so the shell can stop it
//   HUB_CASES         optional regex: run only the cases whose name matches
//
// Cases:
//   cross-hub order   updates published to B (and to A, interleaved) reach
//                     subscribers of A and B in one order, exactly once
//   private+selectors as on one hub, through the other hub
//   replay            a subscriber of A disconnects and resumes on B with
//                     Last-Event-ID while a publisher keeps going: the two
//                     streams together are exactly what was published
//   outage            redis-server killed (SIGKILL) during a publishing loop
//                     to both hubs and restarted on the same port: publishes
//                     answer 503 + Retry-After meanwhile, subscriber streams
//                     stay open, and every update that got 200 reaches every
//                     subscriber exactly once; /metrics counts it all
// Prints "ok: <case>" or "FAIL: <case>: <what>"; exits 1 if any failed.
// Every wait is bounded.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { EventSource } from 'eventsource';

const { HUB_A, HUB_B, REDIS_PORT, REDIS_DIR, REDIS_PIDFILE } = process.env;
const ONLY = process.env.HUB_CASES ? new RegExp(process.env.HUB_CASES) : null;
if (!HUB_A || !HUB_B || !REDIS_PORT || !REDIS_DIR || !REDIS_PIDFILE) {
  console.error('hub_redis.mjs: set HUB_A, HUB_B, REDIS_PORT, REDIS_DIR, REDIS_PIDFILE (see hub_redis.sh)');
  process.exit(2);
}

const DEV_KEY = '!ChangeThisMercureHubJWTSecretKey!';
const HUB_PATH = '/.well-known/mercure';
const RUN = crypto.randomBytes(4).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const b64u = (x) => Buffer.from(x).toString('base64url');
function hs256(payload) {
  const s = `${b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64u(JSON.stringify(payload))}`;
  return `${s}.${crypto.createHmac('sha256', DEV_KEY).update(s).digest('base64url')}`;
}
const PUB = hs256({ mercure: { publish: ['*'], subscribe: ['*'] } });

// Publish; returns { status, body, retryAfter }. Never throws for a status.
async function publish(base, fields) {
  const res = await fetch(new URL(HUB_PATH, base), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${PUB}` },
    body: new URLSearchParams(fields).toString(),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') };
}

async function publishOk(base, fields) {
  const r = await publish(base, fields);
  if (r.status !== 200) throw new Error(`publish ${new URLSearchParams(fields)} to ${base} -> ${r.status} ${r.body}`);
  return r.body;
}

// A subscriber (eventsource package). Records events, connections and
// errors; waitFor(pred, ms, what) waits for a condition.
class Sub {
  constructor(base, topics, { token, lastEventId } = {}) {
    this.events = [];
    this.responses = 0;
    this.errors = [];
    this.waiters = new Set();
    const url = new URL(HUB_PATH, base);
    for (const t of topics) url.searchParams.append('topic', t);
    const extra = {};
    if (token) extra.Authorization = `Bearer ${token}`;
    if (lastEventId) extra['Last-Event-ID'] = lastEventId;
    this.es = new EventSource(url, {
      fetch: async (input, init) => {
        const res = await fetch(input, { ...init, headers: { ...init.headers, ...extra } });
        this.responses++;
        this.wake();
        return res;
      },
    });
    this.opened = new Promise((resolve, reject) => {
      this.es.addEventListener('open', () => resolve(), { once: true });
      this.es.addEventListener('error', (e) => reject(new Error(`subscribe failed: ${e.message ?? e.code}`)), { once: true });
    });
    this.opened.catch(() => {});
    this.es.addEventListener('error', (e) => {
      this.errors.push(`${e.code ?? ''} ${e.message ?? ''}`);
      this.wake();
    });
    this.es.addEventListener('message', (e) => {
      this.events.push({ id: e.lastEventId, data: e.data });
      this.wake();
    });
  }
  wake() {
    for (const w of [...this.waiters]) w();
  }
  ids() {
    return this.events.map((e) => e.id);
  }
  waitFor(pred, ms, what) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (!pred()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out (${ms} ms) waiting for ${what}; have ${this.events.length} events, errors: ${this.errors.join('; ') || 'none'}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }
  close() {
    this.es.close();
  }
}

function same(actual, expected, what) {
  if (actual.length !== expected.length || actual.some((v, i) => v !== expected[i])) {
    let i = 0;
    while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
    throw new Error(`${what}: ${actual.length} ids, expected ${expected.length}; first difference at #${i}: got ${actual[i]}, expected ${expected[i]}`);
  }
}

function noDuplicates(ids, what) {
  const seen = new Set();
  for (const id of ids) {
    if (seen.has(id)) throw new Error(`${what}: ${id} received twice`);
    seen.add(id);
  }
}

async function metrics(base) {
  const text = await (await fetch(new URL('/metrics', base), { signal: AbortSignal.timeout(5000) })).text();
  const m = {};
  for (const line of text.split('\n')) {
    const r = /^(hcs_hub_backend_\w+)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (r) m[r[1]] = Number(r[2]);
  }
  return m;
}

const cases = [];
const test = (name, fn) => cases.push({ name, fn });

// ---- cases --------------------------------------------------------------------

test('cross-hub order: updates to either hub reach both hubs\' subscribers in one order, once', async () => {
  const topic = `https://example.com/order/${RUN}`;
  const subs = [new Sub(HUB_A, [topic]), new Sub(HUB_A, [topic]), new Sub(HUB_B, [topic])];
  await Promise.all(subs.map((s) => s.opened));
  const ids = [];
  for (let i = 0; i < 60; i++) {
    const id = `order-${RUN}-${i}`;
    // Mostly to B, some to A: one stream, one order.
    await publishOk(i % 3 === 2 ? HUB_A : HUB_B, [['topic', topic], ['id', id], ['data', `d${i}`]]);
    ids.push(id);
  }
  for (const s of subs) await s.waitFor(() => s.events.length >= ids.length, 5000, `${ids.length} updates`);
  await sleep(200); // a duplicate would come now
  subs.forEach((s, k) => {
    same(s.ids(), ids, `subscriber ${k} (hub ${k < 2 ? 'A' : 'B'})`);
    if (s.events[5].data !== 'd5') throw new Error(`data of #5: ${s.events[5].data}`);
    if (s.responses !== 1) throw new Error(`subscriber ${k} connected ${s.responses} times`);
  });
  subs.forEach((s) => s.close());
});

test('private updates and selectors through the other hub, as on one hub', async () => {
  const base = `https://example.com/${RUN}`;
  const sel = `${base}/books/{id}`;
  const sentinel = `${base}/books/sentinel`;
  const allowed = new Sub(HUB_A, [sel], { token: hs256({ mercure: { subscribe: [`${base}/books/1`, sentinel] } }) });
  const anon = new Sub(HUB_A, [sel]);
  const all = new Sub(HUB_B, [sel], { token: hs256({ mercure: { subscribe: ['*'] } }) });
  await Promise.all([allowed.opened, anon.opened, all.opened]);
  const send = (id, topic, priv) =>
    publishOk(HUB_B, [['topic', topic], ['id', `${id}-${RUN}`], ['data', id], ...(priv ? [['private', 'on']] : [])]);
  await send('pub1', `${base}/books/1`);
  await send('priv1', `${base}/books/1`, true);
  await send('priv2', `${base}/books/2`, true);
  await send('pub2', `${base}/books/2`);
  await send('author', `${base}/authors/1`);
  await send('sentinel', sentinel);
  for (const s of [allowed, anon, all])
    await s.waitFor(() => s.events.some((e) => e.data === 'sentinel'), 5000, 'the sentinel');
  const data = (s) => s.events.map((e) => e.data);
  same(data(allowed), ['pub1', 'priv1', 'pub2', 'sentinel'], 'token for books/1');
  same(data(anon), ['pub1', 'pub2', 'sentinel'], 'anonymous');
  same(data(all), ['pub1', 'priv1', 'priv2', 'pub2', 'sentinel'], 'token for everything');
  [allowed, anon, all].forEach((s) => s.close());
});

test('replay on the other hub with Last-Event-ID while publishing continues', async () => {
  const topic = `https://example.com/replay/${RUN}`;
  const published = [];
  let stop = false;
  let failure = null;
  const loop = (async () => {
    for (let i = 0; !stop && i < 400; i++) {
      const id = `replay-${RUN}-${i}`;
      try {
        await publishOk(i % 2 ? HUB_A : HUB_B, [['topic', topic], ['id', id], ['data', `${i}`]]);
      } catch (e) {
        failure = e;
        return;
      }
      published.push(id);
      await sleep(3);
    }
  })();
  const first = new Sub(HUB_A, [topic]);
  await first.opened;
  await first.waitFor(() => first.events.length >= 30, 5000, '30 updates on A');
  first.close();
  const got1 = first.ids();
  const last = got1[got1.length - 1];
  await sleep(100); // disconnected while updates go on
  const second = new Sub(HUB_B, [topic], { lastEventId: last });
  await second.opened;
  await second.waitFor(() => second.events.length >= 30, 5000, '30 more updates on B');
  stop = true;
  await loop;
  if (failure) throw failure;
  const start = published.indexOf(got1[0]);
  if (start < 0) throw new Error(`first id ${got1[0]} was never published`);
  await second.waitFor(() => got1.length + second.events.length >= published.length - start, 5000, 'the rest');
  await sleep(200);
  same([...got1, ...second.ids()], published.slice(start), 'A then B (replay + live)');
  second.close();
});

test('outage: redis-server killed and restarted during a publishing loop', async () => {
  const topic = `https://example.com/outage/${RUN}`;
  const subs = [new Sub(HUB_A, [topic]), new Sub(HUB_A, [topic]), new Sub(HUB_B, [topic]), new Sub(HUB_B, [topic])];
  await Promise.all(subs.map((s) => s.opened));
  const before = { A: await metrics(HUB_A), B: await metrics(HUB_B) };
  const ok = []; // ids answered 200, in order
  const refused = new Set(); // ids answered 503
  const other = [];
  let phase = 'before'; // before -> down -> restarted
  let okAfter = 0;
  const okAfterBy = { A: 0, B: 0 };
  let t0 = Date.now();
  let i = 0;
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const id = `outage-${RUN}-${i}`;
    const hub = i % 2 ? 'A' : 'B';
    const r = await publish(hub === 'A' ? HUB_A : HUB_B, [['topic', topic], ['id', id], ['data', `${i}`]]);
    i++;
    if (r.status === 200) {
      if (r.body !== id) throw new Error(`200 with body ${r.body}, expected ${id}`);
      ok.push(id);
      if (phase === 'restarted') {
        okAfter++;
        okAfterBy[hub]++;
      }
    } else if (r.status === 503) {
      if (r.retryAfter === null) throw new Error('503 without Retry-After');
      refused.add(id);
    } else {
      other.push(`${id}: ${r.status} ${r.body}`);
    }
    if (phase === 'before' && Date.now() - t0 > 500) {
      const pid = Number(fs.readFileSync(REDIS_PIDFILE, 'utf8'));
      process.kill(pid, 'SIGKILL');
      phase = 'down';
      t0 = Date.now();
    } else if (phase === 'down' && Date.now() - t0 > 1000) {
      const child = spawn('redis-server', ['--port', REDIS_PORT, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', REDIS_DIR], {
        stdio: ['ignore', fs.openSync(`${REDIS_DIR}/redis2.log`, 'a'), fs.openSync(`${REDIS_DIR}/redis2.log`, 'a')],
        detached: true,
      });
      child.unref();
      fs.writeFileSync(REDIS_PIDFILE, String(child.pid));
      phase = 'restarted';
    } else if (phase === 'restarted' && okAfterBy.A >= 20 && okAfterBy.B >= 20) {
      break;
    }
    await sleep(5);
  }
  if (other.length) throw new Error(`unexpected answers: ${other.slice(0, 3).join('; ')}`);
  if (phase !== 'restarted' || okAfterBy.A < 20 || okAfterBy.B < 20)
    throw new Error(`publishing did not recover: phase ${phase}, accepted after the restart: ${JSON.stringify(okAfterBy)}`);
  if (refused.size === 0) throw new Error('no publish was refused with 503 while Redis was down');
  for (const [k, s] of subs.entries()) {
    const want = new Set(ok);
    await s.waitFor(() => [...want].every((id) => s.events.some((e) => e.id === id)), 10000,
      `all ${ok.length} accepted updates on subscriber ${k}`);
  }
  await sleep(300); // duplicates would come now
  subs.forEach((s, k) => {
    const ids = s.ids();
    noDuplicates(ids, `subscriber ${k}`);
    // Exactly the accepted ones, in their order; a 503 whose XADD Redis
    // had taken before dying may show up too (the publisher was told to
    // retry: at-least-once), but nothing else.
    same(ids.filter((id) => !refused.has(id)), ok, `subscriber ${k}: accepted updates`);
    if (s.responses !== 1 || s.errors.length)
      throw new Error(`subscriber ${k}'s stream did not stay open: ${s.responses} connections, errors: ${s.errors.join('; ')}`);
  });
  subs.forEach((s) => s.close());
  for (const [name, base] of [['A', HUB_A], ['B', HUB_B]]) {
    const m = await metrics(base);
    if (m.hcs_hub_backend_up !== 1) throw new Error(`hub ${name}: backend_up ${m.hcs_hub_backend_up}`);
    if (!(m.hcs_hub_backend_reconnects_total >= before[name].hcs_hub_backend_reconnects_total + 2))
      throw new Error(`hub ${name}: reconnects ${before[name].hcs_hub_backend_reconnects_total} -> ${m.hcs_hub_backend_reconnects_total}, expected +2 (both links)`);
    if (!(m.hcs_hub_backend_publish_errors_total > before[name].hcs_hub_backend_publish_errors_total))
      throw new Error(`hub ${name}: publish errors not counted`);
    if (!(m.hcs_hub_backend_publish_milliseconds > 0)) throw new Error(`hub ${name}: no publish latency`);
    if (m.hcs_hub_backend_read_lag_entries === undefined) throw new Error(`hub ${name}: no read lag metric`);
  }
  console.log(`  (outage: ${ok.length} accepted, ${refused.size} refused with 503, ${okAfter} accepted after the restart)`);
});

// ---- run ------------------------------------------------------------------------

let failed = 0;
for (const c of cases) {
  if (ONLY && !ONLY.test(c.name)) continue;
  try {
    await c.fn();
    console.log(`ok: ${c.name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL: ${c.name}: ${e.message}`);
  }
}
console.log(failed ? `${failed} case(s) failed` : 'all cases passed');
process.exit(failed ? 1 : 0);
