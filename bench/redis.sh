#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/redis.sh: a benchmark, not a test. What Redis costs the hub: the same
# load, from hcs-bench (tools/hcs-bench), on three set-ups:
#   inproc  one hcs-hub, in-process bus (the default)
#   redis1  one hcs-hub with --transport redis://... (every update makes the
#           round trip through the Redis stream before it is delivered)
#   redis2  two hcs-hubs on the same Redis stream; the subscribers are split
#           between them (half on each); updates are published to the first
#           (a second hcs-bench holds the other half, counting the same
#           updates and their latency by the markers in their data). On one
#           machine it gets the same resources: each hub half the workers,
#           each hcs-bench one process (instead of two)
# Two measurements on each, all subscribers on one topic:
#   throughput  publish rates stepping up (--step seconds each, 128 publish
#               connections) until a step loses an update, cannot publish at
#               the asked rate, or its p99 passes 1 s: the highest sustained
#               deliveries/s (summed over the two clients for redis2)
#   latency     --ln messages at a fixed rate well below saturation
#               (4 publish connections): publish ->
#               receive p50 and p99 (for redis2: the worse of the two halves)
# Every run starts fresh hubs (and a fresh stream) and checks that nothing
# was lost. Rounds rotate the order of the set-ups. Prints a Markdown
# report: per-round figures, the medians and the ratios to inproc. One
# redis-server (Debian's, no persistence) runs for the whole script on a
# free loopback port with a temporary directory. Client, hubs and Redis share
# the machine's cores.
#
# Run from anywhere in the repository:
#   bench/redis.sh                  # 3 rounds, 1000 subscribers
#   bench/redis.sh -r 1 --no-build
# Options (or environment):
#   -r N       REDIS_ROUNDS   rounds (default 3)
#   -c N       REDIS_SUBS     subscribers (default 1000)
#   -w N       REDIS_WORKERS  workers of the hub (default 2; redis2: half
#                             each)
#   --rates L                 throughput: publish rates to step through,
#                             messages/s (default "500 1000 1500 2000 2500
#                             3000 3500 4000 5000 6000 8000")
#   --step S                  seconds per step (default 3)
#   --publishers N            throughput: publish connections (default 128;
#                             each waits for its answer, which on Redis
#                             comes after the XADD round trip, so few
#                             connections would cap the rate, not the hub)
#   --ln N                    messages of the latency run (default 500)
#   --lrate R                 their rate, messages/s (default 50)
#   --no-quiet                do not wait for an idle machine before each
#                             round (by default: up to 60 s for 3 s in a
#                             row of >= 80 % idle CPU)
#   --no-build                skip `scripts/deps` and `make build`
#   HCS_BUILD=DIR             hcs-hub and hcs-bench from DIR/tools (default
#                             build/)
#   REDIS_KEEP=DIR            keep the raw reports (JSON, logs) in DIR
# Everything targets 127.0.0.1; every run is bounded (hcs-bench's --duration
# and --drain, timeout(1) around it, bounded waits).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
source bench/lib.sh

rounds=${REDIS_ROUNDS:-3}
subs=${REDIS_SUBS:-1000}
workers=${REDIS_WORKERS:-2}
rates="500 1000 1500 2000 2500 3000 3500 4000 5000 6000 8000"
step_s=3
tpubs=128
ln=500
lrate=50
quiet=1
build=1
bdir=${HCS_BUILD:-$root/build}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    -r) rounds=$2; shift 2 ;;
    -c) subs=$2; shift 2 ;;
    -w) workers=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --step) step_s=$2; shift 2 ;;
    --publishers) tpubs=$2; shift 2 ;;
    --ln) ln=$2; shift 2 ;;
    --lrate) lrate=$2; shift 2 ;;
    --no-quiet) quiet=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    *) echo "bench/redis.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

if [ $build -eq 1 ]; then
  scripts/deps
  make build
