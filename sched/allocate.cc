#include "sched/allocate.h"

#include <algorithm>
#include <map>

#include "sched/pending_reason.h"
#include "sched/placement.h"
#include "sched/queue_order.h"

namespace sluice {

bool WithinQueueBefore(const Workload& a, const Workload& b) {
  const int32_t pa = PriorityValue(a.priority_class), pb = PriorityValue(b.priority_class);
  if (pa != pb) return pa > pb;
  if (a.submitted != b.submitted) return a.submitted < b.submitted;
  return a.name < b.name;
}

AllocateAction::AllocateAction(const Snapshot& snapshot, ClusterState* state,
                               const NodeIndex* index, const std::vector<Resources>& fair_share,
                               const std::vector<Resources>& demand)
    : snapshot_(snapshot), state_(state), index_(index), fair_share_(fair_share), demand_(demand) {}

void AllocateAction::Run(std::vector<BindDecision>* binds, std::vector<std::string>* reasons) {
  std::vector<std::vector<WorkloadId>> candidates(snapshot_.queues.size());
  for (size_t i = 0; i < snapshot_.workloads.size(); ++i) {
    const Workload& w = snapshot_.workloads[i];
    WorkloadId id(static_cast<int32_t>(i));
    if (static_cast<int32_t>(state_->placements(id).size()) < w.pods) {
      candidates[w.queue.index()].push_back(id);
    }
  }
  for (std::vector<WorkloadId>& c : candidates) {
    std::sort(c.begin(), c.end(), [&](WorkloadId a, WorkloadId b) {
      return WithinQueueBefore(snapshot_.workload(a), snapshot_.workload(b));
    });
  }
  QueueOrder order(snapshot_, *state_, fair_share_, std::move(candidates), demand_);
  for (WorkloadId w = order.Next(); w.valid(); w = order.Next()) {
    std::vector<PodPlacement> placed;
    std::string reason;
    if (Attempt(w, &placed, &reason)) {
      binds->push_back({w, std::move(placed)});
    } else {
      (*reasons)[w.index()] = std::move(reason);
    }
    order.Pop(w);
  }
}

std::vector<AllocateAction::Domain> AllocateAction::Domains(WorkloadId id) const {
  const Workload& w = snapshot_.workload(id);
  // Pods already running fix the topology domain.
  const std::vector<PodPlacement>& running = state_->placements(id);
  const std::string* fixed = nullptr;
  if (!w.topology.empty() && !running.empty()) {
    fixed = FindLabel(snapshot_.node(running.front().node).labels, w.topology);
    if (fixed == nullptr) return {};
  }
  std::map<std::string, Domain> by_value;
  auto domain_of = [&](const std::string* label) -> Domain* {
    if (w.topology.empty()) return &by_value[""];
    if (label == nullptr || (fixed != nullptr && *label != *fixed)) return nullptr;
    Domain* d = &by_value[*label];
    d->value = *label;
    return d;
  };
  if (index_ != nullptr) {
    for (int32_t c : index_->MatchingClasses(w)) {
      if (Domain* d = domain_of(index_->ClassLabel(c, w.topology))) {
        d->classes.push_back(c);
        d->free_gpu += index_->ClassFreeGpu(c);
      }
    }
  } else {
    for (size_t i = 0; i < snapshot_.nodes.size(); ++i) {
      const Node& n = snapshot_.nodes[i];
      if (!NodeFilter::MatchesClass(w, n)) continue;
      if (Domain* d = domain_of(FindLabel(n.labels, w.topology))) {
        d->nodes.emplace_back(static_cast<int32_t>(i));
        d->free_gpu += state_->free_gpu(NodeId(static_cast<int32_t>(i)));
      }
    }
  }
  std::vector<Domain> out;
  out.reserve(by_value.size());
  for (auto& kv : by_value) out.push_back(std::move(kv.second));
  // binpack fills the fullest domain first, spread the emptiest; ties by name.
  const bool binpack = snapshot_.strategy == PlacementStrategy::kBinpack;
  std::stable_sort(out.begin(), out.end(), [&](const Domain& a, const Domain& b) {
    return binpack ? a.free_gpu < b.free_gpu : a.free_gpu > b.free_gpu;
  });
  return out;
}

std::optional<PodPlacement> AllocateAction::FindBest(const Workload& w, const Domain& d,
                                                     const PodPlacer& placer) const {
  if (index_ == nullptr) return placer.FindBest(w, d.nodes);
  std::optional<NodeId> n = index_->FindBest(w, d.classes, placer);
  if (!n) return std::nullopt;
  return placer.PlaceOn(w, *n);
}

bool AllocateAction::Attempt(WorkloadId id, std::vector<PodPlacement>* placed,
                             std::string* reason) {
  const Workload& w = snapshot_.workload(id);
  const int32_t running = static_cast<int32_t>(state_->placements(id).size());
  const int32_t missing = w.pods - running;
  const int32_t needed = std::max(0, w.min_available - running);
  PodPlacer placer(snapshot_, *state_);
  const size_t checkpoint = state_->Checkpoint();
  int32_t max_placed = 0;
  std::string rule_violation;
  for (const Domain& domain : Domains(id)) {
    int32_t count = 0;
    for (; count < missing; ++count) {
      std::optional<PodPlacement> p = FindBest(w, domain, placer);
      if (!p) break;
      if (std::optional<std::string> why = QueueRuleViolation(w, PodResources(w, *p), *state_)) {
        if (rule_violation.empty()) rule_violation = std::move(*why);
        break;
      }
      state_->Bind(id, *p);
    }
    if (count > 0 && count >= needed) {
      const std::vector<PodPlacement>& all = state_->placements(id);
      placed->assign(all.end() - count, all.end());
      return true;
    }
    max_placed = std::max(max_placed, count);
    state_->Rollback(checkpoint);
  }
  if (needed == 0) return false;  // running elastic workload that could not grow
  // Explaining a failure may scan the cluster; it happens once per pending
  // workload and cycle, never in the placement loop above.
  const std::vector<NodeId> eligible = NodeFilter::Eligible(w, snapshot_);
  if (eligible.empty()) {
    *reason = NeverFitsReason(w, snapshot_).value_or("no node can hold it");
  } else if (!rule_violation.empty()) {
    *reason = std::move(rule_violation);
  } else {
    *reason = PlacementReason(w, eligible, *state_, needed, max_placed);
  }
  return false;
}

}  // namespace sluice
