#!/usr/bin/env bash
# Load benchmark of durable submissions: starts a server on a fresh data
# directory (simulated GPUs), creates project "load", and drives
# POST /api/v1/projects/load/workloads with wrk; every 201 was committed to
# SQLite (synchronous=FULL) before it was sent.
# Usage: scripts/load-bench.sh [seconds, default 20] [connections, default 32] [wrk threads, default 2]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
connections=${2:-32}
threads=${3:-2}
dir=$(mktemp -d /tmp/sluice-load.XXXXXX)
log="$dir/server.log"
./build/sluice server --data-dir "$dir/data" --listen 127.0.0.1:0 \
  --socket "$dir/sluice.sock" --gpus sim:8xH100-80GB --executor sim >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  grep -q "listening on http" "$log" && [ -s "$dir/data/admin-token" ] && break
  sleep 0.1
done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1)
token=$(cat "$dir/data/admin-token")
./build/sluice --server "$url" --token "$token" project create load --gpu-quota 8 >/dev/null
./build/sluice --server "$url" --token "$token" project create idle --gpu-quota 8 >/dev/null
# On the idle server: how long from a submission to its bind (the debounced
# cycle), over 20 submissions one at a time.
for i in $(seq 20); do
  ./build/sluice --server "$url" --token "$token" submit "w$i" -p idle --gpu 0.125 -- true >/dev/null
  sleep 0.05
done
./build/sluice --server "$url" --token "$token" list -p idle --json |
  grep -oE '"(submitted|started)": "[^"]*"' | cut -d'"' -f4 |
  while read -r started && read -r submitted; do
    echo $(( $(date -d "$started" +%s%3N) - $(date -d "$submitted" +%s%3N) ))
  done | sort -n | awk '{a[NR]=$1} END {print "idle server, submit to bind: median " a[int((NR+1)/2)] " ms, max " a[NR] " ms over " NR}'
echo "wrk: $threads threads, $connections connections, ${seconds}s against $url"
wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s bench/load/submit.lua "$url" -- "$token" |
  grep -E "requests:|latency ms:|unexpected"
curl -s -H "Authorization: Bearer $token" "$url/metrics" | grep -E "^sluice_scheduling_cycle_duration_seconds_(sum|count)|^sluice_api_request_duration_seconds_(sum|count)" || true
accepted=$(./build/sluice --server "$url" --token "$token" list -p load --json | grep -c '"phase"')
echo "workloads stored: $accepted"
