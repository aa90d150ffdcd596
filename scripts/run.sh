#!/usr/bin/env bash
# Installs what sluice needs, builds it, and runs its main job on the
# defaults: `sluice plan` on the example cluster in examples/.
# Usage: scripts/run.sh [snapshot.yaml] [more sluice plan options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
snapshot=${1:-examples/three-departments.yaml}
shift || true
echo
echo "== sluice plan -f $snapshot $* =="
./build/sluice plan -f "$snapshot" "$@"
echo
echo "Next: ./build/sluice plan -f $snapshot --settle --json   (see docs/cli.md)"
