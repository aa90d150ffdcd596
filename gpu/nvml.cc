#include "gpu/nvml.h"

#include <dlfcn.h>

#include <array>

namespace sluice {
namespace {

// The few NVML types sluice uses, as the library's ABI defines them.
using nvmlDevice_t = void*;
using nvmlReturn_t = int;
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr nvmlReturn_t kNvmlInsufficientSize = 7;
constexpr unsigned long long kMiB = 1024ULL * 1024ULL;  // NOLINT(google-runtime-int)
struct NvmlMemory {
  unsigned long long total;  // NOLINT(google-runtime-int): NVML's ABI
  unsigned long long free;   // NOLINT(google-runtime-int)
  unsigned long long used;   // NOLINT(google-runtime-int)
};
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
// nvmlProcessInfo_t of the _v2/_v3 calls, and of the original call.
struct NvmlProcessInfoV2 {
  unsigned int pid;
  unsigned long long used_gpu_memory;  // NOLINT(google-runtime-int)
  unsigned int gpu_instance_id;
  unsigned int compute_instance_id;
};
struct NvmlProcessInfoV1 {
  unsigned int pid;
  unsigned long long used_gpu_memory;  // NOLINT(google-runtime-int)
};

template <typename F>
F Symbol(void* handle, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (void* p = dlsym(handle, name)) return reinterpret_cast<F>(p);
  }
  return nullptr;
}

}  // namespace

struct Nvml::Api {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*by_index)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, NvmlMemory*) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, NvmlUtilization*) = nullptr;
  nvmlReturn_t (*mig_mode)(nvmlDevice_t, unsigned int*, unsigned int*) = nullptr;
  nvmlReturn_t (*processes_v2)(nvmlDevice_t, unsigned int*, NvmlProcessInfoV2*) = nullptr;
  nvmlReturn_t (*max_mig)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*mig_by_index)(nvmlDevice_t, unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*processes_v1)(nvmlDevice_t, unsigned int*, NvmlProcessInfoV1*) = nullptr;
};

