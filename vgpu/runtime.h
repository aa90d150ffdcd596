// The machinery behind the hooks: the real libraries and their functions,
// the process's Books, the compute throttle, and the map from names to
// hooks that dlsym and cuGetProcAddress use. Everything is built on first
// use (a process that never touches CUDA pays nothing but the load) and
// never destroyed, because CUDA calls can come from other threads while the
// process exits.
#ifndef SLUICE_VGPU_RUNTIME_H_
#define SLUICE_VGPU_RUNTIME_H_

#include <string_view>

#include "vgpu/books.h"
#include "vgpu/cuda_types.h"
#include "vgpu/throttle.h"

namespace sluice::vgpu {

// glibc's dlsym, past this library's own (RTLD_DEFAULT is null, and valid).
void* RealDlsym(void* handle, const char* name);
// `name` in `library`; null when either is missing (never a global lookup,
// which would find this library's own hooks).
void* RealSymbol(void* library, const char* name);
// The real libcuda.so.1 and libnvidia-ml.so.1 (null when absent).
void* CudaLibrary();
void* NvmlLibrary();

// The real function `name` (null when the driver lacks it). Call sites keep
// the result in a function-local static, so each is resolved once.
template <typename F>
F RealCuda(const char* name) {
  return reinterpret_cast<F>(RealSymbol(CudaLibrary(), name));  // NOLINT: dlsym's result
}
template <typename F>
F RealNvml(const char* name) {
  return reinterpret_cast<F>(RealSymbol(NvmlLibrary(), name));  // NOLINT: dlsym's result
}

Books& TheBooks();
// The device of the calling thread's current context; -1 without one.
int CurrentDevice();
// The CUDA ordinal of an NVML device as this process sees it (through
// CUDA_VISIBLE_DEVICES); -1 when the process cannot see it.
int CudaOrdinalOf(nvmlDevice_t device);

// The device memory NVML says this process uses on CUDA device `ordinal`
// (its contexts and allocations); -1 when NVML cannot say.
int64_t ProcessMemoryOn(int ordinal);

// The launch gate and whether it is in use (SLUICE_GPU_COMPUTE_SHARE).
LaunchGate& TheGate();
inline bool Throttled() {
  static const bool on = TheBooks().config().compute_share > 0;
  return on;
}

// This library's replacement for the exported function `name`, or null.
void* HookFor(std::string_view name);

}  // namespace sluice::vgpu

#endif  // SLUICE_VGPU_RUNTIME_H_
