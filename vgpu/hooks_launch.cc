// Contexts, whose footprint counts against the memory limit, and launches,
// which pass the compute share's gate. A launch with no share set costs
// one predictable branch on a value read once.
#include "vgpu/hooks.h"
#include "vgpu/runtime.h"

using sluice::vgpu::Books;
using sluice::vgpu::Counted;
using sluice::vgpu::Holding;
using sluice::vgpu::kMaxDevices;
using sluice::vgpu::RealCuda;
using sluice::vgpu::Released;
using sluice::vgpu::TheBooks;

namespace {

uint64_t Key(const void* p) { return reinterpret_cast<uintptr_t>(p); }  // NOLINT: a handle as a key

// What this process holds on `dev` so far.
uint64_t Mine(int dev) { return TheBooks().usage() != nullptr ? TheBooks().usage()->Mine(dev) : 0; }

// A process's first context on a device is charged at the estimate; where
// NVML can say what the process now uses there (the context and nothing
// else yet), that is the context's real footprint and replaces it.
void MeasureFootprint(Holding kind, uint64_t key, int dev, uint64_t held_before) {
  Books& b = TheBooks();
  if (!b.counting() || !b.config().measure_context || held_before != 0) return;
  const int64_t measured = sluice::vgpu::ProcessMemoryOn(dev);
  if (measured <= 0) return;
  b.Adjust(dev, b.config().context_bytes, static_cast<uint64_t>(measured));
  b.Record(kind, key, dev, static_cast<uint64_t>(measured));
}

template <typename Call>
CUresult CreateContext(CUdevice dev, CUcontext* pctx, Call call) {
  const uint64_t before = Mine(dev);
  const CUresult rc = Counted(TheBooks(), Holding::kContext, dev, TheBooks().config().context_bytes,
                              call, [&] { return Key(*pctx); });
  if (rc == CUDA_SUCCESS) MeasureFootprint(Holding::kContext, Key(*pctx), dev, before);
  return rc;
}

template <typename Fn>
CUresult DestroyContext(Fn real, CUcontext ctx) {
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Released(TheBooks(), Holding::kContext, Key(ctx), [&] { return real(ctx); });
}

// Releases (reset: drops every reference to) the primary context of `dev`.
template <typename Fn>
CUresult ReleasePrimary(Fn real, CUdevice dev, bool reset) {
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (dev < 0 || dev >= kMaxDevices) return real(dev);
  auto lock = TheBooks().LockPrimary();
  int& refs = TheBooks().primary_refs(dev);
  const CUresult rc = real(dev);
  if (rc != CUDA_SUCCESS || refs == 0) return rc;
  refs = reset ? 0 : refs - 1;
  if (refs == 0 && TheBooks().counting()) {
    // The last reference is gone: so is the context's footprint. (The lock
    // makes the device key safe to take after the call.)
    const auto held = TheBooks().Take(Holding::kPrimary, static_cast<uint64_t>(dev));
    if (held.found) TheBooks().Refund(held.device, held.bytes);
  }
  return rc;
}

template <typename Fn, typename... Args>
CUresult Launch(Fn real, Args... args) {
  if (sluice::vgpu::Throttled()) sluice::vgpu::TheGate().Acquire();
  return real == nullptr ? CUDA_ERROR_NOT_SUPPORTED : real(args...);
}

}  // namespace

extern "C" {

CUresult cuCtxCreate(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  static const auto real = RealCuda<decltype(&cuCtxCreate)>("cuCtxCreate");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return CreateContext(dev, pctx, [&] { return real(pctx, flags, dev); });
}

CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  static const auto real = RealCuda<decltype(&cuCtxCreate_v2)>("cuCtxCreate_v2");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return CreateContext(dev, pctx, [&] { return real(pctx, flags, dev); });
}

CUresult cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* paramsArray, int numParams,
                        unsigned int flags, CUdevice dev) {
  static const auto real = RealCuda<decltype(&cuCtxCreate_v3)>("cuCtxCreate_v3");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return CreateContext(dev, pctx, [&] { return real(pctx, paramsArray, numParams, flags, dev); });
}

CUresult cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* ctxCreateParams, unsigned int flags,
                        CUdevice dev) {
  static const auto real = RealCuda<decltype(&cuCtxCreate_v4)>("cuCtxCreate_v4");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return CreateContext(dev, pctx, [&] { return real(pctx, ctxCreateParams, flags, dev); });
}

