#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/hub_protocol.sh: the Mercure protocol of hcs-hub
# (specs/mercure.md) over the network, seen by real clients: Node's fetch,
# plain node:http requests and the `eventsource` npm package
# (tests/node/hub_protocol.mjs holds the protocol cases).
#
# Here: the command line (--help exits 0; an unknown flag, a bad value, or
# no key outside --dev exit 2 with a message), then three hubs on ephemeral
# loopback ports:
#   A  --dev (HS256 development key, anonymous subscribers) with CORS and
#      cookie-publish origins and a 64 KiB body limit: most cases;
#   B  --jwt-key SECRET without --dev: anonymous subscribers refused;
#      --heartbeat 0.5;
#   R  --jwt-alg RS256 --jwt-key @pub.pem (a fresh 2048-bit key pair).
# The node script gets their URLs and the keys, runs every case (selectors,
# private updates, token transports, bad tokens, malformed publishes, ids,
# event fields, reconciliation, token expiry, CORS, /metrics, /hub/stats)
# and prints "ok: <case>" or "FAIL: <case>: <what was sent, expected, got>".
# Last, each hub must exit 0 on SIGTERM (no crash, no sanitizer report).
#
# ctest runs it with HCS_BINARY_DIR and HCS_SOURCE_DIR set; by hand:
#   HCS_BINARY_DIR=build HCS_SOURCE_DIR=. bash tests/integration/hub_protocol.sh
# HUB_CASES=REGEX runs only the node cases whose name matches. Every wait is
# bounded and every hub is stopped on every path.
set -euo pipefail

: "${HCS_BINARY_DIR:?}" "${HCS_SOURCE_DIR:?}"
hub_bin=$HCS_BINARY_DIR/tools/hcs-hub/hcs-hub
nodedir=$HCS_SOURCE_DIR/tests/node
failures=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-test-hub.XXXXXX")
pids=()
declare -A hub_pid hub_port

