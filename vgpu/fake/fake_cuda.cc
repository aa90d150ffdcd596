// A fake libcuda.so.1 for machines without an NVIDIA GPU. It keeps the
// books of a driver (device memory per device against a configured size,
// contexts, arrays, physical allocations, pools) and answers with the real
// CUresult values, the real exported names (_v2, _ptsz) and cuGetProcAddress
// resolving by version and stream flags (vgpu/proc_table.h). Set up by
// environment variables, read when cuInit runs:
//
//   SLUICE_FAKE_CUDA_DEVICES      "MIB,MIB,...": one device per entry (default 16384)
//   SLUICE_FAKE_CUDA_DRIVER       the driver's CUDA version (default 12040)
//   SLUICE_FAKE_CUDA_CONTEXT_MIB  device memory a context takes (default 0)
//   SLUICE_FAKE_CUDA_FAIL         "CALL:CURESULT,...": these calls fail so
//   SLUICE_FAKE_CUDA_HANG         "CALL:FILE": the call creates FILE and never
//                                 returns (a process killed inside a call)
//
// The 32-bit ABIs (cuMemAlloc with unsigned int pointers, and the like)
// exist, as in the real library, and answer CUDA_ERROR_NOT_SUPPORTED.
// Launches only count; sluiceFakeCudaLaunches() says how many.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "vgpu/books.h"
#include "vgpu/cuda_types.h"
#include "vgpu/proc_table.h"

struct CUctx_st {
  int device;
};
struct CUarray_st {
  int device;
  size_t bytes;
};
struct CUmipmappedArray_st {
  int device;
  size_t bytes;
};
struct CUmemPoolHandle_st {
  int device;
};

