#!/usr/bin/env bash
# laneproxy against its peers on loopback, in one run, with the same load
# and the same cores: the upstream alone (the ceiling), the laneproxy
# gateway (on io_uring, and the same binary on epoll), nginx (weighted upstream, keepalive) and HAProxy (weighted
# servers, http-reuse), all splitting 90:10 to the same two upstreams (a
# small nginx answering "v1" / "v2"), one worker each. Proxies and upstreams
# run on CPU 0, wrk (keep-alive, 64 connections) alone on CPU 1. Targets are
# interleaved over several rounds; medians are reported. Then the same over
# cleartext HTTP/2 (h2load, 64 connections, one stream at a time on each):
# laneproxy's, nginx's and HAProxy's HTTP/2 listeners, each proxying to the
# same HTTP/1.1 upstreams. Last, the system calls each proxy makes per
# request (strace -c over 20,000 requests).
#
#   bash bench/peers.sh [--seconds S] [--rounds R] [--json] [BUILD_DIR]
#
# Installs nginx, haproxy and wrk from Debian when missing. Writes the table
# to bench/results/peers-DATE.md; with --json the last line is one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10 rounds=3 json=0 build=build
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --json) json=1 ;;
    *) build=$1 ;;
  esac
  shift
done
missing=()
for p in nginx haproxy wrk h2load strace; do command -v "$p" >/dev/null || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  missing=("${missing[@]/nginx/nginx-light}")
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]/h2load/nghttp2-client}" >/dev/null
fi
bin=$build/bin
[ -x "$bin/laneproxy" ] || bash scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
source bench/lib.sh

u1=$(free_port) u2=$(free_port) lp=$(free_port) np=$(free_port) hp=$(free_port)
lpe=$(free_port)
np2=$(free_port) hp2=$(free_port)
nginx_conf upstreams "server { listen 127.0.0.1:$u1; location / { return 200 'v1'; } }
  server { listen 127.0.0.1:$u2; location / { return 200 'v2'; } }"
