#include "sched/evict_actions.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/int128.h"
#include "common/quantity.h"
#include "sched/gang.h"
#include "sched/pending_reason.h"
#include "sched/twins.h"
#include "sched/victims.h"

namespace sluice {
namespace {

// The children of the lowest common ancestor on the paths to `a` and `b`
// (the level where their ancestry diverges); invalid when one queue is an
// ancestor of the other.
std::pair<QueueId, QueueId> DivergingSiblings(const Snapshot& s, QueueId a, QueueId b) {
  QueueId x = a, y = b;
  while (s.queue(x).depth > s.queue(y).depth) x = s.queue(x).parent;
  while (s.queue(y).depth > s.queue(x).depth) y = s.queue(y).parent;
  if (x == y) return {QueueId::Invalid(), QueueId::Invalid()};
  while (s.queue(x).parent != s.queue(y).parent) {
    x = s.queue(x).parent;
    y = s.queue(y).parent;
  }
  return {x, y};
}

// a/b < c/d for non-negative values; a zero denominator is infinity (0/0 is 0).
bool RatioLess(int64_t a, int64_t b, int64_t c, int64_t d) {
  const bool inf_ab = b == 0 && a > 0, inf_cd = d == 0 && c > 0;
  if (inf_ab || inf_cd) return !inf_ab && inf_cd;
  // 0/0 holds exactly its share (nothing of nothing): saturation 1, not 0,
  // so a queue whose fair share is 0 can be reclaimed down to nothing.
  if (b == 0) return c > d;  // 1 < c/d
  if (d == 0) return a < b;  // a/b < 1
  return Int128{a} * d < Int128{c} * b;
}

// Reclaim is judged on GPUs for a GPU workload, and on CPU and memory for a
// CPU-only one. CPU and memory have no quota unless configured, so their
// fair share follows demand: judging a GPU reclaim on them too would
// refuse every victim that holds any CPU.
class ReclaimPolicy : public VictimPolicy {
 public:
  ReclaimPolicy(const CycleContext& ctx, WorkloadId r)
      : ctx_(ctx),
        s_(ctx.snapshot),
        r_(r),
        siblings_(ctx.snapshot.queues.size()),
        siblings_known_(ctx.snapshot.queues.size(), 0),
        limit_(ctx.snapshot.queues.size(), 0),
        limit_known_(ctx.snapshot.queues.size(), 0) {
    const QueueId leaf = s_.workload(r).queue;
    const Resources& demand = ctx.demand[r.index()];
    for (QueueId q = leaf; q.valid(); q = s_.queue(q).parent) {
      base_.emplace_back(q, ctx.state.allocated(q));
    }
    eligible_ = true;
    for (Resource res : kAllResources) {
      if (demand[res] == 0) continue;
      // A GPU workload is judged on GPUs alone; its CPU and memory ride along.
      if (demand[Resource::kGpu] > 0 && res != Resource::kGpu) continue;
      judged_.push_back(res);
      const int64_t after = ctx.state.allocated(leaf)[res] + demand[res];
      const int64_t quota = s_.queue(leaf).resource(res).quota;
      within_quota_[static_cast<size_t>(res)] = quota >= 0 && after <= quota;
      const int64_t fair = ctx.fair_share[leaf.index()][res];
      if (!within_quota_[static_cast<size_t>(res)] && after > fair && eligible_) {
        eligible_ = false;
        not_owed_ = "queue " + s_.queue(leaf).name + " would hold " + FormatAmount(res, after) +
                    ", above its fair share of " + FormatAmount(res, fair) +
                    (quota >= 0 ? " and its quota of " + FormatAmount(res, quota) : "");
      }
    }
    gpu_only_ = judged_.size() == 1 && judged_[0] == Resource::kGpu;
  }

  // DivergingSiblings of the reclaimer's queue and `victim`, once per
  // victim queue.
  const std::pair<QueueId, QueueId>& Siblings(QueueId victim) const {
    const size_t i = victim.index();
    if (siblings_known_[i] == 0) {
      siblings_[i] = DivergingSiblings(s_, s_.workload(r_).queue, victim);
      siblings_known_[i] = 1;
    }
    return siblings_[i];
  }

  const Resources& BaseAllocation(QueueId q) const {
    for (const auto& [id, held] : base_) {
      if (id == q) return held;
    }
    return ctx_.state.allocated(q);  // not on the reclaimer's path: unreachable
  }

  // Whether the reclaimer's queue is owed what it asks for, and if not, why.
  bool eligible() const { return eligible_ && !judged_.empty(); }
  const std::string& not_owed() const { return not_owed_; }

  bool MayYield(const VictimFacts& v) const override {
    if (!v.preemptible) return false;
    const QueueId reclaimer_queue = s_.workload(r_).queue;
    if (v.queue == reclaimer_queue.value()) return false;  // that is preemption
    // Whether the two queues diverge (neither is the other's ancestor).
    if (!Siblings(QueueId(v.queue)).first.valid()) return false;
    if (gpu_only_) return v.holds_gpu;
    bool useful = false;
    for (Resource res : judged_) useful = useful || v.held[res] > 0;
    return useful;
  }

  bool Allows(const VictimFacts& v, std::string* why_not) const override {
    return MayYield(v) && Judge(v, why_not);
  }
  bool AllowsYielding(const VictimFacts& v) const override {
    if (!gpu_only_) return Judge(v, nullptr);
    if (!v.past_reclaim_min) return false;
    const int64_t held = v.held[Resource::kGpu];
    return held == 0 || held <= GpuLimit(QueueId(v.queue));
  }
  void BeginAnswers() const override { limit_known_.assign(s_.queues.size(), 0); }
  bool YieldingGpuLimit(QueueId q, int64_t* limit) const override {
    if (!gpu_only_) return false;
    *limit = GpuLimit(q);
    return true;
  }

  int64_t Saturation(QueueId q) const {
    int64_t ratio = 0;
    for (Resource res : judged_) {
      const int64_t fair = ctx_.fair_share[q.index()][res];
      const int64_t held = ctx_.state.allocated(q)[res];
      const int64_t r = fair == 0 ? (held > 0 ? kUnlimited : 0)
                                  : static_cast<int64_t>(Int128{held} * 1'000'000 / fair);
      ratio = std::max(ratio, r);
    }
    return ratio;
  }

  VictimKey Key(WorkloadId v) const override {
    const Workload& wv = s_.workload(v);
    const QueueId vq = Siblings(wv.queue).second;
    // Queues most above their fair share first, at the diverging level and
    // then among the victim's projects (the largest ratio over the judged
    // resources, scaled to an integer); then the lowest priority class, the
    // smallest, the youngest.
    return {-Saturation(vq),
            -Saturation(wv.queue),
            PriorityValue(wv.priority_class),
            HeldAmount(ctx_.state, v, Resource::kGpu),
            -wv.started.ms,
            v.value()};
  }

 private:
  // For a GPU reclaimer: the most GPU a victim of leaf queue `victim` may
  // hold for Judge to allow it now (below 1: none). Judge's conditions on
  // GPU are each of the form "held <= some amount" (what a queue keeps, the
  // saturation ratio, which falls as held grows), so one amount per queue
  // answers for all of its classes. Worked out once per queue per round.
  int64_t GpuLimit(QueueId victim) const {
    const size_t i = victim.index();
    if (limit_known_[i] != 0) return limit_[i];
    limit_known_[i] = 1;
    constexpr Resource kGpu = Resource::kGpu;
    const int64_t demand = ctx_.demand[r_.index()][kGpu];
    const auto [a, vq] = Siblings(victim);
    bool within_quota = true;
    for (const auto& [q, base] : base_) {
      const int64_t after = base[kGpu] + demand;
      const int64_t quota = s_.queue(q).resource(kGpu).quota;
      const bool in_quota = quota >= 0 && after <= quota;
      within_quota = within_quota && in_quota;
      if (!in_quota && after > ctx_.fair_share[q.index()][kGpu]) return limit_[i] = 0;
      if (q == a) break;
    }
    int64_t limit = kUnlimited;
    for (QueueId q = victim;; q = s_.queue(q).parent) {
      const int64_t quota = s_.queue(q).resource(kGpu).quota;
      const int64_t fair = ctx_.fair_share[q.index()][kGpu];
      const int64_t threshold =
          within_quota && quota >= 0 ? quota : std::max(fair, std::max<int64_t>(quota, 0));
      limit = std::min(limit, ctx_.state.allocated(q)[kGpu] - threshold);
      if (q == vq) break;
    }
    const bool keep_quota_only = within_quota && s_.queue(vq).resource(kGpu).quota >= 0;
    if (!keep_quota_only && limit >= 1) {
      // The largest held in [1, limit] that leaves vq at least as saturated
      // as a (0 when none does).
      const int64_t v_held = ctx_.state.allocated(vq)[kGpu];
      const int64_t v_fair = ctx_.fair_share[vq.index()][kGpu];
      const int64_t a_after = BaseAllocation(a)[kGpu] + demand;
      const int64_t a_fair = ctx_.fair_share[a.index()][kGpu];
      auto keeps = [&](int64_t held) { return !RatioLess(v_held - held, v_fair, a_after, a_fair); };
      int64_t lo = 0, hi = limit;  // keeps(lo) is assumed, keeps(hi + 1) is not asked
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo + 1) / 2;
        if (keeps(mid)) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      limit = lo;
    }
    return limit_[i] = limit;
  }

  // Allows, for a victim MayYield accepted.
  bool Judge(const VictimFacts& v, std::string* why_not) const {
    const QueueId victim_leaf(v.queue);
    const auto [a, vq] = Siblings(victim_leaf);
    const Resources& held = v.held;
    if (!v.past_reclaim_min) {
      if (why_not != nullptr) {
        *why_not = "are younger than " + s_.queue(victim_leaf).name + "'s reclaim min-runtime (" +
                   FormatDuration(ReclaimMinRuntime(s_, victim_leaf)) + ")";
      }
      return false;
    }
    for (Resource res : judged_) {
      if (held[res] == 0) continue;
      // The reclaimer must be owed it on its whole path up to the diverging
      // level, not only in its project: a project within its quota inside
      // a department above its share takes nothing from other departments.
      bool within_quota = true;
      for (const auto& [q, base] : base_) {
        const int64_t after = base[res] + ctx_.demand[r_.index()][res];
        const int64_t quota = s_.queue(q).resource(res).quota;
        const int64_t fair = ctx_.fair_share[q.index()][res];
        const bool in_quota = quota >= 0 && after <= quota;
        within_quota = within_quota && in_quota;
        if (!in_quota && after > fair) {
          if (why_not != nullptr) {
            *why_not = "cannot be taken: queue " + s_.queue(q).name + " would hold " +
                       FormatAmount(res, after) + ", above its fair share of " +
                       FormatAmount(res, fair);
          }
          return false;
        }
        if (q == a) break;
      }
      // Every queue from the diverging level down to the victim's project
      // keeps its quota when the reclaimer asks within its own quota, and
      // otherwise its fair share and its quota: a quota is never taken by
      // a reclaimer that is above its own.
      for (QueueId q = victim_leaf;; q = s_.queue(q).parent) {
        const int64_t after = ctx_.state.allocated(q)[res] - held[res];
        const int64_t quota = s_.queue(q).resource(res).quota;
        const int64_t fair = ctx_.fair_share[q.index()][res];
        const bool quota_only = within_quota && quota >= 0;
        const int64_t threshold = quota_only ? quota : std::max(fair, std::max<int64_t>(quota, 0));
        if (after < threshold) {
          if (why_not != nullptr) {
            *why_not = "belong to " + s_.queue(q).name + ", which would drop below its " +
                       (quota_only || threshold != fair ? "quota" : "fair share") + " of " +
                       FormatAmount(res, threshold);
          }
          return false;
        }
        if (q == vq) break;
      }
      const Queue& victim_queue = s_.queue(vq);
      const int64_t v_after = ctx_.state.allocated(vq)[res] - held[res];
      const int64_t v_fair = ctx_.fair_share[vq.index()][res];
      const int64_t v_quota = victim_queue.resource(res).quota;
      const bool keep_quota_only = within_quota && v_quota >= 0;
      // Above its quota, the reclaimer never ends more saturated than its
      // victim. (Within quota it takes what is guaranteed to it; victims
      // come in whole workloads, so insisting on the ratio there could
      // deny a quota for good.)
      if (keep_quota_only) continue;
      // What A held when the attempt began (the pods placed since are part
      // of the demand added here).
      const int64_t a_after = BaseAllocation(a)[res] + ctx_.demand[r_.index()][res];
      const int64_t a_fair = ctx_.fair_share[a.index()][res];
      if (RatioLess(v_after, v_fair, a_after, a_fair)) {
        if (why_not != nullptr) {
          *why_not = "belong to " + victim_queue.name + ", which would end less saturated than " +
                     s_.queue(a).name;
        }
        return false;
      }
    }
    return true;
  }

  const CycleContext& ctx_;
  const Snapshot& s_;
  WorkloadId r_;
  std::vector<Resource> judged_;
  std::vector<std::pair<QueueId, Resources>> base_;  // the reclaimer's path, at the start
  bool gpu_only_ = false;                            // judged on GPU alone
  // Per victim queue: DivergingSiblings with the reclaimer's, once known.
  mutable std::vector<std::pair<QueueId, QueueId>> siblings_;
  mutable std::vector<uint8_t> siblings_known_;
  // Per victim leaf queue: GpuLimit, once known in this round.
  mutable std::vector<int64_t> limit_;
  mutable std::vector<uint8_t> limit_known_;
  std::array<bool, kNumResources> within_quota_{};
  bool eligible_ = false;
  std::string not_owed_;
};

class PreemptPolicy : public VictimPolicy {
 public:
  PreemptPolicy(const CycleContext& ctx, WorkloadId r)
      : ctx_(ctx),
        s_(ctx.snapshot),
        queue_(ctx.snapshot.workload(r).queue.value()),
        priority_(PriorityValue(ctx.snapshot.workload(r).priority_class)) {}

  // Any workload may try to preempt; the victims decide.
  bool eligible() const { return true; }
  const std::string& not_owed() const { return none_; }

  bool MayYield(const VictimFacts& v) const override {
    return v.queue == queue_ && v.preemptible && v.priority < priority_;
  }

  bool Allows(const VictimFacts& v, std::string* why_not) const override {
    if (!MayYield(v)) return false;
    if (!v.past_preempt_min) {
      const QueueId q(v.queue);
      if (why_not != nullptr) {
        *why_not = "are younger than " + s_.queue(q).name + "'s preempt min-runtime (" +
                   FormatDuration(PreemptMinRuntime(s_, q)) + ")";
      }
      return false;
    }
    return true;
  }

  VictimKey Key(WorkloadId v) const override {
    const Workload& wv = s_.workload(v);
    return {PriorityValue(wv.priority_class),
            -wv.started.ms,
            HeldAmount(ctx_.state, v, Resource::kGpu),
            0,
            0,
            v.value()};
  }

 private:
  const CycleContext& ctx_;
  const Snapshot& s_;
  int32_t queue_;     // the preemptor's
  int32_t priority_;  // the preemptor's
  std::string none_;
};

class ConsolidatePolicy : public VictimPolicy {
 public:
  // The workload itself is never its own victim (VictimSearch leaves it out).
  explicit ConsolidatePolicy(const CycleContext& ctx) : ctx_(ctx) {}
  bool MayYield(const VictimFacts& v) const override { return v.preemptible; }
  bool Allows(const VictimFacts& v, std::string* /*why_not*/) const override { return MayYield(v); }
  VictimKey Key(WorkloadId v) const override {
    return {HeldAmount(ctx_.state, v, Resource::kGpu), 0, 0, 0, 0, v.value()};
  }

 private:
  const CycleContext& ctx_;
};

// Records a successful eviction-based placement.
void Commit(CycleContext& ctx, WorkloadId r, GangOutcome& o, EvictionAction action) {
  const Snapshot& s = ctx.snapshot;
  for (WorkloadId v : o.victims) {
    ctx.decided[v.index()] = 1;
    ctx.result.evictions.push_back({v, action, r,
                                    std::string(EvictionActionName(action)) + " for " +
                                        s.workload(r).name + " (queue " +
                                        s.queue(s.workload(r).queue).name + ")"});
  }
  ctx.decided[r.index()] = 1;
  if (o.pipelined) {
    ctx.waiting_gpu[r.index()] = o.waiting_gpu;
    ctx.result.pipelined.push_back({r, std::move(o.pods)});
  } else {
    ctx.result.binds.push_back({r, std::move(o.pods)});
  }
}

void AppendReason(CycleContext& ctx, WorkloadId r, const std::string& what,
                  const std::string& why) {
  if (why.empty()) return;
  std::string& reason = ctx.result.reason[r.index()];
  reason.reserve(reason.size() + what.size() + why.size() + 4);
  reason.append("; ").append(what).append(": ").append(why);
}

}  // namespace

void ConsolidateAction::Run(CycleContext& ctx, const VictimPool& pool) {
  int32_t moves_left = kMaxConsolidationMoves;
  int64_t idle_gpu = 0;
  for (size_t n = 0; n < ctx.snapshot.nodes.size(); ++n) {
    idle_gpu += std::max<int64_t>(0, ctx.state.free_gpu(NodeId(static_cast<int32_t>(n))));
  }
  FailedTwins<std::string> twins;
  VictimSearches searches(ctx, pool);
  for (WorkloadId r : ctx.failed) {
    if (moves_left == 0) break;
    if (ctx.decided[r.index()] || twins.Find(ctx, r) != nullptr) continue;
    // MIG pods wait for an instance of their profile: moving other work
    // never makes one.
    if (ctx.snapshot.workload(r).request.mig()) continue;
    // Moving work only helps when the free capacity is there, fragmented.
    if (ctx.demand[r.index()][Resource::kGpu] == 0 ||
        ctx.demand[r.index()][Resource::kGpu] > idle_gpu) {
      continue;
    }
    const size_t checkpoint = ctx.state.Checkpoint();
    ConsolidatePolicy policy(ctx);
    GangOutcome o = PlaceGang(ctx, r, GangMode{.victims = &policy, .searches = &searches});
    bool ok = o.placed && static_cast<int32_t>(o.victims.size()) <= moves_left;
    std::vector<BindDecision> moved;
    for (size_t i = 0; ok && i < o.victims.size(); ++i) {
      GangOutcome g = PlaceGang(ctx, o.victims[i], GangMode{});
      ok = g.placed;
      if (ok) moved.push_back({o.victims[i], std::move(g.pods)});
    }
    if (!ok) {
      ctx.state.Rollback(checkpoint);
      twins.Failed(ctx, r, "");
      continue;
    }
    twins.Succeeded();
    moves_left -= static_cast<int32_t>(o.victims.size());
    Commit(ctx, r, o, EvictionAction::kConsolidate);
    for (BindDecision& b : moved) ctx.result.binds.push_back(std::move(b));
  }
}

namespace {

// Reclaim and preempt: each workload allocate left, in order, tries to fit
// by evicting what `Policy` allows; a failure adds "<label>: why" to its
// reason.
template <typename Policy>
void EvictFor(CycleContext& ctx, const VictimPool& pool, EvictionAction action,
              const std::string& label) {
  FailedTwins<std::string> twins;
  VictimSearches searches(ctx, pool);
  for (WorkloadId r : ctx.failed) {
    if (ctx.decided[r.index()]) continue;
    if (const std::string* why = twins.Find(ctx, r)) {
      AppendReason(ctx, r, label, *why);
      continue;
    }
    Policy policy(ctx, r);
    if (!policy.eligible()) {
      AppendReason(ctx, r, label, policy.not_owed());
      twins.Failed(ctx, r, policy.not_owed());
      continue;
    }
    GangOutcome o = PlaceGang(ctx, r, GangMode{.victims = &policy, .searches = &searches});
    if (o.placed) {
      Commit(ctx, r, o, action);
      twins.Succeeded();
    } else {
      AppendReason(ctx, r, label, o.why_not);
      twins.Failed(ctx, r, o.why_not);
    }
  }
}

}  // namespace

void ReclaimAction::Run(CycleContext& ctx, const VictimPool& pool) {
  EvictFor<ReclaimPolicy>(ctx, pool, EvictionAction::kReclaim, "cannot reclaim");
}

void PreemptAction::Run(CycleContext& ctx, const VictimPool& pool) {
  EvictFor<PreemptPolicy>(ctx, pool, EvictionAction::kPreempt, "cannot preempt");
}

void StaleGangAction::Run(CycleContext& ctx) {
  const Snapshot& s = ctx.snapshot;
  for (size_t i = 0; i < s.workloads.size(); ++i) {
    const Workload& w = s.workloads[i];
    const WorkloadId id(static_cast<int32_t>(i));
    if (!w.running || ctx.state.is_releasing(id) || ctx.decided[i]) continue;
    const int32_t held = static_cast<int32_t>(ctx.state.placements(id).size());
    if (held == 0 || held >= w.min_available) continue;
    const Time since = w.stale_since.value_or(s.now);
    if (s.now - since < s.stale_gang_grace) continue;
    ctx.state.Evict(id);
    ctx.decided[i] = 1;
    ctx.result.evictions.push_back({id, EvictionAction::kStaleGang, WorkloadId::Invalid(),
                                    "stale gang: " + std::to_string(held) + " of its minimum " +
                                        std::to_string(w.min_available) + " pods since " +
                                        FormatTime(since) + ", longer than the grace period of " +
                                        FormatDuration(s.stale_gang_grace)});
  }
}

}  // namespace sluice
