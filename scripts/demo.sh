#!/usr/bin/env bash
# The main job: set up, build, run the swimlane sample under
# `laneproxy local`, send 100 requests through its gateway as the canary
# guide does, print every chain and the split, and stop.
#
#   bash scripts/demo.sh [DIR] [REQUESTS]     (default: config/swimlane 100)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-config/swimlane}
requests=${2:-100}
bash scripts/setup.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DLANEPROXY_TESTS=OFF -DLANEPROXY_BENCH=OFF

echo "== laneproxy validate $dir"
./build/bin/laneproxy validate "$dir"

port=${LANEPROXY_DEMO_PORT:-8080}
admin=${LANEPROXY_DEMO_ADMIN_PORT:-15000}
log=$(mktemp)
echo "== laneproxy local $dir --port $port --admin-port $admin"
./build/bin/laneproxy local "$dir" --port "$port" --admin-port "$admin" >"$log" 2>&1 &
local_pid=$!
stop() {
  kill -TERM "$local_pid" 2>/dev/null || true
  wait "$local_pid" 2>/dev/null || true
  rm -f "$log"
}
trap stop EXIT
for _ in $(seq 300); do
  grep -q "laneproxy local: ready" "$log" && break
  kill -0 "$local_pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
cat "$log"

echo "== $requests requests: curl -s http://127.0.0.1:$port/mock"
out=$(mktemp)
for _ in $(seq "$requests"); do
  curl -s --max-time 5 "http://127.0.0.1:$port/mock" || true
  echo
done | tee "$out"

echo "== split (versions along each chain; addresses left out)"
sed -E 's/, ip: [0-9.]+//g' "$out" | sort | uniq -c | sort -rn |
  awk -v n="$requests" '{ c = $1; $1 = ""; printf "%4d  %5.1f%%  %s\n", c, 100 * c / n, $0 }'
rm -f "$out"
echo "== stopping laneproxy local"
