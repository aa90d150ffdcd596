#include "sched/allocate.h"

#include <algorithm>
#include <cstddef>
#include <string>

#include "sched/gang.h"
#include "sched/pending_reason.h"
#include "sched/placement.h"
#include "sched/queue_order.h"
#include "sched/twins.h"

namespace sluice {

void SortWithinQueue(const Snapshot& s, std::vector<WorkloadId>* ids) {
  struct Key {
    int32_t priority;  // negated: higher classes first
    WorkloadId id;
    int64_t since;
    const std::string* name;
  };
  std::vector<Key> keys;
  keys.reserve(ids->size());
  for (WorkloadId id : *ids) {
    const Workload& w = s.workload(id);
    keys.push_back({-PriorityValue(w.priority_class), id, w.queued_since().ms, &w.name});
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    if (a.since != b.since) return a.since < b.since;
    if (const int c = a.name->compare(*b.name); c != 0) return c < 0;
    return a.id < b.id;  // equal names: snapshot order, so that the order is total
  });
  for (size_t i = 0; i < keys.size(); ++i) (*ids)[i] = keys[i].id;
}

std::string ExplainUnplaced(CycleContext& ctx, WorkloadId id, int32_t max_placed,
                            const std::string& rule_violation, bool* busy_resources) {
  *busy_resources = false;
  const Workload& w = ctx.snapshot.workload(id);
  const int32_t running = static_cast<int32_t>(ctx.state.placements(id).size());
  const int32_t needed = std::max(0, w.min_available - running);
  // Explaining a failure may scan the cluster; it happens once per pending
  // workload and cycle, never in the placement loops.
  const PodRequest& r = w.request;
  auto [known, added] = ctx.eligible.try_emplace(CycleContext::EligibleKey{
      w.gpu_models, w.node_selector, w.topology, r.mig_profile, r.gpu_devices, r.gpu_milli,
      r.gpu_memory_mib, r.cpu_milli, r.memory_mib});
  if (added) known->second = NodeFilter::Eligible(w, ctx.snapshot);
  const std::vector<NodeId>& eligible = known->second;
  if (eligible.empty()) {
    return NeverFitsReason(w, ctx.snapshot).value_or("no node can hold it");
  }
  if (!rule_violation.empty()) return rule_violation;
  *busy_resources = true;
  return PlacementReason(w, eligible, ctx.state, needed, max_placed);
}

namespace {

// Characters reserved in a reason for what reclaim and preempt append.
constexpr size_t kRoomForActions = 160;

}  // namespace

void AllocateAction::Run(CycleContext& ctx) {
  const Snapshot& s = ctx.snapshot;
  // Each queue's candidates in within-queue order.
  std::vector<std::vector<WorkloadId>> candidates(s.queues.size());
  for (size_t q = 0; q < ctx.waiting.size(); ++q) {
    for (WorkloadId id : ctx.waiting[q]) {
      if (ctx.state.is_releasing(id)) continue;  // it must exit before it runs again
      if (static_cast<int32_t>(ctx.state.placements(id).size()) < s.workload(id).pods) {
        candidates[q].push_back(id);
      }
    }
  }
  QueueOrder order(s, ctx.state, ctx.fair_share, std::move(candidates), ctx.demand);
  // A twin of a workload that failed since the last placement fails alike:
  // it takes that one's reason without a search.
  struct Unplaced {
    std::string reason;
    bool busy = false;
  };
  FailedTwins<Unplaced> twins;
  for (WorkloadId id = order.Next(); id.valid(); id = order.Next()) {
    const Workload& w = s.workload(id);
    const int32_t running = static_cast<int32_t>(ctx.state.placements(id).size());
    const bool must_place = w.min_available > running;  // pending, or a gang below its minimum
    if (const Unplaced* u = must_place ? twins.Find(ctx, id) : nullptr) {
      std::string& reason = ctx.result.reason[id.index()];
      // The actions that evict append why they could not help: room for
      // that now saves a reallocation each.
      if (u->busy) reason.reserve(u->reason.size() + kRoomForActions);
      reason = u->reason;
      if (u->busy) ctx.failed.push_back(id);
      order.Pop(id);
      continue;
    }
    GangOutcome g = PlaceGang(ctx, id, GangMode{});
    if (!g.placed && must_place && ctx.state.any_releasing()) {
      GangOutcome p = PlaceGang(ctx, id, GangMode{.pipelining = true});
      if (p.placed) {
        g = std::move(p);
      } else {
        g.max_placed = std::max(g.max_placed, p.max_placed);
      }
    }
    if (g.placed) {
      twins.Succeeded();
      ctx.decided[id.index()] = 1;
      if (g.pipelined) {
        ctx.waiting_gpu[id.index()] = g.waiting_gpu;
        ctx.result.pipelined.push_back({id, std::move(g.pods)});
      } else {
        ctx.result.binds.push_back({id, std::move(g.pods)});
      }
    } else if (must_place) {
      bool busy = false;
      std::string& reason = ctx.result.reason[id.index()];
      reason = ExplainUnplaced(ctx, id, g.max_placed, g.rule_violation, &busy);
      if (busy) {
        reason.reserve(reason.size() + kRoomForActions);
        ctx.failed.push_back(id);
      }
      twins.Failed(ctx, id, Unplaced{ctx.result.reason[id.index()], busy});
    }
    order.Pop(id);
  }
}

}  // namespace sluice
