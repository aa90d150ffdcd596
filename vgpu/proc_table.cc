#include "vgpu/proc_table.h"

#include <array>

#include "vgpu/cuda_types.h"

namespace sluice::vgpu {
namespace {

// From the driver API's typedefs (cudaTypedefs.h: PFN_<base>_v<since>[_ptsz]).
constexpr std::array kTable = {
    ProcVariant{"cuInit", "cuInit", 2000, false},
    ProcVariant{"cuDriverGetVersion", "cuDriverGetVersion", 2020, false},
    ProcVariant{"cuDeviceGet", "cuDeviceGet", 2000, false},
    ProcVariant{"cuDeviceGetCount", "cuDeviceGetCount", 2000, false},
    ProcVariant{"cuDeviceGetUuid", "cuDeviceGetUuid", 9020, false},
    ProcVariant{"cuDeviceGetUuid", "cuDeviceGetUuid_v2", 11040, false},
    ProcVariant{"cuDeviceTotalMem", "cuDeviceTotalMem", 2000, false},
    ProcVariant{"cuDeviceTotalMem", "cuDeviceTotalMem_v2", 3020, false},
    ProcVariant{"cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain", 7000, false},
    ProcVariant{"cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxRelease", 7000, false},
    ProcVariant{"cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxRelease_v2", 11000, false},
    ProcVariant{"cuDevicePrimaryCtxReset", "cuDevicePrimaryCtxReset", 7000, false},
    ProcVariant{"cuDevicePrimaryCtxReset", "cuDevicePrimaryCtxReset_v2", 11000, false},
    ProcVariant{"cuCtxCreate", "cuCtxCreate", 2000, false},
    ProcVariant{"cuCtxCreate", "cuCtxCreate_v2", 3020, false},
    ProcVariant{"cuCtxCreate", "cuCtxCreate_v3", 11040, false},
    ProcVariant{"cuCtxCreate", "cuCtxCreate_v4", 12050, false},
    ProcVariant{"cuCtxDestroy", "cuCtxDestroy", 2000, false},
    ProcVariant{"cuCtxDestroy", "cuCtxDestroy_v2", 4000, false},
    ProcVariant{"cuCtxGetDevice", "cuCtxGetDevice", 2000, false},
    ProcVariant{"cuCtxGetCurrent", "cuCtxGetCurrent", 4000, false},
    ProcVariant{"cuCtxSetCurrent", "cuCtxSetCurrent", 4000, false},
    ProcVariant{"cuMemGetInfo", "cuMemGetInfo", 2000, false},
    ProcVariant{"cuMemGetInfo", "cuMemGetInfo_v2", 3020, false},
    ProcVariant{"cuMemAlloc", "cuMemAlloc", 2000, false},
    ProcVariant{"cuMemAlloc", "cuMemAlloc_v2", 3020, false},
    ProcVariant{"cuMemAllocPitch", "cuMemAllocPitch", 2000, false},
    ProcVariant{"cuMemAllocPitch", "cuMemAllocPitch_v2", 3020, false},
    ProcVariant{"cuMemFree", "cuMemFree", 2000, false},
    ProcVariant{"cuMemFree", "cuMemFree_v2", 3020, false},
    ProcVariant{"cuMemAllocManaged", "cuMemAllocManaged", 6000, false},
    ProcVariant{"cuMemHostAlloc", "cuMemHostAlloc", 2020, false},
    ProcVariant{"cuMemFreeHost", "cuMemFreeHost", 2000, false},
    ProcVariant{"cuArrayCreate", "cuArrayCreate", 2000, false},
    ProcVariant{"cuArrayCreate", "cuArrayCreate_v2", 3020, false},
    ProcVariant{"cuArray3DCreate", "cuArray3DCreate", 2000, false},
    ProcVariant{"cuArray3DCreate", "cuArray3DCreate_v2", 3020, false},
    ProcVariant{"cuArrayDestroy", "cuArrayDestroy", 2000, false},
    ProcVariant{"cuMipmappedArrayCreate", "cuMipmappedArrayCreate", 5000, false},
    ProcVariant{"cuMipmappedArrayDestroy", "cuMipmappedArrayDestroy", 5000, false},
    ProcVariant{"cuMemCreate", "cuMemCreate", 10020, false},
    ProcVariant{"cuMemRelease", "cuMemRelease", 10020, false},
    ProcVariant{"cuMemAllocAsync", "cuMemAllocAsync", 11020, false},
    ProcVariant{"cuMemAllocAsync", "cuMemAllocAsync_ptsz", 11020, true},
    ProcVariant{"cuMemFreeAsync", "cuMemFreeAsync", 11020, false},
    ProcVariant{"cuMemFreeAsync", "cuMemFreeAsync_ptsz", 11020, true},
    ProcVariant{"cuMemPoolCreate", "cuMemPoolCreate", 11020, false},
    ProcVariant{"cuMemPoolDestroy", "cuMemPoolDestroy", 11020, false},
    ProcVariant{"cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync", 11020, false},
    ProcVariant{"cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync_ptsz", 11020, true},
    ProcVariant{"cuLaunchKernel", "cuLaunchKernel", 4000, false},
    ProcVariant{"cuLaunchKernel", "cuLaunchKernel_ptsz", 7000, true},
    ProcVariant{"cuLaunchCooperativeKernel", "cuLaunchCooperativeKernel", 9000, false},
    ProcVariant{"cuLaunchCooperativeKernel", "cuLaunchCooperativeKernel_ptsz", 9000, true},
    ProcVariant{"cuGraphLaunch", "cuGraphLaunch", 10000, false},
    ProcVariant{"cuGraphLaunch", "cuGraphLaunch_ptsz", 10000, true},
    ProcVariant{"cuLaunchKernelEx", "cuLaunchKernelEx", 11060, false},
    ProcVariant{"cuLaunchKernelEx", "cuLaunchKernelEx_ptsz", 11060, true},
    ProcVariant{"cuGetProcAddress", "cuGetProcAddress", 11030, false},
    ProcVariant{"cuGetProcAddress", "cuGetProcAddress_v2", 12000, false},
};

}  // namespace

std::span<const ProcVariant> ProcTable() { return kTable; }

ProcLookup ResolveProc(std::string_view base, int cuda_version, uint64_t flags) {
  const bool want_per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  bool known = false;
  bool has_per_thread = false;
  for (const ProcVariant& v : kTable) {
    if (v.base != base) continue;
    known = true;
    has_per_thread = has_per_thread || v.per_thread;
  }
  if (!known) return {nullptr, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND};
  // A function without stream semantics has one flavour for both modes.
  const bool per_thread = want_per_thread && has_per_thread;
  const ProcVariant* best = nullptr;
  for (const ProcVariant& v : kTable) {
    if (v.base != base || v.per_thread != per_thread || v.since > cuda_version) continue;
    if (best == nullptr || v.since > best->since) best = &v;
  }
  if (best == nullptr) return {nullptr, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT};
  return {best, CU_GET_PROC_ADDRESS_SUCCESS};
}

}  // namespace sluice::vgpu
