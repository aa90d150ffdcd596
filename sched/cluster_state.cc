#include "sched/cluster_state.h"

#include <algorithm>

#include "common/check.h"

namespace sluice {

ClusterState::ClusterState(const Snapshot& snapshot) : snapshot_(&snapshot) {
  const size_t n = snapshot.nodes.size();
  node_offset_.resize(n + 1);
  gpu_memory_mib_.resize(n);
  free_cpu_.resize(n);
  free_memory_.resize(n);
  free_gpu_.resize(n);
  releasing_cpu_.assign(n, 0);
  releasing_memory_.assign(n, 0);
  releasing_gpu_.assign(n, 0);
  was_releasing_.assign(n, 0);
  releasing_mig_.assign(n, 0);
  idle_devices_.resize(n);
  shared_devices_.assign(n, 0);
  size_t offset = 0;
  for (size_t i = 0; i < n; ++i) {
    const Node& node = snapshot.nodes[i];
    node_offset_[i] = offset;
    offset += static_cast<size_t>(node.gpus);
    gpu_memory_mib_[i] = node.gpu_memory_mib;
    free_cpu_[i] = node.cpu_milli;
    free_memory_[i] = node.memory_mib;
    free_gpu_[i] = int64_t{node.gpus} * 1000;
    idle_devices_[i] = node.gpus;
  }
  node_offset_[n] = offset;
  device_held_.assign(offset, 0);
  device_releasing_.assign(offset, 0);
  // MIG devices look fully taken to whole and fractional requests.
  mig_offset_.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    const Node& node = snapshot.nodes[i];
    mig_offset_[i] = mig_.size();
    const MigModel* model = node.has_mig() ? FindMigModel(node.gpu_model) : nullptr;
    for (const MigDevice& d : node.mig) {
      MigDeviceState m;
      m.gpu = d.gpu;
      m.model = model;
      m.repartitionable = node.mig_dynamic;
      for (const MigPlacement& inst : d.instances) m.instances.push_back({inst, 0, 0});
      mig_.push_back(std::move(m));
      device_held_[node_offset_[i] + static_cast<size_t>(d.gpu)] = 1000;
      free_gpu_[i] -= 1000;
      --idle_devices_[i];
    }
  }
  mig_offset_[n] = mig_.size();
  allocated_.resize(snapshot.queues.size());
  nonpreemptible_.resize(snapshot.queues.size());
  placements_.resize(snapshot.workloads.size());
  releasing_.resize(snapshot.workloads.size());
  from_snapshot_.assign(snapshot.workloads.size(), kOwn);
  releasing_now_.assign(snapshot.workloads.size(), 0);
  for (size_t w = 0; w < snapshot.workloads.size(); ++w) {
    const WorkloadId id(static_cast<int32_t>(w));
    const Workload& wl = snapshot.workloads[w];
    if (wl.placement.empty()) continue;
    for (const PodPlacement& p : wl.placement) ApplyHeld(id, p, +1);
    from_snapshot_[w] = kSnapshotHeld;
    if (wl.releasing) {
      for (const PodPlacement& p : wl.placement) ApplyReleasing(id, p, +1);
      from_snapshot_[w] = kSnapshotReleasing;
      releasing_now_[w] = 1;
    }
  }
  for (MigDeviceState& m : mig_) {
    for (const MigInstanceState& i : m.instances) {
      if (!i.free()) m.repartitionable = false;
    }
  }
}

const MigInstanceState* MigDeviceState::Find(int32_t profile, int32_t start) const {
  for (const MigInstanceState& i : instances) {
    if (i.placement.profile == profile && i.placement.start == start) return &i;
  }
  return nullptr;
}

uint32_t MigDeviceState::BusySlots() const {
  uint32_t mask = 0;
  for (const MigInstanceState& i : instances) {
    if (i.free()) continue;
    if (const MigProfile* p = model->Find(i.placement.profile)) {
      mask |= MigSlotMask(*p, i.placement.start);
    }
  }
  return mask;
}

int32_t MigDeviceState::BusyCompute() const {
  int32_t compute = 0;
  for (const MigInstanceState& i : instances) {
    if (i.free()) continue;
    if (const MigProfile* p = model->Find(i.placement.profile)) compute += p->compute;
  }
  return compute;
}

MigDeviceState& ClusterState::MigDeviceAt(NodeId n, int32_t gpu) {
  for (size_t i = mig_offset_[n.index()]; i < mig_offset_[n.index() + 1]; ++i) {
    if (mig_[i].gpu == gpu) return mig_[i];
  }
  SLUICE_CHECK(false && "not a MIG device");
  return mig_.front();
}

void ClusterState::ApplyMigHeld(const Workload& wl, const PodPlacement& p, int sign) {
  MigDeviceState& m = MigDeviceAt(p.node, p.gpus[0]);
  for (MigInstanceState& i : m.instances) {
    if (i.placement.profile != wl.request.mig_profile || i.placement.start != p.mig_start) continue;
    i.held = static_cast<int8_t>(i.held + sign);
    SLUICE_CHECK(i.held == 0 || i.held == 1);
    return;
  }
  SLUICE_CHECK(false && "no such MIG instance");
}

