#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Graceful shutdown of a real server binary on signals: start
# examples/hello on a free loopback port, open a slow streaming request
# (GET /count) and send SIGTERM; then again with an idle keep-alive
# connection and SIGINT. Each time hello must exit with status 0 (so also
# without sanitizer reports) within its shutdown deadline (10 s, the default)
# plus a margin, close the client connections, and stop listening.
# Run by ctest with HCS_BINARY_DIR set to the build directory.
set -euo pipefail

: "${HCS_BINARY_DIR:?}"
hello="$HCS_BINARY_DIR/examples/hello"
[ -x "$hello" ] || { echo "FAIL: $hello is not built"; exit 1; }

tmp=$(mktemp -d)
pid=""
cpid=""
cleanup() {
  for p in $pid $cpid; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  exec 3>&- 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  if [ -s "$tmp/log" ]; then sed 's/^/  hello: /' "$tmp/log"; fi
  exit 1
}

# True while the process exists and is not a zombie waiting to be reaped.
running() {
  [ -r "/proc/$1/stat" ] || return 1
  local state
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

# wait_exit PID SECONDS: wait (bounded) for PID to end; sets $status.
wait_exit() {
  local p=$1 limit=$2 i
  for ((i = 0; i < limit * 10; i++)); do
    if ! running "$p"; then
      set +e
      wait "$p"
      status=$?
      set -e
      return 0
    fi
    sleep 0.1
  done
  return 1
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# shellcheck source=tests/support/server.sh
source "$HCS_SOURCE_DIR/tests/support/server.sh"

# start_hello: start hello on an ephemeral port; sets $pid and $port.
start_hello() {
  start_server "$tmp/log" "$hello" --workers 2 || fail "hello did not start"
  pid=$server_pid
  port=$server_port
}

deadline=20 # hello's shutdown deadline (10 s) plus a margin

# ---- SIGTERM with an open streaming response --------------------------------
start_hello
# A slow reader keeps the stream open (about 7 MB at 100 kB/s).
curl -q -s -N --noproxy '*' --max-time 60 --limit-rate 100k \
  -o "$tmp/stream" "http://127.0.0.1:$port/count?n=1000000" &
cpid=$!
for i in $(seq 1 100); do
  [ -s "$tmp/stream" ] && break
  sleep 0.1
done
[ -s "$tmp/stream" ] || fail "no streamed bytes arrived"
running "$cpid" || fail "the stream ended before the signal"
kill -TERM "$pid"
wait_exit "$pid" "$deadline" || fail "hello still running ${deadline}s after SIGTERM"
[ "$status" -eq 0 ] || fail "hello exited with status $status after SIGTERM"
pid=""
# The stream's connection is closed too, so curl ends.
wait_exit "$cpid" 10 || fail "curl still running after hello exited"
cpid=""
head -c 6 "$tmp/stream" | cmp -s - <(printf '1\n2\n3\n') ||
  fail "unexpected stream start: $(head -c 20 "$tmp/stream" | od -c | head -2)"
! port_open "$port" || fail "port $port still accepts after exit"
echo "ok: SIGTERM with a streaming response"

# ---- SIGINT with an idle keep-alive connection ------------------------------
start_hello
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.1\r\nHost: t\r\n\r\n' >&3
got=""
while IFS= read -r -t 5 line <&3; do
  if [ "$line" = "Hello, world!" ]; then
    got=yes
    break
  fi
done
[ -n "$got" ] || fail "no response on the keep-alive connection"
kill -INT "$pid"
wait_exit "$pid" "$deadline" || fail "hello still running ${deadline}s after SIGINT"
[ "$status" -eq 0 ] || fail "hello exited with status $status after SIGINT"
pid=""
# The idle connection was closed by the server: reading ends (EOF or reset)
# instead of timing out.
set +e
timeout 5 cat <&3 >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -ne 124 ] || fail "the keep-alive connection stayed open"
exec 3>&-
! port_open "$port" || fail "port $port still accepts after exit"
echo "ok: SIGINT with an idle keep-alive connection"

# ---- SIGTERM with nothing open ----------------------------------------------
start_hello
kill -TERM "$pid"
wait_exit "$pid" "$deadline" || fail "idle hello still running ${deadline}s after SIGTERM"
[ "$status" -eq 0 ] || fail "idle hello exited with status $status"
pid=""
echo "ok: SIGTERM while idle"
