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
  releasing_cpu_.assign(n, 0);
  releasing_memory_.assign(n, 0);
  releasing_gpu_.assign(n, 0);
  was_releasing_.assign(n, 0);
  idle_devices_.resize(n);
  shared_devices_.assign(n, 0);
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
  device_held_.assign(offset, 0);
  device_releasing_.assign(offset, 0);
  allocated_.resize(snapshot.queues.size());
  nonpreemptible_.resize(snapshot.queues.size());
  placements_.resize(snapshot.workloads.size());
  releasing_.resize(snapshot.workloads.size());
  for (size_t w = 0; w < snapshot.workloads.size(); ++w) {
    const WorkloadId id(static_cast<int32_t>(w));
    for (const PodPlacement& p : snapshot.workloads[w].placement) {
      ApplyHeld(id, p, +1);
      placements_[w].push_back(p);
    }
    if (snapshot.workloads[w].releasing) {
      for (const PodPlacement& p : placements_[w]) ApplyReleasing(id, p, +1);
      releasing_[w] = std::move(placements_[w]);
      placements_[w].clear();
    }
  }
}

void ClusterState::UpdateDeviceCounts(size_t node, int64_t before, int64_t after) {
  auto shared = [](int64_t v) { return v > 0 && v < 1000 ? 1 : 0; };
  if (before == 0 && after != 0) --idle_devices_[node];
  if (before != 0 && after == 0) ++idle_devices_[node];
  shared_devices_[node] += shared(after) - shared(before);
}

void ClusterState::AddToQueues(const Workload& wl, const Resources& r, int sign) {
  for (QueueId q = wl.queue; q.valid(); q = snapshot_->queue(q).parent) {
    if (sign > 0) {
      allocated_[q.index()] += r;
      if (!wl.preemptible) nonpreemptible_[q.index()] += r;
    } else {
      allocated_[q.index()] -= r;
      if (!wl.preemptible) nonpreemptible_[q.index()] -= r;
    }
  }
}

void ClusterState::ApplyHeld(WorkloadId w, const PodPlacement& p, int sign) {
  const Workload& wl = snapshot_->workload(w);
  const size_t ni = p.node.index();
  for (int32_t d : p.gpus) {
    const size_t i = node_offset_[ni] + static_cast<size_t>(d);
    const int64_t before = device_held_[i] + device_releasing_[i];
    device_held_[i] += sign * p.gpu_milli;
    SLUICE_CHECK(device_held_[i] >= 0 && device_held_[i] <= 1000);
    UpdateDeviceCounts(ni, before, device_held_[i] + device_releasing_[i]);
  }
  const Resources r = PodResources(wl, p);
  free_gpu_[ni] -= sign * r[Resource::kGpu];
  free_cpu_[ni] -= sign * r[Resource::kCpu];
  free_memory_[ni] -= sign * r[Resource::kMemory];
  AddToQueues(wl, r, sign);
  for (Observer* o : observers_) o->NodeChanged(p.node);
}

void ClusterState::ApplyReleasing(WorkloadId w, const PodPlacement& p, int sign) {
  const Workload& wl = snapshot_->workload(w);
  const size_t ni = p.node.index();
  for (int32_t d : p.gpus) {
    const size_t i = node_offset_[ni] + static_cast<size_t>(d);
    device_held_[i] -= sign * p.gpu_milli;
    device_releasing_[i] += sign * p.gpu_milli;
    SLUICE_CHECK(device_held_[i] >= 0 && device_releasing_[i] >= 0);
  }
  const Resources r = PodResources(wl, p);
  releasing_gpu_[ni] += sign * r[Resource::kGpu];
  releasing_cpu_[ni] += sign * r[Resource::kCpu];
  releasing_memory_[ni] += sign * r[Resource::kMemory];
  releasing_pods_ += sign;
  if (sign > 0 && was_releasing_[ni] == 0) {
    was_releasing_[ni] = 1;
    ever_releasing_.push_back(p.node);
  }
  AddToQueues(wl, r, -sign);
  for (Observer* o : observers_) o->NodeChanged(p.node);
}

void ClusterState::Bind(WorkloadId w, const PodPlacement& p) {
  ApplyHeld(w, p, +1);
  placements_[w.index()].push_back(p);
  undo_.push_back({Op::kBind, w});
}

void ClusterState::Evict(WorkloadId w) {
  std::vector<PodPlacement>& held = placements_[w.index()];
  SLUICE_CHECK(!held.empty() && releasing_[w.index()].empty());
  for (const PodPlacement& p : held) ApplyReleasing(w, p, +1);
  releasing_[w.index()] = std::move(held);
  held.clear();
  undo_.push_back({Op::kEvict, w});
}

void ClusterState::Rollback(size_t checkpoint) {
  SLUICE_CHECK(checkpoint <= undo_.size());
  while (undo_.size() > checkpoint) {
    const Undo u = undo_.back();
    undo_.pop_back();
    const size_t w = u.workload.index();
    if (u.op == Op::kBind) {
      SLUICE_CHECK(!placements_[w].empty());
      ApplyHeld(u.workload, placements_[w].back(), -1);
      placements_[w].pop_back();
    } else {
      SLUICE_CHECK(placements_[w].empty());
      for (const PodPlacement& p : releasing_[w]) ApplyReleasing(u.workload, p, -1);
      placements_[w] = std::move(releasing_[w]);
      releasing_[w].clear();
    }
  }
}

}  // namespace sluice
