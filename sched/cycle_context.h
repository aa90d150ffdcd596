// CycleContext: what the actions of one scheduling cycle share. Internal to
// sched; one cycle owns one context and nothing in it is thread-safe.
#ifndef SLUICE_SCHED_CYCLE_CONTEXT_H_
#define SLUICE_SCHED_CYCLE_CONTEXT_H_

#include <cstdint>
#include <vector>

#include "core/model.h"
#include "sched/cluster_state.h"
#include "sched/fragmentation.h"
#include "sched/node_index.h"
#include "sched/scheduler.h"

namespace sluice {

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
};

}  // namespace sluice

#endif  // SLUICE_SCHED_CYCLE_CONTEXT_H_
