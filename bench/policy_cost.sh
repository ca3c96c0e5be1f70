#!/usr/bin/env bash
# The cost of the DestinationRule's load balancing and of the lane guard on
# the request path, in instructions (callgrind: the same figure on a busy or
# a quiet machine), by the method of bench/metrics_cost.sh.
#
#   bash bench/policy_cost.sh [BUILD_DIR]
#
# One gateway worker under callgrind serves 1,000 and then 3,000 keep-alive
# requests (curl, one connection) to the swimlane sample's /mock, its lanes
# each on two laneproxy-mock endpoints, in three configurations:
#   round-robin  a DestinationRule with loadBalancer.simple: ROUND_ROBIN
#   least        no DestinationRule: Istio's default, LEAST_REQUEST
#   guard        LEAST_REQUEST, and laneproxy.io/guard on the route
# Instructions per request come from the difference of the two runs (start-up
# and shutdown cancel out).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/bin
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
source bench/lib.sh
ups=()
for _ in 1 2; do
  p=$(free_port)
  app=mocka version=v1 bind=127.0.0.1:$p "$bin/laneproxy-mock" >/dev/null &
  pids+=($!)
  ups+=("127.0.0.1:$p")
done
list="[${ups[0]}, ${ups[1]}]"

# The swimlane sample as configuration $1 asks.
mesh_for() {
  local dir=$work/mesh-$1
  rm -rf "$dir"
  cp -r config/swimlane "$dir"
  case $1 in
    round-robin)
      cat >"$dir/policy.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mocka, namespace: default}
spec:
  host: mocka.default.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
YAML
      ;;
    guard)
      sed -i 's|^  namespace: istio-system$|  namespace: istio-system\n  annotations: {laneproxy.io/guard: "error-rate > 5% over 10s"}|' \
        "$dir/mock-route.yaml"
      ;;
  esac
  echo "$dir"
}

# Instructions of one gateway run of configuration $1 that serves $2 requests.
instructions() {
  local port mesh
  port=$(free_port)
  mesh=$(mesh_for "$1")
  cat >"$work/boot.yaml" <<YAML
mesh: $mesh
gateway: {name: istio-system/ingressgateway, listen: 127.0.0.1:$port}
accessLog: "off"
watch: {poll: 3600s}
endpoints:
  mocka:
    v1: $list
    v2: $list
YAML
  callgrind_run "$bin" "$work/boot.yaml" "$port" "$2"
}

declare -A per
for config in round-robin least guard; do
  a=$(instructions "$config" 1000)
  b=$(instructions "$config" 3000)
  per[$config]=$(( (b - a) / 2000 ))
  echo "$config: ${per[$config]} instructions per request"
done
echo "LEAST_REQUEST over ROUND_ROBIN: $(( per[least] - per[round-robin] )) instructions per request"
echo "the guard over LEAST_REQUEST: $(( per[guard] - per[least] )) instructions per request"
