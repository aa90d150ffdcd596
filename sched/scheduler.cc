#include "sched/scheduler.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/int128.h"
#include "sched/allocate.h"
#include "sched/cluster_state.h"
#include "sched/cycle_context.h"
#include "sched/evict_actions.h"
#include "sched/fair_share.h"
#include "sched/node_index.h"
#include "sched/pending_reason.h"
#include "sched/placement.h"
#include "sched/victims.h"

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
// least it can cost). The largest device is looked up once per distinct
// set of constraints (models, selector, topology label), not once per
// workload.
class PodEstimator {
 public:
  explicit PodEstimator(const Snapshot& s) : s_(s) {}

  Resources Estimate(const Workload& w) {
    int64_t device_memory = 0;
    if (w.request.gpu_memory_mib > 0) {
      auto [it, added] = largest_.try_emplace({w.gpu_models, w.node_selector, w.topology}, 0);
      if (added) {
        for (const Node& n : s_.nodes) {
          if (n.gpus > 0 && NodeFilter::MatchesConstraints(w, n)) {
            it->second = std::max(it->second, n.gpu_memory_mib);
          }
        }
      }
      device_memory = it->second;
    }
    Resources r = PodResourcesOn(w.request, device_memory);
    if (w.request.gpu_devices > 0 && r[Resource::kGpu] == 0) {
      // No device can take it; count whole devices so the demand is not hidden.
      r[Resource::kGpu] = int64_t{w.request.gpu_devices} * 1000;
    }
    return r;
  }

 private:
  const Snapshot& s_;
  std::map<std::tuple<std::vector<std::string>, Labels, std::string>, int64_t> largest_;
};

// Time-based fair share: each queue's over-quota GPU weight becomes
// w' = max(0, w/W + k (w/W - u/U)) among its siblings (W, U: the siblings'
// total weight and usage). Scaled by 10^6 to stay an integer weight.
std::vector<Queue> TimeAdjustedQueues(const Snapshot& s) {
  std::vector<Queue> queues = s.queues;
  if (!s.time_based_fair_share.enabled) return queues;
  const int64_t k = s.time_based_fair_share.k_milli;
  std::vector<std::vector<size_t>> groups;  // siblings, top level first
  std::vector<size_t> top;
  for (size_t q = 0; q < s.queues.size(); ++q) {
    if (!s.queues[q].parent.valid()) top.push_back(q);
  }
  groups.push_back(top);
  for (const Queue& q : s.queues) {
    if (q.children.empty()) continue;
    std::vector<size_t> g;
    for (QueueId c : q.children) g.push_back(c.index());
    groups.push_back(g);
  }
  constexpr size_t kGpu = static_cast<size_t>(Resource::kGpu);
  for (const std::vector<size_t>& g : groups) {
    Int128 total_weight = 0, total_usage = 0;
    for (size_t q : g) {
      total_weight += s.queues[q].resources[kGpu].weight_milli;
      total_usage += s.queues[q].usage_milli_gpu_hours;
    }
    if (total_weight == 0 || total_usage == 0) continue;
    for (size_t q : g) {
      const Int128 w = s.queues[q].resources[kGpu].weight_milli;
      const Int128 u = s.queues[q].usage_milli_gpu_hours;
      // 10^6 * (w/W + k/1000 * (w/W - u/U)) over the common denominator.
      const Int128 num = (1000 + k) * w * total_usage - k * u * total_weight;
      const Int128 value = num * 1000 / (total_weight * total_usage);
      queues[q].resources[kGpu].weight_milli = value > 0 ? static_cast<int64_t>(value) : 0;
    }
  }
  return queues;
}

std::string GpuText(int64_t milli) { return FormatAmount(Resource::kGpu, milli); }

// " by reclaim from b", " by preempting t-3, t-2", " by moving f1": what
// the evictions made for a workload in this cycle are, in words ("" when
// none); `evictions` are those made for it, in the cycle's order.
std::string WhoReleases(const Snapshot& s, const std::vector<const EvictionDecision*>& evictions) {
  std::vector<std::string> from_queues, preempted, moved;
  auto add = [](std::vector<std::string>* list, const std::string& name) {
    if (std::find(list->begin(), list->end(), name) == list->end()) list->push_back(name);
  };
  for (const EvictionDecision* e : evictions) {
    const Workload& v = s.workload(e->workload);
    switch (e->action) {
      case EvictionAction::kReclaim:
        add(&from_queues, s.queue(v.queue).name);
        break;
      case EvictionAction::kPreempt:
        add(&preempted, v.name);
        break;
      case EvictionAction::kConsolidate:
        add(&moved, v.name);
        break;
      case EvictionAction::kStaleGang:
        break;
    }
  }
  auto join = [](const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
  };
  std::vector<std::string> parts;
  if (!from_queues.empty()) parts.push_back("reclaim from " + join(from_queues));
  if (!preempted.empty()) parts.push_back("preempting " + join(preempted));
  if (!moved.empty()) parts.push_back("moving " + join(moved));
  return parts.empty() ? "" : " by " + join(parts);
}

