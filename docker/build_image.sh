#!/usr/bin/env bash
# Builds laneproxy:local from docker/Dockerfile on a machine without any
# image registry: starts the Docker engine when none runs, makes the Debian
# 12 base image (cached), then builds with BuildKit. The build's log goes to
# LOG (default: the terminal).
#
#   docker/build_image.sh [LOG]
set -euo pipefail
cd "$(dirname "$0")/.."
bash docker/engine.sh
bash docker/base_image.sh laneproxy-base:bookworm
build=(/usr/bin/docker build --progress=plain --network host
  --build-arg BASE=laneproxy-base -t laneproxy:local -f docker/Dockerfile .)
if [ -z "${1:-}" ]; then
  DOCKER_BUILDKIT=1 "${build[@]}"
elif ! DOCKER_BUILDKIT=1 "${build[@]}" >"$1" 2>&1; then
  tail -n 40 "$1" >&2
  exit 1
fi
/usr/bin/docker image ls laneproxy:local --format 'laneproxy:local: {{.Size}}' >&2
