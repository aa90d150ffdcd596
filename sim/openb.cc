#include "sim/openb.h"

#include <algorithm>

#include "sim/csv.h"

namespace sluice::sim {

namespace {

// Reads the integer columns of one row into `fields`, stopping at the first
// error.
Status ReadIntegers(const CsvTable& t, size_t row,
                    std::initializer_list<std::pair<const char*, int64_t*>> fields) {
  for (const auto& [column, out] : fields) {
    Result<int64_t> v = t.Integer(row, column);
    if (!v.ok()) return v.status();
    *out = *v;
  }
  return Status::OK();
}

Result<std::vector<OpenbNode>> NodesFrom(const Result<CsvTable>& table) {
  if (!table.ok()) return table.status();
  const CsvTable& t = *table;
  std::vector<OpenbNode> nodes;
  for (size_t i = 0; i < t.rows(); ++i) {
    OpenbNode n;
    n.name = std::string(t.Field(i, "sn"));
    int64_t gpus = 0;
    if (Status s = ReadIntegers(
            t, i, {{"cpu_milli", &n.cpu_milli}, {"memory_mib", &n.memory_mib}, {"gpu", &gpus}});
        !s.ok()) {
      return s;
    }
    if (gpus > 1024) {
      return Status::InvalidArgument(t.Where(i) + ": column \"gpu\": at most 1024 GPUs per node");
    }
    n.gpus = static_cast<int32_t>(gpus);
    n.model = std::string(t.Field(i, "model"));
    nodes.push_back(std::move(n));
  }
  if (nodes.empty()) return Status::InvalidArgument("the node list has no nodes");
  return nodes;
}

Result<std::vector<OpenbPod>> PodsFrom(const Result<CsvTable>& table) {
  if (!table.ok()) return table.status();
  const CsvTable& t = *table;
  std::vector<OpenbPod> pods;
  for (size_t i = 0; i < t.rows(); ++i) {
    OpenbPod p;
    p.name = std::string(t.Field(i, "name"));
    int64_t num_gpu = 0;
    if (Status s = ReadIntegers(t, i,
                                {{"cpu_milli", &p.cpu_milli},
                                 {"memory_mib", &p.memory_mib},
                                 {"num_gpu", &num_gpu},
                                 {"gpu_milli", &p.gpu_milli}});
        !s.ok()) {
      return s;
    }
    if (num_gpu > 1024) {
      return Status::InvalidArgument(t.Where(i) + ": column \"num_gpu\": at most 1024");
    }
    p.num_gpu = static_cast<int32_t>(num_gpu);
    if (p.gpu_milli > 1000) {
      return Status::InvalidArgument(t.Where(i) + ": column \"gpu_milli\": expected 0-1000 " +
                                     "(milli-GPU per device), got " + std::to_string(p.gpu_milli));
    }
    if ((p.num_gpu == 0) != (p.gpu_milli == 0)) {
      return Status::InvalidArgument(t.Where(i) + ": num_gpu " + std::to_string(p.num_gpu) +
                                     " with gpu_milli " + std::to_string(p.gpu_milli) +
                                     ": both are 0 for a CPU-only pod, or both positive");
    }
    if (p.num_gpu > 1 && p.gpu_milli != 1000) {
      return Status::InvalidArgument(t.Where(i) + ": a pod of " + std::to_string(p.num_gpu) +
                                     " GPUs takes whole devices (gpu_milli 1000), got " +
                                     std::to_string(p.gpu_milli));
    }
    std::string_view spec = t.Field(i, "gpu_spec");
    while (!spec.empty()) {
      const size_t bar = spec.find('|');
      std::string_view model = spec.substr(0, bar);
      if (!model.empty()) p.gpu_models.emplace_back(model);
      if (bar == std::string_view::npos) break;
      spec.remove_prefix(bar + 1);
    }
    std::sort(p.gpu_models.begin(), p.gpu_models.end());
    pods.push_back(std::move(p));
  }
  if (pods.empty()) return Status::InvalidArgument("the pod list has no pods");
  return pods;
}

const std::vector<std::string> kNodeColumns = {"sn", "cpu_milli", "memory_mib", "gpu", "model"};
const std::vector<std::string> kPodColumns = {"name", "cpu_milli", "memory_mib", "num_gpu",
                                              "gpu_milli"};

}  // namespace

Result<std::vector<OpenbNode>> ReadOpenbNodes(const std::string& path) {
  return NodesFrom(CsvTable::Read(path, kNodeColumns));
}
Result<std::vector<OpenbPod>> ReadOpenbPods(const std::string& path) {
  return PodsFrom(CsvTable::Read(path, kPodColumns));
}
Result<std::vector<OpenbNode>> ParseOpenbNodes(std::string_view text) {
  return NodesFrom(CsvTable::Parse(text, "nodes.csv", kNodeColumns));
}
Result<std::vector<OpenbPod>> ParseOpenbPods(std::string_view text) {
  return PodsFrom(CsvTable::Parse(text, "pods.csv", kPodColumns));
}

uint64_t Rng::Below(uint64_t n) {
  // Rejection sampling: uniform and the same everywhere, unlike
  // std::uniform_int_distribution, whose algorithm each library picks.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x = 0;
  do {
    x = engine_();
  } while (x >= limit);
  return x % n;
}

std::vector<OpenbPod> InflatedArrivals(const std::vector<OpenbPod>& pods, int64_t cluster_gpu_milli,
                                       int32_t tune_percent, Rng& rng) {
  std::vector<OpenbPod> out = pods;
  int64_t total = 0;
  for (const OpenbPod& p : pods) total += p.gpu_demand();
  const int64_t cap = cluster_gpu_milli * tune_percent / 100;
  // A trace without GPU pods would never reach the cap.
  if (total > 0 ||
      std::any_of(pods.begin(), pods.end(), [](const OpenbPod& p) { return p.gpu_demand() > 0; })) {
    while (true) {
      const OpenbPod& copy = pods[rng.Below(pods.size())];
      if (total + copy.gpu_demand() > cap) break;
      total += copy.gpu_demand();
      out.push_back(copy);
    }
  }
  for (size_t i = out.size(); i > 1; --i) {
    std::swap(out[i - 1], out[rng.Below(i)]);
  }
  return out;
}

bool OpenbFits(const OpenbNode& node, const OpenbNodeState& state, const OpenbPod& pod) {
  if (state.free_cpu < pod.cpu_milli || state.free_memory < pod.memory_mib) return false;
  if (pod.num_gpu == 0) return true;
  if (!pod.gpu_models.empty() &&
      !std::binary_search(pod.gpu_models.begin(), pod.gpu_models.end(), node.model)) {
    return false;
  }
  int32_t fitting = 0;
  for (int64_t f : state.device_free) fitting += f >= pod.gpu_milli ? 1 : 0;
  return fitting >= pod.num_gpu;
}

RequestMix OpenbMix(const std::vector<OpenbPod>& pods, bool with_memory) {
  std::vector<MixShape> shapes;
  shapes.reserve(pods.size());
  for (const OpenbPod& p : pods) {
    MixShape s;
    s.request.gpu_devices = p.num_gpu;
    s.request.gpu_milli = p.gpu_milli;
    s.request.cpu_milli = p.cpu_milli;
    s.request.memory_mib = with_memory ? p.memory_mib : 0;
    s.gpu_models = p.gpu_models;
    shapes.push_back(std::move(s));
  }
  return RequestMix::FromShapes(std::move(shapes), 95, 1'000'000);
}

namespace {

// Idle GPU the mix cannot use, summed over the nodes, as FGD measures it
// (weights normalised to the mix).
double FragmentationPercent(const std::vector<OpenbNode>& nodes,
                            const std::vector<OpenbNodeState>& state, const RequestMix& mix,
                            int64_t cluster_gpu) {
  int64_t total_weight = 0;
  for (const MixShape& s : mix.shapes()) total_weight += s.weight;
  if (total_weight == 0 || cluster_gpu == 0) return 0;
  double frag = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node n;
    n.gpu_model = nodes[i].model;
    n.gpus = nodes[i].gpus;
    const NodeFreeView v{&n, state[i].free_cpu, state[i].free_memory, state[i].device_free};
    frag += static_cast<double>(NodeFragmentation(v, mix, {.count_memory = false}));
  }
  return 100.0 * frag / static_cast<double>(total_weight) / static_cast<double>(cluster_gpu);
}

}  // namespace