namespace {

struct Driver {
  std::mutex mu;
  bool initialized = false;
  int version = 12040;
  size_t context_bytes = 0;
  std::vector<size_t> total;
  std::vector<size_t> used;
  std::map<CUdeviceptr, std::pair<int, size_t>> allocations;
  std::map<CUmemGenericAllocationHandle, std::pair<int, size_t>> handles;
  CUdeviceptr next_ptr = 0x7f0000000000ULL;
  CUmemGenericAllocationHandle next_handle = 1;
  std::vector<CUctx_st*> primary;
  std::vector<int> primary_refs;
  long launches = 0;  // NOLINT(google-runtime-int)
};

Driver& D() {
  static Driver* d = new Driver;  // never destroyed: calls may come during exit
  return *d;
}

thread_local CUcontext current = nullptr;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string Env(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : v;
}

// The configured failure of `call`, or CUDA_SUCCESS; hangs when asked to.
CUresult Injected(const char* call) {
  for (const std::string& h : Split(Env("SLUICE_FAKE_CUDA_HANG"), ',')) {
    const size_t colon = h.find(':');
    if (colon == std::string::npos || h.compare(0, colon, call) != 0) continue;
    close(open(h.substr(colon + 1).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    while (true) pause();
  }
  for (const std::string& f : Split(Env("SLUICE_FAKE_CUDA_FAIL"), ',')) {
    const size_t colon = f.find(':');
    if (colon != std::string::npos && f.compare(0, colon, call) == 0)
      return std::atoi(f.c_str() + colon + 1);
  }
  return CUDA_SUCCESS;
}

int CurrentDevice() { return current == nullptr ? -1 : current->device; }

// Takes `bytes` on `device`; the caller holds the lock.
CUresult Take(Driver& d, int device, size_t bytes) {
  if (device < 0 || device >= static_cast<int>(d.total.size())) return CUDA_ERROR_INVALID_CONTEXT;
  if (bytes > d.total[device] - d.used[device]) return CUDA_ERROR_OUT_OF_MEMORY;
  d.used[device] += bytes;
  return CUDA_SUCCESS;
}

CUresult Allocate(const char* call, int device, size_t bytes, CUdeviceptr* out) {
  if (CUresult rc = Injected(call); rc != CUDA_SUCCESS) return rc;
  if (out == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = D();
  std::lock_guard lock(d.mu);
  if (!d.initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (CUresult rc = Take(d, device, bytes); rc != CUDA_SUCCESS) return rc;
  *out = d.next_ptr;
  d.next_ptr += (bytes + 511) / 512 * 512;
  d.allocations[*out] = {device, bytes};
  return CUDA_SUCCESS;
}

// Gives back what `books[key]` holds; the caller holds the lock.
template <typename Books, typename Key>
CUresult Drop(Driver& d, Books& books, Key key) {
  auto it = books.find(key);
  if (it == books.end()) return CUDA_ERROR_INVALID_VALUE;
  d.used[it->second.first] -= it->second.second;
  books.erase(it);
  return CUDA_SUCCESS;
}

CUresult Free(const char* call, CUdeviceptr ptr) {
  if (CUresult rc = Injected(call); rc != CUDA_SUCCESS) return rc;
  std::lock_guard lock(D().mu);
  return Drop(D(), D().allocations, ptr);
}

CUresult CreateContext(CUcontext* pctx, CUdevice dev) {
  if (CUresult rc = Injected("cuCtxCreate"); rc != CUDA_SUCCESS) return rc;
  Driver& d = D();
  std::lock_guard lock(d.mu);
  if (!d.initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (CUresult rc = Take(d, dev, d.context_bytes); rc != CUDA_SUCCESS) return rc;
  *pctx = new CUctx_st{dev};
  current = *pctx;
  return CUDA_SUCCESS;
}

CUresult ReleasePrimary(CUdevice dev, bool reset) {
  Driver& d = D();
  std::lock_guard lock(d.mu);
  if (dev < 0 || dev >= static_cast<int>(d.total.size())) return CUDA_ERROR_INVALID_DEVICE;
  if (d.primary_refs[dev] == 0) return reset ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
  d.primary_refs[dev] = reset ? 0 : d.primary_refs[dev] - 1;
  if (d.primary_refs[dev] == 0) d.used[dev] -= d.context_bytes;
  return CUDA_SUCCESS;
}

CUresult Launch(const char* call) {
  if (CUresult rc = Injected(call); rc != CUDA_SUCCESS) return rc;
  if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  std::lock_guard lock(D().mu);
  ++D().launches;
  return CUDA_SUCCESS;
}

void* Exported(std::string_view name);

// cuGetProcAddress (CUDA 11.3) reports a symbol it cannot hand out as
// CUDA_ERROR_NOT_FOUND; cuGetProcAddress_v2 (12.0) returns success with a
// null pointer and says why in symbolStatus.
CUresult GetProc(const char* symbol, void** pfn, int version, cuuint64_t flags, bool v2,
                 int* status) {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  if (!D().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (version > D().version) return CUDA_ERROR_INVALID_VALUE;
  sluice::vgpu::ProcLookup found = sluice::vgpu::ResolveProc(symbol, version, flags);
  if (status != nullptr) *status = found.status;
  if (found.found == nullptr) return v2 ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
  *pfn = Exported(found.found->variant);
  return CUDA_SUCCESS;
}

}  // namespace

// Fake-only: how many launches got through, for tests.
extern "C" long sluiceFakeCudaLaunches() {  // NOLINT(google-runtime-int)
  std::lock_guard lock(D().mu);
  return D().launches;
}

extern "C" {

CUresult cuInit(unsigned int flags) {
  if (CUresult rc = Injected("cuInit"); rc != CUDA_SUCCESS) return rc;
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = D();
  std::lock_guard lock(d.mu);
  if (d.initialized) return CUDA_SUCCESS;
  for (const std::string& mib : Split(Env("SLUICE_FAKE_CUDA_DEVICES", "16384"), ','))
    d.total.push_back(std::strtoull(mib.c_str(), nullptr, 10) << 20);
  if (d.total.empty()) return CUDA_ERROR_NO_DEVICE;
  d.used.assign(d.total.size(), 0);
  d.primary.assign(d.total.size(), nullptr);
  d.primary_refs.assign(d.total.size(), 0);
  for (size_t i = 0; i < d.total.size(); ++i) d.primary[i] = new CUctx_st{static_cast<int>(i)};
  d.version = std::atoi(Env("SLUICE_FAKE_CUDA_DRIVER", "12040").c_str());
  d.context_bytes = std::strtoull(Env("SLUICE_FAKE_CUDA_CONTEXT_MIB", "0").c_str(), nullptr, 10)
                    << 20;
  d.initialized = true;
  return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = std::atoi(Env("SLUICE_FAKE_CUDA_DRIVER", "12040").c_str());
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int* count) {
  if (!D().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  *count = static_cast<int>(D().total.size());
  return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  if (!D().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (ordinal < 0 || ordinal >= static_cast<int>(D().total.size()))
    return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

// The UUID the fake NVML gives device `dev`: GPU-fa4e0000-0000-4000-8000-
// and the index as twelve decimal digits.
CUresult cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice dev) {
  if (!D().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (dev < 0 || dev >= static_cast<int>(D().total.size())) return CUDA_ERROR_INVALID_DEVICE;
  const unsigned char head[10] = {0xfa, 0x4e, 0, 0, 0, 0, 0x40, 0, 0x80, 0};
  std::memcpy(uuid->bytes, head, sizeof head);
  char digits[16];
  std::snprintf(digits, sizeof digits, "%012d", dev);
  for (size_t i = 0; i < 6; ++i) {
    const int high = digits[2 * i] - '0', low = digits[2 * i + 1] - '0';
    uuid->bytes[10 + i] = static_cast<unsigned char>(high * 16 + low);
  }
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetUuid(CUuuid* uuid, CUdevice dev) { return cuDeviceGetUuid_v2(uuid, dev); }

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  if (!D().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (dev < 0 || dev >= static_cast<int>(D().total.size())) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = D().total[dev];
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  if (CUresult rc = Injected("cuDevicePrimaryCtxRetain"); rc != CUDA_SUCCESS) return rc;
  Driver& d = D();
  std::lock_guard lock(d.mu);
  if (!d.initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (dev < 0 || dev >= static_cast<int>(d.total.size())) return CUDA_ERROR_INVALID_DEVICE;
  if (d.primary_refs[dev] == 0) {
    if (CUresult rc = Take(d, dev, d.context_bytes); rc != CUDA_SUCCESS) return rc;
  }
  ++d.primary_refs[dev];
  *pctx = d.primary[dev];
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) { return ReleasePrimary(dev, false); }
CUresult cuDevicePrimaryCtxRelease(CUdevice dev) { return ReleasePrimary(dev, false); }
CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) { return ReleasePrimary(dev, true); }
CUresult cuDevicePrimaryCtxReset(CUdevice dev) { return ReleasePrimary(dev, true); }

CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int /*flags*/, CUdevice dev) {
  return CreateContext(pctx, dev);
}
CUresult cuCtxCreate(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return cuCtxCreate_v2(pctx, flags, dev);
}
CUresult cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* /*params*/, int /*n*/,
                        unsigned int /*flags*/, CUdevice dev) {
  return CreateContext(pctx, dev);
}
CUresult cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* /*params*/, unsigned int /*flags*/,
                        CUdevice dev) {
  return CreateContext(pctx, dev);
}

CUresult cuCtxDestroy_v2(CUcontext ctx) {
  Driver& d = D();
  std::lock_guard lock(d.mu);
  if (ctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  d.used[ctx->device] -= d.context_bytes;
  if (current == ctx) current = nullptr;
  delete ctx;
  return CUDA_SUCCESS;
}
CUresult cuCtxDestroy(CUcontext ctx) { return cuCtxDestroy_v2(ctx); }

CUresult cuCtxSetCurrent(CUcontext ctx) {
  current = ctx;
  return CUDA_SUCCESS;
}
CUresult cuCtxGetCurrent(CUcontext* ctx) {
  *ctx = current;
  return CUDA_SUCCESS;
}
CUresult cuCtxGetDevice(CUdevice* dev) {
  if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  *dev = current->device;
  return CUDA_SUCCESS;
}

CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
  Driver& d = D();
  std::lock_guard lock(d.mu);
  const int dev = CurrentDevice();
  if (dev < 0) return CUDA_ERROR_INVALID_CONTEXT;
  *free = d.total[dev] - d.used[dev];
  *total = d.total[dev];
  return CUDA_SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytes) {
  return Allocate("cuMemAlloc_v2", CurrentDevice(), bytes, dptr);
}

CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pitch, size_t width, size_t height,
                            unsigned int element_bytes) {
  if (element_bytes != 4 && element_bytes != 8 && element_bytes != 16)
    return CUDA_ERROR_INVALID_VALUE;
  *pitch = (width + 511) / 512 * 512;
  return Allocate("cuMemAllocPitch_v2", CurrentDevice(), *pitch * height, dptr);
}

CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytes, unsigned int /*flags*/) {
  return Allocate("cuMemAllocManaged", CurrentDevice(), bytes, dptr);
}

CUresult cuMemFree_v2(CUdeviceptr ptr) { return Free("cuMemFree_v2", ptr); }

CUresult cuMemHostAlloc(void** pp, size_t bytes, unsigned int /*flags*/) {
  *pp = std::malloc(bytes);  // pinned host memory lives in host RAM
  return *pp == nullptr ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}
CUresult cuMemFreeHost(void* p) {
  std::free(p);
  return CUDA_SUCCESS;
}

CUresult cuArrayCreate_v2(CUarray* out, const CUDA_ARRAY_DESCRIPTOR* desc) {
  if (CUresult rc = Injected("cuArrayCreate_v2"); rc != CUDA_SUCCESS) return rc;
  const size_t bytes =
      sluice::vgpu::ArrayBytes(desc->Width, desc->Height, 1, desc->Format, desc->NumChannels);
  std::lock_guard lock(D().mu);
  if (CUresult rc = Take(D(), CurrentDevice(), bytes); rc != CUDA_SUCCESS) return rc;
  *out = new CUarray_st{CurrentDevice(), bytes};
  return CUDA_SUCCESS;
}

CUresult cuArray3DCreate_v2(CUarray* out, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  CUDA_ARRAY_DESCRIPTOR flat{desc->Width, desc->Height * std::max<size_t>(desc->Depth, 1),
                             desc->Format, desc->NumChannels};
  return cuArrayCreate_v2(out, &flat);
}

CUresult cuArrayDestroy(CUarray array) {
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  std::lock_guard lock(D().mu);
  D().used[array->device] -= array->bytes;
  delete array;
  return CUDA_SUCCESS;
}

CUresult cuMipmappedArrayCreate(CUmipmappedArray* out, const CUDA_ARRAY3D_DESCRIPTOR* desc,
                                unsigned int levels) {
  if (CUresult rc = Injected("cuMipmappedArrayCreate"); rc != CUDA_SUCCESS) return rc;
  const size_t bytes = sluice::vgpu::MipmapBytes(*desc, levels);
  std::lock_guard lock(D().mu);
  if (CUresult rc = Take(D(), CurrentDevice(), bytes); rc != CUDA_SUCCESS) return rc;
  *out = new CUmipmappedArray_st{CurrentDevice(), bytes};
  return CUDA_SUCCESS;
}

CUresult cuMipmappedArrayDestroy(CUmipmappedArray array) {
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  std::lock_guard lock(D().mu);
  D().used[array->device] -= array->bytes;
  delete array;
  return CUDA_SUCCESS;
}

CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                     const CUmemAllocationProp* prop, unsigned long long /*flags*/) {  // NOLINT
  if (CUresult rc = Injected("cuMemCreate"); rc != CUDA_SUCCESS) return rc;
  if (prop == nullptr || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
    return CUDA_ERROR_INVALID_VALUE;
  Driver& d = D();
  std::lock_guard lock(d.mu);
  if (CUresult rc = Take(d, prop->location.id, size); rc != CUDA_SUCCESS) return rc;
  *handle = d.next_handle++;
  d.handles[*handle] = {prop->location.id, size};
  return CUDA_SUCCESS;
}

CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  std::lock_guard lock(D().mu);
  return Drop(D(), D().handles, handle);
}

CUresult cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* /*props*/) {
  *pool = new CUmemPoolHandle_st{CurrentDevice() < 0 ? 0 : CurrentDevice()};
  return CUDA_SUCCESS;
}
CUresult cuMemPoolDestroy(CUmemoryPool pool) {
  delete pool;
  return CUDA_SUCCESS;
}

CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t bytes, CUstream /*stream*/) {
  return Allocate("cuMemAllocAsync", CurrentDevice(), bytes, dptr);
}
CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytes, CUstream /*stream*/) {
  return Allocate("cuMemAllocAsync_ptsz", CurrentDevice(), bytes, dptr);
}
CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t bytes, CUmemoryPool pool,
                                 CUstream /*stream*/) {
  return Allocate("cuMemAllocFromPoolAsync", pool->device, bytes, dptr);
}
CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, size_t bytes, CUmemoryPool pool,
                                      CUstream /*stream*/) {
  return Allocate("cuMemAllocFromPoolAsync_ptsz", pool->device, bytes, dptr);
}
CUresult cuMemFreeAsync(CUdeviceptr ptr, CUstream /*stream*/) {
  return Free("cuMemFreeAsync", ptr);
}
CUresult cuMemFreeAsync_ptsz(CUdeviceptr ptr, CUstream /*stream*/) {
  return Free("cuMemFreeAsync_ptsz", ptr);
}

