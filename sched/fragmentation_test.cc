// The fragmentation measure on nodes small enough to work out by hand.
#include "sched/fragmentation.h"

#include <gtest/gtest.h>

#include "sched/online_placer.h"

namespace sluice {
namespace {

MixShape Shape(int32_t devices, int64_t milli, int64_t cpu = 0, int64_t weight = 1) {
  MixShape s;
  s.request.gpu_devices = devices;
  s.request.gpu_milli = milli;
  s.request.cpu_milli = cpu;
  s.weight = weight;
  return s;
}

TEST(FragmentationTest, ShapeFragmentFollowsTheFourCases) {
  Node n;
  n.gpus = 3;
  n.gpu_model = "T4";
  const std::vector<int64_t> free = {1000, 300, 700};
  const NodeFreeView v{&n, 4000, 8192, free};
  // A half GPU fits devices 0 and 2; device 1's 300 is a fragment.
  EXPECT_EQ(ShapeFragment(v, Shape(1, 500)), 300);
  // A whole GPU fits device 0; 300 + 700 are fragments.
  EXPECT_EQ(ShapeFragment(v, Shape(1, 1000)), 1000);
  // Two whole GPUs do not fit at all: every free milli is a fragment.
  EXPECT_EQ(ShapeFragment(v, Shape(2, 1000)), 2000);
  // Not enough CPU: all of it.
  EXPECT_EQ(ShapeFragment(v, Shape(1, 100, 5000)), 2000);
  // A CPU-only pod uses no GPU.
  EXPECT_EQ(ShapeFragment(v, Shape(0, 0)), 2000);
  // Another model: all of it.
  MixShape other = Shape(1, 100);
  other.gpu_models = {"A100"};
  EXPECT_EQ(ShapeFragment(v, other), 2000);
  // Memory counts unless told otherwise.
  MixShape heavy = Shape(1, 100);
  heavy.request.memory_mib = 10000;
  EXPECT_EQ(ShapeFragment(v, heavy), 2000);
  EXPECT_EQ(ShapeFragment(v, heavy, {.count_memory = false}), 0);
  // Weighted sum: 3 x 300 + 1 x 1000.
  const RequestMix mix = RequestMix::FromShapes({Shape(1, 500, 0, 3), Shape(1, 1000, 0, 1)});
  EXPECT_EQ(NodeFragmentation(v, mix), 1900);
}

// The memo answers as NodeFragmentation does, for a state met before in
// another device order, and tells GPU models, device memory and free CPU
// apart.
TEST(FragmentationTest, MemoAnswersAsNodeFragmentation) {
  MixShape t4_only = Shape(1, 500);
  t4_only.gpu_models = {"T4"};
  const RequestMix mix =
      RequestMix::FromShapes({Shape(1, 500, 0, 3), Shape(1, 1000, 2000, 1), t4_only});
  FragmentationMemo memo(mix);
  Node t4;
  t4.gpus = 3;
  t4.gpu_model = "T4";
  Node a100 = t4;
  a100.gpu_model = "A100";
  Node big = t4;
  big.gpu_memory_mib = 81920;
  const std::vector<std::vector<int64_t>> frees = {
      {1000, 300, 700}, {300, 700, 1000}, {700, 1000, 300}, {0, 0, 0}, {400, 400, 1000}};
  for (int round = 0; round < 2; ++round) {
    for (const Node* n : {&t4, &a100, &big}) {
      for (const std::vector<int64_t>& free : frees) {
        for (int64_t cpu : {1000, 4000}) {
          const NodeFreeView v{n, cpu, 8192, free};
          EXPECT_EQ(memo.Of(v), NodeFragmentation(v, mix))
              << n->gpu_model << " cpu " << cpu << " free " << free[0] << "," << free[1] << ","
              << free[2];
        }
      }
    }
  }
}

TEST(FragmentationTest, MixMergesShapesAndKeepsTheMostFrequent) {
  std::vector<MixShape> shapes;
  for (int i = 0; i < 90; ++i) shapes.push_back(Shape(1, 1000));
  for (int i = 0; i < 8; ++i) shapes.push_back(Shape(1, 500));
  shapes.push_back(Shape(1, 250));
  shapes.push_back(Shape(1, 125));
  const RequestMix mix = RequestMix::FromShapes(shapes, 95);
  // 90 + 8 covers 98 of 100 pods: the two rare shapes are left out.
  ASSERT_EQ(mix.shapes().size(), 2U);
  EXPECT_EQ(mix.shapes()[0].weight, 90);
  EXPECT_EQ(mix.shapes()[1].request.gpu_milli, 500);
  EXPECT_EQ(mix.total_weight(), 98);
  EXPECT_EQ(RequestMix::FromShapes(shapes, 100, 3).shapes().size(), 3U);
}

TEST(FragmentationTest, ResolutionRoundsExpectedGrowthDown) {
  const RequestMix mix = RequestMix::FromShapes({Shape(1, 1000, 0, 2)});
  // Growth is weight x milli; per pod of the mix that is growth / 2, in
  // steps of 40 milli.
  EXPECT_EQ(mix.Resolution(0), 0);
  EXPECT_EQ(mix.Resolution(79), 0);
  EXPECT_EQ(mix.Resolution(80), 1);
  EXPECT_EQ(mix.Resolution(-1), -1);
  EXPECT_EQ(mix.Resolution(-80), -1);
  EXPECT_EQ(mix.Resolution(-81), -2);
  EXPECT_EQ(RequestMix().Resolution(500), 0);
  // Pods without GPU do not count in the average: with two of them in the
  // mix the steps are still 2 x 40.
  const RequestMix with_cpu_only =
      RequestMix::FromShapes({Shape(1, 1000, 0, 2), Shape(0, 0, 4000, 2)});
  EXPECT_EQ(with_cpu_only.total_weight(), 4);
  EXPECT_EQ(with_cpu_only.Resolution(79), 0);
  EXPECT_EQ(with_cpu_only.Resolution(80), 1);
}

MixShape OnModels(MixShape s, std::vector<std::string> models) {
  s.gpu_models = std::move(models);
  return s;
}

Node GpuNode(const std::string& name, int32_t gpus, const std::string& model) {
  Node n;
  n.name = name;
  n.gpus = gpus;
  n.gpu_model = model;
  return n;
}

Workload OneGpuPod(const std::string& name) {
  Workload w;
  w.name = name;
  w.queue = QueueId(0);
  w.request.gpu_devices = 1;
  w.request.gpu_milli = 1000;
  return w;
}

Snapshot TwoNodes(Node a, Node b) {
  Snapshot s;
  s.nodes = {std::move(a), std::move(b)};
  Queue q;
  q.name = "q";
  for (QueueResource& r : q.resources) r.quota = -1;
  s.queues.push_back(std::move(q));
  return s;
}

TEST(FragmentationTest, ScarcityIsDemandShareOverSupplyShare) {
  // 10,000 milli asked for: 6 pods of any model, 2 only on T4, 2 on G2 or
  // T4 (these two shapes are rare enough to fall outside a 60% mix, and
  // still count). The cluster: 2 T4 GPUs and 8 G2 GPUs.
  RequestMix mix =
      RequestMix::FromShapes({Shape(1, 1000, 0, 6), OnModels(Shape(1, 1000, 0, 2), {"T4"}),
                              OnModels(Shape(1, 1000, 0, 2), {"T4", "G2", "T4"})},
                             60);
  ASSERT_EQ(mix.shapes().size(), 1U);
  ASSERT_EQ(mix.constrained_demand().size(), 2U);
  EXPECT_EQ(mix.constrained_demand()[0].models, (std::vector<std::string>{"G2", "T4"}));
  EXPECT_EQ(mix.constrained_demand()[0].gpu_milli, 2000);
  EXPECT_EQ(mix.Scarcity("T4"), 0);  // before the nodes are known
  const std::vector<Node> nodes = {GpuNode("a", 2, "T4"), GpuNode("b", 8, "G2")};
  mix.MeasureSupply(nodes);
  // T4 only: 20% of the demand on 20% of the GPU, 1.0; G2 or T4: 20% on
  // 100%, 0.2. T4 is needed by both sets, G2 by one.
  EXPECT_EQ(mix.Scarcity("T4"), 1'200'000);
  EXPECT_EQ(mix.Scarcity("G2"), 200'000);
  EXPECT_EQ(mix.Scarcity("A100"), 0);
}

TEST(FragmentationTest, UnconstrainedPodLeavesTheScarcerModel) {
  // One pod of any model, on an empty 2-GPU T4 node or an empty 8-GPU G2
  // node. The mix: 98 pods of any model, one only on T4, one only on G2.
  // Either node's growth is the same (-1000 for the shape that cannot use
  // it, -10 milli per pod of the mix); packing alone would pick the T4
  // node (half of it left, against 7/8 of the G2). But T4-only pods ask
  // for 1% of the GPU and can use 20% of it (scarcity 0.05), G2-only ones
  // 1% of 80% (0.0125): the pod goes to the G2.
  Snapshot s = TwoNodes(GpuNode("a", 2, "T4"), GpuNode("b", 8, "G2"));
  s.workloads.push_back(OneGpuPod("any"));
  const RequestMix mix =
      RequestMix::FromShapes({Shape(1, 1000, 0, 98), OnModels(Shape(1, 1000, 0, 1), {"T4"}),
                              OnModels(Shape(1, 1000, 0, 1), {"G2"})},
                             100);
  OnlinePlacer placer(s, mix);
  std::optional<std::vector<PodPlacement>> p = placer.Place(WorkloadId(0));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->front().node, NodeId(1));
}

TEST(FragmentationTest, BinpackFinishesTheNodeFullestAsAShareOfItsGpu) {
  // A 2-GPU node, idle, and an 8-GPU node with 6 GPUs taken. A 1-GPU pod
  // leaves 1 GPU free on either (no fragmentation for a 1-GPU mix), but
  // that is 1/2 of the first node and 1/8 of the second: the second.
  Snapshot s = TwoNodes(GpuNode("small", 2, "T4"), GpuNode("big", 8, "T4"));
  Workload running = OneGpuPod("running");
  running.pods = 6;
  running.min_available = 6;
  running.running = true;
  for (int32_t d = 0; d < 6; ++d) running.placement.push_back(PodPlacement{NodeId(1), {d}, 1000});
  s.workloads.push_back(std::move(running));
  s.workloads.push_back(OneGpuPod("new"));
  OnlinePlacer placer(s, RequestMix::FromShapes({Shape(1, 1000)}));
  std::optional<std::vector<PodPlacement>> p = placer.Place(WorkloadId(1));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->front().node, NodeId(1));
  EXPECT_EQ(p->front().gpus, std::vector<int32_t>{6});
}

}  // namespace
}  // namespace sluice
