// Property tests: the invariants of SCHEDULING.md that apply to allocate,
// checked on thousands of random snapshots (sched/testing/random_cluster.h).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "cli/plan_command.h"
#include "sched/cluster_state.h"
#include "sched/scheduler.h"
#include "sched/testing/random_cluster.h"

namespace sluice {
namespace {

constexpr uint64_t kSnapshots = 10000;

// Invariants of one state: nothing over-committed, limits and
// non-preemptible quotas held, gangs complete, constraints honoured.
void CheckState(const Snapshot& s, const std::string& where) {
  ClusterState state(s);  // CHECKs that no device goes above 1000 milli
  for (size_t n = 0; n < s.nodes.size(); ++n) {
    NodeId id(static_cast<int32_t>(n));
    EXPECT_GE(state.free_cpu(id), 0) << where << " node " << s.nodes[n].name;
    EXPECT_GE(state.free_memory(id), 0) << where << " node " << s.nodes[n].name;
    for (int32_t d = 0; d < s.nodes[n].gpus; ++d) {
      EXPECT_LE(state.device_used(id, d), 1000) << where;
    }
  }
  for (size_t q = 0; q < s.queues.size(); ++q) {
    const Queue& queue = s.queues[q];
    const Resources& alloc = state.allocated(QueueId(static_cast<int32_t>(q)));
    const Resources& np = state.nonpreemptible_allocated(QueueId(static_cast<int32_t>(q)));
    for (Resource r : kAllResources) {
      const QueueResource& qr = queue.resource(r);
      if (qr.limit >= 0) {
        EXPECT_LE(alloc[r], qr.limit) << where << " queue " << queue.name;
      }
      if (qr.quota >= 0) {
        EXPECT_LE(np[r], qr.quota) << where << " queue " << queue.name;
      }
    }
  }
  for (const Workload& w : s.workloads) {
    if (!w.running) {
      EXPECT_TRUE(w.placement.empty()) << where << " " << w.name;
      continue;
    }
    EXPECT_GE(static_cast<int32_t>(w.placement.size()), w.min_available) << where << " " << w.name;
    EXPECT_LE(static_cast<int32_t>(w.placement.size()), w.pods) << where << " " << w.name;
    std::set<std::string> domains;
    for (const PodPlacement& p : w.placement) {
      const Node& node = s.node(p.node);
      EXPECT_EQ(static_cast<int32_t>(p.gpus.size()), w.request.gpu_devices) << where;
      EXPECT_EQ(p.gpu_milli, w.request.MilliOn(node.gpu_memory_mib)) << where << " " << w.name;
      std::set<int32_t> distinct(p.gpus.begin(), p.gpus.end());
      EXPECT_EQ(distinct.size(), p.gpus.size()) << where << " " << w.name;
      if (!w.gpu_models.empty()) {
        EXPECT_EQ(node.gpu_model, w.gpu_models[0]) << where;
      }
      for (const auto& [k, v] : w.node_selector) {
        const std::string* got = FindLabel(node.labels, k);
        EXPECT_TRUE(got != nullptr && *got == v) << where << " " << w.name;
      }
      if (!w.topology.empty()) domains.insert(*FindLabel(node.labels, w.topology));
      // A whole device is never shared with a fraction.
      if (p.gpu_milli == 1000) {
        for (int32_t d : p.gpus) EXPECT_EQ(state.device_used(p.node, d), 1000) << where;
      }
    }
    EXPECT_LE(domains.size(), 1u) << where << " " << w.name << " spans topology domains";
  }
}

void CheckFairShare(const Snapshot& s, const CycleResult& r, const std::string& where) {
  Resources capacity;
  for (const Node& n : s.nodes) capacity[Resource::kGpu] += int64_t{n.gpus} * 1000;
  int64_t top = 0;
  std::map<size_t, int64_t> children_sum;
  for (size_t q = 0; q < s.queues.size(); ++q) {
    const int64_t gpu = r.fair_share[q][Resource::kGpu];
    EXPECT_GE(gpu, 0) << where;
    const Queue& queue = s.queues[q];
    if (queue.resource(Resource::kGpu).limit >= 0) {
      EXPECT_LE(gpu, queue.resource(Resource::kGpu).limit) << where << " " << queue.name;
    }
    if (queue.parent.valid()) {
      children_sum[queue.parent.index()] += gpu;
    } else {
      top += gpu;
    }
  }
  EXPECT_LE(top, capacity[Resource::kGpu]) << where;
  for (const auto& [parent, sum] : children_sum) {
    EXPECT_LE(sum, r.fair_share[parent][Resource::kGpu])
        << where << " children of " << s.queues[parent].name;
  }
}

void CheckPending(const Snapshot& before, const CycleResult& r, const std::string& where) {
  std::set<size_t> bound;
  for (const BindDecision& b : r.binds) bound.insert(b.workload.index());
  std::map<size_t, std::vector<int32_t>> positions;
  for (size_t i = 0; i < before.workloads.size(); ++i) {
    const bool pending = !before.workloads[i].running && bound.count(i) == 0;
    EXPECT_EQ(r.position[i] > 0, pending) << where << " " << before.workloads[i].name;
    if (pending) {
      EXPECT_FALSE(r.reason[i].empty()) << where << " " << before.workloads[i].name;
      positions[before.workloads[i].queue.index()].push_back(r.position[i]);
    }
  }
  for (auto& [q, ps] : positions) {
    std::sort(ps.begin(), ps.end());
    for (size_t k = 0; k < ps.size(); ++k) EXPECT_EQ(ps[k], static_cast<int32_t>(k + 1)) << where;
  }
}

// Evictions follow the rules: reclaim, preempt and consolidate never touch
// non-preemptible work, min-runtimes protect young workloads, preemption
// stays inside a queue and goes strictly down in priority class.
void CheckEvictions(const Snapshot& s, const CycleResult& r, const std::string& where) {
  std::set<size_t> evicted;
  for (const EvictionDecision& e : r.evictions) {
    const Workload& v = s.workload(e.workload);
    EXPECT_TRUE(evicted.insert(e.workload.index()).second) << where << " evicted twice";
    EXPECT_TRUE(v.running && !v.releasing) << where << " " << v.name;
    if (e.action == EvictionAction::kStaleGang) {
      EXPECT_LT(static_cast<int32_t>(v.placement.size()), v.min_available) << where;
      continue;
    }
    EXPECT_TRUE(v.preemptible) << where << " " << v.name << " " << e.why;
    ASSERT_TRUE(e.for_workload.valid()) << where;
    const Workload& f = s.workload(e.for_workload);
    if (e.action == EvictionAction::kReclaim) {
      EXPECT_NE(v.queue, f.queue) << where;
      EXPECT_GE((s.now - v.started).ms, ReclaimMinRuntime(s, v.queue).ms) << where;
    }
    if (e.action == EvictionAction::kPreempt) {
      EXPECT_EQ(v.queue, f.queue) << where;
      EXPECT_LT(PriorityValue(v.priority_class), PriorityValue(f.priority_class)) << where;
      EXPECT_GE((s.now - v.started).ms, PreemptMinRuntime(s, v.queue).ms) << where;
    }
  }
}

TEST(PropertyTest, InvariantsHoldOnEveryCycle) {
  for (uint64_t seed = 1; seed <= kSnapshots; ++seed) {
    Snapshot s = testing::RandomSnapshot(seed);
    const std::string where = "seed " + std::to_string(seed);
    CheckState(s, where + " (input)");
    for (int cycle = 0; cycle < 4; ++cycle) {
      CycleResult r = RunCycle(s);
      CheckFairShare(s, r, where);
      CheckPending(s, r, where);
      CheckEvictions(s, r, where);
      ApplyDecisions(r, &s);
      CheckState(s, where + " cycle " + std::to_string(cycle));
    }
    if (HasFailure()) return;  // one seed's report is enough
  }
}

TEST(PropertyTest, SameSnapshotSameDecisions) {
  for (uint64_t seed = 1; seed <= kSnapshots / 3; ++seed) {
    Snapshot s = testing::RandomSnapshot(seed);
    PlanOptions options{.settle = true, .max_cycles = 100};
    const std::string a = PlanToJson(Plan(s, options)).dump();
    const std::string b = PlanToJson(Plan(s, options)).dump();
    ASSERT_EQ(a, b) << "seed " << seed;
  }
}

// The same pods of the same workloads on the same nodes and devices.
void ExpectSamePlacements(const std::vector<BindDecision>& x, const std::vector<BindDecision>& y,
                          const std::string& where) {
  ASSERT_EQ(x.size(), y.size()) << where;
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(x[i].workload, y[i].workload) << where;
    ASSERT_EQ(x[i].pods.size(), y[i].pods.size()) << where;
    for (size_t p = 0; p < x[i].pods.size(); ++p) {
      ASSERT_EQ(x[i].pods[p].node, y[i].pods[p].node) << where;
      ASSERT_EQ(x[i].pods[p].gpus, y[i].pods[p].gpus) << where;
    }
  }
}

// Runs three cycles of the same random snapshots with the default options
// and with `reference`, which must decide exactly alike; evictions are
// completed after every other cycle and left releasing after the rest.
void ExpectSameAsReference(uint64_t snapshots, const CycleOptions& reference) {
  for (uint64_t seed = 1; seed <= snapshots; ++seed) {
    // Every tenth snapshot is larger, so that node classes hold many nodes.
    const testing::RandomClusterSize size =
        seed % 10 == 0 ? testing::RandomClusterSize{60, 150} : testing::RandomClusterSize{};
    Snapshot ours = testing::RandomSnapshot(seed, size);
    Snapshot theirs = ours;
    for (int cycle = 0; cycle < 3; ++cycle) {
      CycleResult a = RunCycle(ours);
      CycleResult b = RunCycle(theirs, reference);
      const std::string where = "seed " + std::to_string(seed) + " cycle " + std::to_string(cycle);
      ASSERT_EQ(a.evictions.size(), b.evictions.size()) << where;
      for (size_t i = 0; i < a.evictions.size(); ++i) {
        ASSERT_EQ(a.evictions[i].workload, b.evictions[i].workload) << where;
        ASSERT_EQ(a.evictions[i].for_workload, b.evictions[i].for_workload) << where;
      }
      ASSERT_NO_FATAL_FAILURE(ExpectSamePlacements(a.binds, b.binds, where));
      ASSERT_NO_FATAL_FAILURE(ExpectSamePlacements(a.pipelined, b.pipelined, where));
      ASSERT_EQ(a.reason, b.reason) << where;
      ApplyDecisions(a, &ours, cycle % 2 == 0);
      ApplyDecisions(b, &theirs, cycle % 2 == 0);
    }
  }
}

TEST(PropertyTest, IndexedNodeSearchDecidesLikeALinearScan) {
  ExpectSameAsReference(kSnapshots, {.linear_node_search = true});
}

// The victim search keeps each kind of workload's answers and node costs
// across an action; building it afresh for every attempt must decide alike.
TEST(PropertyTest, KeptVictimSearchDecidesLikeAFreshOne) {
  ExpectSameAsReference(kSnapshots / 2, {.fresh_victim_search = true});
}

TEST(PropertyTest, SettledStateStaysSettled) {
  for (uint64_t seed = 1; seed <= kSnapshots; ++seed) {
    Snapshot s = testing::RandomSnapshot(seed);
    PlanResult plan = Plan(s, {.settle = true, .max_cycles = 100});
    ASSERT_LT(plan.cycles, 100) << "seed " << seed << " did not settle";
    Snapshot settled = plan.final_state;
    for (int extra = 0; extra < 10; ++extra) {
      CycleResult r = RunCycle(settled);
      ASSERT_TRUE(r.binds.empty() && r.pipelined.empty() && r.evictions.empty())
          << "seed " << seed << " changed after settling";
    }
  }
}

TEST(PropertyTest, QueueWithinQuotaReclaimsItsQuota) {
  // Queue "owed" has a quota and asks for at most that much; queue "greedy"
  // (no quota) holds every GPU with preemptible work. Reclaim must bring
  // "owed" its whole demand within a few cycles, and then stop.
  std::mt19937_64 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int round = 0; round < 300; ++round) {
    Snapshot s;
    s.now = Time{1'767'268'800'000};
    const int nodes = pick(1, 6);
    for (int n = 0; n < nodes; ++n) {
      Node node;
      node.name = "n" + std::to_string(n);
      node.gpus = 8;
      node.gpu_memory_mib = 80 * 1024;
      s.nodes.push_back(node);
    }
    Queue owed, greedy;
    owed.name = "owed";
    greedy.name = "greedy";
    const int total = nodes * 8;
    const int quota = pick(1, total);
    owed.resources[0] = {int64_t{quota} * 1000, -1, 1000};
    greedy.resources[0] = {0, -1, static_cast<int64_t>(pick(0, 3)) * 1000};
    for (Queue* q : {&owed, &greedy}) q->resources[1].quota = q->resources[2].quota = -1;
    s.queues = {owed, greedy};
    // greedy fills the cluster with 1-GPU, 2-GPU or fractional pods.
    const int shape = pick(0, 2);
    int w = 0;
    for (int n = 0; n < nodes; ++n) {
      for (int d = 0; d < 8;) {
        Workload g;
        g.name = "g" + std::to_string(w++);
        g.queue = QueueId(1);
        g.running = true;
        g.started = Time{s.now.ms - 3'600'000};
        g.submitted = g.started;
        PodPlacement p;
        p.node = NodeId(n);
        if (shape == 1 && d + 1 < 8) {
          g.request = {2, 1000, 0, 0, 0};
          p.gpus = {d, d + 1};
          d += 2;
        } else if (shape == 2) {
          g.request = {1, 500, 0, 0, 0};
          p.gpus = {d};
          ++d;
        } else {
          g.request = {1, 1000, 0, 0, 0};
          p.gpus = {d};
          ++d;
        }
        p.gpu_milli = g.request.gpu_milli;
        g.placement = {p};
        s.workloads.push_back(g);
        if (shape == 2) {  // a second half on the same device
          g.name = "g" + std::to_string(w++);
          s.workloads.push_back(g);
        }
      }
    }
    const int demand = pick(1, quota);
    for (int i = 0; i < demand; ++i) {
      Workload o;
      o.name = "o" + std::to_string(i);
      o.queue = QueueId(0);
      o.request = {1, 1000, 0, 0, 0};
      o.submitted = s.now;
      s.workloads.push_back(o);
    }
    PlanResult plan = Plan(s, {.settle = true, .max_cycles = 100});
    ASSERT_LT(plan.cycles, 10) << "round " << round;
    ClusterState state(plan.final_state);
    EXPECT_EQ(state.allocated(QueueId(0))[Resource::kGpu], int64_t{demand} * 1000)
        << "round " << round << " quota " << quota << " shape " << shape;
    for (int extra = 0; extra < 10; ++extra) {
      CycleResult r = RunCycle(plan.final_state);
      ASSERT_TRUE(r.binds.empty() && r.pipelined.empty() && r.evictions.empty())
          << "round " << round;
    }
  }
}