CUresult cuLaunchKernel(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
                        unsigned int, unsigned int, unsigned int, CUstream, void**, void**) {
  return Launch("cuLaunchKernel");
}
CUresult cuLaunchKernel_ptsz(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
                             unsigned int, unsigned int, unsigned int, CUstream, void**, void**) {
  return Launch("cuLaunchKernel_ptsz");
}
CUresult cuLaunchCooperativeKernel(CUfunction, unsigned int, unsigned int, unsigned int,
                                   unsigned int, unsigned int, unsigned int, unsigned int, CUstream,
                                   void**) {
  return Launch("cuLaunchCooperativeKernel");
}
CUresult cuLaunchCooperativeKernel_ptsz(CUfunction, unsigned int, unsigned int, unsigned int,
                                        unsigned int, unsigned int, unsigned int, unsigned int,
                                        CUstream, void**) {
  return Launch("cuLaunchCooperativeKernel_ptsz");
}
CUresult cuGraphLaunch(CUgraphExec, CUstream) { return Launch("cuGraphLaunch"); }
CUresult cuGraphLaunch_ptsz(CUgraphExec, CUstream) { return Launch("cuGraphLaunch_ptsz"); }
CUresult cuLaunchKernelEx(const CUlaunchConfig*, CUfunction, void**, void**) {
  return Launch("cuLaunchKernelEx");
}
CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig*, CUfunction, void**, void**) {
  return Launch("cuLaunchKernelEx_ptsz");
}

