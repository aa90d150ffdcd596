// Gang placement: the missing pods of one workload, placed tentatively
// through the ClusterState's undo log, all-or-nothing at minAvailable.
// Shared by the actions of a cycle. Internal to sched.
#ifndef SLUICE_SCHED_GANG_H_
#define SLUICE_SCHED_GANG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sched/cycle_context.h"
#include "sched/placement.h"
#include "sched/victims.h"

namespace sluice {

// The domains a workload may be placed in, best first: binpack the fullest
// domain first, spread the emptiest; pods already running fix the domain.
// The topology domains of an indexed cycle are worked out once per set of
// matching classes and kept in the context (`best_first` points there);
// others are in `owned`.
struct DomainOrder {
  std::vector<Domain> owned;
  std::vector<const Domain*> best_first;
};
DomainOrder GangDomains(CycleContext& ctx, WorkloadId id);

// Every node of a domain, in node order.
std::vector<NodeId> DomainNodes(const CycleContext& ctx, const Domain& d);

// The best node of `domain` for one pod of `w`, counting releasing resources
// as free: the best ordinary placement when there is one (through the index
// when the cycle has one), else the best among its nodes that are releasing.
std::optional<PodPlacement> FindBestPipelined(const CycleContext& ctx, const Workload& w,
                                              const Domain& domain, const PodPlacer& placer);

struct GangOutcome {
  bool placed = false;              // at least minAvailable pods stand (state updated)
  bool pipelined = false;           // some pod waits for releasing resources
  int32_t max_placed = 0;           // the most pods that fit at once (on failure)
  std::string rule_violation;       // the first queue rule that stopped it
  std::vector<PodPlacement> pods;   // the new pods (when placed)
  int64_t waiting_gpu = 0;          // GPU milli its pods wait for
  std::vector<WorkloadId> victims;  // evicted for it (when placed)
  std::string why_not;              // the first victim refused, and why
};

// How far a gang placement may go for each pod: free resources only; also
// resources being released (pipelining); also evicting the victims a
// policy allows (which implies pipelining).
struct GangMode {
  bool pipelining = false;
  const VictimPolicy* victims = nullptr;
  // The action's victim searches (required with `victims`).
  VictimSearches* searches = nullptr;
};

// Tries each domain in turn. On failure, the state is back where it was.
GangOutcome PlaceGang(CycleContext& ctx, WorkloadId id, const GangMode& mode);

}  // namespace sluice

#endif  // SLUICE_SCHED_GANG_H_