// What the cycle did to each MIG device's layout (only binds create
// instances, so this is what the binds need).
std::vector<RepartitionDecision> Repartitions(const Snapshot& s, const ClusterState& state) {
  std::vector<RepartitionDecision> out;
  for (size_t n = 0; n < s.nodes.size(); ++n) {
    const Node& node = s.nodes[n];
    if (!node.mig_dynamic) continue;
    const NodeId id(static_cast<int32_t>(n));
    for (const MigDeviceState& m : state.mig_devices(id)) {
      const MigDevice* before = node.FindMig(m.gpu);
      RepartitionDecision d{id, m.gpu, {}, {}, {}};
      for (const MigInstanceState& i : m.instances) d.layout.push_back(i.placement);
      for (const MigPlacement& old : before->instances) {
        if (std::find(d.layout.begin(), d.layout.end(), old) == d.layout.end()) {
          d.destroy.push_back(old);
        }
      }
      for (const MigPlacement& now : d.layout) {
        if (std::find(before->instances.begin(), before->instances.end(), now) ==
            before->instances.end()) {
          d.create.push_back(now);
        }
      }
      if (!d.create.empty() || !d.destroy.empty()) out.push_back(std::move(d));
    }
  }
  return out;
}

}  // namespace

std::string_view EvictionActionName(EvictionAction a) {
  switch (a) {
    case EvictionAction::kReclaim:
      return "reclaim";
    case EvictionAction::kPreempt:
      return "preempt";
    case EvictionAction::kConsolidate:
      return "consolidate";
    case EvictionAction::kStaleGang:
      return "stale-gang";
  }
  return "?";
}

CycleResult RunCycle(const Snapshot& snapshot, const CycleOptions& options) {
  CycleResult result;
  const size_t nw = snapshot.workloads.size();
  ClusterState state(snapshot);

  // Demand: what each workload still waits for; a leaf's request is what it
  // holds plus what its workloads wait for. A releasing workload will want
  // all its pods again once it has exited.
  std::vector<Resources> demand(nw);
  std::vector<Resources> request(snapshot.queues.size());
  PodEstimator estimator(snapshot);
  for (size_t q = 0; q < snapshot.queues.size(); ++q) {
    request[q] = state.allocated(QueueId(static_cast<int32_t>(q)));
  }
  for (size_t i = 0; i < nw; ++i) {
    const Workload& w = snapshot.workloads[i];
    const int32_t held = w.releasing ? 0 : static_cast<int32_t>(w.placement.size());
    const int32_t missing = w.pods - held;
    if (missing <= 0) continue;
    demand[i] = estimator.Estimate(w) * missing;
    request[w.queue.index()] += demand[i];
  }
  result.fair_share =
      FairShareCalculator::Compute(TimeAdjustedQueues(snapshot), request, Capacity(snapshot));
  result.reason.assign(nw, "");

  std::optional<NodeIndex> index;
  if (!options.linear_node_search) index.emplace(snapshot, &state);
  const RequestMix mix = RequestMix::FromSnapshot(snapshot);
  CycleContext ctx{snapshot,
                   state,
                   index ? &*index : nullptr,
                   &mix,
                   result.fair_share,
                   demand,
                   result,
                   std::vector<uint8_t>(nw, 0),
                   {},
                   std::vector<int64_t>(nw, 0),
                   options.fresh_victim_search};
  FragmentationMemo fragmentation(mix);
  ctx.fragmentation = &fragmentation;
  // Allocate's candidates and the positions of what stays pending are
  // both read off one sort of every workload that may wait.
  ctx.waiting.resize(snapshot.queues.size());
  for (size_t i = 0; i < nw; ++i) {
    const Workload& w = snapshot.workloads[i];
    if (!w.running || static_cast<int32_t>(w.placement.size()) < w.pods) {
      ctx.waiting[w.queue.index()].emplace_back(static_cast<int32_t>(i));
    }
  }
  for (std::vector<WorkloadId>& ids : ctx.waiting) SortWithinQueue(snapshot, &ids);
  AllocateAction::Run(ctx);
  if (!ctx.failed.empty() && options.take_back) {
    const VictimPool pool(snapshot, state);
    ConsolidateAction::Run(ctx, pool);
    ReclaimAction::Run(ctx, pool);
    PreemptAction::Run(ctx, pool);
  }
  StaleGangAction::Run(ctx);
  if (state.has_mig()) result.repartitions = Repartitions(snapshot, state);

  // Reasons and positions of the workloads still pending.
  std::vector<bool> bound(nw, false);
  for (const BindDecision& b : result.binds) bound[b.workload.index()] = true;
  std::map<int32_t, std::vector<const EvictionDecision*>> made_for;
  for (const EvictionDecision& e : result.evictions) {
    if (e.for_workload.valid()) made_for[e.for_workload.value()].push_back(&e);
  }
  for (const BindDecision& p : result.pipelined) {
    const size_t i = p.workload.index();
    const std::string what =
        ctx.waiting_gpu[i] > 0 ? GpuText(ctx.waiting_gpu[i]) : std::string("CPU and memory");
    result.reason[i] = "waiting for " + what + " being released" +
                       WhoReleases(snapshot, made_for[p.workload.value()]);
  }
  for (size_t i = 0; i < nw; ++i) {
    if (snapshot.workloads[i].running || bound[i]) result.reason[i].clear();
  }
  result.position.assign(nw, 0);
  std::vector<WorkloadId> ids;
  for (const std::vector<WorkloadId>& waiting : ctx.waiting) {
    ids.clear();
    for (WorkloadId id : waiting) {
      if (!snapshot.workload(id).running && !bound[id.index()]) ids.push_back(id);
    }
    for (size_t k = 0; k < ids.size(); ++k) {
      result.position[ids[k].index()] = static_cast<int32_t>(k + 1);
      if (result.reason[ids[k].index()].empty()) {
        // Releasing workloads are not tried until they have exited.
        result.reason[ids[k].index()] = "waiting for its evicted pods to exit";
      }
    }
  }
  return result;
}

