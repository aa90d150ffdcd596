#include "sched/testing/random_cluster.h"

#include <random>
#include <string>

#include "sched/scheduler.h"

namespace sluice::testing {
namespace {

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  int64_t Int(int64_t lo, int64_t hi) {  // inclusive
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(int percent) { return Int(1, 100) <= percent; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[static_cast<size_t>(Int(0, N - 1))];
  }

 private:
  std::mt19937_64 rng_;
};

constexpr const char* kModels[] = {"H100-80GB", "A100-40GB", "T4"};
constexpr int64_t kModelMemory[] = {80 * 1024, 40 * 1024, 16 * 1024};
constexpr const char* kRacks[] = {"r1", "r2", "r3"};
constexpr int64_t kFractions[] = {100, 250, 300, 500, 750};

void AddWorkloads(Gen& g, Snapshot* s, int count, const std::string& prefix) {
  std::vector<QueueId> leaves;
  for (size_t q = 0; q < s->queues.size(); ++q) {
    if (s->queues[q].is_leaf()) leaves.emplace_back(static_cast<int32_t>(q));
  }
  for (int i = 0; i < count; ++i) {
    Workload w;
    w.name = prefix + std::to_string(i);
    w.queue = leaves[static_cast<size_t>(g.Int(0, static_cast<int64_t>(leaves.size()) - 1))];
    w.priority_class = static_cast<PriorityClass>(g.Int(0, 3));
    w.preemptible =
        g.Chance(85) ? DefaultPreemptible(w.priority_class) : !DefaultPreemptible(w.priority_class);
    w.pods = g.Chance(70) ? 1 : static_cast<int32_t>(g.Int(2, 5));
    w.min_available = g.Chance(70) ? w.pods : static_cast<int32_t>(g.Int(1, w.pods));
    const int64_t kind = g.Int(0, 9);
    if (kind <= 3) {
      w.request.gpu_devices = static_cast<int32_t>(g.Chance(70) ? 1 : g.Int(2, 8));
      w.request.gpu_milli = 1000;
    } else if (kind <= 6) {
      w.request.gpu_devices = g.Chance(85) ? 1 : 2;
      w.request.gpu_milli = g.Pick(kFractions);
    } else if (kind <= 8) {
      w.request.gpu_devices = 1;
      w.request.gpu_memory_mib = g.Int(1, 12) * 4096;
    }  // else CPU only
    w.request.cpu_milli = g.Int(0, 16) * 1000;
    w.request.memory_mib = g.Int(0, 64) * 1024;
    if (w.request.gpu_devices > 0 && g.Chance(15)) w.gpu_models = {g.Pick(kModels)};
    if (g.Chance(10)) w.node_selector = {{"rack", g.Pick(kRacks)}};
    if (w.pods > 1 && g.Chance(25)) w.topology = "rack";
    w.submitted = Time{s->now.ms - g.Int(0, 3'600'000)};
    s->workloads.push_back(std::move(w));
  }
}

}  // namespace

Snapshot RandomPendingSnapshot(uint64_t seed, const RandomClusterSize& size) {
  Gen g(seed);
  Snapshot s;
  s.now = Time{1'767'268'800'000};
  s.strategy = g.Chance(75) ? PlacementStrategy::kBinpack : PlacementStrategy::kSpread;
  const int nodes = static_cast<int>(g.Int(1, size.max_nodes));
  for (int i = 0; i < nodes; ++i) {
    Node n;
    n.name = "node-" + std::to_string(i);
    const int64_t m = g.Int(0, 2);
    n.gpu_model = kModels[m];
    n.gpu_memory_mib = kModelMemory[m];
    n.gpus = static_cast<int32_t>(g.Chance(10) ? 0 : g.Int(1, 8));
    n.cpu_milli = g.Int(8, 96) * 1000;
    n.memory_mib = g.Int(64, 1024) * 1024;
    n.labels = {{"rack", kRacks[g.Int(0, 2)]}};
    s.nodes.push_back(std::move(n));
  }
  const int departments = static_cast<int>(g.Int(1, 3));
  for (int d = 0; d < departments; ++d) {
    Queue dept;
    dept.name = "dept-" + std::to_string(d);
    const QueueId dept_id(static_cast<int32_t>(s.queues.size()));
    auto random_resources = [&](Queue* q) {
      q->priority = static_cast<int32_t>(g.Pick({50, 100, 100, 200}));
      QueueResource& gpu = q->resources[0];
      gpu.quota = g.Chance(10) ? -1 : g.Int(0, 12) * 500;
      gpu.limit = g.Chance(70) ? -1 : std::max<int64_t>(gpu.quota, 0) + g.Int(0, 16) * 500;
      gpu.weight_milli = g.Int(0, 4) * 500;
      q->resources[1].quota = g.Chance(80) ? -1 : g.Int(0, 64) * 1000;
      q->resources[2].quota = -1;
    };
    random_resources(&dept);
    s.queues.push_back(dept);
    const int projects = static_cast<int>(g.Int(0, 3));
    for (int p = 0; p < projects; ++p) {
      Queue proj;
      proj.name = "proj-" + std::to_string(d) + "-" + std::to_string(p);
      proj.parent = dept_id;
      proj.depth = 1;
      random_resources(&proj);
      s.queues[dept_id.index()].children.emplace_back(static_cast<int32_t>(s.queues.size()));
      s.queues.push_back(std::move(proj));
    }
  }
  AddWorkloads(g, &s, static_cast<int>(g.Int(0, size.max_workloads)), "w");
  return s;
}

Snapshot RandomSnapshot(uint64_t seed, const RandomClusterSize& size) {
  Snapshot s = RandomPendingSnapshot(seed, size);
  CycleResult first = RunCycle(s);
  ApplyDecisions(first, &s);
  for (Workload& w : s.workloads) {
    if (w.running) w.started = Time{s.now.ms - 60'000};
  }
  s.now = Time{s.now.ms + 60'000};
  Gen g(seed ^ 0x9e3779b97f4a7c15ULL);
  AddWorkloads(g, &s, static_cast<int>(g.Int(0, size.max_workloads)), "late");
  return s;
}

}  // namespace sluice::testing
