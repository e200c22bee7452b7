#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make install` gives a usable library: install the build into a temporary
# prefix, build examples/hello.c against it with pkg-config alone, run the
# binary and fetch a page from it with curl.
set -euo pipefail

: "${HCS_BINARY_DIR:?}" "${HCS_SOURCE_DIR:?}"
cc=${CC:-cc}
tmp=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

cmake --install "$HCS_BINARY_DIR" --prefix "$tmp/prefix" >/dev/null
libdir=$(find "$tmp/prefix" -name hcs.pc -printf '%h\n' | head -n1)
[ -n "$libdir" ] || { echo "FAIL: hcs.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$libdir"
test -f "$tmp/prefix/include/hcs/hcs.h" || { echo "FAIL: headers missing"; exit 1; }

flags=()
[ -n "${HCS_SANITIZE:-}" ] && flags+=(-fsanitize=address,undefined)
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "${flags[@]}" \
  "$HCS_SOURCE_DIR/examples/hello.c" -o "$tmp/hello" \
  $(pkg-config --cflags --libs hcs) -Wl,-rpath,"$(pkg-config --variable=libdir hcs)"

# Start the installed-library binary on an ephemeral port, and talk to it.
# shellcheck source=tests/support/server.sh
source "$HCS_SOURCE_DIR/tests/support/server.sh"
start_server "$tmp/log" "$tmp/hello" --workers 1 || exit 1
pid=$server_pid
port=$server_port
body=""
for _ in $(seq 1 100); do
  body=$(curl -s --max-time 2 "http://127.0.0.1:$port/" || true)
  [ -n "$body" ] && break
  sleep 0.05
done
if [ "$body" != "Hello, world!" ]; then
  echo "FAIL: expected 'Hello, world!', got '$body'"; cat "$tmp/log"; exit 1
fi
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status after SIGTERM"; exit 1; }
echo "ok: the installed library built the example, which served a page and exited 0"
