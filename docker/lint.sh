#!/usr/bin/env bash
# Lints docker/Dockerfile offline with dockerfilelint (from the npm registry,
# installed once into .cache/; no Docker engine needed).
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.8.0
tools=.cache/dockerfilelint-$version
if [ ! -x "$tools/node_modules/.bin/dockerfilelint" ]; then
  npm install --prefix "$tools" --no-audit --no-fund --silent "dockerfilelint@$version" >/dev/null
fi
"$tools/node_modules/.bin/dockerfilelint" docker/Dockerfile
