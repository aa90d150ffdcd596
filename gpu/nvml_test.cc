// The NVML path against the fake libnvidia-ml.so.1 (gpu/fake/): discovery,
// samples, and the failures a real driver produces.
#include "gpu/nvml.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace sluice {
namespace {

class NvmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"SLUICE_FAKE_NVML_DEVICES", "SLUICE_FAKE_NVML_PROCESSES",
                          "SLUICE_FAKE_NVML_MIG", "SLUICE_FAKE_NVML_MIG_INSTANCES",
                          "SLUICE_FAKE_NVML_INIT_ERROR", "SLUICE_FAKE_NVML_FAIL"}) {
      unsetenv(v);
    }
    setenv("SLUICE_FAKE_NVML_DEVICES",
           "NVIDIA H100 80GB HBM3:81559:37:1024,NVIDIA H100 80GB HBM3:81559:0:0", 1);
  }
};

TEST_F(NvmlTest, DiscoversDevices) {
  setenv("SLUICE_FAKE_NVML_MIG", "1", 1);
  setenv("SLUICE_FAKE_NVML_MIG_INSTANCES", "1:40192,1:20096,1:20096", 1);
  auto nvml = Nvml::Load(FAKE_NVML);
  ASSERT_TRUE(nvml.ok()) << nvml.status().ToString();
  auto devices = (*nvml)->Devices();
  ASSERT_TRUE(devices.ok()) << devices.status().ToString();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ((*devices)[0].memory_mib, 81559);
  EXPECT_EQ((*devices)[0].uuid, "GPU-fa4e0000-0000-4000-8000-000000000000");
  EXPECT_EQ((*devices)[1].uuid, "GPU-fa4e0000-0000-4000-8000-000000000001");
  EXPECT_FALSE((*devices)[0].mig_enabled);
  EXPECT_TRUE((*devices)[1].mig_enabled);
  EXPECT_TRUE((*devices)[0].mig_instances.empty());
  ASSERT_EQ((*devices)[1].mig_instances.size(), 3u);
  EXPECT_EQ((*devices)[1].mig_instances[0].memory_mib, 40192);
  EXPECT_EQ((*devices)[1].mig_instances[2].memory_mib, 20096);
  EXPECT_EQ((*devices)[1].mig_instances[1].uuid, "MIG-fa4e0000-0000-4000-8000-000001000001");
  unsetenv("SLUICE_FAKE_NVML_MIG_INSTANCES");
}

TEST_F(NvmlTest, SamplesUtilisationMemoryAndProcesses) {
  setenv("SLUICE_FAKE_NVML_PROCESSES", "0:4242:1000,0:4243:24,1:7:5", 1);
  auto nvml = Nvml::Load(FAKE_NVML);
  ASSERT_TRUE(nvml.ok());
  auto s = (*nvml)->Sample(0);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->utilization_percent, 37);
  EXPECT_EQ(s->memory_used_mib, 1024);
  ASSERT_EQ(s->processes.size(), 2u);
  EXPECT_EQ(s->processes[0].pid, 4242);
  EXPECT_EQ(s->processes[0].used_memory_mib, 1000);
  EXPECT_EQ(s->processes[1].pid, 4243);
}

TEST_F(NvmlTest, NoLibraryMeansNoDriver) {
  auto nvml = Nvml::Load("/nonexistent/libnvidia-ml.so.1");
  ASSERT_FALSE(nvml.ok());
  EXPECT_NE(nvml.status().message().find("no NVIDIA driver?"), std::string::npos)
      << nvml.status().message();
}

TEST_F(NvmlTest, DriverNotLoadedFailsInit) {
  setenv("SLUICE_FAKE_NVML_INIT_ERROR", "9", 1);
  auto nvml = Nvml::Load(FAKE_NVML);
  ASSERT_FALSE(nvml.ok());
  EXPECT_EQ(nvml.status().message(), "nvmlInit failed: Driver Not Loaded (NVML error 9)");
}

TEST_F(NvmlTest, AFailingCallIsAnErrorNotACrash) {
  auto nvml = Nvml::Load(FAKE_NVML);
  ASSERT_TRUE(nvml.ok());
  setenv("SLUICE_FAKE_NVML_FAIL", "nvmlDeviceGetCount_v2", 1);
  auto devices = (*nvml)->Devices();
  ASSERT_FALSE(devices.ok());
  EXPECT_NE(devices.status().message().find("Unknown Error (NVML error 999)"), std::string::npos);
  // A failing optional call leaves its figure unknown.
  setenv("SLUICE_FAKE_NVML_FAIL", "nvmlDeviceGetUtilizationRates", 1);
  auto s = (*nvml)->Sample(0);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->utilization_percent, -1);
  EXPECT_EQ(s->memory_used_mib, 1024);
}

TEST_F(NvmlTest, ADeviceThatDisappearsIsReported) {
  auto nvml = Nvml::Load(FAKE_NVML);
  ASSERT_TRUE(nvml.ok());
  ASSERT_TRUE((*nvml)->Sample(1).ok());
  setenv("SLUICE_FAKE_NVML_DEVICES", "NVIDIA H100 80GB HBM3:81559:37:1024", 1);
  auto s = (*nvml)->Sample(1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("nvmlDeviceGetHandleByIndex(1)"), std::string::npos)
      << s.status().message();
  auto devices = (*nvml)->Devices();
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 1u);
}

}  // namespace
}  // namespace sluice
