#include "vgpu/runtime.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "vgpu/hooks.h"
#include "vgpu/proc_table.h"

namespace sluice::vgpu {
namespace {

using DlsymFn = void* (*)(void*, const char*);

// The newest CUDA version whose entry points proc_table.h lists: for callers
// built against a newer one the driver's own answer is the only safe one.
constexpr int kTableCoversVersion = 12080;
constexpr auto kThrottlePeriod = std::chrono::milliseconds(100);

void Warn(const std::string& text) {
  const std::string line = "sluice-vgpu: " + text + (text.ends_with('\n') ? "" : "\n");
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

DlsymFn LoadRealDlsym() {
  // The versioned lookup reaches glibc's dlsym past this library's own.
  void* p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  if (p == nullptr) p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
  return reinterpret_cast<DlsymFn>(p);  // NOLINT: dlvsym's result is the function
}

void StartThrottle(int share, SharedUsage* usage) {
  std::thread([share, usage] {
    UtilizationSampler sampler([](const char* n) { return RealSymbol(NvmlLibrary(), n); });
    if (!sampler.ok()) {
      Warn(
          "SLUICE_GPU_COMPUTE_SHARE is set but NVML's per-process utilisation is unavailable; "
          "launches are not throttled");
      return;
    }
    ThrottleLoop loop(share, &TheGate(), [&] {
      return sampler.Sample(usage != nullptr ? usage->Pids() : std::vector<int>{getpid()});
    });
    while (true) {
      std::this_thread::sleep_for(kThrottlePeriod);
      loop.Tick();
    }
  }).detach();
}

void AfterForkInChild() {
  TheBooks().AfterFork();
  TheGate().Open(kOpenBudget);
  if (TheBooks().config().compute_share > 0) {
    StartThrottle(TheBooks().config().compute_share, TheBooks().usage());
  }
}

Books* MakeBooks() {
  VgpuConfig c = ReadConfig([](const char* name) { return std::getenv(name); });
  if (!c.problems.empty()) Warn(c.problems);
  std::unique_ptr<SharedUsage> usage;
  if (c.limits_memory() || c.compute_share > 0) {
    std::string error;
    usage = SharedUsage::Open(c.usage_path, &error);
    if (!error.empty()) Warn(error + (usage ? "; counting this process alone" : ""));
  }
  SharedUsage* shared = usage.get();
  auto* books = new Books(std::move(c), std::move(usage));
  if (shared != nullptr) std::atexit([] { TheBooks().usage()->Leave(); });
  if (books->config().compute_share > 0) StartThrottle(books->config().compute_share, shared);
  pthread_atfork(nullptr, nullptr, AfterForkInChild);
  return books;
}

std::optional<std::vector<std::string>> VisibleDevices() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  if (v == nullptr) return std::nullopt;
  std::vector<std::string> out;
  std::string s(v);
  for (size_t start = 0; start <= s.size();) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// dlsym(RTLD_NEXT, ...) for a caller that reached this library's dlsym: the
// first object after the caller's own, in load order, that defines it.
void* NextSymbol(const void* caller, const char* symbol) {
  Dl_info info{};
  link_map* map = nullptr;
  if (dladdr1(caller, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) == 0 ||  // NOLINT
      map == nullptr) {
    return nullptr;
  }
  for (link_map* l = map->l_next; l != nullptr; l = l->l_next) {
    if (l->l_name == nullptr || l->l_name[0] == '\0') continue;
    void* handle = dlopen(l->l_name, RTLD_LAZY | RTLD_NOLOAD);
    if (handle == nullptr) continue;
    void* found = RealDlsym(handle, symbol);
    dlclose(handle);
    Dl_info where{};
    // A handle's lookup also searches its dependencies: keep only a
    // definition in this very object.
    if (found != nullptr && dladdr(found, &where) != 0 && where.dli_fbase != nullptr &&
        std::strcmp(where.dli_fname, l->l_name) == 0) {
      return found;
    }
  }
  return nullptr;
}

// Which hook to hand out for what the real cuGetProcAddress returned. The
// driver decides the version: its pointer is matched against the exported
// variants of the name, and only when it is none of them (an internal
// entry) does the table choose, for versions the table covers.
void SubstituteHook(const char* symbol, int cuda_version, cuuint64_t flags, void** pfn) {
  for (const ProcVariant& v : ProcTable()) {
    if (v.base != symbol) continue;
    if (RealSymbol(CudaLibrary(), std::string(v.variant).c_str()) == *pfn) {
      if (void* hook = HookFor(v.variant)) *pfn = hook;
      return;
    }
  }
  if (cuda_version > kTableCoversVersion) return;
  const ProcLookup chosen = ResolveProc(symbol, cuda_version, flags);
  if (chosen.found == nullptr) return;
  if (void* hook = HookFor(chosen.found->variant)) *pfn = hook;
}

}  // namespace

void* RealDlsym(void* handle, const char* name) {
  static const DlsymFn real = LoadRealDlsym();
  return real == nullptr ? nullptr : real(handle, name);
}

void* RealSymbol(void* library, const char* name) {
  return library == nullptr ? nullptr : RealDlsym(library, name);
}

void* CudaLibrary() {
  static void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  return lib;
}

void* NvmlLibrary() {
  static void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_GLOBAL);
  return lib;
}

Books& TheBooks() {
  static Books* books = MakeBooks();
  return *books;
}

LaunchGate& TheGate() {
  static auto* gate = new LaunchGate;
  return *gate;
}

int CurrentDevice() {
  static const auto get = RealCuda<CUresult (*)(CUdevice*)>("cuCtxGetDevice");
  CUdevice dev = -1;
  return get != nullptr && get(&dev) == CUDA_SUCCESS ? dev : -1;
}

int CudaOrdinalOf(nvmlDevice_t device) {
  static const auto get_index =
      RealNvml<nvmlReturn_t (*)(nvmlDevice_t, unsigned int*)>("nvmlDeviceGetIndex");
  static const auto get_uuid =
      RealNvml<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int)>("nvmlDeviceGetUUID");
  static const std::optional<std::vector<std::string>> visible = VisibleDevices();
  unsigned int index = 0;
  if (get_index == nullptr || get_index(device, &index) != NVML_SUCCESS) return -1;
  if (!visible) return static_cast<int>(index);
  char uuid[96] = {};
  if (get_uuid != nullptr) get_uuid(device, uuid, sizeof uuid);
  for (size_t i = 0; i < visible->size(); ++i) {
    const std::string& v = (*visible)[i];
    // CUDA takes an index, a whole UUID, or a unique prefix of one.
    if (v == std::to_string(index) || (v.starts_with("GPU-") && std::string(uuid).starts_with(v)))
      return static_cast<int>(i);
  }
  return -1;
}