void ClusterState::ApplyMigReleasing(const Workload& wl, const PodPlacement& p, int sign) {
  MigDeviceState& m = MigDeviceAt(p.node, p.gpus[0]);
  for (MigInstanceState& i : m.instances) {
    if (i.placement.profile != wl.request.mig_profile || i.placement.start != p.mig_start) continue;
    i.held = static_cast<int8_t>(i.held - sign);
    i.releasing = static_cast<int8_t>(i.releasing + sign);
    SLUICE_CHECK(i.held >= 0 && i.releasing >= 0 && i.releasing <= 1);
    return;
  }
  SLUICE_CHECK(false && "no such MIG instance");
}

int32_t ClusterState::Repartition(const Workload& wl, const PodPlacement& p) {
  MigDeviceState& m = MigDeviceAt(p.node, p.gpus[0]);
  SLUICE_CHECK(m.repartitionable);
  const MigProfile* profile = m.model->Find(wl.request.mig_profile);
  SLUICE_CHECK(profile != nullptr);
  const auto device = static_cast<size_t>(&m - mig_.data());
  mig_saved_.emplace_back(device, m.instances);
  const uint32_t mask = MigSlotMask(*profile, p.mig_start);
  std::erase_if(m.instances, [&](const MigInstanceState& i) {
    const MigProfile* q = m.model->Find(i.placement.profile);
    return i.free() && q != nullptr && (MigSlotMask(*q, i.placement.start) & mask) != 0;
  });
  SLUICE_CHECK((m.BusySlots() & mask) == 0);
  m.instances.push_back({{wl.request.mig_profile, p.mig_start}, 0, 0});
  std::sort(m.instances.begin(), m.instances.end(),
            [](const MigInstanceState& a, const MigInstanceState& b) {
              return a.placement.start < b.placement.start;
            });
  return static_cast<int32_t>(mig_saved_.size()) - 1;
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
  const Resources r = PodResources(wl, p);
  if (p.mig()) {
    // An instance is held; the device's GPU stays out of free_gpu.
    ApplyMigHeld(wl, p, sign);
  } else {
    free_gpu_[ni] -= sign * r[Resource::kGpu];
  }
  for (int32_t d : p.mig() ? std::span<const int32_t>() : std::span<const int32_t>(p.gpus)) {
    const size_t i = node_offset_[ni] + static_cast<size_t>(d);
    const int64_t before = device_held_[i] + device_releasing_[i];
    device_held_[i] += sign * p.gpu_milli;
    SLUICE_CHECK(device_held_[i] >= 0 && device_held_[i] <= 1000);
    UpdateDeviceCounts(ni, before, device_held_[i] + device_releasing_[i]);
  }
  free_cpu_[ni] -= sign * r[Resource::kCpu];
  free_memory_[ni] -= sign * r[Resource::kMemory];
  AddToQueues(wl, r, sign);
  for (Observer* o : observers_) o->NodeChanged(p.node);
}

void ClusterState::ApplyReleasing(WorkloadId w, const PodPlacement& p, int sign) {
  const Workload& wl = snapshot_->workload(w);
  const size_t ni = p.node.index();
  const Resources r = PodResources(wl, p);
  if (p.mig()) {
    ApplyMigReleasing(wl, p, sign);
    releasing_mig_[ni] += sign;
  } else {
    releasing_gpu_[ni] += sign * r[Resource::kGpu];
  }
  for (int32_t d : p.mig() ? std::span<const int32_t>() : std::span<const int32_t>(p.gpus)) {
    const size_t i = node_offset_[ni] + static_cast<size_t>(d);
    device_held_[i] -= sign * p.gpu_milli;
    device_releasing_[i] += sign * p.gpu_milli;
    SLUICE_CHECK(device_held_[i] >= 0 && device_releasing_[i] >= 0);
  }
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
  int32_t saved = -1;
  if (p.mig()) {
    const Workload& wl = snapshot_->workload(w);
    if (MigDeviceAt(p.node, p.gpus[0]).Find(wl.request.mig_profile, p.mig_start) == nullptr) {
      saved = Repartition(wl, p);
    }
  }
  ApplyHeld(w, p, +1);
  const size_t i = w.index();
  if (from_snapshot_[i] == kSnapshotHeld) {
    placements_[i] = snapshot_->workloads[i].placement;
    from_snapshot_[i] = kOwn;
  }
  placements_[i].push_back(p);
  undo_.push_back({Op::kBind, w, saved});
}

void ClusterState::Evict(WorkloadId w) {
  const size_t i = w.index();
  SLUICE_CHECK(!placements(w).empty() && !is_releasing(w));
  for (const PodPlacement& p : placements(w)) ApplyReleasing(w, p, +1);
  releasing_now_[i] = 1;
  if (from_snapshot_[i] == kSnapshotHeld) {
    from_snapshot_[i] = kSnapshotReleasing;
  } else {
    releasing_[i] = std::move(placements_[i]);
    placements_[i].clear();
  }
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
      if (u.mig_saved >= 0) {
        SLUICE_CHECK(u.mig_saved == static_cast<int32_t>(mig_saved_.size()) - 1);
        auto& [device, layout] = mig_saved_.back();
        mig_[device].instances = std::move(layout);
        mig_saved_.pop_back();
      }
    } else {
      SLUICE_CHECK(placements(u.workload).empty());
      for (const PodPlacement& p : releasing(u.workload)) ApplyReleasing(u.workload, p, -1);
      releasing_now_[w] = 0;
      if (from_snapshot_[w] == kSnapshotReleasing) {
        from_snapshot_[w] = kSnapshotHeld;
      } else {
        placements_[w] = std::move(releasing_[w]);
        releasing_[w].clear();
      }
    }
  }
}

}  // namespace sluice
