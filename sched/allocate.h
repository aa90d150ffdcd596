// AllocateAction: places pending workloads (and the missing pods of running
// elastic ones) on free resources, one workload at a time in QueueOrder.
//
// A workload's attempt is all-or-nothing at the gang level (see gang.h):
// its missing pods are placed one by one on the best-scored node, each
// checked against the queue rules (limits up the tree; quotas for
// non-preemptible work); if fewer than minAvailable end up placed, every
// tentative bind is rolled back. When resources are being released, a
// workload that fits nowhere else is pipelined onto them: it holds them and
// binds once they are free. Workloads it cannot place are left in
// ctx.failed with a reason, for the actions that follow.
#ifndef SLUICE_SCHED_ALLOCATE_H_
#define SLUICE_SCHED_ALLOCATE_H_

#include "core/model.h"
#include "sched/cycle_context.h"

namespace sluice {

class AllocateAction {
 public:
  static void Run(CycleContext& ctx);
};

// Sorts workloads of one queue into within-queue order: higher priority
// class, then the earlier of when each joined the queue (submission, or its
// last requeue after an eviction), then name, then snapshot order for equal
// names. Sorts compact keys (a queue can hold thousands).
void SortWithinQueue(const Snapshot& s, std::vector<WorkloadId>* ids);

// Why workload `id` could not be placed now, given the gang outcome (the
// most pods that fit at once, a queue rule that stopped it). Sets
// *busy_resources when only resources held by others stand in the way, the
// one case where moving or evicting work can help.
std::string ExplainUnplaced(CycleContext& ctx, WorkloadId id, int32_t max_placed,
                            const std::string& rule_violation, bool* busy_resources);

}  // namespace sluice

#endif  // SLUICE_SCHED_ALLOCATE_H_
