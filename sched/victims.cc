#include "sched/victims.h"

#include <algorithm>

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

VictimSearch::VictimSearch(CycleContext& ctx, WorkloadId id, const std::vector<NodeId>& nodes,
                           const VictimPolicy& policy,
                           const std::vector<std::vector<WorkloadId>>& by_node)
    : ctx_(ctx), id_(id), w_(ctx.snapshot.workload(id)), policy_(policy), by_node_(by_node) {
  for (NodeId n : nodes) {
    in_domain_.insert(n.value());
    Recompute(n);
  }
  ctx_.state.AddObserver(this);
}

VictimSearch::~VictimSearch() { ctx_.state.RemoveObserver(this); }

void VictimSearch::NodeChanged(NodeId n) { MarkDirty(n); }

void VictimSearch::MarkDirty(NodeId n) {
  if (in_domain_.count(n.value()) != 0) dirty_.insert(n.value());
}

std::optional<NodeId> VictimSearch::EvictForOnePod(std::vector<WorkloadId>* victims) {
  while (true) {
    Flush();
    if (order_.empty()) return std::nullopt;
    const NodeId n(order_.begin()->second);
    const std::vector<WorkloadId> chosen = plans_[n.value()];
    // Each victim is judged after the ones before it are gone, so that
    // together they cannot take a queue below what one alone may.
    const size_t checkpoint = ctx_.state.Checkpoint();
    const size_t before = victims->size();
    bool refused = false;
    for (WorkloadId v : chosen) {
      std::string why;
      if (!policy_.Allows(v, &why)) {
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
  refused_.insert(v.value());
  if (why_not_.empty() && !why.empty()) {
    why_not_ = "victims on " + ctx_.snapshot.node(where).name + " " + why;
  }
  for (const PodPlacement& p : ctx_.state.placements(v)) MarkDirty(p.node);
}

void VictimSearch::Flush() {
  const std::vector<int32_t> dirty(dirty_.begin(), dirty_.end());
  dirty_.clear();
  for (int32_t n : dirty) Recompute(NodeId(n));
}

const VictimKey& VictimSearch::KeyOf(WorkloadId v) {
  auto it = keys_.find(v.value());
  if (it == keys_.end()) it = keys_.emplace(v.value(), policy_.Key(v)).first;
  return it->second;
}

void VictimSearch::Recompute(NodeId n) {
  auto old = costs_.find(n.value());
  if (old != costs_.end()) {
    order_.erase({old->second, n.value()});
    costs_.erase(old);
    plans_.erase(n.value());
  }
  candidates_.clear();
  for (WorkloadId v : by_node_[n.index()]) {
    // Workloads placed, pipelined or evicted in this cycle stay as decided.
    if (v == id_ || ctx_.decided[v.index()] || ctx_.state.is_releasing(v)) continue;
    if (refused_.count(v.value()) != 0) continue;
    // A MIG pod is helped only by victims on instances of its profile, and
    // a whole or fractional pod never by victims on MIG instances.
    const PodRequest& vr = ctx_.snapshot.workload(v).request;
    if (w_.request.mig() ? vr.mig_profile != w_.request.mig_profile : vr.mig()) continue;
    if (checked_.insert(v.value()).second) {
      std::string why;
      if (!policy_.Allows(v, &why)) {
        Refuse(v, n, why);
        continue;
      }
    }
    candidates_.emplace_back(KeyOf(v), v);
  }
  if (candidates_.empty()) return;
  std::sort(candidates_.begin(), candidates_.end());
  NodeSimulation sim(ctx_.state, n, &scratch_);
  sim.Want(w_.request.mig_profile);
  std::vector<WorkloadId> chosen;
  int64_t evicted_gpu = 0;
  bool fits = false;
  for (const auto& [key, v] : candidates_) {
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
  const Cost cost{chosen.size(), evicted_gpu, score};
  costs_.emplace(n.value(), cost);
  order_.insert({cost, n.value()});
  plans_[n.value()] = std::move(chosen);
}

}  // namespace sluice