CUresult cuCtxDestroy(CUcontext ctx) {
  static const auto real = RealCuda<decltype(&cuCtxDestroy)>("cuCtxDestroy");
  return DestroyContext(real, ctx);
}

CUresult cuCtxDestroy_v2(CUcontext ctx) {
  static const auto real = RealCuda<decltype(&cuCtxDestroy_v2)>("cuCtxDestroy_v2");
  return DestroyContext(real, ctx);
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  static const auto real =
      RealCuda<decltype(&cuDevicePrimaryCtxRetain)>("cuDevicePrimaryCtxRetain");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (dev < 0 || dev >= kMaxDevices) return real(pctx, dev);
  auto lock = TheBooks().LockPrimary();
  int& refs = TheBooks().primary_refs(dev);
  CUresult rc = CUDA_SUCCESS;
  if (refs == 0) {
    const uint64_t before = Mine(dev);
    const auto key = static_cast<uint64_t>(dev);
    rc = Counted(
        TheBooks(), Holding::kPrimary, dev, TheBooks().config().context_bytes,
        [&] { return real(pctx, dev); }, [&] { return key; });
    if (rc == CUDA_SUCCESS) MeasureFootprint(Holding::kPrimary, key, dev, before);
  } else {
    rc = real(pctx, dev);
  }
  if (rc == CUDA_SUCCESS) ++refs;
  return rc;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice dev) {
  static const auto real =
      RealCuda<decltype(&cuDevicePrimaryCtxRelease)>("cuDevicePrimaryCtxRelease");
  return ReleasePrimary(real, dev, false);
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  static const auto real =
      RealCuda<decltype(&cuDevicePrimaryCtxRelease_v2)>("cuDevicePrimaryCtxRelease_v2");
  return ReleasePrimary(real, dev, false);
}

CUresult cuDevicePrimaryCtxReset(CUdevice dev) {
  static const auto real = RealCuda<decltype(&cuDevicePrimaryCtxReset)>("cuDevicePrimaryCtxReset");
  return ReleasePrimary(real, dev, true);
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  static const auto real =
      RealCuda<decltype(&cuDevicePrimaryCtxReset_v2)>("cuDevicePrimaryCtxReset_v2");
  return ReleasePrimary(real, dev, true);
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                        unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                        unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                        void** kernelParams, void** extra) {
  static const auto real = RealCuda<decltype(&cuLaunchKernel)>("cuLaunchKernel");
  return Launch(real, f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                sharedMemBytes, hStream, kernelParams, extra);
}

CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                             unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                             unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                             void** kernelParams, void** extra) {
  static const auto real = RealCuda<decltype(&cuLaunchKernel_ptsz)>("cuLaunchKernel_ptsz");
  return Launch(real, f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                sharedMemBytes, hStream, kernelParams, extra);
}

CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                   unsigned int gridDimZ, unsigned int blockDimX,
                                   unsigned int blockDimY, unsigned int blockDimZ,
                                   unsigned int sharedMemBytes, CUstream hStream,
                                   void** kernelParams) {
  static const auto real =
      RealCuda<decltype(&cuLaunchCooperativeKernel)>("cuLaunchCooperativeKernel");
  return Launch(real, f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                sharedMemBytes, hStream, kernelParams);
}

CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                        unsigned int gridDimZ, unsigned int blockDimX,
                                        unsigned int blockDimY, unsigned int blockDimZ,
                                        unsigned int sharedMemBytes, CUstream hStream,
                                        void** kernelParams) {
  static const auto real =
      RealCuda<decltype(&cuLaunchCooperativeKernel_ptsz)>("cuLaunchCooperativeKernel_ptsz");
  return Launch(real, f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                sharedMemBytes, hStream, kernelParams);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** kernelParams,
                          void** extra) {
  static const auto real = RealCuda<decltype(&cuLaunchKernelEx)>("cuLaunchKernelEx");
  return Launch(real, config, f, kernelParams, extra);
}

CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** kernelParams,
                               void** extra) {
  static const auto real = RealCuda<decltype(&cuLaunchKernelEx_ptsz)>("cuLaunchKernelEx_ptsz");
  return Launch(real, config, f, kernelParams, extra);
}

CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream) {
  static const auto real = RealCuda<decltype(&cuGraphLaunch)>("cuGraphLaunch");
  return Launch(real, hGraphExec, hStream);
}

CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream) {
  static const auto real = RealCuda<decltype(&cuGraphLaunch_ptsz)>("cuGraphLaunch_ptsz");
  return Launch(real, hGraphExec, hStream);
}

}  // extern "C"
