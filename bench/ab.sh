#!/usr/bin/env bash
# Two laneproxy binaries side by side as the gateway, in bench/peers.sh's
# layout: an nginx upstream answering v1 / v2 and both gateways (one worker
# each, 90:10) on CPU 0, wrk (keep-alive, 64 connections) on CPU 1. The
# binaries take turns, round after round, so that the machine's drift
# falls on both alike. Prints req/s and CPU per request (user and system)
# for each round and the mean of each binary.
#
#   bash bench/ab.sh BINARY_A BINARY_B [ROUNDS] [SECONDS]
#
# To measure a change: build its parent in a worktree of its own
# (git worktree add /tmp/parent HEAD~1; bash scripts/build.sh
# /tmp/parent/build -DCMAKE_BUILD_TYPE=RelWithDebInfo, run from
# /tmp/parent), then bash bench/ab.sh build/bin/laneproxy
# /tmp/parent/build/bin/laneproxy 6 5.
set -euo pipefail
[ $# -ge 2 ] || {
  echo "usage: bench/ab.sh BINARY_A BINARY_B [ROUNDS] [SECONDS]" >&2
  exit 2
}
a=$(realpath "$1") b=$(realpath "$2") rounds=${3:-3} seconds=${4:-5}
cd "$(dirname "$0")/.."
for p in nginx wrk; do
  command -v "$p" >/dev/null || {
    echo "ab.sh: $p is missing (bench/peers.sh installs it)" >&2
    exit 1
  }
done
source bench/lib.sh

u1=$(free_port) u2=$(free_port)
nginx_conf upstreams "server { listen 127.0.0.1:$u1; location / { return 200 'v1'; } }
  server { listen 127.0.0.1:$u2; location / { return 200 'v2'; } }"
taskset -c 0 nginx -c "$work/upstreams.conf" -p "$work" &
pids+=($!)
split_mesh
declare -A port pid
for t in A B; do
  binary=$a
  [ $t = A ] || binary=$b
  port[$t]=$(free_port)
  gateway_bootstrap "$work/$t.yaml" "$work/mesh" "${port[$t]}" "$u1" "$u2"
  taskset -c 0 "$binary" run --config "$work/$t.yaml" --concurrency 1 >"$work/$t.log" 2>&1 &
  pid[$t]=$!
  pids+=($!)
  wait_ready "$work/$t.log"
done
sleep 1

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
for r in $(seq "$rounds"); do
  for t in A B; do
    read -r u0 s0 < <(ticks "${pid[$t]}")
    out=$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" "http://127.0.0.1:${port[$t]}/mock")
    read -r u1 s1 < <(ticks "${pid[$t]}")
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    awk -v t=$t -v r="$r" -v n="$n" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" \
      -v sec="$seconds" 'BEGIN {
      printf "%s round %d: %.0f req/s, CPU %.2f µs (user %.2f, system %.2f)\n", t, r, n / sec,
        (u + s) / hz / n * 1e6, u / hz / n * 1e6, s / hz / n * 1e6 }'
  done
done | tee "$work/rounds"
awk '{ n[$1]++; rps[$1] += $4; cpu[$1] += $7; usr[$1] += $10; sys[$1] += $12 }
  END { for (t in n) printf "%s mean of %d: %.0f req/s, CPU %.2f µs (user %.2f, system %.2f)\n",
    t, n[t], rps[t] / n[t], cpu[t] / n[t], usr[t] / n[t], sys[t] / n[t] }' "$work/rounds" | sort
