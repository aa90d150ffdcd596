// The allocation hooks: every path that takes device memory is charged to
// the workload before the driver is asked, and every release gives back what
// was charged. Pinned and mapped host memory (cuMemHostAlloc,
// cuMemHostRegister) stays in host RAM and is not counted.
#include <algorithm>

#include "vgpu/hooks.h"
#include "vgpu/runtime.h"

using sluice::vgpu::ArrayBytes;
using sluice::vgpu::Counted;
using sluice::vgpu::CurrentDevice;
using sluice::vgpu::Holding;
using sluice::vgpu::MipmapBytes;
using sluice::vgpu::RealCuda;
using sluice::vgpu::Released;
using sluice::vgpu::TheBooks;

namespace {

uint64_t Key(const void* p) { return reinterpret_cast<uintptr_t>(p); }  // NOLINT: a handle as a key

// What a pitched allocation will take: the row rounded up to the largest
// pitch alignment drivers use, corrected once the driver says.
constexpr size_t kPitchAlignment = 512;

// An allocation on the current context's device: real(dptr, bytes, rest...).
template <typename Fn, typename... Rest>
CUresult AllocOnCurrent(Fn real, CUdeviceptr* dptr, size_t bytes, Rest... rest) {
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Counted(
      TheBooks(), Holding::kMemory, CurrentDevice(), bytes,
      [&] { return real(dptr, bytes, rest...); }, [&] { return *dptr; });
}

// real(dptr, rest...) gives back what an AllocOnCurrent took.
template <typename Fn, typename... Rest>
CUresult FreeMemory(Fn real, CUdeviceptr dptr, Rest... rest) {
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Released(TheBooks(), Holding::kMemory, dptr, [&] { return real(dptr, rest...); });
}

}  // namespace

extern "C" {

CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  static const auto real = RealCuda<decltype(&cuMemAlloc_v2)>("cuMemAlloc_v2");
  return AllocOnCurrent(real, dptr, bytesize);
}

// Managed memory can all migrate to the device: counted whole, up front.
CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  static const auto real = RealCuda<decltype(&cuMemAllocManaged)>("cuMemAllocManaged");
  return AllocOnCurrent(real, dptr, bytesize, flags);
}

CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pPitch, size_t WidthInBytes, size_t Height,
                            unsigned int ElementSizeBytes) {
  static const auto real = RealCuda<decltype(&cuMemAllocPitch_v2)>("cuMemAllocPitch_v2");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const int dev = CurrentDevice();
  const uint64_t estimate =
      (WidthInBytes + kPitchAlignment - 1) / kPitchAlignment * kPitchAlignment * Height;
  const CUresult rc = Counted(
      TheBooks(), Holding::kMemory, dev, estimate,
      [&] { return real(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes); },
      [&] { return *dptr; });
  if (rc == CUDA_SUCCESS && TheBooks().counting() && dev >= 0) {
    const uint64_t actual = static_cast<uint64_t>(*pPitch) * Height;
    TheBooks().Adjust(dev, estimate, actual);
    TheBooks().Record(Holding::kMemory, *dptr, dev, actual);
  }
  return rc;
}

CUresult cuMemFree_v2(CUdeviceptr dptr) {
  static const auto real = RealCuda<decltype(&cuMemFree_v2)>("cuMemFree_v2");
  return FreeMemory(real, dptr);
}

CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
  static const auto real = RealCuda<decltype(&cuMemAllocAsync)>("cuMemAllocAsync");
  return AllocOnCurrent(real, dptr, bytesize, hStream);
}

CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
  static const auto real = RealCuda<decltype(&cuMemAllocAsync_ptsz)>("cuMemAllocAsync_ptsz");
  return AllocOnCurrent(real, dptr, bytesize, hStream);
}

CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,
                                 CUstream hStream) {
  static const auto real = RealCuda<decltype(&cuMemAllocFromPoolAsync)>("cuMemAllocFromPoolAsync");
  return AllocOnCurrent(real, dptr, bytesize, pool, hStream);
}

CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,
                                      CUstream hStream) {
  static const auto real =
      RealCuda<decltype(&cuMemAllocFromPoolAsync_ptsz)>("cuMemAllocFromPoolAsync_ptsz");
  return AllocOnCurrent(real, dptr, bytesize, pool, hStream);
}

CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) {
  static const auto real = RealCuda<decltype(&cuMemFreeAsync)>("cuMemFreeAsync");
  return FreeMemory(real, dptr, hStream);
}

CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream) {
  static const auto real = RealCuda<decltype(&cuMemFreeAsync_ptsz)>("cuMemFreeAsync_ptsz");
  return FreeMemory(real, dptr, hStream);
}

CUresult cuArrayCreate_v2(CUarray* pHandle, const CUDA_ARRAY_DESCRIPTOR* pAllocateArray) {
  static const auto real = RealCuda<decltype(&cuArrayCreate_v2)>("cuArrayCreate_v2");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (pAllocateArray == nullptr) return real(pHandle, pAllocateArray);
  const CUDA_ARRAY_DESCRIPTOR& d = *pAllocateArray;
  return Counted(
      TheBooks(), Holding::kArray, CurrentDevice(),
      ArrayBytes(d.Width, d.Height, 1, d.Format, d.NumChannels),
      [&] { return real(pHandle, pAllocateArray); }, [&] { return Key(*pHandle); });
}

CUresult cuArray3DCreate_v2(CUarray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR* pAllocateArray) {
  static const auto real = RealCuda<decltype(&cuArray3DCreate_v2)>("cuArray3DCreate_v2");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (pAllocateArray == nullptr) return real(pHandle, pAllocateArray);
  const CUDA_ARRAY3D_DESCRIPTOR& d = *pAllocateArray;
  return Counted(
      TheBooks(), Holding::kArray, CurrentDevice(),
      ArrayBytes(d.Width, d.Height, d.Depth, d.Format, d.NumChannels),
      [&] { return real(pHandle, pAllocateArray); }, [&] { return Key(*pHandle); });
}

CUresult cuArrayDestroy(CUarray hArray) {
  static const auto real = RealCuda<decltype(&cuArrayDestroy)>("cuArrayDestroy");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Released(TheBooks(), Holding::kArray, Key(hArray), [&] { return real(hArray); });
}

CUresult cuMipmappedArrayCreate(CUmipmappedArray* pHandle,
                                const CUDA_ARRAY3D_DESCRIPTOR* pMipmappedArrayDesc,
                                unsigned int numMipmapLevels) {
  static const auto real = RealCuda<decltype(&cuMipmappedArrayCreate)>("cuMipmappedArrayCreate");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (pMipmappedArrayDesc == nullptr) return real(pHandle, pMipmappedArrayDesc, numMipmapLevels);
  return Counted(
      TheBooks(), Holding::kMipmap, CurrentDevice(),
      MipmapBytes(*pMipmappedArrayDesc, numMipmapLevels),
      [&] { return real(pHandle, pMipmappedArrayDesc, numMipmapLevels); },
      [&] { return Key(*pHandle); });
}

CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray) {
  static const auto real = RealCuda<decltype(&cuMipmappedArrayDestroy)>("cuMipmappedArrayDestroy");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Released(TheBooks(), Holding::kMipmap, Key(hMipmappedArray),
                  [&] { return real(hMipmappedArray); });
}

CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                     const CUmemAllocationProp* prop,
                     unsigned long long flags) {  // NOLINT(google-runtime-int)
  static const auto real = RealCuda<decltype(&cuMemCreate)>("cuMemCreate");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  // Physical memory for the virtual memory API (PyTorch's expandable
  // segments): counted where it lives, which the properties name.
  const int dev = prop != nullptr && prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE
                      ? prop->location.id
                      : -1;
  return Counted(
      TheBooks(), Holding::kPhysical, dev, size, [&] { return real(handle, size, prop, flags); },
      [&] { return *handle; });
}

CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  static const auto real = RealCuda<decltype(&cuMemRelease)>("cuMemRelease");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Released(TheBooks(), Holding::kPhysical, handle, [&] { return real(handle); });
}

CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
  static const auto real = RealCuda<decltype(&cuMemGetInfo_v2)>("cuMemGetInfo_v2");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult rc = real(free, total);
  const int dev = CurrentDevice();
  if (rc != CUDA_SUCCESS || !TheBooks().counting() || dev < 0) return rc;
  const uint64_t limit = TheBooks().Limit(dev);
  if (limit == sluice::vgpu::kUnlimited) return rc;
  const uint64_t used = TheBooks().Used(dev);
  *total = std::min<uint64_t>(*total, limit);
  *free = std::min<uint64_t>(*free, used < *total ? *total - used : 0);
  return rc;
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  static const auto real = RealCuda<decltype(&cuDeviceTotalMem_v2)>("cuDeviceTotalMem_v2");
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult rc = real(bytes, dev);
  if (rc == CUDA_SUCCESS) *bytes = std::min<uint64_t>(*bytes, TheBooks().Limit(dev));
  return rc;
}

}  // extern "C"
