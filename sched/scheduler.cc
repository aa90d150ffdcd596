#include "sched/scheduler.h"

#include <algorithm>
#include <optional>

#include "common/check.h"
#include "sched/allocate.h"
#include "sched/cluster_state.h"
#include "sched/fair_share.h"
#include "sched/node_index.h"
#include "sched/placement.h"

namespace sluice {
namespace {

int64_t SaturatingAdd(int64_t a, int64_t b) { return std::min(kUnlimited, a + b); }

Resources Capacity(const Snapshot& s) {
  Resources c;
  for (const Node& n : s.nodes) {
    c[Resource::kGpu] += int64_t{n.gpus} * 1000;
    c[Resource::kCpu] = SaturatingAdd(c[Resource::kCpu], n.cpu_milli);
    c[Resource::kMemory] = SaturatingAdd(c[Resource::kMemory], n.memory_mib);
  }
  return c;
}

// What one more pod of `w` would hold, before it is placed. A request by GPU
// memory is counted as the fraction of the largest matching device (the
// least it can cost).
Resources EstimatedPod(const Workload& w, const Snapshot& s) {
  int64_t device_memory = 0;
  if (w.request.gpu_memory_mib > 0) {
    for (const Node& n : s.nodes) {
      if (n.gpus > 0 && NodeFilter::MatchesConstraints(w, n)) {
        device_memory = std::max(device_memory, n.gpu_memory_mib);
      }
    }
  }
  Resources r = PodResourcesOn(w.request, device_memory);
  if (w.request.gpu_devices > 0 && r[Resource::kGpu] == 0) {
    // No device can take it; count whole devices so the demand is not hidden.
    r[Resource::kGpu] = int64_t{w.request.gpu_devices} * 1000;
  }
  return r;
}

}  // namespace

CycleResult RunCycle(const Snapshot& snapshot, const CycleOptions& options) {
  CycleResult result;
  const size_t nw = snapshot.workloads.size();
  ClusterState state(snapshot);

  // Demand: what each workload still waits for; a leaf's request is what it
  // holds plus what its workloads wait for.
  std::vector<Resources> demand(nw);
  std::vector<Resources> request(snapshot.queues.size());
  for (size_t q = 0; q < snapshot.queues.size(); ++q) {
    request[q] = state.allocated(QueueId(static_cast<int32_t>(q)));
  }
  for (size_t i = 0; i < nw; ++i) {
    const Workload& w = snapshot.workloads[i];
    const int32_t missing = w.pods - static_cast<int32_t>(w.placement.size());
    if (missing <= 0) continue;
    demand[i] = EstimatedPod(w, snapshot) * missing;
    request[w.queue.index()] += demand[i];
  }
  result.fair_share = FairShareCalculator::Compute(snapshot.queues, request, Capacity(snapshot));

  result.reason.assign(nw, "");
  std::optional<NodeIndex> index;
  if (!options.linear_node_search) index.emplace(snapshot, &state);
  AllocateAction allocate(snapshot, &state, index ? &*index : nullptr, result.fair_share, demand);
  allocate.Run(&result.binds, &result.reason);

  // Positions: the still-pending workloads of each queue, in queue order.
  std::vector<bool> bound(nw, false);
  for (const BindDecision& b : result.binds) bound[b.workload.index()] = true;
  std::vector<std::vector<WorkloadId>> pending(snapshot.queues.size());
  for (size_t i = 0; i < nw; ++i) {
    const Workload& w = snapshot.workloads[i];
    if (w.running || bound[i]) {
      result.reason[i].clear();
      continue;
    }
    pending[w.queue.index()].emplace_back(static_cast<int32_t>(i));
  }
  result.position.assign(nw, 0);
  for (std::vector<WorkloadId>& ids : pending) {
    std::sort(ids.begin(), ids.end(), [&](WorkloadId a, WorkloadId b) {
      return WithinQueueBefore(snapshot.workload(a), snapshot.workload(b));
    });
    for (size_t k = 0; k < ids.size(); ++k) {
      result.position[ids[k].index()] = static_cast<int32_t>(k + 1);
      SLUICE_CHECK(!result.reason[ids[k].index()].empty());
    }
  }
  return result;
}

void ApplyDecisions(const CycleResult& result, Snapshot* snapshot) {
  for (const BindDecision& b : result.binds) {
    Workload& w = snapshot->workloads[b.workload.index()];
    w.placement.insert(w.placement.end(), b.pods.begin(), b.pods.end());
    if (!w.running) {
      w.running = true;
      w.started = snapshot->now;
    }
  }
}

PlanResult Plan(Snapshot snapshot, const PlanOptions& options) {
  PlanResult out;
  const int32_t max_cycles = std::max(1, options.max_cycles);
  for (int32_t c = 0; c < max_cycles; ++c) {
    out.last = RunCycle(snapshot);
    ++out.cycles;
    const bool changed = !out.last.binds.empty();
    ApplyDecisions(out.last, &snapshot);
    if (options.settle && !changed) break;
  }
  out.final_state = std::move(snapshot);
  return out;
}

}  // namespace sluice
