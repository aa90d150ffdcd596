// Placing one MIG pod on one node: which instance it takes, and whether a
// device is repartitioned for it. Internal to sched (PodPlacer calls it).
//
// A pod takes a free instance of its profile when the node has one (the
// device with the least room left first under binpack, the most under
// spread). Otherwise, on a node with migDynamic, it may take a new instance
// on a device no pod of the snapshot runs on: the free instances that are in
// the way are destroyed and the new one created at the allowed start that
// keeps the most room for the pending MIG pods (the "room" of a device is,
// summed over the profiles still waiting, pods x compute slices of each
// profile that could still be placed there; the start that loses least of
// it wins, then the one that destroys fewest instances, then packing, then
// the lowest device and start).
#ifndef SLUICE_SCHED_MIG_PLACEMENT_H_
#define SLUICE_SCHED_MIG_PLACEMENT_H_

#include <cstdint>
#include <optional>
#include <span>
#include <tuple>

#include "sched/cluster_state.h"
#include "sched/fragmentation.h"

namespace sluice {

struct MigCandidate {
  int32_t gpu = 0;
  int32_t start = 0;
  bool repartition = false;  // creates the instance
  bool releasing = false;    // waits for the instance's evicted pod to exit
  int64_t room_lost = 0;
  int32_t destroyed = 0;
  int32_t packing = 0;  // binpack: compute slices left busy-free on the device after; spread: minus

  auto Key() const {
    return std::make_tuple(repartition, releasing, room_lost, destroyed, packing, gpu, start);
  }
};

// The best instance of `profile` among `devices`, or nullopt. With
// `pipelined`, an instance whose holder is still exiting also counts (it
// scores worse than a free one); repartitioning never waits.
std::optional<MigCandidate> BestMigInstance(std::span<const MigDeviceState> devices,
                                            int32_t profile, std::span<const MigDemand> pending,
                                            bool binpack, bool pipelined);

}  // namespace sluice

#endif  // SLUICE_SCHED_MIG_PLACEMENT_H_
