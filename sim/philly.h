// The multi-tenant replay of BENCHMARKS.md section 2: jobs of Microsoft's
// Philly trace, per virtual cluster (tenant), replayed in simulated time on
// a cluster of whole-GPU nodes, with the scheduler core deciding every
// cycle. Each tenant's quota is its share of the trace's GPU-hours (the
// quotas sum to the cluster), over-quota weight 1; every job is preemptible
// training that checkpoints every 30 minutes of run time, so a preempted
// job loses what it ran since its last checkpoint and waits again.
// Policies: `fifo` (one queue, no quotas), `quota` (the quota tree, but
// cycles only place: no reclaim, preempt or consolidate), `sluice` (the
// full cycle). A cycle runs whenever a job arrives or ends.
// Deterministic; the replay only reads its inputs. Thread-compatible.
#ifndef SLUICE_SIM_PHILLY_H_
#define SLUICE_SIM_PHILLY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::sim {

struct PhillyJob {
  std::string id;
  std::string tenant;
  int64_t submit_s = 0;
  int32_t gpus = 0;
  int64_t duration_s = 0;  // run time on the trace's GPUs, without interruptions
};

Result<std::vector<PhillyJob>> ReadPhillyJobs(const std::string& path);
Result<std::vector<PhillyJob>> ParsePhillyJobs(std::string_view text);

struct PhillyOptions {
  int32_t nodes = 48;
  int32_t gpus_per_node = 8;
  int64_t checkpoint_s = 1800;
  // sluice's reclaimMinRuntime for every tenant: a job younger than this is
  // not a victim of reclaim.
  int64_t reclaim_min_runtime_s = 0;
};

struct TenantStats {
  std::string name;
  int64_t quota_milli = 0;  // GPU quota
  int64_t jobs = 0;
  double wait_mean_h = 0, wait_p95_h = 0;  // submit to first start
  double shortfall_gpu_h = 0;
};

struct PhillyRun {
  std::string policy;
  double utilization = 0;  // GPUs held / GPUs, percent, from the first arrival to the last
  double jct_mean_h = 0, jct_p95_h = 0;
  double wait_mean_h = 0, wait_p95_h = 0;
  int64_t preemptions = 0;
  // GPU-hours during which a tenant that wanted at least its quota held
  // less than it, summed over tenants.
  double shortfall_gpu_h = 0;
  int64_t cycles = 0;
  int64_t completed = 0;
  double makespan_h = 0;
  std::vector<TenantStats> tenants;
};

// The quota of each tenant, in milli-GPU, in order of first appearance:
// proportional to its GPU-hours, largest remainders first, summing to
// `cluster_gpus` x 1000 exactly.
std::vector<std::pair<std::string, int64_t>> PhillyQuotas(const std::vector<PhillyJob>& jobs,
                                                          int32_t cluster_gpus);

// `policy` is fifo, quota or sluice.
Result<PhillyRun> ReplayPhilly(const std::vector<PhillyJob>& jobs, const std::string& policy,
                               const PhillyOptions& options);

const std::vector<std::string>& PhillyPolicyNames();

}  // namespace sluice::sim

#endif  // SLUICE_SIM_PHILLY_H_
