#!/usr/bin/env bash
# The image's size, as a registry counts it (compressed layers) and as a
# node stores it (unpacked), and what it is made of. Build it first
# (docker/build_image.sh). Envoy's distroless image is the figure to beat
# (bench/README.md).
#
#   bash bench/image_size.sh [IMAGE]
set -euo pipefail
image=${1:-laneproxy:local}
docker=/usr/bin/docker
unpacked=$("$docker" image inspect -f '{{.Size}}' "$image")
# A registry stores each layer gzip-compressed: `docker save`'s layers, gzipped.
compressed=$("$docker" save "$image" | gzip -6 | wc -c)
awk -v i="$image" -v u="$unpacked" -v c="$compressed" 'BEGIN {
  printf "image %s\n  unpacked   %6.1f MB\n  compressed %6.1f MB (docker save | gzip -6)\n",
    i, u / 1e6, c / 1e6 }'
# What the bytes are: the largest files of the root.
container=$("$docker" create "$image")
trap '"$docker" rm "$container" >/dev/null' EXIT
"$docker" export "$container" | tar -tvf - | sort -k3 -n -r | head -12 |
  awk '{printf "  %8.1f MB  %s\n", $3 / 1000000, $6}'
