// The compute share's control loop, fed synthetic utilisation: a simulated
// GPU turns the launches the gate lets through into utilisation, and the
// tests check where the loop settles. Nothing here sleeps or times.
#include "vgpu/throttle.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

namespace sluice::vgpu {
namespace {

// A GPU whose kernels each take `cost_milli` thousandths of a period: a
// saturating program launches whatever the budget allows, up to what the
// GPU can run in a period.
struct SimulatedGpu {
  int64_t cost_milli = 20;  // 50 kernels fill a period
  int64_t Capacity() const { return 1000 / cost_milli; }
  int Util(int64_t launched) const {
    return static_cast<int>(std::min<int64_t>(100, launched * cost_milli / 10));
  }
};

// Runs a saturating program for `periods`; `lag`: NVML reports the period
// before the last. Returns the utilisation of the last period.
int Settle(int share, int periods, int lag, SimulatedGpu gpu = {}) {
  ShareController c(share);
  int64_t budget = c.budget();
  std::vector<int> utils;
  std::vector<int64_t> launches;
  for (int p = 0; p < periods; ++p) {
    const int64_t launched = std::min(budget, gpu.Capacity());
    utils.push_back(gpu.Util(launched));
    launches.push_back(launched);
    const size_t seen = utils.size() > static_cast<size_t>(lag) ? utils.size() - 1 - lag : 0;
    budget = c.Update(utils[seen], launched);
  }
  return utils.back();
}

TEST(VgpuThrottle, ASaturatingProgramSettlesAtItsShare) {
  for (int share : {10, 25, 50, 75, 90}) {
    EXPECT_NEAR(Settle(share, 30, 0), share, 3) << "share " << share;
  }
}

TEST(VgpuThrottle, SamplesThatTrailByAPeriodStillSettle) {
  for (int share : {25, 50, 75}) {
    EXPECT_NEAR(Settle(share, 60, 1), share, 5) << "share " << share;
  }
}

TEST(VgpuThrottle, CheapAndExpensiveKernelsAlike) {
  for (int64_t cost : {2, 20, 250}) {
    SimulatedGpu gpu{cost};
    EXPECT_NEAR(Settle(50, 40, 0, gpu), 50, gpu.cost_milli / 10 + 3) << "cost " << cost;
  }
}

// Two saturating workloads on one device at 25% and 75%: the GPU splits its
// time in proportion to the launches, so their throughputs settle at 1:3.
TEST(VgpuThrottle, TwoWorkloadsGetThroughputInProportionToTheirShares) {
  SimulatedGpu gpu;
  ShareController a(25);
  ShareController b(75);
  int64_t budget_a = a.budget(), budget_b = b.budget();
  double done_a = 0, done_b = 0;
  for (int p = 0; p < 60; ++p) {
    int64_t la = std::min(budget_a, gpu.Capacity());
    int64_t lb = std::min(budget_b, gpu.Capacity());
    if (la + lb > gpu.Capacity()) {  // the device is full: time is split
      const int64_t total = la + lb;
      la = la * gpu.Capacity() / total;
      lb = lb * gpu.Capacity() / total;
    }
    if (p >= 30) {
      done_a += static_cast<double>(la);
      done_b += static_cast<double>(lb);
    }
    budget_a = a.Update(gpu.Util(la), la);
    budget_b = b.Update(gpu.Util(lb), lb);
  }
  ASSERT_GT(done_a, 0);
  EXPECT_NEAR(done_b / done_a, 3.0, 0.3);
}

TEST(VgpuThrottle, WithoutSamplesTheGateStaysOpen) {
  ShareController c(25);
  EXPECT_EQ(c.Update(-1, 1000), kOpenBudget);
  EXPECT_EQ(c.Update(80, 0), kOpenBudget) << "an idle period says nothing";
}

TEST(VgpuThrottle, AProgramBelowItsShareIsNotHeldBack) {
  // 10 launches a period use 20%: the budget stays above what it launches.
  ShareController c(50);
  SimulatedGpu gpu;
  for (int p = 0; p < 20; ++p) c.Update(gpu.Util(10), 10);
  EXPECT_GE(c.budget(), 20);
}

TEST(VgpuThrottle, TheGateLetsTheBudgetThroughThenWaitsForTheNextPeriod) {
  LaunchGate gate;
  gate.Open(3);
  for (int i = 0; i < 3; ++i) gate.Acquire();
  EXPECT_EQ(gate.TakeLaunched(), 3);
  std::atomic<bool> through{false};
  std::thread late([&] {
    gate.Acquire();
    through = true;
  });
  EXPECT_FALSE(through.load()) << "nothing opened the gate";
  gate.Open(1);
  late.join();
  EXPECT_TRUE(through.load());
  EXPECT_EQ(gate.TakeLaunched(), 1);
}

TEST(VgpuThrottle, TheLoopDrivesTheGate) {
  SimulatedGpu gpu;
  LaunchGate gate;
  int64_t last = 0;
  ThrottleLoop loop(40, &gate, [&] { return gpu.Util(last); });
  for (int p = 0; p < 30; ++p) {
    // A saturating program: it takes every token the period has, up to
    // what the device runs (never more, so nothing here blocks).
    last = std::min(loop.budget(), gpu.Capacity());
    for (int64_t i = 0; i < last; ++i) gate.Acquire();
    loop.Tick();
  }
  EXPECT_NEAR(gpu.Util(std::min(loop.budget(), gpu.Capacity())), 40, 3);
}

TEST(VgpuThrottle, TheSamplerAddsUpTheWorkloadsProcessesOnTheBusiestDevice) {
  setenv("SLUICE_FAKE_NVML_DEVICES", "A:1000,B:1000", 1);
  setenv("SLUICE_FAKE_NVML_PROCESS_UTIL", "0:100:30:5,0:101:20:5,0:999:40:5,1:100:10:5", 1);
  void* nvml = dlopen(FAKE_NVML, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(nvml, nullptr) << dlerror();
  UtilizationSampler sampler([&](const char* name) { return dlsym(nvml, name); });
  ASSERT_TRUE(sampler.ok());
  EXPECT_EQ(sampler.Sample({100, 101}), 50) << "999 is another workload's";
  EXPECT_EQ(sampler.Sample({100, 101}), -1) << "no sample newer than the last one seen";
  setenv("SLUICE_FAKE_NVML_PROCESS_UTIL", "0:100:5:6,1:100:60:6", 1);
  EXPECT_EQ(sampler.Sample({100}), 60);
  // Several intervals' samples of one process: its average counts.
  setenv("SLUICE_FAKE_NVML_PROCESS_UTIL", "0:100:20:7,0:100:40:8,0:101:10:8", 1);
  EXPECT_EQ(sampler.Sample({100, 101}), 40);
  unsetenv("SLUICE_FAKE_NVML_PROCESS_UTIL");
  unsetenv("SLUICE_FAKE_NVML_DEVICES");
}

}  // namespace
}  // namespace sluice::vgpu
