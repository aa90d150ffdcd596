// Finding victims: which running workloads to evict so that one more pod of
// a workload fits, shared by reclaim, preempt and consolidate (through
// PlaceGang in gang.h).
//
// A VictimSearch keeps, for every node of the workload's domain, the
// cheapest way to fit one more pod there: that node's candidate victims
// taken in the policy's order until the pod fits. Nodes are ordered by
// (victims needed, GPU evicted, placement score) in a min-heap with lazy
// deletion, and a node is
// recomputed only when it changed (through the ClusterState observer) or
// holds a victim found to be refused. No combination of victims is
// enumerated. Victim order is fixed when a victim is first seen, and a
// refused victim stays refused for the attempt: evictions only make the
// policies stricter. Internal to sched; one attempt owns one search.
//
// A search touches every node of its domain once, and one cycle runs many
// searches, so its per-node and per-workload bookkeeping lives in flat
// arrays stamped with the search's epoch (VictimScratch), reused by every
// search of an action: starting a search costs no clearing and no hashing.
#ifndef SLUICE_SCHED_VICTIMS_H_
#define SLUICE_SCHED_VICTIMS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
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
  // (why_not may be null when no reason is wanted.)
  virtual bool Allows(WorkloadId v, std::string* why_not) const = 0;
  // False only where Allows(v) is false, with no reason, for the rest of
  // the cycle: a cheap test that lets a search skip nodes with nothing to
  // take.
  virtual bool MayYield(WorkloadId /*v*/) const { return true; }
  virtual VictimKey Key(WorkloadId v) const = 0;
};

// Running workloads with pods on each node, from the snapshot (the only
// ones that may be victims in a cycle).
std::vector<std::vector<WorkloadId>> WorkloadsByNode(const Snapshot& s);

// What a workload holds now of resource `r`.
int64_t HeldAmount(const ClusterState& state, WorkloadId w, Resource r);

// The reusable bookkeeping of victim searches: one per action, lent to one
// search at a time. Entries count for the current search only when their
// stamp equals its epoch.
class VictimScratch {
 public:
  using Cost = std::tuple<size_t, int64_t, PlacementScore>;

 private:
  friend class VictimSearch;
  // Starts a search over `nodes` nodes and `workloads` workloads.
  void Begin(size_t nodes, size_t workloads);

  uint32_t epoch_ = 0;
  bool in_use_ = false;
  // Per node.
  std::vector<uint32_t> in_domain_, dirty_, has_cost_;
  std::vector<uint32_t> version_;  // bumped whenever the node's cost changes
  std::vector<Cost> costs_;
  std::vector<std::vector<WorkloadId>> plans_;
  // Per workload.
  std::vector<uint32_t> refused_, checked_, has_key_;
  std::vector<VictimKey> keys_;
  // The heap of (cost, node, version); an entry is stale when the node's
  // version moved on.
  std::vector<std::tuple<Cost, int32_t, uint32_t>> heap_;
  std::vector<int32_t> dirty_list_;
  std::vector<std::pair<VictimKey, WorkloadId>> candidates_;
  std::vector<int64_t> held_;
};

class VictimSearch final : public ClusterState::Observer {
 public:
  // `scratch` (not owned) may be null: the search then uses its own.
  VictimSearch(CycleContext& ctx, WorkloadId id, const std::vector<NodeId>& nodes,
               const VictimPolicy& policy, const std::vector<std::vector<WorkloadId>>& by_node,
               VictimScratch* scratch = nullptr);
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
  using Cost = VictimScratch::Cost;
  void MarkDirty(NodeId n);
  // May `v` be a victim of this search (not decided, not leaving, and not
  // ruled out by the policy for the cycle)?
  bool Eligible(WorkloadId v) const;
  void Refuse(WorkloadId v, NodeId where, const std::string& why);
  void Flush();
  const VictimKey& KeyOf(WorkloadId v);
  void Recompute(NodeId n);
  // The cheapest node with a plan, dropping stale heap entries; nullopt when
  // none is left.
  std::optional<int32_t> Cheapest();

  CycleContext& ctx_;
  WorkloadId id_;
  const Workload& w_;
  const VictimPolicy& policy_;
  const std::vector<std::vector<WorkloadId>>& by_node_;
  std::optional<VictimScratch> own_;
  VictimScratch& x_;
  std::string why_not_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_VICTIMS_H_
