// ClusterState: the scheduler's mutable view of who holds what during one
// cycle, with an undo log.
//
// Built from a Snapshot's running placements, it tracks per-device GPU use,
// per-node free CPU and memory, and per-queue allocation (each queue's whole
// subtree, split into all and non-preemptible). Every tentative bind goes
// through Bind() and is recorded, so a gang's attempt can be rolled back to a
// checkpoint in one call. Not thread-safe; one cycle owns one ClusterState.
#ifndef SLUICE_SCHED_CLUSTER_STATE_H_
#define SLUICE_SCHED_CLUSTER_STATE_H_

#include <cstdint>
#include <vector>

#include "core/model.h"
#include "core/resources.h"

namespace sluice {

class ClusterState {
 public:
  // Told about every node whose free resources change (binds and rollbacks).
  class Observer {
   public:
    virtual ~Observer() = default;
    virtual void NodeChanged(NodeId n) = 0;
  };

  explicit ClusterState(const Snapshot& snapshot);

  // At most one observer; nullptr to stop. Not owned.
  void set_observer(Observer* observer) { observer_ = observer; }

  const Snapshot& snapshot() const { return *snapshot_; }

  // GPU milli in use on device `d` of node `n`.
  int64_t device_used(NodeId n, int32_t d) const {
    return device_used_[node_offset_[n.index()] + static_cast<size_t>(d)];
  }
  // Free CPU (millicores) and memory (MiB) on a node; kUnlimited-based when
  // the node does not track them.
  int64_t free_cpu(NodeId n) const { return free_cpu_[n.index()]; }
  int64_t free_memory(NodeId n) const { return free_memory_[n.index()]; }
  // Sum of free GPU milli over the node's devices.
  int64_t free_gpu(NodeId n) const { return free_gpu_[n.index()]; }
  // Devices with nothing on them.
  int32_t idle_devices(NodeId n) const { return idle_devices_[n.index()]; }
  // Devices holding a fraction (used, but not full).
  int32_t shared_devices(NodeId n) const { return shared_devices_[n.index()]; }

  // Allocation of a queue's whole subtree.
  const Resources& allocated(QueueId q) const { return allocated_[q.index()]; }
  const Resources& nonpreemptible_allocated(QueueId q) const { return nonpreemptible_[q.index()]; }

  // Current placements of a workload: the snapshot's plus those bound since.
  const std::vector<PodPlacement>& placements(WorkloadId w) const { return placements_[w.index()]; }

  // Records one pod of `w` at `p`. The caller has checked that it fits.
  void Bind(WorkloadId w, const PodPlacement& p);

  // A position in the undo log; Rollback(c) undoes every Bind after it.
  size_t Checkpoint() const { return undo_.size(); }
  void Rollback(size_t checkpoint);

 private:
  void Apply(WorkloadId w, const PodPlacement& p, int sign);

  const Snapshot* snapshot_;
  std::vector<size_t> node_offset_;
  std::vector<int64_t> device_used_;
  std::vector<int64_t> free_cpu_;
  std::vector<int64_t> free_memory_;
  std::vector<int64_t> free_gpu_;
  std::vector<int32_t> idle_devices_;
  std::vector<int32_t> shared_devices_;
  Observer* observer_ = nullptr;
  std::vector<Resources> allocated_;
  std::vector<Resources> nonpreemptible_;
  std::vector<std::vector<PodPlacement>> placements_;
  std::vector<WorkloadId> undo_;  // workloads whose last placement is undoable
};

}  // namespace sluice

#endif  // SLUICE_SCHED_CLUSTER_STATE_H_
