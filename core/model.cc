#include "core/model.h"

#include <algorithm>

namespace sluice {

const std::string* FindLabel(const Labels& labels, std::string_view key) {
  auto it = std::lower_bound(labels.begin(), labels.end(), key,
                             [](const auto& kv, std::string_view k) { return kv.first < k; });
  if (it == labels.end() || it->first != key) return nullptr;
  return &it->second;
}

int32_t PriorityValue(PriorityClass c) {
  switch (c) {
    case PriorityClass::kTrain:
      return 50;
    case PriorityClass::kBuildPreemptible:
      return 75;
    case PriorityClass::kBuild:
      return 100;
    case PriorityClass::kInference:
      return 125;
  }
  return 0;
}

bool DefaultPreemptible(PriorityClass c) {
  return c == PriorityClass::kTrain || c == PriorityClass::kBuildPreemptible;
}

std::string_view PriorityClassName(PriorityClass c) {
  switch (c) {
    case PriorityClass::kTrain:
      return "train";
    case PriorityClass::kBuildPreemptible:
      return "build-preemptible";
    case PriorityClass::kBuild:
      return "build";
    case PriorityClass::kInference:
      return "inference";
  }
  return "?";
}

std::optional<PriorityClass> ParsePriorityClass(std::string_view name) {
  for (PriorityClass c : {PriorityClass::kTrain, PriorityClass::kBuildPreemptible,
                          PriorityClass::kBuild, PriorityClass::kInference}) {
    if (PriorityClassName(c) == name) return c;
  }
  return std::nullopt;
}

int64_t PodRequest::MilliOn(int64_t device_memory_mib) const {
  if (gpu_memory_mib == 0) return gpu_milli;
  if (device_memory_mib <= 0 || gpu_memory_mib > device_memory_mib) return 0;
  // Round up so that the fractions on one device never promise more memory
  // than it has: sum(ceil(m_i * 1000 / M)) <= 1000 implies sum(m_i) <= M.
  return (gpu_memory_mib * 1000 + device_memory_mib - 1) / device_memory_mib;
}

Duration ReclaimMinRuntime(const Snapshot& s, QueueId q) {
  for (; q.valid(); q = s.queue(q).parent) {
    if (s.queue(q).reclaim_min_runtime) return *s.queue(q).reclaim_min_runtime;
  }
  return Duration{0};
}

Duration PreemptMinRuntime(const Snapshot& s, QueueId q) {
  for (; q.valid(); q = s.queue(q).parent) {
    if (s.queue(q).preempt_min_runtime) return *s.queue(q).preempt_min_runtime;
  }
  return Duration{0};
}

Resources PodResourcesOn(const PodRequest& r, int64_t device_memory_mib) {
  Resources res;
  res[Resource::kGpu] = r.MilliOn(device_memory_mib) * r.gpu_devices;
  res[Resource::kCpu] = r.cpu_milli;
  res[Resource::kMemory] = r.memory_mib;
  return res;
}

Resources PodResources(const Workload& w, const PodPlacement& p) {
  Resources res;
  res[Resource::kGpu] = p.gpu_milli * static_cast<int64_t>(p.gpus.size());
  res[Resource::kCpu] = w.request.cpu_milli;
  res[Resource::kMemory] = w.request.memory_mib;
  return res;
}

}  // namespace sluice
