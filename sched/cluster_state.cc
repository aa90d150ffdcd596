#include "sched/cluster_state.h"

#include <algorithm>

#include "common/check.h"

namespace sluice {

ClusterState::ClusterState(const Snapshot& snapshot) : snapshot_(&snapshot) {
  const size_t n = snapshot.nodes.size();
  node_offset_.resize(n + 1);
  free_cpu_.resize(n);
  free_memory_.resize(n);
  free_gpu_.resize(n);
  idle_devices_.resize(n);
  shared_devices_.resize(n);
  size_t offset = 0;
  for (size_t i = 0; i < n; ++i) {
    const Node& node = snapshot.nodes[i];
    node_offset_[i] = offset;
    offset += static_cast<size_t>(node.gpus);
    free_cpu_[i] = node.cpu_milli;
    free_memory_[i] = node.memory_mib;
    free_gpu_[i] = int64_t{node.gpus} * 1000;
    idle_devices_[i] = node.gpus;
  }
  node_offset_[n] = offset;
  device_used_.assign(offset, 0);
  allocated_.resize(snapshot.queues.size());
  nonpreemptible_.resize(snapshot.queues.size());
  placements_.resize(snapshot.workloads.size());
  for (size_t w = 0; w < snapshot.workloads.size(); ++w) {
    for (const PodPlacement& p : snapshot.workloads[w].placement) {
      Apply(WorkloadId(static_cast<int32_t>(w)), p, +1);
      placements_[w].push_back(p);
    }
  }
}

void ClusterState::Apply(WorkloadId w, const PodPlacement& p, int sign) {
  const Workload& wl = snapshot_->workload(w);
  const size_t ni = p.node.index();
  for (int32_t d : p.gpus) {
    int64_t& used = device_used_[node_offset_[ni] + static_cast<size_t>(d)];
    const bool was_idle = used == 0;
    const bool was_shared = used > 0 && used < 1000;
    used += sign * p.gpu_milli;
    SLUICE_CHECK(used >= 0 && used <= 1000);
    const bool is_shared = used > 0 && used < 1000;
    if (was_idle && used > 0) --idle_devices_[ni];
    if (!was_idle && used == 0) ++idle_devices_[ni];
    shared_devices_[ni] += (is_shared ? 1 : 0) - (was_shared ? 1 : 0);
  }
  Resources r = PodResources(wl, p);
  free_gpu_[ni] -= sign * r[Resource::kGpu];
  free_cpu_[ni] -= sign * r[Resource::kCpu];
  free_memory_[ni] -= sign * r[Resource::kMemory];
  for (QueueId q = wl.queue; q.valid(); q = snapshot_->queue(q).parent) {
    if (sign > 0) {
      allocated_[q.index()] += r;
      if (!wl.preemptible) nonpreemptible_[q.index()] += r;
    } else {
      allocated_[q.index()] -= r;
      if (!wl.preemptible) nonpreemptible_[q.index()] -= r;
    }
  }
  if (observer_ != nullptr) observer_->NodeChanged(p.node);
}

void ClusterState::Bind(WorkloadId w, const PodPlacement& p) {
  Apply(w, p, +1);
  placements_[w.index()].push_back(p);
  undo_.push_back(w);
}

void ClusterState::Rollback(size_t checkpoint) {
  SLUICE_CHECK(checkpoint <= undo_.size());
  while (undo_.size() > checkpoint) {
    WorkloadId w = undo_.back();
    undo_.pop_back();
    std::vector<PodPlacement>& ps = placements_[w.index()];
    SLUICE_CHECK(!ps.empty());
    Apply(w, ps.back(), -1);
    ps.pop_back();
  }
}

}  // namespace sluice