int64_t ProcessMemoryOn(int ordinal) {
  using GetUuid = CUresult (*)(CUuuid*, CUdevice);
  using ByUuid = nvmlReturn_t (*)(const char*, nvmlDevice_t*);
  using Processes = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_t*);
  static const GetUuid get_uuid = RealCuda<GetUuid>("cuDeviceGetUuid_v2") != nullptr
                                      ? RealCuda<GetUuid>("cuDeviceGetUuid_v2")
                                      : RealCuda<GetUuid>("cuDeviceGetUuid");
  static const auto by_uuid = RealNvml<ByUuid>("nvmlDeviceGetHandleByUUID");
  static const auto processes = RealNvml<Processes>("nvmlDeviceGetComputeRunningProcesses_v3");
  static const auto init = RealNvml<nvmlReturn_t (*)()>("nvmlInit_v2");
  static const bool ready = get_uuid != nullptr && by_uuid != nullptr && processes != nullptr &&
                            init != nullptr && init() == NVML_SUCCESS;
  CUuuid id{};
  if (!ready || get_uuid(&id, ordinal) != CUDA_SUCCESS) return -1;
  char text[48];
  const unsigned char* b = id.bytes;
  std::snprintf(text, sizeof text,
                "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                b[14], b[15]);
  nvmlDevice_t device = nullptr;
  if (by_uuid(text, &device) != NVML_SUCCESS) return -1;
  std::vector<nvmlProcessInfo_t> infos(64);
  auto count = static_cast<unsigned int>(infos.size());
  if (processes(device, &count, infos.data()) != NVML_SUCCESS) return -1;
  for (unsigned int i = 0; i < count; ++i) {
    if (static_cast<pid_t>(infos[i].pid) == getpid() &&
        infos[i].usedGpuMemory != NVML_VALUE_NOT_AVAILABLE) {
      return static_cast<int64_t>(infos[i].usedGpuMemory);
    }
  }
  return -1;
}

