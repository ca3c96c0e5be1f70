#!/usr/bin/env bash
# Instructions per request through the gateway over HTTP/1.1 and over
# HTTP/2 (callgrind counts instructions, not time), from the difference of
# a 1,000- and a 3,000-request run so that start-up and shutdown cancel out.
# One connection, one request at a time (curl keep-alive for HTTP/1.1,
# h2load -c1 -m1 for HTTP/2), to one laneproxy-mock; metrics off.
#
#   bash bench/h2_cost.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/bin
command -v h2load >/dev/null || bash scripts/setup.sh
source bench/lib.sh

up_port=$(free_port)
app=mocka version=v1 bind=127.0.0.1:$up_port "$bin/laneproxy-mock" >/dev/null &
pids+=($!)

# Instructions of one gateway run serving $2 requests over protocol $1.
run() {
  local port
  port=$(free_port)
  gateway_bootstrap "$work/boot.yaml" "$PWD/config/swimlane" "$port" "$up_port" "$up_port" \
    "metrics: false" "watch: {poll: 3600s}"
  callgrind_run "$bin" "$work/boot.yaml" "$port" "$2" "$1"
}
for protocol in h1 h2; do
  a=$(run "$protocol" 1000)
  b=$(run "$protocol" 3000)
  echo "$protocol: $(((b - a) / 2000)) instructions per request"
done
