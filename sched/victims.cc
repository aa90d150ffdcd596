#include "sched/victims.h"

#include <algorithm>

#include "common/check.h"

namespace sluice {

int64_t HeldAmount(const ClusterState& state, WorkloadId w, Resource r) {
  int64_t total = 0;
  for (const PodPlacement& p : state.placements(w)) {
    total += PodResources(state.snapshot().workload(w), p)[r];
  }
  return total;
}

VictimPool::VictimPool(const Snapshot& s, const ClusterState& state)
    : by_node_(s.nodes.size()), class_of_(s.workloads.size(), -1) {
  struct Less {
    bool operator()(const VictimFacts& a, const VictimFacts& b) const { return a.Tie() < b.Tie(); }
  };
  std::map<VictimFacts, int32_t, Less> known;
  for (size_t i = 0; i < s.workloads.size(); ++i) {
    const Workload& w = s.workloads[i];
    if (!w.running || w.releasing) continue;
    const WorkloadId id(static_cast<int32_t>(i));
    VictimFacts f;
    f.queue = w.queue.value();
    f.priority = PriorityValue(w.priority_class);
    f.preemptible = w.preemptible;
    f.past_reclaim_min = s.now - w.started >= ReclaimMinRuntime(s, w.queue);
    f.past_preempt_min = s.now - w.started >= PreemptMinRuntime(s, w.queue);
    f.mig_profile = w.request.mig_profile;
    for (const PodPlacement& p : state.placements(id)) {
      f.holds_gpu = f.holds_gpu || (p.gpu_milli > 0 && !p.gpus.empty());
      f.held += PodResources(w, p);
    }
    auto [it, added] = known.emplace(f, static_cast<int32_t>(facts_.size()));
    if (added) {
      facts_.push_back(f);
      nodes_of_.emplace_back();
    }
    class_of_[i] = it->second;
    for (const PodPlacement& p : w.placement) {
      std::vector<WorkloadId>& list = by_node_[p.node.index()];
      if (list.empty() || list.back() != id) list.push_back(id);
    }
  }
  for (size_t n = 0; n < by_node_.size(); ++n) {
    std::vector<WorkloadId>& list = by_node_[n];
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    for (WorkloadId v : list) {
      std::vector<NodeId>& nodes = nodes_of_[static_cast<size_t>(class_of_[v.index()])];
      if (nodes.empty() || nodes.back().index() != n) nodes.emplace_back(static_cast<int32_t>(n));
    }
  }
}

VictimIndex::VictimIndex(const Snapshot& s, std::vector<NodeId> nodes)
    : nodes_(std::move(nodes)),
      local_(s.nodes.size(), -1),
      cost_(nodes_.size()),
      has_cost_(nodes_.size(), 0),
      dirty_(nodes_.size(), 0),
      capped_(nodes_.size(), 0),
      version_(nodes_.size(), 0),
      refusals_(nodes_.size(), 0) {
  for (size_t i = 0; i < nodes_.size(); ++i) local_[nodes_[i].index()] = static_cast<int32_t>(i);
}

VictimSearches::VictimSearches(CycleContext& ctx, const VictimPool& pool)
    : ctx_(ctx),
      pool_(pool),
      has_key_(ctx.snapshot.workloads.size(), 0),
      keys_(ctx.snapshot.workloads.size()) {
  ctx_.state.AddObserver(this);
}

VictimSearches::~VictimSearches() { ctx_.state.RemoveObserver(this); }

namespace {

// Kept indexes beyond this many are dropped, least recently used first
// (each costs a few bytes per node of its domain).
constexpr size_t kMaxKeptIndexes = 128;

// Candidate sets looked at per node before falling back to a greedy choice.
constexpr int32_t kMaxSetsPerNode = 4096;

// Min-heap order on (cost, position).
bool HeapAfter(const std::tuple<VictimIndex::Cost, int32_t, uint32_t>& a,
               const std::tuple<VictimIndex::Cost, int32_t, uint32_t>& b) {
  return std::tie(std::get<0>(a), std::get<1>(a)) > std::tie(std::get<0>(b), std::get<1>(b));
}

}  // namespace

VictimIndex& VictimSearches::IndexFor(WorkloadId id, const std::string& value,
                                      const std::function<std::vector<NodeId>()>& nodes) {
  if (!value.empty()) {
    VictimIndex& fresh = fresh_.emplace(ctx_.snapshot, nodes());
    fresh.log_seen_ = log_.size();  // built from the state as it is now
    return fresh;
  }
  Twin kind = TwinOf(ctx_, id);
  auto it = kept_.find(kind);
  if (it == kept_.end()) {
    if (kept_.size() >= kMaxKeptIndexes) {
      auto oldest = std::min_element(kept_.begin(), kept_.end(), [](const auto& a, const auto& b) {
        return a.second.used < b.second.used;
      });
      kept_.erase(oldest);
    }
    it = kept_.emplace(std::move(kind), Kept{VictimIndex(ctx_.snapshot, nodes()), 0}).first;
    it->second.index.log_seen_ = log_.size();
  }
  it->second.used = ++uses_;
  return it->second.index;
}

VictimSearch::VictimSearch(CycleContext& ctx, WorkloadId id, const std::string& value,
                           const std::function<std::vector<NodeId>()>& nodes,
                           const VictimPolicy& policy, VictimSearches& searches)
    : ctx_(ctx),
      id_(id),
      w_(ctx.snapshot.workload(id)),
      policy_(policy),
      s_(searches),
      pool_(searches.pool()),
      x_(searches.IndexFor(id, value, nodes)) {
  SLUICE_CHECK(!s_.in_use_);
  s_.in_use_ = true;
  if (++s_.epoch_ == 0) {  // wrapped: every old stamp could look current
    std::fill(s_.has_key_.begin(), s_.has_key_.end(), 0);
    s_.epoch_ = 1;
  }
  Refresh();
}

VictimSearch::~VictimSearch() { s_.in_use_ = false; }

bool VictimSearch::ClassAllowed(int32_t c) const { return x_.answer_[static_cast<size_t>(c)] == 1; }

void VictimSearch::MarkDirty(int32_t pos) {
  const size_t i = static_cast<size_t>(pos);
  if (x_.dirty_[i] != 0) return;
  x_.dirty_[i] = 1;
  x_.dirty_list_.push_back(pos);
}

void VictimSearch::ApplyLog() {
  const std::vector<int32_t>& log = s_.log_;
  for (size_t k = x_.log_seen_; k < log.size(); ++k) {
    const int32_t pos = x_.local_[static_cast<size_t>(log[k])];
    if (pos >= 0) MarkDirty(pos);
  }
  x_.log_seen_ = log.size();
}

void VictimSearch::Refresh() {
  const bool built = x_.built_;
  if (!built) x_.answer_.assign(pool_.classes(), -1);
  ApplyLog();
  // The cost of a node holding this workload (or the last one) left it
  // out (or in) as a candidate.
  for (WorkloadId w : {id_, x_.last_}) {
    if (!w.valid()) continue;
    for (const PodPlacement& p : ctx_.state.placements(w)) {
      const int32_t pos = x_.local_[p.node.index()];
      if (pos >= 0) MarkDirty(pos);
    }
  }
  x_.last_ = id_;
  const uint64_t refusals_before = x_.refusals_seen_;
  for (size_t c = 0; c < pool_.classes(); ++c) {
    int8_t& answer = x_.answer_[c];
    if (answer == 2) continue;  // never a candidate in this action
    const VictimFacts& f = pool_.facts(static_cast<int32_t>(c));
    const bool mig_fits =
        w_.request.mig() ? f.mig_profile == w_.request.mig_profile : f.mig_profile == 0;
    if (!mig_fits || !policy_.MayYield(f)) {
      answer = 2;
      continue;
    }
    const int8_t now = policy_.Allows(f, nullptr) ? 1 : 0;
    if (built && answer == 1 && now == 0) ++x_.refusals_seen_;
    if (built && answer == 0 && now == 1) {
      for (NodeId n : pool_.nodes_of(static_cast<int32_t>(c))) {
        const int32_t pos = x_.local_[n.index()];
        if (pos >= 0) MarkDirty(pos);
      }
    }
    answer = now;
  }
  if (x_.refusals_seen_ != refusals_before) {
    for (int32_t pos : x_.capped_list_) MarkDirty(pos);
  }
  if (!built) {
    x_.built_ = true;
    x_.dirty_list_.clear();
    std::fill(x_.dirty_.begin(), x_.dirty_.end(), 0);
    for (size_t pos = 0; pos < x_.nodes_.size(); ++pos) Recompute(static_cast<int32_t>(pos));
    std::make_heap(x_.heap_.begin(), x_.heap_.end(), HeapAfter);
    return;
  }
  Flush();
}

void VictimSearch::Flush() {
  if (x_.dirty_list_.empty()) return;
  std::vector<int32_t> dirty;
  dirty.swap(x_.dirty_list_);
  std::sort(dirty.begin(), dirty.end());
  for (int32_t pos : dirty) x_.dirty_[static_cast<size_t>(pos)] = 0;
  for (int32_t pos : dirty) {
    const size_t entries = x_.heap_.size();
    Recompute(pos);
    if (x_.heap_.size() > entries) std::push_heap(x_.heap_.begin(), x_.heap_.end(), HeapAfter);
  }
  if (x_.dirty_list_.empty()) x_.dirty_list_.swap(dirty);  // keep the capacity
  x_.dirty_list_.clear();
  // Stale entries pile up over a long action; drop them now and then.
  if (x_.heap_.size() > 4 * x_.nodes_.size() + 1024) {
    std::erase_if(x_.heap_, [&](const auto& e) {
      const size_t i = static_cast<size_t>(std::get<1>(e));
      return x_.has_cost_[i] == 0 || x_.version_[i] != std::get<2>(e);
    });
    std::make_heap(x_.heap_.begin(), x_.heap_.end(), HeapAfter);
  }
}

void VictimSearch::Candidates(NodeId n, std::vector<WorkloadId>* out) const {
  out->clear();
  for (WorkloadId v : pool_.on_node(n)) {
    if (v == id_ || ctx_.decided[v.index()] != 0 || ctx_.state.is_releasing(v)) continue;
    if (ClassAllowed(pool_.class_of(v))) out->push_back(v);
  }
}

const VictimKey& VictimSearch::KeyOf(WorkloadId v) {
  const size_t i = v.index();
  if (s_.has_key_[i] != s_.epoch_) {
    s_.keys_[i] = policy_.Key(v);
    s_.has_key_[i] = s_.epoch_;
  }
  return s_.keys_[i];
}

namespace {

// Fits and LowerBound for one node: what it has free for a pipelined pod,
// and what each candidate would give back (`device`: GPU milli per device,
// candidate by candidate, `gpus` entries each).
class NodeRoom {
 public:
  NodeRoom(const ClusterState& state, NodeId n, const Workload& w,
           const std::vector<VictimSearches::Release>& releases, const std::vector<int64_t>& device,
           std::vector<int64_t>* held)
      : w_(w),
        gpus_(static_cast<size_t>(state.snapshot().node(n).gpus)),
        r_(releases),
        device_(device),
        held_(*held) {
    held_.resize(2 * gpus_);
    for (size_t d = 0; d < gpus_; ++d) held_[d] = state.device_held(n, static_cast<int32_t>(d));
    cpu_ = state.free_cpu_pipelined(n);
    memory_ = state.free_memory_pipelined(n);
    milli_ = w.request.MilliOn(state.snapshot().node(n).gpu_memory_mib);
  }
  bool Fits(const std::vector<int32_t>& taken) const {
    const PodRequest& q = w_.request;
    int64_t cpu = cpu_, memory = memory_;
    bool mig = false;
    for (int32_t t : taken) {
      cpu += r_[static_cast<size_t>(t)].cpu;
      memory += r_[static_cast<size_t>(t)].memory;
      mig = mig || r_[static_cast<size_t>(t)].mig;
    }
    if (cpu < q.cpu_milli || memory < q.memory_mib) return false;
    if (q.gpu_devices == 0) return true;
    if (q.mig()) return mig;
    if (milli_ == 0) return false;
    int64_t* h = held_.data() + gpus_;
    std::copy(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(gpus_), h);
    for (int32_t t : taken) {
      const int64_t* give = device_.data() + static_cast<size_t>(t) * gpus_;
      for (size_t d = 0; d < gpus_; ++d) h[d] -= give[d];
    }
    int32_t fitting = 0;
    for (size_t d = 0; d < gpus_; ++d) {
      if (milli_ == 1000 ? h[d] == 0 : h[d] + milli_ <= 1000) ++fitting;
    }
    return fitting >= q.gpu_devices;
  }
  // The fewest candidates any fitting set can have.
  int32_t LowerBound() const {
    const PodRequest& q = w_.request;
    int32_t bound = 1;
    auto at_least = [&](int64_t short_by, int64_t most) {
      if (short_by <= 0 || most <= 0) return;
      bound = std::max(bound, static_cast<int32_t>((short_by + most - 1) / most));
    };
    int64_t cpu = 0, memory = 0, devices = 0;
    for (const VictimSearches::Release& x : r_) {
      cpu = std::max(cpu, x.cpu);
      memory = std::max(memory, x.memory);
      devices = std::max<int64_t>(devices, x.devices);
    }
    at_least(q.cpu_milli - cpu_, cpu);
    at_least(q.memory_mib - memory_, memory);
    if (q.gpu_devices > 0 && !q.mig() && milli_ == 1000) {
      int64_t idle = 0;
      for (size_t d = 0; d < gpus_; ++d) idle += held_[d] == 0 ? 1 : 0;
      at_least(q.gpu_devices - idle, devices);
    }
    return bound;
  }

 private:
  const Workload& w_;
  size_t gpus_;
  const std::vector<VictimSearches::Release>& r_;
  const std::vector<int64_t>& device_;
  std::vector<int64_t>& held_;  // the node's, then a working copy
  int64_t cpu_ = 0, memory_ = 0, milli_ = 0;
};

}  // namespace

std::optional<VictimSearch::Plan> VictimSearch::Evaluate(NodeId n, bool keys) {
  std::vector<WorkloadId>& candidates = s_.candidates_;
  Candidates(n, &candidates);
  if (candidates.empty()) return std::nullopt;
  const Snapshot& s = ctx_.snapshot;
  // Lexicographic order of index sets then follows victim order, so the
  // first cheapest set found is the one victim order prefers.
  if (keys) {
    std::sort(candidates.begin(), candidates.end(),
              [&](WorkloadId a, WorkloadId b) { return KeyOf(a) < KeyOf(b); });
  }
  const size_t gpus = static_cast<size_t>(s.node(n).gpus);
  std::vector<VictimSearches::Release>& releases = s_.releases_;
  std::vector<int64_t>& device = s_.device_;
  releases.assign(candidates.size(), {});
  device.assign(candidates.size() * gpus, 0);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const WorkloadId v = candidates[i];
    const Workload& wv = s.workload(v);
    VictimSearches::Release& r = releases[i];
    int64_t* give = device.data() + i * gpus;
    r.gpu = pool_.facts(pool_.class_of(v)).held[Resource::kGpu];
    for (const PodPlacement& p : ctx_.state.placements(v)) {
      if (p.node != n) continue;
      r.cpu += wv.request.cpu_milli;
      r.memory += wv.request.memory_mib;
      if (p.mig()) {
        r.mig = r.mig || wv.request.mig_profile == w_.request.mig_profile;
        continue;
      }
      for (int32_t d : p.gpus) give[static_cast<size_t>(d)] += p.gpu_milli;
    }
    for (size_t d = 0; d < gpus; ++d) {
      r.devices += give[d] > 0 ? 1 : 0;
      r.on_node += give[d];
    }
  }
  const NodeRoom room(ctx_.state, n, w_, releases, device, &s_.held_);
  const int32_t k = static_cast<int32_t>(candidates.size());
  std::vector<int32_t> all(static_cast<size_t>(k));
  for (int32_t i = 0; i < k; ++i) all[static_cast<size_t>(i)] = i;
  if (!room.Fits(all)) return std::nullopt;

  PlacementScore score;
  const int64_t sign = s.strategy == PlacementStrategy::kBinpack ? 1 : -1;
  score.k1 = sign * ctx_.state.free_gpu_pipelined(n);
  score.k2 = sign * ctx_.state.free_cpu_pipelined(n);
  score.k3 = sign * ctx_.state.free_memory_pipelined(n);
  score.node = n.value();

  auto gpu_of = [&](const std::vector<int32_t>& set) {
    int64_t g = 0;
    for (int32_t t : set) g += releases[static_cast<size_t>(t)].gpu;
    return g;
  };
  auto plan_of = [&](const std::vector<int32_t>& set, bool capped) {
    Plan plan;
    plan.cost = Cost{static_cast<int32_t>(set.size()), gpu_of(set), score};
    plan.capped = capped;
    for (int32_t t : set) plan.victims.push_back(candidates[static_cast<size_t>(t)]);
    return plan;
  };

  // Every set of each size from the lower bound up, in lexicographic order;
  // the first size with a set that fits is the fewest victims.
  int32_t looked = 0;
  std::vector<int32_t> set, best;
  int64_t best_gpu = 0;
  for (int32_t size = room.LowerBound(); size <= k && looked <= kMaxSetsPerNode; ++size) {
    set.resize(static_cast<size_t>(size));
    for (int32_t i = 0; i < size; ++i) set[static_cast<size_t>(i)] = i;
    while (looked <= kMaxSetsPerNode) {
      ++looked;
      if (room.Fits(set)) {
        const int64_t g = gpu_of(set);
        if (best.empty() || g < best_gpu) {
          best = set;
          best_gpu = g;
        }
      }
      // The next set of this size.
      int32_t i = size - 1;
      while (i >= 0 && set[static_cast<size_t>(i)] == k - size + i) --i;
      if (i < 0) break;
      ++set[static_cast<size_t>(i)];
      for (int32_t j = i + 1; j < size; ++j) {
        set[static_cast<size_t>(j)] = set[static_cast<size_t>(j - 1)] + 1;
      }
    }
    if (!best.empty() && looked <= kMaxSetsPerNode) return plan_of(best, false);
  }
  // Too many sets to look at: the largest holders on this node first (an
  // order that does not depend on victim order) until the pod fits.
  std::vector<int32_t> order = all;
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const int64_t ga = releases[static_cast<size_t>(a)].on_node;
    const int64_t gb = releases[static_cast<size_t>(b)].on_node;
    if (ga != gb) return ga > gb;
    return candidates[static_cast<size_t>(a)] < candidates[static_cast<size_t>(b)];
  });
  set.clear();
  for (int32_t t : order) {
    set.push_back(t);
    if (room.Fits(set)) break;
  }
  std::sort(set.begin(), set.end());
  return plan_of(set, true);
}

void VictimSearch::Recompute(int32_t pos) {
  const size_t i = static_cast<size_t>(pos);
  if (x_.has_cost_[i] != 0) {
    x_.has_cost_[i] = 0;
    ++x_.version_[i];
  }
  x_.refusals_[i] = x_.refusals_seen_;
  std::optional<Plan> plan = Evaluate(x_.nodes_[i], false);
  const uint8_t capped = plan && plan->capped ? 1 : 0;
  if (capped != x_.capped_[i]) {
    x_.capped_[i] = capped;
    if (capped != 0) {
      x_.capped_list_.push_back(pos);
    } else {
      std::erase(x_.capped_list_, pos);
    }
  }
  if (!plan) return;
  x_.cost_[i] = plan->cost;
  x_.has_cost_[i] = 1;
  x_.heap_.emplace_back(plan->cost, pos, x_.version_[i]);
}

std::optional<int32_t> VictimSearch::Cheapest() {
  while (!x_.heap_.empty()) {
    const auto& [cost, pos, version] = x_.heap_.front();
    const size_t i = static_cast<size_t>(pos);
    if (x_.has_cost_[i] != 0 && x_.version_[i] == version) return pos;
    std::pop_heap(x_.heap_.begin(), x_.heap_.end(), HeapAfter);
    x_.heap_.pop_back();
  }
  return std::nullopt;
}

std::optional<NodeId> VictimSearch::EvictForOnePod(std::vector<WorkloadId>* victims) {
  while (true) {
    ApplyLog();
    Flush();
    const std::optional<int32_t> top = Cheapest();
    if (!top) return std::nullopt;
    const size_t i = static_cast<size_t>(*top);
    if (x_.refusals_[i] != x_.refusals_seen_) {
      // A class was refused since this cost was computed: it may have
      // grown. Recompute it and look again.
      MarkDirty(*top);
      continue;
    }
    const NodeId n = x_.nodes_[i];
    std::optional<Plan> plan = Evaluate(n, true);
    SLUICE_CHECK(plan && std::get<0>(plan->cost) == std::get<0>(x_.cost_[i]) &&
                 std::get<1>(plan->cost) == std::get<1>(x_.cost_[i]));
    std::vector<WorkloadId> chosen = plan->victims;
    std::sort(chosen.begin(), chosen.end(),
              [&](WorkloadId a, WorkloadId b) { return KeyOf(a) < KeyOf(b); });
    // Each victim is judged after the ones before it are gone, so that
    // together they cannot take a queue below what one alone may.
    const size_t checkpoint = ctx_.state.Checkpoint();
    const size_t before = victims->size();
    bool refused = false;
    for (WorkloadId v : chosen) {
      const int32_t c = pool_.class_of(v);
      std::string why;
      if (!policy_.Allows(pool_.facts(c), first_refusal_.empty() ? &why : nullptr)) {
        if (first_refusal_.empty() && !why.empty()) {
          first_refusal_ = "victims on " + ctx_.snapshot.node(n).name + " " + why;
        }
        x_.answer_[static_cast<size_t>(c)] = 0;
        ++x_.refusals_seen_;
        for (int32_t pos : x_.capped_list_) MarkDirty(pos);
        refused = true;
        break;
      }
      ctx_.state.Evict(v);
      victims->push_back(v);
    }
    if (!refused) return n;
    ctx_.state.Rollback(checkpoint);
    victims->resize(before);
  }
}

std::string VictimSearch::why_not() const {
  for (NodeId n : x_.nodes_) {
    for (WorkloadId v : pool_.on_node(n)) {
      if (v == id_ || ctx_.decided[v.index()] != 0 || ctx_.state.is_releasing(v)) continue;
      const int32_t c = pool_.class_of(v);
      if (x_.answer_[static_cast<size_t>(c)] != 0) continue;
      std::string why;
      if (!policy_.Allows(pool_.facts(c), &why) && !why.empty()) {
        return "victims on " + ctx_.snapshot.node(n).name + " " + why;
      }
    }
  }
  return first_refusal_;
}

}  // namespace sluice
