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

const MigDevice* Node::FindMig(int32_t gpu) const {
  for (const MigDevice& d : mig) {
    if (d.gpu == gpu) return &d;
  }
  return nullptr;
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

std::optional<GpuRequestError> SetMigRequest(const std::string& profile, bool others_given,
                                             PodRequest* r) {
  if (others_given) {
    return GpuRequestError{"mig",
                           "a MIG request stands alone: give mig, or gpu / gpuMemory, not both"};
  }
  const int32_t id = MigProfileId(profile);
  if (id == 0) {
    std::string known;
    for (const MigProfile& p : MigModels()[2].profiles) {
      known += (known.empty() ? "" : ", ") + std::string(p.name);
    }
    return GpuRequestError{"mig", "unknown MIG profile \"" + profile + "\" (on H100-80GB: " +
                                      known + "; see docs/mig.md for every model)"};
  }
  r->gpu_devices = 1;
  r->mig_profile = id;
  r->gpu_milli = MigMilli(MigProfileCompute(id));
  r->gpu_memory_mib = 0;
  return std::nullopt;
}

std::optional<GpuRequestError> SetGpuRequest(std::optional<int64_t> gpu,
                                             std::optional<int64_t> gpu_memory_mib,
                                             std::optional<int64_t> devices, PodRequest* r) {
  if (gpu && gpu_memory_mib) {
    return GpuRequestError{"gpuMemory",
                           "give either gpu (a count or fraction) or gpuMemory, not both"};
  }
  if (gpu) {
    if (*gpu < 0) {
      return GpuRequestError{"gpu", "expected a GPU request >= 0, got " + FormatMilli(*gpu)};
    }
    if (*gpu >= 1000 && *gpu % 1000 != 0) {
      return GpuRequestError{
          "gpu", "expected a whole number of GPUs (1, 2, 8) or a fraction between 0 and 1, got " +
                     FormatMilli(*gpu) +
                     "; for several devices at a fraction each use gpu: 0.5 with gpuDevices: N"};
    }
    if (*gpu > kMaxGpusPerNode * 1000) {
      return GpuRequestError{"gpu", "at most " + std::to_string(kMaxGpusPerNode) + " GPUs per pod"};
    }
    if (*gpu >= 1000) {
      if (devices) {
        return GpuRequestError{
            "gpuDevices", "gpuDevices goes with a fraction or gpuMemory; for " + FormatMilli(*gpu) +
                              " whole GPUs write gpu: " + FormatMilli(*gpu) + " alone"};
      }
      r->gpu_devices = static_cast<int32_t>(*gpu / 1000);
      r->gpu_milli = 1000;
      return std::nullopt;
    }
    if (*gpu > 0) {
      r->gpu_devices = devices ? static_cast<int32_t>(*devices) : 1;
      r->gpu_milli = *gpu;
      return std::nullopt;
    }
  } else if (gpu_memory_mib) {
    if (*gpu_memory_mib <= 0) {
      return GpuRequestError{"gpuMemory", "expected a GPU memory request above 0"};
    }
    r->gpu_devices = devices ? static_cast<int32_t>(*devices) : 1;
    r->gpu_memory_mib = *gpu_memory_mib;
    return std::nullopt;
  }
  if (devices)
    return GpuRequestError{"gpuDevices", "gpuDevices needs a fraction (gpu) or gpuMemory"};
  return std::nullopt;
}

}  // namespace sluice
