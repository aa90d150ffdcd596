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
// answers for the classes on it, never on the victim order, so each kind of
// workload (twins, see twins.h) keeps an index of node costs per domain for
// the whole action, updated rather than rebuilt:
//   - a node whose resources changed (every bind, eviction and rollback
//     reaches the ClusterState observer) is recomputed;
//   - a class that becomes allowed marks the nodes holding it;
//   - a class that becomes refused only makes costs larger (the fewest
//     victims among fewer candidates cannot be fewer), so the old cost is a
//     lower bound: the node is recomputed when it reaches the top of the
//     heap, and taken only if it is still the cheapest.
// The node taken is therefore exactly the cheapest under the current state
// and answers. Its victims are asked once more, one by one against the
// state their predecessors left, just before they are evicted.
// Internal to sched; one attempt owns one VictimSearch at a time.
#ifndef SLUICE_SCHED_VICTIMS_H_
#define SLUICE_SCHED_VICTIMS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
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
  // cycle: such workloads are not candidates at all. The answer may depend
  // on the facts and on what the workload asking is (its kind: queue,
  // priority, request), never on the cycle's state, so it is asked once
  // per class and kind.
  virtual bool MayYield(const VictimFacts& /*v*/) const { return true; }
  // Allows without a reason, for facts MayYield accepted (a policy may
  // skip asking that again, and answer from what it worked out since the
  // last BeginAnswers).
  virtual bool AllowsYielding(const VictimFacts& v) const { return Allows(v, nullptr); }
  // Called before a round of AllowsYielding about every class; the state
  // does not change during the round.
  virtual void BeginAnswers() const {}
  // A shortcut a policy may offer for the round: when it returns true,
  // AllowsYielding(v) is, for every v of leaf queue `q` that MayYield
  // accepted, "v is past its reclaim min-runtime and holds no GPU, or at
  // most *limit GPU milli".
  virtual bool YieldingGpuLimit(QueueId /*q*/, int64_t* /*limit*/) const { return false; }
  virtual VictimKey Key(WorkloadId v) const = 0;
};

// What a workload holds now of resource `r`.
int64_t HeldAmount(const ClusterState& state, WorkloadId w, Resource r);

// The running workloads that may be victims in a cycle (those of the
// snapshot, not releasing), by node and by class of facts, with what each
// would give back on each of its nodes. Built once after allocate; a
// candidate's facts and pods do not change during the cycle (once it is
// evicted or given more pods it is decided and no longer a candidate).
class VictimPool {
 public:
  VictimPool(const Snapshot& s, const ClusterState& state);

  // One candidate on one node.
  struct OnNode {
    WorkloadId workload;
    int32_t cls = 0;
    int64_t cpu = 0, memory = 0;  // its pods' requests on this node
    int64_t gpu_here = 0;         // GPU milli it holds on this node's devices
    int32_t devices = 0;          // devices it holds some of here
    bool mig = false;             // has a MIG pod here
    size_t shares = 0;            // offset of its per-device GPU milli in shares()
  };
  std::span<const OnNode> on_node(NodeId n) const {
    return {entries_.data() + begin_[n.index()], entries_.data() + begin_[n.index() + 1]};
  }
  const std::vector<int64_t>& shares() const { return shares_; }
  // The class of a candidate, -1 for any other workload.
  int32_t class_of(WorkloadId v) const { return class_of_[v.index()]; }
  size_t classes() const { return facts_.size(); }
  const VictimFacts& facts(int32_t c) const { return facts_[static_cast<size_t>(c)]; }
  // Nodes where some candidate of class `c` has a pod, in node order.
  const std::vector<NodeId>& nodes_of(int32_t c) const { return nodes_of_[static_cast<size_t>(c)]; }

 private:
  std::vector<OnNode> entries_;
  std::vector<size_t> begin_;  // per node, into entries_ (one past the end at the back)
  std::vector<int64_t> shares_;
  std::vector<int32_t> class_of_;
  std::vector<VictimFacts> facts_;
  std::vector<std::vector<NodeId>> nodes_of_;
};

// Costs of the nodes of one domain for pods of one shape under one set of
// policy answers, kept across the attempts of an action and shared by the
// kinds of workload whose answers are the same (see the top of this file).
class VictimIndex {
 public:
  // Lower is cheaper: victims, then GPU evicted, then the node's placement
  // keys (free GPU, CPU and memory, signed by the strategy), then the node.
  struct Cost {
    int64_t gpu = 0;
    int64_t k1 = 0, k2 = 0, k3 = 0;
    int32_t victims = 0;
    int32_t node = 0;
    bool operator<(const Cost& o) const {
      return std::tie(victims, gpu, k1, k2, k3, node) <
             std::tie(o.victims, o.gpu, o.k1, o.k2, o.k3, o.node);
    }
  };
  // A heap entry is stale when the position's version moved on.
  struct HeapEntry {
    Cost cost;
    int32_t pos = 0;
    uint32_t version = 0;
  };

