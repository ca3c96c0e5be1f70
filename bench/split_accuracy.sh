#!/usr/bin/env bash
# Split accuracy of each selection mode (random, smooth, sticky) at N = 100,
# 1,000 and 100,000 requests, measured with laneproxy-bench through a real
# gateway in front of two laneproxy-mock upstreams (v1, v2), weights 90:10.
# Sticky requests carry a new user id each (x-user: user-<n>).
#
#   bash bench/split_accuracy.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/bin
source bench/lib.sh
v1=$(free_port)
v2=$(free_port)
app=mocka version=v1 bind=127.0.0.1:$v1 "$bin/laneproxy-mock" >/dev/null &
pids+=($!)
app=mocka version=v2 bind=127.0.0.1:$v2 "$bin/laneproxy-mock" >/dev/null &
pids+=($!)

printf "%-7s %8s %8s %8s %12s %10s\n" MODE N v1 v2 "MAX DEV" P-VALUE
for mode in random smooth sticky; do
  mkdir -p "$work/$mode"
  cp config/swimlane/*.yaml "$work/$mode/"
  # The gateway route at 90:10 with this mode.
  sed -e 's/weight: 50$/weight: WEIGHT/' config/swimlane/mock-route.yaml |
    awk 'BEGIN{n=0} /weight: WEIGHT/ {n++; sub("WEIGHT", n==1 ? "90" : "10")} {print}' |
    sed -e "s|  namespace: istio-system|  namespace: istio-system\n  annotations:\n    laneproxy.io/split: $mode\n    laneproxy.io/split-key: header:x-user|" \
      >"$work/$mode/mock-route.yaml"
  port=$(free_port)
  gateway_bootstrap "$work/$mode.yaml" "$work/$mode" "$port" "$v1" "$v2"
  "$bin/laneproxy" run --config "$work/$mode.yaml" --concurrency 1 >"$work/$mode.log" 2>&1 &
  gw=$!
  wait_ready "$work/$mode.log"
  for n in 100 1000 100000; do
    out=$("$bin/laneproxy-bench" "http://127.0.0.1:$port/mock" -n "$n" -c 1 --expect v1=90,v2=10 \
      --vary-header x-user --json || true)
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("%-7s %8d %8d %8d %11.2f%% %10.3g" % (sys.argv[2], r["requests"], r["lanes"].get("v1", 0),
      r["lanes"].get("v2", 0), 100 * r["largest_deviation"], r["p_value"]))' "$out" "$mode"
  done
  kill "$gw"
  wait "$gw" 2>/dev/null || true
done
