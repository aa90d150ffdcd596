#!/usr/bin/env bash
# Installs what sluice needs, builds it, and starts the server on its
# embedded defaults: state in SQLite under the data directory, the API on
# http://127.0.0.1:8080 and on a local Unix socket, and simulated GPUs where
# the machine has none. Prints how to submit a first workload, then serves
# until Ctrl-C.
# Usage: scripts/run.sh [more `sluice server` options, e.g. --gpus sim:4xA100:40Gi]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
./build/sluice server "$@" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' INT TERM EXIT
for _ in $(seq 100); do
  ./build/sluice whoami >/dev/null 2>&1 && break
  if ! kill -0 $server 2>/dev/null; then
    echo "run: the server stopped; see its messages above" >&2
    exit 1
  fi
  sleep 0.1
done
./build/sluice project list --json | grep -q '"name"' ||
  ./build/sluice project create demo --gpu-quota 4 >/dev/null
cat <<'MSG'

sluice is running (Ctrl-C stops it). The web UI is at http://127.0.0.1:8080/
(sign in with the admin token the server wrote to its data directory, above).
In another terminal, try:

  ./build/sluice submit hello -p demo --gpu 0.5 -- sh -c 'echo hello on $CUDA_VISIBLE_DEVICES; sleep 60'
                                         # prints the id and queue position
  ./build/sluice list                    # status, GPUs allocated/used, wait, why it waits
  ./build/sluice logs hello -p demo -f   # its output
  ./build/sluice share                   # fair share vs quota vs allocation
  ./build/sluice top nodes               # who holds which GPU

Over HTTP, with the admin token the server wrote to its data directory (above):
  curl -H "Authorization: Bearer $(cat DATA_DIR/admin-token)" http://127.0.0.1:8080/api/v1/workloads
docs/api.md lists the API, docs/cli.md every command, docs/operations.md how to run it.
MSG
wait $server
