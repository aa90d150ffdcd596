#include "vgpu/throttle.h"

#include <time.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace sluice::vgpu {

void LaunchGate::Wait() {
  // Throttled: the control thread opens the next period. Sleeping in small
  // steps keeps the wake-up within a fraction of a period.
  while (true) {
    timespec step{0, 200'000};
    nanosleep(&step, nullptr);
    if (tokens_.load(std::memory_order_relaxed) > 0 &&
        tokens_.fetch_sub(1, std::memory_order_relaxed) > 0) {
      return;
    }
  }
}

int64_t ShareController::Update(int util, int64_t launched) {
  if (util < 0 || launched <= 0) return budget_;  // nothing measured: hold
  const bool binding = launched * 10 >= budget_ * 9;
  const int64_t target = util == 0 ? launched * 2 : std::max<int64_t>(1, launched * share_ / util);
  budget_ = binding ? (budget_ + target + 1) / 2 : target;
  budget_ = std::clamp<int64_t>(budget_, 1, kOpenBudget);
  return budget_;
}

UtilizationSampler::UtilizationSampler(const std::function<void*(const char*)>& resolve) {
  using Init = nvmlReturn_t (*)();
  // NOLINTBEGIN(google-readability-casting,bugprone-casting-through-void): dlsym's results
  auto init = reinterpret_cast<Init>(resolve("nvmlInit_v2"));
  get_count_ = reinterpret_cast<GetCount>(resolve("nvmlDeviceGetCount_v2"));
  get_handle_ = reinterpret_cast<GetHandle>(resolve("nvmlDeviceGetHandleByIndex_v2"));
  auto util = reinterpret_cast<GetUtilization>(resolve("nvmlDeviceGetProcessUtilization"));
  // NOLINTEND(google-readability-casting,bugprone-casting-through-void)
  if (init == nullptr || get_count_ == nullptr || get_handle_ == nullptr || init() != NVML_SUCCESS)
    return;
  get_utilization_ = util;
}

int UtilizationSampler::Sample(const std::vector<int>& pids) {
  if (!ok()) return -1;
  const std::unordered_set<int> mine(pids.begin(), pids.end());
  unsigned int devices = 0;
  if (get_count_(&devices) != NVML_SUCCESS) return -1;
  int best = -1;
  unsigned long long newest = last_seen_;  // NOLINT(google-runtime-int)
  for (unsigned int i = 0; i < devices; ++i) {
    nvmlDevice_t dev = nullptr;
    if (get_handle_(i, &dev) != NVML_SUCCESS) continue;
    unsigned int count = 0;
    nvmlReturn_t rc = get_utilization_(dev, nullptr, &count, last_seen_);
    if (rc != NVML_SUCCESS && rc != NVML_ERROR_INSUFFICIENT_SIZE) continue;
    samples_.resize(count);
    if (count == 0 || get_utilization_(dev, samples_.data(), &count, last_seen_) != NVML_SUCCESS)
      continue;
    // NVML may return several samples per process (one per interval since
    // last_seen): each process counts with its average, the workload with
    // the sum over its processes.
    std::unordered_map<unsigned int, std::pair<int64_t, int64_t>> per_pid;  // sum, samples
    for (unsigned int s = 0; s < count && s < samples_.size(); ++s) {
      newest = std::max(newest, samples_[s].timeStamp);
      if (mine.count(static_cast<int>(samples_[s].pid)) == 0) continue;
      auto& [sum, n] = per_pid[samples_[s].pid];
      sum += samples_[s].smUtil;
      ++n;
    }
    int sum = 0;
    for (const auto& [pid, acc] : per_pid) sum += static_cast<int>(acc.first / acc.second);
    best = std::max(best, sum);
  }
  last_seen_ = newest;
  return best;
}

void ThrottleLoop::Tick() {
  const int util = sample_();
  const int64_t launched = gate_->TakeLaunched();
  gate_->Open(controller_.Update(util, launched));
}

}  // namespace sluice::vgpu
