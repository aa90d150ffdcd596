#include "sched/gang.h"

#include <algorithm>
#include <map>
#include <set>
#include <span>

#include "sched/pending_reason.h"

namespace sluice {

namespace {

// Orders domains best first by their free GPU (stable: ties keep label order).
void SortBestFirst(const Snapshot& s, std::vector<std::pair<int64_t, const Domain*>>* by_free,
                   DomainOrder* out) {
  const bool binpack = s.strategy == PlacementStrategy::kBinpack;
  std::stable_sort(by_free->begin(), by_free->end(), [&](const auto& a, const auto& b) {
    return binpack ? a.first < b.first : a.first > b.first;
  });
  out->best_first.reserve(by_free->size());
  for (const auto& [free, d] : *by_free) out->best_first.push_back(d);
}

}  // namespace

DomainOrder GangDomains(CycleContext& ctx, WorkloadId id) {
  const Snapshot& s = ctx.snapshot;
  const Workload& w = s.workload(id);
  DomainOrder out;
  // Pods already running fix the topology domain.
  const std::vector<PodPlacement>& running = ctx.state.placements(id);
  const std::string* fixed = nullptr;
  if (!w.topology.empty() && !running.empty()) {
    fixed = FindLabel(s.node(running.front().node).labels, w.topology);
    if (fixed == nullptr) return out;
  }
  if (w.topology.empty() && ctx.index != nullptr) {
    // One domain, the whole cluster: no map of label values to build, and
    // no free GPU to sum (it only orders domains).
    const std::vector<int32_t>& classes = ctx.index->MatchingClasses(w);
    if (classes.empty()) return out;
    out.owned.resize(1);
    out.owned[0].index_classes = classes;
    out.best_first.push_back(&out.owned[0]);
    return out;
  }
  std::vector<std::pair<int64_t, const Domain*>> by_free;
  if (ctx.index != nullptr && fixed == nullptr) {
    // Which classes (and nodes) make up each domain is the same all cycle;
    // only the free GPU that orders them changes.
    auto [kept, added] = ctx.topology_domains.try_emplace(ctx.index->MatchListOf(w));
    std::vector<Domain>& domains = kept->second;
    if (added) {
      std::map<std::string, Domain> by_value;
      for (int32_t c : ctx.index->MatchingClasses(w)) {
        const std::string* label = ctx.index->ClassLabel(c, w.topology);
        if (label == nullptr) continue;
        Domain& d = by_value[*label];
        d.value = *label;
        d.own_classes.push_back(c);
      }
      domains.reserve(by_value.size());
      for (auto& kv : by_value) {
        Domain& d = domains.emplace_back(std::move(kv.second));
        d.nodes = DomainNodes(ctx, d);
      }
    }
    by_free.reserve(domains.size());
    for (const Domain& d : domains) {
      int64_t free = 0;
      for (int32_t c : d.classes()) free += ctx.index->ClassFreeGpu(c);
      by_free.emplace_back(free, &d);
    }
    SortBestFirst(s, &by_free, &out);
    return out;
  }
  std::map<std::string, Domain> by_value;
  auto domain_of = [&](const std::string* label) -> Domain* {
    if (w.topology.empty()) return &by_value[""];
    if (label == nullptr || (fixed != nullptr && *label != *fixed)) return nullptr;
    Domain* d = &by_value[*label];
    d->value = *label;
    return d;
  };
  if (ctx.index != nullptr) {
    for (int32_t c : ctx.index->MatchingClasses(w)) {
      if (Domain* d = domain_of(ctx.index->ClassLabel(c, w.topology))) {
        d->own_classes.push_back(c);
        d->free_gpu += ctx.index->ClassFreeGpu(c);
      }
    }
  } else {
    for (size_t i = 0; i < s.nodes.size(); ++i) {
      const Node& n = s.nodes[i];
      if (!NodeFilter::MatchesClass(w, n)) continue;
      if (Domain* d = domain_of(FindLabel(n.labels, w.topology))) {
        d->nodes.emplace_back(static_cast<int32_t>(i));
        d->free_gpu += ctx.state.free_gpu(NodeId(static_cast<int32_t>(i)));
      }
    }
  }
  out.owned.reserve(by_value.size());
  for (auto& kv : by_value) out.owned.push_back(std::move(kv.second));
  by_free.reserve(out.owned.size());
  for (const Domain& d : out.owned) by_free.emplace_back(d.free_gpu, &d);
  SortBestFirst(s, &by_free, &out);
  return out;
}

std::vector<NodeId> DomainNodes(const CycleContext& ctx, const Domain& d) {
  if (ctx.index == nullptr || !d.nodes.empty()) return d.nodes;
  std::vector<NodeId> nodes;
  for (int32_t c : d.classes()) {
    const std::vector<NodeId>& members = ctx.index->ClassNodes(c);
    nodes.insert(nodes.end(), members.begin(), members.end());
  }
  // Classes of consecutive nodes (a rack each) often come out in order.
  if (!std::is_sorted(nodes.begin(), nodes.end())) std::sort(nodes.begin(), nodes.end());
  return nodes;
}

namespace {

std::optional<PodPlacement> FindBest(const CycleContext& ctx, const Workload& w, const Domain& d,
                                     const PodPlacer& placer) {
  if (ctx.index == nullptr) return placer.FindBest(w, d.nodes);
  // MIG pods are few and their nodes are set apart in classes of their own:
  // scan those.
  if (w.request.mig()) return placer.FindBest(w, DomainNodes(ctx, d));
  return ctx.index->FindBest(w, d.classes(), placer);
}

// A domain's nodes in node order: its own list when it keeps one, else
// worked out into *buffer.
std::span<const NodeId> NodesOf(const CycleContext& ctx, const Domain& d,
                                std::vector<NodeId>* buffer) {
  if (!d.nodes.empty()) return d.nodes;
  *buffer = DomainNodes(ctx, d);
  return *buffer;
}

bool InDomain(const CycleContext& ctx, const Domain& d, NodeId n) {
  if (ctx.index == nullptr) return std::binary_search(d.nodes.begin(), d.nodes.end(), n);
  const std::span<const int32_t> classes = d.classes();
  return std::find(classes.begin(), classes.end(), ctx.index->ClassOf(n)) != classes.end();
}

}  // namespace

std::optional<PodPlacement> FindBestPipelined(const CycleContext& ctx, const Workload& w,
                                              const Domain& domain, const PodPlacer& placer) {
  if (std::optional<PodPlacement> idle = FindBest(ctx, w, domain, placer)) return idle;
  if (!ctx.state.any_releasing()) return std::nullopt;
  if (ctx.index != nullptr && !w.request.mig()) {
    std::optional<NodeId> n = ctx.index->FindBestReleasing(w, domain.classes(), placer);
    if (!n) return std::nullopt;
    return placer.PlaceOnReleasing(w, *n);
  }
  std::optional<PlacementScore> best;
  NodeId best_node;
  // Only nodes with something releasing can take a pipelined pod, and none
  // of the domain takes it without (FindBest found none); the score breaks
  // every tie by node, so the order they are seen in is moot.
  for (NodeId n : ctx.state.nodes_ever_releasing()) {
    if (!ctx.state.has_releasing(n) || !InDomain(ctx, domain, n)) continue;
    std::optional<PlacementScore> c = placer.ScoreReleasing(w, n);
    if (c && (!best || *c < *best)) {
      best = c;
      best_node = n;
    }
  }
  if (!best) return std::nullopt;
  return placer.PlaceOnReleasing(w, best_node);
}

GangOutcome PlaceGang(CycleContext& ctx, WorkloadId id, const GangMode& mode) {
  const Workload& w = ctx.snapshot.workload(id);
  const int32_t running = static_cast<int32_t>(ctx.state.placements(id).size());
  const int32_t missing = w.pods - running;
  const int32_t needed = std::max(0, w.min_available - running);
  const bool pipelining = mode.pipelining || mode.victims != nullptr;
  PodPlacer placer(ctx.snapshot, ctx.state, ctx.mix, ctx.fragmentation);
  const size_t checkpoint = ctx.state.Checkpoint();
  if (mode.victims != nullptr) mode.searches->BeginAttempt();
  GangOutcome out;
  const DomainOrder domains = GangDomains(ctx, id);
  std::vector<NodeId> domain_nodes;  // NodesOf's buffer
  for (const Domain* next : domains.best_first) {
    const Domain& domain = *next;
    // Once a domain has given the reason victims were refused, a domain
    // that cannot hold the gang even with every allowed victim gone is
    // skipped without a search: it could change neither the outcome nor
    // the reason.
    if (mode.victims != nullptr && !out.why_not.empty() &&
        !mode.searches->MayHold(id, domain.value, NodesOf(ctx, domain, &domain_nodes),
                                *mode.victims, std::max(needed, 1))) {
      continue;
    }
    std::optional<VictimSearch> search;  // built on the first pod that needs it
    GangOutcome attempt;
    std::set<std::pair<int32_t, int32_t>> waited_on;  // (node, device)
    int32_t count = 0;
    for (; count < missing; ++count) {
      std::optional<PodPlacement> p =
          pipelining ? FindBestPipelined(ctx, w, domain, placer) : FindBest(ctx, w, domain, placer);
      // Victims evicted for this pod are undone if the pod cannot stand,
      // so that an elastic workload never keeps evictions it did not use.
      const size_t before_victims = ctx.state.Checkpoint();
      const size_t victims_so_far = attempt.victims.size();
      auto undo_victims = [&] {
        ctx.state.Rollback(before_victims);
        attempt.victims.resize(victims_so_far);
      };
      if (!p && mode.victims != nullptr) {
        if (!search) {
          search.emplace(
              ctx, id, domain.value, [&] { return DomainNodes(ctx, domain); }, *mode.victims,
              *mode.searches);
        }
        std::optional<NodeId> n = search->EvictForOnePod(&attempt.victims);
        if (n && placer.ScorePipelined(w, *n)) {
          p = placer.PlaceOnPipelined(w, *n);
        } else {
          undo_victims();
        }
      }
      if (!p) break;
      if (std::optional<std::string> why = QueueRuleViolation(w, PodResources(w, *p), ctx.state)) {
        if (out.rule_violation.empty()) out.rule_violation = std::move(*why);
        undo_victims();
        break;
      }
      if (pipelining && placer.NeedsReleasing(w, *p)) {
        attempt.pipelined = true;
        for (int32_t d : p->gpus) {
          // Count each device's releasing GPU once, however many pods wait on it.
          if (waited_on.insert({p->node.value(), d}).second) {
            attempt.waiting_gpu += ctx.state.device_releasing(p->node, d);
          }
        }
      }
      ctx.state.Bind(id, *p);
    }
    if (count > 0 && count >= needed) {
      const std::vector<PodPlacement>& all = ctx.state.placements(id);
      attempt.placed = true;
      attempt.pods.assign(all.end() - count, all.end());
      return attempt;
    }
    if (search && out.why_not.empty()) out.why_not = search->why_not();
    out.max_placed = std::max(out.max_placed, count);
    search.reset();
    ctx.state.Rollback(checkpoint);
  }
  return out;
}

}  // namespace sluice
