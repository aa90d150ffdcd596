// The driver's versioned entry points: which exported function
// cuGetProcAddress hands out for a base name, a CUDA version and the stream
// flags. The CUDA driver keeps every old ABI of a function alive under its
// own name (cuMemAlloc, cuMemAlloc_v2; cuLaunchKernel, cuLaunchKernel_ptsz)
// and cuGetProcAddress picks the newest one that is no newer than the
// version the caller was built for. libsluice-vgpu uses the table to give a
// caller its hook for exactly that variant, and the fake libcuda uses it to
// answer cuGetProcAddress like the driver. Immutable; thread-safe.
#ifndef SLUICE_VGPU_PROC_TABLE_H_
#define SLUICE_VGPU_PROC_TABLE_H_

#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::vgpu {

struct ProcVariant {
  std::string_view base;     // what the caller asks for: "cuMemAlloc"
  std::string_view variant;  // the exported function: "cuMemAlloc_v2"
  int since;                 // the CUDA version that introduced it (1000 * major + 10 * minor)
  bool per_thread;           // the per-thread default stream flavour (_ptsz / _ptds)
};

// Every variant known, grouped by base name.
std::span<const ProcVariant> ProcTable();

struct ProcLookup {
  const ProcVariant* found = nullptr;  // null: nothing to hand out
  int status = 0;                      // CUdriverProcAddressQueryResult
};

// What cuGetProcAddress(base, cuda_version, flags) resolves to: among the
// variants of `base` with the stream flavour the flags ask for (per-thread
// only with CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, and only where
// the function has one), the newest introduced at or before cuda_version.
ProcLookup ResolveProc(std::string_view base, int cuda_version, uint64_t flags);

}  // namespace sluice::vgpu

#endif  // SLUICE_VGPU_PROC_TABLE_H_
