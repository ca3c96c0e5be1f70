# Shared by the benchmark scripts (sourced, not run): a scratch folder and
# the processes started into it, both cleaned up on exit, and free ports.
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A port on 127.0.0.1 that was free a moment ago.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Writes a gateway bootstrap to $1 for the mesh folder $2, listening on
# 127.0.0.1:$3, with mocka's lanes v1 and v2 at 127.0.0.1:$4 and :$5; any
# further arguments are added as lines ("metrics: false").
gateway_bootstrap() {
  local file=$1 mesh=$2 port=$3 v1=$4 v2=$5
  shift 5
  {
    cat <<YAML
mesh: $mesh
gateway: {name: istio-system/ingressgateway, listen: 127.0.0.1:$port}
accessLog: "off"
endpoints:
  mocka:
    v1: [127.0.0.1:$v1]
    v2: [127.0.0.1:$v2]
YAML
    for line in "$@"; do echo "$line"; done
  } >"$file"
}

# The sample mesh (config/swimlane) in $work/mesh with mocka split 90:10
# between v1 and v2, the split every comparison with nginx and HAProxy uses.
split_mesh() {
  mkdir -p "$work/mesh"
  cp config/swimlane/*.yaml "$work/mesh/"
  sed -e '0,/weight: 50/s//weight: 90/' -e '0,/weight: 50/s//weight: 10/' \
    config/swimlane/mock-route.yaml >"$work/mesh/mock-route.yaml"
}

# Writes $work/$1.conf: one nginx worker in the foreground, its error log
# and pid in $work, no access log, and the http block's content $2.
nginx_conf() {
  cat >"$work/$1.conf" <<NGINX
worker_processes 1;
daemon off;
error_log $work/$1-error.log;
pid $work/$1.pid;
events { worker_connections 4096; }
http { access_log off; $2 }
NGINX
}

# Waits up to $2 tenths of a second (default 50) for the line $3 (default
# "laneproxy: ready") in the log $1.
wait_ready() {
  local line=${3:-laneproxy: ready}
  for _ in $(seq "${2:-50}"); do
    grep -q "$line" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "never got \"$line\": $1" >&2
  cat "$1" >&2 2>/dev/null || true
  return 1
}

# Instructions (callgrind) of one gateway run of $1/laneproxy on the
# bootstrap $2, one worker, listening on 127.0.0.1:$3, that serves $4
# requests to /mock on one connection, one at a time: keep-alive HTTP/1.1
# (curl), or HTTP/2 with prior knowledge (h2load) when $5 is h2.
callgrind_run() {
  local bin=$1 boot=$2 port=$3 n=$4 protocol=${5:-h1}
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$bin/laneproxy" run --config "$boot" --concurrency 1 >"$work/gw.log" 2>&1 &
  local pid=$!
  wait_ready "$work/gw.log" 300
  if [ "$protocol" = h2 ]; then
    h2load -n "$n" -c 1 -m 1 "http://127.0.0.1:$port/mock" >/dev/null
  else
    curl -s -o /dev/null "http://127.0.0.1:$port/mock?[1-$n]"
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  awk '/^summary:/ {print $2}' "$work/cg.out"
}