nginx_conf proxy "upstream app { server 127.0.0.1:$u1 weight=9; server 127.0.0.1:$u2 weight=1; keepalive 64; }
  server { listen 127.0.0.1:$np; location / { proxy_pass http://app; proxy_http_version 1.1;
  proxy_set_header Connection \"\"; } }
  server { listen 127.0.0.1:$np2 http2; keepalive_requests 1000000;
  location / { proxy_pass http://app; proxy_http_version 1.1;
  proxy_set_header Connection \"\"; } }"
cat >"$work/haproxy.cfg" <<HAPROXY
global
  nbthread 1
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend in
  bind 127.0.0.1:$hp
  default_backend app
frontend in2
  bind 127.0.0.1:$hp2 proto h2
  default_backend app
backend app
  balance roundrobin
  server v1 127.0.0.1:$u1 weight 9
  server v2 127.0.0.1:$u2 weight 1
HAPROXY
split_mesh
gateway_bootstrap "$work/laneproxy.yaml" "$work/mesh" "$lp" "$u1" "$u2"
gateway_bootstrap "$work/laneproxy-epoll.yaml" "$work/mesh" "$lpe" "$u1" "$u2"

taskset -c 0 nginx -c "$work/upstreams.conf" -p "$work" &
pids+=($!)
taskset -c 0 nginx -c "$work/proxy.conf" -p "$work" &
pids+=($!)
taskset -c 0 haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
pids+=($haproxy_pid)
taskset -c 0 "$bin/laneproxy" run --config "$work/laneproxy.yaml" --concurrency 1 >"$work/lp.log" 2>&1 &
lp_pid=$!
pids+=($lp_pid)
# The same build with Asio's epoll reactor doing every socket's I/O.
taskset -c 0 "$bin/laneproxy" run --config "$work/laneproxy-epoll.yaml" --concurrency 1 \
  --io epoll >"$work/lpe.log" 2>&1 &
lpe_pid=$!
pids+=($lpe_pid)
wait_ready "$work/lp.log"
wait_ready "$work/lpe.log"
grep -q "io_uring" "$work/lp.log" || echo "peers.sh: laneproxy runs without io_uring: $(grep ready "$work/lp.log")" >&2
sleep 1
worker_of() { pgrep -P "$(cat "$work/$1.pid")" | head -1; }
upstream_worker=$(worker_of upstreams)
nginx_worker=$(worker_of proxy)

# User and system clock ticks of a process.
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
# wrk prints latencies as 220.00us, 1.80ms or 1.02s: all in ms.
to_ms() { awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/) v *= 1000; printf "%.3f", v }'; }
declare -A rps p50 p99 cpu usr sys
# Microseconds per request of $1 clock ticks over $2 requests.
per_request() { awk -v t="$1" -v hz="$hz" -v n="$2" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }'; }
# One measurement: $1 target name, $2 port, $3 pid whose CPU counts.
measure() {
  local u0 s0 u1 s1 out n
  read -r u0 s0 < <(ticks "$3")
  out=$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" --latency "http://127.0.0.1:$2/mock")
  read -r u1 s1 < <(ticks "$3")
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  rps[$1]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
  p50[$1]+="$(echo "$out" | awk '$1 == "50%" {print $2}' | to_ms) "
  p99[$1]+="$(echo "$out" | awk '$1 == "99%" {print $2}' | to_ms) "
  cpu[$1]+="$(per_request $((u1 - u0 + s1 - s0)) "$n") "
  usr[$1]+="$(per_request $((u1 - u0)) "$n") "
  sys[$1]+="$(per_request $((s1 - s0)) "$n") "
}
# The same over HTTP/2 with prior knowledge: $1 target name, $2 port, $3 pid.
measure_h2() {
  local u0 s0 u1 s1 out n
  read -r u0 s0 < <(ticks "$3")
  out=$(taskset -c 1 h2load -c64 -m1 -D"$seconds" "http://127.0.0.1:$2/mock")
  read -r u1 s1 < <(ticks "$3")
  n=$(echo "$out" | awk '/^requests:/ {print $8}')
  rps[$1]+="$(echo "$out" | awk '/^finished in/ {print $4}') "
  p50[$1]+="- "
  p99[$1]+="- "
  cpu[$1]+="$(per_request $((u1 - u0 + s1 - s0)) "$n") "
  usr[$1]+="$(per_request $((u1 - u0)) "$n") "
  sys[$1]+="$(per_request $((s1 - s0)) "$n") "
}
for round in $(seq "$rounds"); do
  measure upstream "$u1" "$upstream_worker"
  measure laneproxy "$lp" "$lp_pid"
  measure laneproxy-epoll "$lpe" "$lpe_pid"
  measure nginx "$np" "$nginx_worker"
  measure haproxy "$hp" "$haproxy_pid"
  measure_h2 "laneproxy-h2" "$lp" "$lp_pid"
  measure_h2 "nginx-h2" "$np2" "$nginx_worker"
  measure_h2 "haproxy-h2" "$hp2" "$haproxy_pid"
done
# System calls per request: strace -c on the process $3 while the target
# $1 on port $2 serves a fixed count of keep-alive requests (strace slows
# it; the count is what matters). Sets calls[$1] and top[$1] (the three
# most frequent calls per request).
declare -A calls top
syscalls() {
  local n=20000
  strace -c -f -q -p "$3" -o "$work/$1.strace" &
  local tracer=$!
  sleep 0.5
  taskset -c 1 "$bin/laneproxy-bench" "http://127.0.0.1:$2/mock" -n "$n" -c 64 >/dev/null
  kill -INT "$tracer"
  wait "$tracer" || true
  calls[$1]=$(awk -v n="$n" '$NF == "total" {printf "%.2f", $4 / n}' "$work/$1.strace")
  top[$1]=$(awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {print $4, $NF}' "$work/$1.strace" |
    sort -rn | head -3 | awk -v n="$n" '{printf "%s%s %.2f", (NR > 1 ? ", " : ""), $2, $1 / n}')
}
syscalls laneproxy "$lp" "$lp_pid"
syscalls laneproxy-epoll "$lpe" "$lpe_pid"
syscalls nginx "$np" "$nginx_worker"
syscalls haproxy "$hp" "$haproxy_pid"

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A rss=([upstream]=$(peak_kib "$upstream_worker") [laneproxy]=$(peak_kib "$lp_pid")
  [laneproxy-epoll]=$(peak_kib "$lpe_pid")
  [nginx]=$(peak_kib "$nginx_worker") [haproxy]=$(peak_kib "$haproxy_pid"))
rss[laneproxy-h2]=${rss[laneproxy]} rss[nginx-h2]=${rss[nginx]} rss[haproxy-h2]=${rss[haproxy]}

# laneproxy's resident memory with 1,000 idle keep-alive connections, each
# having served one request.
idle_rss=$(python3 - "$lp" "$lp_pid" <<'PY'
import socket, sys
port, pid = int(sys.argv[1]), sys.argv[2]
conns = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /mock HTTP/1.1\r\nHost: bench\r\n\r\n")
    s.recv(4096)
    conns.append(s)
rss = [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0]
print(rss)
PY
)

mkdir -p bench/results
table=bench/results/peers-$(date -u +%Y%m%d-%H%M%S).md
{
  echo "| target | req/s | p50 ms | p99 ms | CPU µs/request | user µs | system µs | peak RSS KiB |"
  echo "|---|---|---|---|---|---|---|---|"
  for t in upstream laneproxy laneproxy-epoll nginx haproxy laneproxy-h2 nginx-h2 haproxy-h2; do
    echo "| $t | $(echo "${rps[$t]}" | median) | $(echo "${p50[$t]}" | median) | $(echo "${p99[$t]}" | median) | $(echo "${cpu[$t]}" | median) | $(echo "${usr[$t]}" | median) | $(echo "${sys[$t]}" | median) | ${rss[$t]} |"
  done
  echo
  echo "laneproxy: io_uring; laneproxy-epoll: the same binary with --io epoll (HTTP/1.1 rows only)."
  echo "The -h2 rows: HTTP/2 with prior knowledge from h2load (no latency percentiles); peak RSS is the process's over both protocols."
  echo
  echo "| proxy | system calls per request | most frequent, per request |"
  echo "|---|---|---|"
  for t in laneproxy laneproxy-epoll nginx haproxy; do echo "| $t | ${calls[$t]} | ${top[$t]} |"; done
  echo "laneproxy with 1,000 idle keep-alive connections: RSS ${idle_rss} KiB"
} | tee "$table"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
lp_rps=$(echo "${rps[laneproxy]}" | median) ng_rps=$(echo "${rps[nginx]}" | median)
ha_rps=$(echo "${rps[haproxy]}" | median)
lp_cpu=$(echo "${cpu[laneproxy]}" | median) ng_cpu=$(echo "${cpu[nginx]}" | median)
ha_cpu=$(echo "${cpu[haproxy]}" | median)
echo "laneproxy/nginx: req/s $(ratio "$lp_rps" "$ng_rps"), CPU $(ratio "$lp_cpu" "$ng_cpu"); laneproxy/haproxy: req/s $(ratio "$lp_rps" "$ha_rps"), CPU $(ratio "$lp_cpu" "$ha_cpu") ($rounds rounds of ${seconds}s, medians; $table)"
if [ "$json" = 1 ]; then
  echo "{\"laneproxy_vs_nginx_rps_ratio\": $(ratio "$lp_rps" "$ng_rps"), \"laneproxy_vs_haproxy_rps_ratio\": $(ratio "$lp_rps" "$ha_rps"), \"laneproxy_vs_nginx_cpu_ratio\": $(ratio "$lp_cpu" "$ng_cpu"), \"laneproxy_vs_haproxy_cpu_ratio\": $(ratio "$lp_cpu" "$ha_cpu"), \"rps\": {\"upstream\": $(echo "${rps[upstream]}" | median), \"laneproxy\": $lp_rps, \"laneproxy_epoll\": $(echo "${rps[laneproxy-epoll]}" | median), \"nginx\": $ng_rps, \"haproxy\": $ha_rps}, \"cpu_us_per_request\": {\"laneproxy\": $lp_cpu, \"laneproxy_epoll\": $(echo "${cpu[laneproxy-epoll]}" | median), \"nginx\": $ng_cpu, \"haproxy\": $ha_cpu}, \"peak_rss_kib\": {\"laneproxy\": ${rss[laneproxy]}, \"nginx\": ${rss[nginx]}, \"haproxy\": ${rss[haproxy]}}, \"syscalls_per_request\": {\"laneproxy\": ${calls[laneproxy]}, \"laneproxy_epoll\": ${calls[laneproxy-epoll]}, \"nginx\": ${calls[nginx]}, \"haproxy\": ${calls[haproxy]}}, \"laneproxy_rss_kib_1000_idle\": $idle_rss}"
fi
