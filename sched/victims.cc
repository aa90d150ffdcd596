#include "sched/victims.h"

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "sched/gang.h"
#include "sched/pending_reason.h"
#include "sched/placement.h"

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
      for (int32_t d : p.gpus) held_[static_cast<size_t>(d)] -= p.gpu_milli;
      cpu_ += w.request.cpu_milli;
      memory_ += w.request.memory_mib;
    }
  }
  bool Fits(const Workload& w) const {
    const PodRequest& r = w.request;
    if (cpu_ < r.cpu_milli || memory_ < r.memory_mib) return false;
    if (r.gpu_devices == 0) return true;
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
};

using Cost = std::tuple<size_t, int64_t, PlacementScore>;

// The search state of one attempt: the cheapest way to fit one more pod on
// each node, kept in an ordered set and recomputed only for nodes that
// changed (through the ClusterState observer) or that hold a victim found
// to be refused. Victim order is fixed when a victim is first seen, and a
// refused victim stays refused for the attempt: evictions only make the
// policies stricter.
class VictimSearch : public ClusterState::Observer {
 public:
  VictimSearch(CycleContext& ctx, WorkloadId id, const std::vector<NodeId>& nodes,
               const VictimPolicy& policy, const std::vector<std::vector<WorkloadId>>& by_node)
      : ctx_(ctx), id_(id), w_(ctx.snapshot.workload(id)), policy_(policy), by_node_(by_node) {
    for (NodeId n : nodes) {
      in_domain_.insert(n.value());
      Recompute(n);
    }
    ctx_.state.AddObserver(this);
  }
  ~VictimSearch() override { ctx_.state.RemoveObserver(this); }
  VictimSearch(const VictimSearch&) = delete;
  VictimSearch& operator=(const VictimSearch&) = delete;

  void NodeChanged(NodeId n) override {
    if (in_domain_.count(n.value()) != 0) dirty_.insert(n.value());
  }

  // Evicts the victims of the cheapest node and returns it, or nullopt.
  std::optional<NodeId> EvictForOnePod(std::vector<WorkloadId>* victims, std::string* why_not) {
    while (true) {
      Flush();
      if (order_.empty()) return std::nullopt;
      const NodeId n(order_.begin()->second);
      const std::vector<WorkloadId> chosen = plans_[n.value()];
      bool refused = false;
      for (WorkloadId v : chosen) {
        std::string why;
        if (!policy_.Allows(v, &why)) {
          if (why_not->empty() && !why.empty()) {
            *why_not = "victims on " + ctx_.snapshot.node(n).name + " " + why;
          }
          Refuse(v);
          refused = true;
        }
      }
      if (refused) continue;
      for (WorkloadId v : chosen) {
        ctx_.state.Evict(v);
        victims->push_back(v);
      }
      return n;
    }
  }

 private:
  void Refuse(WorkloadId v) {
    refused_.insert(v.value());
    for (const PodPlacement& p : ctx_.state.placements(v)) NodeChanged(p.node);
  }

  void Flush() {
    std::vector<int32_t> dirty(dirty_.begin(), dirty_.end());
    dirty_.clear();
    for (int32_t n : dirty) Recompute(NodeId(n));
  }

  const VictimKey& KeyOf(WorkloadId v) {
    auto it = keys_.find(v.value());
    if (it == keys_.end()) it = keys_.emplace(v.value(), policy_.Key(v)).first;
    return it->second;
  }

  void Recompute(NodeId n) {
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
      if (first_look_.insert(v.value()).second) {
        std::string why;
        if (!policy_.Allows(v, &why)) {
          refused_.insert(v.value());
          if (why_not_.empty() && !why.empty()) {
            why_not_ = "victims on " + ctx_.snapshot.node(n).name + " " + why;
          }
          continue;
        }
      }
      candidates_.emplace_back(KeyOf(v), v);
    }
    if (candidates_.empty()) return;
    std::sort(candidates_.begin(), candidates_.end());
    NodeSimulation sim(ctx_.state, n, &scratch_);
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

 public:
  const std::string& why_not() const { return why_not_; }

 private:
  CycleContext& ctx_;
  WorkloadId id_;
  const Workload& w_;
  const VictimPolicy& policy_;
  const std::vector<std::vector<WorkloadId>>& by_node_;
  std::unordered_set<int32_t> in_domain_;
  std::set<int32_t> dirty_;
  std::unordered_set<int32_t> refused_;
  std::unordered_set<int32_t> first_look_;
  std::unordered_map<int32_t, VictimKey> keys_;
  std::unordered_map<int32_t, Cost> costs_;
  std::unordered_map<int32_t, std::vector<WorkloadId>> plans_;
  std::set<std::pair<Cost, int32_t>> order_;
  std::vector<std::pair<VictimKey, WorkloadId>> candidates_;
  std::vector<int64_t> scratch_;
  std::string why_not_;
};

}  // namespace

VictimOutcome PlaceWithVictims(CycleContext& ctx, WorkloadId id, const VictimPolicy& policy,
                               const std::vector<std::vector<WorkloadId>>& by_node) {
  const Workload& w = ctx.snapshot.workload(id);
  const int32_t running = static_cast<int32_t>(ctx.state.placements(id).size());
  const int32_t missing = w.pods - running;
  const int32_t needed = std::max(0, w.min_available - running);
  PodPlacer placer(ctx.snapshot, ctx.state);
  const size_t checkpoint = ctx.state.Checkpoint();
  VictimOutcome out;
  for (const Domain& domain : GangDomains(ctx, id)) {
    const std::vector<NodeId> nodes = DomainNodes(ctx, domain);
    std::optional<VictimSearch> search;
    std::vector<WorkloadId> victims;
    int32_t count = 0;
    bool pipelined = false;
    int64_t waiting = 0;
    for (; count < missing; ++count) {
      std::optional<PodPlacement> p = FindBestPipelined(ctx, w, domain, nodes, placer);
      if (!p) {
        if (!search) search.emplace(ctx, id, nodes, policy, by_node);
        std::optional<NodeId> n = search->EvictForOnePod(&victims, &out.why_not);
        if (!n || !placer.ScorePipelined(w, *n)) break;
        p = placer.PlaceOnPipelined(w, *n);
      }
      if (QueueRuleViolation(w, PodResources(w, *p), ctx.state)) break;
      if (placer.NeedsReleasing(w, *p)) {
        pipelined = true;
        waiting += p->gpu_milli * static_cast<int64_t>(p->gpus.size());
      }
      ctx.state.Bind(id, *p);
    }
    if (search && out.why_not.empty()) out.why_not = search->why_not();
    if (count > 0 && count >= needed) {
      const std::vector<PodPlacement>& all = ctx.state.placements(id);
      out.placed = true;
      out.pipelined = pipelined;
      out.waiting_gpu = waiting;
      out.victims = std::move(victims);
      out.pods.assign(all.end() - count, all.end());
      return out;
    }
    search.reset();
    ctx.state.Rollback(checkpoint);
  }
  return out;
}

}  // namespace sluice
