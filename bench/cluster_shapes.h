// Synthetic clusters of the shapes in BENCHMARKS.md section 3, built in
// memory so that benchmarks measure scheduling, not parsing.
#ifndef SLUICE_BENCH_CLUSTER_SHAPES_H_
#define SLUICE_BENCH_CLUSTER_SHAPES_H_

#include <cstdint>

#include "core/model.h"

namespace sluice::bench {

// KAI-Scheduler's "Allocate" shape: `nodes` nodes x 8 GPUs, 5 x nodes
// one-GPU pending jobs spread over 4 projects (2 departments x 2 projects),
// each project with a quarter of the GPUs as quota and over-quota weight 1.
Snapshot KaiAllocateShape(int32_t nodes);

// KAI-Scheduler's "reclaim of a very large job": `nodes` nodes x 8 GPUs all
// held by 8 x nodes running one-GPU preemptible jobs of queue A (quota 0,
// over-quota weight 0); queue B (quota = all GPUs) submits one gang of
// nodes / 10 pods, each needing a whole node (8 GPUs).
Snapshot KaiReclaimLargeShape(int32_t nodes);

// The scale shape: `nodes` nodes x 8 GPUs (10,000 in BENCHMARKS.md), 5
// departments of 10 projects each, and 20 workloads per node, half running
// and half pending: fractions (0.25, 0.5, 20Gi of GPU memory), one- and
// two-GPU jobs, and gangs of 2 to 16 pods. The running half fills about 95%
// of the GPUs, spread so that some projects sit above their fair share.
Snapshot MixedShape(int32_t nodes);

}  // namespace sluice::bench

#endif  // SLUICE_BENCH_CLUSTER_SHAPES_H_
