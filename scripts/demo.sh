#!/usr/bin/env bash
# The main job: set up, build, and check the project's lane sample with
# `laneproxy validate` (the same compiler the proxy loads its config with).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DLANEPROXY_TESTS=OFF -DLANEPROXY_BENCH=OFF
echo "== laneproxy validate config/swimlane"
./build/bin/laneproxy validate config/swimlane