CUresult cuGetProcAddress(const char* symbol, void** pfn, int version, cuuint64_t flags) {
  return GetProc(symbol, pfn, version, flags, false, nullptr);
}
CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int version, cuuint64_t flags,
                             CUdriverProcAddressQueryResult* status) {
  return GetProc(symbol, pfn, version, flags, true, status);
}

// The 32-bit ABIs, kept by the real library for old binaries.
CUresult cuDeviceTotalMem(unsigned int*, CUdevice) { return CUDA_ERROR_NOT_SUPPORTED; }
CUresult cuMemGetInfo(unsigned int*, unsigned int*) { return CUDA_ERROR_NOT_SUPPORTED; }
CUresult cuMemAlloc(unsigned int*, unsigned int) { return CUDA_ERROR_NOT_SUPPORTED; }
CUresult cuMemAllocPitch(unsigned int*, unsigned int*, unsigned int, unsigned int, unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult cuMemFree(unsigned int) { return CUDA_ERROR_NOT_SUPPORTED; }
CUresult cuArrayCreate(CUarray*, const void*) { return CUDA_ERROR_NOT_SUPPORTED; }
CUresult cuArray3DCreate(CUarray*, const void*) { return CUDA_ERROR_NOT_SUPPORTED; }

}  // extern "C"

