#include "gpu/nvml.h"

#include <dlfcn.h>

#include <algorithm>
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

// The MIG structures of NVML's public header (the _v1 layouts).
struct NvmlGiProfileInfo {
  unsigned int id, is_p2p_supported, slice_count, instance_count, multiprocessor_count,
      copy_engine_count, decoder_count, encoder_count, jpeg_count, ofa_count;
  unsigned long long memory_size_mb;  // NOLINT(google-runtime-int): NVML's ABI
};
struct NvmlGiPlacement {
  unsigned int start, size;
};
struct NvmlGiInfo {
  void* device;
  unsigned int id, profile_id;
  NvmlGiPlacement placement;
};
struct NvmlCiProfileInfo {
  unsigned int id, slice_count, instance_count, multiprocessor_count, shared_copy_engine_count,
      shared_decoder_count, shared_encoder_count, shared_jpeg_count, shared_ofa_count;
};
constexpr nvmlReturn_t kNvmlNotFound = 6;

// NVML_GPU_INSTANCE_PROFILE_* of each row of sluice's MIG tables (1g, 1g+me,
// 1g with two memory slots, 2g, 3g, 4g, 7g; see core/mig.cc), and
// NVML_COMPUTE_INSTANCE_PROFILE_* by compute slices.
constexpr unsigned int kGiProfileOfRow[] = {0x0, 0x7, 0x9, 0x1, 0x2, 0x3, 0x4};
unsigned int CiProfileOf(int32_t slices) {
  switch (slices) {
    case 1:
      return 0x0;
    case 2:
      return 0x1;
    case 3:
      return 0x2;
    case 4:
      return 0x3;
    default:
      return 0x4;  // 7 slices
  }
}

// The MIG table for NVML's device name ("NVIDIA H100 80GB HBM3").
const MigModel* ModelOfName(std::string name) {
  if (name.rfind("NVIDIA ", 0) == 0) name = name.substr(7);
  for (char& c : name) c = c == ' ' ? '-' : c;
  return FindMigModel(name);
}

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
  nvmlReturn_t (*gi_profile_info)(nvmlDevice_t, unsigned int, NvmlGiProfileInfo*) = nullptr;
  nvmlReturn_t (*gpu_instances)(nvmlDevice_t, unsigned int, void**, unsigned int*) = nullptr;
  nvmlReturn_t (*gi_info)(void*, NvmlGiInfo*) = nullptr;
  nvmlReturn_t (*gi_create)(nvmlDevice_t, unsigned int, const NvmlGiPlacement*, void**) = nullptr;
  nvmlReturn_t (*gi_destroy)(void*) = nullptr;
  nvmlReturn_t (*ci_profile_info)(void*, unsigned int, unsigned int, NvmlCiProfileInfo*) = nullptr;
  nvmlReturn_t (*ci_create)(void*, unsigned int, void**) = nullptr;
  nvmlReturn_t (*compute_instances)(void*, unsigned int, void**, unsigned int*) = nullptr;
  nvmlReturn_t (*ci_destroy)(void*) = nullptr;
  nvmlReturn_t (*mig_gi_id)(nvmlDevice_t, unsigned int*) = nullptr;
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
  api->gi_profile_info =
      Symbol<decltype(api->gi_profile_info)>(handle, {"nvmlDeviceGetGpuInstanceProfileInfo"});
  api->gpu_instances = Symbol<decltype(api->gpu_instances)>(handle, {"nvmlDeviceGetGpuInstances"});
  api->gi_info = Symbol<decltype(api->gi_info)>(handle, {"nvmlGpuInstanceGetInfo"});
  api->gi_create =
      Symbol<decltype(api->gi_create)>(handle, {"nvmlDeviceCreateGpuInstanceWithPlacement"});
  api->gi_destroy = Symbol<decltype(api->gi_destroy)>(handle, {"nvmlGpuInstanceDestroy"});
  api->ci_profile_info = Symbol<decltype(api->ci_profile_info)>(
      handle, {"nvmlGpuInstanceGetComputeInstanceProfileInfo"});
  api->ci_create =
      Symbol<decltype(api->ci_create)>(handle, {"nvmlGpuInstanceCreateComputeInstance"});
  api->compute_instances =
      Symbol<decltype(api->compute_instances)>(handle, {"nvmlGpuInstanceGetComputeInstances"});
  api->ci_destroy = Symbol<decltype(api->ci_destroy)>(handle, {"nvmlComputeInstanceDestroy"});
  api->mig_gi_id = Symbol<decltype(api->mig_gi_id)>(handle, {"nvmlDeviceGetGpuInstanceId"});
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

