#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/sse_eventsource.sh: SSE through a real client nobody here
# wrote, the `eventsource` npm package (tests/node, installed by scripts/deps
# with `npm ci`). Starts examples/sse_events (heartbeat 1 s) and
# examples/sse_clock on ephemeral loopback ports and runs
# tests/node/eventsource_vectors.mjs against them, which checks:
#   - /vectors (event and raw generators): the exact events of specs/sse.md §8
#     in order (type, data, lastEventId), the end of the stream, the client's
#     own reconnect with Last-Event-ID and the server resuming right after
#     it, and the 204 that stops the client once nothing is left;
#   - /events (hive_sse_respond) + POST /publish (hive_publish_event): exact
#     delivery per topic (type, data, the id given or the one the server
#     answered), 400 for an invalid id, event type or topic, hive's
#     subscriber count (/stats) back to 0 once clients close;
#   - a dropped client reconnecting with Last-Event-ID gets what it missed
#     from hive's history, then live events; an unknown id replays nothing;
#   - /events-manual (hive_subscribe + hcs_stream_t +
#     hcs_sse_respond_with_heartbeat by hand) delivers the same events;
#   - the ":" heartbeat on both routes;
#   - hive's slow-consumer policy (HIVE_SLOW_CLOSE): a socket that never
#     reads while 512 KiB events are published is closed, slow_closes counts
#     exactly 1, and a reading subscriber of the topic misses nothing;
#   - /clock: one event a second, then the end with ?n=3.
# Then, on the server side: the /vectors resumes and the /events replays
# were logged with the ids the clients sent, and both servers exit 0 on
# SIGTERM (no sanitizer report; for sse_events, no hive subscription left).
#
# ctest runs it with HCS_BINARY_DIR and HCS_SOURCE_DIR set; by hand, after
# `make build`:
#   HCS_BINARY_DIR=build HCS_SOURCE_DIR=. bash tests/integration/sse_eventsource.sh
# Every wait is bounded and both servers are stopped on every path.
set -euo pipefail

: "${HCS_BINARY_DIR:?}" "${HCS_SOURCE_DIR:?}"
events_bin=$HCS_BINARY_DIR/examples/sse_events
clock_bin=$HCS_BINARY_DIR/examples/sse_clock
nodedir=$HCS_SOURCE_DIR/tests/node

fail() {
  echo "FAIL: sse_eventsource: $*"
  local f
  for f in "${tmp:-/nonexistent}"/*.log; do
    if [ -s "$f" ]; then head -n 40 "$f" | sed "s|^|  $(basename "$f" .log): |"; fi
  done
  exit 1
}

[ -x "$events_bin" ] || fail "$events_bin is not built"
[ -x "$clock_bin" ] || fail "$clock_bin is not built"
command -v node >/dev/null || fail "node is not installed (scripts/deps installs nodejs and npm)"
[ -f "$nodedir/node_modules/eventsource/package.json" ] ||
  fail "tests/node/node_modules is missing: run scripts/deps (it runs npm ci there)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-test-sse.XXXXXX")
events_pid=""
clock_pid=""

cleanup() {
  for p in $events_pid $clock_pid; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# shellcheck source=tests/support/server.sh
source "$HCS_SOURCE_DIR/tests/support/server.sh"
# The pid is kept even when start_server fails: a server that never said it
# listens may still be running, and cleanup must stop it.
rc=0
start_server "$tmp/sse_events.log" "$events_bin" --workers 2 --heartbeat 1 || rc=$?
events_pid=$server_pid
[ $rc -eq 0 ] || fail "sse_events did not start"
events_port=$server_port
start_server "$tmp/sse_clock.log" "$clock_bin" --workers 2 || rc=$?
clock_pid=$server_pid
[ $rc -eq 0 ] || fail "sse_clock did not start"
clock_port=$server_port

rc=0
timeout -k 5 150 node "$nodedir/eventsource_vectors.mjs" \
  "http://127.0.0.1:$events_port" "http://127.0.0.1:$clock_port" || rc=$?
[ $rc -ne 124 ] || fail "the node client timed out"
[ $rc -eq 0 ] || fail "the node client failed (exit $rc)"

# Server side: each /vectors run (events, raw) resumed once after the id the
# client sent (12, the last event before the stop; or 13 on the raw stream,
# whose id-only block a client following the spec remembers) and was then
# refused with 204 after the last vector (28).
n=$(grep -c -E '^sse_events: /vectors: Last-Event-ID "1[23]": resuming$' "$tmp/sse_events.log" || true)
[ "$n" -eq 2 ] || fail "expected 2 resumes after id 12 or 13 in the server log, found $n"
n=$(grep -c '^sse_events: /vectors: Last-Event-ID 28: nothing left, 204$' "$tmp/sse_events.log" || true)
[ "$n" -eq 2 ] || fail "expected 2 refusals after id 28 in the server log, found $n"

# Server side: /events logged one replay, after the id of the last event the
# dropped client had seen (a number the server chose), and one unknown id.
n=$(grep -c -E '^sse_events: /events\?topic=replay: Last-Event-ID "[0-9]+": replaying after it$' "$tmp/sse_events.log" || true)
[ "$n" -eq 1 ] || fail "expected 1 replay logged for /events?topic=replay, found $n"
n=$(grep -c '^sse_events: /events?topic=replay: Last-Event-ID "no-such-id": unknown, live only$' "$tmp/sse_events.log" || true)
[ "$n" -eq 1 ] || fail "expected 1 unknown Last-Event-ID logged for /events?topic=replay, found $n"

# Both stop cleanly: status 0 means no sanitizer report and, for sse_events,
# no hive subscription left after the server stopped.
stop "$events_pid" 20
events_pid=""
[ "$status" -eq 0 ] || fail "sse_events exited with status $status after SIGTERM"
stop "$clock_pid" 20
clock_pid=""
[ "$status" -eq 0 ] || fail "sse_clock exited with status $status after SIGTERM"
echo "PASS: sse_eventsource"
