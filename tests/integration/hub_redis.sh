#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/hub_redis.sh: hcs-hub scaled out on Redis
# (--transport redis://...): two hubs on ephemeral loopback ports share one
# redis-server that this test starts on a free loopback port (found by
# trying: redis-server has no "port 0") with a temporary directory and no
# persistence (--save '' --appendonly no).
#
# Here: the command line (Redis unreachable at start: exit 2 naming the
# address and the cause; rediss:// refused with exit 2 and a message about
# TLS), then the two hubs and tests/node/hub_redis.mjs, which runs the cases
# (order across hubs, private updates and selectors, Last-Event-ID replay on
# the other hub while publishing goes on, and redis-server killed and
# restarted during a publishing loop), then each hub must exit 0 on SIGTERM
# with no sanitizer report in its log (under the ASan build: clean through
# the reconnects).
#
# ctest runs it with HCS_BINARY_DIR and HCS_SOURCE_DIR set; by hand:
#   HCS_BINARY_DIR=build HCS_SOURCE_DIR=. bash tests/integration/hub_redis.sh
# HUB_CASES=REGEX runs only the node cases whose name matches. Every wait is
# bounded; the hubs and redis-server are stopped on every path.
set -euo pipefail

: "${HCS_BINARY_DIR:?}" "${HCS_SOURCE_DIR:?}"
# shellcheck source=tests/support/server.sh
source "$HCS_SOURCE_DIR/tests/support/server.sh" # alive, stop
hub_bin=$HCS_BINARY_DIR/tools/hcs-hub/hcs-hub
nodedir=$HCS_SOURCE_DIR/tests/node
failures=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-test-hub-redis.XXXXXX")
pids=()
declare -A hub_pid hub_port

