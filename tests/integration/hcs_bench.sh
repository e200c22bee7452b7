#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/hcs_bench.sh: hcs-bench (tools/hcs-bench) measures what
# it claims. Its counts are checked exactly, against servers whose output is
# known:
#   1. the command line: --help exits 0; a bad option, a non-loopback target
#      or a publish body without {payload} exit 2;
#   2. hcs-hub --dev, publish mode: 200 subscribers x 50 messages at 200/s
#      must give 200 connected, 50 published, received == expected == 10000,
#      0 lost, 0 duplicates, 10000 latency samples with
#      0 <= min <= p50 <= p90 <= p99 <= max (< 30 s);
#   3. tests/support/sse_seq_server.mjs, count mode: a known sequence with
#      gaps, a repeated event and events without a sequence number, cut into
#      chunks of 1..64 bytes with LF, CRLF and CR line ends, chunked and then
#      close-delimited: lost, duplicates and the rest must be exact;
#   4. idle mode against the hub: 100 subscribers held 0.5 s, "holding" said
#      on stderr, 100 connected in the report.
# The JSON reports are read with node (scripts/deps installs it).
#
# ctest runs it with HCS_BINARY_DIR and HCS_SOURCE_DIR set; by hand:
#   HCS_BINARY_DIR=build HCS_SOURCE_DIR=. bash tests/integration/hcs_bench.sh
# Every server is stopped on every path; each hcs-bench run is bounded by
# its own --duration/--drain and by timeout(1), the whole test by a 90 s
# watchdog.
set -euo pipefail

: "${HCS_BINARY_DIR:?}" "${HCS_SOURCE_DIR:?}"
bench=$HCS_BINARY_DIR/tools/hcs-bench/hcs-bench
hub_bin=$HCS_BINARY_DIR/tools/hcs-hub/hcs-hub
seq_server=$HCS_SOURCE_DIR/tests/support/sse_seq_server.mjs

# The watchdog: rerun under timeout(1), whose SIGTERM runs the cleanup trap.
if [ -z "${HCS_BENCH_TEST_WATCHDOG:-}" ]; then
  export HCS_BENCH_TEST_WATCHDOG=1
  rc=0
  timeout -k 5 90 bash "${BASH_SOURCE[0]}" "$@" || rc=$?
  [ $rc -eq 124 ] && echo "FAIL: hcs_bench: timed out after 90 s" >&2
  exit $rc
fi

