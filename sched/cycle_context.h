// CycleContext: what the actions of one scheduling cycle share. Internal to
// sched; one cycle owns one context and nothing in it is thread-safe.
#ifndef SLUICE_SCHED_CYCLE_CONTEXT_H_
#define SLUICE_SCHED_CYCLE_CONTEXT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "core/model.h"
#include "sched/cluster_state.h"
#include "sched/fragmentation.h"
#include "sched/node_index.h"
#include "sched/scheduler.h"

namespace sluice {

// Everything but the pods held, which change during a cycle.
using TwinShape =
    std::tuple<int32_t, int32_t, bool, int32_t, int64_t, int64_t, int64_t, int64_t, int32_t,
               int32_t, std::vector<std::string>, Labels, std::string, int32_t>;

// A number for each distinct TwinShape of the cycle's workloads, worked out
// once per workload (twins.h asks for the same workloads in every action).
class TwinShapes {
 public:
  int32_t Of(const Snapshot& s, WorkloadId id) {
    if (of_.empty()) of_.assign(s.workloads.size(), -1);
    int32_t& known = of_[id.index()];
    if (known < 0) {
      const Workload& w = s.workload(id);
      const PodRequest& r = w.request;
      const int32_t queue = w.queue.value(), priority = PriorityValue(w.priority_class);
      // Looked up by reference: most workloads share a shape already known.
      const auto shape =
          std::tie(queue, priority, w.preemptible, r.gpu_devices, r.gpu_milli, r.gpu_memory_mib,
                   r.cpu_milli, r.memory_mib, w.pods, w.min_available, w.gpu_models,
                   w.node_selector, w.topology, r.mig_profile);
      auto it = ids_.find(shape);
      if (it == ids_.end()) {
        it = ids_.emplace(TwinShape(shape), static_cast<int32_t>(ids_.size())).first;
      }
      known = it->second;
    }
    return known;
  }

 private:
  std::vector<int32_t> of_;
  std::map<TwinShape, int32_t, std::less<>> ids_;
};

// Where a gang may go: the nodes (linear search) or node classes (indexed)
// of one topology domain, or of the whole cluster.
struct Domain {
  std::string value;
  int64_t free_gpu = 0;  // orders topology domains (not summed for the whole cluster)
  // Linear search: the nodes. Indexed: empty, or for a kept topology
  // domain every node of its classes, in node order.
  std::vector<NodeId> nodes;
  // Indexed: the classes, its own or (for the whole cluster) a view of the
  // node index's list for the workload, whose storage lasts the cycle.
  std::vector<int32_t> own_classes;
  std::span<const int32_t> index_classes;
  std::span<const int32_t> classes() const {
    return index_classes.empty() ? std::span<const int32_t>(own_classes) : index_classes;
  }
};

struct CycleContext {
  const Snapshot& snapshot;
  ClusterState& state;
  const NodeIndex* index;  // nullptr: linear node search
  const RequestMix* mix;   // what fragmentation is measured against; may be empty
  const std::vector<Resources>& fair_share;
  const std::vector<Resources>& demand;  // per workload: what its missing pods add
  CycleResult& result;
  // Per workload: bound, pipelined or evicted in this cycle.
  std::vector<uint8_t> decided;
  // Workloads allocate could not place for lack of free resources (not for
  // a queue rule, not because nothing can ever hold them), in the order it
  // tried them: the candidates of consolidate, reclaim and preempt.
  std::vector<WorkloadId> failed;
  // Per workload: GPU milli it waits for on releasing resources (for its
  // pending reason).
  std::vector<int64_t> waiting_gpu;
  // CycleOptions::fresh_victim_search.
  bool fresh_victim_search = false;
  TwinShapes twin_shapes = {};
  // Indexed topology domains (gang.h) by NodeIndex::MatchListOf: each
  // label value's classes and nodes, which do not change in a cycle.
  std::map<int32_t, std::vector<Domain>> topology_domains = {};
  // NodeFilter::Eligible for pending reasons, by the constraints and
  // request it depends on.
  using EligibleKey = std::tuple<std::vector<std::string>, Labels, std::string, int32_t, int32_t,
                                 int64_t, int64_t, int64_t, int64_t>;
  std::map<EligibleKey, std::vector<NodeId>> eligible = {};
  // The fragmentation of the states placements scored (with `mix`).
  FragmentationMemo* fragmentation = nullptr;
  // Per queue, every workload that may wait in it during the cycle (not
  // running with all its pods) in within-queue order (SortWithinQueue):
  // sorted once for allocate's candidates and the final positions.
  std::vector<std::vector<WorkloadId>> waiting = {};
};

}  // namespace sluice

#endif  // SLUICE_SCHED_CYCLE_CONTEXT_H_
