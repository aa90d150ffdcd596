#!/usr/bin/env bash
# On a machine whose NVIDIA GPU is already in MIG mode (with at least one
# GPU instance and its compute instance, e.g. made by `nvidia-smi mig -cgi
# 1g.10gb -C`): checks that sluice reads the layout through NVML as
# nvidia-smi shows it, and that a workload asking for that profile runs on
# an instance and sees it, and only it, as CUDA_VISIBLE_DEVICES=MIG-<uuid>.
# The server runs without --mig-dynamic, so it changes no layout; the
# script checks at the end that the layout is exactly as it found it.
# Needs a built sluice (scripts/build.sh).
# Usage: scripts/gpu-check.sh mig   (exit 0 when every check passes, 2 when
#        the machine has no GPU in MIG mode)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nvidia-smi >/dev/null || { echo "gpu-check mig: nvidia-smi not found; this needs a GPU machine" >&2; exit 2; }
[ -x build/sluice ] || { echo "gpu-check mig: build sluice first (scripts/build.sh)" >&2; exit 2; }
modes=$(nvidia-smi --query-gpu=index,mig.mode.current --format=csv,noheader 2>/dev/null || true)
mig_gpus=$(echo "$modes" | awk -F', *' '$2 == "Enabled" { print $1 }')
if [ -z "$mig_gpus" ]; then
  echo "gpu-check mig: no GPU is in MIG mode (nvidia-smi says: $(echo "$modes" | tr '\n' ' '))" >&2
  echo "  turn it on first, as root: nvidia-smi -i 0 -mig 1 && nvidia-smi mig -i 0 -cgi 1g.10gb -C" >&2
  exit 2
fi
dir=$(mktemp -d /tmp/sluice-gpu-check-mig.XXXXXX)
layout() { nvidia-smi mig -lgi 2>&1 | grep -E '^\|' || true; nvidia-smi -L; }
layout >"$dir/layout-before"
# The MIG devices and their UUIDs as nvidia-smi lists them (GPU 0: ... / MIG 1g.10gb Device 0: (UUID: MIG-...)).
mig_uuids=$(nvidia-smi -L | grep -oE 'MIG-[0-9a-fA-F-]+' | sort)
if [ -z "$mig_uuids" ]; then
  echo "gpu-check mig: GPU(s) $(echo $mig_gpus) are in MIG mode but have no instance with a compute instance;" >&2
  echo "  make one first, as root: nvidia-smi mig -i $(echo "$mig_gpus" | head -1) -cgi 1g.10gb -C" >&2
  rm -rf "$dir"; exit 2
fi
# The profile of the first GPU instance: `nvidia-smi mig -lgi` rows read
# "|   0  MIG 1g.10gb          19        7          0:1     |".
profile=$(nvidia-smi mig -lgi | grep -oE 'MIG [0-9]g\.[0-9]+gb(\+me)?' | head -1 | cut -d' ' -f2)
./build/sluice server --data-dir "$dir/data" --no-listen --socket "$dir/s.sock" --gpus auto \
  --telemetry-ms 500 >"$dir/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
export SLUICE_SOCKET="$dir/s.sock"
for _ in $(seq 100); do ./build/sluice whoami >/dev/null 2>&1 && break; sleep 0.1; done
fail=0
check() { if [ "$2" = "$3" ]; then echo "ok   $1: $2"; else echo "FAIL $1: sluice $2, nvidia-smi $3"; fail=1; fi; }
grep -q "discovered through NVML" "$dir/server.log" || { echo "FAIL discovery:"; cat "$dir/server.log"; exit 1; }
# The layout: every MIG device nvidia-smi lists is one sluice lists, with the same UUID.
seen=$(./build/sluice top nodes --json | grep -oE '"uuid": *"MIG-[0-9a-fA-F-]+"' | grep -oE 'MIG-[0-9a-fA-F-]+' | sort)
check "MIG devices" "$(echo "$seen" | wc -l | tr -d ' ')" "$(echo "$mig_uuids" | wc -l | tr -d ' ')"
check "MIG device UUIDs" "$(echo "$seen" | tr '\n' ' ')" "$(echo "$mig_uuids" | tr '\n' ' ')"
if [ -z "$profile" ]; then
  echo "FAIL could not read a GPU instance profile from nvidia-smi mig -lgi"; exit 1
fi
echo "info running a workload on a $profile instance"
./build/sluice project create gpucheck --gpu-quota 8 >/dev/null
./build/sluice submit on-mig -p gpucheck --mig "$profile" --workdir /tmp -- \
  sh -c 'echo $CUDA_VISIBLE_DEVICES; python3 -c "import torch; print(torch.cuda.device_count(), torch.cuda.get_device_name(0))" 2>/dev/null || echo no-torch' >/dev/null
state=""
for _ in $(seq 300); do
  state=$(./build/sluice list -p gpucheck --json | grep -oE '"(Succeeded|Failed)"' | head -1 || true)
  [ -n "$state" ] && break
  sleep 0.1
done
if [ -z "$state" ]; then
  echo "FAIL the workload did not finish; it says:"; ./build/sluice describe on-mig -p gpucheck; fail=1
else
  visible=$(./build/sluice logs on-mig -p gpucheck | head -1)
  case "$visible" in
    MIG-*) if echo "$mig_uuids" | grep -qx "$visible"; then echo "ok   CUDA_VISIBLE_DEVICES of a MIG workload: $visible"; else echo "FAIL CUDA_VISIBLE_DEVICES $visible is not a MIG device nvidia-smi lists"; fail=1; fi ;;
    *) echo "FAIL CUDA_VISIBLE_DEVICES of a MIG workload: \"$visible\" (expected MIG-<uuid>)"; fail=1 ;;
  esac
  # Inside, CUDA sees its instance and nothing else (nvidia-smi ignores
  # CUDA_VISIBLE_DEVICES, so this asks PyTorch when it is installed).
  inside=$(./build/sluice logs on-mig -p gpucheck | sed -n 2p)
  if [ "$inside" = no-torch ]; then
    echo "skip CUDA device count inside the workload (no PyTorch with CUDA here)"
  else
    check "CUDA devices the workload sees" "${inside%% *}" "1"
    echo "info inside: $inside"
  fi
fi
./build/sluice describe on-mig -p gpucheck | grep -i isolation || true
layout >"$dir/layout-after"
if diff -u "$dir/layout-before" "$dir/layout-after"; then
  echo "ok   the MIG layout is as it was"
else
  echo "FAIL the MIG layout changed (see the diff above)"; fail=1
fi
exit $fail
