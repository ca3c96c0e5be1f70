#!/usr/bin/env bash
# Throughput, latency and CPU per request through the laneproxy gateway on
# loopback, measured with wrk. A benchmark, not a test: run it by hand on a
# quiet machine.
#
#   bash bench/gateway_wrk.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
#
# One upstream (laneproxy-mock, answering 36 bytes) and gateways with one
# worker (--concurrency 1) each, metrics off and on (the access log off).
# Gateways are pinned to CPU 0, wrk and the upstream to CPU 1, so a
# gateway's CPU time is its own. Prints wrk's report for the upstream alone
# and through each gateway, each gateway's CPU time per request (user +
# system, from /proc/PID/stat) and the metrics' cost. When nginx is installed, the
# same load also goes through nginx (one worker, keep-alive upstream pool),
# pinned the same way, for a ratio measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${2:-10}
connections=${3:-50}

if ! command -v wrk >/dev/null; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq wrk >/dev/null
fi
bin=$build/bin
[ -x "$bin/laneproxy" ] || bash scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo

source bench/lib.sh

up_port=$(free_port)
gw_port=$(free_port)

app=mocka version=v1 bind=127.0.0.1:$up_port taskset -c 1 "$bin/laneproxy-mock" >/dev/null &
pids+=($!)
# Starts a gateway worker pinned to CPU 0; $1 names it, $2 is true/false
# for metrics. The access log is off, as nginx's is below.
start_gateway() {
  local port=$3
  gateway_bootstrap "$work/$1.yaml" "$PWD/config/swimlane" "$port" "$up_port" "$up_port" \
    "metrics: $2"
  taskset -c 0 "$bin/laneproxy" run --config "$work/$1.yaml" --concurrency 1 >"$work/$1.log" &
  pids+=($!)
  wait_ready "$work/$1.log"
}
start_gateway gateway true "$gw_port"
gw=${pids[-1]}
bare_port=$(free_port)
start_gateway bare false "$bare_port"
bare=${pids[-1]}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_wrk() { taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" --latency "$1"; }
hz=$(getconf CLK_TCK)
# Runs wrk against URL and prints "us per request" of process PID.
measure() {
  local pid=$1 url=$2 before after out requests
  before=$(ticks "$pid")
  out=$(run_wrk "$url")
  after=$(ticks "$pid")
  echo "$out" >&2
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }'
}

echo "== upstream alone (laneproxy-mock)"
run_wrk "http://127.0.0.1:$up_port/mock"
echo
echo "== through the gateway without metrics (1 worker)"
bare_us=$(measure "$bare" "http://127.0.0.1:$bare_port/mock")
echo "laneproxy gateway CPU, metrics off: $bare_us us per request"
echo
echo "== through the gateway with metrics (1 worker)"
gw_us=$(measure "$gw" "http://127.0.0.1:$gw_port/mock")
echo "laneproxy gateway CPU, metrics on: $gw_us us per request"
awk -v a="$gw_us" -v b="$bare_us" 'BEGIN { printf "metrics cost: %.1f%% CPU per request\n", (a / b - 1) * 100 }'

if command -v nginx >/dev/null; then
  ngx_port=$(free_port)
  cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
error_log $work/nginx-error.log;
pid $work/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  upstream app { server 127.0.0.1:$up_port; keepalive 64; }
  server {
    listen 127.0.0.1:$ngx_port;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
  taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
  pids+=($!)
  for _ in $(seq 50); do pgrep -f "nginx: worker" >/dev/null && break; sleep 0.1; done
  sleep 0.3
  ngx_worker=$(pgrep -f "nginx: worker" | head -1)
  echo
  echo "== through nginx (1 worker), same pinning"
  ngx_us=$(measure "$ngx_worker" "http://127.0.0.1:$ngx_port/mock")
  echo "nginx worker CPU: $ngx_us us per request"
  awk -v a="$gw_us" -v b="$ngx_us" 'BEGIN { printf "laneproxy / nginx CPU per request: %.2f\n", a / b }'
fi
