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
                               const std::vector<Resources>& fair_share,
                               const std::vector<Resources>& demand)
    : snapshot_(snapshot), state_(state), fair_share_(fair_share), demand_(demand) {}

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

std::vector<std::vector<NodeId>> AllocateAction::Domains(
    WorkloadId id, const std::vector<NodeId>& eligible) const {
  const Workload& w = snapshot_.workload(id);
  if (w.topology.empty()) return {eligible};
  // Pods already running fix the domain.
  const std::vector<PodPlacement>& running = state_->placements(id);
  const std::string* fixed =
      running.empty() ? nullptr
                      : FindLabel(snapshot_.node(running.front().node).labels, w.topology);
  if (!running.empty() && fixed == nullptr) return {};
  std::map<std::string, std::vector<NodeId>> by_value;
  std::map<std::string, int64_t> free_gpu;
  for (NodeId n : eligible) {
    const std::string* v = FindLabel(snapshot_.node(n).labels, w.topology);
    if (v == nullptr || (fixed != nullptr && *v != *fixed)) continue;
    by_value[*v].push_back(n);
    free_gpu[*v] += state_->free_gpu(n);
  }
  std::vector<std::string> values;
  for (const auto& kv : by_value) values.push_back(kv.first);
  const bool binpack = snapshot_.strategy == PlacementStrategy::kBinpack;
  std::stable_sort(values.begin(), values.end(), [&](const std::string& a, const std::string& b) {
    return binpack ? free_gpu[a] < free_gpu[b] : free_gpu[a] > free_gpu[b];
  });
  std::vector<std::vector<NodeId>> out;
  for (const std::string& v : values) out.push_back(std::move(by_value[v]));
  return out;
}

bool AllocateAction::Attempt(WorkloadId id, std::vector<PodPlacement>* placed,
                             std::string* reason) {
  const Workload& w = snapshot_.workload(id);
  const int32_t running = static_cast<int32_t>(state_->placements(id).size());
  const int32_t missing = w.pods - running;
  const int32_t needed = std::max(0, w.min_available - running);
  const std::vector<NodeId> eligible = NodeFilter::Eligible(w, snapshot_);
  if (eligible.empty()) {
    if (needed > 0) *reason = NeverFitsReason(w, snapshot_).value_or("no node can hold it");
    return false;
  }
  PodPlacer placer(snapshot_, *state_);
  const size_t checkpoint = state_->Checkpoint();
  int32_t max_placed = 0;
  std::string rule_violation;
  for (const std::vector<NodeId>& domain : Domains(id, eligible)) {
    int32_t count = 0;
    for (; count < missing; ++count) {
      std::optional<PodPlacement> p = placer.FindBest(w, domain);
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
  if (!rule_violation.empty()) {
    *reason = std::move(rule_violation);
  } else {
    *reason = PlacementReason(w, eligible, *state_, needed, max_placed);
  }
  return false;
}

}  // namespace sluice
