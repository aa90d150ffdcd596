// QueueOrder: which pending workload the allocate action tries next.
//
// Walks the queue tree top-down. At each level the children are ordered by
// SCHEDULING.md's rule, evaluated as if the child's best candidate were
// added to what its subtree already holds:
//   1. not above its fair share first;
//   2. within its quota first;
//   3. higher queue priority first;
//   4. lower dominant share (allocated / fair share, the largest over the
//      resources) first;
//   5. the queue listed first.
// Within a leaf, candidates keep the order they were given (priority class,
// then submit time, then name). Keys are cached per queue and recomputed
// only on the path of the queue whose candidate was just tried, so a pick
// costs O(depth x children) rather than a walk of the whole tree.
// Belongs to one cycle; not thread-safe.
#ifndef SLUICE_SCHED_QUEUE_ORDER_H_
#define SLUICE_SCHED_QUEUE_ORDER_H_

#include <cstdint>
#include <vector>

#include "common/int128.h"
#include "core/model.h"
#include "sched/cluster_state.h"

namespace sluice {

class QueueOrder {
 public:
  // `candidates[q]` lists leaf q's workloads to try, in order. `demand[w]` is
  // what workload w would add if placed (its missing pods).
  QueueOrder(const Snapshot& snapshot, const ClusterState& state,
             const std::vector<Resources>& fair_share,
             std::vector<std::vector<WorkloadId>> candidates, const std::vector<Resources>& demand);

  // The next workload to try, or an invalid id when all have been tried.
  WorkloadId Next();
  // Marks the workload returned by Next() as tried.
  void Pop(WorkloadId w);

 private:
  struct Key {
    bool over_fair_share = false;
    bool over_quota = false;
    int32_t neg_priority = 0;
    Int128 share_num = 0;  // dominant share as a fraction; den 0 = infinite
    Int128 share_den = 1;
    int32_t age = 0;
    bool operator<(const Key& o) const;
  };
  struct Entry {
    bool dirty = true;
    WorkloadId job;  // invalid when the subtree has nothing left
    Key key;
    Resources allocated;  // the queue's when the key was made
  };
  Key MakeKey(QueueId q, WorkloadId job) const;
  const Entry& Refresh(QueueId q);

  const Snapshot& snapshot_;
  const ClusterState& state_;
  const std::vector<Resources>& fair_share_;
  const std::vector<Resources>& demand_;
  std::vector<std::vector<WorkloadId>> candidates_;
  std::vector<size_t> next_;  // per leaf: index of its next candidate
  std::vector<Entry> cache_;
  std::vector<QueueId> roots_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_QUEUE_ORDER_H_
