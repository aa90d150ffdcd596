// NVIDIA's management library (NVML), loaded at run time.
//
// sluice needs no CUDA toolkit or driver to build: Nvml::Load dlopens
// libnvidia-ml.so.1, looks every symbol up on its own (preferring the
// newest versioned name, e.g. nvmlInit_v2 before nvmlInit), and treats a
// missing one as "not available" instead of failing to load. On machines
// without a GPU, tests point it at the fake library in gpu/fake/, which
// implements the same calls from a description in environment variables.
// Not thread-safe: use one Nvml from one thread.
#ifndef SLUICE_GPU_NVML_H_
#define SLUICE_GPU_NVML_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/mig.h"

namespace sluice {

// A MIG instance of a device in MIG mode.
struct MigInstance {
  int32_t index = 0;  // among the device's instances
  std::string uuid;   // "MIG-..."
  int64_t memory_mib = 0;
};

struct GpuDevice {
  int32_t index = 0;
  std::string uuid;
  std::string name;        // as NVML says, e.g. "NVIDIA H100 80GB HBM3"
  int64_t memory_mib = 0;  // total
  bool mig_enabled = false;
  std::vector<MigInstance> mig_instances;  // when MIG is enabled
};

// A GPU instance of a device in MIG mode, with where it sits.
struct MigGpuInstance {
  MigPlacement placement;  // sluice's profile id (0: a profile sluice does not know) and start
  uint32_t gpu_instance_id = 0;
  std::string uuid;  // of its MIG device ("MIG-..."); empty without a compute instance
};

struct GpuProcess {
  int pid = 0;
  int64_t used_memory_mib = 0;
};

struct GpuSample {
  int32_t index = 0;
  int32_t utilization_percent = -1;  // -1 when NVML cannot say
  int64_t memory_used_mib = -1;
  std::vector<GpuProcess> processes;
};

class Nvml {
 public:
  // Loads the library and initialises NVML; the error says why not (no
  // library: no driver installed; init failed: driver not loaded, ...).
  static Result<std::unique_ptr<Nvml>> Load(const std::string& library = "libnvidia-ml.so.1");
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  Result<std::vector<GpuDevice>> Devices();
  // Utilisation, memory in use and the processes on device `index`.
  Result<GpuSample> Sample(int32_t index);

  // MIG: the GPU instances of device `index` (in MIG mode), by start.
  Result<std::vector<MigGpuInstance>> MigLayout(int32_t index);
  // Creates a GPU instance of `profile` at memory slot `start` of device
  // `index`, and one compute instance that takes all of its slices
  // (nvmlDeviceCreateGpuInstanceWithPlacement, then
  // nvmlGpuInstanceCreateComputeInstance). A compute instance that cannot
  // be made takes its GPU instance back down.
  Status CreateMigInstance(int32_t index, const MigProfile& profile, int32_t start);
  // Destroys the GPU instance at `start` of device `index` (its compute
  // instances first). NVML refuses one in use (NVML_ERROR_IN_USE).
  Status DestroyMigInstance(int32_t index, int32_t start);

 private:
  struct Api;
  Nvml(void* handle, std::unique_ptr<Api> api);
  Status Check(int rc, const std::string& what) const;
  Result<void*> Handle(int32_t index);
  // The GPU instance at `start` of `device`, or null.
  Result<void*> GpuInstanceAt(void* device, int32_t start);
  // The MIG table of `device`'s model, or nullptr.
  const MigModel* ModelOf(void* device) const;

  void* handle_;
  std::unique_ptr<Api> api_;
};

}  // namespace sluice

#endif  // SLUICE_GPU_NVML_H_