void* HookFor(std::string_view name) {
  // NOLINTBEGIN(google-readability-casting,bugprone-casting-through-void): function addresses
  static const auto* hooks = new std::unordered_map<std::string_view, void*>{
#define SLUICE_HOOK(f) {#f, reinterpret_cast<void*>(&(f))}
      SLUICE_HOOK(cuGetProcAddress),
      SLUICE_HOOK(cuGetProcAddress_v2),
      SLUICE_HOOK(cuCtxCreate),
      SLUICE_HOOK(cuCtxCreate_v2),
      SLUICE_HOOK(cuCtxCreate_v3),
      SLUICE_HOOK(cuCtxCreate_v4),
      SLUICE_HOOK(cuCtxDestroy),
      SLUICE_HOOK(cuCtxDestroy_v2),
      SLUICE_HOOK(cuDevicePrimaryCtxRetain),
      SLUICE_HOOK(cuDevicePrimaryCtxRelease),
      SLUICE_HOOK(cuDevicePrimaryCtxRelease_v2),
      SLUICE_HOOK(cuDevicePrimaryCtxReset),
      SLUICE_HOOK(cuDevicePrimaryCtxReset_v2),
      SLUICE_HOOK(cuMemAlloc_v2),
      SLUICE_HOOK(cuMemAllocPitch_v2),
      SLUICE_HOOK(cuMemAllocManaged),
      SLUICE_HOOK(cuMemFree_v2),
      SLUICE_HOOK(cuArrayCreate_v2),
      SLUICE_HOOK(cuArray3DCreate_v2),
      SLUICE_HOOK(cuArrayDestroy),
      SLUICE_HOOK(cuMipmappedArrayCreate),
      SLUICE_HOOK(cuMipmappedArrayDestroy),
      SLUICE_HOOK(cuMemCreate),
      SLUICE_HOOK(cuMemRelease),
      SLUICE_HOOK(cuMemAllocAsync),
      SLUICE_HOOK(cuMemAllocAsync_ptsz),
      SLUICE_HOOK(cuMemAllocFromPoolAsync),
      SLUICE_HOOK(cuMemAllocFromPoolAsync_ptsz),
      SLUICE_HOOK(cuMemFreeAsync),
      SLUICE_HOOK(cuMemFreeAsync_ptsz),
      SLUICE_HOOK(cuMemGetInfo_v2),
      SLUICE_HOOK(cuDeviceTotalMem_v2),
      SLUICE_HOOK(nvmlDeviceGetMemoryInfo),
      SLUICE_HOOK(nvmlDeviceGetMemoryInfo_v2),
      SLUICE_HOOK(cuLaunchKernel),
      SLUICE_HOOK(cuLaunchKernel_ptsz),
      SLUICE_HOOK(cuLaunchCooperativeKernel),
      SLUICE_HOOK(cuLaunchCooperativeKernel_ptsz),
      SLUICE_HOOK(cuLaunchKernelEx),
      SLUICE_HOOK(cuLaunchKernelEx_ptsz),
      SLUICE_HOOK(cuGraphLaunch),
      SLUICE_HOOK(cuGraphLaunch_ptsz),
#undef SLUICE_HOOK
  };
  // NOLINTEND(google-readability-casting,bugprone-casting-through-void)
  auto it = hooks->find(name);
  return it == hooks->end() ? nullptr : it->second;
}

}  // namespace sluice::vgpu

using sluice::vgpu::HookFor;
using sluice::vgpu::RealCuda;
using sluice::vgpu::RealDlsym;

extern "C" {

void* dlsym(void* handle, const char* name) noexcept {
  // Only driver and NVML names can be ours; everything else costs a compare.
  if (name[0] == 'c' || name[0] == 'n') {
    if (void* hook = HookFor(name)) {
      if (handle == RTLD_NEXT || RealDlsym(handle, name) != nullptr) return hook;
    }
  }
  if (handle == RTLD_NEXT) return sluice::vgpu::NextSymbol(__builtin_return_address(0), name);
  return RealDlsym(handle, name);
}

CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  static const auto real = RealCuda<decltype(&cuGetProcAddress)>("cuGetProcAddress");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult rc = real(symbol, pfn, cudaVersion, flags);
  if (rc == CUDA_SUCCESS && pfn != nullptr && *pfn != nullptr)
    sluice::vgpu::SubstituteHook(symbol, cudaVersion, flags, pfn);
  return rc;
}

CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult* symbolStatus) {
  static const auto real = RealCuda<decltype(&cuGetProcAddress_v2)>("cuGetProcAddress_v2");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult rc = real(symbol, pfn, cudaVersion, flags, symbolStatus);
  if (rc == CUDA_SUCCESS && pfn != nullptr && *pfn != nullptr)
    sluice::vgpu::SubstituteHook(symbol, cudaVersion, flags, pfn);
  return rc;
}

}  // extern "C"
