#!/bin/sh
# Installs Node-RED and the Home Assistant palette, exactly as scripts/env/node-red/'s lock pins
# them (npm ci, from npm's default registry), into DIR. Called by scripts/setup; runs inside the
# environment it fills.
#   scripts/env/install-node-red.sh DIR
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$1
mkdir -p "$dir"
cp "$repo/scripts/env/node-red/package.json" "$repo/scripts/env/node-red/package-lock.json" "$dir/"
cd "$dir"
npm ci --omit=dev --no-audit --no-fund --loglevel=error