Result<OpenbRun> ReplayOpenb(const std::vector<OpenbNode>& nodes, const std::vector<OpenbPod>& pods,
                             const std::string& policy_name, uint64_t seed, int32_t tune_percent) {
  int64_t cluster_gpu = 0;
  for (const OpenbNode& n : nodes) cluster_gpu += int64_t{1000} * n.gpus;
  if (cluster_gpu == 0) return Status::InvalidArgument("the cluster has no GPUs");
  const RequestMix fgd_mix = OpenbMix(pods, /*with_memory=*/false);
  const RequestMix mix = policy_name == "sluice" ? OpenbMix(pods, /*with_memory=*/true) : fgd_mix;
  std::unique_ptr<OpenbPolicy> policy = MakeOpenbPolicy(policy_name, mix);
  if (policy == nullptr) return Status::InvalidArgument("unknown policy \"" + policy_name + "\"");
  Rng rng(seed);
  const std::vector<OpenbPod> arrivals = InflatedArrivals(pods, cluster_gpu, tune_percent, rng);
  std::vector<OpenbNodeState> state(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    state[i].free_cpu = nodes[i].cpu_milli;
    state[i].free_memory = nodes[i].memory_mib;
    state[i].device_free.assign(static_cast<size_t>(nodes[i].gpus), 1000);
  }
  policy->Start(nodes, arrivals);
  OpenbRun run;
  run.alloc_at.assign(static_cast<size_t>(tune_percent) + 1, 0);
  int64_t arrived = 0, allocated = 0;
  size_t next_percent = 1;
  bool seen100 = false;
  for (size_t i = 0; i < arrivals.size(); ++i) {
    const OpenbPod& pod = arrivals[i];
    arrived += pod.gpu_demand();
    std::optional<OpenbChoice> c = policy->Choose(i, state, rng);
    if (c) {
      // The replay trusts no policy: a choice must fit, device by device.
      if (c->node < 0 || static_cast<size_t>(c->node) >= nodes.size() ||
          !OpenbFits(nodes[static_cast<size_t>(c->node)], state[static_cast<size_t>(c->node)],
                     pod) ||
          static_cast<int32_t>(c->devices.size()) != pod.num_gpu) {
        return Status::Internal("policy " + policy_name + " chose an invalid place for " +
                                pod.name);
      }
      OpenbNodeState& s = state[static_cast<size_t>(c->node)];
      for (int32_t d : c->devices) {
        if (d < 0 || d >= static_cast<int32_t>(s.device_free.size()) ||
            s.device_free[static_cast<size_t>(d)] < pod.gpu_milli) {
          return Status::Internal("policy " + policy_name + " over-committed a device for " +
                                  pod.name);
        }
        s.device_free[static_cast<size_t>(d)] -= pod.gpu_milli;
      }
      s.free_cpu -= pod.cpu_milli;
      s.free_memory -= pod.memory_mib;
      allocated += pod.gpu_demand();
      ++run.placed;
    } else {
      ++run.dropped;
    }
    const double alloc = 100.0 * static_cast<double>(allocated) / static_cast<double>(cluster_gpu);
    while (next_percent < run.alloc_at.size() &&
           arrived * 100 >= cluster_gpu * static_cast<int64_t>(next_percent)) {
      run.alloc_at[next_percent++] = alloc;
    }
    if (!seen100 && arrived >= cluster_gpu) {
      run.alloc100 = alloc;
      seen100 = true;
    }
    run.alloc_end = alloc;
  }
  // Points past the end (the last copy stopped short of the cap) keep the
  // final value.
  while (next_percent < run.alloc_at.size()) run.alloc_at[next_percent++] = run.alloc_end;
  if (!seen100) run.alloc100 = run.alloc_end;
  run.frag_end = FragmentationPercent(nodes, state, fgd_mix, cluster_gpu);
  return run;
}

}  // namespace sluice::sim
