// A program linked against libcuda.so.1 that runs driver calls named on its
// command line and prints one line per call ("OP RESULT VALUES..."), so the
// interception tests can drive every path under LD_PRELOAD:
//
//   ctx                 cuInit, retain device 0's primary context, make it current
//   alloc|managed|async|pool|create|array|array3d|mipmap|gp-alloc|dlsym-alloc MIB
//                       allocate MIB by that path (gp-: through cuGetProcAddress_v2,
//                       dlsym-: through dlsym on libcuda)
//   pitch WIDTH HEIGHT  cuMemAllocPitch_v2; prints the pitch
//   free-all            release everything allocated so far
//   meminfo / totalmem  cuMemGetInfo_v2 / cuDeviceTotalMem_v2, in MiB
//   nvml                NVML's memory figures for device 0, in MiB
//   fill                1 MiB allocations until one fails; prints the MiB held
//   gp NAME VERSION FLAGS  which exported variant cuGetProcAddress_v2 returned,
//                       and which library it lives in
//   next NAME           which library dlsym(RTLD_NEXT, NAME) finds it in
//   launch N            N launches of each kind (kernel, cooperative, graph, ex)
//   fork MIB            a child that sets up its context and allocates MIB
//   hold                print, then wait to be killed
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vgpu/hooks.h"
#include "vgpu/proc_table.h"

extern "C" long sluiceFakeCudaLaunches();            // NOLINT(google-runtime-int)
extern "C" CUresult cuInit(unsigned int flags);      // the fake's own
extern "C" CUresult cuCtxSetCurrent(CUcontext ctx);  // pass-through calls
extern "C" CUresult cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* props);

