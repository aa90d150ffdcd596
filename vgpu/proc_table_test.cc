// The version table against the driver API's documented versions: each
// entry is the function pointer typedef cudaTypedefs.h declares for it
// (PFN_<base>_v<version>[_ptsz]), spelled out here independently.
#include "vgpu/proc_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "vgpu/cuda_types.h"

namespace sluice::vgpu {
namespace {

// The typedef name of an entry: what cudaTypedefs.h calls its pointer type.
std::string Typedef(const ProcVariant& v) {
  return "PFN_" + std::string(v.base) + "_v" + std::to_string(v.since) +
         (v.per_thread ? "_ptsz" : "");
}

TEST(VgpuProcTable, EveryEntryIsADocumentedVersion) {
  const std::set<std::string> documented = {
      "PFN_cuInit_v2000",
      "PFN_cuDriverGetVersion_v2020",
      "PFN_cuDeviceGet_v2000",
      "PFN_cuDeviceGetCount_v2000",
      "PFN_cuDeviceGetUuid_v9020",
      "PFN_cuDeviceGetUuid_v11040",
      "PFN_cuDeviceTotalMem_v2000",
      "PFN_cuDeviceTotalMem_v3020",
      "PFN_cuDevicePrimaryCtxRetain_v7000",
      "PFN_cuDevicePrimaryCtxRelease_v7000",
      "PFN_cuDevicePrimaryCtxRelease_v11000",
      "PFN_cuDevicePrimaryCtxReset_v7000",
      "PFN_cuDevicePrimaryCtxReset_v11000",
      "PFN_cuCtxCreate_v2000",
      "PFN_cuCtxCreate_v3020",
      "PFN_cuCtxCreate_v11040",
      "PFN_cuCtxCreate_v12050",
      "PFN_cuCtxDestroy_v2000",
      "PFN_cuCtxDestroy_v4000",
      "PFN_cuCtxGetDevice_v2000",
      "PFN_cuCtxGetCurrent_v4000",
      "PFN_cuCtxSetCurrent_v4000",
      "PFN_cuMemGetInfo_v2000",
      "PFN_cuMemGetInfo_v3020",
      "PFN_cuMemAlloc_v2000",
      "PFN_cuMemAlloc_v3020",
      "PFN_cuMemAllocPitch_v2000",
      "PFN_cuMemAllocPitch_v3020",
      "PFN_cuMemFree_v2000",
      "PFN_cuMemFree_v3020",
      "PFN_cuMemAllocManaged_v6000",
      "PFN_cuMemHostAlloc_v2020",
      "PFN_cuMemFreeHost_v2000",
      "PFN_cuArrayCreate_v2000",
      "PFN_cuArrayCreate_v3020",
      "PFN_cuArray3DCreate_v2000",
      "PFN_cuArray3DCreate_v3020",
      "PFN_cuArrayDestroy_v2000",
      "PFN_cuMipmappedArrayCreate_v5000",
      "PFN_cuMipmappedArrayDestroy_v5000",
      "PFN_cuMemCreate_v10020",
      "PFN_cuMemRelease_v10020",
      "PFN_cuMemAllocAsync_v11020",
      "PFN_cuMemAllocAsync_v11020_ptsz",
      "PFN_cuMemFreeAsync_v11020",
      "PFN_cuMemFreeAsync_v11020_ptsz",
      "PFN_cuMemPoolCreate_v11020",
      "PFN_cuMemPoolDestroy_v11020",
      "PFN_cuMemAllocFromPoolAsync_v11020",
      "PFN_cuMemAllocFromPoolAsync_v11020_ptsz",
      "PFN_cuLaunchKernel_v4000",
      "PFN_cuLaunchKernel_v7000_ptsz",
      "PFN_cuLaunchCooperativeKernel_v9000",
      "PFN_cuLaunchCooperativeKernel_v9000_ptsz",
      "PFN_cuGraphLaunch_v10000",
      "PFN_cuGraphLaunch_v10000_ptsz",
      "PFN_cuLaunchKernelEx_v11060",
      "PFN_cuLaunchKernelEx_v11060_ptsz",
      "PFN_cuGetProcAddress_v11030",
      "PFN_cuGetProcAddress_v12000",
  };
  std::set<std::string> seen;
  for (const ProcVariant& v : ProcTable()) {
    EXPECT_TRUE(documented.count(Typedef(v))) << Typedef(v) << " (" << v.variant << ")";
    EXPECT_TRUE(seen.insert(Typedef(v)).second) << Typedef(v) << " twice";
  }
  EXPECT_EQ(seen, documented);
}

// The exported names follow the driver's rule: the first version has the
// bare name, later ABIs _v2, _v3 ..., per-thread flavours _ptsz.
TEST(VgpuProcTable, ExportedNamesFollowTheDriversNaming) {
  for (const ProcVariant& v : ProcTable()) {
    const std::string name(v.variant);
    ASSERT_EQ(name.rfind(std::string(v.base), 0), 0U) << name;
    const std::string suffix = name.substr(v.base.size());
    EXPECT_TRUE(suffix.empty() || suffix == "_ptsz" || suffix == "_v2" || suffix == "_v3" ||
                suffix == "_v4")
        << name;
    EXPECT_EQ(v.per_thread, suffix == "_ptsz") << name;
  }
}

struct Case {
  const char* base;
  int version;
  uint64_t flags;
  const char* want;  // null: nothing handed out
  int status;
};

TEST(VgpuProcTable, ResolvesTheNewestVariantNoNewerThanTheCallersVersion) {
  const Case cases[] = {
      {"cuMemAlloc", 2000, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemAlloc", 0},
      {"cuMemAlloc", 3010, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemAlloc", 0},
      {"cuMemAlloc", 3020, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemAlloc_v2", 0},
      {"cuMemAlloc", 12040, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemAlloc_v2", 0},
      {"cuCtxCreate", 11030, CU_GET_PROC_ADDRESS_DEFAULT, "cuCtxCreate_v2", 0},
      {"cuCtxCreate", 11040, CU_GET_PROC_ADDRESS_DEFAULT, "cuCtxCreate_v3", 0},
      {"cuCtxCreate", 12040, CU_GET_PROC_ADDRESS_DEFAULT, "cuCtxCreate_v3", 0},
      {"cuCtxCreate", 12050, CU_GET_PROC_ADDRESS_DEFAULT, "cuCtxCreate_v4", 0},
      {"cuDevicePrimaryCtxRelease", 10020, 0, "cuDevicePrimaryCtxRelease", 0},
      {"cuDevicePrimaryCtxRelease", 11000, 0, "cuDevicePrimaryCtxRelease_v2", 0},
      {"cuGetProcAddress", 11080, 0, "cuGetProcAddress", 0},
      {"cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2", 0},
      {"cuMemAllocAsync", 11010, 0, nullptr, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT},
      {"cuMemCreate", 10010, 0, nullptr, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT},
      {"cuNoSuchFunction", 12000, 0, nullptr, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND},
  };
  for (const Case& c : cases) {
    ProcLookup got = ResolveProc(c.base, c.version, c.flags);
    EXPECT_EQ(got.status, c.status) << c.base << " " << c.version;
    if (c.want == nullptr) {
      EXPECT_EQ(got.found, nullptr) << c.base << " " << c.version;
    } else {
      ASSERT_NE(got.found, nullptr) << c.base << " " << c.version;
      EXPECT_EQ(got.found->variant, c.want) << c.base << " " << c.version;
    }
  }
}

TEST(VgpuProcTable, StreamFlagsPickTheFlavour) {
  const uint64_t ptds = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  const uint64_t legacy = CU_GET_PROC_ADDRESS_LEGACY_STREAM;
  EXPECT_EQ(ResolveProc("cuLaunchKernel", 12000, ptds).found->variant, "cuLaunchKernel_ptsz");
  EXPECT_EQ(ResolveProc("cuLaunchKernel", 12000, legacy).found->variant, "cuLaunchKernel");
  // The driver's default search is the legacy stream's.
  EXPECT_EQ(ResolveProc("cuLaunchKernel", 12000, 0).found->variant, "cuLaunchKernel");
  EXPECT_EQ(ResolveProc("cuMemAllocAsync", 11020, ptds).found->variant, "cuMemAllocAsync_ptsz");
  EXPECT_EQ(ResolveProc("cuGraphLaunch", 12000, ptds).found->variant, "cuGraphLaunch_ptsz");
  // Per-thread launches arrived in CUDA 7.0.
  EXPECT_EQ(ResolveProc("cuLaunchKernel", 6050, ptds).status,
            CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  // A function without stream semantics has one flavour for both.
  EXPECT_EQ(ResolveProc("cuMemAlloc", 12000, ptds).found->variant, "cuMemAlloc_v2");
}

}  // namespace
}  // namespace sluice::vgpu
