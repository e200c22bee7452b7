// SPDX-License-Identifier: MIT
/*
 * tests/browser/dashboard.spec.mjs: the hub's dashboard and EventSource in a
 * real browser, Debian's Chromium driven by playwright-core (from tests/node;
 * never a downloaded browser). tests/integration/hub_browser.sh starts the
 * hub in development mode and runs:
 *   node tests/browser/dashboard.spec.mjs BASE_URL SCREENSHOT.png
 * Checks, in order (the first failure stops the run, with a screenshot
 * SCREENSHOT-failure.png and the page's state):
 *   1. / and its assets load with the right types; the counters show numbers
 *      and refresh; the dev token from /hub/info is prefilled;
 *   2. the page's live feed (selector "*") connects;
 *   3. an update published with curl shows in the feed within a second, with
 *      its generated urn:uuid: id, type and data exactly;
 *   4. the counters and the topic list follow (published, subscribers, the
 *      topic's update count);
 *   5. the publish form: a typed multi-topic update with a custom id (shown
 *      in the result, delivered once to the feed), a private update with a
 *      generated id, and the 401 of a bad token shown as an error;
 *   6. the feed follows an exact selector and ignores other topics;
 *   7. an EventSource made in the page (page.evaluate) receives, compared in
 *      the page: multi-line data, CR/CRLF line ends (as LF), a trailing
 *      newline, non-ASCII text, a typed event, and 1 MiB of data exactly,
 *      both as 8192 lines and as one line;
 *   8. no uncaught error in the page; screenshots: SCREENSHOT (light),
 *      and beside it -dark.png and -mobile.png.
 * Environment: CHROMIUM (default /usr/bin/chromium).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

// playwright-core lives in tests/node/node_modules (installed by scripts/deps).
const require = createRequire(new URL('../node/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [base, shot] = process.argv.slice(2);
if (!base || !shot) {
  console.error('usage: node dashboard.spec.mjs BASE_URL SCREENSHOT.png');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const run = randomBytes(4).toString('hex');
const topicBase = `https://example.com/hcs-browser/${run}`;

// A hard stop, in case something waits without a timeout.
setTimeout(() => {
  console.error('dashboard.spec: timed out after 150 s');
  process.exit(3);
}, 150_000).unref();

let passed = 0;
let published = 0; // updates this script got a 200 for
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
  } catch (err) {
    console.log(`not ok - ${name}`);
    throw err;
  }
  passed++;
  console.log(`ok - ${name} (${Date.now() - t0} ms)`);
}

function curl(args) {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...args],
      { maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`curl ${args.join(' ')}: ${err.message} ${stderr}`));
        const nl = stdout.lastIndexOf('\n');
        resolve({ status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) });
      });
  });
}

// Publishes with curl; fields: [[name, value], ...], each sent url-encoded.
async function curlPublish(token, fields) {
  const args = ['-H', `Authorization: Bearer ${token}`];
  for (const [k, v] of fields) args.push('--data-urlencode', `${k}=${v}`);
  args.push(`${base}/.well-known/mercure`);
  const r = await curl(args);
  assert.equal(r.status, 200, `curl publish answered ${r.status}: ${r.body}`);
  published++;
  return r.body;
}

// ---- the hub's info, outside the browser -----------------------------------
const infoRes = await fetch(`${base}/hub/info`);
assert.equal(infoRes.status, 200, 'GET /hub/info');
const info = await infoRes.json();
assert.equal(info.dev_mode, true, '/hub/info: dev_mode (the hub runs with --dev)');
assert.equal(typeof info.dev_token, 'string', '/hub/info: dev_token in development mode');
const token = info.dev_token;
const hubUrl = info.hub_url || '/.well-known/mercure';

const args = ['--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
const browser = await chromium.launch({ executablePath, headless: true, args, timeout: 60_000 });
const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(10_000);
const pageErrors = [];
page.on('pageerror', (err) => pageErrors.push(String(err)));
page.on('console', (msg) => {
  if (msg.type() === 'error') console.log(`  (page console error: ${msg.text()})`);
});

const q = (testid) => page.locator(`[data-testid="${testid}"]`);
const statValue = async (name) => Number(await q(`stat-${name}`).getAttribute('data-value'));
const entryById = (id) => page.locator(`[data-testid="feed-entry"][data-event-id="${id.replace(/["\\]/g, '\\$&')}"]`);

async function waitStat(name, pred, what, timeout = 4000) {
  const t = Date.now();
  for (;;) {
    const v = await statValue(name);
    if (pred(v)) return v;
    if (Date.now() - t > timeout) assert.fail(`counter ${name} = ${v}; expected ${what}`);
    await page.waitForTimeout(100);
  }
}

let failed = false;
try {
  await step('the dashboard and its assets load', async () => {
    const res = await page.goto(`${base}/`, { waitUntil: 'load' });
    assert.equal(res.status(), 200, 'GET /');
    assert.match(res.headers()['content-type'] || '', /^text\/html;\s*charset=utf-8$/i);
    assert.match(await page.title(), /hcs-hub/);
    for (const [path, type] of [['/assets/app.js', /^text\/javascript;\s*charset=utf-8$/i],
      ['/assets/style.css', /^text\/css;\s*charset=utf-8$/i],
      ['/assets/favicon.svg', /^image\/svg\+xml/i]]) {
      const r = await fetch(base + path);
      assert.equal(r.status, 200, `GET ${path}`);
      assert.match(r.headers.get('content-type') || '', type, `Content-Type of ${path}`);
      await r.arrayBuffer();
    }
    const r = await fetch(`${base}/assets/nope.js`);
    assert.equal(r.status, 404, 'GET /assets/nope.js');
    await r.arrayBuffer();
  });

  await step('the counters show numbers and refresh every second', async () => {
    await page.waitForFunction(() => Number(document.getElementById('stats').dataset.polls) >= 1, null, { timeout: 5000 });
    for (const name of ['uptime_seconds', 'connections', 'subscribers', 'published', 'delivered',
      'dropped', 'slow_closes', 'bytes_out']) {
      const v = await statValue(name);
      assert.ok(Number.isFinite(v) && v >= 0, `counter ${name}: ${v}`);
      const text = (await q(`stat-${name}`).locator('.stat-value').textContent()).trim();
      assert.ok(/\d/.test(text), `counter ${name} shows "${text}"`);
    }
    const polls = Number(await q('stats').getAttribute('data-polls'));
    await page.waitForFunction((n) => Number(document.getElementById('stats').dataset.polls) > n, polls, { timeout: 3000 });
    assert.equal(await q('hub-status').getAttribute('data-state'), 'live');
    assert.equal((await q('hub-version').textContent()).trim(), `v${info.version}`);
    assert.ok(await q('hub-mode').isVisible(), 'the development-mode badge is shown');
  });

  await step('the dev token is prefilled', async () => {
    await page.waitForFunction((t) => document.getElementById('token').value === t, token, { timeout: 3000 });
    assert.match(await q('token-note').textContent(), /Development token/);
  });

  await step('the live feed subscribes to "*"', async () => {
    assert.equal(await q('feed-selector').inputValue(), '*');
    await page.waitForFunction(() => document.getElementById('feed-state').dataset.state === 'open', null, { timeout: 5000 });
  });

  const curlTopic = `${topicBase}/curl`;
  await step('an update published with curl shows in the feed within a second', async () => {
    const data = 'published with curl\nsecond line: ünïcødé ✓';
    const id = await curlPublish(token, [['topic', curlTopic], ['data', data]]);
    const done = Date.now();
    assert.match(id, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, `generated id "${id}"`);
    const entry = entryById(id);
    await entry.waitFor({ timeout: 1000 }).catch(() => {
      assert.fail(`no feed entry with id ${id} 1 s after curl published it`);
    });
    const latency = Number(await entry.getAttribute('data-received')) - done;
    assert.ok(latency <= 1000, `shown ${latency} ms after publishing`);
    assert.equal(await entry.getAttribute('data-event-type'), 'message');
    assert.equal(await entry.locator('[data-testid="feed-data"]').textContent(), data);
    assert.equal((await entry.locator('[data-testid="feed-id"]').textContent()), id);
    // Newest first.
    assert.equal(await q('feed').locator('[data-testid="feed-entry"]').first().getAttribute('data-event-id'), id);
  });

  await step('the counters and the topic list follow', async () => {
    await waitStat('published', (v) => v >= published, `>= ${published}`);
    await waitStat('subscribers', (v) => v >= 1, '>= 1 (the feed)');
    await waitStat('delivered', (v) => v >= 1, '>= 1');
    const row = page.locator(`[data-testid="topic-row"][data-topic="${curlTopic}"]`);
    await row.waitFor({ timeout: 3000 }).catch(() => assert.fail(`no row for ${curlTopic} in the topic list`));
    await page.waitForFunction((t) => {
      const r = document.querySelector(`[data-testid="topic-row"][data-topic="${t}"] [data-testid="topic-updates"]`);
      return r && Number(r.textContent.replace(/\D/g, '')) >= 1;
    }, curlTopic, { timeout: 3000 });
    const star = page.locator('[data-testid="topic-row"][data-topic="*"] [data-testid="topic-subscribers"]');
    await star.waitFor({ timeout: 3000 }).catch(() => assert.fail('no row for the "*" selector in the topic list'));
    assert.ok(Number((await star.textContent()).replace(/\D/g, '')) >= 1, 'the "*" row counts the feed');
  });

  await step('the publish form: custom id, type, two topics, delivered once', async () => {
    const id = `urn:hcs-test:form:${run}`;
    const data = 'from the form\n  indented\n\nlast — ✓';
    await q('publish-topics').fill(`${topicBase}/form/a\n${topicBase}/form/b`);
    await q('publish-data').fill(data);
    await q('publish-id').fill(id);
    await q('publish-type').fill('form.test');
    await q('publish-submit').click();
    await page.waitForFunction(() => ['ok', 'error'].includes(document.getElementById('publish-result').dataset.status), null, { timeout: 5000 });
    assert.equal(await q('publish-result').getAttribute('data-status'), 'ok', `publish result: ${await q('publish-result').textContent()}`);
    published++;
    assert.equal(await q('publish-result-id').textContent(), id);
    const entry = entryById(id);
    await entry.waitFor({ timeout: 2000 }).catch(() => assert.fail(`no feed entry with id ${id}`));
    assert.equal(await entry.getAttribute('data-event-type'), 'form.test');
    assert.equal(await entry.locator('[data-testid="feed-data"]').textContent(), data);
    await page.waitForTimeout(300);
    assert.equal(await entryById(id).count(), 1, 'an update with two topics reaches a subscriber once');
  });

  await step('the publish form: private update, generated id', async () => {
    await q('publish-topics').fill(`${topicBase}/form/private`);
    await q('publish-data').fill('{"secret": true}');
    await q('publish-id').fill('');
    await q('publish-type').fill('');
    await q('publish-private').check();
    await page.evaluate(() => { document.getElementById('publish-result').dataset.status = ''; });
    await q('publish-submit').click();
    await page.waitForFunction(() => ['ok', 'error'].includes(document.getElementById('publish-result').dataset.status), null, { timeout: 5000 });
    assert.equal(await q('publish-result').getAttribute('data-status'), 'ok', `publish result: ${await q('publish-result').textContent()}`);
    published++;
    const id = await q('publish-result-id').textContent();
    assert.match(id, /^urn:uuid:/);
    // The feed's token (the dev token) may subscribe to "*": it gets it.
    const entry = entryById(id);
    await entry.waitFor({ timeout: 2000 }).catch(() => assert.fail(`no feed entry for the private update ${id}`));
    assert.equal(await entry.locator('[data-testid="feed-data"]').textContent(), '{"secret": true}');
    await q('publish-private').uncheck();
  });

  await step('the publish form shows a refused publication (bad token: 401)', async () => {
    await q('token').fill('not-a-jwt');
    await page.evaluate(() => { document.getElementById('publish-result').dataset.status = ''; });
    await q('publish-submit').click();
    await page.waitForFunction(() => ['ok', 'error'].includes(document.getElementById('publish-result').dataset.status), null, { timeout: 5000 });
    assert.equal(await q('publish-result').getAttribute('data-status'), 'error');
    assert.equal(await q('publish-result').getAttribute('data-http-status'), '401',
      `result: ${await q('publish-result').textContent()}`);
    assert.match(await q('publish-result').textContent(), /^Error 401/);
    await q('token-dev').click();
    assert.equal(await q('token').inputValue(), token);
  });

  await step('the feed follows an exact selector only', async () => {
    const mine = `${topicBase}/selected`;
    await q('feed-selector').fill(mine);
    await q('feed-subscribe').click();
    await page.waitForFunction(() => document.getElementById('feed-state').dataset.state === 'open', null, { timeout: 5000 });
    const other = await curlPublish(token, [['topic', `${topicBase}/not-selected`], ['data', 'no']]);
    const yes = await curlPublish(token, [['topic', mine], ['data', 'yes'], ['type', 'picked']]);
    // "picked" is not listened for: type it in, resubscribe, publish again.
    await page.waitForTimeout(300);
    assert.equal(await entryById(other).count(), 0, 'an update on another topic reached the feed');
    assert.equal(await entryById(yes).count(), 0, 'a typed event reached the feed without a listener');
    await q('feed-types').fill('picked');
    await q('feed-subscribe').click();
    await page.waitForFunction(() => document.getElementById('feed-state').dataset.state === 'open', null, { timeout: 5000 });
    const yes2 = await curlPublish(token, [['topic', mine], ['data', 'yes again'], ['type', 'picked']]);
    await entryById(yes2).waitFor({ timeout: 2000 }).catch(() => assert.fail('the typed event did not reach the feed'));
    assert.equal(await entryById(yes2).getAttribute('data-event-type'), 'picked');
    await q('feed-types').fill('');
    await q('feed-selector').fill('*');
    await q('feed-subscribe').click();
    await page.waitForFunction(() => document.getElementById('feed-state').dataset.state === 'open', null, { timeout: 5000 });
  });

  await step('EventSource in the page: multi-line, non-ASCII and 1 MiB data exactly', async () => {
    const results = await page.evaluate(async ({ hubUrl, token, topic, run }) => {
      const MiB = 1 << 20;
      // 8192 lines of 127 characters and a LF: 1 MiB, ending in a newline.
      const lines = [];
      for (let i = 0; i < 8192; i++) {
        const head = `${String(i).padStart(5, '0')} `;
        let s = head;
        while (s.length < 127) s += 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.'[(i * 7 + s.length * 13) % 65];
        lines.push(s);
      }
      const bigLines = lines.join('\n') + '\n';
      let bigOne = '';
      const chunk = 'The quick brown fox jumps over the lazy dog 0123456789 ';
      while (bigOne.length < MiB) bigOne += chunk;
      bigOne = bigOne.slice(0, MiB - 3) + 'END';
      const nonAscii = 'héllo wörld — 日本語のテキスト · emoji 🎉🚀👩‍💻 · עברית · Ελληνικά · ' +
        'NBSP[\u00a0] LS[\u2028] PS[\u2029] BOM[\ufeff] ½ ∑ ≠ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢';
      const cases = [
        { name: 'multi-line', data: 'line one\nline two\n\n  indented line four\n\tand a tab' },
        { name: 'CR and CRLF line ends', data: 'a\r\nb\rc\nd', expect: 'a\nb\nc\nd' },
        { name: 'trailing newline', data: 'ends with a newline\n' },
        { name: 'SSE-looking text', data: 'data: not a field\nid: 42\n: comment\nevent: x' },
        { name: 'non-ASCII', data: nonAscii },
        { name: 'typed event', data: 'typed', type: 'custom.type' },
        { name: '1 MiB in 8192 lines', data: bigLines },
        { name: '1 MiB in one line', data: bigOne },
      ];
      const utf8 = (s) => new TextEncoder().encode(s).length;
      const es = new EventSource(`${hubUrl}?topic=${encodeURIComponent(topic)}&authorization=${encodeURIComponent(token)}`);
      const received = new Map();
      const waiters = new Map();
      const onEvent = (e) => {
        received.set(e.lastEventId, e);
        const w = waiters.get(e.lastEventId);
        if (w) w(e);
      };
      es.addEventListener('message', onEvent);
      es.addEventListener('custom.type', onEvent);
      const out = [];
      try {
        await new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('the in-page EventSource did not open within 5 s')), 5000);
          es.onopen = () => { clearTimeout(t); resolve(); };
        });
        for (let i = 0; i < cases.length; i++) {
          const c = cases[i];
          const id = `urn:hcs-test:es:${run}:${i}`;
          const expect = c.expect ?? c.data;
          const got = new Promise((resolve) => {
            if (received.has(id)) resolve(received.get(id));
            else waiters.set(id, resolve);
          });
          const body = new URLSearchParams({ topic, data: c.data, id });
          if (c.type) body.append('type', c.type);
          const r = await fetch(hubUrl, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body });
          const text = await r.text();
          const res = { name: c.name, bytes: utf8(c.data), status: r.status, body: text.slice(0, 200) };
          if (r.status !== 200 || text !== id) {
            res.ok = false;
            res.why = `publish answered ${r.status} "${res.body}" (expected 200 "${id}")`;
            out.push(res);
            continue;
          }
          const e = await Promise.race([got, new Promise((resolve) => setTimeout(() => resolve(null), 10000))]);
          if (!e) {
            res.ok = false;
            res.why = 'not received within 10 s';
          } else if (e.type !== (c.type || 'message')) {
            res.ok = false;
            res.why = `event type "${e.type}"`;
          } else if (e.data !== expect) {
            let d = 0;
            while (d < e.data.length && d < expect.length && e.data[d] === expect[d]) d++;
            res.ok = false;
            res.why = `data differs at ${d}: got ${e.data.length} chars ${JSON.stringify(e.data.slice(Math.max(0, d - 20), d + 20))}, ` +
              `expected ${expect.length} chars ${JSON.stringify(expect.slice(Math.max(0, d - 20), d + 20))}`;
          } else {
            res.ok = true;
          }
          out.push(res);
        }
      } finally {
        es.close();
      }
      return { out, big: utf8(bigLines) === MiB && utf8(bigOne) === MiB };
    }, { hubUrl, token, topic: `${topicBase}/eventsource`, run });
    assert.ok(results.big, 'the 1 MiB payloads are 1 MiB');
    for (const r of results.out) {
      console.log(`  ${r.ok ? 'ok' : 'FAILED'}: ${r.name} (${r.bytes} bytes)${r.ok ? '' : ': ' + r.why}`);
      if (r.status === 200) published++;
    }
    const bad = results.out.filter((r) => !r.ok);
    assert.equal(bad.length, 0, bad.map((r) => `${r.name}: ${r.why}`).join('; '));
  });

  await step('the counters count every update published', async () => {
    await waitStat('published', (v) => v >= published, `>= ${published}`);
    await waitStat('bytes_out', (v) => v >= 2 << 20, '>= 2 MiB (the 1 MiB updates went out twice)');
  });

  await step('screenshots', async () => {
    // A few friendly updates on top of the feed for the picture, the last
    // one through the form (so that its result shows a success).
    const book = (n, title) => JSON.stringify({ '@id': `/books/${n}`, title, author: 'Umberto Eco', available: n !== 2 }, null, 2);
    await curlPublish(token, [['topic', 'https://example.com/books/1'], ['data', book(1, 'The Name of the Rose')]]);
    await curlPublish(token, [['topic', 'https://example.com/books/2'], ['data', book(2, 'Foucault’s Pendulum')]]);
    await q('publish-topics').fill('https://example.com/books/3');
    await q('publish-data').fill(book(3, 'Baudolino'));
    await q('publish-id').fill('');
    await q('publish-type').fill('');
    await page.evaluate(() => { document.getElementById('publish-result').dataset.status = ''; });
    await q('publish-submit').click();
    await page.waitForFunction(() => document.getElementById('publish-result').dataset.status === 'ok', null, { timeout: 5000 });
    published++;
    await page.waitForTimeout(1300); // one more poll of the counters
    // Colour changes animate: let them settle before each picture.
    await page.screenshot({ path: shot, fullPage: false });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(1000);
    await page.screenshot({ path: shot.replace(/\.png$/, '-dark.png'), fullPage: false });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(1000);
    await page.screenshot({ path: shot.replace(/\.png$/, '-mobile.png'), fullPage: false });
    console.log(`  saved ${shot}`);
  });

  await step('no uncaught error in the page', async () => {
    assert.deepEqual(pageErrors, []);
  });
} catch (err) {
  failed = true;
  console.log(`dashboard.spec: ${err && err.stack ? err.stack : err}`);
  try {
    const state = await page.evaluate(() => ({
      hub: document.getElementById('hub-status').dataset.state,
      feed: document.getElementById('feed-state').dataset.state,
      feedUrl: document.getElementById('feed-url').textContent,
      entries: [...document.querySelectorAll('[data-testid="feed-entry"]')].slice(0, 5)
        .map((li) => `${li.dataset.eventType} ${li.dataset.eventId}`),
      result: document.getElementById('publish-result').textContent,
    }));
    console.log(`dashboard.spec: page state: ${JSON.stringify(state)}`);
    await page.screenshot({ path: shot.replace(/\.png$/, '-failure.png'), fullPage: true });
    console.log(`dashboard.spec: screenshot ${shot.replace(/\.png$/, '-failure.png')}`);
  } catch {
    /* the page is gone */
  }
  if (pageErrors.length) console.log(`dashboard.spec: page errors: ${pageErrors.join('; ')}`);
} finally {
  await browser.close();
}
console.log(`dashboard.spec: ${passed} passed, ${failed ? 1 : 0} failed`);
process.exit(failed ? 1 : 0);