namespace {

constexpr size_t kMiB = 1 << 20;

struct Held {
  std::vector<CUdeviceptr> pointers;
  std::vector<CUarray> arrays;
  std::vector<CUmipmappedArray> mipmaps;
  std::vector<CUmemGenericAllocationHandle> handles;
};

void Print(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

CUresult SetUpContext() {
  CUresult rc = cuInit(0);
  CUcontext ctx = nullptr;
  if (rc == CUDA_SUCCESS) rc = cuDevicePrimaryCtxRetain(&ctx, 0);
  if (rc == CUDA_SUCCESS) rc = cuCtxSetCurrent(ctx);
  return rc;
}

template <typename F>
F Cast(void* p) {
  return reinterpret_cast<F>(p);  // NOLINT: a function pointer from a lookup
}

// Allocates `mib` through the path `op` names.
CUresult Allocate(const std::string& op, size_t mib, Held* held) {
  const size_t bytes = mib * kMiB;
  CUdeviceptr p = 0;
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  if (op == "alloc") {
    rc = cuMemAlloc_v2(&p, bytes);
  } else if (op == "managed") {
    rc = cuMemAllocManaged(&p, bytes, 1);
  } else if (op == "async") {
    rc = cuMemAllocAsync(&p, bytes, nullptr);
  } else if (op == "pool") {
    CUmemoryPool pool = nullptr;
    cuMemPoolCreate(&pool, nullptr);
    rc = cuMemAllocFromPoolAsync(&p, bytes, pool, nullptr);
  } else if (op == "gp-alloc") {
    void* fn = nullptr;
    rc = cuGetProcAddress_v2("cuMemAlloc", &fn, 12000, CU_GET_PROC_ADDRESS_DEFAULT, nullptr);
    if (rc == CUDA_SUCCESS) rc = Cast<decltype(&cuMemAlloc_v2)>(fn)(&p, bytes);
  } else if (op == "dlsym-alloc") {
    void* lib = dlopen("libcuda.so.1", RTLD_NOW);
    rc = Cast<decltype(&cuMemAlloc_v2)>(dlsym(lib, "cuMemAlloc_v2"))(&p, bytes);
  } else if (op == "create") {
    CUmemAllocationProp prop{};
    prop.type = 1;  // CU_MEM_ALLOCATION_TYPE_PINNED
    prop.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
    CUmemGenericAllocationHandle h = 0;
    rc = cuMemCreate(&h, bytes, &prop, 0);
    if (rc == CUDA_SUCCESS) held->handles.push_back(h);
    return rc;
  } else if (op == "array" || op == "array3d" || op == "mipmap") {
    // float elements, rows of 1 MiB: `mib` rows (a mipmap's levels add a third).
    CUarray a = nullptr;
    if (op == "array") {
      CUDA_ARRAY_DESCRIPTOR d{kMiB / 4, mib, CU_AD_FORMAT_FLOAT, 1};
      rc = cuArrayCreate_v2(&a, &d);
    } else {
      CUDA_ARRAY3D_DESCRIPTOR d{kMiB / 4, mib, 1, CU_AD_FORMAT_FLOAT, 1, 0};
      if (op == "array3d") {
        rc = cuArray3DCreate_v2(&a, &d);
      } else {
        CUmipmappedArray m = nullptr;
        rc = cuMipmappedArrayCreate(&m, &d, 1);
        if (rc == CUDA_SUCCESS) held->mipmaps.push_back(m);
        return rc;
      }
    }
    if (rc == CUDA_SUCCESS) held->arrays.push_back(a);
    return rc;
  }
  if (rc == CUDA_SUCCESS) held->pointers.push_back(p);
  return rc;
}

CUresult FreeAll(Held* held) {
  CUresult rc = CUDA_SUCCESS;
  for (CUdeviceptr p : held->pointers) rc = rc != CUDA_SUCCESS ? rc : cuMemFree_v2(p);
  for (CUarray a : held->arrays) rc = rc != CUDA_SUCCESS ? rc : cuArrayDestroy(a);
  for (CUmipmappedArray m : held->mipmaps)
    rc = rc != CUDA_SUCCESS ? rc : cuMipmappedArrayDestroy(m);
  for (auto h : held->handles) rc = rc != CUDA_SUCCESS ? rc : cuMemRelease(h);
  *held = Held{};
  return rc;
}

std::string Nvml() {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  if (lib == nullptr) return "nvml -1";
  auto init = Cast<nvmlReturn_t (*)()>(dlsym(lib, "nvmlInit_v2"));
  auto handle = Cast<nvmlReturn_t (*)(unsigned int, nvmlDevice_t*)>(
      dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
  auto info = Cast<decltype(&nvmlDeviceGetMemoryInfo)>(dlsym(lib, "nvmlDeviceGetMemoryInfo"));
  nvmlDevice_t dev = nullptr;
  nvmlMemory_t m{};
  nvmlReturn_t rc = init();
  if (rc == NVML_SUCCESS) rc = handle(0, &dev);
  if (rc == NVML_SUCCESS) rc = info(dev, &m);
  return "nvml " + std::to_string(rc) + " " + std::to_string(m.total / kMiB) + " " +
         std::to_string(m.used / kMiB) + " " + std::to_string(m.free / kMiB);
}

// The library a lookup's result lives in, or "none".
std::string Owner(void* fn) {
  Dl_info where{};
  if (fn == nullptr || dladdr(fn, &where) == 0) return "none";
  const std::string name = where.dli_fname;
  return name.substr(name.rfind('/') + 1);
}

// Which exported variant (looked up as the program would, through dlsym)
// cuGetProcAddress_v2 handed out, and from which library.
std::string GetProc(const char* name, int version, uint64_t flags) {
  void* fn = nullptr;
  CUdriverProcAddressQueryResult status = -1;
  const CUresult rc = cuGetProcAddress_v2(name, &fn, version, flags, &status);
  std::string variant = "none";
  for (const sluice::vgpu::ProcVariant& v : sluice::vgpu::ProcTable()) {
    if (fn != nullptr && dlsym(RTLD_DEFAULT, std::string(v.variant).c_str()) == fn)
      variant = std::string(v.variant);
  }
  return "gp " + std::to_string(rc) + " " + std::to_string(status) + " " + variant + " " +
         Owner(fn);
}

std::string Launch(int n) {
  CUresult rc = CUDA_SUCCESS;
  for (int i = 0; i < n && rc == CUDA_SUCCESS; ++i) {
    rc = cuLaunchKernel(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr);
    if (rc == CUDA_SUCCESS)
      rc = cuLaunchCooperativeKernel(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr);
    if (rc == CUDA_SUCCESS) rc = cuGraphLaunch(nullptr, nullptr);
    if (rc == CUDA_SUCCESS) rc = cuLaunchKernelEx(nullptr, nullptr, nullptr, nullptr);
  }
  return "launch " + std::to_string(rc) + " " + std::to_string(sluiceFakeCudaLaunches());
}

std::string Fork(size_t mib) {
  const pid_t child = fork();
  if (child == 0) {
    Held held;
    CUresult rc = SetUpContext();
    if (rc == CUDA_SUCCESS) rc = Allocate("alloc", mib, &held);
    Print("fork-child " + std::to_string(rc));
    std::exit(0);  // an ordinary exit, which gives the child's share back
  }
  int status = 0;
  waitpid(child, &status, 0);
  return "fork " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

}  // namespace

int main(int argc, char** argv) {
  Held held;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto next = [&](size_t* i) { return *i + 1 < args.size() ? args[++*i] : std::string("0"); };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& op = args[i];
    if (op == "ctx") {
      Print("ctx " + std::to_string(SetUpContext()));
    } else if (op == "pitch") {
      const size_t w = std::stoull(next(&i));
      const size_t h = std::stoull(next(&i));
      CUdeviceptr p = 0;
      size_t pitch = 0;
      const CUresult rc = cuMemAllocPitch_v2(&p, &pitch, w, h, 4);
      if (rc == CUDA_SUCCESS) held.pointers.push_back(p);
      Print("pitch " + std::to_string(rc) + " " + std::to_string(pitch));
    } else if (op == "free-all") {
      Print("free-all " + std::to_string(FreeAll(&held)));
    } else if (op == "meminfo") {
      size_t free = 0, total = 0;
      const CUresult rc = cuMemGetInfo_v2(&free, &total);
      Print("meminfo " + std::to_string(rc) + " " + std::to_string(free / kMiB) + " " +
            std::to_string(total / kMiB));
    } else if (op == "totalmem") {
      size_t total = 0;
      const CUresult rc = cuDeviceTotalMem_v2(&total, 0);
      Print("totalmem " + std::to_string(rc) + " " + std::to_string(total / kMiB));
    } else if (op == "nvml") {
      Print(Nvml());
    } else if (op == "fill") {
      size_t mib = 0;
      CUresult rc = CUDA_SUCCESS;
      while ((rc = Allocate("alloc", 1, &held)) == CUDA_SUCCESS) ++mib;
      Print("fill " + std::to_string(rc) + " " + std::to_string(mib));
    } else if (op == "gp") {
      const std::string name = next(&i);
      const int version = std::stoi(next(&i));
      Print(GetProc(name.c_str(), version, std::stoull(next(&i))));
    } else if (op == "next") {
      const std::string name = next(&i);
      Print("next " + name + " " + Owner(dlsym(RTLD_NEXT, name.c_str())));
    } else if (op == "launch") {
      Print(Launch(std::stoi(next(&i))));
    } else if (op == "fork") {
      Print(Fork(std::stoull(next(&i))));
    } else if (op == "hold") {
      Print("hold");
      while (true) pause();
    } else {
      Print(op + " " + std::to_string(Allocate(op, std::stoull(next(&i)), &held)));
    }
  }
  return 0;
}
