// The scheduler core's entry points: one cycle on a snapshot, and a plan
// that runs cycles and feeds their decisions back.
//
// RunCycle is a pure function of the snapshot: no I/O, no clock (the
// snapshot's `now` is the clock), no globals; the same snapshot gives the
// same result. Thread-compatible: concurrent calls on different snapshots
// are safe.
#ifndef SLUICE_SCHED_SCHEDULER_H_
#define SLUICE_SCHED_SCHEDULER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "core/resources.h"

namespace sluice {

// New pods bound to a workload in one cycle.
struct BindDecision {
  WorkloadId workload;
  std::vector<PodPlacement> pods;
};

// A device in MIG mode laid out anew for pods bound in this cycle: the
// instances to destroy (all free), then those to create. Carried out before
// the binds that use the new instances; only ever on a device with no
// running work.
struct RepartitionDecision {
  NodeId node;
  int32_t gpu = 0;
  std::vector<MigPlacement> destroy;
  std::vector<MigPlacement> create;
  std::vector<MigPlacement> layout;  // every instance of the device afterwards
};

enum class EvictionAction : uint8_t { kReclaim, kPreempt, kConsolidate, kStaleGang };
std::string_view EvictionActionName(EvictionAction a);

// A running workload asked to stop (all its pods), and for whom.
struct EvictionDecision {
  WorkloadId workload;
  EvictionAction action;
  WorkloadId for_workload;  // invalid for stale gangs
  std::string why;
};

struct CycleResult {
  std::vector<Resources> fair_share;  // per queue
  // New pods placed on free resources, in the order they were decided. A
  // workload moved by consolidation appears here with its new pods.
  std::vector<BindDecision> binds;
  // Placements that hold resources still being released; they bind once
  // the evicted pods have exited.
  std::vector<BindDecision> pipelined;
  std::vector<EvictionDecision> evictions;
  // MIG devices repartitioned for this cycle's binds, by node and device.
  std::vector<RepartitionDecision> repartitions;
  // Per workload; set for workloads still pending after the cycle.
  std::vector<std::string> reason;
  std::vector<int32_t> position;  // 1-based place in its queue; 0 if not pending
};

struct CycleOptions {
  // Search nodes by scanning them all instead of through the NodeIndex. The
  // decisions are identical; tests use it as the reference.
  bool linear_node_search = false;
  // Build every victim search afresh for each attempt instead of keeping
  // each kind of workload's answers and node costs for the whole action.
  // The decisions are identical; tests use it as the reference.
  bool fresh_victim_search = false;
  // Run consolidate, reclaim and preempt after allocate. Off, a cycle only
  // places (what `sluice sim philly` compares as "quotas without reclaim").
  bool take_back = true;
};

CycleResult RunCycle(const Snapshot& snapshot, const CycleOptions& options = {});

// Applies a cycle's decisions. Repartitions change the nodes' MIG layouts.
// Evictions of moved (consolidated) workloads
// and binds always complete: pods join their workloads, which run from
// `now`. With `complete_evictions`, every evicted workload has exited (it is
// pending again) and pipelined workloads are bound; without it, evicted
// workloads are marked releasing and pipelined ones stay pending.
void ApplyDecisions(const CycleResult& result, Snapshot* snapshot, bool complete_evictions = true);

struct PlanOptions {
  bool settle = false;
  int32_t max_cycles = 1;  // with settle, the cap on cycles (default 100 in the CLI)
};

struct PlanResult {
  Snapshot final_state;
  // The last cycle's result. Its pending reasons were written when each
  // workload was tried in that cycle; after a settled run (no binds in the
  // last cycle) they describe final_state exactly.
  CycleResult last;
  int32_t cycles = 0;
  std::vector<WorkloadId> evicted;                // every eviction, in order
  std::vector<EvictionDecision> evictions;        // with action and beneficiary
  std::vector<RepartitionDecision> repartitions;  // every repartition, in order
};

// Runs cycles on `snapshot`, applying each cycle's decisions to the next.
// Without settle it runs exactly max_cycles, and the last cycle's evictions
// are left in progress (victims releasing, pipelined workloads waiting);
// with settle every eviction completes at once, and it stops after the
// first cycle that changes nothing (that cycle counts), or at max_cycles.
PlanResult Plan(Snapshot snapshot, const PlanOptions& options);

}  // namespace sluice

#endif  // SLUICE_SCHED_SCHEDULER_H_
