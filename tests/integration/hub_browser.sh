#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/hub_browser.sh: the hub's dashboard and EventSource in a
# real browser. Starts tools/hcs-hub in development mode (--dev) on an
# ephemeral loopback port and runs tests/browser/dashboard.spec.mjs, which
# drives Debian's Chromium (/usr/bin/chromium, never a downloaded browser)
# with playwright-core from tests/node and checks: the dashboard and its
# counters, an update published with curl in the live feed within a second,
# the publish form (custom and generated ids, private, a refused token), an
# exact selector, and an EventSource in the page receiving multi-line,
# non-ASCII and 1 MiB data exactly. It saves $HCS_BINARY_DIR/hub-dashboard.png
# (and -dark.png, -mobile.png beside it). Then the hub must exit 0 on SIGTERM.
#
# scripts/deps installs chromium, and playwright-core with npm ci. When
# chromium is still missing this script tries to install it; only if that
# fails does it print SKIP and exit 0.
#
# ctest runs it with HCS_BINARY_DIR and HCS_SOURCE_DIR set; by hand, after
# `make build`:
#   HCS_BINARY_DIR=build HCS_SOURCE_DIR=. bash tests/integration/hub_browser.sh
# Every wait is bounded and the hub is stopped on every path.
set -euo pipefail

: "${HCS_BINARY_DIR:?}" "${HCS_SOURCE_DIR:?}"
hub_bin=$HCS_BINARY_DIR/tools/hcs-hub/hcs-hub
spec=$HCS_SOURCE_DIR/tests/browser/dashboard.spec.mjs
nodedir=$HCS_SOURCE_DIR/tests/node
chromium=${CHROMIUM:-/usr/bin/chromium}
shot=$HCS_BINARY_DIR/hub-dashboard.png

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-test-browser.XXXXXX")
hub_pid=""

fail() {
  echo "FAIL: hub_browser: $*"
  # The hub's own messages, without its access log.
  if [ -s "$tmp/hub.log" ]; then
    grep -v '^127\.0\.0\.1 - - ' "$tmp/hub.log" | tail -n 40 | sed 's|^|  hub: |'
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
command -v curl >/dev/null || fail "curl is not installed (scripts/deps installs it)"
[ -f "$nodedir/node_modules/playwright-core/package.json" ] ||
  fail "tests/node/node_modules/playwright-core is missing: run scripts/deps (it runs npm ci there)"

# Chromium: Debian's package. scripts/deps installs it; try once more here
# (as root, or with password-less sudo), and skip loudly only if that fails.
if [ ! -x "$chromium" ]; then
  echo "hub_browser: $chromium is missing; installing Debian's chromium package" >&2
  can=yes
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n); else can=no; fi
  fi
  if [ $can = yes ]; then
    (export DEBIAN_FRONTEND=noninteractive
     timeout 120 "${sudo[@]}" apt-get update -qq &&
       timeout 240 "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium) \
      >"$tmp/apt.log" 2>&1 || true
  else
    echo "not root and no password-less sudo" >"$tmp/apt.log"
  fi
  if [ ! -x "$chromium" ]; then
    echo "SKIP: hub_browser: Chromium ($chromium) is not installed and could not be installed:"
    tail -n 5 "$tmp/apt.log" | sed 's|^|  apt: |'
    echo "SKIP: hub_browser: install Debian's chromium package (scripts/deps does) to run the browser tests"
    exit 0
  fi
fi

# Start the hub; it prints "hcs-hub: listening on http://127.0.0.1:PORT/"
# once it accepts connections. The pid is kept at once, so that cleanup stops
# a hub that never says it listens.
"$hub_bin" --dev --listen 127.0.0.1:0 2>"$tmp/hub.log" &
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
timeout -k 5 200 env CHROMIUM="$chromium" node "$spec" "http://127.0.0.1:$port" "$shot" || rc=$?
if [ $rc -ne 0 ] && ! kill -0 "$hub_pid" 2>/dev/null; then
  hub_status=0
  wait "$hub_pid" || hub_status=$?
  hub_pid=""
  fail "the browser test failed (exit $rc): the hub died (status $hub_status)"
fi
[ $rc -ne 124 ] || fail "the browser test timed out"
[ $rc -eq 0 ] || fail "the browser test failed (exit $rc)"
[ -s "$shot" ] || fail "no screenshot at $shot"

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
echo "PASS: hub_browser (screenshot: $shot)"
