#include "sched/victims.h"

#include <algorithm>

#include "common/check.h"

namespace sluice {

std::vector<std::vector<WorkloadId>> WorkloadsByNode(const Snapshot& s) {
  std::vector<std::vector<WorkloadId>> out(s.nodes.size());
  for (size_t i = 0; i < s.workloads.size(); ++i) {
    const Workload& w = s.workloads[i];
    if (!w.running || w.releasing) continue;
    for (const PodPlacement& p : w.placement) {
      std::vector<WorkloadId>& list = out[p.node.index()];
      if (list.empty() || list.back() != WorkloadId(static_cast<int32_t>(i))) {
        list.emplace_back(static_cast<int32_t>(i));
      }
    }
  }
  for (std::vector<WorkloadId>& list : out) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  return out;
}

int64_t HeldAmount(const ClusterState& state, WorkloadId w, Resource r) {
  int64_t total = 0;
  for (const PodPlacement& p : state.placements(w)) {
    total += PodResources(state.snapshot().workload(w), p)[r];
  }
  return total;
}

namespace {

// A node's resources as a pipelined placement sees them, with some victims
// taken away, to ask "does the pod fit yet?" without touching the state.
class NodeSimulation {
 public:
  NodeSimulation(const ClusterState& state, NodeId n, std::vector<int64_t>* scratch)
      : state_(state), node_(n), held_(*scratch) {
    const Node& node = state.snapshot().node(n);
    held_.resize(static_cast<size_t>(node.gpus));
    for (int32_t d = 0; d < node.gpus; ++d) held_[static_cast<size_t>(d)] = state.device_held(n, d);
    cpu_ = state.free_cpu_pipelined(n);
    memory_ = state.free_memory_pipelined(n);
  }
  void Remove(const Workload& w, const std::vector<PodPlacement>& pods) {
    for (const PodPlacement& p : pods) {
      if (p.node != node_) continue;
      if (p.mig()) {
        if (w.request.mig_profile == profile_wanted_) freed_instances_ = true;
        cpu_ += w.request.cpu_milli;
        memory_ += w.request.memory_mib;
        continue;
      }
      for (int32_t d : p.gpus) held_[static_cast<size_t>(d)] -= p.gpu_milli;
      cpu_ += w.request.cpu_milli;
      memory_ += w.request.memory_mib;
    }
  }
  // The MIG profile the pod needs: a removed victim that held one frees it.
  void Want(int32_t profile) { profile_wanted_ = profile; }
  bool Fits(const Workload& w) const {
    const PodRequest& r = w.request;
    if (cpu_ < r.cpu_milli || memory_ < r.memory_mib) return false;
    if (r.gpu_devices == 0) return true;
    if (r.mig()) return freed_instances_;
    const int64_t milli = r.MilliOn(state_.snapshot().node(node_).gpu_memory_mib);
    if (milli == 0) return false;
    int32_t fitting = 0;
    for (int64_t h : held_) {
      if (milli == 1000 ? h == 0 : h + milli <= 1000) ++fitting;
    }
    return fitting >= r.gpu_devices;
  }

