#include "sched/fragmentation.h"

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>

namespace sluice {

namespace {

// Shapes that fragment a node the same way compare equal.
using ShapeKeyT = std::tuple<int32_t, int64_t, int64_t, int64_t, int64_t, std::vector<std::string>>;

ShapeKeyT ShapeKey(const MixShape& s) {
  const PodRequest& r = s.request;
  return {r.gpu_devices, r.gpu_milli, r.gpu_memory_mib, r.cpu_milli, r.memory_mib, s.gpu_models};
}

}  // namespace

RequestMix RequestMix::FromShapes(std::vector<MixShape> shapes, int32_t coverage_percent,
                                  int32_t max_shapes) {
  // Merge equal shapes; std::map keeps the merge deterministic.
  std::map<ShapeKeyT, size_t> index;
  std::vector<MixShape> merged;
  std::map<std::vector<std::string>, int64_t> by_models;
  int64_t total = 0;
  int64_t total_gpu = 0;
  for (MixShape& s : shapes) {
    if (s.weight <= 0) continue;
    total += s.weight;
    const int64_t gpu = s.weight * s.request.gpu_devices * s.request.gpu_milli;
    total_gpu += gpu;
    if (!s.gpu_models.empty() && gpu > 0) {
      std::vector<std::string> models = s.gpu_models;
      std::sort(models.begin(), models.end());
      models.erase(std::unique(models.begin(), models.end()), models.end());
      by_models[std::move(models)] += gpu;
    }
    auto [it, added] = index.emplace(ShapeKey(s), merged.size());
    if (added) {
      merged.push_back(std::move(s));
    } else {
      merged[it->second].weight += s.weight;
    }
  }
  // Heaviest first; ties by shape, so the order never depends on input order.
  std::stable_sort(merged.begin(), merged.end(), [](const MixShape& a, const MixShape& b) {
    if (a.weight != b.weight) return a.weight > b.weight;
    return ShapeKey(a) < ShapeKey(b);
  });
  RequestMix mix;
  mix.total_gpu_demand_ = total_gpu;
  for (auto& [models, gpu] : by_models) mix.constrained_.push_back({models, gpu});
  int64_t covered = 0;
  for (MixShape& s : merged) {
    if (static_cast<int32_t>(mix.shapes_.size()) >= max_shapes) break;
    if (covered * 100 >= total * coverage_percent) break;
    covered += s.weight;
    mix.total_weight_ += s.weight;
    if (s.request.gpu_devices > 0) mix.gpu_weight_ += s.weight;
    mix.shapes_.push_back(std::move(s));
  }
  return mix;
}

int64_t RequestMix::Resolution(int64_t growth) const {
  if (total_weight_ == 0) return 0;
  // A mix of CPU-only pods has no GPU growth to speak of; any step will do.
  const int64_t step = (gpu_weight_ > 0 ? gpu_weight_ : total_weight_) * kResolutionMilli;
  // Floor division, also for negative growth.
  const int64_t q = growth / step;
  return (growth % step != 0 && growth < 0) ? q - 1 : q;
}

RequestMix RequestMix::FromSnapshot(const Snapshot& s) {
  std::vector<MixShape> shapes;
  std::map<int32_t, int64_t> mig;
  // Equal shapes merged here already, as FromShapes would (the first one
  // kept), without copying each workload's models.
  std::map<ShapeKeyT, size_t, std::less<>> seen;
  for (const Workload& w : s.workloads) {
    if (w.request.mig()) {
      const int64_t missing = w.pods - (w.releasing ? 0 : static_cast<int64_t>(w.placement.size()));
      if (missing > 0) mig[w.request.mig_profile] += missing;
      continue;
    }
    if (w.pods <= 0) continue;
    const PodRequest& r = w.request;
    const auto key = std::tie(r.gpu_devices, r.gpu_milli, r.gpu_memory_mib, r.cpu_milli,
                              r.memory_mib, w.gpu_models);
    if (auto it = seen.find(key); it != seen.end()) {
      shapes[it->second].weight += w.pods;
      continue;
    }
    seen.emplace(ShapeKeyT(key), shapes.size());
    shapes.push_back(MixShape{w.request, w.gpu_models, w.pods});
  }
  RequestMix mix = FromShapes(std::move(shapes));
  for (const auto& [profile, pods] : mig) mix.mig_pending_.push_back({profile, pods});
  mix.MeasureSupply(s.nodes);
  return mix;
}

void RequestMix::MeasureSupply(std::span<const Node> nodes) {
  scarcity_.clear();
  if (constrained_.empty() || total_gpu_demand_ == 0) return;
  // Whole-GPU capacity by model (devices in MIG mode serve MIG pods only).
  std::map<std::string, int64_t> capacity;
  int64_t total_capacity = 0;
  // Nodes of one model tend to come together: one map lookup per run.
  int64_t* last = nullptr;
  const std::string* last_model = nullptr;
  for (const Node& n : nodes) {
    const int64_t gpu = int64_t{1000} * (n.gpus - static_cast<int32_t>(n.mig.size()));
    if (gpu <= 0) continue;
    if (last_model == nullptr || *last_model != n.gpu_model) {
      last = &capacity[n.gpu_model];
      last_model = &n.gpu_model;
    }
    *last += gpu;
    total_capacity += gpu;
  }
  // Shares in millionths, so that the quotient stays within 64 bits.
  constexpr int64_t kShare = 1'000'000;
  for (const auto& entry : capacity) {
    const std::string& model = entry.first;
    int64_t sum = 0;
    for (const ModelSetDemand& d : constrained_) {
      if (!std::binary_search(d.models.begin(), d.models.end(), model)) continue;
      int64_t supply = 0;
      for (const std::string& m : d.models) {
        auto it = capacity.find(m);
        if (it != capacity.end()) supply += it->second;
      }
      const int64_t demand_share = d.gpu_milli * kShare / total_gpu_demand_;
      const int64_t supply_share = std::max<int64_t>(1, supply * kShare / total_capacity);
      sum += demand_share * kScarcityScale / supply_share;
    }
    if (sum > 0) scarcity_.emplace_back(model, sum);
  }
}

int64_t RequestMix::Scarcity(const std::string& model) const {
  for (const auto& [m, s] : scarcity_) {
    if (m == model) return s;
  }
  return 0;
}

int64_t ShapeFragment(const NodeFreeView& v, const MixShape& shape,
                      const FragmentationOptions& options) {
  int64_t free_total = 0;
  for (int64_t f : v.device_free) free_total += f;
  const PodRequest& r = shape.request;
  // A pod without GPUs uses none of the free GPU; neither does one that
  // cannot run on this node's model, or that lacks CPU or memory here.
  if (r.gpu_devices == 0) return free_total;
  if (!shape.gpu_models.empty() && std::find(shape.gpu_models.begin(), shape.gpu_models.end(),
                                             v.node->gpu_model) == shape.gpu_models.end()) {
    return free_total;
  }
  const int64_t milli = r.MilliOn(v.node->gpu_memory_mib);
  if (milli == 0 || v.free_cpu < r.cpu_milli) return free_total;
  if (options.count_memory && v.free_memory < r.memory_mib) return free_total;
  int32_t fitting = 0;
  int64_t unusable = 0;
  for (int64_t f : v.device_free) {
    if (f >= milli) {
      ++fitting;
    } else {
      unusable += f;
    }
  }
  return fitting >= r.gpu_devices ? unusable : free_total;
}

int64_t NodeFragmentation(const NodeFreeView& v, const RequestMix& mix,
                          const FragmentationOptions& options) {
  int64_t sum = 0;
  for (const MixShape& s : mix.shapes()) sum += s.weight * ShapeFragment(v, s, options);
  return sum;
}

size_t FragmentationMemo::KeyHash::operator()(const std::vector<int64_t>& key) const {
  uint64_t h = 1469598103934665603ULL;
  for (int64_t x : key) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ULL;
  return static_cast<size_t>(h);
}

int64_t FragmentationMemo::Of(const NodeFreeView& v) {
  const int64_t model =
      model_ids_.try_emplace(v.node->gpu_model, static_cast<int64_t>(model_ids_.size()))
          .first->second;
  key_.assign({model, v.node->gpu_memory_mib, v.free_cpu, v.free_memory});
  key_.insert(key_.end(), v.device_free.begin(), v.device_free.end());
  std::sort(key_.begin() + 4, key_.end());
  if (auto it = known_.find(key_); it != known_.end()) return it->second;
  const int64_t f = NodeFragmentation(v, mix_);
  known_.emplace(key_, f);
  return f;
}

}  // namespace sluice
