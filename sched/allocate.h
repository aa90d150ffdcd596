// AllocateAction: places pending workloads (and the missing pods of running
// elastic ones) on free resources, one workload at a time in QueueOrder.
//
// A workload's attempt is all-or-nothing at the gang level: its missing pods
// are placed one by one on the best-scored node (see placement.h), each
// checked against the queue rules (limits up the tree; quotas for
// non-preemptible work); if fewer than minAvailable end up placed, every
// tentative bind is rolled back through the ClusterState's undo log. With a
// topology constraint the gang is tried in one domain (label value) at a
// time: binpack tries the fullest domain first, spread the emptiest.
// Belongs to one cycle; not thread-safe.
#ifndef SLUICE_SCHED_ALLOCATE_H_
#define SLUICE_SCHED_ALLOCATE_H_

#include <optional>
#include <string>
#include <vector>

#include "core/model.h"
#include "sched/cluster_state.h"
#include "sched/node_index.h"
#include "sched/scheduler.h"

namespace sluice {

class AllocateAction {
 public:
  // `demand[w]`: what workload w would add when placed (for ordering).
  // `index` finds nodes fast; nullptr makes every search a linear scan
  // (the reference the index is tested against).
  AllocateAction(const Snapshot& snapshot, ClusterState* state, const NodeIndex* index,
                 const std::vector<Resources>& fair_share, const std::vector<Resources>& demand);

  // Tries every candidate once; appends binds and sets reasons of the
  // workloads that stay pending.
  void Run(std::vector<BindDecision>* binds, std::vector<std::string>* reasons);

 private:
  // Returns true when the workload got pods; otherwise sets *reason (which
  // stays empty for an elastic workload that simply could not grow).
  bool Attempt(WorkloadId id, std::vector<PodPlacement>* placed, std::string* reason);
  // Where a gang may go: the nodes (linear search) or node classes (indexed)
  // of one topology domain, or of the whole cluster.
  struct Domain {
    std::string value;
    int64_t free_gpu = 0;
    std::vector<NodeId> nodes;
    std::vector<int32_t> classes;
  };
  std::vector<Domain> Domains(WorkloadId id) const;
  std::optional<PodPlacement> FindBest(const Workload& w, const Domain& d,
                                       const PodPlacer& placer) const;

  const Snapshot& snapshot_;
  ClusterState* state_;
  const NodeIndex* index_;
  const std::vector<Resources>& fair_share_;
  const std::vector<Resources>& demand_;
};

// Within-queue order: higher priority class, then earlier submit, then name.
bool WithinQueueBefore(const Workload& a, const Workload& b);

}  // namespace sluice

#endif  // SLUICE_SCHED_ALLOCATE_H_
