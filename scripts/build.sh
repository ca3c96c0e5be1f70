#!/usr/bin/env bash
# Configures and builds one build folder, warnings as errors.
# Usage: scripts/build.sh DIR [cmake -D options...] [-- ninja targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
shift
jobs=$(nproc 2>/dev/null || echo 2)
options=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  options+=("$1")
  shift
done
[ "${1:-}" = "--" ] && shift
cmake -S . -B "$dir" -G Ninja -DLANEPROXY_WERROR=ON "${options[@]}" >/dev/null
cmake --build "$dir" -j "$jobs" ${1:+--target "$@"}
