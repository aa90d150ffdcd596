// OnlinePlacer: places the workloads of a snapshot one at a time, in the
// order the caller asks, each with the allocate action's own gang placement
// (the same node index, scoring, fragmentation measure and queue rules), and
// keeps every placement it made. It is how `sluice sim` replays arrivals
// through the scheduler core without a cycle per arrival: there is no queue
// order, fair share or eviction here, only placement.
// Owns its cluster state; the snapshot must outlive it. Not thread-safe.
#ifndef SLUICE_SCHED_ONLINE_PLACER_H_
#define SLUICE_SCHED_ONLINE_PLACER_H_

#include <memory>
#include <optional>
#include <vector>

#include "core/model.h"
#include "sched/fragmentation.h"

namespace sluice {

class OnlinePlacer {
 public:
  // `mix`: what fragmentation is measured against; without one, the pod
  // shapes of the snapshot's workloads.
  explicit OnlinePlacer(const Snapshot& snapshot, std::optional<RequestMix> mix = std::nullopt);
  ~OnlinePlacer();
  OnlinePlacer(const OnlinePlacer&) = delete;
  OnlinePlacer& operator=(const OnlinePlacer&) = delete;

  // Places the missing pods of workload `id` (at least minAvailable of
  // them) and returns them, or nullopt when it does not fit now.
  std::optional<std::vector<PodPlacement>> Place(WorkloadId id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_ONLINE_PLACER_H_
