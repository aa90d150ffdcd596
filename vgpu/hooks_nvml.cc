// NVML's memory figures for a device the workload sees: its limit as the
// total and the workload's usage as used, so that nvidia-smi inside the
// workload shows the fraction. Devices the workload cannot see, or has no
// limit on, are reported as NVML reports them.
#include <algorithm>

#include "vgpu/hooks.h"
#include "vgpu/runtime.h"

using sluice::vgpu::TheBooks;

namespace {

// Rewrites total/free/used for `device`; false when it has no limit.
bool Limited(nvmlDevice_t device, unsigned long long* total,        // NOLINT(google-runtime-int)
             unsigned long long* free, unsigned long long* used) {  // NOLINT(google-runtime-int)
  const int ordinal = sluice::vgpu::CudaOrdinalOf(device);
  if (ordinal < 0 || !TheBooks().counting()) return false;
  const uint64_t limit = TheBooks().Limit(ordinal);
  if (limit == sluice::vgpu::kUnlimited) return false;
  *total = std::min<uint64_t>(*total, limit);
  *used = std::min<uint64_t>(TheBooks().Used(ordinal), *total);
  *free = *total - *used;
  return true;
}

}  // namespace

extern "C" {

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  static const auto real =
      sluice::vgpu::RealNvml<decltype(&nvmlDeviceGetMemoryInfo)>("nvmlDeviceGetMemoryInfo");
  if (real == nullptr) return NVML_ERROR_UNKNOWN;
  const nvmlReturn_t rc = real(device, memory);
  if (rc == NVML_SUCCESS) Limited(device, &memory->total, &memory->free, &memory->used);
  return rc;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  static const auto real =
      sluice::vgpu::RealNvml<decltype(&nvmlDeviceGetMemoryInfo_v2)>("nvmlDeviceGetMemoryInfo_v2");
  if (real == nullptr) return NVML_ERROR_UNKNOWN;
  const nvmlReturn_t rc = real(device, memory);
  // The driver's reserved memory is outside what the workload was given.
  if (rc == NVML_SUCCESS && Limited(device, &memory->total, &memory->free, &memory->used))
    memory->reserved = 0;
  return rc;
}

}  // extern "C"