 private:
  const ClusterState& state_;
  NodeId node_;
  std::vector<int64_t>& held_;
  int64_t cpu_ = 0;
  int64_t memory_ = 0;
  int32_t profile_wanted_ = 0;
  bool freed_instances_ = false;
};

}  // namespace

void VictimScratch::Begin(size_t nodes, size_t workloads) {
  if (++epoch_ == 0) {  // wrapped: every old stamp could look current
    for (std::vector<uint32_t>* v :
         {&in_domain_, &dirty_, &has_cost_, &refused_, &checked_, &has_key_}) {
      std::fill(v->begin(), v->end(), 0);
    }
    epoch_ = 1;
  }
  if (in_domain_.size() < nodes) {
    for (std::vector<uint32_t>* v : {&in_domain_, &dirty_, &has_cost_, &version_}) {
      v->resize(nodes, 0);
    }
    costs_.resize(nodes);
    plans_.resize(nodes);
  }
  if (refused_.size() < workloads) {
    for (std::vector<uint32_t>* v : {&refused_, &checked_, &has_key_}) v->resize(workloads, 0);
    keys_.resize(workloads);
  }
  heap_.clear();
  dirty_list_.clear();
}

namespace {

// Min-heap order on (cost, node): the same node a sorted set would give first.
bool HeapAfter(const std::tuple<VictimScratch::Cost, int32_t, uint32_t>& a,
               const std::tuple<VictimScratch::Cost, int32_t, uint32_t>& b) {
  return std::tie(std::get<0>(a), std::get<1>(a)) > std::tie(std::get<0>(b), std::get<1>(b));
}

}  // namespace

VictimSearch::VictimSearch(CycleContext& ctx, WorkloadId id, const std::vector<NodeId>& nodes,
                           const VictimPolicy& policy,
                           const std::vector<std::vector<WorkloadId>>& by_node,
                           VictimScratch* scratch)
    : ctx_(ctx),
      id_(id),
      w_(ctx.snapshot.workload(id)),
      policy_(policy),
      by_node_(by_node),
      x_(scratch != nullptr ? *scratch : own_.emplace()) {
  SLUICE_CHECK(!x_.in_use_);
  x_.in_use_ = true;
  x_.Begin(ctx.snapshot.nodes.size(), ctx.snapshot.workloads.size());
  // Only nodes holding something the policy may take can yield a plan.
  std::vector<NodeId> domain;
  for (NodeId n : nodes) {
    for (WorkloadId v : by_node_[n.index()]) {
      if (Eligible(v)) {
        domain.push_back(n);
        break;
      }
    }
  }
  for (NodeId n : domain) x_.in_domain_[n.index()] = x_.epoch_;
  for (NodeId n : domain) Recompute(n);
  std::make_heap(x_.heap_.begin(), x_.heap_.end(), HeapAfter);
  ctx_.state.AddObserver(this);
}

VictimSearch::~VictimSearch() {
  ctx_.state.RemoveObserver(this);
  x_.in_use_ = false;
}

void VictimSearch::NodeChanged(NodeId n) { MarkDirty(n); }

bool VictimSearch::Eligible(WorkloadId v) const {
  // Workloads placed, pipelined or evicted in this cycle stay as decided.
  if (v == id_ || ctx_.decided[v.index()] != 0 || ctx_.state.is_releasing(v)) return false;
  if (!policy_.MayYield(v)) return false;
  // A MIG pod is helped only by victims on instances of its profile, and a
  // whole or fractional pod never by victims on MIG instances.
  const PodRequest& vr = ctx_.snapshot.workload(v).request;
  return w_.request.mig() ? vr.mig_profile == w_.request.mig_profile : !vr.mig();
}

void VictimSearch::MarkDirty(NodeId n) {
  const size_t i = n.index();
  if (x_.in_domain_[i] != x_.epoch_ || x_.dirty_[i] == x_.epoch_) return;
  x_.dirty_[i] = x_.epoch_;
  x_.dirty_list_.push_back(n.value());
}

std::optional<int32_t> VictimSearch::Cheapest() {
  while (!x_.heap_.empty()) {
    const auto& [cost, n, version] = x_.heap_.front();
    const size_t i = static_cast<size_t>(n);
    if (x_.has_cost_[i] == x_.epoch_ && x_.version_[i] == version) return n;
    std::pop_heap(x_.heap_.begin(), x_.heap_.end(), HeapAfter);
    x_.heap_.pop_back();
  }
  return std::nullopt;
}

std::optional<NodeId> VictimSearch::EvictForOnePod(std::vector<WorkloadId>* victims) {
  while (true) {
    Flush();
    const std::optional<int32_t> cheapest = Cheapest();
    if (!cheapest) return std::nullopt;
    const NodeId n(*cheapest);
    const std::vector<WorkloadId> chosen = x_.plans_[n.index()];
    // Each victim is judged after the ones before it are gone, so that
    // together they cannot take a queue below what one alone may.
    const size_t checkpoint = ctx_.state.Checkpoint();
    const size_t before = victims->size();
    bool refused = false;
    for (WorkloadId v : chosen) {
      std::string why;
      if (!policy_.Allows(v, why_not_.empty() ? &why : nullptr)) {
        Refuse(v, n, why);
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

void VictimSearch::Refuse(WorkloadId v, NodeId where, const std::string& why) {
  x_.refused_[v.index()] = x_.epoch_;
  if (why_not_.empty() && !why.empty()) {
    why_not_ = "victims on " + ctx_.snapshot.node(where).name + " " + why;
  }
  for (const PodPlacement& p : ctx_.state.placements(v)) MarkDirty(p.node);
}

void VictimSearch::Flush() {
  // In node order, as the nodes marked while flushing wait for the next.
  std::vector<int32_t> dirty;
  dirty.swap(x_.dirty_list_);
  std::sort(dirty.begin(), dirty.end());
  for (int32_t n : dirty) x_.dirty_[static_cast<size_t>(n)] = 0;
  for (int32_t n : dirty) {
    const size_t entries = x_.heap_.size();
    Recompute(NodeId(n));
    if (x_.heap_.size() > entries) std::push_heap(x_.heap_.begin(), x_.heap_.end(), HeapAfter);
  }
  if (x_.dirty_list_.empty()) x_.dirty_list_.swap(dirty);  // keep the capacity
  x_.dirty_list_.clear();
}

const VictimKey& VictimSearch::KeyOf(WorkloadId v) {
  const size_t i = v.index();
  if (x_.has_key_[i] != x_.epoch_) {
    x_.keys_[i] = policy_.Key(v);
    x_.has_key_[i] = x_.epoch_;
  }
  return x_.keys_[i];
}

// Leaves the node's plan in the scratch and appends its entry to the heap's
// vector; the caller restores the heap order (the constructor heapifies
// once, Flush pushes each).
void VictimSearch::Recompute(NodeId n) {
  const size_t i = n.index();
  const uint32_t epoch = x_.epoch_;
  if (x_.has_cost_[i] == epoch) {
    x_.has_cost_[i] = 0;
    ++x_.version_[i];
  }
  std::vector<std::pair<VictimKey, WorkloadId>>& candidates = x_.candidates_;
  candidates.clear();
  for (WorkloadId v : by_node_[n.index()]) {
    if (!Eligible(v) || x_.refused_[v.index()] == epoch) continue;
    if (x_.checked_[v.index()] != epoch) {
      x_.checked_[v.index()] = epoch;
      std::string why;
      if (!policy_.Allows(v, why_not_.empty() ? &why : nullptr)) {
        Refuse(v, n, why);
        continue;
      }
    }
    candidates.emplace_back(KeyOf(v), v);
  }
  if (candidates.empty()) return;
  std::sort(candidates.begin(), candidates.end());
  NodeSimulation sim(ctx_.state, n, &x_.held_);
  sim.Want(w_.request.mig_profile);
  std::vector<WorkloadId>& chosen = x_.plans_[i];
  chosen.clear();
  int64_t evicted_gpu = 0;
  bool fits = false;
  for (const auto& [key, v] : candidates) {
    sim.Remove(ctx_.snapshot.workload(v), ctx_.state.placements(v));
    chosen.push_back(v);
    evicted_gpu += HeldAmount(ctx_.state, v, Resource::kGpu);
    if (sim.Fits(w_)) {
      fits = true;
      break;
    }
  }
  if (!fits) return;
  const int64_t sign = ctx_.snapshot.strategy == PlacementStrategy::kBinpack ? 1 : -1;
  PlacementScore score;
  score.k1 = sign * ctx_.state.free_gpu_pipelined(n);
  score.k2 = sign * ctx_.state.free_cpu_pipelined(n);
  score.k3 = sign * ctx_.state.free_memory_pipelined(n);
  score.node = n.value();
  x_.costs_[i] = Cost{chosen.size(), evicted_gpu, score};
  x_.has_cost_[i] = epoch;
  x_.heap_.emplace_back(x_.costs_[i], n.value(), x_.version_[i]);
}

}  // namespace sluice
