// MigPartitioner against the fake libnvidia-ml.so.1 (gpu/fake/): the
// create/destroy sequence of a repartition, and how it fails.
#include "exec/mig_partitioner.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace sluice {
namespace {

MigPlacement Mig(const char* text) { return ParseMigPlacement(text); }

std::vector<std::string> Names(const std::vector<MigGpuInstance>& layout) {
  std::vector<std::string> out;
  for (const MigGpuInstance& i : layout) out.push_back(FormatMigPlacement(i.placement));
  return out;
}

class MigPartitionerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v :
         {"SLUICE_FAKE_NVML_PROCESSES", "SLUICE_FAKE_NVML_MIG_INSTANCES",
          "SLUICE_FAKE_NVML_MIG_IN_USE", "SLUICE_FAKE_NVML_FAIL", "SLUICE_FAKE_NVML_INIT_ERROR"}) {
      unsetenv(v);
    }
    setenv("SLUICE_FAKE_NVML_DEVICES",
           "NVIDIA H100 80GB HBM3:81559:0:0,NVIDIA H100 80GB HBM3:81559:0:0", 1);
    setenv("SLUICE_FAKE_NVML_MIG", "0,1", 1);
  }
  // Loads the fake with `layout` as the driver's MIG layout.
  std::unique_ptr<Nvml> Load(const char* layout) {
    setenv("SLUICE_FAKE_NVML_MIG_LAYOUT", layout, 1);
    auto nvml = Nvml::Load(FAKE_NVML);
    EXPECT_TRUE(nvml.ok()) << nvml.status().ToString();
    return nvml.ok() ? std::move(nvml).value() : nullptr;
  }
};

TEST_F(MigPartitionerTest, DestroysThenCreatesAndNamesEachMigDevice) {
  auto nvml = Load("0:7g.80gb,1:1g.10gb");
  MigPartitioner p(nvml.get());
  auto before = p.Layout(0);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(Names(*before), std::vector<std::string>{"7g.80gb@0"});
  MigChange change{0, {Mig("7g.80gb@0")}, {Mig("3g.40gb@4"), Mig("2g.20gb@0"), Mig("1g.10gb@2")}};
  ASSERT_TRUE(p.Apply(change, false).ok());
  auto after = p.Layout(0);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Names(*after), (std::vector<std::string>{"2g.20gb@0", "1g.10gb@2", "3g.40gb@4"}));
  auto a = p.Uuid(0, Mig("3g.40gb@4"));
  auto b = p.Uuid(0, Mig("1g.10gb@2"));
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString();
  EXPECT_TRUE(a->starts_with("MIG-")) << *a;
  EXPECT_NE(*a, *b);
  // The other device is untouched, and an instance that is not there has no UUID.
  EXPECT_EQ(Names(*p.Layout(1)), std::vector<std::string>{"1g.10gb@0"});
  EXPECT_FALSE(p.Uuid(0, Mig("7g.80gb@0")).ok());
  // The MIG devices are what discovery lists too.
  auto devices = nvml->Devices();
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ((*devices)[0].mig_instances.size(), 3u);
}

TEST_F(MigPartitionerTest, AnInstanceInUseIsNotDestroyed) {
  auto nvml = Load("0:3g.40gb@0,0:3g.40gb@4");
  setenv("SLUICE_FAKE_NVML_MIG_IN_USE", "0:4", 1);
  MigPartitioner p(nvml.get());
  Status s = p.Apply({0, {Mig("3g.40gb@4")}, {Mig("1g.10gb@4")}}, false);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nvmlComputeInstanceDestroy"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("(NVML error 19)"), std::string::npos) << s.message();
  EXPECT_EQ(Names(*p.Layout(0)), (std::vector<std::string>{"3g.40gb@0", "3g.40gb@4"}));
}

TEST_F(MigPartitionerTest, ARefusedCreateLeavesNothingHalfMade) {
  auto nvml = Load("1:1g.10gb");
  MigPartitioner p(nvml.get());
  // The second instance does not fit next to the first (4g and 3g both at 0).
  Status s = p.Apply({0, {}, {Mig("3g.40gb@0"), Mig("4g.40gb@0")}}, false);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nvmlDeviceCreateGpuInstanceWithPlacement (4g.40gb@0 on GPU 0)"),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(Names(*p.Layout(0)).empty());
  // A start the profile never takes is refused by the driver.
  EXPECT_FALSE(p.Apply({0, {}, {Mig("3g.40gb@2")}}, false).ok());
  // A compute instance NVML refuses takes its GPU instance back down.
  setenv("SLUICE_FAKE_NVML_FAIL", "nvmlGpuInstanceCreateComputeInstance", 1);
  s = p.Apply({0, {}, {Mig("1g.10gb@0")}}, false);
  EXPECT_NE(s.message().find("nvmlGpuInstanceCreateComputeInstance"), std::string::npos)
      << s.message();
  EXPECT_TRUE(Names(*p.Layout(0)).empty());
  unsetenv("SLUICE_FAKE_NVML_FAIL");
  ASSERT_TRUE(p.Apply({0, {}, {Mig("1g.10gb@0")}}, false).ok());
  EXPECT_EQ(Names(*p.Layout(0)), std::vector<std::string>{"1g.10gb@0"});
}

TEST_F(MigPartitionerTest, ADeviceWithRunningWorkIsLeftAlone) {
  auto nvml = Load("0:7g.80gb");
  MigPartitioner p(nvml.get());
  Status known = p.Apply({0, {Mig("7g.80gb@0")}, {Mig("1g.10gb@0")}}, /*busy=*/true);
  EXPECT_FALSE(known.ok());
  setenv("SLUICE_FAKE_NVML_PROCESSES", "0:4242:100", 1);
  Status seen = p.Apply({0, {Mig("7g.80gb@0")}, {Mig("1g.10gb@0")}}, false);
  ASSERT_FALSE(seen.ok());
  EXPECT_NE(seen.message().find("pid 4242"), std::string::npos) << seen.message();
  unsetenv("SLUICE_FAKE_NVML_PROCESSES");
  // A layout that changed under the scheduler is not touched either.
  Status stale = p.Apply({0, {Mig("3g.40gb@0")}, {Mig("1g.10gb@0")}}, false);
  EXPECT_NE(stale.message().find("layout changed"), std::string::npos) << stale.message();
  EXPECT_EQ(Names(*p.Layout(0)), std::vector<std::string>{"7g.80gb@0"});
}

}  // namespace
}  // namespace sluice
