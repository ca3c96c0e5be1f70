#!/usr/bin/env bash
# Installs the Debian packages laneproxy builds and tests with. Idempotent and
# non-interactive: when every package is present it changes nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format curl
  libboost1.81-dev libyaml-cpp-dev prometheus-cpp-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus
)

missing=()
for p in "${packages[@]}"; do
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
