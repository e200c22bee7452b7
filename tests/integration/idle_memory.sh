#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/idle_memory.sh: an idle keep-alive connection costs the
# server at most 1024 bytes of memory. Starts examples/hello with 2 workers on
# a free loopback port, opens 10,000 connections with bench/idle_conns (each
# serves one `GET /` and then stays idle), and asserts that the server's
# VmRSS grew by at most 1024 * 10,000 bytes, measured once RSS has been
# stable for 500 ms before and while the connections are held. Skipped in
# sanitizer builds, whose shadow memory and quarantine inflate RSS.
#
# ctest runs it with HCS_BINARY_DIR, HCS_SOURCE_DIR, HCS_SANITIZE and CC set;
# by hand, after `make build`:
#   bash tests/integration/idle_memory.sh
# Everything it starts is stopped on every path, every wait is bounded and a
# watchdog ends the whole test after 58 s.
set -euo pipefail

n=10000
limit_bytes=1024

if [ -n "${HCS_SANITIZE:-}" ]; then
  echo "SKIP: sanitizer build (HCS_SANITIZE=$HCS_SANITIZE) inflates memory; idle memory is measured in the normal build"
  exit 0
fi

# The watchdog: rerun under timeout(1), whose SIGTERM runs the cleanup trap.
if [ -z "${HCS_IDLE_MEMORY_WATCHDOG:-}" ]; then
  export HCS_IDLE_MEMORY_WATCHDOG=1
  rc=0
  timeout -k 5 58 bash "${BASH_SOURCE[0]}" "$@" || rc=$?
  [ $rc -eq 124 ] && echo "FAIL: idle_memory: timed out after 58 s" >&2
  exit $rc
fi

src=${HCS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
bin=${HCS_BINARY_DIR:-$src/build}
hello=$bin/examples/hello
# shellcheck source=bench/lib.sh
source "$src/bench/lib.sh"

fail() { echo "FAIL: idle_memory: $*" >&2; exit 1; }
[ -x "$hello" ] || fail "$hello is not built"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-test-idle.XXXXXX")
server_pid=
ic_pid=
cleanup() {
  exec 7>&-
  bench_stop "$ic_pid" 3
  bench_stop "$server_pid" 5
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"${CC:-cc}" -O2 -Wall -Wextra -o "$tmp/idle_conns" "$src/bench/idle_conns.c" ||
  fail "cannot build bench/idle_conns.c with ${CC:-cc}"

port=$(bench_free_port)
"$hello" --host 127.0.0.1 --port "$port" --workers 2 >"$tmp/hello.log" 2>&1 </dev/null &
server_pid=$!
bench_wait_listen "$port" "$server_pid" 5 || { cat "$tmp/hello.log" >&2; fail "hello did not start"; }

# Sockets the server still holds on its port (not the listeners).
server_conns() {
  ss -Htn "sport = :$port" | awk '$1 != "LISTEN" && $1 != "TIME-WAIT"' | wc -l
}

# Warm up with a few short-lived connections, one request each, and wait
# until the server has closed them all: hello's limit is 10,000 open
# connections and the test uses exactly that many.
"$tmp/idle_conns" -n 32 -t 5 127.0.0.1 "$port" </dev/null >/dev/null 2>"$tmp/ic.err" ||
  { cat "$tmp/ic.err" >&2; fail "warm-up requests failed"; }
for i in $(seq 1 30); do
  [ "$(server_conns)" -eq 0 ] && break
  sleep 0.1
done
[ "$(server_conns)" -eq 0 ] || fail "hello still holds $(server_conns) warm-up connections after 3 s"
before=$(bench_rss_stable_kib 3 "$server_pid")

mkfifo "$tmp/in"
"$tmp/idle_conns" -n "$n" -t 20 -w 30 127.0.0.1 "$port" <"$tmp/in" >"$tmp/ic.out" 2>"$tmp/ic.err" &
ic_pid=$!
exec 7>"$tmp/in"
for i in $(seq 1 250); do
  grep -q '^ready' "$tmp/ic.out" 2>/dev/null && break
  bench_alive "$ic_pid" || break
  sleep 0.1
done
if ! grep -q '^ready' "$tmp/ic.out" 2>/dev/null; then
  cat "$tmp/ic.err" >&2
  bench_alive "$server_pid" || { cat "$tmp/hello.log" >&2; fail "hello died"; }
  fail "could not open $n idle keep-alive connections"
fi
with=$(bench_rss_stable_kib 5 "$server_pid")
held=$(server_conns)

# Close them and make sure none was dropped by the server while idle
# (idle_conns exits 3 then).
exec 7>&-
for i in $(seq 1 50); do bench_alive "$ic_pid" || break; sleep 0.1; done
rc=0
bench_alive "$ic_pid" && bench_stop "$ic_pid" 3
wait "$ic_pid" || rc=$?
ic_pid=
cat "$tmp/ic.err"
[ $rc -eq 0 ] || fail "idle_conns exited $rc (3: the server closed idle connections early)"
bench_alive "$server_pid" || { cat "$tmp/hello.log" >&2; fail "hello died"; }

per=$(( (with - before) * 1024 / n ))
echo "idle_memory: hello --workers 2: VmRSS $before KiB -> $with KiB with $n idle connections ($held held by the server) = $per bytes per connection (limit $limit_bytes)"
[ "$held" -eq "$n" ] || fail "the server held $held connections, expected $n"
[ "$per" -le "$limit_bytes" ] || fail "$per bytes per idle connection > $limit_bytes"
echo "PASS: idle_memory"
