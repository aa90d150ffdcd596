// Pending reasons: why a workload waits, in words a researcher understands.
//
// Each function returns one sentence naming what blocks and the numbers
// involved ("needs 2 whole GPUs on one node; the largest free block on a
// matching node is 1"). They read the cluster and never change it.
#ifndef SLUICE_SCHED_PENDING_REASON_H_
#define SLUICE_SCHED_PENDING_REASON_H_

#include <optional>
#include <span>
#include <string>

#include "core/model.h"
#include "sched/cluster_state.h"

namespace sluice {

// "8 GPUs", "0.5 GPU", "4 CPU cores", "64Gi of memory".
std::string FormatAmount(Resource r, int64_t amount);

// Why adding `pod` (resources of one pod of `w`) would break a queue rule:
// a limit of the workload's queue or an ancestor, or, for a non-preemptible
// workload, a quota. nullopt when the pod may be added.
std::optional<std::string> QueueRuleViolation(const Workload& w, const Resources& pod,
                                              const ClusterState& state);

// Why no node can hold a pod of `w` at all (constraints or sizes); nullopt
// when some node could hold one on an empty cluster.
std::optional<std::string> NeverFitsReason(const Workload& w, const Snapshot& s);

// Why `w` could not be placed now on `eligible` nodes, given that at most
// `max_placed` of its `needed` pods fit at once.
std::string PlacementReason(const Workload& w, std::span<const NodeId> eligible,
                            const ClusterState& state, int32_t needed, int32_t max_placed);

}  // namespace sluice

#endif  // SLUICE_SCHED_PENDING_REASON_H_
