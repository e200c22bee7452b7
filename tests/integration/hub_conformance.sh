#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/hub_conformance.sh: what the Mercure project's own
# conformance suite checks in a browser (specs/mercure.md §10), and more, in
# Debian's Chromium driven by playwright-core. Starts tools/hcs-hub in
# development mode (--dev: the development key, anonymous subscribers) on an
# ephemeral loopback port and runs tests/browser/conformance.mjs, which opens
# the hub's page and, in it, subscribes with EventSource and publishes with
# fetch: public updates over raw-string, URI, * and URI-template selectors,
# several topics and selectors (one delivery each), non-matching selectors;
# private updates (never to anonymous subscribers; to tokens in the
# `authorization` query parameter and the mercureAuthorization cookie whose
# claim matches, exactly or as a template, and not to others); custom and
# generated ids; Last-Event-ID replay (lastEventID=<id> and earliest); the
# error statuses (401, 403, 400) a browser sees. It prints "ok - <case>" or
# "not ok - <case>" with what was sent, expected and received.
#
# scripts/deps installs chromium, and playwright-core with npm ci. When
# chromium is still missing this script tries to install it; only if that
# fails does it print SKIP and exit 0.
#
# ctest runs it with HCS_BINARY_DIR and HCS_SOURCE_DIR set; by hand, after
# `make build`:
#   HCS_BINARY_DIR=build HCS_SOURCE_DIR=. bash tests/integration/hub_conformance.sh
# CASES=REGEX runs only the matching browser cases. Every wait is bounded and
# the hub is stopped on every path.
set -euo pipefail

: "${HCS_BINARY_DIR:?}" "${HCS_SOURCE_DIR:?}"
hub_bin=$HCS_BINARY_DIR/tools/hcs-hub/hcs-hub
spec=$HCS_SOURCE_DIR/tests/browser/conformance.mjs
nodedir=$HCS_SOURCE_DIR/tests/node
chromium=${CHROMIUM:-/usr/bin/chromium}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-test-conformance.XXXXXX")
hub_pid=""

fail() {
  echo "FAIL: hub_conformance: $*"
  if [ -s "$tmp/hub.log" ]; then
    tail -n 40 "$tmp/hub.log" | sed 's|^|  hub: |'
  fi
  if [ -s "$tmp/access.log" ]; then
    tail -n 20 "$tmp/access.log" | sed 's|^|  access: |'
  fi
  exit 1
}

cleanup() {
  if [ -n "$hub_pid" ]; then
    kill -KILL "$hub_pid" 2>/dev/null || true
    wait "$hub_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ -x "$hub_bin" ] || fail "$hub_bin is not built"
command -v node >/dev/null || fail "node is not installed (scripts/deps installs nodejs and npm)"
[ -f "$nodedir/node_modules/playwright-core/package.json" ] ||
  fail "tests/node/node_modules/playwright-core is missing: run scripts/deps (it runs npm ci there)"

# Chromium: Debian's package. scripts/deps installs it; try once more here
# (as root, or with password-less sudo), and skip loudly only if that fails.
if [ ! -x "$chromium" ]; then
  echo "hub_conformance: $chromium is missing; installing Debian's chromium package" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
  fi
  if [ "$sudo" != none ]; then
    (export DEBIAN_FRONTEND=noninteractive
     timeout 120 $sudo apt-get update -qq &&
       timeout 240 $sudo apt-get install -y -qq --no-install-recommends chromium) \
      >"$tmp/apt.log" 2>&1 || true
  else
    echo "not root and no password-less sudo" >"$tmp/apt.log"
  fi
  if [ ! -x "$chromium" ]; then
    echo "SKIP: hub_conformance: Chromium ($chromium) is not installed and could not be installed:"
    tail -n 5 "$tmp/apt.log" | sed 's|^|  apt: |'
    echo "SKIP: hub_conformance: install Debian's chromium package (scripts/deps does) to run the browser tests"
    exit 0
  fi
fi

# Start the hub; it prints "hcs-hub: listening on http://127.0.0.1:PORT/"
# once it accepts connections. The pid is kept at once, so that cleanup
# stops a hub that never says it listens.
"$hub_bin" --dev --listen 127.0.0.1:0 >"$tmp/access.log" 2>"$tmp/hub.log" &
hub_pid=$!
port=""
for _ in $(seq 1 300); do
  line=$(grep -m1 -o 'listening on http://127\.0\.0\.1:[0-9]*' "$tmp/hub.log" 2>/dev/null || true)
  if [ -n "$line" ]; then
    port=${line##*:}
    break
  fi
  kill -0 "$hub_pid" 2>/dev/null || break
  sleep 0.05
done
[ -n "$port" ] || fail "the hub did not say it listens within 15 s"

rc=0
timeout -k 5 280 env CHROMIUM="$chromium" node "$spec" "http://127.0.0.1:$port" || rc=$?
if ! kill -0 "$hub_pid" 2>/dev/null; then
  hub_status=0
  wait "$hub_pid" || hub_status=$?
  hub_pid=""
  fail "the hub died during the browser test (status $hub_status; browser test exit $rc)"
fi
[ $rc -ne 124 ] || fail "the browser test timed out"
[ $rc -eq 0 ] || fail "the browser test failed (exit $rc)"

# The hub stops cleanly on SIGTERM (under ASan: no leak, no report).
kill -TERM "$hub_pid" 2>/dev/null || true
status=124
for _ in $(seq 1 200); do
  if ! kill -0 "$hub_pid" 2>/dev/null ||
     [ "$(awk '{print $3}' "/proc/$hub_pid/stat" 2>/dev/null)" = Z ]; then
    status=0
    wait "$hub_pid" || status=$?
    break
  fi
  sleep 0.1
done
[ "$status" -ne 124 ] || fail "the hub did not exit within 20 s of SIGTERM"
hub_pid=""
[ "$status" -eq 0 ] || fail "the hub exited with status $status after SIGTERM"
echo "PASS: hub_conformance"