ok() { echo "ok: $*"; }
bad() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
# Fatal: print the hubs' logs and stop.
die() {
  echo "FAIL: hub_protocol: $*"
  local f
  for f in "$tmp"/*.log; do
    if [ -s "$f" ]; then tail -n 40 "$f" | sed "s|^|  $(basename "$f" .log): |"; fi
  done
  exit 1
}

[ -x "$hub_bin" ] || die "$hub_bin is not built"
command -v node >/dev/null || die "node is not installed (scripts/deps installs nodejs and npm)"
[ -f "$nodedir/node_modules/eventsource/package.json" ] ||
  die "tests/node/node_modules is missing: run scripts/deps (it runs npm ci there)"
command -v openssl >/dev/null || die "the openssl command is missing (for the RS256 key pair)"

cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the command line ------------------------------------------------------

# config_case NAME WANT_RC GREP_REGEX ARGS...: run the hub (bounded: one that
# starts serving by mistake is killed after 5 s) and check its exit status and
# that its output (stdout + stderr) matches GREP_REGEX.
config_case() {
  local name=$1 want=$2 re=$3 rc=0
  shift 3
  env -u HCS_HUB_JWT_KEY -u HCS_HUB_DEV timeout -k 2 5 "$hub_bin" "$@" >"$tmp/cfg.out" 2>&1 || rc=$?
  if [ "$rc" -ne "$want" ]; then
    bad "config: $name: hcs-hub $* exited $rc, expected $want; output: $(head -c 300 "$tmp/cfg.out")"
  elif ! grep -Eq -- "$re" "$tmp/cfg.out"; then
    bad "config: $name: hcs-hub $* exited $rc but its output does not match /$re/: $(head -c 300 "$tmp/cfg.out")"
  else
    ok "config: $name"
  fi
}
config_case "--help exits 0 with the usage" 0 '^usage: hcs-hub' --help
config_case "an unknown flag exits 2 naming it" 2 'unknown option.*--no-such-flag' --no-such-flag
config_case "a flag without its value exits 2" 2 '--jwt-key.*value' --jwt-key
config_case "--jwt-alg HS512 exits 2" 2 'jwt-alg' --dev --jwt-alg HS512 --listen 127.0.0.1:0
config_case "--listen without a port exits 2" 2 'listen' --dev --listen 127.0.0.1
config_case "no key outside --dev exits 2" 2 'key' --listen 127.0.0.1:0
config_case "--anonymous on without any key exits 2" 2 'key' --anonymous on --listen 127.0.0.1:0
config_case "an RS256 key that is not a PEM exits 2" 2 'key' --jwt-alg RS256 --jwt-key not-a-pem --listen 127.0.0.1:0
config_case "an unreadable key file exits 2" 2 'key' --jwt-key @"$tmp/missing.pem" --listen 127.0.0.1:0

# ---- three hubs ---------------------------------------------------------------

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.pem" 2>/dev/null ||
  die "openssl genpkey failed"
openssl pkey -in "$tmp/rsa.pem" -pubout -out "$tmp/rsa.pub.pem" 2>/dev/null ||
  die "openssl pkey -pubout failed"
secret_b="hub-protocol-test-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

# shellcheck source=tests/support/server.sh
source "$HCS_SOURCE_DIR/tests/support/server.sh"
# start NAME ARGS...: start a hub, keep its pid even when it fails (cleanup
# must stop it), set hub_pid[NAME] and hub_port[NAME].
start() {
  local name=$1 rc=0
  shift
  start_hub "$tmp/hub_$name.log" "$hub_bin" --workers 2 "$@" || rc=$?
  pids+=("$server_pid")
  hub_pid[$name]=$server_pid
  [ $rc -eq 0 ] || die "hub $name ($*) did not start"
  hub_port[$name]=$server_port
}
start A --dev --cors-origins http://a.example --publish-origins http://pub.example \
  --max-body 65536 --history 1000
start B --jwt-key "$secret_b" --heartbeat 0.5
start R --jwt-alg RS256 --jwt-key @"$tmp/rsa.pub.pem"

rc=0
HUB_A="http://127.0.0.1:${hub_port[A]}" HUB_B="http://127.0.0.1:${hub_port[B]}" \
  HUB_R="http://127.0.0.1:${hub_port[R]}" \
  HUB_B_KEY="$secret_b" HUB_RSA_KEY="$tmp/rsa.pem" \
  timeout -k 5 110 node "$nodedir/hub_protocol.mjs" || rc=$?
if [ $rc -eq 124 ]; then
  bad "hub_protocol.mjs timed out (110 s)"
elif [ $rc -ne 0 ]; then
  bad "hub_protocol.mjs reported failures (exit $rc; see the FAIL lines above)"
fi

# ---- shutdown -------------------------------------------------------------------

for name in A B R; do
  stop "${hub_pid[$name]}" 10
  if [ "$status" -ne 0 ]; then
    bad "shutdown: hub $name: SIGTERM -> exit status $status, expected 0 (log tail:" \
      "$(grep -v '^[0-9.]* - - ' "$tmp/hub_$name.log" | tail -n 5 | tr '\n' '|'))"
  else
    ok "shutdown: hub $name exits 0 on SIGTERM"
  fi
  if grep -q 'Sanitizer' "$tmp/hub_$name.log"; then
    bad "hub $name: sanitizer report:"
    grep -A 30 'Sanitizer' "$tmp/hub_$name.log" | head -n 40 | sed 's/^/  /'
  fi
done

if [ "$failures" -ne 0 ]; then
  for name in A B R; do # what the hubs said, without the access log
    grep -v '^[0-9.]* - - \[' "$tmp/hub_$name.log" | grep -v '^ ' | tail -n 15 | sed "s|^|  hub $name: |"
  done
  echo "FAIL: hub_protocol: $failures failure(s)"
  exit 1
fi
echo "PASS: hub_protocol"
