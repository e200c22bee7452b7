// SPDX-License-Identifier: MIT
// tests/support/sse_seq_server.mjs: an SSE server that sends every
// subscriber a known sequence, for tests/integration/hcs_bench.sh. Raw
// sockets (node:net), so that the bytes on the wire are exactly these.
//
//   node sse_seq_server.mjs        listens on 127.0.0.1, a free port; prints
//                                  "listening on http://127.0.0.1:PORT/" on
//                                  stderr; stops on SIGTERM or after 60 s
//
// GET /seq?n=K&skip=a,b&dup=c&ping=P&framing=chunked|close answers 200
// text/event-stream and sends events 1..K except those in skip, event c of
// dup twice, and after every P-th event one event without a sequence number
// ("id" with no value, "event: ping", data "pong"), then ends the body (the terminal chunk, or
// closing the connection). The events vary on purpose:
//   - line ends cycle through LF, CRLF and CR;
//   - odd events carry the marker "hcsb-SEQ-TS" in their data (TS: the
//     monotonic clock in ns, process.hrtime, the clock hcs-bench reads), on
//     the second of two data lines, with a comment line and "event: tick";
//   - even events carry no marker: "id: SEQ" and data "plain SEQ";
// and the body is cut into random chunks of 1..64 bytes (a fixed seed per
// connection), written a few at a time with pauses, so that events, lines
// and chunk frames split across reads at every kind of point.
import net from 'node:net';

const EOLS = ['\n', '\r\n', '\r'];

function event(seq) {
  const eol = EOLS[seq % 3];
  if (seq % 2 === 1) {
    const ts = process.hrtime.bigint();
    return `: comment ${seq}${eol}event: tick${eol}data: first line${eol}` +
      `data:hcsb-${seq}-${ts}-pad${eol}${eol}`;
  }
  return `id: ${seq}${eol}data: plain ${seq}${eol}${eol}`;
}

// "id" alone (no colon) empties the last event ID, which would otherwise
// number this event too.
function ping() {
  return 'id\nevent: ping\ndata: pong\n\n';
}

// A small deterministic generator (LCG), so that runs repeat.
function rng(seed) {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function serve(sock, query, connNo) {
  const n = Number(query.get('n') || '10');
  const skip = new Set((query.get('skip') || '').split(',').filter(Boolean).map(Number));
  const dup = new Set((query.get('dup') || '').split(',').filter(Boolean).map(Number));
  const pingEvery = Number(query.get('ping') || '0');
  const chunked = (query.get('framing') || 'chunked') === 'chunked';
  let head = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n' +
    'Cache-Control: no-cache\r\n';
  head += chunked ? 'Transfer-Encoding: chunked\r\n\r\n' : 'Connection: close\r\n\r\n';
  sock.write(head);
  const rand = rng(connNo * 7919 + 1);
  let pending = [];
  const flush = async () => {
    for (const piece of pending) {
      if (sock.destroyed) return;
      sock.write(piece);
    }
    pending = [];
    await sleep(rand() % 3);
  };
  const send = async (text) => {
    // Cut into chunks of 1..64 bytes, each its own frame (or raw write).
    let i = 0;
    while (i < text.length) {
      const len = 1 + (rand() % 64);
      const part = text.slice(i, i + len);
      i += len;
      const bytes = Buffer.from(part);
      pending.push(chunked
        ? Buffer.concat([Buffer.from(bytes.length.toString(16) +
          (rand() % 5 === 0 ? ';ext=1' : '') + '\r\n'), bytes, Buffer.from('\r\n')])
        : bytes);
      if (pending.length >= 1 + (rand() % 6)) await flush();
    }
  };
  for (let seq = 1; seq <= n; seq++) {
    if (!skip.has(seq)) await send(event(seq));
    if (dup.has(seq)) await send(event(seq));
    if (pingEvery && seq % pingEvery === 0) await send(ping());
  }
  await flush();
  if (chunked) sock.write('0\r\n\r\n');
  sock.end();
}

let conns = 0;
const server = net.createServer((sock) => {
  const connNo = ++conns;
  let buf = '';
  sock.setNoDelay(true);
  sock.on('error', () => {});
  sock.on('data', (d) => {
    if (buf === null) return;
    buf += d.toString('latin1');
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buf.length > 8192) sock.destroy();
      return;
    }
    const line = buf.slice(0, buf.indexOf('\r\n'));
    buf = null;
    const m = /^GET (\S+) HTTP\/1\.1$/.exec(line);
    if (!m) {
      sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const url = new URL(m[1], 'http://x');
    if (url.pathname !== '/seq') {
      sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n');
      return;
    }
    serve(sock, url.searchParams, connNo).catch(() => sock.destroy());
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stderr.write(`listening on http://127.0.0.1:${server.address().port}/\n`);
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, 60000).unref();
