#!/usr/bin/env bash
# Builds the web UI into web/dist: installs its npm packages exactly as
# web/package-lock.json pins them (npm ci) when they are missing or the lock
# file changed, then type-checks and bundles it with Vite.
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
