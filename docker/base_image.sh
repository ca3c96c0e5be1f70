#!/usr/bin/env bash
# Makes the image the build stage starts from without any image registry:
# Debian 12 by debootstrap (minbase, from its default archive), imported
# with `docker import`. The tarball is cached, so a machine builds it once.
#
#   docker/base_image.sh [TAG]        (default laneproxy-base:bookworm)
set -euo pipefail
tag=${1:-laneproxy-base:bookworm}
docker=/usr/bin/docker
cache=${LANEPROXY_CACHE:-/var/cache/laneproxy}
tarball=$cache/debian-bookworm-minbase.tar

"$docker" image inspect "$tag" >/dev/null 2>&1 && exit 0
if ! [ -s "$tarball" ]; then
  command -v debootstrap >/dev/null || {
    echo "docker/base_image.sh: debootstrap is not installed (scripts/setup.sh installs it)" >&2
    exit 1
  }
  mkdir -p "$cache"
  root=$(mktemp -d "$cache/root.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "docker/base_image.sh: debootstrap of Debian 12 into $root" >&2
  debootstrap --variant=minbase bookworm "$root" >"$cache/debootstrap.log"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar --numeric-owner -C "$root" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
fi
"$docker" import "$tarball" "$tag" >/dev/null
echo "docker/base_image.sh: $tag from $tarball" >&2
