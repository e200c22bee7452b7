#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/sse_stream.sh: a benchmark, not a test. Single-connection SSE
# streaming rate: bench/sse_stream_server (hcs, one worker by default) sends
# N data-only events of S bytes as fast as one loopback connection takes
# them, and curl reads the whole stream (`curl -N -s -o /dev/null`), timed by
# curl's time_total. Two sources per size: `events` (hcs_sse_respond with a
# generator; the library formats and copies each event) and `raw`
# (hcs_sse_respond_raw handing out references to one preformatted buffer).
# Sizes 16 B and 1 KiB by default. Every run checks status 200 and the exact
# byte count (N * (S + 8): "data: ", S bytes, LF, LF; chunk framing is not
# counted). Rounds interleave the cases, rotating which goes first; the
# script prints a Markdown table of medians with the range, plus the CPU
# used by the server (utime+stime from /proc) and by curl (/usr/bin/time)
# as a share of the run's wall time, which shows which side is the limit.
# There is no peer server: nothing in the comparison set generates SSE the
# same way, so these are hcs's own numbers only. Server and curl share the
# machine's cores.
#
# Run from anywhere in the repository:
#   bench/sse_stream.sh                 # 5 rounds; 20M x 16 B, 1M x 1 KiB
#   bench/sse_stream.sh -r 3 --no-build
# Options (or environment):
#   -r N   SSE_ROUNDS     rounds (default 5)
#   -s L   SSE_SIZES      event data sizes in bytes, 0..65536 (default "16 1024")
#   -m L   SSE_MODES      sources: "events raw" (default both)
#   -n N   SSE_EVENTS     events per run, 1..100000000 (default 20000000 for
#                         sizes below 1024 bytes, 1000000 from 1024 up)
#   -w N   SSE_WORKERS    server workers (default 1: one core for the server,
#                         one for curl)
#   --no-build            skip `scripts/deps bench` and `make build`
#   HCS_SSE_SERVER=PATH   server binary instead of build/bench/sse_stream_server
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
source bench/lib.sh

rounds=${SSE_ROUNDS:-5}
sizes=${SSE_SIZES:-16 1024}
modes=${SSE_MODES:-events raw}
events=${SSE_EVENTS:-}
workers=${SSE_WORKERS:-1}
build=1
server=${HCS_SSE_SERVER:-$root/build/bench/sse_stream_server}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    -r) rounds=$2; shift 2 ;;
    -s) sizes=$2; shift 2 ;;
    -m) modes=$2; shift 2 ;;
    -n) events=$2; shift 2 ;;
    -w) workers=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    *) echo "bench/sse_stream.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
for v in rounds workers; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench/sse_stream.sh: $v must be a positive integer" >&2; exit 2; }
done
[ -z "$events" ] || { [[ $events =~ ^[1-9][0-9]*$ ]] && [ "$events" -le 100000000 ]; } ||
  { echo "bench/sse_stream.sh: -n must be 1..100000000" >&2; exit 2; }
for s in $sizes; do
  if ! [[ $s =~ ^[0-9]+$ ]] || [ "$s" -gt 65536 ]; then
    echo "bench/sse_stream.sh: sizes are 0..65536, got '$s'" >&2; exit 2
  fi
done
for m in $modes; do
  [[ $m =~ ^(events|raw)$ ]] || { echo "bench/sse_stream.sh: modes are events and raw, got '$m'" >&2; exit 2; }
done

if [ $build -eq 1 ]; then
  scripts/deps bench
  make build
fi
for tool in curl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench/sse_stream.sh: $tool missing" >&2; exit 1; }
done
[ -x "$server" ] || { echo "bench/sse_stream.sh: $server not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-bench-sse.XXXXXX")
server_pid=
cleanup() {
  bench_stop "$server_pid" 10
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(bench_free_port)
"$server" --host 127.0.0.1 --port "$port" --workers "$workers" \
  >"$tmp/server.log" 2>&1 </dev/null &
server_pid=$!
bench_wait_listen "$port" "$server_pid" 10 || { cat "$tmp/server.log" >&2; exit 1; }

# Events per run for data size S (-n, or the default for the size).
events_for() {
  if [ -n "$events" ]; then echo "$events"
  elif [ "$1" -ge 1024 ]; then echo 1000000
  else echo 20000000; fi
}

tck=$(getconf CLK_TCK)
# utime + stime of the server (all its threads), in clock ticks.
server_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }

# run_one MODE SIZE N OUT: one timed stream; writes
# "events_per_s MB_per_s server_cpu_pct curl_cpu_pct" to OUT.
run_one() {
  local mode=$1 size=$2 n=$3 out=$4 t0 t1 got code dl secs
  local url="http://127.0.0.1:$port/$mode?n=$n&size=$size"
  local want=$(( n * (size + 8) ))
  t0=$(server_ticks)
  # Bounded: a stalled stream fails the run after 120 s.
  got=$(/usr/bin/time -f '%U %S' -o "$tmp/curl.time" \
    curl -sS -N --max-time 120 -o /dev/null \
    -w '%{http_code} %{size_download} %{time_total}' "$url") ||
    { echo "bench/sse_stream.sh: curl $url failed: $got" >&2; return 1; }
  t1=$(server_ticks)
  read -r code dl secs <<<"$got"
  if [ "$code" != 200 ] || [ "$dl" != "$want" ]; then
    echo "bench/sse_stream.sh: $url gave status $code and $dl bytes, want 200 and $want" >&2
    cat "$tmp/server.log" >&2
    return 1
  fi
  bench_alive "$server_pid" || { echo "bench/sse_stream.sh: the server died" >&2; cat "$tmp/server.log" >&2; return 1; }
  awk -v n="$n" -v b="$want" -v s="$secs" -v st=$((t1 - t0)) -v tck="$tck" \
    -v ct="$(tail -n 1 "$tmp/curl.time")" 'BEGIN {
      split(ct, c, " ");
      printf "%.0f %.1f %.0f %.0f\n", n / s, b / s / 1e6,
        100 * st / tck / s, 100 * (c[1] + c[2]) / s }' >"$out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
  if (NR % 2) printf "%s", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cases=()
for s in $sizes; do
  for m in $modes; do cases+=("$m:$s"); done
done

echo "bench/sse_stream.sh: server on 127.0.0.1:$port, $workers worker(s), $rounds rounds" >&2
for c in "${cases[@]}"; do
  m=${c%%:*} s=${c##*:}
  n=$(events_for "$s")
  w=$(( n / 20 )); [ "$w" -ge 1 ] || w=1
  echo "bench/sse_stream.sh: warm-up, $m, $s B x $w" >&2
  run_one "$m" "$s" "$w" "$tmp/warmup"
done

declare -A res
nc=${#cases[@]}
for r in $(seq 1 "$rounds"); do
  for k in $(seq 0 $((nc - 1))); do
    c=${cases[$(( (k + r - 1) % nc ))]}
    m=${c%%:*} s=${c##*:}
    n=$(events_for "$s")
    run_one "$m" "$s" "$n" "$tmp/run"
    res[$r,$c]=$(cat "$tmp/run")
    read -r eps mbs scpu ccpu <<<"${res[$r,$c]}"
    echo "bench/sse_stream.sh: round $r/$rounds, $m, $n x $s B: $eps events/s, $mbs MB/s, server CPU $scpu%, curl CPU $ccpu%" >&2
  done
done

rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
echo
echo "## SSE streaming, one connection, loopback"
echo
echo "- hcs $rev, \`$(basename "$server") --workers $workers\`; client \`curl -N -s -o /dev/null\` ($(curl --version | head -n 1 | cut -d' ' -f1-2))"
echo "- data-only events, one line each; wire bytes per event = data + 8; $rounds rounds, cases interleaved; medians, with the slowest and fastest run"
echo "- MB/s counts SSE wire bytes (not chunk framing), 1 MB = 10^6 bytes; CPU is user+system time over the run's wall time (100% = one core)"
echo "- machine: $(nproc) cores, shared by curl and the server; no peer server in this comparison"
echo
echo "| event data | source | events per run | events/s | MB/s | events/s range | server CPU | curl CPU |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for c in "${cases[@]}"; do
  m=${c%%:*} s=${c##*:}
  e=() b=() sc=() cc=()
  for r in $(seq 1 "$rounds"); do
    read -r eps mbs scpu ccpu <<<"${res[$r,$c]}"
    e+=("$eps") b+=("$mbs") sc+=("$scpu") cc+=("$ccpu")
  done
  lo=$(printf '%s\n' "${e[@]}" | sort -g | head -n 1)
  hi=$(printf '%s\n' "${e[@]}" | sort -g | tail -n 1)
  # shellcheck disable=SC2016 # Markdown code spans, not expansions
  if [ "$m" = events ]; then src='`hcs_sse_respond` (generator)'; else src='`hcs_sse_respond_raw` (shared buffer)'; fi
  echo "| $s B | $src | $(events_for "$s") | $(median "${e[@]}") | $(median "${b[@]}") | $lo – $hi | $(median "${sc[@]}")% | $(median "${cc[@]}")% |"
done
