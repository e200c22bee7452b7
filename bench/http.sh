#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/http.sh: a benchmark, not a test. Requests/s and p99 latency of hcs
# (examples/hello, `GET /` -> 200 text/plain "Hello, world!\n") against
# Debian's nginx serving the identical body and Content-Type, both with the
# same number of workers, keep-alive on, nginx's access log off, over
# 127.0.0.1. wrk drives each server in turn, alternating which goes first in
# each round (hcs, nginx | nginx, hcs | ...), and the script prints a Markdown
# table: each round's req/s and p99, the medians, and the median of the
# per-round hcs/nginx ratios. wrk and the servers share the machine's cores;
# both servers get the same treatment.
#
# Run from anywhere in the repository:
#   bench/http.sh                       # 2 workers, 3 rounds of wrk -t2 -c100 -d10s
#   bench/http.sh -w 1 -r 5 -d 20s      # 1 worker each, 5 rounds of 20 s
# Options (or environment):
#   -w N  BENCH_WORKERS    workers for both servers (default 2)
#   -r N  BENCH_ROUNDS     rounds (default 3)
#   -t N  WRK_THREADS      wrk threads (default 2)
#   -c N  WRK_CONNECTIONS  wrk connections (default 100)
#   -d D  WRK_DURATION     each wrk run, in seconds: 10 or 10s (default 10s)
#   -u D  WRK_WARMUP       unrecorded wrk run before the rounds (default 2s; 0: none)
#   --no-build             skip `scripts/deps bench` and `make build`
#   HCS_HELLO=PATH         server binary instead of build/examples/hello
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
source bench/lib.sh

workers=${BENCH_WORKERS:-2}
rounds=${BENCH_ROUNDS:-3}
threads=${WRK_THREADS:-2}
conns=${WRK_CONNECTIONS:-100}
duration=${WRK_DURATION:-10s}
warmup=${WRK_WARMUP:-2s}
build=1
hello=${HCS_HELLO:-$root/build/examples/hello}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    -w) workers=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    -c) conns=$2; shift 2 ;;
    -d) duration=$2; shift 2 ;;
    -u) warmup=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    *) echo "bench/http.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
for v in workers rounds threads conns; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench/http.sh: $v must be a positive integer" >&2; exit 2; }
done
seconds() { # "10" or "10s" -> 10
  [[ $1 =~ ^([0-9]+)s?$ ]] || { echo "bench/http.sh: durations are whole seconds (10 or 10s), got '$1'" >&2; exit 2; }
  echo "${BASH_REMATCH[1]}"
}
dur_s=$(seconds "$duration")
warm_s=$(seconds "$warmup")
[ "$dur_s" -ge 1 ] || { echo "bench/http.sh: duration must be at least 1s" >&2; exit 2; }

if [ $build -eq 1 ]; then
  scripts/deps bench
  make build
fi
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "bench/http.sh: $tool missing; run scripts/deps bench" >&2; exit 1; }
done
[ -x "$hello" ] || { echo "bench/http.sh: $hello not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-bench-http.XXXXXX")
NGINX_PID=
hello_pid=
cleanup() {
  bench_stop "$hello_pid" 10
  bench_stop "$NGINX_PID" 10
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- start both servers ----------------------------------------------------
nginx_port=$(bench_free_port)
bench_nginx_start "$tmp/nginx" "$nginx_port" "$workers"
hcs_port=$(bench_free_port)
"$hello" --host 127.0.0.1 --port "$hcs_port" --workers "$workers" \
  >"$tmp/hello.log" 2>&1 </dev/null &
hello_pid=$!
bench_wait_listen "$hcs_port" "$hello_pid" 10 || { cat "$tmp/hello.log" >&2; exit 1; }

port_of() { if [ "$1" = hcs ]; then echo "$hcs_port"; else echo "$nginx_port"; fi; }
pid_of() { if [ "$1" = hcs ]; then echo "$hello_pid"; else echo "$NGINX_PID"; fi; }

# Both must give the same answer, or the comparison means nothing.
sizes=()
for s in hcs nginx; do
  url="http://127.0.0.1:$(port_of $s)/"
  got=$(curl -sS --max-time 5 -o "$tmp/body-$s" \
    -w '%{http_code} %{content_type} %{size_header}+%{size_download}' "$url") ||
    { echo "bench/http.sh: GET $url failed" >&2; exit 1; }
  if [ "${got% *}" != "200 text/plain" ] || ! printf 'Hello, world!\n' | cmp -s - "$tmp/body-$s"; then
    echo "bench/http.sh: $s answers GET / with '${got% *}' and body '$(head -c 100 "$tmp/body-$s")'" >&2
    exit 1
  fi
  sizes+=("$s ${got##* }")
done

# ---- wrk -------------------------------------------------------------------
wrk_args=(-t"$threads" -c"$conns" -d"${dur_s}s" --latency)

# run_wrk SERVER SECONDS OUTFILE: one bounded wrk run; fails if the server died.
run_wrk() {
  local s=$1 secs=$2 out=$3
  timeout $((secs + 30)) wrk -t"$threads" -c"$conns" -d"${secs}s" --latency \
    "http://127.0.0.1:$(port_of "$s")/" >"$out" 2>&1 ||
    { echo "bench/http.sh: wrk against $s failed:" >&2; cat "$out" >&2; return 1; }
  bench_alive "$(pid_of "$s")" ||
    { echo "bench/http.sh: $s died during the run" >&2; [ "$s" = hcs ] && cat "$tmp/hello.log" >&2; return 1; }
}

# wrk prints latencies as 812.00us, 1.23ms or 1.05s; give milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) printf "%.3f", v / 1000;
    else if (v ~ /ms$/) printf "%.3f", v + 0;
    else if (v ~ /m$/) printf "%.3f", v * 60000;
    else if (v ~ /s$/) printf "%.3f", v * 1000;
    else printf "nan" }'
}
parse_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
parse_p99() { to_ms "$(awk '$1 == "99%" {print $2}' "$1")"; }
# Socket errors and non-2xx/3xx answers, summed; wrk counts them in req/s.
parse_errors() {
  awk '/Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
       /Non-2xx or 3xx responses:/ { n += $5 }
       END { print n + 0 }' "$1"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
  if (NR % 2) printf "%s", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "nan" }'; }

