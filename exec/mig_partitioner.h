// MigPartitioner: carries out the scheduler's MIG repartition decisions on
// this machine's devices, through NVML (gpu/nvml.h).
//
// A change names the instances to destroy and those to create on one device
// in MIG mode. It is carried out only on a device with no running work: no
// process on it (as NVML reports) and none that the caller knows of. Each
// instance to destroy must be there with the profile the scheduler saw;
// then they are destroyed, and the new ones created (each a GPU instance at
// its start with one compute instance over all its slices). When NVML
// refuses a call (an instance in use, a placement taken), the instances this
// change created are destroyed again and the error says which call failed
// and why; what was destroyed stays destroyed, and Layout() tells the
// device's state. Not thread-safe; the Nvml must outlive it.
#ifndef SLUICE_EXEC_MIG_PARTITIONER_H_
#define SLUICE_EXEC_MIG_PARTITIONER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/mig.h"
#include "gpu/nvml.h"

namespace sluice {

struct MigChange {
  int32_t gpu = 0;
  std::vector<MigPlacement> destroy;
  std::vector<MigPlacement> create;
};

class MigPartitioner {
 public:
  explicit MigPartitioner(Nvml* nvml) : nvml_(nvml) {}

  // `busy`: the caller knows of work running on the device.
  Status Apply(const MigChange& change, bool busy);
  // The device's instances now, by start.
  Result<std::vector<MigGpuInstance>> Layout(int32_t gpu);
  // The UUID ("MIG-...") of the instance `p` on device `gpu`.
  Result<std::string> Uuid(int32_t gpu, const MigPlacement& p);

 private:
  Nvml* nvml_;
};

}  // namespace sluice

#endif  // SLUICE_EXEC_MIG_PARTITIONER_H_