  VictimIndex(const Snapshot& s, std::vector<NodeId> nodes);

 private:
  friend class VictimSearch;
  friend class VictimSearches;
  // Whether changed nodes are found from the change log (large domains,
  // through local_) or by looking at each node's change stamp (small ones).
  bool large() const { return !local_.empty(); }
  // Marks position `pos` for recomputation before the next look at the heap.
  void MarkDirty(int32_t pos);

  std::vector<NodeId> nodes_;
  std::vector<int32_t> local_;  // node -> position in nodes_, -1 outside (large only)
  // Per class: what the costs assume (1 allowed; 0 refused, 2 never a
  // candidate: both not allowed).
  std::vector<int8_t> answers_;
  uint64_t refusals_ = 0;                    // classes that went from allowed to not
  WorkloadId last_ = WorkloadId::Invalid();  // left out of the costs as the workload placed
  uint64_t used_ = 0;
  // Per position.
  std::vector<Cost> cost_;
  std::vector<uint8_t> has_cost_, dirty_, capped_;
  // Whether the cost is the node's (1) or a lower bound of it (0), see
  // VictimSearch::Recompute.
  std::vector<uint8_t> exact_;
  std::vector<uint32_t> version_;      // bumped whenever the cost changes
  std::vector<uint64_t> refusals_at_;  // refusals_ when the cost was computed
  std::vector<int32_t> dirty_list_;
  std::vector<int32_t> capped_list_;  // positions whose cost is a bounded search's
  // A min-heap by (cost, position).
  std::vector<HeapEntry> heap_;
  size_t log_seen_ = 0;      // (large) entries of the change log applied
  uint64_t stamp_seen_ = 0;  // (small) change stamps applied
  bool built_ = false;
};

// The victim searches of one action: the change log of the cluster state,
// the kept answers per kind of workload, the shared indexes, and
// per-attempt scratch.
class VictimSearches final : public ClusterState::Observer {
 public:
  VictimSearches(CycleContext& ctx, const VictimPool& pool);
  ~VictimSearches() override;
  VictimSearches(const VictimSearches&) = delete;
  VictimSearches& operator=(const VictimSearches&) = delete;

  const VictimPool& pool() const { return pool_; }
  // Whether candidate `v` can still be evicted for workload `self`: not
  // `self`, not decided in this cycle, not releasing.
  bool Available(WorkloadId v, WorkloadId self) const {
    return v != self && ctx_.decided[v.index()] == 0 && !ctx_.state.is_releasing(v);
  }
  // Called at the start of each workload's attempt (PlaceGang does).
  void BeginAttempt() { ++attempt_; }
  // Whether `nodes` might hold `needed` pods of `id` under `policy`: an
  // upper bound from GPU alone, counting on each node what is free
  // (releasing included) and what the candidates the policy allows there
  // hold. When false, no victim search there can place that many pods, so
  // PlaceGang need not build one. Always true for the fresh reference
  // search, pods without GPUs and MIG pods.
  bool MayHold(WorkloadId id, const std::string& value, std::span<const NodeId> nodes,
               const VictimPolicy& policy, int32_t needed);
  void NodeChanged(NodeId n) override {
    log_.push_back(n.value());
    stamp_[n.index()] = ++stamps_;
  }

