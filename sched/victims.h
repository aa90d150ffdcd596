// Finding victims: which running workloads to evict so that one more pod of
// a workload fits, shared by reclaim, preempt and consolidate (through
// PlaceGang in gang.h).
//
// What a node costs. For every node, the fewest victims (then the least GPU
// evicted) among the candidates a policy allows there whose eviction makes
// room for the pod; nodes are compared by (victims, GPU evicted, placement
// score). Which victims of an equally cheap set go is decided by the
// policy's victim order (VictimKey), so "queues most above their fair share
// first" chooses among sets that are equally small. A victim that does not
// help the pod is never taken.
//
// Why it is cheap across workloads. A policy's answer about a victim
// depends only on a few facts of it (queue, class, what it holds, whether it
// is past its min-runtime: VictimFacts), so running workloads fall into a
// few hundred classes and a policy is asked once per class per attempt, not
// once per workload. A node's cost depends only on the node's state and the
// answers for the classes on it, never on the victim order, so an index of
// node costs (VictimIndex) is kept for the whole action per kind of
// workload (twins, see twins.h) and updated rather than rebuilt:
//   - a node whose resources changed (every bind, eviction and rollback is
//     logged through the ClusterState observer) is recomputed;
//   - a class that becomes allowed marks the nodes holding it for
//     recomputation;
//   - a class that becomes refused only makes costs larger (the fewest
//     victims among fewer candidates cannot be fewer), so the old cost is a
//     lower bound: the node is recomputed lazily when it reaches the top of
//     the heap, and taken only if it is still cheapest.
// The node taken is therefore exactly the cheapest under the current state
// and answers. Its victims are asked once more, one by one against the
// state their predecessors left, just before they are evicted.
// Internal to sched; one attempt owns one VictimSearch at a time.
#ifndef SLUICE_SCHED_VICTIMS_H_
#define SLUICE_SCHED_VICTIMS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sched/cycle_context.h"
#include "sched/placement.h"
#include "sched/twins.h"

namespace sluice {

// Lower keys are evicted first.
using VictimKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int32_t>;

// What the policies' answers about a running workload depend on.
struct VictimFacts {
  int32_t queue = -1;
  int32_t priority = 0;
  bool preemptible = false;
  bool holds_gpu = false;        // some pod holds some GPU
  bool past_reclaim_min = true;  // older than its queue's reclaim min-runtime
  bool past_preempt_min = true;  // older than its queue's preempt min-runtime
  int32_t mig_profile = 0;
  Resources held;  // what it holds now
  auto Tie() const {
    return std::tie(queue, priority, preemptible, holds_gpu, past_reclaim_min, past_preempt_min,
                    mig_profile, held.v);
  }
};

class VictimPolicy {
 public:
  virtual ~VictimPolicy() = default;
  // May a workload with these facts be evicted now (the state reflects
  // earlier evictions)? When not, *why_not may be set to a short reason for
  // the pending message. (why_not may be null when no reason is wanted.)
  virtual bool Allows(const VictimFacts& v, std::string* why_not) const = 0;
  // False only where Allows is false, with no reason, for the rest of the
  // cycle: such workloads are not candidates at all.
  virtual bool MayYield(const VictimFacts& /*v*/) const { return true; }
  virtual VictimKey Key(WorkloadId v) const = 0;
};

// What a workload holds now of resource `r`.
int64_t HeldAmount(const ClusterState& state, WorkloadId w, Resource r);

// The running workloads that may be victims in a cycle (those of the
// snapshot, not releasing), by node and by class of facts. Built once after
// allocate; a candidate's facts do not change during the cycle (once it is
// evicted or given more pods it is decided and no longer a candidate).
class VictimPool {
 public:
  VictimPool(const Snapshot& s, const ClusterState& state);

  const std::vector<WorkloadId>& on_node(NodeId n) const { return by_node_[n.index()]; }
  // The class of a candidate, -1 for any other workload.
  int32_t class_of(WorkloadId v) const { return class_of_[v.index()]; }
  size_t classes() const { return facts_.size(); }
  const VictimFacts& facts(int32_t c) const { return facts_[static_cast<size_t>(c)]; }
  // Nodes where some candidate of class `c` has a pod, in node order.
  const std::vector<NodeId>& nodes_of(int32_t c) const { return nodes_of_[static_cast<size_t>(c)]; }

 private:
  std::vector<std::vector<WorkloadId>> by_node_;
  std::vector<int32_t> class_of_;
  std::vector<VictimFacts> facts_;
  std::vector<std::vector<NodeId>> nodes_of_;
};

// Costs of the nodes of one domain for one kind of workload, kept across
// the attempts of an action (see the top of this file).
class VictimIndex {
 public:
  using Cost = std::tuple<int32_t, int64_t, PlacementScore>;  // victims, GPU evicted, placement

  VictimIndex(const Snapshot& s, std::vector<NodeId> nodes);

