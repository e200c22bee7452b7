#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one libFuzzer target for a while, for ctest (fuzz/CMakeLists.txt) and
# `make fuzz`:
#   fuzz/run.sh FUZZER NAME SECONDS ARTIFACT_DIR [WORK_CORPUS]
# 1. replays every input of fuzz/regressions/NAME/ (past crashes; each must
#    now pass);
# 2. fuzzes for SECONDS from fuzz/corpus/NAME/ (the seeds) and the
#    regressions, with fuzz/NAME.dict when there is one. New inputs go to
#    WORK_CORPUS (kept, e.g. build-fuzz/fuzz/work/NAME for `make fuzz`) or to
#    a temporary directory removed afterwards: the seed directories are
#    only read (libFuzzer writes to the first corpus directory only).
# A crash, leak, timeout or failed check leaves its input in ARTIFACT_DIR
# (NAME-crash-<sha1> etc.) and the libFuzzer log in ARTIFACT_DIR/NAME.log;
# the exit status is then non-zero and the log's tail is printed.
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 FUZZER NAME SECONDS ARTIFACT_DIR [WORK_CORPUS]" >&2
  exit 2
fi
fuzzer=$1 name=$2 seconds=$3 artifacts=$4 work=${5:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seeds=$here/corpus/$name
regressions=$here/regressions/$name
dict=$here/$name.dict

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-fuzz-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
[ -n "$work" ] || work=$tmp/corpus
mkdir -p "$work" "$artifacts"
log=$artifacts/$name.log

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fail() {
  echo "fuzz/$name: $1 (log: $log)" >&2
  tail -n 80 "$log" >&2
  exit 1
}

# 1. regressions, one run each
regs=()
if [ -d "$regressions" ]; then
  while IFS= read -r -d '' f; do regs+=("$f"); done \
    < <(find "$regressions" -type f ! -name '*.md' -print0 | sort -z)
fi
if [ ${#regs[@]} -gt 0 ]; then
  "$fuzzer" -artifact_prefix="$artifacts/$name-" "${regs[@]}" >"$log" 2>&1 ||
    fail "a regression input fails again"
  echo "fuzz/$name: ${#regs[@]} regression input(s) pass"
fi

# 2. fuzzing
dirs=("$work")
[ -d "$seeds" ] && dirs+=("$seeds")
[ -d "$regressions" ] && dirs+=("$regressions")
opts=(-max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$artifacts/$name-")
[ -f "$dict" ] && opts+=(-dict="$dict")
"$fuzzer" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1 || fail "found a failing input"
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
echo "fuzz/$name: ${seconds}s, ${runs:-?} runs, ${cov:-cov: ?}, corpus $(find "$work" -type f | wc -l) new + seeds"