ok() { echo "ok: $*"; }
bad() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
die() {
  echo "FAIL: hub_redis: $*"
  local f
  for f in "$tmp"/*.log "$tmp"/redis/*.log; do
    if [ -s "$f" ]; then tail -n 30 "$f" | sed "s|^|  $(basename "$f" .log): |"; fi
  done
  exit 1
}

[ -x "$hub_bin" ] || die "$hub_bin is not built"
command -v redis-server >/dev/null || die "redis-server is not installed (scripts/deps installs it)"
command -v redis-cli >/dev/null || die "redis-cli is not installed (it comes with redis-server)"
command -v node >/dev/null || die "node is not installed (scripts/deps installs nodejs and npm)"
[ -f "$nodedir/node_modules/eventsource/package.json" ] ||
  die "tests/node/node_modules is missing: run scripts/deps (it runs npm ci there)"

redis_pidfile=$tmp/redis/pid
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # The redis-server running now: ours, or the one the node script restarted.
  if [ -s "$redis_pidfile" ]; then
    kill -KILL "$(cat "$redis_pidfile")" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A TCP port in 20000..59999 nothing listens on (racy: the caller retries).
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( (RANDOM * 32768 + RANDOM) % 40000 + 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# ---- redis-server ------------------------------------------------------------

mkdir -p "$tmp/redis"
redis_port=""
for try in 1 2 3 4 5; do
  p=$(free_port) || die "no free port"
  redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp/redis" >>"$tmp/redis/redis.log" 2>&1 &
  rpid=$!
  disown "$rpid" # stopped through the pid file (the node script restarts it)
  echo "$rpid" >"$redis_pidfile"
  for i in $(seq 1 50); do
    if redis-cli -p "$p" ping 2>/dev/null | grep -q PONG; then
      redis_port=$p
      break
    fi
    alive "$rpid" || break
    sleep 0.1
  done
  [ -n "$redis_port" ] && break
  kill -KILL "$rpid" 2>/dev/null || true
done
[ -n "$redis_port" ] || die "redis-server did not start (5 ports tried)"
ok "redis-server on 127.0.0.1:$redis_port"
transport="redis://127.0.0.1:$redis_port/0"

# ---- the command line ---------------------------------------------------------

# config_case NAME WANT_RC GREP_REGEX ARGS...
config_case() {
  local name=$1 want=$2 re=$3 rc=0
  shift 3
  timeout -k 2 10 "$hub_bin" "$@" >"$tmp/cfg.out" 2>&1 || rc=$?
  if [ "$rc" -ne "$want" ]; then
    bad "config: $name: exited $rc, expected $want; output: $(head -c 300 "$tmp/cfg.out")"
  elif ! grep -Eq -- "$re" "$tmp/cfg.out"; then
    bad "config: $name: output does not match /$re/: $(head -c 300 "$tmp/cfg.out")"
  else
    ok "config: $name"
  fi
}
dead_port=$(free_port) || die "no free port"
config_case "Redis unreachable at start: exit 2 naming it" 2 \
  "cannot connect to Redis at 127\.0\.0\.1:$dead_port: Connection refused" \
  --dev --listen 127.0.0.1:0 --transport "redis://127.0.0.1:$dead_port"
config_case "rediss:// is refused (no TLS in hiredis 0.14)" 2 'rediss://.*TLS.*stunnel' \
  --dev --listen 127.0.0.1:0 --transport "rediss://127.0.0.1:$redis_port"
config_case "a transport that is not redis:// exits 2" 2 'transport' \
  --dev --listen 127.0.0.1:0 --transport "kafka://127.0.0.1:9092"
rc=0
HCS_HUB_TRANSPORT="redis://127.0.0.1:$dead_port" timeout -k 2 10 "$hub_bin" --dev \
  --listen 127.0.0.1:0 >"$tmp/cfg.out" 2>&1 || rc=$?
if [ "$rc" -eq 2 ] && grep -q "cannot connect to Redis at 127.0.0.1:$dead_port" "$tmp/cfg.out"; then
  ok "config: HCS_HUB_TRANSPORT is read"
else
  bad "config: HCS_HUB_TRANSPORT: exit $rc, output: $(head -c 300 "$tmp/cfg.out")"
fi

# ---- two hubs -------------------------------------------------------------------

# start NAME ARGS...: a hub on an ephemeral port; sets hub_pid/hub_port.
start() {
  local name=$1 log=$tmp/hub_$1.log i line
  shift
  "$hub_bin" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  hub_pid[$name]=$!
  pids+=("${hub_pid[$name]}")
  for i in $(seq 1 200); do
    line=$(grep -m1 -o 'listening on http://127\.0\.0\.1:[0-9]*' "$log" 2>/dev/null || true)
    if [ -n "$line" ]; then
      hub_port[$name]=${line##*:}
      return 0
    fi
    alive "${hub_pid[$name]}" || break
    sleep 0.05
  done
  die "hub $name ($*) did not start"
}
start A --dev --workers 2 --access-log off --transport "$transport"
start B --dev --workers 2 --access-log off --transport "$transport"

rc=0
HUB_A="http://127.0.0.1:${hub_port[A]}" HUB_B="http://127.0.0.1:${hub_port[B]}" \
  REDIS_PORT="$redis_port" REDIS_DIR="$tmp/redis" REDIS_PIDFILE="$redis_pidfile" \
  timeout -k 5 100 node "$nodedir/hub_redis.mjs" || rc=$?
if [ $rc -eq 124 ]; then
  bad "hub_redis.mjs timed out (100 s)"
elif [ $rc -ne 0 ]; then
  bad "hub_redis.mjs reported failures (exit $rc; see the FAIL lines above)"
fi

# ---- shutdown ----------------------------------------------------------------------

for name in A B; do
  stop "${hub_pid[$name]}" 10
  if [ "$status" -ne 0 ]; then
    bad "shutdown: hub $name: SIGTERM -> exit status $status, expected 0 (log tail:" \
      "$(tail -n 5 "$tmp/hub_$name.log" | tr '\n' '|'))"
  else
    ok "shutdown: hub $name exits 0 on SIGTERM"
  fi
  if grep -q 'Sanitizer' "$tmp/hub_$name.log"; then
    bad "hub $name: sanitizer report:"
    grep -A 30 'Sanitizer' "$tmp/hub_$name.log" | head -n 40 | sed 's/^/  /'
  fi
done
if [ "$failures" -ne 0 ]; then
  for name in A B; do
    echo "  log of hub $name (transport lines):"
    grep 'transport' "$tmp/hub_$name.log" | tail -n 15 | sed 's/^/    /' || true
  done
  echo "FAIL: hub_redis: $failures failure(s)"
  exit 1
fi
echo "PASS: hub_redis"
