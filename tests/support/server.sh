# SPDX-License-Identifier: MIT
# tests/support/server.sh: start a server on an ephemeral loopback port for
# shell tests. Source it, then:
#   start_server LOG BINARY [ARGS...]
# runs `BINARY --host 127.0.0.1 --port 0 ARGS...` with stderr to LOG, waits
# (at most 10 s) for its "listening on http://127.0.0.1:PORT/" line, and sets
# $server_pid and $server_port. Returns 1 (after printing the log) if the
# server exits or never says it listens. The kernel picks the port, so two
# tests never race for one.
#   start_hub LOG BINARY [ARGS...]
# the same for hcs-hub, which takes its address as one flag: runs
# `BINARY --listen 127.0.0.1:0 ARGS...` with stderr and stdout (its access
# log) to LOG.
#   alive PID; stop PID SECONDS
# whether a process lives; stop it with SIGTERM (SIGKILL after SECONDS),
# its exit status in $status.

# wait_listening LOG BINARY: the common wait of both, on $server_pid.
wait_listening() {
  local log=$1 bin=$2 i line
  server_port=""
  for i in $(seq 1 200); do
    line=$(grep -m1 -o 'listening on http://127\.0\.0\.1:[0-9]*' "$log" 2>/dev/null || true)
    if [ -n "$line" ]; then
      server_port=${line##*:}
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "start_server: $bin did not start listening; its log:" >&2
  cat "$log" >&2
  return 1
}

start_server() {
  local log=$1 bin=$2
  shift 2
  "$bin" --host 127.0.0.1 --port 0 "$@" 2>"$log" &
  server_pid=$!
  wait_listening "$log" "$bin"
}

start_hub() {
  local log=$1 bin=$2
  shift 2
  "$bin" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  server_pid=$!
  wait_listening "$log" "$bin"
}

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop PID SECONDS: SIGTERM, wait up to SECONDS for the exit; sets $status
# (124 if it had to be killed).
stop() {
  local p=$1 secs=$2 i
  status=0
  kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    alive "$p" || break
    sleep 0.1
  done
  if alive "$p"; then
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    status=124
    return
  fi
  wait "$p" || status=$?
}
