// Property tests for MIG: on random clusters mixing whole GPUs and devices
// in MIG mode (some repartitionable) with random MIG, whole and fractional
// workloads, every cycle leaves valid layouts, one pod per instance, no
// whole or fractional pod on a MIG device, limits held, repartitions only
// of devices that ran nothing, and a settled state stays settled.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "sched/cluster_state.h"
#include "sched/scheduler.h"

namespace sluice {
namespace {

constexpr uint64_t kSnapshots = 1500;

Snapshot RandomMigSnapshot(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Snapshot s;
  s.now = Time{1'767'268'800'000};
  const char* models[] = {"H100-80GB", "A100-40GB", "H200-141GB"};
  const int nodes = pick(1, 3);
  for (int n = 0; n < nodes; ++n) {
    Node node;
    node.name = "n" + std::to_string(n);
    node.gpus = pick(1, 4);
    node.gpu_model = models[pick(0, 2)];
    node.gpu_memory_mib = 40960;
    node.mig_dynamic = pick(0, 1) == 1;
    const MigModel& model = *FindMigModel(node.gpu_model);
    for (int g = 0; g < node.gpus; ++g) {
      if (pick(0, 2) == 0) continue;  // a whole GPU
      MigDevice d;
      d.gpu = g;
      for (int k = pick(0, 4); k > 0; --k) {
        const MigProfile& p = model.profiles[static_cast<size_t>(pick(0, 6))];
        const int32_t start = MigLowestFreeStart(model, d.instances, p);
        if (start >= 0) d.instances.push_back({p.id, start});
      }
      node.mig.push_back(std::move(d));
    }
    s.nodes.push_back(std::move(node));
  }
  Queue a, b;
  a.name = "a";
  b.name = "b";
  a.resources[0] = {pick(0, 3) * 1000, pick(0, 1) == 0 ? -1 : int64_t{pick(1, 4)} * 1000, 1000};
  b.resources[0] = {0, -1, 1000};
  for (Queue* q : {&a, &b}) q->resources[1].quota = q->resources[2].quota = -1;
  s.queues = {a, b};
  const char* profiles[] = {"1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb",
                            "1g.5gb",  "3g.20gb", "1g.18gb", "3g.71gb", "1g.20gb"};
  const int workloads = pick(1, 14);
  for (int i = 0; i < workloads; ++i) {
    Workload w;
    w.name = "w" + std::to_string(i);
    w.queue = QueueId(pick(0, 1));
    w.submitted = Time{s.now.ms - pick(0, 1000)};
    w.priority_class = pick(0, 3) == 0 ? PriorityClass::kInference : PriorityClass::kTrain;
    w.preemptible = DefaultPreemptible(w.priority_class);
    const int kind = pick(0, 3);
    if (kind == 0) {
      w.request = {1, 1000, 0, 0, 0};
    } else if (kind == 1) {
      w.request = {1, 500, 0, 0, 0};
    } else {
      EXPECT_FALSE(SetMigRequest(profiles[pick(0, 9)], false, &w.request).has_value());
    }
    w.pods = pick(1, 2);
    w.min_available = pick(1, w.pods);
    s.workloads.push_back(std::move(w));
  }
  return s;
}

void CheckMigState(const Snapshot& s, const std::string& where) {
  ClusterState state(s);  // CHECKs that every MIG pod's instance exists and is held once
  std::set<std::tuple<int32_t, int32_t, int32_t>> held;
  for (const Node& n : s.nodes) {
    const MigModel* model = FindMigModel(n.gpu_model);
    for (const MigDevice& d : n.mig) {
      EXPECT_EQ(MigLayoutError(*model, d.instances), "") << where << " " << n.name;
    }
  }
  for (size_t q = 0; q < s.queues.size(); ++q) {
    const int64_t limit = s.queues[q].resource(Resource::kGpu).limit;
    const Resources& alloc = state.allocated(QueueId(static_cast<int32_t>(q)));
    if (limit >= 0) {
      EXPECT_LE(alloc[Resource::kGpu], limit) << where;
    }
    const int64_t quota = s.queues[q].resource(Resource::kGpu).quota;
    const Resources& np = state.nonpreemptible_allocated(QueueId(static_cast<int32_t>(q)));
    if (quota >= 0) {
      EXPECT_LE(np[Resource::kGpu], quota) << where;
    }
  }
  for (const Workload& w : s.workloads) {
    if (w.running) {
      EXPECT_GE(static_cast<int32_t>(w.placement.size()), w.min_available) << where;
    }
    for (const PodPlacement& p : w.placement) {
      const Node& n = s.node(p.node);
      if (w.request.mig()) {
        ASSERT_TRUE(p.mig()) << where << " " << w.name;
        ASSERT_EQ(p.gpus.size(), 1u);
        const MigDevice* d = n.FindMig(p.gpus[0]);
        ASSERT_NE(d, nullptr) << where << " " << w.name;
        const MigPlacement inst{w.request.mig_profile, p.mig_start};
        EXPECT_NE(std::find(d->instances.begin(), d->instances.end(), inst), d->instances.end())
            << where << " " << w.name;
        EXPECT_TRUE(held.insert({p.node.value(), p.gpus[0], p.mig_start}).second)
            << where << " two pods on one instance";
        EXPECT_EQ(p.gpu_milli, MigMilli(MigProfileCompute(w.request.mig_profile))) << where;
      } else {
        EXPECT_FALSE(p.mig()) << where;
        for (int32_t g : p.gpus) EXPECT_EQ(n.FindMig(g), nullptr) << where << " " << w.name;
      }
    }
  }
}

TEST(MigPropertyTest, InvariantsHoldOnEveryCycle) {
  int64_t repartitions = 0, mig_binds = 0, evictions = 0;
  for (uint64_t seed = 1; seed <= kSnapshots; ++seed) {
    Snapshot s = RandomMigSnapshot(seed);
    const std::string where = "seed " + std::to_string(seed);
    for (int cycle = 0; cycle < 4; ++cycle) {
      // Devices a snapshot pod runs on, before the cycle.
      std::set<std::pair<int32_t, int32_t>> busy;
      for (const Workload& w : s.workloads) {
        for (const PodPlacement& p : w.placement) {
          for (int32_t g : p.gpus) busy.insert({p.node.value(), g});
        }
      }
      CycleResult r = RunCycle(s);
      repartitions += static_cast<int64_t>(r.repartitions.size());
      evictions += static_cast<int64_t>(r.evictions.size());
      for (const BindDecision& b : r.binds) mig_binds += s.workload(b.workload).request.mig();
      for (const RepartitionDecision& d : r.repartitions) {
        EXPECT_TRUE(s.node(d.node).mig_dynamic) << where;
        EXPECT_EQ(busy.count({d.node.value(), d.gpu}), 0u)
            << where << " repartitioned a busy device";
      }
      ApplyDecisions(r, &s);
      CheckMigState(s, where + " cycle " + std::to_string(cycle));
    }
    if (HasFailure()) return;
  }
  // The random clusters exercise what is checked.
  EXPECT_GT(repartitions, 300);
  EXPECT_GT(mig_binds, 1000);
  EXPECT_GT(evictions, 0);
  std::cout << repartitions << " repartitions, " << mig_binds << " MIG binds, " << evictions
            << " evictions\n";
}

TEST(MigPropertyTest, SettledStateStaysSettledAndRunsAreDeterministic) {
  for (uint64_t seed = 1; seed <= kSnapshots; ++seed) {
    Snapshot s = RandomMigSnapshot(seed);
    PlanResult plan = Plan(s, {.settle = true, .max_cycles = 100});
    ASSERT_LT(plan.cycles, 100) << "seed " << seed << " did not settle";
    PlanResult again = Plan(s, {.settle = true, .max_cycles = 100});
    ASSERT_EQ(plan.repartitions.size(), again.repartitions.size()) << "seed " << seed;
    for (int extra = 0; extra < 5; ++extra) {
      CycleResult r = RunCycle(plan.final_state);
      ASSERT_TRUE(r.binds.empty() && r.pipelined.empty() && r.evictions.empty() &&
                  r.repartitions.empty())
          << "seed " << seed << " changed after settling";
    }
  }
}

}  // namespace
}  // namespace sluice
