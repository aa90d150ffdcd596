// Random snapshots for property tests: small clusters with a random queue
// tree and a random mix of workloads, built from a seed so that a failing
// case can be replayed. The running part of each snapshot is produced by the
// scheduler itself, so it is always valid input.
#ifndef SLUICE_SCHED_TESTING_RANDOM_CLUSTER_H_
#define SLUICE_SCHED_TESTING_RANDOM_CLUSTER_H_

#include <cstdint>

#include "core/model.h"

namespace sluice::testing {

struct RandomClusterSize {
  int max_nodes = 6;
  int max_workloads = 14;  // in each of the two waves
};

// A snapshot with nodes, queues and pending workloads only.
Snapshot RandomPendingSnapshot(uint64_t seed, const RandomClusterSize& size = {});

// RandomPendingSnapshot, run for one cycle, with its binds applied, then
// more pending workloads added: a cluster that is partly running.
Snapshot RandomSnapshot(uint64_t seed, const RandomClusterSize& size = {});

}  // namespace sluice::testing

#endif  // SLUICE_SCHED_TESTING_RANDOM_CLUSTER_H_
