#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/idle_memory.sh: a benchmark, not a test. Memory per idle keep-alive
# connection, for hcs (examples/hello) and, for comparison, Debian's nginx
# serving the same response. For each server and worker count it warms the
# server up with a few requests, reads its VmRSS (/proc/PID/status; for
# nginx the master plus its workers) once it has been stable for 500 ms,
# opens N connections with bench/idle_conns (each serves one `GET /`, then
# stays idle), reads VmRSS again, closes them, and reports
# (RSS_with - RSS_before) / N in bytes. The held phase lasts a few seconds,
# well inside both servers' 60 s keep-alive timeout. Kernel socket memory
# is not in RSS and is not counted.
#
# Run from anywhere in the repository:
#   bench/idle_memory.sh                  # N=10000; 1 worker, then the default
#   bench/idle_memory.sh -n 5000 -w "1 2 4"
# Options (or environment):
#   -n N   IDLE_CONNS          connections (default 10000; at most ~19000)
#   -w L   IDLE_WORKERS        worker counts to try; "default" runs hello
#                              without --workers (one per core) and nginx
#                              with one per core (default "1 default")
#   -s K   IDLE_SOURCES        source addresses 127.0.0.1..127.0.0.K (default 4)
#   --no-build                 skip `scripts/deps bench` and `make build`
#   HCS_HELLO=PATH             server binary instead of build/examples/hello
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
source bench/lib.sh

n=${IDLE_CONNS:-10000}
worker_list=${IDLE_WORKERS:-1 default}
sources=${IDLE_SOURCES:-4}
build=1
hello=${HCS_HELLO:-$root/build/examples/hello}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; shift 2 ;;
    -w) worker_list=$2; shift 2 ;;
    -s) sources=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    *) echo "bench/idle_memory.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench/idle_memory.sh: -n must be a positive integer" >&2; exit 2; }
for w in $worker_list; do
  [[ $w =~ ^([1-9][0-9]*|default)$ ]] || { echo "bench/idle_memory.sh: bad worker count '$w'" >&2; exit 2; }
done

if [ $build -eq 1 ]; then
  scripts/deps bench
  make build
fi
command -v nginx >/dev/null || { echo "bench/idle_memory.sh: nginx missing; run scripts/deps bench" >&2; exit 1; }
[ -x "$hello" ] || { echo "bench/idle_memory.sh: $hello not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-bench-idle.XXXXXX")
NGINX_PID=
server_pid=
ic_pid=
cleanup() {
  exec 7>&-
  bench_stop "$ic_pid" 5
  bench_stop "$server_pid" 10
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

${CC:-cc} -O2 -Wall -Wextra -o "$tmp/idle_conns" bench/idle_conns.c

# Server-side sockets of PORT other than the listeners: connections the
# server still holds (including ones it has not yet closed after the peer).
server_conns() {
  ss -Htn "sport = :$1" | awk '$1 != "LISTEN" && $1 != "TIME-WAIT"' | wc -l
}

# measure SERVER WORKERS: one row of the table.
measure() {
  local server=$1 w=$2 port pids before with after rc per held i label
  port=$(bench_free_port)
  if [ "$server" = hcs ]; then
    local args=(--host 127.0.0.1 --port "$port")
    [ "$w" = default ] || args+=(--workers "$w")
    "$hello" "${args[@]}" >"$tmp/hello.log" 2>&1 </dev/null &
    server_pid=$!
    bench_wait_listen "$port" "$server_pid" 10 || { cat "$tmp/hello.log" >&2; return 1; }
  else
    local nw=$w
    [ "$w" = default ] && nw=$(nproc)
    rm -rf "$tmp/nginx"
    bench_nginx_start "$tmp/nginx" "$port" "$nw"
    server_pid=$NGINX_PID
  fi
  label=$w
  [ "$w" = default ] && label="default ($(nproc))"

  # Warm-up: a few connections with one request each, closed at once, so
  # that code, per-worker pools and the allocator's arenas are in place.
  for i in 1 2; do
    "$tmp/idle_conns" -n 32 -s "$sources" -t 10 127.0.0.1 "$port" </dev/null >/dev/null 2>"$tmp/ic.err" ||
      { echo "bench/idle_memory.sh: warm-up against $server failed:" >&2; cat "$tmp/ic.err" >&2; return 1; }
  done
  for i in $(seq 1 50); do
    [ "$(server_conns "$port")" -eq 0 ] && break
    sleep 0.1
  done
  # shellcheck disable=SC2046 # one PID per word
  pids=$(bench_tree_pids "$server_pid" | tr '\n' ' ')
  # shellcheck disable=SC2086
  before=$(bench_rss_stable_kib 3 $pids)

  rm -f "$tmp/in" "$tmp/ic.out"
  mkfifo "$tmp/in"
  "$tmp/idle_conns" -n "$n" -s "$sources" -t 30 -w 40 127.0.0.1 "$port" \
    <"$tmp/in" >"$tmp/ic.out" 2>"$tmp/ic.err" &
  ic_pid=$!
  exec 7>"$tmp/in"
  for i in $(seq 1 400); do
    grep -q '^ready' "$tmp/ic.out" 2>/dev/null && break
    bench_alive "$ic_pid" || break
    sleep 0.1
  done
  if ! grep -q '^ready' "$tmp/ic.out" 2>/dev/null; then
    echo "bench/idle_memory.sh: $server ($label workers) did not take $n idle connections:" >&2
    cat "$tmp/ic.err" >&2
    return 1
  fi
  # shellcheck disable=SC2086
  with=$(bench_rss_stable_kib 5 $pids)
  held=$(server_conns "$port")
  exec 7>&-
  for i in $(seq 1 100); do bench_alive "$ic_pid" || break; sleep 0.1; done
  rc=0
  bench_alive "$ic_pid" && bench_stop "$ic_pid" 5
  wait "$ic_pid" || rc=$?
  ic_pid=
  [ $rc -eq 0 ] || { echo "bench/idle_memory.sh: idle_conns exited $rc against $server:" >&2; cat "$tmp/ic.err" >&2; }
  for i in $(seq 1 50); do
    [ "$(server_conns "$port")" -eq 0 ] && break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  after=$(bench_rss_stable_kib 3 $pids)
  bench_stop "$server_pid" 10
  server_pid=

  per=$(( (with - before) * 1024 / n ))
  rows+=("| $server | $label | $n | $held | $before | $with | **$per** | $after |")
  echo "bench/idle_memory.sh: $server, $label workers: $before -> $with KiB with $n idle ($per B each), $after KiB after closing" >&2
}

rows=()
for w in $worker_list; do
  measure hcs "$w"
  measure nginx "$w"
done

rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
echo
echo "## Memory per idle keep-alive connection (VmRSS growth / N)"
echo
echo "- hcs $rev (\`$(basename "$hello")\`), $(nginx -v 2>&1 | sed 's/^nginx version: //') (same response; access_log off; worker_connections 19000)"
echo "- each connection served one \`GET /\` first, from 127.0.0.1..127.0.0.$sources; RSS read once stable for 500 ms; nginx RSS is master + workers"
echo "- \"held\" counts the server's established sockets while measuring (ss); kernel socket buffers are not in RSS"
echo
echo "| server | workers | N | held | RSS before KiB | RSS with N idle KiB | bytes / idle conn | RSS after close KiB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
