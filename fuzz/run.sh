#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) from its seed corpus,
# under ASan+UBSan. New inputs go to a scratch folder, never into the seeds.
# A crash, leak, UB report or failed check exits non-zero and leaves the
# input that caused it in BUILD/fuzz-findings/.
#
#   bash fuzz/run.sh BUILD [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
seconds=${2:-60}
shift $(($# >= 2 ? 2 : 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http1_request http1_response mesh_compile bootstrap)
findings="$build/fuzz-findings"
mkdir -p "$findings"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  log="$build/fuzz-$t.log"
  echo "== fuzz_$t for ${seconds}s"
  if ! "$build/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/$t-" \
    "$scratch" "fuzz/corpus/$t" >"$log" 2>&1; then
    tail -60 "$log"
    rm -rf "$scratch"
    echo "fuzz_$t: FAILED (input in $findings)"
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|cov: ' "$log" | tail -3
  rm -rf "$scratch"
done
