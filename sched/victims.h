// Finding victims: which running workloads to evict so that one more pod of
// a workload fits, shared by reclaim, preempt and consolidate (through
// PlaceGang in gang.h).
//
// A VictimSearch keeps, for every node of the workload's domain, the
// cheapest way to fit one more pod there: that node's candidate victims
// taken in the policy's order until the pod fits. Nodes are ordered by
// (victims needed, GPU evicted, placement score) in a set, and a node is
// recomputed only when it changed (through the ClusterState observer) or
// holds a victim found to be refused. No combination of victims is
// enumerated. Victim order is fixed when a victim is first seen, and a
// refused victim stays refused for the attempt: evictions only make the
// policies stricter. Internal to sched; one attempt owns one search.
#ifndef SLUICE_SCHED_VICTIMS_H_
#define SLUICE_SCHED_VICTIMS_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sched/cycle_context.h"
#include "sched/placement.h"

namespace sluice {

// Lower keys are evicted first.
using VictimKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int32_t>;

class VictimPolicy {
 public:
  virtual ~VictimPolicy() = default;
  // May `v` be evicted now (the state reflects earlier evictions)? When
  // not, *why_not may be set to a short reason for the pending message.
  virtual bool Allows(WorkloadId v, std::string* why_not) const = 0;
  virtual VictimKey Key(WorkloadId v) const = 0;
};

// Running workloads with pods on each node, from the snapshot (the only
// ones that may be victims in a cycle).
std::vector<std::vector<WorkloadId>> WorkloadsByNode(const Snapshot& s);

// What a workload holds now of resource `r`.
int64_t HeldAmount(const ClusterState& state, WorkloadId w, Resource r);

class VictimSearch final : public ClusterState::Observer {
 public:
  VictimSearch(CycleContext& ctx, WorkloadId id, const std::vector<NodeId>& nodes,
               const VictimPolicy& policy, const std::vector<std::vector<WorkloadId>>& by_node);
  ~VictimSearch() override;
  VictimSearch(const VictimSearch&) = delete;
  VictimSearch& operator=(const VictimSearch&) = delete;

  // Evicts the victims of the cheapest node (appending them to *victims)
  // and returns the node, or nullopt when no node can be freed.
  std::optional<NodeId> EvictForOnePod(std::vector<WorkloadId>* victims);
  // The first reason a victim was refused, for the pending message.
  const std::string& why_not() const { return why_not_; }

  void NodeChanged(NodeId n) override;

 private:
  using Cost = std::tuple<size_t, int64_t, PlacementScore>;
  void MarkDirty(NodeId n);
  void Refuse(WorkloadId v, NodeId where, const std::string& why);
  void Flush();
  const VictimKey& KeyOf(WorkloadId v);
  void Recompute(NodeId n);

  CycleContext& ctx_;
  WorkloadId id_;
  const Workload& w_;
  const VictimPolicy& policy_;
  const std::vector<std::vector<WorkloadId>>& by_node_;
  std::unordered_set<int32_t> in_domain_;
  std::set<int32_t> dirty_;
  std::unordered_set<int32_t> refused_;
  std::unordered_set<int32_t> checked_;
  std::unordered_map<int32_t, VictimKey> keys_;
  std::unordered_map<int32_t, Cost> costs_;
  std::unordered_map<int32_t, std::vector<WorkloadId>> plans_;
  std::set<std::pair<Cost, int32_t>> order_;
  std::vector<std::pair<VictimKey, WorkloadId>> candidates_;
  std::vector<int64_t> scratch_;
  std::string why_not_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_VICTIMS_H_