# shellcheck source=tests/support/server.sh
source "$HCS_SOURCE_DIR/tests/support/server.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-test-bench.XXXXXX")
pids=()
failures=0
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die() {
  echo "FAIL: hcs_bench: $*" >&2
  local f
  for f in "$tmp"/*.log "$tmp"/*.err; do
    [ -s "$f" ] && tail -n 30 "$f" | sed "s|^|  $(basename "$f"): |" >&2
  done
  exit 1
}

[ -x "$bench" ] || die "$bench is not built"
[ -x "$hub_bin" ] || die "$hub_bin is not built"
command -v node >/dev/null || die "node is not installed (scripts/deps installs it)"

# check NAME JSON-FILE EXPR...: each EXPR is a JavaScript expression over
# the report `r`; prints "ok: NAME" or one FAIL line per false expression
# with the values it used.
check() {
  local name=$1 file=$2
  shift 2
  if node - "$file" "$@" <<'EOF'; then echo "ok: $name"; else failures=$((failures + 1)); fi
const fs = require('node:fs');
const [file, ...exprs] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
let bad = 0;
for (const e of exprs) {
  let v;
  try { v = Function('r', `return (${e});`)(r); } catch (err) { v = `threw ${err}`; }
  if (v !== true) {
    bad++;
    const names = [...new Set(e.match(/r(\.\w+)+/g) || [])];
    const vals = names.map((n) => `${n}=${JSON.stringify(Function('r', `return ${n};`)(r))}`);
    console.log(`FAIL: ${file.split('/').pop()}: ${e}  (${vals.join(', ')})`);
  }
}
process.exit(bad ? 1 : 0);
EOF
}

# run_bench NAME ARGS...: hcs-bench with a JSON report in $tmp/NAME.json.
run_bench() {
  local name=$1
  shift
  local rc=0
  timeout -k 5 60 "$bench" -q --json "$tmp/$name.json" "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  if [ $rc -ne 0 ]; then
    cat "$tmp/$name.out" "$tmp/$name.err" >&2
    die "$name: hcs-bench exited $rc"
  fi
  cat "$tmp/$name.out"
}

# 1. The command line.
"$bench" --help >"$tmp/help.out" || die "--help did not exit 0"
grep -q '^usage: hcs-bench' "$tmp/help.out" || die "--help prints no usage"
expect_2() {
  local what=$1 rc=0
  shift
  "$bench" "$@" >/dev/null 2>"$tmp/usage.err" || rc=$?
  if [ $rc -eq 2 ] && [ -s "$tmp/usage.err" ]; then
    echo "ok: $what exits 2 ($(head -n1 "$tmp/usage.err"))"
  else
    echo "FAIL: $what: exit $rc, expected 2 with a message"
    failures=$((failures + 1))
  fi
}
expect_2 "an unknown option" --no-such-option http://127.0.0.1:1/
expect_2 "a non-loopback target" http://10.1.2.3:80/events
expect_2 "a publish body without {payload}" -p http://127.0.0.1:1/ -b 'data=x' http://127.0.0.1:1/
expect_2 "no URL" -c 10

# 2. The hub, publish mode.
start_hub "$tmp/hub.log" "$hub_bin" --dev --access-log off || die "hcs-hub did not start"
pids+=("$server_pid")
hub_port=$server_port
token=$(grep -m1 -E '^ +token +' "$tmp/hub.log" | awk '{print $2}')
[ -n "$token" ] || die "no development token in the hub's banner"
hub=http://127.0.0.1:$hub_port/.well-known/mercure

run_bench hub_publish -c 200 -n 50 -r 200 -d 20 --drain 5 \
  -p "$hub" -H "Authorization: Bearer $token" -b 'topic=bench&data={payload}' \
  "$hub?topic=bench"
check "hub: 200 subscribers x 50 messages, all delivered once" "$tmp/hub_publish.json" \
  'r.mode === "publish"' 'r.subscribers === 200' 'r.connected === 200' \
  'r.connect_errors === 0' 'r.closed === 0' 'r.published === 50' \
  'r.publish_errors === 0' 'r.expected === 10000' 'r.received === 10000' \
  'r.lost === 0' 'r.duplicates === 0' 'r.without_sequence === 0' \
  'r.events === 10000' 'r.failed === false'
check "hub: latencies are sane" "$tmp/hub_publish.json" \
  'r.latency_ms.samples === 10000' '0 <= r.latency_ms.min' \
  'r.latency_ms.min <= r.latency_ms.p50' 'r.latency_ms.p50 <= r.latency_ms.p90' \
  'r.latency_ms.p90 <= r.latency_ms.p99' 'r.latency_ms.p99 <= r.latency_ms.max' \
  'r.latency_ms.max < 30000' 'r.deliveries_per_s > 0' 'r.client_cpu_s >= 0' \
  'r.publish_rate > 100'

# 3. The known sequence, with gaps.
node "$seq_server" 2>"$tmp/seq.log" &
server_pid=$!
pids+=("$server_pid")
wait_listening "$tmp/seq.log" "$seq_server" || die "sse_seq_server.mjs did not start"
seq_url=http://127.0.0.1:$server_port/seq

# 100 events; 3, 50, 77 and 100 never sent; 10 and 11 sent twice; an event
# without a sequence number after every 7th (14 of them). Of the events
# received, the odd ones carry a timestamp: 50 odd, less 3 and 77 = 48.
run_bench seq_chunked -c 50 -n 100 -d 20 --drain 2 \
  "$seq_url?n=100&skip=3,50,77,100&dup=10,11&ping=7&framing=chunked"
check "known sequence, chunked: exact loss and duplicate counts" "$tmp/seq_chunked.json" \
  'r.mode === "count"' 'r.connected === 50' 'r.connect_errors === 0' \
  'r.closed === 50' 'r.expected === 5000' 'r.received === 4800' \
  'r.lost === 200' 'r.duplicates === 100' 'r.without_sequence === 700' \
  'r.events === 5600' 'r.latency_ms.samples === 2400' \
  'r.latency_ms.min <= r.latency_ms.p50 && r.latency_ms.p50 <= r.latency_ms.p99 && r.latency_ms.p99 <= r.latency_ms.max' \
  'r.failed === false'

# 30 events, 1 and 30 missing, 29 twice, 3 without sequence; the body ends
# with the connection.
run_bench seq_close -c 20 -n 30 -d 20 --drain 2 --sources 2 \
  "$seq_url?n=30&skip=1,30&dup=29&ping=10&framing=close"
check "known sequence, close-delimited: exact counts" "$tmp/seq_close.json" \
  'r.connected === 20' 'r.expected === 600' 'r.received === 560' \
  'r.lost === 40' 'r.duplicates === 20' 'r.without_sequence === 60' \
  'r.latency_ms.samples === 280' 'r.failed === false'

# --event: only "tick" events (the odd ones, 48 received per stream, one of
# them twice: 11) count; the rest are not looked at.
run_bench seq_event -c 10 -n 100 -d 20 --drain 2 --event tick \
  "$seq_url?n=100&skip=3,50,77,100&dup=10,11&ping=7"
check "known sequence, --event tick" "$tmp/seq_event.json" \
  'r.events === 490' 'r.received === 480' 'r.duplicates === 10' \
  'r.without_sequence === 0'

# 4. Idle mode against the hub.
run_bench hub_idle -c 100 --idle --hold 0.5 "$hub?topic=idle"
grep -q '^hcs-bench: holding 100 subscribers' "$tmp/hub_idle.err" ||
  { cat "$tmp/hub_idle.err" >&2; die "idle mode did not say it holds"; }
check "idle: 100 subscribers held" "$tmp/hub_idle.json" \
  'r.mode === "idle"' 'r.connected === 100' 'r.connect_errors === 0' \
  'r.closed === 0' 'r.hold_s >= 0.5' 'r.failed === false'

# The hub must still be alive and stop cleanly (no sanitizer report).
kill -TERM "${pids[0]}"
rc=0
wait "${pids[0]}" || rc=$?
[ $rc -eq 0 ] || die "hcs-hub exited $rc after SIGTERM"

if [ $failures -ne 0 ]; then
  echo "FAIL: hcs_bench: $failures check(s) failed"
  exit 1
fi
echo "PASS: hcs_bench"
