#include "sched/placement.h"

#include <algorithm>
#include <array>
#include <tuple>

#include "common/check.h"
#include "sched/mig_placement.h"

namespace sluice {

namespace {

// Free GPU left as a share of the node's GPU: parts per million of a
// node's devices (free milli x 1000 / devices).
constexpr int64_t kShareOfNode = 1000;

}  // namespace

bool NodeFilter::MatchesConstraints(const Workload& w, const Node& n) {
  if (!w.gpu_models.empty() &&
      std::find(w.gpu_models.begin(), w.gpu_models.end(), n.gpu_model) == w.gpu_models.end()) {
    return false;
  }
  for (const auto& [key, value] : w.node_selector) {
    const std::string* v = FindLabel(n.labels, key);
    if (v == nullptr || *v != value) return false;
  }
  if (!w.topology.empty() && FindLabel(n.labels, w.topology) == nullptr) return false;
  return true;
}

bool NodeFilter::OffersMig(const Node& n, int32_t profile) {
  if (!n.has_mig()) return false;
  const MigModel* model = FindMigModel(n.gpu_model);
  return model != nullptr && model->Find(profile) != nullptr;
}

bool NodeFilter::MatchesClass(const Workload& w, const Node& n) {
  if (!MatchesConstraints(w, n)) return false;
  if (w.request.mig()) return OffersMig(n, w.request.mig_profile);
  return w.request.gpu_devices == 0 || w.request.MilliOn(n.gpu_memory_mib) > 0;
}

bool NodeFilter::CanEverHold(const Workload& w, const Node& n) {
  const PodRequest& r = w.request;
  if (r.mig()) {
    if (!OffersMig(n, r.mig_profile)) return false;
    bool instance = n.mig_dynamic;
    for (const MigDevice& d : n.mig) {
      for (const MigPlacement& i : d.instances) instance = instance || i.profile == r.mig_profile;
    }
    return instance && r.cpu_milli <= n.cpu_milli && r.memory_mib <= n.memory_mib;
  }
  // Devices in MIG mode take MIG requests only.
  if (r.gpu_devices > n.gpus - static_cast<int32_t>(n.mig.size())) return false;
  if (r.gpu_devices > 0 && r.MilliOn(n.gpu_memory_mib) == 0) return false;
  return r.cpu_milli <= n.cpu_milli && r.memory_mib <= n.memory_mib;
}

std::vector<NodeId> NodeFilter::Eligible(const Workload& w, const Snapshot& s) {
  std::vector<NodeId> out;
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    const Node& n = s.nodes[i];
    if (MatchesConstraints(w, n) && CanEverHold(w, n)) out.emplace_back(static_cast<int32_t>(i));
  }
  return out;
}

std::optional<PodPlacer::Choice> PodPlacer::Evaluate(const Workload& w, NodeId n) const {
  const Node& node = snapshot_.node(n);
  const PodRequest& r = w.request;
  if (state_.free_cpu(n) < r.cpu_milli || state_.free_memory(n) < r.memory_mib) {
    return std::nullopt;
  }
  if (r.mig()) return EvaluateMig(w, n, /*pipelined=*/false);
  Choice c;
  c.placement.node = n;
  const bool binpack = snapshot_.strategy == PlacementStrategy::kBinpack;
  int64_t milli = 0;
  bool fragmentation_scored = false;
  if (r.gpu_devices > 0) {
    milli = r.MilliOn(node.gpu_memory_mib);
    if (milli == 0 || state_.free_gpu(n) < milli * r.gpu_devices) return std::nullopt;
    c.placement.gpu_milli = milli;
    if (milli == 1000) {
      if (state_.idle_devices(n) < r.gpu_devices) return std::nullopt;
      for (int32_t d = 0;
           d < node.gpus && static_cast<int32_t>(c.placement.gpus.size()) < r.gpu_devices; ++d) {
        if (state_.device_used(n, d) == 0) c.placement.gpus.push_back(d);
      }
    } else {
      const std::vector<int32_t> candidates = FractionDevices(n, milli);
      if (static_cast<int32_t>(candidates.size()) < r.gpu_devices) return std::nullopt;
      c.placement.gpus.assign(candidates.begin(), candidates.begin() + r.gpu_devices);
      if (mix_ != nullptr && r.gpu_devices == 1) {
        // One fraction: the device whose use grows fragmentation least,
        // the strategy's order breaking ties. Devices equally used give the
        // same growth, so each amount is tried once.
        std::optional<int64_t> best;
        PodPlacement trial = c.placement;
        fragmentation_scored = true;
        for (size_t i = 0; i < candidates.size(); ++i) {
          const int32_t d = candidates[i];
          const int64_t used = state_.device_used(n, d);
          if (i > 0 && state_.device_used(n, candidates[i - 1]) == used) continue;
          trial.gpus = {d};
          const int64_t growth = FragmentationGrowth(w, trial);
          if (!best || growth < *best) {
            best = growth;
            c.placement.gpus = {d};
            c.score.fragmentation = growth;
          }
        }
      }
      if (binpack) {
        for (int32_t d : c.placement.gpus) {
          if (state_.device_used(n, d) == 0) ++c.score.idle_devices_taken;
        }
      }
    }
  }
  if (mix_ != nullptr && !fragmentation_scored) {
    c.score.fragmentation = FragmentationGrowth(w, c.placement);
  }
  const int64_t sign = binpack ? 1 : -1;
  c.score.k1 = sign * (state_.free_gpu(n) - milli * r.gpu_devices);
  if (mix_ != nullptr) {
    // Among placements that fragment alike, GPU that constrained pods need
    // less; then the node left fullest as a share of its GPU, so that a big
    // node nearly full is finished before a small one half full (the
    // replays of the openb trace allocate more that way when many pods
    // share devices). Nodes of one class and free state have the same GPU
    // count, so the node index still scores one node per state.
    c.score.scarcity =
        milli * r.gpu_devices * mix_->Scarcity(node.gpu_model) / RequestMix::kScarcityScale;
    c.score.k1 = c.score.k1 * kShareOfNode / std::max(1, node.gpus);
  }
  c.score.k2 = sign * (state_.free_cpu(n) - r.cpu_milli);
  c.score.k3 = sign * (state_.free_memory(n) - r.memory_mib);
  c.score.node = n.value();
  std::sort(c.placement.gpus.begin(), c.placement.gpus.end());
  return c;
}

