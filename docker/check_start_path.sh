#!/usr/bin/env bash
# The image's start path without Docker: the set-up script's build and
# runtime package lists install (idempotent), the executables install as the
# build stage installs them, and everything they load comes from the run
# stage's packages or from what debian:bookworm-slim already has.
#
#   bash docker/check_start_path.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: docker/check_start_path.sh BUILD_DIR}
bash scripts/setup.sh build
bash scripts/setup.sh runtime

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cmake --install "$build" --prefix "$stage" --strip >/dev/null
installed=$(ls "$stage/bin" | tr '\n' ' ')
if [ "$installed" != "laneproxy laneproxy-bench laneproxy-mock " ]; then
  echo "installed executables: $installed" >&2
  exit 1
fi

# What the run stage provides: its packages, and the slim base's C and C++
# runtimes.
runtime=$(sed -n 's/^runtime=(\(.*\))$/\1/p' scripts/setup.sh)
allowed=" $runtime libc6 libstdc++6 libgcc-s1 "
status=0
for exe in "$stage"/bin/*; do
  for lib in $(ldd "$exe" | awk '/=>/ {print $3}'); do
    # dpkg knows a file by one of its names (merged /usr): try both.
    package=$( (dpkg -S "$lib" || dpkg -S "$(readlink -f "$lib")") 2>/dev/null | head -1 | cut -d: -f1 || true)
    if [[ "$allowed" != *" $package "* ]]; then
      echo "$(basename "$exe") loads $lib from package '${package:-none}', not in the image" >&2
      status=1
    fi
  done
done
[ $status -eq 0 ] && echo "start path: 3 executables; every library they load is in the image"
exit $status