echo "bench/http.sh: hcs on 127.0.0.1:$hcs_port, nginx on 127.0.0.1:$nginx_port, $workers worker(s) each" >&2
if [ "$warm_s" -gt 0 ]; then
  for s in hcs nginx; do
    echo "bench/http.sh: warm-up, $s, ${warm_s}s" >&2
    run_wrk "$s" "$warm_s" "$tmp/warmup-$s.txt"
  done
fi

declare -A rps p99 errs
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then order="hcs nginx"; else order="nginx hcs"; fi
  for s in $order; do
    echo "bench/http.sh: round $r/$rounds, $s: wrk ${wrk_args[*]}" >&2
    out="$tmp/wrk-$r-$s.txt"
    run_wrk "$s" "$dur_s" "$out"
    rps[$r,$s]=$(parse_rps "$out")
    p99[$r,$s]=$(parse_p99 "$out")
    errs[$r,$s]=$(parse_errors "$out")
    [ -n "${rps[$r,$s]}" ] || { echo "bench/http.sh: no Requests/sec in wrk output:" >&2; cat "$out" >&2; exit 1; }
    echo "bench/http.sh:   ${rps[$r,$s]} req/s, p99 ${p99[$r,$s]} ms, ${errs[$r,$s]} errors" >&2
  done
done

# ---- report ----------------------------------------------------------------
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
echo
echo "## hcs vs nginx: GET / \"Hello, world!\\n\", keep-alive, loopback"
echo
echo "- load: \`wrk ${wrk_args[*]}\`, $rounds rounds, order alternating per round (hcs first in odd rounds)"
echo "- servers: $workers worker(s) each; hcs $rev (\`$(basename "$hello") --workers $workers\`), $(nginx -v 2>&1 | sed 's/^nginx version: //') (\`worker_processes $workers\`, access_log off, keepalive_requests unlimited)"
echo "- response bytes (header+body): ${sizes[0]}, ${sizes[1]}"
echo "- machine: $(nproc) cores, shared by wrk and the server under test; both servers get the same treatment, so the ratio is meaningful, the absolute numbers less so"
echo
echo "| round | hcs req/s | nginx req/s | hcs/nginx req/s | hcs p99 ms | nginx p99 ms | hcs/nginx p99 |"
echo "|---|---:|---:|---:|---:|---:|---:|"
rr=() pr=() hr=() nr=() hp=() np=()
for r in $(seq 1 "$rounds"); do
  a=$(ratio "${rps[$r,hcs]}" "${rps[$r,nginx]}")
  b=$(ratio "${p99[$r,hcs]}" "${p99[$r,nginx]}")
  rr+=("$a") pr+=("$b")
  hr+=("${rps[$r,hcs]}") nr+=("${rps[$r,nginx]}") hp+=("${p99[$r,hcs]}") np+=("${p99[$r,nginx]}")
  echo "| $r | ${rps[$r,hcs]} | ${rps[$r,nginx]} | $a | ${p99[$r,hcs]} | ${p99[$r,nginx]} | $b |"
done
echo "| **median** | $(median "${hr[@]}") | $(median "${nr[@]}") | **$(median "${rr[@]}")** | $(median "${hp[@]}") | $(median "${np[@]}") | **$(median "${pr[@]}")** |"
echo
echo "Ratios in the median row are medians of the per-round ratios. Higher req/s and lower p99 are better."
bad=""
for r in $(seq 1 "$rounds"); do
  for s in hcs nginx; do
    [ "${errs[$r,$s]}" -eq 0 ] || bad+=" round $r $s: ${errs[$r,$s]};"
  done
done
if [ -n "$bad" ]; then
  echo
  echo "**Warning**: wrk reported socket errors or non-2xx/3xx answers (counted in req/s):$bad"
fi