std::optional<PodPlacer::Choice> PodPlacer::EvaluateMig(const Workload& w, NodeId n,
                                                        bool pipelined) const {
  const bool binpack = snapshot_.strategy == PlacementStrategy::kBinpack;
  const PodRequest& r = w.request;
  std::optional<MigCandidate> m =
      BestMigInstance(state_.mig_devices(n), r.mig_profile, mig_pending_, binpack, pipelined);
  if (!m) return std::nullopt;
  Choice c;
  c.placement = PodPlacement{n, {m->gpu}, r.gpu_milli, m->start};
  const int64_t sign = binpack ? 1 : -1;
  c.score.idle_devices_taken = m->repartition ? 1 : 0;
  c.score.uses_releasing = m->releasing ? 1 : 0;
  c.score.fragmentation = m->room_lost;
  c.score.k1 = m->packing;
  const int64_t cpu = pipelined ? state_.free_cpu_pipelined(n) : state_.free_cpu(n);
  const int64_t memory = pipelined ? state_.free_memory_pipelined(n) : state_.free_memory(n);
  c.score.k2 = sign * (cpu - r.cpu_milli);
  c.score.k3 = sign * (memory - r.memory_mib);
  c.score.node = n.value();
  return c;
}

std::vector<int32_t> PodPlacer::FractionDevices(NodeId n, int64_t milli) const {
  // Devices that can take the fraction, best first. binpack: shared devices
  // first, the most used first; spread: the least used first. Equally used
  // devices are next to each other.
  const bool binpack = snapshot_.strategy == PlacementStrategy::kBinpack;
  std::vector<std::pair<int64_t, int32_t>> fits;
  const int32_t gpus = state_.gpus(n);
  for (int32_t d = 0; d < gpus; ++d) {
    const int64_t used = state_.device_used(n, d);
    if (used + milli > 1000) continue;
    fits.emplace_back(binpack ? (used > 0 ? -used : 1) : used, d);
  }
  std::sort(fits.begin(), fits.end());
  std::vector<int32_t> out;
  out.reserve(fits.size());
  for (const auto& f : fits) out.push_back(f.second);
  return out;
}

int64_t PodPlacer::FragmentationGrowth(const Workload& w, const PodPlacement& p) const {
  const Node& node = snapshot_.node(p.node);
  constexpr size_t kInline = 64;
  std::array<int64_t, kInline> inline_free{};
  std::vector<int64_t> heap_free;
  std::span<int64_t> free;
  const size_t g = static_cast<size_t>(node.gpus);
  if (g <= kInline) {
    free = std::span<int64_t>(inline_free.data(), g);
  } else {
    heap_free.resize(g);
    free = heap_free;
  }
  for (size_t d = 0; d < g; ++d) {
    free[d] = 1000 - state_.device_used(p.node, static_cast<int32_t>(d));
  }
  NodeFreeView view{&node, state_.free_cpu(p.node), state_.free_memory(p.node), free};
  auto fragmentation = [&] {
    return memo_ != nullptr ? memo_->Of(view) : NodeFragmentation(view, *mix_);
  };
  const int64_t before = fragmentation();
  for (int32_t d : p.gpus) free[static_cast<size_t>(d)] -= p.gpu_milli;
  view.free_cpu -= w.request.cpu_milli;
  view.free_memory -= w.request.memory_mib;
  return mix_->Resolution(fragmentation() - before);
}

std::optional<PlacementScore> PodPlacer::Score(const Workload& w, NodeId n) const {
  std::optional<Choice> c = Evaluate(w, n);
  if (!c) return std::nullopt;
  return c->score;
}

PodPlacement PodPlacer::PlaceOn(const Workload& w, NodeId n) const {
  std::optional<Choice> c = Evaluate(w, n);
  SLUICE_CHECK(c.has_value());
  return std::move(c->placement);
}

