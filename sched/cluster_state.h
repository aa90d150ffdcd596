// ClusterState: the scheduler's mutable view of who holds what during one
// cycle, with an undo log.
//
// Built from a Snapshot's running placements, it tracks per device and per
// node what is *held* (by running pods, pods bound in this cycle, and pods
// pipelined onto resources still being released) and what is *releasing*
// (held by evicted pods that have not exited yet), and per queue what its
// subtree holds (all, and non-preemptible). Releasing resources count as
// taken for an ordinary placement and as free for a pipelined one.
// Every bind and eviction goes through the undo log, so an action's attempt
// for one workload is rolled back whole with Rollback(checkpoint).
// Devices in MIG mode are not GPUs to the rest of the scheduler: they count
// as fully taken for whole and fractional requests (and are left out of
// free_gpu and idle_devices), and their instances are tracked on their own:
// which is free, held or releasing, and, on a node with migDynamic, the
// instances created for pods bound in this cycle (a repartition; the
// instances it replaced are gone). A device may be repartitioned only when
// no pod of the snapshot runs on it.
// Not thread-safe; one cycle owns one ClusterState.
#ifndef SLUICE_SCHED_CLUSTER_STATE_H_
#define SLUICE_SCHED_CLUSTER_STATE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "core/model.h"
#include "core/resources.h"

namespace sluice {

// One instance on a MIG device, and who holds it.
struct MigInstanceState {
  MigPlacement placement;
  int8_t held = 0;       // 1 while a pod holds it (running, bound or pipelined)
  int8_t releasing = 0;  // 1 while an evicted pod on it has not exited
  bool free() const { return held == 0 && releasing == 0; }
};

// A device in MIG mode during the cycle.
struct MigDeviceState {
  int32_t gpu = 0;
  const MigModel* model = nullptr;
  // The node allows repartitioning and no pod of the snapshot runs here.
  bool repartitionable = false;
  std::vector<MigInstanceState> instances;

  // The instance of `profile` at `start`, or nullptr.
  const MigInstanceState* Find(int32_t profile, int32_t start) const;
  // Memory slots and compute slices of instances held or releasing.
  uint32_t BusySlots() const;
  int32_t BusyCompute() const;
};

class ClusterState {
 public:
  // Told about every node whose free resources change.
  class Observer {
   public:
    virtual ~Observer() = default;
    virtual void NodeChanged(NodeId n) = 0;
  };

  explicit ClusterState(const Snapshot& snapshot);

  // Observers are not owned; each must be removed before it is destroyed.
  void AddObserver(Observer* o) { observers_.push_back(o); }
  void RemoveObserver(Observer* o) { std::erase(observers_, o); }

  const Snapshot& snapshot() const { return *snapshot_; }
  // The node's devices and memory per device, as the snapshot says, from
  // compact arrays (hot loops need not read the whole Node).
  int32_t gpus(NodeId n) const {
    return static_cast<int32_t>(node_offset_[n.index() + 1] - node_offset_[n.index()]);
  }
  int64_t gpu_memory_mib(NodeId n) const { return gpu_memory_mib_[n.index()]; }

  // GPU milli taken on device `d` of node `n`: held plus releasing.
  int64_t device_used(NodeId n, int32_t d) const {
    const size_t i = node_offset_[n.index()] + static_cast<size_t>(d);
    return device_held_[i] + device_releasing_[i];
  }
  // GPU milli held on the device, not counting what is being released.
  int64_t device_held(NodeId n, int32_t d) const {
    return device_held_[node_offset_[n.index()] + static_cast<size_t>(d)];
  }
  int64_t device_releasing(NodeId n, int32_t d) const {
    return device_releasing_[node_offset_[n.index()] + static_cast<size_t>(d)];
  }
  // Free CPU (millicores), memory (MiB) and GPU milli (summed over devices)
  // for an ordinary placement; kUnlimited-based where the node does not
  // track a resource. May be negative where pipelined pods wait on top of
  // releasing ones.
  int64_t free_cpu(NodeId n) const { return free_cpu_[n.index()]; }
  int64_t free_memory(NodeId n) const { return free_memory_[n.index()]; }
  int64_t free_gpu(NodeId n) const { return free_gpu_[n.index()]; }
  // The same, counting releasing resources as free (for pipelining).
  int64_t free_cpu_pipelined(NodeId n) const {
    return free_cpu_[n.index()] + releasing_cpu_[n.index()];
  }
  int64_t free_memory_pipelined(NodeId n) const {
    return free_memory_[n.index()] + releasing_memory_[n.index()];
  }
  int64_t free_gpu_pipelined(NodeId n) const {
    return free_gpu_[n.index()] + releasing_gpu_[n.index()];
  }
  bool has_releasing(NodeId n) const {
    return releasing_gpu_[n.index()] > 0 || releasing_cpu_[n.index()] > 0 ||
           releasing_memory_[n.index()] > 0 || releasing_mig_[n.index()] > 0;
  }
  // Devices with nothing on them, held or releasing.
  int32_t idle_devices(NodeId n) const { return idle_devices_[n.index()]; }
  // Devices holding a fraction (taken, but not full).
  int32_t shared_devices(NodeId n) const { return shared_devices_[n.index()]; }

