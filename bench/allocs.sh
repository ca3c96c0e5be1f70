#!/usr/bin/env bash
# Heap allocations per proxied request in the steady state, counted in the
# real laneproxy gateway (bench/alloc_count.cc preloaded: every malloc of
# every thread) with the layout of bench/peers.sh: one worker, a 90:10
# split to two upstreams, metrics on, access log off, 64 keep-alive
# connections (--connections N to change it). After a warm-up, the count
# is read before and after a fixed number of requests; the difference over
# the requests is the figure. Over HTTP/1.1 on each socket backend, and
# over cleartext HTTP/2 (h2load, one stream at a time on each connection).
#
#   bash bench/allocs.sh [--requests N] [--connections N] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=100000 connections=64 build=build
while [ $# -gt 0 ]; do
  case $1 in
    --requests) requests=$2; shift ;;
    --connections) connections=$2; shift ;;
    *) build=$1 ;;
  esac
  shift
done
bin=$build/bin
shim=$build/lib/liballoc_count.so
[ -x "$bin/laneproxy" ] && [ -f "$shim" ] || bash scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
command -v h2load >/dev/null || {
  echo "allocs.sh: h2load is missing (Debian's nghttp2-client)" >&2
  exit 1
}
source bench/lib.sh

u1=$(free_port) u2=$(free_port)
for v in 1 2; do
  port=$u1
  [ $v = 1 ] || port=$u2
  app=mocka version=v$v bind=127.0.0.1:$port "$bin/laneproxy-mock" >"$work/u$v.log" 2>&1 &
  pids+=($!)
done
split_mesh

# Allocations and bytes counted so far by the gateway $1, its counts in $2.
reading() {
  local before
  before=$(wc -l <"$2")
  kill -USR2 "$1"
  for _ in $(seq 50); do
    [ "$(wc -l <"$2")" -gt "$before" ] && break
    sleep 0.1
  done
  tail -1 "$2"
}
# One row: $1 its name, $2 --io backend, $3 protocol (h1 or h2).
row() {
  local port counts log pid a0 b0 a1 b1
  port=$(free_port) counts="$work/counts-$2-$3" log="$work/gw-$2-$3.log"
  gateway_bootstrap "$work/gw.yaml" "$work/mesh" "$port" "$u1" "$u2"
  : >"$counts"
  ALLOC_COUNT_FILE=$counts LD_PRELOAD=$shim "$bin/laneproxy" run --config "$work/gw.yaml" \
    --concurrency 1 --io "$2" >"$log" 2>&1 &
  pid=$!
  pids+=($pid)
  wait_ready "$log"
  load() {
    if [ "$3" = h2 ]; then
      h2load -n "$1" -c "$connections" -m 1 "http://127.0.0.1:$2/mock" >/dev/null
    else
      "$bin/laneproxy-bench" "http://127.0.0.1:$2/mock" -n "$1" -c "$connections" >/dev/null
    fi
  }
  load $((requests / 5)) "$port" "$3"  # warm-up: pools, buffers, metric series
  read -r a0 b0 < <(reading "$pid" "$counts")
  load "$requests" "$port" "$3"
  read -r a1 b1 < <(reading "$pid" "$counts")
  kill "$pid"
  awk -v name="$1" -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v n="$requests" 'BEGIN {
    printf "| %s | %d | %d | %.4f | %.1f |\n", name, n, a, a / n, b / n }'
}
echo "| gateway | requests | allocations | per request | bytes per request |"
echo "|---|---|---|---|---|"
row "HTTP/1.1, io_uring" io_uring h1
row "HTTP/1.1, epoll" epoll h1
row "HTTP/2 (h2c), io_uring" io_uring h2
