// The slice of the CUDA driver API and NVML that libsluice-vgpu and the fake
// libcuda need, declared here so that nothing needs the CUDA toolkit to
// build. Types, enum values and struct layouts follow the public cuda.h and
// nvml.h; only the members sluice reads are named, and every struct keeps the
// real size and order so that pointers to the caller's structs stay valid.
#ifndef SLUICE_VGPU_CUDA_TYPES_H_
#define SLUICE_VGPU_CUDA_TYPES_H_

#include <cstddef>
#include <cstdint>

extern "C" {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = uint64_t;  // CUdeviceptr_v2: 64-bit on every supported platform
using cuuint64_t = uint64_t;
using CUmemGenericAllocationHandle = uint64_t;
struct CUctx_st;
using CUcontext = CUctx_st*;
struct CUstream_st;
using CUstream = CUstream_st*;
struct CUfunc_st;
using CUfunction = CUfunc_st*;
struct CUarray_st;
using CUarray = CUarray_st*;
struct CUmipmappedArray_st;
using CUmipmappedArray = CUmipmappedArray_st*;
struct CUmemPoolHandle_st;
using CUmemoryPool = CUmemPoolHandle_st*;
struct CUgraphExec_st;
using CUgraphExec = CUgraphExec_st*;
struct CUlaunchConfig;  // only passed through
struct CUexecAffinityParam;
struct CUctxCreateParams;
struct CUmemPoolProps;

// CUresult values (cuda.h's cudaError_enum).
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_NOT_INITIALIZED = 3;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_INVALID_DEVICE = 101;
constexpr CUresult CUDA_ERROR_INVALID_CONTEXT = 201;
constexpr CUresult CUDA_ERROR_INVALID_HANDLE = 400;
constexpr CUresult CUDA_ERROR_NOT_FOUND = 500;
constexpr CUresult CUDA_ERROR_NOT_SUPPORTED = 801;
constexpr CUresult CUDA_ERROR_UNKNOWN = 999;

// cuGetProcAddress flags (CUdriverProcAddress_flags) and its symbolStatus
// (CUdriverProcAddressQueryResult).
constexpr cuuint64_t CU_GET_PROC_ADDRESS_DEFAULT = 0;
constexpr cuuint64_t CU_GET_PROC_ADDRESS_LEGACY_STREAM = 1 << 0;
constexpr cuuint64_t CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM = 1 << 1;
using CUdriverProcAddressQueryResult = int;
constexpr int CU_GET_PROC_ADDRESS_SUCCESS = 0;
constexpr int CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND = 1;
constexpr int CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT = 2;

// CUarray_format, for the size of an array's element.
constexpr unsigned int CU_AD_FORMAT_UNSIGNED_INT8 = 0x01;
constexpr unsigned int CU_AD_FORMAT_UNSIGNED_INT16 = 0x02;
constexpr unsigned int CU_AD_FORMAT_UNSIGNED_INT32 = 0x03;
constexpr unsigned int CU_AD_FORMAT_SIGNED_INT8 = 0x08;
constexpr unsigned int CU_AD_FORMAT_SIGNED_INT16 = 0x09;
constexpr unsigned int CU_AD_FORMAT_SIGNED_INT32 = 0x0a;
constexpr unsigned int CU_AD_FORMAT_HALF = 0x10;
constexpr unsigned int CU_AD_FORMAT_FLOAT = 0x20;

struct CUDA_ARRAY_DESCRIPTOR {
  size_t Width;
  size_t Height;
  unsigned int Format;  // CUarray_format
  unsigned int NumChannels;
};

struct CUDA_ARRAY3D_DESCRIPTOR {
  size_t Width;
  size_t Height;
  size_t Depth;
  unsigned int Format;  // CUarray_format
  unsigned int NumChannels;
  unsigned int Flags;
};

// CUmemAllocationProp: where a cuMemCreate allocation lives.
constexpr int CU_MEM_LOCATION_TYPE_DEVICE = 1;
struct CUmemLocation {
  int type;  // CUmemLocationType
  int id;
};
struct CUmemAllocationProp {
  int type;                  // CUmemAllocationType
  int requestedHandleTypes;  // CUmemAllocationHandleType
  CUmemLocation location;
  void* win32HandleMetaData;
  struct {
    unsigned char compressionType;
    unsigned char gpuDirectRDMACapable;
    unsigned short usage;  // NOLINT(google-runtime-int): the header's type
    unsigned char reserved[4];
  } allocFlags;
};

// cuDeviceGetUuid's answer: the device's UUID as 16 bytes.
struct CUuuid {
  unsigned char bytes[16];
};

// cuMemHostAlloc flags.
constexpr unsigned int CU_MEMHOSTALLOC_DEVICEMAP = 0x02;

// NVML.
using nvmlReturn_t = int;
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_UNINITIALIZED = 1;
constexpr nvmlReturn_t NVML_ERROR_INVALID_ARGUMENT = 2;
constexpr nvmlReturn_t NVML_ERROR_NOT_FOUND = 6;
constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_SIZE = 7;
constexpr nvmlReturn_t NVML_ERROR_UNKNOWN = 999;
struct nvmlMemory_t {
  unsigned long long total;  // NOLINT(google-runtime-int): NVML's types
  unsigned long long free;   // NOLINT(google-runtime-int)
  unsigned long long used;   // NOLINT(google-runtime-int)
};
struct nvmlMemory_v2_t {
  unsigned int version;
  unsigned long long total;     // NOLINT(google-runtime-int)
  unsigned long long reserved;  // NOLINT(google-runtime-int)
  unsigned long long free;      // NOLINT(google-runtime-int)
  unsigned long long used;      // NOLINT(google-runtime-int)
};
struct nvmlProcessInfo_t {  // the _v2 and _v3 calls' layout
  unsigned int pid;
  unsigned long long usedGpuMemory;  // NOLINT(google-runtime-int)
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
constexpr unsigned long long NVML_VALUE_NOT_AVAILABLE = ~0ULL;  // NOLINT(google-runtime-int)
struct nvmlProcessUtilizationSample_t {
  unsigned int pid;
  unsigned long long timeStamp;  // NOLINT(google-runtime-int): microseconds
  unsigned int smUtil;
  unsigned int memUtil;
  unsigned int encUtil;
  unsigned int decUtil;
};

}  // extern "C"

#endif  // SLUICE_VGPU_CUDA_TYPES_H_
