// The GPUs the standalone server schedules: simulated nodes from a spec
// such as "sim:8xH100-80GB" (one node per comma-separated group), or the
// machine's own devices ("auto").
#ifndef SLUICE_SERVER_INVENTORY_H_
#define SLUICE_SERVER_INVENTORY_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "core/model.h"

namespace sluice {

// Parses `--gpus`:
//   sim:COUNTxMODEL[:MEMORY][,COUNTxMODEL...]  simulated nodes sim-0, sim-1, ...;
//     MEMORY per device ("80Gi"); without it, a trailing "-NNGB" in the
//     model gives it (H100-80GB: 80Gi), else it is unknown.
//   auto  handled by the server (NVML discovery, gpu/nvml.h); here it is the
//     fallback sim:8xH100-80GB on a node named after the host.
Result<std::vector<Node>> ParseGpuInventory(std::string_view spec, const std::string& hostname);

}  // namespace sluice

#endif  // SLUICE_SERVER_INVENTORY_H_
