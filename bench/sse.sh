#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/sse.sh: a benchmark, not a test. hcs-hub against Debian's nginx with
# the Nchan module (bench/nchan.conf), both as pub/sub hubs on 127.0.0.1
# with the same number of workers, driven by hcs-bench (tools/hcs-bench)
# the same way, alternating which goes first, for several rounds:
#   1. idle capacity: 1k, 5k and 15k subscribers held idle; server memory
#      (VmRSS summed over its processes: hcs-hub, or nginx's master and
#      workers), measured once stable, before and with them -> KiB each;
#   2. fan-out throughput: 1,000 subscribers to one topic, publish rates
#      stepping up (a few seconds each) until a step loses messages, cannot
#      publish at the asked rate, or its p99 latency passes 1 s -> the
#      highest sustained deliveries/s, and server CPU seconds (utime+stime
#      from /proc, counted from the start of publishing, so not the
#      subscribers' setup) per million deliveries, at each server's highest
#      sustained step and at the highest step both sustained;
#   3. burst latency: 10,000 subscribers, 100 messages at 10/s -> latency
#      p50/p99/max and loss.
# Every scenario starts a fresh server and a fresh topic. Prints a Markdown
# report (per-round figures, the table of medians and hcs/Nchan ratios) on
# stdout and draws two PNG plots with gnuplot (latency vs rate, memory vs
# subscribers). The client shares the machine's cores with the server; its
# CPU time is reported too.
#
# Run from anywhere in the repository:
#   bench/sse.sh                      # 3 rounds, 2 workers, plots in docs/img
#   bench/sse.sh -r 1 -s "3"          # one round of scenario 3 only
# Options (or environment):
#   -r N        SSE_ROUNDS     rounds (default 3)
#   -w N        SSE_WORKERS    workers of each server (default: cores)
#   -s LIST     SSE_SCENARIOS  scenarios to run (default "1 2 3")
#   -o DIR      SSE_PLOTS      where the PNGs go (default docs/img)
#   --step S                   seconds per fan-out step (default 4)
#   --rates L                  fan-out publish rates, messages/s (default
#                              "10 20 50 100 150 200 300 400 600 800 1000
#                              1500 2000")
#   --no-quiet                 do not wait for an idle machine before each
#                              round (by default: up to 60 s for 3 s in a row
#                              of >= 80 % idle CPU)
#   --no-build                 skip `scripts/deps bench` and `make build`
#   HCS_BUILD=DIR              take hcs-hub and hcs-bench from DIR/tools
#                              (default build/)
#   HCS_REV=TEXT               what to call that build in the report
#                              (default: git describe of this tree)
#   SSE_KEEP=DIR               keep the raw reports (JSON, logs) in DIR
# Everything targets 127.0.0.1; every run is bounded (hcs-bench's own
# --duration/--drain, timeout(1) around it, bounded waits); a full run with
# the defaults takes about 10-15 minutes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
source bench/lib.sh

rounds=${SSE_ROUNDS:-3}
workers=${SSE_WORKERS:-$(nproc)}
scenarios=${SSE_SCENARIOS:-1 2 3}
plots=${SSE_PLOTS:-$root/docs/img}
step_s=4
rates="10 20 50 100 150 200 300 400 600 800 1000 1500 2000"
idle_sizes="1000 5000 15000"
fan_subs=1000
burst_subs=10000
burst_msgs=100
burst_rate=10
build=1
quiet=1
bdir=${HCS_BUILD:-$root/build}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    -r) rounds=$2; shift 2 ;;
    -w) workers=$2; shift 2 ;;
    -s) scenarios=$2; shift 2 ;;
    -o) plots=$2; shift 2 ;;
    --step) step_s=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-quiet) quiet=0; shift ;;
    -h|--help) usage ;;
    *) echo "bench/sse.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench/sse.sh: -r must be a positive integer" >&2; exit 2; }
[[ $workers =~ ^[1-9][0-9]*$ ]] || { echo "bench/sse.sh: -w must be a positive integer" >&2; exit 2; }
[[ $step_s =~ ^[1-9][0-9]*$ ]] || { echo "bench/sse.sh: --step must be whole seconds" >&2; exit 2; }

if [ $build -eq 1 ]; then
  scripts/deps bench
  make build
