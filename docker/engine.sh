#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock: Debian's
# docker.io, started here when none runs (its log in /var/log/dockerd.log).
#
#   docker/engine.sh
set -euo pipefail
docker=/usr/bin/docker
if ! [ -x "$docker" ] || ! [ -x /usr/sbin/dockerd ]; then
  echo "docker/engine.sh: Debian's docker.io is not installed (scripts/setup.sh installs it)" >&2
  exit 1
fi
"$docker" info >/dev/null 2>&1 && exit 0

[ "$(id -u)" -eq 0 ] || { echo "docker/engine.sh: starting dockerd needs root" >&2; exit 1; }
echo "docker/engine.sh: starting dockerd" >&2
nohup /usr/sbin/dockerd >>/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  "$docker" info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "docker/engine.sh: dockerd did not answer within 60 s; its log:" >&2
tail -n 30 /var/log/dockerd.log >&2
exit 1
