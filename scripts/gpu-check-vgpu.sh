#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (driver, nvcc and PyTorch present): checks
# libsluice-vgpu on device 0 for real and prints a summary table.
#   - PyTorch under a 25% memory limit: mem_get_info() reports the limit and
#     allocating past it raises an out-of-memory error; the same with
#     expandable segments (cuMemCreate) and with the cudaMallocAsync backend
#   - two processes of one workload together stay within one limit
#   - nvidia-smi inside the workload shows the limit as the total
#   - two workloads at 25% and 75% compute share running the same saturating
#     kernel loop: throughput within 10% of 1:3
#   - launch and allocation latency with and without the library (no compute
#     share): under 2% slower
# Usage: scripts/gpu-check.sh vgpu   (exit 0 when every check passes)
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in nvidia-smi nvcc python3; do
  command -v "$tool" >/dev/null || { echo "gpu-check vgpu: $tool not found; this needs a GPU machine with CUDA and PyTorch" >&2; exit 2; }
done
python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null ||
  { echo "gpu-check vgpu: PyTorch with CUDA is needed" >&2; exit 2; }
[ -f build/build.ninja ] || scripts/build.sh >/dev/null
ninja -C build sluice_vgpu >/dev/null
lib=$PWD/build/libsluice-vgpu.so
dir=$(mktemp -d /tmp/sluice-vgpu-check.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
export CUDA_VISIBLE_DEVICES=0
total_mib=$(nvidia-smi -i 0 --query-gpu=memory.total --format=csv,noheader,nounits | tr -d ' ')
limit=$((total_mib * 1024 * 1024 / 4))
limit_mib=$((limit >> 20))
fail=0
rows=()
row() {  # check, expected, measured, ok (0/1)
  rows+=("$(printf '%-44s %-26s %-26s %s' "$1" "$2" "$3" "$([ "$4" = 1 ] && echo ok || echo FAIL)")")
  [ "$4" = 1 ] || fail=1
}
# Runs a command as a process of workload $1 under the library.
in_workload() {
  local w=$1; shift
  env LD_PRELOAD="$lib" SLUICE_VGPU_DIR="$dir/$w" SLUICE_GPU_MEMORY_LIMIT="$limit" "$@"
}

cat >"$dir/fill.py" <<'PY'
# Reports what PyTorch sees, fills the device in 64 MiB tensors until the
# allocator refuses, and optionally holds the memory until a file appears.
import os, sys, time, torch
free, total = torch.cuda.mem_get_info()
held, got = [], 0
try:
    while got < 4 * total:
        held.append(torch.empty(64 << 20, dtype=torch.uint8, device="cuda"))
        got += 64 << 20
    oom = 0
except torch.cuda.OutOfMemoryError:
    oom = 1
print(total, got, oom, flush=True)
if len(sys.argv) > 1:
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.05)
PY
for conf in "" "expandable_segments:True" "backend:cudaMallocAsync"; do
  out=$(in_workload "torch-${conf%%:*}" env PYTORCH_CUDA_ALLOC_CONF="$conf" python3 "$dir/fill.py") || true
  read -r seen got oom <<<"${out:-0 0 0}"
  name="PyTorch${conf:+ ($conf)}"
  row "$name: mem_get_info total (MiB)" "$limit_mib" "$((seen >> 20))" "$([ "$seen" = "$limit" ] && echo 1 || echo 0)"
  row "$name: OOM past the limit" "OOM, <= $limit_mib MiB" "oom=$oom, $((got >> 20)) MiB" \
    "$([ "$oom" = 1 ] && [ "$got" -le "$limit" ] && echo 1 || echo 0)"
done

