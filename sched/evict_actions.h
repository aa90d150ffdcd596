// The actions that take resources back, run after allocate in this order:
//   ConsolidateAction: moves preemptible workloads so that a pending one
//     fits, only when every moved workload gets a new place, at most
//     kMaxConsolidationMoves moved workloads per cycle;
//   ReclaimAction: a queue owed resources takes them from queues above
//     their fair share (or above quota, when the reclaimer asks within its
//     own quota), under the validity rules of SCHEDULING.md;
//   PreemptAction: inside one queue, a higher priority class evicts
//     preemptible workloads of strictly lower classes;
//   StaleGangAction: a running gang below minAvailable for longer than the
//     grace period is evicted whole.
// Victims are never non-preemptible, never already releasing, and never
// younger than their queue's min-runtime (reclaim and preempt). Each
// action works on ctx.failed (what allocate could not place) in allocate's
// order, and records evictions, binds and pipelined placements in
// ctx.result. Internal to sched.
#ifndef SLUICE_SCHED_EVICT_ACTIONS_H_
#define SLUICE_SCHED_EVICT_ACTIONS_H_

#include <cstdint>
#include <vector>

#include "sched/cycle_context.h"
#include "sched/victims.h"

namespace sluice {

inline constexpr int32_t kMaxConsolidationMoves = 8;

class ConsolidateAction {
 public:
  static void Run(CycleContext& ctx, const VictimPool& pool);
};

class ReclaimAction {
 public:
  static void Run(CycleContext& ctx, const VictimPool& pool);
};

class PreemptAction {
 public:
  static void Run(CycleContext& ctx, const VictimPool& pool);
};

class StaleGangAction {
 public:
  static void Run(CycleContext& ctx);
};

}  // namespace sluice

#endif  // SLUICE_SCHED_EVICT_ACTIONS_H_
