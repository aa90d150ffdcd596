#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and its driver: checks sluice's NVML
# discovery and telemetry against nvidia-smi's own figures, and that a
# workload sees exactly its GPU. Needs a built sluice (scripts/build.sh).
# Usage: scripts/gpu-check.sh        (exit 0 when every check passes)
#        scripts/gpu-check.sh vgpu   the interception library's checks (scripts/gpu-check-vgpu.sh)
#        scripts/gpu-check.sh mig    on a GPU already in MIG mode (scripts/gpu-check-mig.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = vgpu ]; then exec scripts/gpu-check-vgpu.sh; fi
if [ "${1:-}" = mig ]; then exec scripts/gpu-check-mig.sh; fi
command -v nvidia-smi >/dev/null || { echo "gpu-check: nvidia-smi not found; this needs a GPU machine" >&2; exit 2; }
dir=$(mktemp -d /tmp/sluice-gpu-check.XXXXXX)
./build/sluice server --data-dir "$dir/data" --no-listen --socket "$dir/s.sock" --gpus auto \
  --telemetry-ms 500 >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; pkill -9 -f "$dir/data/pods" 2>/dev/null; rm -rf "$dir"' EXIT
export SLUICE_SOCKET="$dir/s.sock"
for _ in $(seq 100); do ./build/sluice whoami >/dev/null 2>&1 && break; sleep 0.1; done
fail=0
check() { if [ "$2" = "$3" ]; then echo "ok   $1: $2"; else echo "FAIL $1: sluice $2, nvidia-smi $3"; fail=1; fi; }
grep -q "discovered through NVML" "$dir/server.log" || { echo "FAIL discovery:"; cat "$dir/server.log"; exit 1; }
smi=$(nvidia-smi --query-gpu=index,uuid,name,memory.total,utilization.gpu --format=csv,noheader,nounits)
nodes=$(./build/sluice top nodes --json)
count=$(echo "$smi" | wc -l)
check "GPU count" "$(echo "$nodes" | grep -c '"index"')" "$count"
first_uuid=$(echo "$smi" | head -1 | cut -d, -f2 | tr -d ' ')
first_mem=$(echo "$smi" | head -1 | cut -d, -f4 | tr -d ' ')
mem=$(echo "$nodes" | grep -m1 '"memory"' | grep -oE '[0-9]+')
unit=$(echo "$nodes" | grep -m1 '"memory"' | grep -oE '(Mi|Gi)')
[ "$unit" = "Gi" ] && mem=$((mem * 1024))
check "device 0 memory (MiB)" "$mem" "$first_mem"
sleep 1
util_smi=$(nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits | head -1 | tr -d ' ')
util=$(./build/sluice top nodes --json | grep -m1 '"utilization"' | grep -oE '[0-9.]+' | head -1)
util_pct=$(awk -v u="${util:-0}" 'BEGIN { printf "%d", u * 100 + 0.5 }')
diff=$(( util_pct > util_smi ? util_pct - util_smi : util_smi - util_pct ))
if [ "$diff" -le 15 ]; then echo "ok   device 0 utilisation: $util_pct% vs $util_smi%"; else echo "FAIL device 0 utilisation: $util_pct% vs $util_smi%"; fail=1; fi
./build/sluice project create gpucheck --gpu-quota "$count" >/dev/null
./build/sluice submit see -p gpucheck --gpu 1 --workdir /tmp -- sh -c 'echo $CUDA_VISIBLE_DEVICES; nvidia-smi -L' >/dev/null
for _ in $(seq 100); do ./build/sluice list -p gpucheck --json | grep -q '"Succeeded"\|"Failed"' && break; sleep 0.1; done
seen=$(./build/sluice logs see -p gpucheck | head -1)
check "CUDA_VISIBLE_DEVICES of a 1-GPU workload" "$seen" "$first_uuid"
./build/sluice logs see -p gpucheck | tail -n +2
exit $fail