std::optional<PodPlacement> PodPlacer::FindBest(const Workload& w,
                                                std::span<const NodeId> nodes) const {
  std::optional<PlacementScore> best;
  NodeId best_node;
  for (NodeId n : nodes) {
    std::optional<PlacementScore> c = Score(w, n);
    if (c && (!best || *c < *best)) {
      best = c;
      best_node = n;
    }
  }
  if (!best) return std::nullopt;
  return PlaceOn(w, best_node);
}

std::optional<PlacementScore> PodPlacer::ScorePipelined(const Workload& w, NodeId n) const {
  if (std::optional<PlacementScore> idle = Score(w, n)) return idle;
  return ScoreReleasing(w, n);
}

std::optional<PlacementScore> PodPlacer::ScoreReleasing(const Workload& w, NodeId n) const {
  if (!state_.has_releasing(n)) return std::nullopt;
  const Node& node = snapshot_.node(n);
  const PodRequest& r = w.request;
  if (state_.free_cpu_pipelined(n) < r.cpu_milli ||
      state_.free_memory_pipelined(n) < r.memory_mib) {
    return std::nullopt;
  }
  if (r.mig()) {
    std::optional<Choice> c = EvaluateMig(w, n, /*pipelined=*/true);
    if (!c) return std::nullopt;
    c->score.uses_releasing = 1;
    return c->score;
  }
  int64_t milli = 0;
  if (r.gpu_devices > 0) {
    milli = r.MilliOn(node.gpu_memory_mib);
    if (milli == 0) return std::nullopt;
    int32_t fitting = 0;
    for (int32_t d = 0; d < node.gpus; ++d) {
      const int64_t held = state_.device_held(n, d);
      if (milli == 1000 ? held == 0 : held + milli <= 1000) ++fitting;
    }
    if (fitting < r.gpu_devices) return std::nullopt;
  }
  const bool binpack = snapshot_.strategy == PlacementStrategy::kBinpack;
  const int64_t sign = binpack ? 1 : -1;
  PlacementScore score;
  score.uses_releasing = 1;
  score.k1 = sign * (state_.free_gpu_pipelined(n) - milli * r.gpu_devices);
  score.k2 = sign * (state_.free_cpu_pipelined(n) - r.cpu_milli);
  score.k3 = sign * (state_.free_memory_pipelined(n) - r.memory_mib);
  score.node = n.value();
  return score;
}

PodPlacement PodPlacer::PlaceOnPipelined(const Workload& w, NodeId n) const {
  if (Score(w, n)) return PlaceOn(w, n);
  return PlaceOnReleasing(w, n);
}

PodPlacement PodPlacer::PlaceOnReleasing(const Workload& w, NodeId n) const {
  const Node& node = snapshot_.node(n);
  const PodRequest& r = w.request;
  if (r.mig()) {
    std::optional<Choice> c = EvaluateMig(w, n, /*pipelined=*/true);
    SLUICE_CHECK(c.has_value());
    return std::move(c->placement);
  }
  PodPlacement p;
  p.node = n;
  if (r.gpu_devices == 0) return p;
  p.gpu_milli = r.MilliOn(node.gpu_memory_mib);
  // Devices that are free once released, those already free first; then
  // the strategy's preference.
  const bool binpack = snapshot_.strategy == PlacementStrategy::kBinpack;
  std::vector<std::tuple<int, int64_t, int32_t>> fits;
  for (int32_t d = 0; d < node.gpus; ++d) {
    const int64_t held = state_.device_held(n, d);
    const int64_t used = state_.device_used(n, d);
    const bool ok = p.gpu_milli == 1000 ? held == 0 : held + p.gpu_milli <= 1000;
    if (!ok) continue;
    const int waits = used + p.gpu_milli > 1000 ? 1 : 0;
    fits.emplace_back(waits, binpack ? -held : held, d);
  }
  std::sort(fits.begin(), fits.end());
  for (int32_t i = 0; i < r.gpu_devices && i < static_cast<int32_t>(fits.size()); ++i) {
    p.gpus.push_back(std::get<2>(fits[static_cast<size_t>(i)]));
  }
  std::sort(p.gpus.begin(), p.gpus.end());
  return p;
}

bool PodPlacer::NeedsReleasing(const Workload& w, const PodPlacement& p) const {
  if (p.mig()) {
    for (const MigDeviceState& m : state_.mig_devices(p.node)) {
      if (m.gpu != p.gpus[0]) continue;
      const MigInstanceState* i = m.Find(w.request.mig_profile, p.mig_start);
      if (i != nullptr && i->releasing != 0) return true;
    }
  }
  for (int32_t d : p.mig() ? std::span<const int32_t>() : std::span<const int32_t>(p.gpus)) {
    if (state_.device_used(p.node, d) + p.gpu_milli > 1000) return true;
  }
  return state_.free_cpu(p.node) < w.request.cpu_milli ||
         state_.free_memory(p.node) < w.request.memory_mib;
}

}  // namespace sluice