 private:
  friend class VictimSearch;
  friend class VictimSearches;
  std::vector<NodeId> nodes_;
  std::vector<int32_t> local_;  // node -> position in nodes_, -1 outside
  // Per position.
  std::vector<Cost> cost_;
  std::vector<uint8_t> has_cost_, dirty_, capped_;
  std::vector<uint32_t> version_;   // bumped whenever the cost changes
  std::vector<uint64_t> refusals_;  // refusals_seen_ when the cost was computed
  std::vector<int32_t> dirty_list_;
  std::vector<int32_t> capped_list_;  // positions whose cost is a bounded search's
  // The heap of (cost, position, version); an entry is stale when the
  // position's version moved on.
  std::vector<std::tuple<Cost, int32_t, uint32_t>> heap_;
  // Per class: -1 not asked yet, 0 refused, 1 allowed, 2 never a candidate.
  std::vector<int8_t> answer_;
  uint64_t refusals_seen_ = 0;  // classes that went from allowed to refused
  size_t log_seen_ = 0;         // entries of the change log already applied
  bool built_ = false;
  WorkloadId last_ = WorkloadId::Invalid();  // the workload of the last attempt
};

// The victim searches of one action: the change log of the cluster state,
// the kept indexes per kind of workload, and per-attempt scratch.
class VictimSearches final : public ClusterState::Observer {
 public:
  VictimSearches(CycleContext& ctx, const VictimPool& pool);
  ~VictimSearches() override;
  VictimSearches(const VictimSearches&) = delete;
  VictimSearches& operator=(const VictimSearches&) = delete;

  const VictimPool& pool() const { return pool_; }
  void NodeChanged(NodeId n) override { log_.push_back(n.value()); }

  // What evicting one candidate gives back on one node.
  struct Release {
    int64_t cpu = 0, memory = 0;
    int32_t devices = 0;  // devices it holds some of here
    int64_t on_node = 0;  // GPU milli it holds here
    bool mig = false;     // frees an instance of the profile asked for
    int64_t gpu = 0;      // all the GPU it holds, on every node
  };

 private:
  friend class VictimSearch;
  // The index for workload `id` in the domain `value` (whose nodes `nodes`
  // lists, asked only for a new index): kept for cluster-wide domains
  // (value empty), fresh for topology domains.
  VictimIndex& IndexFor(WorkloadId id, const std::string& value,
                        const std::function<std::vector<NodeId>()>& nodes);

  CycleContext& ctx_;
  const VictimPool& pool_;
  std::vector<int32_t> log_;  // nodes changed, in order
  struct Kept {
    VictimIndex index;
    uint64_t used = 0;
  };
  std::map<Twin, Kept> kept_;
  uint64_t uses_ = 0;
  std::optional<VictimIndex> fresh_;
  bool in_use_ = false;
  // Per workload, for the attempt in progress.
  uint32_t epoch_ = 0;
  std::vector<uint32_t> has_key_;
  std::vector<VictimKey> keys_;
  // Buffers of Evaluate.
  std::vector<WorkloadId> candidates_;
  std::vector<Release> releases_;
  std::vector<int64_t> device_, held_;
};

class VictimSearch {
 public:
  // Searches the domain `value` (whose nodes `nodes` lists, in node order)
  // for pods of `id` with `policy`, through the kept state of `searches`.
  VictimSearch(CycleContext& ctx, WorkloadId id, const std::string& value,
               const std::function<std::vector<NodeId>()>& nodes, const VictimPolicy& policy,
               VictimSearches& searches);
  ~VictimSearch();
  VictimSearch(const VictimSearch&) = delete;
  VictimSearch& operator=(const VictimSearch&) = delete;

  // Evicts the victims of the cheapest node (appending them to *victims)
  // and returns the node, or nullopt when no node can be freed.
  std::optional<NodeId> EvictForOnePod(std::vector<WorkloadId>* victims);
  // Why victims were refused, for the pending message: the first candidate
  // in node order whose class is refused, else the first refused when its
  // turn to be evicted came; "" when none was refused.
  std::string why_not() const;

 private:
  using Cost = VictimIndex::Cost;
  struct Plan {
    Cost cost;
    std::vector<WorkloadId> victims;  // in victim order
    bool capped = false;              // found by the bounded search
  };
  // Brings the index up to date with the log and the policy's answers.
  void Refresh();
  void MarkDirty(int32_t pos);
  void ApplyLog();
  void Flush();
  // The candidates on `n` the policy allows now.
  void Candidates(NodeId n, std::vector<WorkloadId>* out) const;
  // The cheapest set of victims on `n`; with `keys`, ties between sets are
  // broken by victim order (otherwise any cheapest set's cost is returned).
  std::optional<Plan> Evaluate(NodeId n, bool keys);
  void Recompute(int32_t pos);
  std::optional<int32_t> Cheapest();
  const VictimKey& KeyOf(WorkloadId v);
  bool ClassAllowed(int32_t c) const;

  CycleContext& ctx_;
  WorkloadId id_;
  const Workload& w_;
  const VictimPolicy& policy_;
  VictimSearches& s_;
  const VictimPool& pool_;
  VictimIndex& x_;
  std::string first_refusal_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_VICTIMS_H_
