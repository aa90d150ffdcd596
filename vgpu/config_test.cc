#include "vgpu/config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace sluice::vgpu {
namespace {

VgpuConfig Read(const std::map<std::string, std::string>& vars) {
  return ReadConfig([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(VgpuConfig, SizesTakeBytesOrBinarySuffixes) {
  EXPECT_EQ(ParseBytes("1073741824"), 1073741824U);
  EXPECT_EQ(ParseBytes("512K"), 512U << 10);
  EXPECT_EQ(ParseBytes("512k"), 512U << 10);
  EXPECT_EQ(ParseBytes("300M"), 300ULL << 20);
  EXPECT_EQ(ParseBytes("300Mi"), 300ULL << 20);
  EXPECT_EQ(ParseBytes("20G"), 20ULL << 30);
  EXPECT_EQ(ParseBytes("20GiB"), 20ULL << 30);
  EXPECT_EQ(ParseBytes("2T"), 2ULL << 40);
  EXPECT_EQ(ParseBytes("0"), 0U);
}

TEST(VgpuConfig, SizesRefuseWhatIsNotOne) {
  for (const char* bad :
       {"", "M", "-1", "1.5G", "12X", "1GG", "99999999999999999999", "20000000000000G"}) {
    EXPECT_FALSE(ParseBytes(bad).has_value()) << bad;
  }
}

TEST(VgpuConfig, OneLimitForEveryDeviceUnlessADeviceHasItsOwn) {
  VgpuConfig c = Read({{"SLUICE_GPU_MEMORY_LIMIT", "4G"}, {"SLUICE_GPU_MEMORY_LIMIT_1", "1G"}});
  EXPECT_EQ(c.memory_limit[0], 4ULL << 30);
  EXPECT_EQ(c.memory_limit[1], 1ULL << 30);
  EXPECT_EQ(c.memory_limit[15], 4ULL << 30);
  EXPECT_TRUE(c.limits_memory());
  EXPECT_TRUE(c.problems.empty());
}

TEST(VgpuConfig, NothingSetMeansNothingEnforced) {
  VgpuConfig c = Read({});
  EXPECT_FALSE(c.limits_memory());
  EXPECT_EQ(c.compute_share, 0);
  EXPECT_EQ(c.context_bytes, 300ULL << 20);
  EXPECT_TRUE(c.measure_context);
}

TEST(VgpuConfig, AGivenContextFootprintIsTakenAsItIs) {
  VgpuConfig c = Read({{"SLUICE_VGPU_CONTEXT_BYTES", "512M"}});
  EXPECT_EQ(c.context_bytes, 512ULL << 20);
  EXPECT_FALSE(c.measure_context);
  EXPECT_FALSE(Read({{"SLUICE_VGPU_CONTEXT_BYTES", "0"}}).measure_context);
  EXPECT_TRUE(Read({{"SLUICE_VGPU_CONTEXT_BYTES", "big"}}).measure_context);
}

TEST(VgpuConfig, PerDeviceLimitAloneLimitsOnlyThatDevice) {
  VgpuConfig c = Read({{"SLUICE_GPU_MEMORY_LIMIT_2", "8G"}});
  EXPECT_EQ(c.memory_limit[0], kUnlimited);
  EXPECT_EQ(c.memory_limit[2], 8ULL << 30);
}

TEST(VgpuConfig, BadValuesAreIgnoredAndReported) {
  VgpuConfig c = Read({{"SLUICE_GPU_MEMORY_LIMIT", "lots"}, {"SLUICE_GPU_COMPUTE_SHARE", "150"}});
  EXPECT_FALSE(c.limits_memory());
  EXPECT_EQ(c.compute_share, 0);
  EXPECT_NE(c.problems.find("SLUICE_GPU_MEMORY_LIMIT=lots"), std::string::npos);
  EXPECT_NE(c.problems.find("SLUICE_GPU_COMPUTE_SHARE=150"), std::string::npos);
}

TEST(VgpuConfig, ComputeSharesBelowAHundredThrottle) {
  EXPECT_EQ(Read({{"SLUICE_GPU_COMPUTE_SHARE", "25"}}).compute_share, 25);
  EXPECT_EQ(Read({{"SLUICE_GPU_COMPUTE_SHARE", "100"}}).compute_share, 0);
  EXPECT_EQ(Read({{"SLUICE_GPU_COMPUTE_SHARE", "25%"}}).compute_share, 0);
}

TEST(VgpuConfig, TheUsageRegionLivesInTheWorkloadsRuntimeDir) {
  EXPECT_EQ(Read({{"SLUICE_VGPU_DIR", "/data/pods/7/vgpu"}}).usage_path, "/data/pods/7/vgpu/usage");
  const std::string fallback =
      Read({{"XDG_RUNTIME_DIR", "/run/user/5"}, {"SLUICE_WORKLOAD_ID", "9"}}).usage_path;
  EXPECT_EQ(fallback.rfind("/run/user/5/sluice-vgpu-", 0), 0U);
  EXPECT_TRUE(fallback.ends_with("-9"));
}

}  // namespace
}  // namespace sluice::vgpu
