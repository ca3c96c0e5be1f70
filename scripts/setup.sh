#!/usr/bin/env bash
# Installs the Debian packages laneproxy needs. Idempotent and
# non-interactive: when every package is present it changes nothing.
#
#   scripts/setup.sh [all|build|runtime]
#
#   runtime  what the executables load, and iptables (copied into the image)
#   build    a compiler and the libraries' headers (a container's build stage)
#   all      build, plus what the tests and benchmarks use (the default)
set -euo pipefail

runtime=(libprometheus-cpp-core1.0 libyaml-cpp0.7 libre2-9 libnghttp2-14 libc-ares2 liburing2 iptables)
build=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libyaml-cpp-dev prometheus-cpp-dev libre2-dev libnghttp2-dev libc-ares-dev
  liburing-dev
)
tests=(clang-format curl iproute2 npm libgtest-dev libgmock-dev libbenchmark-dev prometheus python3
  clang libclang-rt-14-dev nghttp2-client python3-grpcio python3-websockets
  python3-h2 python3-wsproto chromium fonts-dejavu-core dnsmasq-base iptables python3-yaml
  docker.io debootstrap)

case "${1:-all}" in
  runtime) packages=("${runtime[@]}") ;;
  build) packages=("${build[@]}") ;;
  all) packages=("${build[@]}" "${tests[@]}") ;;
  *)
    echo "usage: scripts/setup.sh [all|build|runtime]" >&2
    exit 2
    ;;
esac
missing=()
for p in "${packages[@]}"; do
  # A machine that has Node.js's npm from elsewhere needs no Debian one.
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