Result<void*> Nvml::Handle(int32_t index) {
  nvmlDevice_t device = nullptr;
  if (Status s = Check(api_->by_index(static_cast<unsigned int>(index), &device),
                       "nvmlDeviceGetHandleByIndex(" + std::to_string(index) + ")");
      !s.ok()) {
    return s;
  }
  return device;
}

const MigModel* Nvml::ModelOf(void* device) const {
  std::array<char, 128> name{};
  if (api_->name == nullptr || api_->name(device, name.data(), name.size()) != kNvmlSuccess) {
    return nullptr;
  }
  return ModelOfName(name.data());
}

Result<std::vector<MigGpuInstance>> Nvml::MigLayout(int32_t index) {
  Result<void*> device = Handle(index);
  if (!device.ok()) return device.status();
  if (api_->gi_profile_info == nullptr || api_->gpu_instances == nullptr ||
      api_->gi_info == nullptr) {
    return Status::FailedPrecondition("this NVML has no MIG GPU-instance calls");
  }
  const MigModel* model = ModelOf(*device);
  std::vector<MigGpuInstance> out;
  for (size_t row = 0; row < std::size(kGiProfileOfRow); ++row) {
    NvmlGiProfileInfo info{};
    if (api_->gi_profile_info(*device, kGiProfileOfRow[row], &info) != kNvmlSuccess) continue;
    std::array<void*, 8> gis{};
    unsigned int count = gis.size();
    if (Status s = Check(api_->gpu_instances(*device, info.id, gis.data(), &count),
                         "nvmlDeviceGetGpuInstances");
        !s.ok()) {
      return s;
    }
    for (unsigned int g = 0; g < count && g < gis.size(); ++g) {
      NvmlGiInfo gi{};
      if (Status s = Check(api_->gi_info(gis[g], &gi), "nvmlGpuInstanceGetInfo"); !s.ok()) {
        return s;
      }
      MigGpuInstance m;
      m.placement.start = static_cast<int32_t>(gi.placement.start);
      if (model != nullptr && row < model->profiles.size()) {
        m.placement.profile = model->profiles[row].id;
      }
      m.gpu_instance_id = gi.id;
      out.push_back(std::move(m));
    }
  }
  // The MIG device (compute instance) of each GPU instance, for its UUID.
  unsigned int max_mig = 0;
  if (api_->max_mig != nullptr && api_->mig_by_index != nullptr && api_->mig_gi_id != nullptr &&
      api_->max_mig(*device, &max_mig) == kNvmlSuccess) {
    for (unsigned int m = 0; m < max_mig; ++m) {
      nvmlDevice_t mig = nullptr;
      unsigned int gi_id = 0;
      if (api_->mig_by_index(*device, m, &mig) != kNvmlSuccess ||
          api_->mig_gi_id(mig, &gi_id) != kNvmlSuccess) {
        continue;
      }
      std::array<char, 128> uuid{};
      if (api_->uuid == nullptr || api_->uuid(mig, uuid.data(), uuid.size()) != kNvmlSuccess) {
        continue;
      }
      for (MigGpuInstance& g : out) {
        if (g.gpu_instance_id == gi_id) g.uuid = uuid.data();
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const MigGpuInstance& a, const MigGpuInstance& b) {
    return a.placement.start < b.placement.start;
  });
  return out;
}

Result<void*> Nvml::GpuInstanceAt(void* device, int32_t start) {
  for (unsigned int profile : kGiProfileOfRow) {
    NvmlGiProfileInfo info{};
    if (api_->gi_profile_info(device, profile, &info) != kNvmlSuccess) continue;
    std::array<void*, 8> gis{};
    unsigned int count = gis.size();
    if (api_->gpu_instances(device, info.id, gis.data(), &count) != kNvmlSuccess) continue;
    for (unsigned int g = 0; g < count && g < gis.size(); ++g) {
      NvmlGiInfo gi{};
      if (api_->gi_info(gis[g], &gi) == kNvmlSuccess &&
          static_cast<int32_t>(gi.placement.start) == start) {
        return gis[g];
      }
    }
  }
  return Status::NotFound("no GPU instance starts at memory slot " + std::to_string(start));
}

Status Nvml::CreateMigInstance(int32_t index, const MigProfile& profile, int32_t start) {
  Result<void*> device = Handle(index);
  if (!device.ok()) return device.status();
  if (api_->gi_profile_info == nullptr || api_->gi_create == nullptr ||
      api_->ci_profile_info == nullptr || api_->ci_create == nullptr ||
      api_->gi_destroy == nullptr) {
    return Status::FailedPrecondition("this NVML cannot create MIG instances");
  }
  const MigModel* model = ModelOf(*device);
  if (model == nullptr) return Status::FailedPrecondition("no MIG table for this GPU model");
  const MigProfile* row = model->Find(profile.id);
  if (row == nullptr) {
    return Status::InvalidArgument(std::string(model->model) + " has no profile " +
                                   std::string(profile.name));
  }
  const auto r = static_cast<size_t>(row - model->profiles.data());
  const std::string what =
      std::string(profile.name) + "@" + std::to_string(start) + " on GPU " + std::to_string(index);
  NvmlGiProfileInfo info{};
  if (Status s = Check(api_->gi_profile_info(*device, kGiProfileOfRow[r], &info),
                       "nvmlDeviceGetGpuInstanceProfileInfo (" + what + ")");
      !s.ok()) {
    return s;
  }
  const NvmlGiPlacement placement{static_cast<unsigned int>(start),
                                  static_cast<unsigned int>(row->slots)};
  void* gi = nullptr;
  if (Status s = Check(api_->gi_create(*device, info.id, &placement, &gi),
                       "nvmlDeviceCreateGpuInstanceWithPlacement (" + what + ")");
      !s.ok()) {
    return s;
  }
  NvmlCiProfileInfo ci_info{};
  void* ci = nullptr;
  Status s = Check(api_->ci_profile_info(gi, CiProfileOf(row->compute), 0, &ci_info),
                   "nvmlGpuInstanceGetComputeInstanceProfileInfo (" + what + ")");
  if (s.ok()) {
    s = Check(api_->ci_create(gi, ci_info.id, &ci),
              "nvmlGpuInstanceCreateComputeInstance (" + what + ")");
  }
  if (!s.ok()) api_->gi_destroy(gi);  // no half-made instance is left behind
  return s;
}

Status Nvml::DestroyMigInstance(int32_t index, int32_t start) {
  Result<void*> device = Handle(index);
  if (!device.ok()) return device.status();
  if (api_->gi_profile_info == nullptr || api_->gpu_instances == nullptr ||
      api_->gi_info == nullptr || api_->gi_destroy == nullptr ||
      api_->compute_instances == nullptr || api_->ci_destroy == nullptr) {
    return Status::FailedPrecondition("this NVML cannot destroy MIG instances");
  }
  Result<void*> gi = GpuInstanceAt(*device, start);
  if (!gi.ok()) {
    return Status::NotFound("GPU " + std::to_string(index) + ": " + gi.status().message());
  }
  const std::string what =
      "the instance at memory slot " + std::to_string(start) + " of GPU " + std::to_string(index);
  for (unsigned int profile = 0; profile <= 0x4; ++profile) {
    NvmlCiProfileInfo ci_info{};
    if (api_->ci_profile_info(*gi, profile, 0, &ci_info) != kNvmlSuccess) continue;
    std::array<void*, 8> cis{};
    unsigned int count = cis.size();
    const nvmlReturn_t rc = api_->compute_instances(*gi, ci_info.id, cis.data(), &count);
    if (rc == kNvmlNotFound) continue;
    if (Status s = Check(rc, "nvmlGpuInstanceGetComputeInstances (" + what + ")"); !s.ok()) {
      return s;
    }
    for (unsigned int c = 0; c < count && c < cis.size(); ++c) {
      if (Status s = Check(api_->ci_destroy(cis[c]), "nvmlComputeInstanceDestroy (" + what + ")");
          !s.ok()) {
        return s;
      }
    }
  }
  return Check(api_->gi_destroy(*gi), "nvmlGpuInstanceDestroy (" + what + ")");
}

}  // namespace sluice
