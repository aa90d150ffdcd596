// NodeIndex: finds the best node for a pod without scanning every node.
//
// Nodes are grouped into classes that look the same to a workload's static
// constraints (GPU model, GPU memory per device, labels). Within a class the
// nodes are kept in a set ordered by the placement strategy's key (free GPU,
// then CPU, then memory, then node order; ascending for binpack, descending
// free amounts for spread), plus a second set of the nodes that hold a
// fraction. Because PlacementScore orders nodes of one class exactly as the
// set does, the first node of the set that fits is the class's best, and
// the best over the matching classes is the same node a full scan with
// PodPlacer::Score would choose (the property tests hold both to that).
// When the placer scores fragmentation, the first fitting node is no longer
// the best, so each class also groups its nodes by free state (free GPU,
// CPU, memory and the sorted use of its devices): nodes in one state score
// the same but for their order, so the search scores one node per state.
// The groups are built the first time they are needed.
// Classes that differ only in their labels are also merged into a group
// with the same sets, searched instead of its classes for a workload that
// asks nothing of labels (no selector, no topology): on a cluster where a
// label such as the rack sets every few nodes apart, a pod then looks at one
// group instead of hundreds of classes.
// A third set per class holds the nodes with something releasing, ordered
// the same way by what they have free counting releasing resources: the
// order of PodPlacer::ScoreReleasing, so pipelining finds its node the same
// way without looking at every node that has ever had a pod releasing.
// Kept current through ClusterState's observer. Belongs to one cycle; not
// thread-safe.
#ifndef SLUICE_SCHED_NODE_INDEX_H_
#define SLUICE_SCHED_NODE_INDEX_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "core/model.h"
#include "sched/cluster_state.h"
#include "sched/placement.h"

namespace sluice {

class NodeIndex : public ClusterState::Observer {
 public:
  // Registers itself as `state`'s observer for its lifetime.
  NodeIndex(const Snapshot& snapshot, ClusterState* state);
  ~NodeIndex() override;
  NodeIndex(const NodeIndex&) = delete;
  NodeIndex& operator=(const NodeIndex&) = delete;

  // Classes whose nodes pass `w`'s model, selector and topology-label
  // constraints and can express its GPU request, in class order. Worked out
  // once per workload of the snapshot (and per distinct set of
  // constraints), then remembered.
  const std::vector<int32_t>& MatchingClasses(const Workload& w) const {
    return match_lists_[static_cast<size_t>(MatchListOf(w))];
  }
  // A number for the distinct list MatchingClasses(w) returns.
  int32_t MatchListOf(const Workload& w) const;
  // The value of label `key` on the nodes of class `c` (nullptr if absent).
  const std::string* ClassLabel(int32_t c, const std::string& key) const;
  // Free GPU milli summed over the class's nodes.
  int64_t ClassFreeGpu(int32_t c) const {
    Flush();
    return classes_[static_cast<size_t>(c)].free_gpu;
  }
  int32_t ClassOf(NodeId n) const { return class_of_[n.index()]; }
  // The nodes of class `c`, in node order.
  const std::vector<NodeId>& ClassNodes(int32_t c) const {
    return classes_[static_cast<size_t>(c)].nodes;
  }

  // The best node of `classes` for one pod of `w` now, or nullopt.
  std::optional<PodPlacement> FindBest(const Workload& w, std::span<const int32_t> classes,
                                       const PodPlacer& placer) const;
  // The node of `classes` with something releasing where one pod of `w`
  // scores best with PodPlacer::ScoreReleasing, or nullopt. Not for MIG pods.
  std::optional<NodeId> FindBestReleasing(const Workload& w, std::span<const int32_t> classes,
                                          const PodPlacer& placer) const;

  // Notes the change; the sets are brought up to date when next read.
  void NodeChanged(NodeId n) override;

