// QueueOrder keeps keys per queue and recomputes only what a pick changed;
// on random queue trees it must pick exactly what an order built from
// nothing before every pick picks.
#include "sched/queue_order.h"

#include <gtest/gtest.h>

#include <random>

namespace sluice {
namespace {

TEST(QueueOrderTest, KeptKeysPickAsAnOrderBuiltFromNothing) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int64_t picks = 0;
  for (int trial = 0; trial < 300; ++trial) {
    Snapshot s;
    Node node;
    node.name = "n";
    node.cpu_milli = int64_t{1} << 40;
    node.memory_mib = int64_t{1} << 40;
    s.nodes.push_back(node);
    // Departments, each with a few projects (or a flat project).
    const int departments = pick(1, 3);
    for (int d = 0; d < departments; ++d) {
      const QueueId dept(static_cast<int32_t>(s.queues.size()));
      Queue q;
      q.name = "d" + std::to_string(d);
      q.priority = 100 * pick(0, 1);
      for (QueueResource& r : q.resources) r.quota = pick(0, 2) == 0 ? -1 : 1000 * pick(0, 8);
      s.queues.push_back(q);
      const int projects = pick(0, 4);
      for (int p = 0; p < projects; ++p) {
        Queue leaf;
        leaf.name = q.name + "-p" + std::to_string(p);
        leaf.parent = dept;
        leaf.priority = 100 * pick(0, 1);
        for (QueueResource& r : leaf.resources) {
          r.quota = pick(0, 2) == 0 ? -1 : 1000 * pick(0, 4);
        }
        const QueueId id(static_cast<int32_t>(s.queues.size()));
        s.queues.push_back(leaf);
        s.queues[dept.index()].children.push_back(id);
      }
    }
    std::vector<Resources> fair(s.queues.size());
    for (Resources& f : fair) {
      for (Resource r : kAllResources) f[r] = 1000 * pick(0, 6);
    }
    // Candidates with few distinct requests, so that neighbours often add
    // the same.
    std::vector<std::vector<WorkloadId>> candidates(s.queues.size());
    std::vector<Resources> demand;
    for (size_t q = 0; q < s.queues.size(); ++q) {
      if (!s.queues[q].is_leaf()) continue;
      const int n = pick(0, 8);
      for (int i = 0; i < n; ++i) {
        Workload w;
        w.name = "w" + std::to_string(s.workloads.size());
        w.queue = QueueId(static_cast<int32_t>(q));
        w.request.cpu_milli = 500 * pick(1, 2);
        w.request.memory_mib = 1024 * pick(0, 1);
        const WorkloadId id(static_cast<int32_t>(s.workloads.size()));
        s.workloads.push_back(w);
        Resources d;
        d[Resource::kCpu] = w.request.cpu_milli;
        d[Resource::kMemory] = w.request.memory_mib;
        demand.push_back(d);
        candidates[q].push_back(id);
      }
    }
    ClusterState state(s);
    QueueOrder order(s, state, fair, candidates, demand);
    std::vector<std::vector<WorkloadId>> left = candidates;
    for (WorkloadId w = order.Next(); w.valid(); w = order.Next()) {
      QueueOrder fresh(s, state, fair, left, demand);
      ASSERT_EQ(fresh.Next(), w) << "trial " << trial << " pick " << picks;
      // Some picks are placed: their queues then hold more.
      if (pick(0, 2) == 0) state.Bind(w, PodPlacement{NodeId(0), {}, 0});
      order.Pop(w);
      std::vector<WorkloadId>& mine = left[s.workload(w).queue.index()];
      ASSERT_FALSE(mine.empty());
      ASSERT_EQ(mine.front(), w);
      mine.erase(mine.begin());
      ++picks;
    }
    QueueOrder fresh(s, state, fair, left, demand);
    EXPECT_FALSE(fresh.Next().valid());
  }
  EXPECT_GT(picks, 1000);
}

}  // namespace
}  // namespace sluice
