// Placing a workload by evicting others: the search shared by reclaim,
// preempt and consolidate.
//
// For each missing pod, PlaceWithVictims first tries free and releasing
// resources; otherwise it looks at every node of the workload's domain,
// takes that node's candidate victims in the policy's order and counts how
// many must go before the pod fits there. The node needing the fewest (then
// the least GPU evicted, then the best placement score) wins; its victims
// are evicted whole (all their pods, through the undo log) and the pod is
// pipelined onto what they release. No combination of victims is
// enumerated: the cost of a pod is O(nodes x victims on a node).
// Internal to sched.
#ifndef SLUICE_SCHED_VICTIMS_H_
#define SLUICE_SCHED_VICTIMS_H_

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "sched/cycle_context.h"

namespace sluice {

// Lower keys are evicted first.
using VictimKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int32_t>;

class VictimPolicy {
 public:
  virtual ~VictimPolicy() = default;
  // May `v` be evicted now (the state reflects earlier evictions)? When
  // not, *why_not may be set to a short reason for the pending message.
  virtual bool Allows(WorkloadId v, std::string* why_not) const = 0;
  virtual VictimKey Key(WorkloadId v) const = 0;
};

struct VictimOutcome {
  bool placed = false;
  bool pipelined = false;
  std::vector<PodPlacement> pods;
  std::vector<WorkloadId> victims;
  int64_t waiting_gpu = 0;
  std::string why_not;  // on failure: the first reason a victim was refused
};

// Running workloads with pods on each node, from the snapshot (the only
// ones that may be victims in a cycle).
std::vector<std::vector<WorkloadId>> WorkloadsByNode(const Snapshot& s);

// On failure the state is back where it was.
VictimOutcome PlaceWithVictims(CycleContext& ctx, WorkloadId id, const VictimPolicy& policy,
                               const std::vector<std::vector<WorkloadId>>& by_node);

// The GPU (or, for a CPU-only workload, CPU) amount a workload holds now.
int64_t HeldAmount(const ClusterState& state, WorkloadId w, Resource r);

}  // namespace sluice

#endif  // SLUICE_SCHED_VICTIMS_H_