 private:
  struct Entry {
    int64_t k1, k2, k3;
    int32_t node;
    auto operator<=>(const Entry&) const = default;
  };
  // Free GPU, CPU, memory, then each device's use in ascending order.
  using StateKey = std::vector<int64_t>;
  struct NodeClass {
    const Node* representative;
    std::vector<NodeId> nodes;
    std::set<Entry> all;
    std::set<Entry> shared;     // nodes with a device holding a fraction
    std::set<Entry> releasing;  // nodes with something releasing, by pipelined free
    int64_t free_gpu = 0;
    mutable std::map<StateKey, std::set<int32_t>> states;  // when grouped_
  };
  NodeClass& ClassOfNode(NodeId n) { return classes_[static_cast<size_t>(class_of_[n.index()])]; }
  // The group of the node's class when it merges several classes, else
  // nullptr (the class is its own group).
  const NodeClass* MergedGroupOf(NodeId n) const {
    const size_t g =
        static_cast<size_t>(group_of_class_[static_cast<size_t>(class_of_[n.index()])]);
    return classes_in_group_[g] > 1 ? &groups_[g] : nullptr;
  }
  NodeClass* MergedGroupOf(NodeId n) {
    return const_cast<NodeClass*>(static_cast<const NodeIndex*>(this)->MergedGroupOf(n));
  }
  // What FindBest searches for `w` among `classes`: a class's group in
  // place of all its classes when `w` asks nothing of labels.
  const std::vector<const NodeClass*>& Targets(const Workload& w,
                                               std::span<const int32_t> classes) const;
  Entry KeyOf(NodeId n) const;
  // The most free GPU on one node of the class.
  int64_t MaxFreeGpu(const NodeClass& c) const;
  // The node's free state, into *key (whose storage is reused).
  void StateOf(NodeId n, StateKey* key) const;
  void GroupByState() const;
  // Applies the changes noted since the last read (every reader calls it).
  void Flush() const;
  void ApplyChanges();
  // Brings node `n`'s place in the sets to its present state.
  void Apply(NodeId n);
  // Moves the nodes that changed since the last look to their present
  // state's group.
  void FlushStates() const;
  std::optional<PodPlacer::Choice> BestByState(const Workload& w, const NodeClass& c,
                                               int64_t need_gpu, const PodPlacer& placer) const;
  // Where a node sits in the sets of its class (0) and merged group (1):
  // a node moves by relinking its set node, without a search to find it
  // or an allocation. `shared` and `releasing` are valid while the node is
  // in those sets (in_shared_, in_releasing_).
  struct Slots {
    std::set<Entry>::iterator all, shared, releasing;
  };
  // The node's class and, when the class is merged into a group, the group.
  std::array<NodeClass*, 2> SetsOf(NodeId n) { return {&ClassOfNode(n), MergedGroupOf(n)}; }
  void Insert(NodeId n);
  // Moves the node to its present key in every set it belongs to.
  void Move(NodeId n, const Entry& key, bool shared, bool releasing, const Entry& releasing_key);
  // First node of `set` from `from` on whose Score fits (with at most
  // `max_idle_taken` idle devices taken, when given).
  std::optional<PodPlacer::Choice> FirstFit(const Workload& w, const std::set<Entry>& set,
                                            std::set<Entry>::const_iterator from, int64_t need_gpu,
                                            const PodPlacer& placer, int32_t max_idle_taken) const;

  const Snapshot& snapshot_;
  ClusterState* state_;
  const bool binpack_;
  std::vector<NodeClass> classes_;
  std::vector<int32_t> class_of_;
  // Classes that differ only in labels, merged (sets kept only for groups
  // of several classes; all_groups_ has each group, or its one class).
  std::vector<NodeClass> groups_;
  std::vector<int32_t> group_of_class_;
  std::vector<int32_t> classes_in_group_;
  mutable std::vector<int32_t> group_hits_;
  mutable std::vector<const NodeClass*> targets_;
  std::vector<const NodeClass*> all_groups_;
  // MatchingClasses, remembered: per snapshot workload an index into
  // match_lists_ (-1 not yet), and per distinct request and constraints.
  using MatchKey =
      std::tuple<std::vector<std::string>, Labels, std::string, int32_t, int32_t, int64_t, int64_t>;
  mutable std::vector<int32_t> match_of_;
  mutable std::vector<std::vector<int32_t>> match_lists_;
  mutable std::map<MatchKey, int32_t> match_ids_;
  std::vector<Entry> current_;
  std::vector<std::array<Slots, 2>> slots_;  // per node
  std::vector<bool> in_shared_;
  std::vector<Entry> current_releasing_;
  std::vector<bool> in_releasing_;
  // The state groups are a cache that FindBest fills on first use.
  mutable bool grouped_ = false;
  mutable std::vector<StateKey> state_of_;
  std::vector<uint8_t> changed_;  // per node: changed since the last Flush
  std::vector<int32_t> changed_list_;
  mutable std::vector<uint8_t> stale_;  // per node: changed since its group was set
  mutable std::vector<int32_t> stale_list_;
  mutable StateKey scratch_state_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_NODE_INDEX_H_
