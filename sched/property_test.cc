// Property tests: the invariants of SCHEDULING.md that apply to allocate,
// checked on thousands of random snapshots (sched/testing/random_cluster.h).
#include <gtest/gtest.h>

#include <map>
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

TEST(PropertyTest, InvariantsHoldOnEveryCycle) {
  for (uint64_t seed = 1; seed <= kSnapshots; ++seed) {
    Snapshot s = testing::RandomSnapshot(seed);
    const std::string where = "seed " + std::to_string(seed);
    CheckState(s, where + " (input)");
    for (int cycle = 0; cycle < 4; ++cycle) {
      CycleResult r = RunCycle(s);
      CheckFairShare(s, r, where);
      CheckPending(s, r, where);
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

TEST(PropertyTest, IndexedNodeSearchDecidesLikeALinearScan) {
  for (uint64_t seed = 1; seed <= kSnapshots; ++seed) {
    // Every tenth snapshot is larger, so that node classes hold many nodes.
    const testing::RandomClusterSize size =
        seed % 10 == 0 ? testing::RandomClusterSize{60, 150} : testing::RandomClusterSize{};
    Snapshot indexed = testing::RandomSnapshot(seed, size);
    Snapshot linear = indexed;
    for (int cycle = 0; cycle < 3; ++cycle) {
      CycleResult a = RunCycle(indexed);
      CycleResult b = RunCycle(linear, {.linear_node_search = true});
      ASSERT_EQ(a.binds.size(), b.binds.size()) << "seed " << seed;
      for (size_t i = 0; i < a.binds.size(); ++i) {
        ASSERT_EQ(a.binds[i].workload, b.binds[i].workload) << "seed " << seed;
        ASSERT_EQ(a.binds[i].pods.size(), b.binds[i].pods.size()) << "seed " << seed;
        for (size_t p = 0; p < a.binds[i].pods.size(); ++p) {
          ASSERT_EQ(a.binds[i].pods[p].node, b.binds[i].pods[p].node) << "seed " << seed;
          ASSERT_EQ(a.binds[i].pods[p].gpus, b.binds[i].pods[p].gpus) << "seed " << seed;
        }
      }
      ASSERT_EQ(a.reason, b.reason) << "seed " << seed;
      ApplyDecisions(a, &indexed);
      ApplyDecisions(b, &linear);
    }
  }
}

TEST(PropertyTest, SettledStateStaysSettled) {
  for (uint64_t seed = 1; seed <= kSnapshots; ++seed) {
    Snapshot s = testing::RandomSnapshot(seed);
    PlanResult plan = Plan(s, {.settle = true, .max_cycles = 100});
    ASSERT_LT(plan.cycles, 100) << "seed " << seed << " did not settle";
    Snapshot settled = plan.final_state;
    for (int extra = 0; extra < 10; ++extra) {
      CycleResult r = RunCycle(settled);
      ASSERT_TRUE(r.binds.empty()) << "seed " << seed << " changed after settling";
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
