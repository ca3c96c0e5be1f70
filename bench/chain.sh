#!/usr/bin/env bash
# The guide's whole chain with laneproxy in every hop, against the same apps
# calling each other directly. Proxied: `laneproxy local config/swimlane`
# (the gateway, then mocka, mockb and mockc in lanes v1 and v2, each app
# with its sidecar): a request crosses the gateway, mocka's sidecar in and
# out, mockb's in and out, and mockc's in, 6 proxy hops. Direct: one
# laneproxy-mock per service, each calling the next by address (keep-alive,
# as the guide's Go app). Both run on CPU 0, the load (laneproxy-bench,
# keep-alive) on CPU 1, paced at a fixed rate (16 connections) and at
# saturation (64), in interleaved rounds. Access logs are off, metrics on.
#
# Reports the latency each way, the added p50 and p99 per hop, the CPU per
# end-to-end request summed over every process (apps and proxies apart),
# and each sidecar's RSS.
#
#   bash bench/chain.sh [--seconds S] [--rate R] [--rounds N] [BUILD_DIR]
#
# Writes the table to bench/results/chain-DATE.md too.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10 rate=1000 rounds=3 build=build
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --rate) rate=$2; shift ;;
    *) build=$1 ;;
  esac
  shift
done
bin=$build/bin
[ -x "$bin/laneproxy" ] || bash scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
source bench/lib.sh
hops=6
tick_us=$((1000000 / $(getconf CLK_TCK)))

# CPU time (µs) used so far by the processes $@, all threads.
cpu_us() {
  local total=0 p
  for p in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo $((total * tick_us))
}

# Runs the load ($@: laneproxy-bench arguments after the URL) against $url,
# measuring the CPU of the app processes $apps and the proxies $proxies.
# Prints: requests rps p50 p90 p99 app_us proxy_us (CPU per request).
measure() {
  local a0 p0 out
  a0=$(cpu_us $apps) p0=$(cpu_us $proxies)
  out=$(taskset -c 1 "$bin/laneproxy-bench" "$url" --duration "$seconds" -c "$@" --json | tail -1)
  local a1 p1
  a1=$(cpu_us $apps) p1=$(cpu_us $proxies)
  /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1]); n = r["requests"]; l = r["latency_ms"]
bad = r["isolation_violations"] + sum(r["errors"].values())
if bad: sys.exit("chain.sh: %d requests failed or left their lane: %s" % (bad, sys.argv[1]))
a, p = int(sys.argv[2]), int(sys.argv[3])
print(n, round(r["requests_per_second"]), l["p50"], l["p90"], l["p99"], a / n, p / n)
' "$out" $((a1 - a0)) $((p1 - p0))
}

# Direct: mocka -> mockb -> mockc by address.
d=127.0.78
env app=mockc version=v1 bind=$d.3:8000 taskset -c 0 "$bin/laneproxy-mock" >"$work/c.log" 2>&1 &
pids+=($!)
env app=mockb version=v1 bind=$d.2:8000 upstream_url=http://$d.3:8000/ \
  taskset -c 0 "$bin/laneproxy-mock" >"$work/b.log" 2>&1 &
pids+=($!)
env app=mocka version=v1 bind=$d.1:8000 upstream_url=http://$d.2:8000/ \
  taskset -c 0 "$bin/laneproxy-mock" >"$work/a.log" 2>&1 &
pids+=($!)
direct_apps="${pids[*]}" direct_url=http://$d.1:8000/mock
for _ in $(seq 50); do curl -sf -o /dev/null "$direct_url" && break; sleep 0.1; done

# Proxied: the guide's topology, every pod with its sidecar.
gw=$(free_port) admin=$(free_port)
taskset -c 0 "$bin/laneproxy" local config/swimlane --port "$gw" --admin-port "$admin" \
  --pod-base 127.0.77.1 --access-log off >"$work/local.log" 2>&1 &
local_pid=$!
pids+=($local_pid)
wait_ready "$work/local.log" 100 "laneproxy local: ready"
lp_apps="" lp_proxies="" sidecars=""
for c in $(cat /proc/$local_pid/task/*/children); do
  cmd=$(tr '\0' ' ' <"/proc/$c/cmdline")
  case $cmd in
    *laneproxy-mock*) lp_apps="$lp_apps $c" ;;
    *gateway.yaml*) lp_proxies="$lp_proxies $c" ;;
    *) lp_proxies="$lp_proxies $c" sidecars="$sidecars $c" ;;
  esac
done
lp_url=http://127.0.0.1:$gw/mock

# Interleaved rounds; each result is one line per round, medians below.
runs=("" "" "" "")
for round in $(seq "$rounds"); do
  apps=$direct_apps proxies="" url=$direct_url
  runs[0]+="$(measure 16 --rate "$rate");"
  runs[1]+="$(measure 64);"
  apps=$lp_apps proxies=$lp_proxies url=$lp_url
  runs[2]+="$(measure 16 --rate "$rate");"
  runs[3]+="$(measure 64);"
  echo "chain.sh: round $round of $rounds done" >&2
done
rss=$(for p in $sidecars; do awk '/^VmRSS/ {print $2}' "/proc/$p/status"; done | sort -n |
  awk '{v[NR] = $1} END {printf "%.1f %.1f", v[1] / 1024, v[NR] / 1024}')

mkdir -p bench/results
out=bench/results/chain-$(date +%Y-%m-%d).md
/usr/bin/python3 - "$hops" "$rate" "$rss" "$rounds" "${runs[@]}" <<'PY' | tee "$out"
import statistics, sys
hops, rate, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[4])
rss_min, rss_max = map(float, sys.argv[3].split())
# Each column's median over the rounds.
rows = [[statistics.median(col) for col in
         zip(*[list(map(float, r.split())) for r in arg.split(";") if r])]
        for arg in sys.argv[5:]]
print("Medians of %d interleaved rounds." % rounds)
print()
names = ["direct, %d req/s" % rate, "direct, saturated",
         "laneproxy, %d req/s" % rate, "laneproxy, saturated"]
print("| chain | req/s | p50 ms | p90 ms | p99 ms | CPU µs/request: apps | proxies | total |")
print("|---|---|---|---|---|---|---|---|")
for name, (n, rps, p50, p90, p99, app, proxy) in zip(names, rows):
    print("| %s | %d | %.2f | %.2f | %.2f | %.1f | %.1f | %.1f |" %
          (name, rps, p50, p90, p99, app, proxy, app + proxy))
print()
for label, direct, proxied in (("at %d req/s" % rate, rows[0], rows[2]),
                                ("saturated", rows[1], rows[3])):
    per_hop_us = proxied[6] / hops
    print("- %s: each hop adds %.3f ms at p50 and %.3f ms at p99, and costs %.1f µs of "
          "CPU per request (%.3f vCPU per 1,000 req/s)" %
          (label, (proxied[2] - direct[2]) / hops, (proxied[4] - direct[4]) / hops,
           per_hop_us, per_hop_us / 1000))
print("- sidecar RSS: %.1f to %.1f MB (6 sidecars, after the load)" % (rss_min, rss_max))
PY