 private:
  friend class VictimSearch;
  // What one kind of workload keeps: the policy's answers per class (-1 not
  // asked yet, 0 refused, 1 allowed, 2 never a candidate) and the index it
  // used last per domain.
  struct Kind {
    std::vector<int8_t> answer;
    bool asked = false;               // MayYield asked about every class
    std::vector<int32_t> live;        // the classes whose answer is not 2
    uint64_t attempt = 0;             // the attempt the answers were asked for
    bool refused_in_attempt = false;  // an answer was changed while evicting
    std::unordered_map<std::string, std::shared_ptr<VictimIndex>> indexes;  // by domain value
    int32_t shape = -1;  // VictimSearches::ShapeOf, once known
    // Domains MayHold found too small, by domain value: still too small
    // while the answers, the pods needed and every node's state are the
    // same (no change stamp of its nodes above `stamp`).
    struct TooSmall {
      std::vector<int8_t> answer;
      int32_t needed = 0;
      uint64_t stamp = 0;
    };
    std::unordered_map<std::string, TooSmall> too_small;
  };
  // What an index's costs depend on besides the cluster's state: the pod's
  // request and constraints, the domain, and the answers.
  using Shape = std::tuple<int32_t, int64_t, int64_t, int64_t, int64_t, int32_t,
                           std::vector<std::string>, Labels, std::string>;
  // By the number ShapeOf gives the shape.
  using IndexKey = std::tuple<int32_t, std::string, std::vector<int8_t>>;
  // A number for the shape of `w`'s pods, worked out once per kind.
  int32_t ShapeOf(Kind& kind, const Workload& w);
  Kind& KindOf(WorkloadId id);
  // Asks `policy` about every class for `kind`, once per attempt (and
  // again if an answer was changed while evicting: the state is back as it
  // was).
  void RefreshAnswers(Kind& kind, const Workload& w, const VictimPolicy& policy) const;
  // Drops the least recently used shared indexes nobody holds while they
  // cover more than a budget of node positions.
  void Prune();

  CycleContext& ctx_;
  const VictimPool& pool_;
  std::vector<int32_t> log_;     // nodes changed, in order
  std::vector<uint64_t> stamp_;  // per node: the last change's stamp
  uint64_t stamps_ = 0;
  uint64_t attempt_ = 0;
  std::map<Twin, Kind> kinds_;
  struct IndexKeyHash {
    size_t operator()(const IndexKey& k) const;
  };
  std::unordered_map<IndexKey, std::shared_ptr<VictimIndex>, IndexKeyHash> shared_;
  std::map<Shape, int32_t> shape_ids_;
  size_t shared_positions_ = 0;
  uint64_t uses_ = 0;
  bool in_use_ = false;
  // Victim keys fixed in the attempt in progress, by workload.
  std::unordered_map<int32_t, VictimKey> keys_;
  // Buffers of Evaluate.
  std::vector<const VictimPool::OnNode*> candidates_;
  std::vector<int64_t> held_, rows_, bound_gpu_;
  // RefreshAnswers' per-queue GPU limits of the round.
  mutable std::vector<int8_t> limit_known_;
  mutable std::vector<int64_t> limits_;
  std::vector<int32_t> set_, best_, order_;
};

class VictimSearch {
 public:
  // Searches the domain `value` (whose nodes `nodes` lists in node order,
  // asked only when the domain is new to this kind) for pods of `id` with
  // `policy`, through the kept state of `searches`.
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
  // Asks the policy about every class, once per attempt.
  void RefreshAnswers();
  // The index for this kind's answers in domain `value`: its own if the
  // answers did not change, one another kind keeps for the same answers,
  // its own (or a copy, when others may use it) brought to the new answers,
  // or a new one.
  VictimIndex& Acquire(const std::string& value, const std::function<std::vector<NodeId>()>& nodes);
  // Moves the index's answers to `answers`: classes no longer allowed make
  // costs stale (lazily), classes allowed again mark their nodes.
  void Transition(VictimIndex& x, const std::vector<int8_t>& answers);
  VictimSearches::IndexKey KeyOf(const VictimIndex& x) const;
  // Brings the index up to date with the node changes.
  void Refresh();
  void MarkDirtyNode(NodeId n);
  void ApplyChanges();
  void Flush();
  bool Candidate(const VictimPool::OnNode& e) const;
  // The cheapest set of victims on `n`: its cost, whether the bounded
  // search gave up (and a greedy choice was made), and with `victims` the
  // set itself, ties between sets broken by victim order.
  // With `bound`, only a lower bound of the cost (no search), with the
  // node's placement score, when the pod fits once every candidate is gone.
  bool Evaluate(NodeId n, Cost* cost, bool* capped, std::vector<WorkloadId>* victims,
                bool bound = false);
  // The cost's placement keys and node for `n` (victims and GPU left 0).
  Cost ScoreOf(NodeId n) const;
  // Computes the cost at `pos` (a lower bound of it unless `exact`) and
  // pushes it on the heap's vector (the caller restores the heap order).
  void Recompute(int32_t pos, bool exact = false);
  std::optional<int32_t> Cheapest();
  const VictimKey& KeyOf(WorkloadId v);

  CycleContext& ctx_;
  WorkloadId id_;
  const Workload& w_;
  const VictimPolicy& policy_;
  VictimSearches& s_;
  const VictimPool& pool_;
  VictimSearches::Kind& kind_;
  const std::string value_;
  int32_t shape_;  // VictimSearches::ShapeOf
  VictimIndex& x_;
  std::string first_refusal_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_VICTIMS_H_
