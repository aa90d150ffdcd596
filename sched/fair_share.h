// FairShareCalculator: how much of each resource every queue deserves now.
//
// Implements the fair share of SCHEDULING.md: per resource, top-down over the
// queue tree, a deserved phase (quota, capped by what the queue can use),
// then an over-quota phase per priority tier, highest first, that water-fills
// what is left by over-quota weight. Whole units (1 GPU, 1 CPU core, 1 GiB)
// are handed out first and the fractional remainder last, one unit at a
// time to the largest remainders (ties: older queue, i.e. listed earlier,
// then name). All arithmetic is exact integer arithmetic.
//
// Where quotas oversubscribe the capacity, the deserved phase serves higher
// priority tiers first and splits a tier that does not fit in proportion to
// what its queues deserve (SCHEDULING.md only says "stop when C is used up";
// a proportional split does not depend on the order queues are listed in).
//
// Pure and thread-compatible: Compute() reads only its arguments.
#ifndef SLUICE_SCHED_FAIR_SHARE_H_
#define SLUICE_SCHED_FAIR_SHARE_H_

#include <vector>

#include "core/model.h"
#include "core/resources.h"

namespace sluice {

class FairShareCalculator {
 public:
  // `request[q]` is what leaf queue q holds plus what it waits for (entries
  // of non-leaf queues are ignored and recomputed as sums). `capacity` is the
  // cluster's schedulable total. Returns the fair share of every queue.
  static std::vector<Resources> Compute(const std::vector<Queue>& queues,
                                        const std::vector<Resources>& request,
                                        const Resources& capacity);

  // The unit handed out whole before remainders: 1 GPU, 1 core, 1 GiB.
  static int64_t Unit(Resource r);
};

}  // namespace sluice

#endif  // SLUICE_SCHED_FAIR_SHARE_H_