Result<std::unique_ptr<Nvml>> Nvml::Load(const std::string& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Status::FailedPrecondition("cannot load " + library + " (no NVIDIA driver?): " +
                                      (why != nullptr ? why : "unknown error"));
  }
  auto api = std::make_unique<Api>();
  api->init = Symbol<decltype(api->init)>(handle, {"nvmlInit_v2", "nvmlInit"});
  api->shutdown = Symbol<decltype(api->shutdown)>(handle, {"nvmlShutdown"});
  api->error_string = Symbol<decltype(api->error_string)>(handle, {"nvmlErrorString"});
  api->count =
      Symbol<decltype(api->count)>(handle, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
  api->by_index = Symbol<decltype(api->by_index)>(
      handle, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
  api->name = Symbol<decltype(api->name)>(handle, {"nvmlDeviceGetName"});
  api->uuid = Symbol<decltype(api->uuid)>(handle, {"nvmlDeviceGetUUID"});
  api->memory = Symbol<decltype(api->memory)>(handle, {"nvmlDeviceGetMemoryInfo"});
  api->utilization = Symbol<decltype(api->utilization)>(handle, {"nvmlDeviceGetUtilizationRates"});
  api->mig_mode = Symbol<decltype(api->mig_mode)>(handle, {"nvmlDeviceGetMigMode"});
  api->processes_v2 = Symbol<decltype(api->processes_v2)>(
      handle,
      {"nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2"});
  api->max_mig = Symbol<decltype(api->max_mig)>(handle, {"nvmlDeviceGetMaxMigDeviceCount"});
  api->mig_by_index =
      Symbol<decltype(api->mig_by_index)>(handle, {"nvmlDeviceGetMigDeviceHandleByIndex"});
  api->processes_v1 =
      Symbol<decltype(api->processes_v1)>(handle, {"nvmlDeviceGetComputeRunningProcesses"});
  if (api->init == nullptr || api->count == nullptr || api->by_index == nullptr) {
    dlclose(handle);
    return Status::FailedPrecondition(library + " lacks nvmlInit or the device calls");
  }
  std::unique_ptr<Nvml> nvml(new Nvml(handle, std::move(api)));
  if (Status s = nvml->Check(nvml->api_->init(), "nvmlInit"); !s.ok()) {
    nvml->api_->shutdown = nullptr;  // nothing to shut down
    return s;
  }
  return nvml;
}

Nvml::Nvml(void* handle, std::unique_ptr<Api> api) : handle_(handle), api_(std::move(api)) {}

Nvml::~Nvml() {
  if (api_->shutdown != nullptr) api_->shutdown();
  dlclose(handle_);
}

Status Nvml::Check(int rc, const std::string& what) const {
  if (rc == kNvmlSuccess) return Status::OK();
  std::string text = api_->error_string != nullptr ? api_->error_string(rc) : "";
  return Status::FailedPrecondition(what + " failed: " + (text.empty() ? "" : text + " ") +
                                    "(NVML error " + std::to_string(rc) + ")");
}

Result<std::vector<GpuDevice>> Nvml::Devices() {
  unsigned int count = 0;
  if (Status s = Check(api_->count(&count), "nvmlDeviceGetCount"); !s.ok()) return s;
  std::vector<GpuDevice> out;
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    if (Status s = Check(api_->by_index(i, &device),
                         "nvmlDeviceGetHandleByIndex(" + std::to_string(i) + ")");
        !s.ok()) {
      return s;
    }
    GpuDevice d;
    d.index = static_cast<int32_t>(i);
    std::array<char, 128> buf{};
    if (api_->name != nullptr && api_->name(device, buf.data(), buf.size()) == kNvmlSuccess) {
      d.name = buf.data();
    }
    buf.fill(0);
    if (api_->uuid != nullptr && api_->uuid(device, buf.data(), buf.size()) == kNvmlSuccess) {
      d.uuid = buf.data();
    }
    NvmlMemory memory{};
    if (api_->memory != nullptr && api_->memory(device, &memory) == kNvmlSuccess) {
      d.memory_mib = static_cast<int64_t>(memory.total / kMiB);
    }
    unsigned int current = 0;
    unsigned int pending = 0;
    if (api_->mig_mode != nullptr && api_->mig_mode(device, &current, &pending) == kNvmlSuccess) {
      d.mig_enabled = current == 1;
    }
    unsigned int max_mig = 0;
    if (d.mig_enabled && api_->max_mig != nullptr && api_->mig_by_index != nullptr &&
        api_->max_mig(device, &max_mig) == kNvmlSuccess) {
      // Slots without an instance answer NOT_FOUND; only real ones count.
      for (unsigned int m = 0; m < max_mig; ++m) {
        nvmlDevice_t mig = nullptr;
        if (api_->mig_by_index(device, m, &mig) != kNvmlSuccess) continue;
        MigInstance inst;
        inst.index = static_cast<int32_t>(d.mig_instances.size());
        buf.fill(0);
        if (api_->uuid != nullptr && api_->uuid(mig, buf.data(), buf.size()) == kNvmlSuccess) {
          inst.uuid = buf.data();
        }
        NvmlMemory mig_memory{};
        if (api_->memory != nullptr && api_->memory(mig, &mig_memory) == kNvmlSuccess) {
          inst.memory_mib = static_cast<int64_t>(mig_memory.total / kMiB);
        }
        d.mig_instances.push_back(std::move(inst));
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<GpuSample> Nvml::Sample(int32_t index) {
  nvmlDevice_t device = nullptr;
  if (Status s = Check(api_->by_index(static_cast<unsigned int>(index), &device),
                       "nvmlDeviceGetHandleByIndex(" + std::to_string(index) + ")");
      !s.ok()) {
    return s;
  }
  GpuSample out;
  out.index = index;
  NvmlUtilization util{};
  if (api_->utilization != nullptr && api_->utilization(device, &util) == kNvmlSuccess) {
    out.utilization_percent = static_cast<int32_t>(util.gpu);
  }
  NvmlMemory memory{};
  if (api_->memory != nullptr && api_->memory(device, &memory) == kNvmlSuccess) {
    out.memory_used_mib = static_cast<int64_t>(memory.used / kMiB);
  }
  std::array<NvmlProcessInfoV2, 64> v2{};
  unsigned int n = v2.size();
  if (api_->processes_v2 != nullptr) {
    int rc = api_->processes_v2(device, &n, v2.data());
    if (rc == kNvmlSuccess || rc == kNvmlInsufficientSize) {
      for (unsigned int i = 0; i < n && i < v2.size(); ++i) {
        out.processes.push_back(
            {static_cast<int>(v2[i].pid), static_cast<int64_t>(v2[i].used_gpu_memory / kMiB)});
      }
    }
  } else if (api_->processes_v1 != nullptr) {
    std::array<NvmlProcessInfoV1, 64> v1{};
    n = v1.size();
    int rc = api_->processes_v1(device, &n, v1.data());
    if (rc == kNvmlSuccess || rc == kNvmlInsufficientSize) {
      for (unsigned int i = 0; i < n && i < v1.size(); ++i) {
        out.processes.push_back(
            {static_cast<int>(v1[i].pid), static_cast<int64_t>(v1[i].used_gpu_memory / kMiB)});
      }
    }
  }
  return out;
}

}  // namespace sluice