# Two processes of one workload fill the device together.
for i in 1 2; do in_workload shared python3 "$dir/fill.py" "$dir/release" >"$dir/shared.$i" & done
for _ in $(seq 600); do [ -s "$dir/shared.1" ] && [ -s "$dir/shared.2" ] && break; sleep 0.1; done
both=$(( $(cut -d' ' -f2 "$dir/shared.1" || echo 0) + $(cut -d' ' -f2 "$dir/shared.2" || echo 0) ))
touch "$dir/release"; wait
row "two processes, one workload: together (MiB)" "<= $limit_mib" "$((both >> 20))" "$([ "$both" -le "$limit" ] && echo 1 || echo 0)"

smi=$(in_workload smi nvidia-smi -i 0 --query-gpu=memory.total --format=csv,noheader,nounits | tr -d ' ') || true
row "nvidia-smi inside: memory.total (MiB)" "$limit_mib" "$smi" "$([ "$smi" = "$limit_mib" ] && echo 1 || echo 0)"

cat >"$dir/bench.cu" <<'CU'
// spin SECONDS: saturating kernel loop, prints launches done; launch N: us
// per empty-kernel launch; alloc N: us per cudaMalloc+cudaFree of 1 MiB.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
__global__ void Spin(long long cycles) {
  long long start = clock64();
  while (clock64() - start < cycles) {}
}
__global__ void Empty() {}
int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const char* mode = argv[1];
  const double arg = atof(argv[2]);
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  cudaFree(0);
  auto t0 = Clock::now();
  auto secs = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  if (!strcmp(mode, "spin")) {
    long long done = 0;
    while (secs() < arg) {
      for (int i = 0; i < 8; ++i) Spin<<<sms * 4, 128>>>(1000000);
      cudaDeviceSynchronize();
      done += 8;
    }
    printf("%lld\n", done);
  } else if (!strcmp(mode, "launch")) {
    for (int i = 0; i < (int)arg; ++i) Empty<<<1, 1>>>();
    cudaDeviceSynchronize();
    printf("%.4f\n", secs() * 1e6 / arg);
  } else {
    for (int i = 0; i < (int)arg; ++i) { void* p; cudaMalloc(&p, 1 << 20); cudaFree(p); }
    printf("%.4f\n", secs() * 1e6 / arg);
  }
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}
CU
nvcc -O2 -o "$dir/bench" "$dir/bench.cu"

# Compute share: the same saturating loop in two workloads at once.
SLUICE_GPU_COMPUTE_SHARE=25 in_workload c25 "$dir/bench" spin 20 >"$dir/c25" &
SLUICE_GPU_COMPUTE_SHARE=75 in_workload c75 "$dir/bench" spin 20 >"$dir/c75" &
wait
ratio=$(awk -v a="$(cat "$dir/c25")" -v b="$(cat "$dir/c75")" 'BEGIN { printf "%.2f", b / (a > 0 ? a : 1) }')
row "compute 25% vs 75%: throughput ratio" "3.00 +- 10%" "$ratio ($(cat "$dir/c25"):$(cat "$dir/c75"))" \
  "$(awk -v r="$ratio" 'BEGIN { print (r >= 2.7 && r <= 3.3) ? 1 : 0 }')"

# Latency: the best of five runs each, with and without the library.
best() { local b=""; for _ in 1 2 3 4 5; do v=$("$@"); b=$(awk -v a="${b:-$v}" -v v="$v" 'BEGIN { print (v < a) ? v : a }'); done; echo "$b"; }
for kind in launch alloc; do
  n=$([ $kind = launch ] && echo 200000 || echo 20000)
  base=$(best "$dir/bench" $kind $n)
  with=$(best in_workload latency "$dir/bench" $kind $n)
  pct=$(awk -v a="$base" -v b="$with" 'BEGIN { printf "%.2f", (b - a) * 100 / a }')
  row "$kind latency (us): without / with" "< 2% slower" "$base / $with ($pct%)" \
    "$(awk -v p="$pct" 'BEGIN { print (p < 2) ? 1 : 0 }')"
done

printf '%-44s %-26s %-26s %s\n' CHECK EXPECTED MEASURED RESULT
printf '%s\n' "${rows[@]}"
exit $fail