fi
hub=$bdir/tools/hcs-hub/hcs-hub
hb=$bdir/tools/hcs-bench/hcs-bench
for b in "$hub" "$hb"; do
  [ -x "$b" ] || { echo "bench/sse.sh: $b is not built" >&2; exit 1; }
done
command -v nginx >/dev/null || { echo "bench/sse.sh: nginx missing; run scripts/deps bench" >&2; exit 1; }
nchan_so=/usr/lib/nginx/modules/ngx_nchan_module.so
[ -f "$nchan_so" ] || { echo "bench/sse.sh: $nchan_so missing; run scripts/deps bench" >&2; exit 1; }
command -v node >/dev/null || { echo "bench/sse.sh: node missing (scripts/deps installs it)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-bench-sse.XXXXXX")
raw=${SSE_KEEP:-$tmp/raw}
mkdir -p "$raw"
server_pid=
bench_pid=
cleanup() {
  bench_stop "$bench_pid" 5
  bench_stop "$server_pid" 10
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# results.tsv: one line per measurement: round scenario server key value.
results=$raw/results.tsv
: >"$results"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }
log() { echo "bench/sse.sh: $*" >&2; }

# ---- servers ---------------------------------------------------------------

# start_server hcs|nchan: a fresh server on a free port; sets port and
# server_pid, and for hcs-hub token (its development token, for publishing).
start_server() {
  local kind=$1 i
  port=$(bench_free_port)
  if [ "$kind" = hcs ]; then
    "$hub" --dev --listen "127.0.0.1:$port" --access-log off --workers "$workers" \
      >"$tmp/hub.log" 2>&1 </dev/null &
    server_pid=$!
    bench_wait_listen "$port" "$server_pid" 10 || { cat "$tmp/hub.log" >&2; return 1; }
    token=$(grep -m1 -E '^ +token +' "$tmp/hub.log" | awk '{print $2}')
    [ -n "$token" ] || { log "no token in the hub's banner"; return 1; }
  else
    local dir=$tmp/nginx user=""
    rm -rf "$dir"
    mkdir -p "$dir/tmp"
    [ "$(id -u)" -eq 0 ] && user="user root;"
    sed -e "s|@DIR@|$dir|g; s|@PORT@|$port|g; s|@WORKERS@|$workers|g; s|@USER@|$user|g" \
      bench/nchan.conf >"$dir/nginx.conf"
    nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" ||
      { cat "$dir/error.log" >&2 2>/dev/null; return 1; }
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" </dev/null &
    server_pid=$!
    bench_wait_listen "$port" "$server_pid" 10 || { cat "$dir/error.log" >&2; return 1; }
    for i in $(seq 1 50); do
      [ "$(pgrep -c -P "$server_pid" || true)" -ge "$workers" ] && break
      sleep 0.1
    done
  fi
}

stop_server() {
  bench_stop "$server_pid" 10
  server_pid=
}

server_pids() {
  bench_tree_pids "$server_pid" | tr '\n' ' '
}