fi
hub=$bdir/tools/hcs-hub/hcs-hub
hb=$bdir/tools/hcs-bench/hcs-bench
for b in "$hub" "$hb"; do
  [ -x "$b" ] || { echo "bench/redis.sh: $b is not built" >&2; exit 1; }
done
for c in redis-server redis-cli node; do
  command -v $c >/dev/null || { echo "bench/redis.sh: $c missing (scripts/deps installs it)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-bench-redis.XXXXXX")
raw=${REDIS_KEEP:-$tmp/raw}
mkdir -p "$raw"
redis_pid=
hub_pids=()
bench_pids=()
cleanup() {
  local p
  for p in "${bench_pids[@]}"; do bench_stop "$p" 5; done
  for p in "${hub_pids[@]}"; do bench_stop "$p" 10; done
  bench_stop "$redis_pid" 5
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

results=$raw/results.tsv
: >"$results"
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$results"; }
log() { echo "bench/redis.sh: $*" >&2; }

json() {
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
           const v = Function("r", "return (" + process.argv[2] + ");")(r);
           process.stdout.write(String(v));' "$1" "$2"
}

# Wait (60 s at most) for 3 s in a row of >= 80 % idle CPU.
wait_quiet() {
  local ok=0 i a b idle total
  for i in $(seq 1 60); do
    a=$(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
    sleep 1
    b=$(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
    idle=$(( ${b% *} - ${a% *} ))
    total=$(( ${b#* } - ${a#* } ))
    if [ "$total" -gt 0 ] && [ $((idle * 100 / total)) -ge 80 ]; then
      ok=$((ok + 1))
      [ $ok -ge 3 ] && return 0
    else
      ok=0
    fi
  done
  log "the machine did not go quiet within 60 s; measuring anyway (figures are noisier)"
  echo 1 >"$tmp/noisy"
}

# ---- redis-server -----------------------------------------------------------

mkdir -p "$tmp/redis"
for try in 1 2 3 4 5; do
  rport=$(bench_free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp/redis" >"$tmp/redis/redis.log" 2>&1 </dev/null &
  redis_pid=$!
  for i in $(seq 1 50); do
    redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break 2
    bench_alive "$redis_pid" || break
    sleep 0.1
  done
  bench_stop "$redis_pid" 5
  redis_pid=
done
[ -n "$redis_pid" ] || { log "redis-server did not start"; exit 1; }

# ---- hubs ---------------------------------------------------------------------

# start_hub NAME [ARGS...]: a hub on a free port; sets port_NAME, token.
start_hub() {
  local name=$1 p
  shift
  p=$(bench_free_port)
  "$hub" --dev --listen "127.0.0.1:$p" --access-log off "$@" \
    >"$tmp/hub_$name.log" 2>&1 </dev/null &
  hub_pids+=($!)
  bench_wait_listen "$p" "$!" 10 || { cat "$tmp/hub_$name.log" >&2; return 1; }
  printf -v "port_$name" '%s' "$p"
  token=$(grep -m1 -E '^ +token +' "$tmp/hub_$name.log" | awk '{print $2}')
}

stop_hubs() {
  local p
  for p in "${hub_pids[@]}"; do bench_stop "$p" 10; done
  hub_pids=()
}

# Subscribers on the hub at PORT now.
subscribers() {
  curl -s --max-time 2 "http://127.0.0.1:$1/metrics" | awk '$1 == "hcs_hub_subscribers" {print $2}'
}

# measure SETUP NAME N RATE PUBS: one hcs-bench run on fresh hubs (N
# messages at RATE/s from PUBS publish connections); sets dps, lost, p50,
# p99 (the worse half for redis2), prate (publish rate), perr (publish
# errors) and connected.
measure() {
  local setup=$1 name=$2 n=$3 rate=$4 pubs=$5 topic out transport="" rc i
  topic="bench-$name"
  out=$raw/$name
  [ "$setup" = inproc ] || transport="redis://127.0.0.1:$rport/0?stream=$topic"
  # redis2 gets the same machine as the others: the workers and the
  # client's processes are split between the two halves.
  local hw=$workers procs=()
  if [ "$setup" = redis2 ]; then
    hw=$(( workers > 1 ? workers / 2 : 1 ))
    procs=(-P 1)
  fi
  start_hub a --workers "$hw" ${transport:+--transport "$transport"}
  local pub_url="http://127.0.0.1:$port_a/.well-known/mercure"
  local secs=$(( rate > 0 ? n / rate + 10 : 60 ))
  local args=(-q -n "$n" -r "$rate" -d "$secs" --drain 5 --publishers "$pubs"
              -p "$pub_url" -H "Authorization: Bearer $token"
              -b "topic=$topic&data={payload}")
  local half=$subs
  if [ "$setup" = redis2 ]; then
    half=$((subs / 2))
    start_hub b --workers "$hw" --transport "$transport"
    # The other half, counting the same updates on hub b (count mode).
    timeout -k 5 $((secs + 60)) "$hb" -q "${procs[@]}" -c $((subs - half)) -n "$n" -d "$((secs + 5))" \
      --drain 5 --json "$out.b.json" "http://127.0.0.1:$port_b/.well-known/mercure?topic=$topic" \
      >"$out.b.txt" 2>"$out.b.err" &
    bench_pids+=($!)
    for i in $(seq 1 300); do
      [ "$(subscribers "$port_b")" = "$((subs - half))" ] && break
      sleep 0.1
    done
  fi
  rc=0
  timeout -k 5 $((secs + 60)) "$hb" "${procs[@]}" -c "$half" "${args[@]}" --json "$out.json" \
    "http://127.0.0.1:$port_a/.well-known/mercure?topic=$topic" >"$out.txt" 2>"$out.err" || rc=$?
  [ $rc -eq 0 ] || { log "$name: hcs-bench exited $rc"; cat "$out.err" >&2; }
  if [ "$setup" = redis2 ]; then
    # It counts until it has every update, or its duration ends.
    wait "${bench_pids[0]}" || log "$name: the second hcs-bench exited $?"
    bench_pids=()
  fi
  stop_hubs
  local files=("$out.json")
  [ "$setup" = redis2 ] && files+=("$out.b.json")
  dps=0 lost=0 p50=0 p99=0 connected=0
  prate=$(json "$out.json" r.publish_rate 2>/dev/null || echo 0)
  perr=$(json "$out.json" r.publish_errors 2>/dev/null || echo 1)
  for f in "${files[@]}"; do
    [ -s "$f" ] || { log "$name: no report $f"; lost=1; return 0; }
    dps=$(awk -v a="$dps" -v b="$(json "$f" r.deliveries_per_s)" 'BEGIN { printf "%.0f", a + b }')
    lost=$((lost + $(json "$f" r.lost)))
    connected=$((connected + $(json "$f" r.connected)))
    p50=$(awk -v a="$p50" -v b="$(json "$f" 'r.latency_ms.p50 || 0')" 'BEGIN { printf "%.3f", (a > b ? a : b) }')
    p99=$(awk -v a="$p99" -v b="$(json "$f" 'r.latency_ms.p99 || 0')" 'BEGIN { printf "%.3f", (a > b ? a : b) }')
  done
}

# throughput SETUP ROUND: step the publish rate up until a step is not
# sustained (a loss, a publish error, the asked rate not reached, or p99
# over 1 s); the highest sustained step's deliveries/s is the figure.
throughput() {
  local setup=$1 round=$2 rate best=0 ok
  for rate in $rates; do
    measure "$setup" "$round-$setup-t$rate" $((rate * step_s)) "$rate" "$tpubs"
    ok=$(awk -v l="$lost" -v e="$perr" -v pr="$prate" -v r="$rate" -v p="$p99" \
      -v c="$connected" -v n="$subs" \
      'BEGIN { print (l == 0 && e == 0 && c == n && pr >= 0.95 * r && p <= 1000) ? 1 : 0 }')
    log "round $round $setup $rate/s: $dps deliveries/s, publish $prate/s ($perr errors), p99 $p99 ms, lost $lost -> $([ "$ok" = 1 ] && echo sustained || echo 'not sustained: stop')"
    [ "$ok" = 1 ] || break
    best=$dps
  done
  record "$round" "$setup" dps "$best"
}

# latency SETUP ROUND: --ln messages at --lrate/s.
latency() {
  local setup=$1 round=$2
  measure "$setup" "$round-$setup-l" "$ln" "$lrate" 4
  record "$round" "$setup" p50 "$p50"
  record "$round" "$setup" p99 "$p99"
  record "$round" "$setup" lost "$lost"
  log "round $round $setup latency at $lrate/s: p50 $p50 ms, p99 $p99 ms, lost $lost"
}

setups=(inproc redis1 redis2)
for round in $(seq 1 "$rounds"); do
  [ $quiet -eq 1 ] && wait_quiet
  for k in 0 1 2; do
    s=${setups[$(((k + round - 1) % 3))]}
    throughput "$s" "$round"
    latency "$s" "$round"
  done
done

# ---- report --------------------------------------------------------------------

rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
echo "### hcs-hub in-process vs on Redis: $subs subscribers, one topic"
echo
echo "- hubs: $workers worker(s) (redis2: $(( workers > 1 ? workers / 2 : 1 )) each, and one client process per half), \`--dev --access-log off\`; build $rev ($(basename "$bdir")); redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') (no persistence)"
echo "- throughput: the highest sustained step of rates $rates msgs/s, ${step_s} s each ($tpubs publish connections; sustained: no loss, no publish error, >= 95 % of the asked rate, p99 <= 1 s); latency: $ln messages at $lrate/s (4 publish connections)"
echo "- redis2: hub a takes the publishes and $((subs / 2)) subscribers, hub b the other $((subs - subs / 2)); figures summed (deliveries/s) or the worse half (latency)"
echo "- client: hcs-bench on the same $(nproc) cores; rounds: $rounds, order rotating$([ -f "$tmp/noisy" ] && echo '; the machine was NOT quiet in every round')"
echo
echo "| round | set-up | deliveries/s | p50 ms | p99 ms | lost |"
echo "|---|---|---|---|---|---|"
awk -F'\t' '{ v[$1 "\t" $2 "\t" $3] = $4; rs[$1] = 1; }
  END {
    n = split("inproc redis1 redis2", s, " ");
    for (r = 1; (r "") in rs; r++)
      for (i = 1; i <= n; i++)
        printf "| %d | %s | %s | %s | %s | %d |\n", r, s[i], v[r "\t" s[i] "\tdps"],
          v[r "\t" s[i] "\tp50"], v[r "\t" s[i] "\tp99"],
          v[r "\t" s[i] "\tlost"];
  }' "$results"
echo
echo "Medians, and the ratio to inproc:"
echo
echo "| set-up | deliveries/s | vs inproc | p50 ms | p99 ms | p99 vs inproc |"
echo "|---|---|---|---|---|---|"
awk -F'\t' '
  function median(key,   a, m, k, t) {
    m = split(list[key], a, " ");
    for (i2 = 1; i2 <= m; i2++) for (k = i2 + 1; k <= m; k++) if (a[k] + 0 < a[i2] + 0) { t = a[i2]; a[i2] = a[k]; a[k] = t; }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2;
  }
  { list[$2 "\t" $3] = list[$2 "\t" $3] " " $4; }
  END {
    n = split("inproc redis1 redis2", s, " ");
    d0 = median("inproc\tdps"); q0 = median("inproc\tp99");
    for (j = 1; j <= n; j++) {
      d = median(s[j] "\tdps"); q = median(s[j] "\tp99");
      printf "| %s | %.0f | %.2f | %.2f | %.2f | %.2f |\n", s[j], d, d0 ? d / d0 : 0,
        median(s[j] "\tp50"), q, q0 ? q / q0 : 0;
    }
  }' "$results"