  // The MIG devices of node `n` (empty for a node without any).
  std::span<const MigDeviceState> mig_devices(NodeId n) const {
    return {mig_.data() + mig_offset_[n.index()], mig_.data() + mig_offset_[n.index() + 1]};
  }
  // True when some device of the snapshot is in MIG mode.
  bool has_mig() const { return !mig_.empty(); }

  // What a queue's whole subtree holds (releasing pods excluded: they are
  // on their way out).
  const Resources& allocated(QueueId q) const { return allocated_[q.index()]; }
  const Resources& nonpreemptible_allocated(QueueId q) const { return nonpreemptible_[q.index()]; }

  // Pods a workload holds now: the snapshot's plus those bound since, less
  // evicted ones.
  const std::vector<PodPlacement>& placements(WorkloadId w) const {
    const size_t i = w.index();
    return from_snapshot_[i] == kSnapshotHeld ? snapshot_->workloads[i].placement : placements_[i];
  }
  // Pods of the workload that are being released.
  const std::vector<PodPlacement>& releasing(WorkloadId w) const {
    const size_t i = w.index();
    return from_snapshot_[i] == kSnapshotReleasing ? snapshot_->workloads[i].placement
                                                   : releasing_[i];
  }
  bool is_releasing(WorkloadId w) const {
    const size_t i = w.index();
    return releasing_now_[i] != 0;
  }
  // True when any pod anywhere is being released (pipelining is possible).
  bool any_releasing() const { return releasing_pods_ > 0; }
  // Every node that has had a pod releasing since the state was built, in
  // the order they first did (a superset of those with one now: filter
  // with has_releasing). Lets pipelining look at those few nodes instead
  // of all.
  const std::vector<NodeId>& nodes_ever_releasing() const { return ever_releasing_; }

  // Records one pod of `w` at `p`. The caller has checked that it fits
  // (ordinarily, or pipelined).
  void Bind(WorkloadId w, const PodPlacement& p);
  // Starts releasing every pod `w` holds: they keep their devices until
  // they exit, but no longer count for the queue.
  void Evict(WorkloadId w);

  // A position in the undo log; Rollback(c) undoes every Bind and Evict
  // after it.
  size_t Checkpoint() const { return undo_.size(); }
  void Rollback(size_t checkpoint);

 private:
  enum class Op : uint8_t { kBind, kEvict };
  struct Undo {
    Op op;
    WorkloadId workload;
    int32_t mig_saved = -1;  // a bind that repartitioned: the layout it replaced
  };
  MigDeviceState& MigDeviceAt(NodeId n, int32_t gpu);
  // Holds (sign +1) or lets go of (-1) the instance of MIG pod `p`.
  void ApplyMigHeld(const Workload& wl, const PodPlacement& p, int sign);
  void ApplyMigReleasing(const Workload& wl, const PodPlacement& p, int sign);
  // Creates the instance `p` asks for, destroying the free instances in its
  // way; returns the index of the saved layout.
  int32_t Repartition(const Workload& wl, const PodPlacement& p);
  // Adds (sign +1) or removes (-1) a held pod.
  void ApplyHeld(WorkloadId w, const PodPlacement& p, int sign);
  // Moves a pod between held and releasing (sign +1: to releasing).
  void ApplyReleasing(WorkloadId w, const PodPlacement& p, int sign);
  void UpdateDeviceCounts(size_t node, int64_t before, int64_t after);
  void AddToQueues(const Workload& wl, const Resources& r, int sign);

  const Snapshot* snapshot_;
  std::vector<size_t> node_offset_;
  std::vector<int64_t> gpu_memory_mib_;
  std::vector<int64_t> device_held_;
  std::vector<int64_t> device_releasing_;
  std::vector<int64_t> free_cpu_;
  std::vector<int64_t> free_memory_;
  std::vector<int64_t> free_gpu_;
  std::vector<int64_t> releasing_cpu_;
  std::vector<int64_t> releasing_memory_;
  std::vector<int64_t> releasing_gpu_;
  std::vector<int32_t> releasing_mig_;  // MIG instances being released
  std::vector<int32_t> idle_devices_;
  std::vector<int32_t> shared_devices_;
  std::vector<Observer*> observers_;
  std::vector<Resources> allocated_;
  std::vector<Resources> nonpreemptible_;
  // A workload's pods are the snapshot's until something changes them: it
  // reads them from there (held, or releasing) rather than keeping a copy
  // of every workload's, and copies them on its first bind.
  enum Source : uint8_t { kOwn, kSnapshotHeld, kSnapshotReleasing };
  std::vector<uint8_t> from_snapshot_;  // per workload, a Source
  std::vector<uint8_t> releasing_now_;  // per workload: some pod releasing (one byte to read)
  std::vector<std::vector<PodPlacement>> placements_;  // kOwn
  std::vector<std::vector<PodPlacement>> releasing_;   // kOwn
  std::vector<Undo> undo_;
  std::vector<NodeId> ever_releasing_;
  std::vector<uint8_t> was_releasing_;  // per node: listed in ever_releasing_
  int64_t releasing_pods_ = 0;
  std::vector<MigDeviceState> mig_;
  std::vector<size_t> mig_offset_;  // per node, into mig_ (n + 1 entries)
  std::vector<std::pair<size_t, std::vector<MigInstanceState>>> mig_saved_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_CLUSTER_STATE_H_
