#!/usr/bin/env bash
# The cost of metrics on the request path, in instructions (callgrind counts
# instructions, not time: the same figure on a busy or a quiet machine).
#
#   bash bench/metrics_cost.sh [BUILD_DIR]
#
# Runs one gateway worker under callgrind with metrics off and on, sends
# 1,000 and then 3,000 keep-alive requests through it (curl, one connection)
# to one laneproxy-mock, and reports instructions per request from the
# difference of the two runs (so start-up and shutdown cancel out).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/bin
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
source bench/lib.sh
up_port=$(free_port)
app=mocka version=v1 bind=127.0.0.1:$up_port "$bin/laneproxy-mock" >/dev/null &
pids+=($!)

# Instructions of one gateway run that serves $2 requests, metrics $1.
instructions() {
  local port
  port=$(free_port)
  # No periodic look at the mesh during the run: under valgrind a run lasts
  # long enough for several, and their instructions are not the request path's.
  gateway_bootstrap "$work/boot.yaml" "$PWD/config/swimlane" "$port" "$up_port" "$up_port" \
    "metrics: $1" "watch: {poll: 3600s}"
  callgrind_run "$bin" "$work/boot.yaml" "$port" "$2"
}

for metrics in false true; do
  a=$(instructions "$metrics" 1000)
  b=$(instructions "$metrics" 3000)
  per=$(( (b - a) / 2000 ))
  echo "metrics $metrics: $per instructions per request"
  eval "per_$metrics=$per"
done
awk -v on="$per_true" -v off="$per_false" \
  'BEGIN { printf "metrics cost: %d instructions per request, %.1f%% of the request path\n", on - off, (on / off - 1) * 100 }'