TEST(PropertyTest, WorkloadThatFitsAnEmptyClusterAloneIsPlaced) {
  // A lone workload (no other demand) that fits the empty cluster, within
  // its queue's limits and, if non-preemptible, its quotas, must be placed.
  int placed = 0;
  for (uint64_t seed = 1; seed <= kSnapshots; ++seed) {
    Snapshot s = testing::RandomPendingSnapshot(seed);
    if (s.workloads.empty()) continue;
    s.workloads.resize(1);
    s.workloads[0].topology.clear();
    s.workloads[0].node_selector.clear();
    s.workloads[0].gpu_models.clear();
    s.workloads[0].pods = 1;
    s.workloads[0].min_available = 1;
    s.workloads[0].preemptible = true;
    for (Queue& q : s.queues) {
      for (QueueResource& r : q.resources) r.limit = -1;
    }
    bool fits = false;
    for (const Node& n : s.nodes) {
      const PodRequest& r = s.workloads[0].request;
      fits = fits ||
             (r.gpu_devices <= n.gpus && (r.gpu_devices == 0 || r.MilliOn(n.gpu_memory_mib) > 0) &&
              r.cpu_milli <= n.cpu_milli && r.memory_mib <= n.memory_mib);
    }
    CycleResult r = RunCycle(s);
    EXPECT_EQ(r.binds.size(), fits ? 1u : 0u) << "seed " << seed << ": " << r.reason[0];
    placed += fits ? 1 : 0;
  }
  EXPECT_GT(placed, static_cast<int>(kSnapshots) / 2);
}

}  // namespace
}  // namespace sluice
