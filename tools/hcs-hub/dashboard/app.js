// SPDX-License-Identifier: MIT
/*
 * The hcs-hub dashboard (served at /, with index.html and style.css; no
 * framework, no build step). It polls GET /hub/stats once a second for the
 * counters and the topic list, reads GET /hub/info once (version, mode, and
 * in development mode a ready token), follows the updates on a topic selector
 * with an EventSource on the hub URL, and publishes updates with fetch().
 *
 * Stable hooks for tests (id = data-testid unless said otherwise):
 *   hub-status      data-state: loading | live (last poll ok) | down
 *   hub-version     "v0.1.0";  hub-mode: shown in development mode;
 *   hub-anonymous   shown when anonymous subscribers are allowed
 *   stats           data-polls: number of successful polls of /hub/stats
 *   stat-NAME       one counter; data-value holds the raw number; NAME is
 *                   uptime_seconds, connections, subscribers, published,
 *                   delivered, dropped, slow_closes or bytes_out
 *   topics          the table body; one row per topic:
 *                   tr[data-testid=topic-row][data-topic="<topic>"] with cells
 *                   [data-testid=topic-subscribers] and [data-testid=topic-updates]
 *                   (clicking the topic subscribes the feed to it)
 *   topics-count, topics-empty
 *   feed-selector   the selector input (default "*");  feed-types: extra
 *                   event types to listen for (space/comma separated)
 *   feed-subscribe  (re)subscribes;  feed-stop: closes;  feed-clear
 *   feed-state      data-state: idle | connecting | open | reconnecting | closed
 *   feed-url        the subscription URL (token redacted)
 *   feed-count      data-count: events received since the last (re)subscribe
 *   feed            the list, newest first, at most 200 entries:
 *                   li[data-testid=feed-entry] with data-event-type,
 *                   data-event-id (lastEventId), data-received (Date.now());
 *                   inside: [data-testid=feed-type], [data-testid=feed-id],
 *                   [data-testid=feed-data] (a <pre>; data longer than 4096
 *                   characters is cut there until "Show all" is clicked;
 *                   data-length holds the full length in UTF-16 units)
 *   feed-empty      shown while the list is empty
 *   publish-form, publish-topics (one per line), publish-data, publish-id,
 *   publish-type, publish-retry, publish-private (checkbox), publish-submit
 *   publish-result  data-status: pending | ok | error; data-http-status;
 *                   on success [data-testid=publish-result-id] holds the id
 *   token           the JWT (whitespace ignored), kept in localStorage under
 *                   "hcs-hub.token" once edited; prefilled with the hub's
 *                   dev_token when nothing is stored
 *   token-dev       "Use dev token" (development mode only);  token-note
 *
 * The feed listens for "message" events, for the types in feed-types, and
 * for every type this page publishes with (EventSource has no catch-all).
 */
'use strict';