# CPU seconds (user + system) used so far by the server's processes.
server_cpu() {
  local pid total=0 t
  for pid in $(server_pids); do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || t=0
    total=$((total + ${t:-0}))
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

# urls KIND TOPIC: sets sub_url and the publish options pub_opts.
urls() {
  local kind=$1 topic=$2
  if [ "$kind" = hcs ]; then
    sub_url="http://127.0.0.1:$port/.well-known/mercure?topic=$topic"
    pub_opts=(-p "http://127.0.0.1:$port/.well-known/mercure"
              -H "Authorization: Bearer $token" -b "topic=$topic&data={payload}")
  else
    sub_url="http://127.0.0.1:$port/sub?id=$topic"
    pub_opts=(-p "http://127.0.0.1:$port/pub?id=$topic" -b '{payload}')
  fi
}

# jq-less JSON field: json FILE EXPR (JavaScript over the report r).
json() {
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
           const v = Function("r", "return (" + process.argv[2] + ");")(r);
           process.stdout.write(String(v));' "$1" "$2"
}

# run_pub OUT TIMEOUT ARGS...: hcs-bench in publish mode with its report in
# OUT.json; sets cpu_pub to the server CPU seconds used from the moment it
# starts publishing (its "hcs-bench: publishing" line) to its end, so that
# setting up the subscribers is not counted; returns its exit status.
run_pub() {
  local out=$1 limit=$2 rc=0 c0="" c1 i
  shift 2
  timeout -k 5 "$limit" "$hb" -q --json "$out.json" "$@" >"$out.txt" 2>"$out.err" &
  bench_pid=$!
  for i in $(seq 1 $((limit * 20))); do
    if grep -q '^hcs-bench: publishing' "$out.err" 2>/dev/null; then
      c0=$(server_cpu)
      break
    fi
    bench_alive "$bench_pid" || break
    sleep 0.05
  done
  wait "$bench_pid" || rc=$?
  bench_pid=
  c1=$(server_cpu)
  cpu_pub=$(awk -v a="${c0:-$c1}" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
  return $rc
}

# ---- scenarios ---------------------------------------------------------------

# 1. Idle capacity: KiB per idle subscriber, for each size.
idle() {
  local round=$1 kind=$2 n before with rc out i per
  for n in $idle_sizes; do
    start_server "$kind"
    urls "$kind" "idle-$round-$n"
    sleep 0.5
    # shellcheck disable=SC2046
    before=$(bench_rss_stable_kib 3 $(server_pids))
    out=$raw/idle-$round-$kind-$n
    timeout -k 5 90 "$hb" -q --idle -c "$n" --hold 8 --connect-timeout 40 \
      --json "$out.json" "$sub_url" >"$out.txt" 2>"$out.err" &
    bench_pid=$!
    for i in $(seq 1 450); do
      grep -q '^hcs-bench: holding' "$out.err" 2>/dev/null && break
      bench_alive "$bench_pid" || break
      sleep 0.1
    done
    # shellcheck disable=SC2046
    with=$(bench_rss_stable_kib 5 $(server_pids))
    rc=0
    wait "$bench_pid" || rc=$?
    bench_pid=
    stop_server
    [ $rc -eq 0 ] || { log "idle $kind $n: hcs-bench exited $rc"; cat "$out.err" >&2; }
    local conn
    conn=$(json "$out.json" r.connected 2>/dev/null || echo 0)
    per=$(awk -v a="$before" -v b="$with" -v n="$conn" 'BEGIN { if (n > 0) printf "%.3f", (b - a) / n; else print "nan" }')
    record "$round" idle "$kind" "rss_before_kib.$n" "$before"
    record "$round" idle "$kind" "rss_with_kib.$n" "$with"
    record "$round" idle "$kind" "connected.$n" "$conn"
    record "$round" idle "$kind" "kib_per_sub.$n" "$per"
    log "round $round idle $kind: $n subscribers ($conn connected): $before -> $with KiB = $per KiB each"
  done
}

# 2. Fan-out throughput: step the rate until a step is not sustained.
fanout() {
  local round=$1 kind=$2 rate out cpu lost perr prate p99 dps rc ok
  start_server "$kind"
  for rate in $rates; do
    urls "$kind" "fan-$round-$rate"
    out=$raw/fan-$round-$kind-$rate
    rc=0
    run_pub "$out" $((step_s + 60)) -c "$fan_subs" -n $((rate * step_s)) -r "$rate" \
      -d $((step_s + 2)) --drain 3 --publishers 8 "${pub_opts[@]}" "$sub_url" || rc=$?
    cpu=$cpu_pub
    if [ $rc -ne 0 ] || [ ! -s "$out.json" ]; then
      log "fan-out $kind $rate/s: hcs-bench exited $rc"; cat "$out.err" >&2
      break
    fi
    lost=$(json "$out.json" r.lost)
    perr=$(json "$out.json" r.publish_errors)
    prate=$(json "$out.json" r.publish_rate)
    p99=$(json "$out.json" 'r.latency_ms.p99 || 0')
    dps=$(json "$out.json" r.deliveries_per_s)
    ok=$(awk -v l="$lost" -v e="$perr" -v pr="$prate" -v r="$rate" -v p="$p99" \
      -v c="$(json "$out.json" r.connected)" -v n="$fan_subs" \
      'BEGIN { print (l == 0 && e == 0 && c == n && pr >= 0.95 * r && p <= 1000) ? 1 : 0 }')
    record "$round" fan "$kind" "dps.$rate" "$dps"
    record "$round" fan "$kind" "p50.$rate" "$(json "$out.json" 'r.latency_ms.p50 || 0')"
    record "$round" fan "$kind" "p99.$rate" "$p99"
    record "$round" fan "$kind" "lost.$rate" "$lost"
    record "$round" fan "$kind" "server_cpu.$rate" "$cpu"
    record "$round" fan "$kind" "received.$rate" "$(json "$out.json" r.received)"
    record "$round" fan "$kind" "client_cpu.$rate" "$(json "$out.json" r.client_cpu_s)"
    record "$round" fan "$kind" "sustained.$rate" "$ok"
    log "round $round fan-out $kind $rate/s: $dps deliveries/s, lost $lost, publish $prate/s ($perr errors), p99 $p99 ms, server CPU $cpu s -> $([ "$ok" = 1 ] && echo sustained || echo 'not sustained: stop')"
    [ "$ok" = 1 ] || break
  done
  stop_server
}

# 3. Burst latency: 10,000 subscribers, 100 messages at 10/s.
burst() {
  local round=$1 kind=$2 out rc
  start_server "$kind"
  urls "$kind" "burst-$round"
  out=$raw/burst-$round-$kind
  rc=0
  run_pub "$out" 120 -c "$burst_subs" -n "$burst_msgs" -r "$burst_rate" \
    -d 30 --drain 10 --connect-timeout 40 "${pub_opts[@]}" "$sub_url" || rc=$?
  stop_server
  if [ $rc -ne 0 ] || [ ! -s "$out.json" ]; then
    log "burst $kind: hcs-bench exited $rc"; cat "$out.err" >&2
    return 0
  fi
  local k
  for k in p50 p90 p99 max; do
    record "$round" burst "$kind" "$k" "$(json "$out.json" "r.latency_ms.$k || 0")"
  done
  record "$round" burst "$kind" lost "$(json "$out.json" r.lost)"
  record "$round" burst "$kind" connected "$(json "$out.json" r.connected)"
  record "$round" burst "$kind" expected "$(json "$out.json" r.expected)"
  record "$round" burst "$kind" client_cpu "$(json "$out.json" r.client_cpu_s)"
  record "$round" burst "$kind" server_cpu "$cpu_pub"
  log "round $round burst $kind: $(sed -n 's/^  latency ms *//p' "$out.txt"); lost $(json "$out.json" r.lost)"
}

# wait_quiet: wait up to 60 s until the machine's CPUs were >= 80 % idle
# for 3 seconds in a row (other work on a shared machine skews every
# figure); prints how long it waited, or "busy" if it gave up.
wait_quiet() {
  local i calm=0 a b idle=0
  for i in $(seq 1 60); do
    a=$(awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
    idle=$(echo "$a $b" | awk '{ d = $4 - $2; print (d > 0 ? int(100 * ($3 - $1) / d) : 100) }')
    if [ "$idle" -ge 80 ]; then calm=$((calm + 1)); else calm=0; fi
    [ $calm -ge 3 ] && { echo "quiet after ${i}s"; return 0; }
  done
  echo "busy (no 3 s of >= 80 % idle CPU within 60 s; last ${idle} % idle)"
}

# ---- the run -----------------------------------------------------------------

started=$(date -u +%FT%TZ)
t_begin=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
quiet_notes=()
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then order="hcs nchan"; else order="nchan hcs"; fi
  if [ $quiet -eq 1 ]; then
    q=$(wait_quiet)
    log "round $round: machine $q; load $(cut -d' ' -f1-3 /proc/loadavg)"
    quiet_notes+=("round $round: $q, load average $(cut -d' ' -f1-3 /proc/loadavg)")
  fi
  for s in $scenarios; do
    for kind in $order; do
      case $s in
        1) idle "$round" "$kind" ;;
        2) fanout "$round" "$kind" ;;
        3) burst "$round" "$kind" ;;
        *) echo "bench/sse.sh: no scenario $s" >&2; exit 2 ;;
      esac
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(( $(date +%s) - t_begin ))

