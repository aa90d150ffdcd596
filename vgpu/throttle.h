// The compute share: launches are let through a token gate whose budget per
// control period a feedback controller sets from the workload's measured SM
// utilisation.
//
// LaunchGate is the launch hook's fast path: one atomic decrement and one
// relaxed increment, no lock, no allocation; a launch waits only when the
// period's budget is spent. ShareController is the control law, a pure
// function of the samples it is fed, so tests drive it with synthetic
// utilisation. UtilizationSampler reads NVML's per-process samples and adds
// up the workload's processes. ThrottleLoop ties them together, one Tick
// per period, on the library's control thread (or a test's loop).
#ifndef SLUICE_VGPU_THROTTLE_H_
#define SLUICE_VGPU_THROTTLE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "vgpu/cuda_types.h"

namespace sluice::vgpu {

inline constexpr int64_t kOpenBudget = int64_t{1} << 40;  // no limit yet

class LaunchGate {
 public:
  // Blocks while the period's budget is spent.
  void Acquire() {
    if (tokens_.fetch_sub(1, std::memory_order_relaxed) <= 0) Wait();
    launched_.fetch_add(1, std::memory_order_relaxed);
  }
  // The launches let through since the last call.
  int64_t TakeLaunched() { return launched_.exchange(0, std::memory_order_relaxed); }
  // Starts a period that lets `budget` launches through.
  void Open(int64_t budget) { tokens_.store(budget, std::memory_order_relaxed); }
  // Launches let through so far in this period, for tests.
  int64_t launched() const { return launched_.load(std::memory_order_relaxed); }

 private:
  void Wait();
  std::atomic<int64_t> tokens_{kOpenBudget};
  std::atomic<int64_t> launched_{0};
};

// Sets the next period's budget so that the workload's utilisation settles
// at its share: the launches of the period just measured, scaled by
// share / utilisation. A budget that was not binding (the program launched
// well under it) is replaced outright; a binding one moves halfway, which
// keeps the loop stable when NVML's samples trail by a period.
class ShareController {
 public:
  explicit ShareController(int share_percent) : share_(share_percent) {}
  // `util`: the workload's SM utilisation in the period, percent (-1: no
  // sample); `launched`: this process's launches in it.
  int64_t Update(int util, int64_t launched);
  int64_t budget() const { return budget_; }

 private:
  int share_;
  int64_t budget_ = kOpenBudget;
};

// NVML's per-process utilisation, summed over a workload's pids: the
// busiest device's sum, or -1 when NVML has no sample yet.
class UtilizationSampler {
 public:
  // `resolve` finds an NVML function by name (dlsym on libnvidia-ml).
  explicit UtilizationSampler(const std::function<void*(const char*)>& resolve);
  bool ok() const { return get_utilization_ != nullptr; }
  int Sample(const std::vector<int>& pids);

 private:
  using GetCount = nvmlReturn_t (*)(unsigned int*);
  using GetHandle = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
  using GetUtilization = nvmlReturn_t (*)(nvmlDevice_t, nvmlProcessUtilizationSample_t*,
                                          unsigned int*, unsigned long long);  // NOLINT
  GetCount get_count_ = nullptr;
  GetHandle get_handle_ = nullptr;
  GetUtilization get_utilization_ = nullptr;
  unsigned long long last_seen_ = 0;  // NOLINT(google-runtime-int): NVML's timestamp type
  std::vector<nvmlProcessUtilizationSample_t> samples_;
};

class ThrottleLoop {
 public:
  ThrottleLoop(int share_percent, LaunchGate* gate, std::function<int()> sample)
      : controller_(share_percent), gate_(gate), sample_(std::move(sample)) {}
  // One control period: sample, decide, open the gate for the next.
  void Tick();
  int64_t budget() const { return controller_.budget(); }

 private:
  ShareController controller_;
  LaunchGate* gate_;
  std::function<int()> sample_;
};

}  // namespace sluice::vgpu

#endif  // SLUICE_VGPU_THROTTLE_H_