(() => {
  const STATS = ['uptime_seconds', 'connections', 'subscribers', 'published',
                 'delivered', 'dropped', 'slow_closes', 'bytes_out'];
  const TOKEN_KEY = 'hcs-hub.token';
  const FEED_MAX = 200;
  const PREVIEW = 4096;
  const POLL_MS = 1000;

  const $ = (id) => document.getElementById(id);
  const el = (tag, props, ...children) => {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k.startsWith('data-')) e.setAttribute(k, v);
        else e[k] = v;
      }
    }
    for (const c of children) e.append(c);
    return e;
  };

  let hubUrl = '/.well-known/mercure';
  let devToken = null;

  // ---- formatting ----------------------------------------------------------
  const nf = new Intl.NumberFormat();
  const fmtInt = (n) => nf.format(n);

  function fmtBytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
  }

  function fmtDuration(s) {
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24;
    const m = Math.floor(s / 60) % 60, sec = s % 60;
    const p = (x) => String(x).padStart(2, '0');
    if (d) return `${d}d ${p(h)}h ${p(m)}m`;
    if (h) return `${h}h ${p(m)}m ${p(sec)}s`;
    if (m) return `${m}m ${p(sec)}s`;
    return `${sec}s`;
  }

  function fmtRate(per) {
    if (per >= 100) return fmtInt(Math.round(per));
    return per.toFixed(per >= 10 || per === 0 ? 0 : 1);
  }

  const timeFmt = new Intl.DateTimeFormat(undefined, {
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  });

  // ---- token ---------------------------------------------------------------
  const tokenEl = $('token');

  function storedToken() {
    try {
      return localStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  }

  function storeToken(v) {
    try {
      if (v === null) localStorage.removeItem(TOKEN_KEY);
      else localStorage.setItem(TOKEN_KEY, v);
    } catch {
      /* storage disabled: the token lives for this page only */
    }
  }

  const getToken = () => tokenEl.value.replace(/\s+/g, '');

  function b64urlDecode(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    const bin = atob(s);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder().decode(bytes);
  }

  function describeToken(tok) {
    if (!tok) return 'No token: subscribing anonymously; publishing needs a token.';
    const parts = tok.split('.');
    if (parts.length !== 3) return 'Not a JWT (expected three dot-separated parts).';
    let payload;
    try {
      payload = JSON.parse(b64urlDecode(parts[1]));
    } catch {
      return 'Unreadable JWT payload.';
    }
    const m = (payload && (payload.mercure || payload['https://mercure.rocks/'])) || {};
    const list = (a) => (Array.isArray(a) && a.length ? a.join(', ') : 'none');
    const bits = [`publish: ${list(m.publish)}`, `subscribe: ${list(m.subscribe)}`];
    if (typeof payload.exp === 'number') {
      const left = payload.exp - Date.now() / 1000;
      bits.push(left > 0 ? `expires in ${fmtDuration(left)}` : 'EXPIRED');
    }
    return (devToken && tok === devToken ? 'Development token · ' : '') + bits.join(' · ');
  }

  function showTokenNote() {
    $('token-note').textContent = describeToken(getToken());
  }

  const initialToken = storedToken();
  if (initialToken !== null) tokenEl.value = initialToken;
  showTokenNote();
  tokenEl.addEventListener('input', () => {
    storeToken(tokenEl.value.trim());
    showTokenNote();
  });
  $('token-dev').addEventListener('click', () => {
    if (!devToken) return;
    tokenEl.value = devToken;
    // Forget the stored token, so the page follows the hub's dev token.
    storeToken(null);
    showTokenNote();
  });

  // ---- hub info ------------------------------------------------------------
  async function loadInfo() {
    let info = null;
    try {
      const r = await fetch('/hub/info', { cache: 'no-store' });
      if (r.ok) info = await r.json();
    } catch {
      /* the counters' poll reports the hub as down */
    }
    if (!info) return;
    if (info.version) $('hub-version').textContent = 'v' + info.version;
    $('hub-mode').hidden = !info.dev_mode;
    $('hub-anonymous').hidden = !info.anonymous;
    if (typeof info.hub_url === 'string' && info.hub_url) hubUrl = info.hub_url;
    if (typeof info.dev_token === 'string' && info.dev_token) {
      devToken = info.dev_token;
      $('token-dev').hidden = false;
      if (storedToken() === null) tokenEl.value = devToken;
    }
    showTokenNote();
    return info;
  }

  // ---- counters and topics -------------------------------------------------
  const statsEl = $('stats');
  let polls = 0;
  let inflight = false;
  let prev = null;
  let lastTopicsJson = '';

  function setHubStatus(state, text) {
    const s = $('hub-status');
    s.dataset.state = state;
    s.querySelector('.status-text').textContent = text;
  }

  function setStat(name, value, text, sub) {
    const box = $('stat-' + name);
    if (!box) return;
    const old = box.dataset.value;
    box.dataset.value = String(value);
    box.querySelector('.stat-value').textContent = text;
    box.querySelector('.stat-sub').textContent = sub || '\u00a0';
    if (old !== '' && old !== String(value) && name !== 'uptime_seconds') {
      // Restart the highlight: drop the class, force a style flush, add it.
      box.classList.remove('bump');
      void box.offsetWidth;
      box.classList.add('bump');
    }
  }

  function renderStats(s) {
    const now = performance.now();
    const dt = prev ? (now - prev.t) / 1000 : 0;
    const rate = (k) => (prev && dt > 0 ? Math.max(0, (s[k] - prev[k]) / dt) : null);
    for (const name of STATS) {
      const v = Number(s[name]);
      if (!Number.isFinite(v)) continue;
      let text = fmtInt(v);
      let sub = '';
      if (name === 'uptime_seconds') {
        text = fmtDuration(v);
        sub = 'since ' + timeFmt.format(new Date(Date.now() - v * 1000));
      } else if (name === 'bytes_out') {
        text = fmtBytes(v);
        const r = rate(name);
        if (r !== null) sub = fmtBytes(r) + '/s';
      } else if (name === 'published' || name === 'delivered') {
        const r = rate(name);
        if (r !== null) sub = fmtRate(r) + '/s';
      }
      setStat(name, v, text, sub);
      if (name === 'dropped' || name === 'slow_closes') $('stat-' + name).classList.toggle('alert', v > 0);
    }
    prev = { t: now };
    for (const name of STATS) prev[name] = Number(s[name]);
  }

  function renderTopics(topics) {
    const json = JSON.stringify(topics);
    if (json === lastTopicsJson) return;
    lastTopicsJson = json;
    const rows = topics.map((t) => {
      const subs = Number(t.subscribers) || 0, upd = Number(t.updates) || 0;
      const name = el('button', { type: 'button', class: 'link', text: String(t.topic), title: 'Follow ' + t.topic });
      name.addEventListener('click', () => {
        $('feed-selector').value = String(t.topic);
        subscribe();
      });
      return el('tr', { 'data-testid': 'topic-row', 'data-topic': String(t.topic) },
        el('td', { class: 'topic', title: String(t.topic) }, name),
        el('td', { class: 'num' + (subs ? '' : ' zero'), 'data-testid': 'topic-subscribers', text: fmtInt(subs) }),
        el('td', { class: 'num' + (upd ? '' : ' zero'), 'data-testid': 'topic-updates', text: fmtInt(upd) }));
    });
    $('topics').replaceChildren(...rows);
    $('topics-empty').hidden = rows.length > 0;
    $('topics-count').textContent = rows.length === 1 ? '1 topic' : `${rows.length} topics`;
  }

  async function poll() {
    if (inflight) return;
    inflight = true;
    try {
      const r = await fetch('/hub/stats', { cache: 'no-store' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const s = await r.json();
      renderStats(s);
      renderTopics(Array.isArray(s.topics) ? s.topics : []);
      statsEl.classList.remove('stale');
      statsEl.dataset.polls = String(++polls);
      setHubStatus('live', 'live');
    } catch {
      statsEl.classList.add('stale');
      setHubStatus('down', 'hub unreachable');
    } finally {
      inflight = false;
    }
  }

  // ---- live feed -----------------------------------------------------------
  const feedEl = $('feed');
  const feed = { es: null, types: new Set(), count: 0 };
  const STATE_TEXT = {
    idle: 'not subscribed',
    connecting: 'connecting…',
    open: 'connected',
    reconnecting: 'reconnecting…',
    closed: 'closed',
  };

  function setFeedState(state, text) {
    const s = $('feed-state');
    s.dataset.state = state;
    s.querySelector('.conn-text').textContent = text || STATE_TEXT[state];
    $('feed-stop').disabled = state === 'idle' || state === 'closed';
  }

  function setCount() {
    const c = $('feed-count');
    c.dataset.count = String(feed.count);
    const shown = feedEl.children.length;
    c.textContent = (feed.count === 1 ? '1 event' : `${fmtInt(feed.count)} events`) +
      (feed.count > shown ? ` (last ${shown} shown)` : '');
    $('feed-empty').hidden = shown > 0;
  }

  function utf8Length(s) {
    // Counted without encoding: 1 to 4 bytes a code point; a lone surrogate
    // (which the stream cannot carry anyway) counts as the 3 of U+FFFD.
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length &&
               (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        n += 4;
        i++;
      } else n += 3;
    }
    return n;
  }

  function onEvent(e) {
    if (e.target !== feed.es) return;
    const data = String(e.data);
    const id = e.lastEventId;
    const pre = el('pre', { class: 'entry-data', 'data-testid': 'feed-data', 'data-length': String(data.length) });
    const cut = data.length > PREVIEW;
    pre.textContent = cut ? data.slice(0, PREVIEW) + '…' : data;
    const li = el('li', {
      class: 'entry',
      'data-testid': 'feed-entry',
      'data-event-type': e.type,
      'data-event-id': id,
      'data-received': String(Date.now()),
    },
    el('div', { class: 'entry-head' },
      el('span', { class: 'entry-type', 'data-testid': 'feed-type', text: e.type }),
      el('span', { class: 'entry-id mono ellipsis', 'data-testid': 'feed-id', text: id || '(no id)', title: id }),
      el('span', { class: 'entry-meta', text: `${fmtBytes(utf8Length(data))} · ${timeFmt.format(new Date())}` })),
    pre);
    if (cut) {
      const more = el('button', { type: 'button', class: 'link entry-more', text: `Show all (${fmtInt(data.length)} characters)` });
      more.addEventListener('click', () => {
        pre.textContent = data;
        more.remove();
      });
      li.append(more);
    }
    feedEl.prepend(li);
    while (feedEl.children.length > FEED_MAX) feedEl.lastElementChild.remove();
    feed.count++;
    setCount();
  }

  function listenFor(type) {
    if (!feed.es || !type || feed.types.has(type)) return;
    feed.types.add(type);
    feed.es.addEventListener(type, onEvent);
  }

  function stop() {
    if (feed.es) {
      feed.es.close();
      feed.es = null;
    }
    feed.types = new Set();
    setFeedState('idle');
  }

  function subscribe() {
    stop();
    const sel = $('feed-selector').value.trim() || '*';
    const token = getToken();
    const query = '?topic=' + encodeURIComponent(sel);
    const es = new EventSource(hubUrl + query + (token ? '&authorization=' + encodeURIComponent(token) : ''));
    feed.es = es;
    feed.count = 0;
    $('feed-url').textContent = 'GET ' + hubUrl + query + (token ? '&authorization=…' : '');
    $('feed-url').title = $('feed-url').textContent;
    setFeedState('connecting');
    setCount();
    es.onopen = () => {
      if (es === feed.es) setFeedState('open');
    };
    es.onerror = () => {
      if (es !== feed.es) return;
      // CLOSED after an error: the hub refused (401/403/400) or answered
      // something other than an event stream; EventSource will not retry.
      if (es.readyState === EventSource.CLOSED) {
        setFeedState('closed', 'closed: the hub refused the subscription (check the token and selector)');
        $('feed-stop').disabled = true;
      } else {
        setFeedState('reconnecting');
      }
    };
    listenFor('message');
    for (const t of $('feed-types').value.split(/[\s,]+/)) listenFor(t);
  }

  $('feed-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    subscribe();
  });
  $('feed-stop').addEventListener('click', stop);
  $('feed-clear').addEventListener('click', () => {
    feedEl.replaceChildren();
    feed.count = 0;
    setCount();
  });

  // ---- publishing ----------------------------------------------------------
  const pubForm = $('publish-form');
  const result = $('publish-result');

  function setResult(status, httpStatus, ...content) {
    result.hidden = false;
    result.dataset.status = status;
    result.dataset.httpStatus = httpStatus ? String(httpStatus) : '';
    result.replaceChildren(...content);
  }

  pubForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const topics = $('publish-topics').value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    const body = new URLSearchParams();
    for (const t of topics) body.append('topic', t);
    body.append('data', $('publish-data').value);
    const id = $('publish-id').value.trim();
    const type = $('publish-type').value.trim();
    const retry = $('publish-retry').value.trim();
    if (id) body.append('id', id);
    if (type) body.append('type', type);
    if (retry) body.append('retry', retry);
    if ($('publish-private').checked) body.append('private', 'on');
    // EventSource delivers typed events only to listeners of that type.
    if (type) listenFor(type);

    const token = getToken();
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    const submit = $('publish-submit');
    submit.disabled = true;
    setResult('pending', 0, 'Publishing…');
    try {
      const r = await fetch(hubUrl, { method: 'POST', headers, body });
      const text = await r.text();
      if (r.ok) {
        setResult('ok', r.status, 'Published: ',
          el('span', { class: 'mono', 'data-testid': 'publish-result-id', id: 'publish-result-id', text }));
      } else {
        const detail = text.trim();
        setResult('error', r.status,
          `Error ${r.status}${r.statusText ? ' ' + r.statusText : ''}${detail ? ': ' : ''}`,
          el('span', { class: 'mono', text: detail }));
      }
    } catch (err) {
      setResult('error', 0, 'Network error: ' + (err && err.message ? err.message : String(err)));
    } finally {
      submit.disabled = false;
    }
  });

  // Ctrl+Enter (Cmd+Enter) in any field publishes.
  pubForm.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      pubForm.requestSubmit();
    }
  });

  // ---- start ---------------------------------------------------------------
  setFeedState('idle');
  setCount();
  poll();
  setInterval(poll, POLL_MS);
  // Subscribe once the token is known (dev mode prefills it), when the hub
  // lets this page subscribe: anonymously, or with a token.
  loadInfo().then((info) => {
    if (getToken() || !info || info.anonymous) subscribe();
  });
})();