# ---- the report ----------------------------------------------------------------

mkdir -p "$plots"
rev=${HCS_REV:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)}
nginx_v=$(nginx -v 2>&1 | sed 's/^nginx version: //')
nchan_v=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo unknown)
SSE_RESULTS=$results SSE_PLOTS=$plots SSE_RATES=$rates SSE_SIZES=$idle_sizes \
SSE_FAN_SUBS=$fan_subs SSE_ROUNDS=$rounds \
node - <<'EOF' >"$tmp/report.md"
const fs = require('node:fs');
const env = process.env;
const rows = fs.readFileSync(env.SSE_RESULTS, 'utf8').trim().split('\n')
  .filter(Boolean).map((l) => l.split('\t'));
const rates = env.SSE_RATES.split(/\s+/).filter(Boolean).map(Number);
const sizes = env.SSE_SIZES.split(/\s+/).filter(Boolean).map(Number);
const nrounds = Number(env.SSE_ROUNDS);
const get = (round, sc, kind, key) => {
  const r = rows.find((x) => x[0] === String(round) && x[1] === sc && x[2] === kind && x[3] === key);
  return r ? Number(r[4]) : undefined;
};
const median = (xs) => {
  const v = xs.filter((x) => x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const roundsList = [...Array(nrounds).keys()].map((i) => i + 1);
const fmt = (x, d = 1) => x === undefined ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const out = [];
const summary = [];
// Per round: the derived figures.
const per = {};
for (const r of roundsList) {
  per[r] = {};
  for (const k of ['hcs', 'nchan']) {
    const p = per[r][k] = {};
    for (const n of sizes) p['kib' + n] = get(r, 'idle', k, 'kib_per_sub.' + n);
    // The highest sustained step.
    let best;
    for (const rate of rates) if (get(r, 'fan', k, 'sustained.' + rate) === 1) best = rate;
    p.maxRate = best;
    p.maxDps = best === undefined ? undefined : get(r, 'fan', k, 'dps.' + best);
    if (best !== undefined) {
      const rec = get(r, 'fan', k, 'received.' + best);
      p.cpuPerMOwn = rec ? get(r, 'fan', k, 'server_cpu.' + best) / rec * 1e6 : undefined;
      p.clientCpuPerMOwn = rec ? get(r, 'fan', k, 'client_cpu.' + best) / rec * 1e6 : undefined;
    }
    for (const q of ['p50', 'p99', 'max', 'lost', 'client_cpu', 'server_cpu', 'connected', 'expected'])
      p['b_' + q] = get(r, 'burst', k, q);
  }
  // CPU per million deliveries at the highest rate both sustained.
  const h = per[r].hcs, n = per[r].nchan;
  const common = rates.filter((rate) => get(r, 'fan', 'hcs', 'sustained.' + rate) === 1 &&
    get(r, 'fan', 'nchan', 'sustained.' + rate) === 1).pop();
  per[r].common = common;
  for (const [k, p] of [['hcs', h], ['nchan', n]]) {
    if (common === undefined) continue;
    const cpu = get(r, 'fan', k, 'server_cpu.' + common);
    const rec = get(r, 'fan', k, 'received.' + common);
    p.cpuPerM = rec ? cpu / rec * 1e6 : undefined;
    const ccpu = get(r, 'fan', k, 'client_cpu.' + common);
    p.clientCpuPerM = rec ? ccpu / rec * 1e6 : undefined;
  }
}
const ratio = (a, b) => (a === undefined || b === undefined || b === 0) ? undefined : a / b;
const metrics = [];
for (const n of sizes)
  metrics.push({ name: `idle: KiB per subscriber, ${n.toLocaleString('en-US')} subscribers`, key: 'kib' + n, d: 2, floor: '≤ 0.2', ok: (x) => x <= 0.2 });
metrics.push({ name: `fan-out: max sustained deliveries/s (${env.SSE_FAN_SUBS} subscribers)`, key: 'maxDps', d: 0, floor: '≥ 2', ok: (x) => x >= 2 });
metrics.push({ name: 'fan-out: server CPU s per million deliveries, at its own max sustained step', key: 'cpuPerMOwn', d: 2 });
metrics.push({ name: 'fan-out: server CPU s per million deliveries, at the highest step both sustained', key: 'cpuPerM', d: 2 });
metrics.push({ name: 'fan-out: client CPU s per million deliveries, at the highest step both sustained (whole run)', key: 'clientCpuPerM', d: 2 });
metrics.push({ name: 'burst: latency p50 ms', key: 'b_p50', d: 2 });
metrics.push({ name: 'burst: latency p99 ms', key: 'b_p99', d: 2, floor: '≤ 0.25', ok: (x) => x <= 0.25 });
metrics.push({ name: 'burst: latency max ms', key: 'b_max', d: 2 });
metrics.push({ name: 'burst: messages lost', key: 'b_lost', d: 0, floor: '0 if Nchan 0', lossRule: true });
metrics.push({ name: 'burst: server CPU s (publishing and drain)', key: 'b_server_cpu', d: 2 });
metrics.push({ name: 'burst: client CPU s (whole run)', key: 'b_client_cpu', d: 2 });

out.push('| metric | hcs-hub | Nchan | hcs/Nchan | floor | met |');
out.push('|---|---:|---:|---:|---:|:---:|');
for (const m of metrics) {
  const hv = median(roundsList.map((r) => per[r].hcs[m.key]));
  const nv = median(roundsList.map((r) => per[r].nchan[m.key]));
  const rv = median(roundsList.map((r) => ratio(per[r].hcs[m.key], per[r].nchan[m.key])));
  let met = '';
  if (m.lossRule) met = (nv === 0 && hv !== undefined) ? (hv === 0 ? 'yes' : '**no**') : (nv === undefined ? '' : 'n/a');
  else if (m.ok && rv !== undefined) met = m.ok(rv) ? 'yes' : '**no**';
  out.push(`| ${m.name} | ${fmt(hv, m.d)} | ${fmt(nv, m.d)} | ${rv === undefined ? '–' : rv.toFixed(3)} | ${m.floor || ''} | ${met} |`);
}
out.push('');
out.push('Medians over the rounds; the ratio column is the median of the per-round ratios.');
out.push('');
// Per-round detail.
out.push('Per round (hcs / Nchan):');
out.push('');
out.push('| round | ' + sizes.map((n) => `KiB/sub @${n}`).join(' | ') + ' | max sustained rate msg/s | max deliveries/s | CPU s/M deliveries (rate) | burst p50 ms | burst p99 ms | burst max ms | burst lost |');
out.push('|---|' + sizes.map(() => '---:').join('|') + '|---:|---:|---:|---:|---:|---:|---:|');
for (const r of roundsList) {
  const h = per[r].hcs, n = per[r].nchan;
  const pair = (k, d) => `${fmt(h[k], d)} / ${fmt(n[k], d)}`;
  out.push(`| ${r} | ` + sizes.map((s) => pair('kib' + s, 2)).join(' | ') +
    ` | ${pair('maxRate', 0)} | ${pair('maxDps', 0)} | ${pair('cpuPerM', 2)} (${per[r].common ?? '–'}/s) | ${pair('b_p50', 2)} | ${pair('b_p99', 2)} | ${pair('b_max', 2)} | ${pair('b_lost', 0)} |`);
}
out.push('');
// Fan-out steps, medians per rate.
out.push('Fan-out steps (medians over the rounds that ran the step; a step runs only while the previous one was sustained):');
out.push('');
out.push('| rate msg/s | offered deliveries/s | hcs deliveries/s | hcs p50 / p99 ms | hcs lost | Nchan deliveries/s | Nchan p50 / p99 ms | Nchan lost |');
out.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
const dat = [];
for (const rate of rates) {
  const m = (k, key) => median(roundsList.map((r) => get(r, 'fan', k, key + '.' + rate)));
  const hd = m('hcs', 'dps'), nd = m('nchan', 'dps');
  if (hd === undefined && nd === undefined) continue;
  out.push(`| ${rate} | ${fmt(rate * Number(env.SSE_FAN_SUBS), 0)} | ${fmt(hd, 0)} | ${fmt(m('hcs', 'p50'), 2)} / ${fmt(m('hcs', 'p99'), 2)} | ${fmt(m('hcs', 'lost'), 0)} | ${fmt(nd, 0)} | ${fmt(m('nchan', 'p50'), 2)} / ${fmt(m('nchan', 'p99'), 2)} | ${fmt(m('nchan', 'lost'), 0)} |`);
  const v = (x) => x === undefined ? 'NaN' : x;
  dat.push([rate * Number(env.SSE_FAN_SUBS), v(m('hcs', 'p50')), v(m('hcs', 'p99')), v(m('nchan', 'p50')), v(m('nchan', 'p99'))].join(' '));
}
fs.writeFileSync(env.SSE_PLOTS + '/.sse-latency.dat', dat.join('\n') + '\n');
const mem = [];
for (const n of sizes) {
  const m = (k) => median(roundsList.map((r) => {
    const a = get(r, 'idle', k, 'rss_before_kib.' + n), b = get(r, 'idle', k, 'rss_with_kib.' + n);
    return a === undefined || b === undefined ? undefined : (b - a) / 1024;
  }));
  const v = (x) => x === undefined ? 'NaN' : x;
  mem.push([n, v(m('hcs')), v(m('nchan'))].join(' '));
}
fs.writeFileSync(env.SSE_PLOTS + '/.sse-memory.dat', '0 0 0\n' + mem.join('\n') + '\n');
process.stdout.write(out.join('\n') + '\n');
EOF

lat_png=$plots/sse-latency-vs-rate.png
mem_png=$plots/sse-memory-vs-subscribers.png
have_lat=0; have_mem=0
[[ " $scenarios " == *" 2 "* ]] && have_lat=1
[[ " $scenarios " == *" 1 "* ]] && have_mem=1
if ! command -v gnuplot >/dev/null; then
  log "gnuplot missing (scripts/deps bench installs gnuplot-nox); no plots"
  have_lat=0; have_mem=0
fi
if [ $have_lat -eq 1 ]; then
  gnuplot <<EOF || log "gnuplot failed on the latency plot"
set terminal pngcairo size 900,560 font ",11"
set grid
set key top left
set output "$lat_png"
set title "Fan-out: publish -> receive latency vs offered load ($fan_subs subscribers, $workers workers each)"
set xlabel "offered deliveries/s (publish rate x subscribers)"
set ylabel "latency, ms (log scale)"
set logscale xy
set format x "%.0s%c"
plot "$plots/.sse-latency.dat" using 1:2 with linespoints lw 2 pt 7 title "hcs-hub p50", \
     "" using 1:3 with linespoints lw 2 pt 5 title "hcs-hub p99", \
     "" using 1:4 with linespoints lw 2 pt 6 dt 2 title "Nchan p50", \
     "" using 1:5 with linespoints lw 2 pt 4 dt 2 title "Nchan p99"
EOF
fi
if [ $have_mem -eq 1 ]; then
  gnuplot <<EOF || log "gnuplot failed on the memory plot"
set terminal pngcairo size 900,560 font ",11"
set grid
set key top left
set output "$mem_png"
set title "Idle subscribers: server memory growth (VmRSS summed over processes, $workers workers each)"
set xlabel "idle subscribers"
set ylabel "RSS growth, MiB"
set format x "%g"
plot "$plots/.sse-memory.dat" using 1:2 with linespoints lw 2 pt 7 title "hcs-hub", \
     "" using 1:3 with linespoints lw 2 pt 6 dt 2 title "Nchan"
EOF
fi
rm -f "$plots/.sse-latency.dat" "$plots/.sse-memory.dat"

echo "### hcs-hub vs nginx + Nchan: SSE pub/sub on loopback"
echo
echo "- run: $started, $elapsed s; hcs $rev (binaries: $bdir); $nginx_v with libnginx-mod-nchan $nchan_v"
echo "- servers: $workers worker(s) each; hcs-hub \`--dev --access-log off --workers $workers\`; nginx \`worker_processes $workers\` with bench/nchan.conf (access_log off, nchan_subscriber eventsource, nchan_publisher)"
echo "- client: hcs-bench ($(basename "$hb")), on the same $(nproc) cores; rounds: $rounds, order alternating (hcs first in odd rounds); scenarios: $scenarios"
echo "- load average before / after: $load_before / $load_after"
for q in "${quiet_notes[@]}"; do echo "- $q"; done
echo
cat "$tmp/report.md"
echo
[ $have_lat -eq 1 ] && echo "Plot: \`$(realpath --relative-to="$root" "$lat_png")\`"
[ $have_mem -eq 1 ] && echo "Plot: \`$(realpath --relative-to="$root" "$mem_png")\`"
true