namespace {

// What cuGetProcAddress hands out: the fake's own exported functions, by
// name, without going through dlsym (which an interposer may replace).
void* Exported(std::string_view name) {
  // NOLINTBEGIN(google-readability-casting,bugprone-casting-through-void): function addresses
  static const std::map<std::string_view, void*> table = {
#define SLUICE_FAKE_ENTRY(f) {#f, reinterpret_cast<void*>(&(f))}
      SLUICE_FAKE_ENTRY(cuInit),
      SLUICE_FAKE_ENTRY(cuDriverGetVersion),
      SLUICE_FAKE_ENTRY(cuDeviceGet),
      SLUICE_FAKE_ENTRY(cuDeviceGetCount),
      SLUICE_FAKE_ENTRY(cuDeviceGetUuid),
      SLUICE_FAKE_ENTRY(cuDeviceGetUuid_v2),
      SLUICE_FAKE_ENTRY(cuDeviceTotalMem),
      SLUICE_FAKE_ENTRY(cuDeviceTotalMem_v2),
      SLUICE_FAKE_ENTRY(cuDevicePrimaryCtxRetain),
      SLUICE_FAKE_ENTRY(cuDevicePrimaryCtxRelease),
      SLUICE_FAKE_ENTRY(cuDevicePrimaryCtxRelease_v2),
      SLUICE_FAKE_ENTRY(cuDevicePrimaryCtxReset),
      SLUICE_FAKE_ENTRY(cuDevicePrimaryCtxReset_v2),
      SLUICE_FAKE_ENTRY(cuCtxCreate),
      SLUICE_FAKE_ENTRY(cuCtxCreate_v2),
      SLUICE_FAKE_ENTRY(cuCtxCreate_v3),
      SLUICE_FAKE_ENTRY(cuCtxCreate_v4),
      SLUICE_FAKE_ENTRY(cuCtxDestroy),
      SLUICE_FAKE_ENTRY(cuCtxDestroy_v2),
      SLUICE_FAKE_ENTRY(cuCtxGetDevice),
      SLUICE_FAKE_ENTRY(cuCtxGetCurrent),
      SLUICE_FAKE_ENTRY(cuCtxSetCurrent),
      SLUICE_FAKE_ENTRY(cuMemGetInfo),
      SLUICE_FAKE_ENTRY(cuMemGetInfo_v2),
      SLUICE_FAKE_ENTRY(cuMemAlloc),
      SLUICE_FAKE_ENTRY(cuMemAlloc_v2),
      SLUICE_FAKE_ENTRY(cuMemAllocPitch),
      SLUICE_FAKE_ENTRY(cuMemAllocPitch_v2),
      SLUICE_FAKE_ENTRY(cuMemFree),
      SLUICE_FAKE_ENTRY(cuMemFree_v2),
      SLUICE_FAKE_ENTRY(cuMemAllocManaged),
      SLUICE_FAKE_ENTRY(cuMemHostAlloc),
      SLUICE_FAKE_ENTRY(cuMemFreeHost),
      SLUICE_FAKE_ENTRY(cuArrayCreate),
      SLUICE_FAKE_ENTRY(cuArrayCreate_v2),
      SLUICE_FAKE_ENTRY(cuArray3DCreate),
      SLUICE_FAKE_ENTRY(cuArray3DCreate_v2),
      SLUICE_FAKE_ENTRY(cuArrayDestroy),
      SLUICE_FAKE_ENTRY(cuMipmappedArrayCreate),
      SLUICE_FAKE_ENTRY(cuMipmappedArrayDestroy),
      SLUICE_FAKE_ENTRY(cuMemCreate),
      SLUICE_FAKE_ENTRY(cuMemRelease),
      SLUICE_FAKE_ENTRY(cuMemAllocAsync),
      SLUICE_FAKE_ENTRY(cuMemAllocAsync_ptsz),
      SLUICE_FAKE_ENTRY(cuMemFreeAsync),
      SLUICE_FAKE_ENTRY(cuMemFreeAsync_ptsz),
      SLUICE_FAKE_ENTRY(cuMemPoolCreate),
      SLUICE_FAKE_ENTRY(cuMemPoolDestroy),
      SLUICE_FAKE_ENTRY(cuMemAllocFromPoolAsync),
      SLUICE_FAKE_ENTRY(cuMemAllocFromPoolAsync_ptsz),
      SLUICE_FAKE_ENTRY(cuLaunchKernel),
      SLUICE_FAKE_ENTRY(cuLaunchKernel_ptsz),
      SLUICE_FAKE_ENTRY(cuLaunchCooperativeKernel),
      SLUICE_FAKE_ENTRY(cuLaunchCooperativeKernel_ptsz),
      SLUICE_FAKE_ENTRY(cuGraphLaunch),
      SLUICE_FAKE_ENTRY(cuGraphLaunch_ptsz),
      SLUICE_FAKE_ENTRY(cuLaunchKernelEx),
      SLUICE_FAKE_ENTRY(cuLaunchKernelEx_ptsz),
      SLUICE_FAKE_ENTRY(cuGetProcAddress),
      SLUICE_FAKE_ENTRY(cuGetProcAddress_v2),
#undef SLUICE_FAKE_ENTRY
  };
  // NOLINTEND(google-readability-casting,bugprone-casting-through-void)
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace
