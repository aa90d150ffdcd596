#include "sched/victims.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <utility>

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
    : class_of_(s.workloads.size(), -1) {
  // Classes are numbered in the order they are first met, so a hash map
  // numbers them as an ordered one would.
  struct Hash {
    size_t operator()(const VictimFacts& f) const {
      uint64_t h = 1469598103934665603ULL;
      auto mix = [&](uint64_t x) { h = (h ^ x) * 1099511628211ULL; };
      mix(static_cast<uint64_t>(f.queue));
      mix(static_cast<uint64_t>(f.priority));
      mix((f.preemptible ? 1U : 0U) | (f.holds_gpu ? 2U : 0U) | (f.past_reclaim_min ? 4U : 0U) |
          (f.past_preempt_min ? 8U : 0U));
      mix(static_cast<uint64_t>(f.mig_profile));
      for (int64_t x : f.held.v) mix(static_cast<uint64_t>(x));
      return static_cast<size_t>(h);
    }
  };
  struct Equal {
    bool operator()(const VictimFacts& a, const VictimFacts& b) const { return a.Tie() == b.Tie(); }
  };
  std::unordered_map<VictimFacts, int32_t, Hash, Equal> known;
  // (node, candidate) for every pod of every candidate, then in order: one
  // buffer rather than a growing list per node.
  std::vector<std::pair<int32_t, int32_t>> pairs;
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
    for (const PodPlacement& p : w.placement) pairs.emplace_back(p.node.value(), id.value());
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  size_t share_slots = 0;
  for (const auto& pair : pairs) {
    share_slots += static_cast<size_t>(s.nodes[static_cast<size_t>(pair.first)].gpus);
  }
  entries_.reserve(pairs.size());
  shares_.assign(share_slots, 0);
  begin_.reserve(s.nodes.size() + 1);
  size_t next = 0;    // into pairs
  size_t offset = 0;  // into shares_
  for (size_t n = 0; n < s.nodes.size(); ++n) {
    begin_.push_back(entries_.size());
    const NodeId node(static_cast<int32_t>(n));
    const size_t gpus = static_cast<size_t>(s.nodes[n].gpus);
    for (; next < pairs.size() && pairs[next].first == node.value(); ++next) {
      const WorkloadId v(pairs[next].second);
      const Workload& wv = s.workload(v);
      OnNode e;
      e.workload = v;
      e.cls = class_of_[v.index()];
      e.shares = offset;
      offset += gpus;
      for (const PodPlacement& p : state.placements(v)) {
        if (p.node != node) continue;
        e.cpu += wv.request.cpu_milli;
        e.memory += wv.request.memory_mib;
        if (p.mig()) {
          e.mig = true;
          continue;
        }
        for (int32_t d : p.gpus) shares_[e.shares + static_cast<size_t>(d)] += p.gpu_milli;
      }
      for (size_t d = 0; d < gpus; ++d) {
        e.devices += shares_[e.shares + d] > 0 ? 1 : 0;
        e.gpu_here += shares_[e.shares + d];
      }
      entries_.push_back(e);
      std::vector<NodeId>& nodes = nodes_of_[static_cast<size_t>(e.cls)];
      if (nodes.empty() || nodes.back() != node) nodes.push_back(node);
    }
  }
  begin_.push_back(entries_.size());
}

namespace {

// Domains up to this size find their changed nodes by looking at each
// node's change stamp; larger ones read the change log.
constexpr size_t kSmallDomain = 256;

// Positions (nodes of kept indexes) kept over all kinds before the least
// recently used kinds are dropped: a few dozen bytes each.
constexpr size_t kMaxKeptPositions = size_t{2} << 20;

// Candidate sets looked at per node before falling back to a greedy choice.
constexpr int32_t kMaxSetsPerNode = 4096;

// Min-heap order on (cost, position).
bool HeapAfter(const VictimIndex::HeapEntry& a, const VictimIndex::HeapEntry& b) {
  if (b.cost < a.cost) return true;
  if (a.cost < b.cost) return false;
  return a.pos > b.pos;
}

}  // namespace

VictimIndex::VictimIndex(const Snapshot& s, std::vector<NodeId> nodes)
    : nodes_(std::move(nodes)),
      cost_(nodes_.size()),
      has_cost_(nodes_.size(), 0),
      dirty_(nodes_.size(), 0),
      capped_(nodes_.size(), 0),
      exact_(nodes_.size(), 0),
      version_(nodes_.size(), 0),
      refusals_at_(nodes_.size(), 0) {
  if (nodes_.size() > kSmallDomain) {
    local_.assign(s.nodes.size(), -1);
    for (size_t i = 0; i < nodes_.size(); ++i) local_[nodes_[i].index()] = static_cast<int32_t>(i);
  }
}

VictimSearches::VictimSearches(CycleContext& ctx, const VictimPool& pool)
    : ctx_(ctx), pool_(pool), stamp_(ctx.snapshot.nodes.size(), 0) {
  ctx_.state.AddObserver(this);
}

VictimSearches::~VictimSearches() { ctx_.state.RemoveObserver(this); }

int32_t VictimSearches::ShapeOf(Kind& kind, const Workload& w) {
  if (kind.shape < 0) {
    const PodRequest& r = w.request;
    Shape shape(r.gpu_devices, r.gpu_milli, r.gpu_memory_mib, r.cpu_milli, r.memory_mib,
                r.mig_profile, w.gpu_models, w.node_selector, w.topology);
    kind.shape =
        shape_ids_.emplace(std::move(shape), static_cast<int32_t>(shape_ids_.size())).first->second;
  }
  return kind.shape;
}

VictimSearches::Kind& VictimSearches::KindOf(WorkloadId id) {
  Kind& kind = kinds_[TwinOf(ctx_, id)];
  if (ctx_.fresh_victim_search) kind = Kind{};  // the reference: nothing kept
  if (kind.answer.empty()) kind.answer.assign(pool_.classes(), -1);
  return kind;
}

size_t VictimSearches::IndexKeyHash::operator()(const IndexKey& k) const {
  const auto& [shape, value, answers] = k;
  uint64_t h = std::hash<std::string>()(value) ^ (static_cast<uint64_t>(shape) << 32);
  // The answers eight at a time.
  const size_t n = answers.size();
  for (size_t i = 0; i < n; i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, answers.data() + i, std::min<size_t>(8, n - i));
    h = (h ^ word) * 1099511628211ULL;
  }
  return static_cast<size_t>(h);
}

void VictimSearches::Prune() {
  while (shared_positions_ > kMaxKeptPositions) {
    auto oldest = shared_.end();
    for (auto it = shared_.begin(); it != shared_.end(); ++it) {
      if (it->second.use_count() == 1 &&
          (oldest == shared_.end() || it->second->used_ < oldest->second->used_)) {
        oldest = it;
      }
    }
    if (oldest == shared_.end()) return;  // all in use by some kind
    shared_positions_ -= oldest->second->nodes_.size();
    shared_.erase(oldest);
  }
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
      kind_(searches.KindOf(id)),
      value_(value),
      shape_(searches.ShapeOf(kind_, w_)),
      x_((RefreshAnswers(), Acquire(value, nodes))) {
  SLUICE_CHECK(!s_.in_use_);
  s_.in_use_ = true;
  s_.keys_.clear();
  x_.used_ = ++s_.uses_;
  Refresh();
}

VictimSearch::~VictimSearch() {
  s_.in_use_ = false;
  s_.Prune();
}

void VictimSearches::RefreshAnswers(Kind& kind, const Workload& w,
                                    const VictimPolicy& policy) const {
  if (kind.attempt == attempt_ && !kind.refused_in_attempt) return;
  kind.attempt = attempt_;
  kind.refused_in_attempt = false;
  policy.BeginAnswers();
  // The fresh reference asks the full question, so that the property tests
  // hold a policy's shortcuts to it.
  const bool fresh = ctx_.fresh_victim_search;
  if (!kind.asked) {
    // MayYield's answer holds for the kind all cycle: asked once per class.
    kind.asked = true;
    kind.live.clear();
    for (size_t c = 0; c < pool_.classes(); ++c) {
      const VictimFacts& f = pool_.facts(static_cast<int32_t>(c));
      const bool mig_fits =
          w.request.mig() ? f.mig_profile == w.request.mig_profile : f.mig_profile == 0;
      if (!mig_fits || !policy.MayYield(f)) {
        kind.answer[c] = 2;  // never a candidate for this kind
      } else {
        kind.live.push_back(static_cast<int32_t>(c));
      }
    }
  }
  // Per leaf queue, the policy's GPU limit for the round when it offers one
  // (0 not asked, 1 a limit, 2 none).
  limit_known_.assign(ctx_.snapshot.queues.size(), 0);
  limits_.resize(ctx_.snapshot.queues.size());
  for (int32_t c : kind.live) {
    const VictimFacts& f = pool_.facts(c);
    bool allowed = false;
    if (fresh) {
      allowed = policy.Allows(f, nullptr);
    } else {
      const size_t q = static_cast<size_t>(f.queue);
      if (limit_known_[q] == 0) {
        limit_known_[q] = policy.YieldingGpuLimit(QueueId(f.queue), &limits_[q]) ? 1 : 2;
      }
      if (limit_known_[q] == 1) {
        const int64_t held = f.held[Resource::kGpu];
        allowed = f.past_reclaim_min && (held == 0 || held <= limits_[q]);
      } else {
        allowed = policy.AllowsYielding(f);
      }
    }
    kind.answer[static_cast<size_t>(c)] = allowed ? 1 : 0;
  }
}

bool VictimSearches::MayHold(WorkloadId id, const std::string& value, std::span<const NodeId> nodes,
                             const VictimPolicy& policy, int32_t needed) {
  const Workload& w = ctx_.snapshot.workload(id);
  const PodRequest& r = w.request;
  if (ctx_.fresh_victim_search || r.gpu_devices == 0 || r.mig()) return true;
  Kind& kind = KindOf(id);
  RefreshAnswers(kind, w, policy);
  // Twins differ only in the pods they hold, which the bound leaves out:
  // a kept answer holds for a twin that holds none.
  const bool keep = ctx_.state.placements(id).empty();
  if (keep) {
    auto known = kind.too_small.find(value);
    if (known != kind.too_small.end() && known->second.needed == needed &&
        known->second.answer == kind.answer &&
        std::all_of(nodes.begin(), nodes.end(),
                    [&](NodeId n) { return stamp_[n.index()] <= known->second.stamp; })) {
      return false;
    }
  }
  int64_t pods = 0;
  for (NodeId n : nodes) {
    const int64_t per_pod = r.MilliOn(ctx_.state.gpu_memory_mib(n)) * r.gpu_devices;
    if (per_pod == 0) continue;
    int64_t gpu = ctx_.state.free_gpu_pipelined(n);
    for (const VictimPool::OnNode& e : pool_.on_node(n)) {
      if (kind.answer[static_cast<size_t>(e.cls)] == 1 && Available(e.workload, id)) {
        gpu += e.gpu_here;
      }
    }
    if (gpu > 0) pods += gpu / per_pod;
    if (pods >= needed) return true;
  }
  if (keep) {
    Kind::TooSmall& known = kind.too_small[value];
    known.answer = kind.answer;  // reuses the entry's buffer
    known.needed = needed;
    known.stamp = stamps_;
  }
  return false;
}

void VictimSearch::RefreshAnswers() { s_.RefreshAnswers(kind_, w_, policy_); }

VictimSearches::IndexKey VictimSearch::KeyOf(const VictimIndex& x) const {
  return {shape_, value_, x.answers_};
}

VictimIndex& VictimSearch::Acquire(const std::string& value,
                                   const std::function<std::vector<NodeId>()>& nodes) {
  std::shared_ptr<VictimIndex>& slot = kind_.indexes[value];
  if (slot != nullptr && slot->answers_ == kind_.answer) return *slot;
  const bool keep = !ctx_.fresh_victim_search;
  VictimSearches::IndexKey key{shape_, value, kind_.answer};
  if (keep) {
    auto it = s_.shared_.find(key);
    if (it != s_.shared_.end()) {
      slot = it->second;
      return *slot;
    }
  }
  if (slot != nullptr && keep) {
    // Another kind may find this one under its present answers: leave it
    // to them and move a copy.
    auto it = s_.shared_.find(KeyOf(*slot));
    if (it != s_.shared_.end() && it->second == slot) {
      slot = std::make_shared<VictimIndex>(*slot);
    }
    Transition(*slot, kind_.answer);
  } else {
    slot = std::make_shared<VictimIndex>(ctx_.snapshot, nodes());
    slot->answers_ = kind_.answer;
    slot->log_seen_ = s_.log_.size();  // built from the state as it is now
    slot->stamp_seen_ = s_.stamps_;
  }
  if (keep && s_.shared_.emplace(std::move(key), slot).second) {
    s_.shared_positions_ += slot->nodes_.size();
  }
  return *slot;
}

void VictimIndex::MarkDirty(int32_t pos) {
  if (dirty_[static_cast<size_t>(pos)] != 0) return;
  dirty_[static_cast<size_t>(pos)] = 1;
  dirty_list_.push_back(pos);
}

void VictimSearch::Transition(VictimIndex& x, const std::vector<int8_t>& answers) {
  bool refused = false, allowed = false;
  for (size_t c = 0; c < answers.size(); ++c) {
    const bool was = x.answers_[c] == 1, now = answers[c] == 1;
    refused = refused || (was && !now);
    if (!was && now) {
      allowed = true;
      if (x.large()) {
        for (NodeId n : pool_.nodes_of(static_cast<int32_t>(c))) {
          if (const int32_t pos = x.local_[n.index()]; pos >= 0) x.MarkDirty(pos);
        }
      }
    }
  }
  x.answers_ = answers;
  // In a small domain, look at every node rather than each class's nodes.
  if (allowed && !x.large()) {
    for (size_t pos = 0; pos < x.nodes_.size(); ++pos) x.MarkDirty(static_cast<int32_t>(pos));
  }
  if (refused) {
    // Costs may have grown; those of a bounded search may also have shrunk,
    // so they are recomputed now, the others when they reach the top.
    ++x.refusals_;
    for (int32_t pos : x.capped_list_) x.MarkDirty(pos);
  }
}

void VictimSearch::MarkDirtyNode(NodeId n) {
  if (x_.large()) {
    const int32_t pos = x_.local_[n.index()];
    if (pos >= 0) x_.MarkDirty(pos);
    return;
  }
  auto it = std::lower_bound(x_.nodes_.begin(), x_.nodes_.end(), n);
  if (it != x_.nodes_.end() && *it == n) x_.MarkDirty(static_cast<int32_t>(it - x_.nodes_.begin()));
}

void VictimSearch::ApplyChanges() {
  if (x_.large()) {
    const std::vector<int32_t>& log = s_.log_;
    for (size_t k = x_.log_seen_; k < log.size(); ++k) {
      const int32_t pos = x_.local_[static_cast<size_t>(log[k])];
      if (pos >= 0) x_.MarkDirty(pos);
    }
    x_.log_seen_ = log.size();
  } else if (x_.stamp_seen_ != s_.stamps_) {
    for (size_t pos = 0; pos < x_.nodes_.size(); ++pos) {
      if (s_.stamp_[x_.nodes_[pos].index()] > x_.stamp_seen_)
        x_.MarkDirty(static_cast<int32_t>(pos));
    }
  }
  x_.stamp_seen_ = s_.stamps_;
  x_.log_seen_ = s_.log_.size();
}

void VictimSearch::Refresh() {
  ApplyChanges();
  // The cost of a node holding this workload (or the one the costs were
  // last computed for) left it out (or in) as a candidate.
  for (WorkloadId w : {id_, x_.last_}) {
    if (!w.valid()) continue;
    for (const PodPlacement& p : ctx_.state.placements(w)) MarkDirtyNode(p.node);
  }
  x_.last_ = id_;
  if (!x_.built_) {
    x_.built_ = true;
    x_.dirty_list_.clear();
    std::fill(x_.dirty_.begin(), x_.dirty_.end(), 0);
    if (x_.large()) {
      // Only a node holding an allowed class can have a cost: visit those,
      // once each (dirty_ marks them meanwhile).
      for (size_t c = 0; c < x_.answers_.size(); ++c) {
        if (x_.answers_[c] != 1) continue;
        for (NodeId n : pool_.nodes_of(static_cast<int32_t>(c))) {
          const int32_t pos = x_.local_[n.index()];
          if (pos < 0 || x_.dirty_[static_cast<size_t>(pos)] != 0) continue;
          x_.dirty_[static_cast<size_t>(pos)] = 1;
          x_.dirty_list_.push_back(pos);
          Recompute(pos);
        }
      }
      for (int32_t pos : x_.dirty_list_) x_.dirty_[static_cast<size_t>(pos)] = 0;
      x_.dirty_list_.clear();
    } else {
      for (size_t pos = 0; pos < x_.nodes_.size(); ++pos) Recompute(static_cast<int32_t>(pos));
    }
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
      const size_t i = static_cast<size_t>(e.pos);
      return x_.has_cost_[i] == 0 || x_.version_[i] != e.version;
    });
    std::make_heap(x_.heap_.begin(), x_.heap_.end(), HeapAfter);
  }
}

bool VictimSearch::Candidate(const VictimPool::OnNode& e) const {
  return x_.answers_[static_cast<size_t>(e.cls)] == 1 && s_.Available(e.workload, id_);
}

const VictimKey& VictimSearch::KeyOf(WorkloadId v) {
  auto [it, added] = s_.keys_.try_emplace(v.value());
  if (added) it->second = policy_.Key(v);
  return it->second;
}

namespace {

// What one node has free for a pipelined pod, and the question "does the
// pod fit once these candidates are gone?".
class NodeRoom {
 public:
  NodeRoom(const ClusterState& state, NodeId n, const Workload& w,
           const std::vector<const VictimPool::OnNode*>& candidates,
           const std::vector<int64_t>& shares, std::vector<int64_t>* held,
           std::vector<int64_t>* rows)
      : q_(w.request),
        gpus_(static_cast<size_t>(state.gpus(n))),
        c_(candidates),
        shares_(shares),
        held_(*held),
        rows_(*rows) {
    held_.resize(2 * gpus_);
    for (size_t d = 0; d < gpus_; ++d) {
      held_[d] = state.device_held(n, static_cast<int32_t>(d));
      idle_ += held_[d] == 0 ? 1 : 0;
    }
    cpu_ = state.free_cpu_pipelined(n);
    memory_ = state.free_memory_pipelined(n);
    milli_ = q_.MilliOn(state.gpu_memory_mib(n));
  }
  bool Fits(const std::vector<int32_t>& taken) const {
    int64_t cpu = cpu_, memory = memory_;
    bool mig = false;
    for (int32_t t : taken) {
      const VictimPool::OnNode& e = *c_[static_cast<size_t>(t)];
      cpu += e.cpu;
      memory += e.memory;
      mig = mig || e.mig;
    }
    if (!FitsBeside(cpu, memory, mig)) return false;
    if (!NeedsDevices()) return true;
    int64_t* h = held_.data() + gpus_;
    std::copy(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(gpus_), h);
    for (int32_t t : taken) {
      const int64_t* give = shares_.data() + c_[static_cast<size_t>(t)]->shares;
      for (size_t d = 0; d < gpus_; ++d) h[d] -= give[d];
    }
    return DevicesFit(h);
  }
  // Fits for the sets of one size taken in lexicographic order, which
  // share prefixes: what the set's first j candidates leave is kept per j
  // (a row of CPU, memory, MIG and each device's GPU held), so the next set
  // recomputes the rows after the first position that changed.
  void Take(const std::vector<int32_t>& set, size_t changed) {
    const size_t stride = gpus_ + 3;
    rows_.resize((set.size() + 1) * stride);
    int64_t* row = rows_.data();
    if (changed == 0) {
      row[0] = cpu_;
      row[1] = memory_;
      row[2] = 0;
      std::copy(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(gpus_), row + 3);
    }
    for (size_t j = changed; j < set.size(); ++j) {
      const int64_t* in = row + j * stride;
      int64_t* out = row + (j + 1) * stride;
      const VictimPool::OnNode& e = *c_[static_cast<size_t>(set[j])];
      out[0] = in[0] + e.cpu;
      out[1] = in[1] + e.memory;
      out[2] = in[2] | (e.mig ? 1 : 0);
      const int64_t* give = shares_.data() + e.shares;
      for (size_t d = 0; d < gpus_; ++d) out[3 + d] = in[3 + d] - give[d];
    }
  }
  // Whether the pod fits once the set last given to Take, of `size`
  // candidates, is gone (the same answer as Fits).
  bool TakenFits(size_t size) const {
    const int64_t* row = rows_.data() + size * (gpus_ + 3);
    if (!FitsBeside(row[0], row[1], row[2] != 0)) return false;
    return !NeedsDevices() || DevicesFit(row + 3);
  }
  // The least GPU milli any fitting set must give back on this node's
  // devices: the pod needs gpu_devices devices it fits on, and each device
  // it does not fit on yet needs what is held there beyond room for it.
  int64_t FreedBound() const {
    constexpr size_t kMaxDevices = 64;
    // (0, a bound that always holds, beyond that many devices.)
    if (q_.gpu_devices == 0 || q_.mig() || milli_ == 0 || gpus_ > kMaxDevices) return 0;
    int64_t need[kMaxDevices] = {};
    const size_t devices = gpus_;
    for (size_t d = 0; d < devices; ++d) {
      const int64_t h = held_[d];
      need[d] = milli_ == 1000 ? h : std::max<int64_t>(0, h + milli_ - 1000);
    }
    const size_t pods = std::min(devices, static_cast<size_t>(q_.gpu_devices));
    std::partial_sort(need, need + pods, need + devices);
    int64_t freed = 0;
    for (size_t d = 0; d < pods; ++d) freed += need[d];
    return freed;
  }
  // With this much CPU and memory free (and a MIG instance freed or not):
  // false when the pod cannot fit whatever its devices.
  bool FitsBeside(int64_t cpu, int64_t memory, bool mig) const {
    if (cpu < q_.cpu_milli || memory < q_.memory_mib) return false;
    if (q_.gpu_devices == 0) return true;
    if (q_.mig()) return mig;
    return milli_ != 0;
  }
  // Whether the fit also depends on the devices' GPU held.
  bool NeedsDevices() const { return q_.gpu_devices > 0 && !q_.mig(); }
  // Whether enough devices, holding `held` each, have room for the pod.
  bool DevicesFit(const int64_t* held) const {
    int32_t fitting = 0;
    for (size_t d = 0; d < gpus_; ++d) {
      if (milli_ == 1000 ? held[d] == 0 : held[d] + milli_ <= 1000) ++fitting;
    }
    return fitting >= q_.gpu_devices;
  }
  // The fewest candidates any fitting set can have.
  int32_t LowerBound() const {
    int32_t bound = 1;
    auto at_least = [&](int64_t short_by, int64_t most) {
      if (short_by <= 0 || most <= 0) return;
      bound = std::max(bound, static_cast<int32_t>((short_by + most - 1) / most));
    };
    int64_t cpu = 0, memory = 0, devices = 0;
    for (const VictimPool::OnNode* e : c_) {
      cpu = std::max(cpu, e->cpu);
      memory = std::max(memory, e->memory);
      devices = std::max<int64_t>(devices, e->devices);
    }
    at_least(q_.cpu_milli - cpu_, cpu);
    at_least(q_.memory_mib - memory_, memory);
    if (q_.gpu_devices > 0 && !q_.mig() && milli_ == 1000) {
      at_least(q_.gpu_devices - idle_, devices);
    }
    return bound;
  }

 private:
  const PodRequest& q_;
  size_t gpus_;
  const std::vector<const VictimPool::OnNode*>& c_;
  const std::vector<int64_t>& shares_;
  std::vector<int64_t>& held_;  // the node's, then a working copy
  std::vector<int64_t>& rows_;  // Take's rows
  int64_t idle_ = 0;
  int64_t cpu_ = 0, memory_ = 0, milli_ = 0;
};

}  // namespace

VictimIndex::Cost VictimSearch::ScoreOf(NodeId n) const {
  Cost score;
  const int64_t sign = ctx_.snapshot.strategy == PlacementStrategy::kBinpack ? 1 : -1;
  score.k1 = sign * ctx_.state.free_gpu_pipelined(n);
  score.k2 = sign * ctx_.state.free_cpu_pipelined(n);
  score.k3 = sign * ctx_.state.free_memory_pipelined(n);
  score.node = n.value();
  return score;
}

bool VictimSearch::Evaluate(NodeId n, Cost* cost, bool* capped, std::vector<WorkloadId>* victims,
                            bool bound) {
  std::vector<const VictimPool::OnNode*>& candidates = s_.candidates_;
  candidates.clear();
  for (const VictimPool::OnNode& e : pool_.on_node(n)) {
    if (Candidate(e)) candidates.push_back(&e);
  }
  if (candidates.empty()) return false;
  // Lexicographic order of index sets then follows victim order, so the
  // first cheapest set found is the one victim order prefers.
  if (victims != nullptr) {
    std::sort(candidates.begin(), candidates.end(),
              [&](const VictimPool::OnNode* a, const VictimPool::OnNode* b) {
                return KeyOf(a->workload) < KeyOf(b->workload);
              });
  }
  NodeRoom room(ctx_.state, n, w_, candidates, pool_.shares(), &s_.held_, &s_.rows_);
  const int32_t k = static_cast<int32_t>(candidates.size());
  std::vector<int32_t>& set = s_.set_;
  std::vector<int32_t>& best = s_.best_;
  set.resize(static_cast<size_t>(k));
  for (int32_t i = 0; i < k; ++i) set[static_cast<size_t>(i)] = i;
  if (!room.Fits(set)) return false;
  if (bound) {
    // No fitting set has fewer victims than LowerBound; of that many, none
    // gives back less GPU than the smallest holders, nor less than the pod
    // needs freed here (a victim's GPU counts all it holds, here and
    // elsewhere).
    const int32_t fewest = room.LowerBound();
    std::vector<int64_t>& gpu = s_.bound_gpu_;
    gpu.clear();
    for (const VictimPool::OnNode* e : candidates)
      gpu.push_back(pool_.facts(e->cls).held[Resource::kGpu]);
    const size_t smallest = std::min(gpu.size(), static_cast<size_t>(fewest));
    std::partial_sort(gpu.begin(), gpu.begin() + static_cast<std::ptrdiff_t>(smallest), gpu.end());
    int64_t least = 0;
    for (size_t i = 0; i < smallest; ++i) least += gpu[i];
    *cost = ScoreOf(n);
    cost->victims = fewest;
    cost->gpu = std::max(least, room.FreedBound());
    *capped = false;
    return true;
  }

  auto gpu_of = [&](const std::vector<int32_t>& taken) {
    int64_t g = 0;
    for (int32_t t : taken) {
      g += pool_.facts(candidates[static_cast<size_t>(t)]->cls).held[Resource::kGpu];
    }
    return g;
  };
  auto finish = [&](const std::vector<int32_t>& taken, bool bounded) {
    *cost = ScoreOf(n);
    cost->victims = static_cast<int32_t>(taken.size());
    cost->gpu = gpu_of(taken);
    *capped = bounded;
    if (victims != nullptr) {
      victims->clear();
      for (int32_t t : taken) victims->push_back(candidates[static_cast<size_t>(t)]->workload);
    }
    return true;
  };

  // Every set of each size from the lower bound up, in lexicographic order;
  // the first size with a set that fits is the fewest victims.
  int32_t looked = 0;
  int64_t best_gpu = 0;
  for (int32_t size = room.LowerBound(); size <= k && looked <= kMaxSetsPerNode; ++size) {
    best.clear();
    set.resize(static_cast<size_t>(size));
    for (int32_t i = 0; i < size; ++i) set[static_cast<size_t>(i)] = i;
    size_t changed = 0;  // the first position of set that differs from the last set's
    while (looked <= kMaxSetsPerNode) {
      ++looked;
      room.Take(set, changed);
      if (room.TakenFits(static_cast<size_t>(size))) {
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
      changed = static_cast<size_t>(i);
    }
    if (!best.empty() && looked <= kMaxSetsPerNode) return finish(best, false);
  }
  // Too many sets to look at: the largest holders on this node first (an
  // order that does not depend on victim order) until the pod fits.
  std::vector<int32_t>& order = s_.order_;
  order.resize(static_cast<size_t>(k));
  for (int32_t i = 0; i < k; ++i) order[static_cast<size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const VictimPool::OnNode& ea = *candidates[static_cast<size_t>(a)];
    const VictimPool::OnNode& eb = *candidates[static_cast<size_t>(b)];
    if (ea.gpu_here != eb.gpu_here) return ea.gpu_here > eb.gpu_here;
    return ea.workload < eb.workload;
  });
  set.clear();
  for (int32_t t : order) {
    set.push_back(t);
    if (room.Fits(set)) break;
  }
  std::sort(set.begin(), set.end());
  return finish(set, true);
}

void VictimSearch::Recompute(int32_t pos, bool exact) {
  const size_t i = static_cast<size_t>(pos);
  if (x_.has_cost_[i] != 0) {
    x_.has_cost_[i] = 0;
    ++x_.version_[i];
  }
  x_.refusals_at_[i] = x_.refusals_;
  // The fresh reference always searches; a kept index searches a node
  // only once its bound reaches the top of the heap.
  const bool bound = !exact && !ctx_.fresh_victim_search;
  x_.exact_[i] = bound ? 0 : 1;
  Cost cost;
  bool capped = false;
  const bool fits = Evaluate(x_.nodes_[i], &cost, &capped, nullptr, bound);
  const uint8_t bounded = fits && capped ? 1 : 0;
  if (bounded != x_.capped_[i]) {
    x_.capped_[i] = bounded;
    if (bounded != 0) {
      x_.capped_list_.push_back(pos);
    } else {
      std::erase(x_.capped_list_, pos);
    }
  }
  if (!fits) return;
  x_.cost_[i] = cost;
  x_.has_cost_[i] = 1;
  x_.heap_.push_back({cost, pos, x_.version_[i]});
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
  std::vector<WorkloadId> chosen;
  while (true) {
    ApplyChanges();
    Flush();
    const std::optional<int32_t> top = Cheapest();
    if (!top) return std::nullopt;
    const size_t i = static_cast<size_t>(*top);
    if (x_.refusals_at_[i] != x_.refusals_) {
      // A class was refused since this cost was computed: it may have
      // grown. Recompute it and look again.
      x_.MarkDirty(*top);
      continue;
    }
    if (x_.exact_[i] == 0) {
      // A lower bound: the node's cost is at least that, so every node
      // below it in the heap costs more. Search it and look again.
      const size_t entries = x_.heap_.size();
      Recompute(*top, /*exact=*/true);
      if (x_.heap_.size() > entries) std::push_heap(x_.heap_.begin(), x_.heap_.end(), HeapAfter);
      continue;
    }
    const NodeId n = x_.nodes_[i];
    Cost cost;
    bool capped = false;
    SLUICE_CHECK(Evaluate(n, &cost, &capped, &chosen));
    SLUICE_CHECK(cost.victims == x_.cost_[i].victims && cost.gpu == x_.cost_[i].gpu);
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
        // The class is refused from now on: the index moves to the new
        // answers (and to their key, unless another index has it).
        if (!ctx_.fresh_victim_search) {
          auto it = s_.shared_.find(KeyOf(x_));
          if (it != s_.shared_.end() && it->second.get() == &x_) {
            s_.shared_positions_ -= x_.nodes_.size();
            s_.shared_.erase(it);
          }
        }
        kind_.answer[static_cast<size_t>(c)] = 0;
        kind_.refused_in_attempt = true;
        Transition(x_, kind_.answer);
        if (!ctx_.fresh_victim_search) {
          if (s_.shared_.emplace(KeyOf(x_), kind_.indexes[value_]).second) {
            s_.shared_positions_ += x_.nodes_.size();
          }
        }
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
  // Without a refused class there is nothing to look for on the nodes.
  if (std::find(x_.answers_.begin(), x_.answers_.end(), int8_t{0}) == x_.answers_.end()) {
    return first_refusal_;
  }
  for (NodeId n : x_.nodes_) {
    for (const VictimPool::OnNode& e : pool_.on_node(n)) {
      if (x_.answers_[static_cast<size_t>(e.cls)] != 0 || !s_.Available(e.workload, id_)) continue;
      std::string why;
      if (!policy_.Allows(pool_.facts(e.cls), &why) && !why.empty()) {
        return "victims on " + ctx_.snapshot.node(n).name + " " + why;
      }
    }
  }
  return first_refusal_;
}

}  // namespace sluice