void ApplyDecisions(const CycleResult& result, Snapshot* snapshot, bool complete_evictions) {
  auto start = [&](Workload& w, const std::vector<PodPlacement>& pods) {
    w.placement.insert(w.placement.end(), pods.begin(), pods.end());
    if (!w.running) {
      w.running = true;
      w.started = snapshot->now;
    }
    if (static_cast<int32_t>(w.placement.size()) >= w.min_available) w.stale_since.reset();
  };
  auto stop = [](Workload& w) {
    w.placement.clear();
    w.running = false;
    w.releasing = false;
    w.stale_since.reset();
  };
  for (const RepartitionDecision& r : result.repartitions) {
    for (MigDevice& d : snapshot->nodes[r.node.index()].mig) {
      if (d.gpu == r.gpu) d.instances = r.layout;
    }
  }
  if (complete_evictions) {
    for (Workload& w : snapshot->workloads) {
      if (w.releasing) stop(w);  // evicted in earlier cycles, exited by now
    }
  }
  for (const EvictionDecision& e : result.evictions) {
    Workload& w = snapshot->workloads[e.workload.index()];
    if (complete_evictions || e.action == EvictionAction::kConsolidate) {
      stop(w);
    } else {
      w.releasing = true;
    }
  }
  for (const BindDecision& b : result.binds) start(snapshot->workloads[b.workload.index()], b.pods);
  if (complete_evictions) {
    for (const BindDecision& p : result.pipelined) {
      start(snapshot->workloads[p.workload.index()], p.pods);
    }
  }
  // A running gang that fell below its minimum starts its stale clock.
  for (Workload& w : snapshot->workloads) {
    if (w.running && !w.releasing && !w.stale_since &&
        static_cast<int32_t>(w.placement.size()) < w.min_available) {
      w.stale_since = snapshot->now;
    }
  }
}

PlanResult Plan(Snapshot snapshot, const PlanOptions& options) {
  PlanResult out;
  const int32_t max_cycles = std::max(1, options.max_cycles);
  for (int32_t c = 0; c < max_cycles; ++c) {
    out.last = RunCycle(snapshot);
    ++out.cycles;
    const bool changed = !out.last.binds.empty() || !out.last.pipelined.empty() ||
                         !out.last.evictions.empty() || !out.last.repartitions.empty();
    for (const EvictionDecision& e : out.last.evictions) {
      out.evicted.push_back(e.workload);
      out.evictions.push_back(e);
    }
    out.repartitions.insert(out.repartitions.end(), out.last.repartitions.begin(),
                            out.last.repartitions.end());
    const bool last = c + 1 == max_cycles || (options.settle && !changed);
    ApplyDecisions(out.last, &snapshot, options.settle || !last);
    if (options.settle && !changed) break;
  }
  out.final_state = std::move(snapshot);
  return out;
}

}  // namespace sluice
