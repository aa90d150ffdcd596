// Tests of the openb replay: the trace readers, the inflation, each policy on
// small clusters whose best choice is worked out by hand, and the replay's
// bookkeeping.
#include "sim/openb.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "sim/csv.h"

namespace sluice::sim {
namespace {

constexpr const char* kNodeHeader = "sn,cpu_milli,memory_mib,gpu,model\n";
constexpr const char* kPodHeader =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n";

std::vector<OpenbNode> Nodes(const std::string& rows) {
  Result<std::vector<OpenbNode>> n = ParseOpenbNodes(kNodeHeader + rows);
  EXPECT_TRUE(n.ok()) << n.status().message();
  return *n;
}

std::vector<OpenbPod> Pods(const std::string& rows) {
  Result<std::vector<OpenbPod>> p = ParseOpenbPods(kPodHeader + rows);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return *p;
}

TEST(OpenbTraceTest, ReadsColumnsByNameAndModels) {
  // Columns in another order, no gpu_spec column at all (multigpu20 has none).
  Result<std::vector<OpenbPod>> p = ParseOpenbPods(
      "gpu_milli,num_gpu,memory_mib,cpu_milli,name\n500,1,1024,2000,a\n1000,2,0,0,b\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ((*p)[0].gpu_milli, 500);
  EXPECT_EQ((*p)[0].cpu_milli, 2000);
  EXPECT_EQ((*p)[1].gpu_demand(), 2000);
  EXPECT_TRUE((*p)[1].gpu_models.empty());
  const std::vector<OpenbPod> spec = Pods("x,1000,1024,1,1000,V100M32|T4,LS,Running,0,1,0\n");
  EXPECT_EQ(spec[0].gpu_models, (std::vector<std::string>{"T4", "V100M32"}));
}

TEST(OpenbTraceTest, BadInputNamesTheLineAndColumn) {
  Result<std::vector<OpenbPod>> p = ParseOpenbPods(
      std::string(kPodHeader) + "a,1,1,1,500,,LS,R,0,1,0\nb,1,1,one,500,,LS,R,0,1,0\n");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "pods.csv:3: column \"num_gpu\": expected a non-negative integer, got \"one\"");
  p = ParseOpenbPods(std::string(kPodHeader) + "a,1,1,1,1500,,LS,R,0,1,0\n");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("pods.csv:2: column \"gpu_milli\": expected 0-1000"),
            std::string::npos);
  p = ParseOpenbPods(std::string(kPodHeader) + "a,1,1,2,500,,LS,R,0,1,0\n");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("takes whole devices"), std::string::npos);
  Result<std::vector<OpenbNode>> n = ParseOpenbNodes("sn,cpu_milli,gpu,model\nn,1,1,T4\n");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("nodes.csv:1: missing column \"memory_mib\""),
            std::string::npos);
  n = ParseOpenbNodes(std::string(kNodeHeader) + "n,1,1,1\n");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(),
            "nodes.csv:2: expected 5 comma-separated fields as in the header, found 4");
}

TEST(OpenbReplayTest, RngIsSeededAndBounded) {
  Rng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Below(10);
    EXPECT_EQ(x, b.Below(10));
    EXPECT_LT(x, 10U);
    differs = differs || x != c.Below(10);
  }
  EXPECT_TRUE(differs);
}

TEST(OpenbReplayTest, InflationStopsAtTheFirstCopyPastTheCap) {
  // 4 GPUs of cluster; pods of 1000 and 500: the originals ask for 1500.
  const std::vector<OpenbPod> pods =
      Pods("a,1,1,1,1000,,LS,R,0,1,0\nb,1,1,1,500,,LS,R,0,1,0\nc,1,1,0,0,,LS,R,0,1,0\n");
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Rng rng(seed);
    const std::vector<OpenbPod> out = InflatedArrivals(pods, 4000, 130, rng);
    int64_t total = 0;
    for (const OpenbPod& p : out) total += p.gpu_demand();
    EXPECT_LE(total, 5200);
    // Every original is there; a copy that passed the cap would have been the
    // first 1000 or 500 over it, so the total is within 1000 of the cap.
    EXPECT_GT(total, 5200 - 1000);
    for (const char* name : {"a", "b", "c"}) {
      EXPECT_GE(
          std::count_if(out.begin(), out.end(), [&](const OpenbPod& p) { return p.name == name; }),
          1);
    }
    Rng again(seed);
    const std::vector<OpenbPod> same = InflatedArrivals(pods, 4000, 130, again);
    ASSERT_EQ(same.size(), out.size());
    for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(same[i].name, out[i].name);
  }
}

TEST(OpenbReplayTest, FitsChecksModelCpuMemoryAndDevices) {
  const std::vector<OpenbNode> nodes = Nodes("n,8000,16384,2,T4\n");
  OpenbNodeState s{8000, 16384, {1000, 300}};
  EXPECT_TRUE(OpenbFits(nodes[0], s, Pods("p,8000,16384,1,1000,,LS,R,0,1,0\n")[0]));
  EXPECT_FALSE(OpenbFits(nodes[0], s, Pods("p,8001,1,1,100,,LS,R,0,1,0\n")[0]));
  EXPECT_FALSE(OpenbFits(nodes[0], s, Pods("p,1,16385,0,0,,LS,R,0,1,0\n")[0]));
  EXPECT_FALSE(OpenbFits(nodes[0], s, Pods("p,1,1,2,1000,,LS,R,0,1,0\n")[0]));
  EXPECT_TRUE(OpenbFits(nodes[0], s, Pods("p,1,1,1,300,T4,LS,R,0,1,0\n")[0]));
  EXPECT_FALSE(OpenbFits(nodes[0], s, Pods("p,1,1,1,300,V100M32,LS,R,0,1,0\n")[0]));
}

// Node 0 has two idle devices; node 1 has device 0 half used. A half-GPU pod
// arrives and the mix is whole-GPU pods only:
//   node 0 (either device): {500, 1000} leaves 500 that whole pods cannot use: +500
//   node 1 device 0:        {0, 1000} turns the 500 fragment into a full device: -500
//   node 1 device 1:        {500, 500} no whole pod fits any more: +500
// FGD and sluice both take node 1 device 0; best fit and GPU packing too (the
// tightest device, the only one already shared).
TEST(OpenbPolicyTest, FragmentationAwarePoliciesFillTheFragment) {
  const std::vector<OpenbNode> nodes = Nodes("a,8000,16384,2,T4\nb,8000,16384,2,T4\n");
  const std::vector<OpenbPod> arrivals = Pods("p,1000,1024,1,500,,LS,R,0,1,0\n");
  MixShape whole;
  whole.request.gpu_devices = 1;
  whole.request.gpu_milli = 1000;
  const RequestMix mix = RequestMix::FromShapes({whole});
  std::vector<OpenbNodeState> state = {{8000, 16384, {1000, 1000}}, {8000, 16384, {500, 1000}}};
  for (const char* name : {"fgd", "sluice", "bestfit", "gpupacking"}) {
    std::unique_ptr<OpenbPolicy> p = MakeOpenbPolicy(name, mix);
    ASSERT_NE(p, nullptr);
    // sluice replays through the core, which keeps its own state: give it
    // the half-used device as an earlier arrival on node 1.
    std::vector<OpenbPod> list = arrivals;
    if (std::string(name) == "sluice") {
      list = Pods("q,1,1,1,500,,LS,R,0,1,0\np,1000,1024,1,500,,LS,R,0,1,0\n");
      p->Start(nodes, list);
      Rng rng(1);
      // With an empty cluster, the first half GPU goes to node 0 device 0
      // (every choice grows fragmentation alike; node order decides).
      std::optional<OpenbChoice> first =
          p->Choose(0, {{8000, 16384, {1000, 1000}}, {8000, 16384, {1000, 1000}}}, rng);
      ASSERT_TRUE(first.has_value());
      EXPECT_EQ(first->node, 0);
      std::optional<OpenbChoice> c = p->Choose(1, {{7999, 16383, {500, 1000}}, state[1]}, rng);
      ASSERT_TRUE(c.has_value());
      EXPECT_EQ(c->node, 0) << name;  // its own earlier pod made node 0 the fragment
      EXPECT_EQ(c->devices, std::vector<int32_t>{0}) << name;
      continue;
    }
    p->Start(nodes, list);
    Rng rng(1);
    std::optional<OpenbChoice> c = p->Choose(0, state, rng);
    ASSERT_TRUE(c.has_value()) << name;
    EXPECT_EQ(c->node, 1) << name;
    EXPECT_EQ(c->devices, std::vector<int32_t>{0}) << name;
  }
}

TEST(OpenbPolicyTest, EveryPolicyDropsWhatFitsNowhereAndPlacesWhatFits) {
  const std::vector<OpenbNode> nodes = Nodes("a,8000,16384,2,T4\n");
  const std::vector<OpenbPod> arrivals =
      Pods("big,1,1,4,1000,,LS,R,0,1,0\nok,1,1,2,1000,,LS,R,0,1,0\n");
  const RequestMix mix = OpenbMix(arrivals, true);
  const std::vector<OpenbNodeState> state = {{8000, 16384, {1000, 1000}}};
  for (const std::string& name : OpenbPolicyNames()) {
    std::unique_ptr<OpenbPolicy> p = MakeOpenbPolicy(name, mix);
    p->Start(nodes, arrivals);
    Rng rng(3);
    EXPECT_FALSE(p->Choose(0, state, rng).has_value()) << name;
    std::optional<OpenbChoice> c = p->Choose(1, state, rng);
    ASSERT_TRUE(c.has_value()) << name;
    EXPECT_EQ(c->devices, (std::vector<int32_t>{0, 1})) << name;
  }
  EXPECT_EQ(MakeOpenbPolicy("nope", mix), nullptr);
}

// One node of 2 GPUs; two 1-GPU pods inflated to 150%: one copy fits the cap
// (3000 of 3000), the next would pass it. Whatever the order, two pods are
// placed, the third is dropped, and 100% is allocated from 100% arrived on.
TEST(OpenbReplayTest, ReplayRecordsTheCurve) {
  const std::vector<OpenbNode> nodes = Nodes("a,8000,16384,2,T4\n");
  const std::vector<OpenbPod> pods = Pods("a,1,1,1,1000,,LS,R,0,1,0\nb,1,1,1,1000,,LS,R,0,1,0\n");
  for (const std::string& name : OpenbPolicyNames()) {
    Result<OpenbRun> r = ReplayOpenb(nodes, pods, name, 42, 150);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->placed, 2) << name;
    EXPECT_EQ(r->dropped, 1) << name;
    EXPECT_DOUBLE_EQ(r->alloc100, 100.0) << name;
    EXPECT_DOUBLE_EQ(r->alloc_end, 100.0) << name;
    EXPECT_DOUBLE_EQ(r->frag_end, 0.0) << name;
    ASSERT_EQ(r->alloc_at.size(), 151U);
    EXPECT_DOUBLE_EQ(r->alloc_at[50], 50.0);
    EXPECT_DOUBLE_EQ(r->alloc_at[150], 100.0);
  }
  EXPECT_FALSE(ReplayOpenb(nodes, pods, "nope", 42, 130).ok());
}

TEST(OpenbReplayTest, FragmentationIsIdleGpuTheMixCannotUse) {
  // Two nodes of one GPU; pods of 600 milli: after two of them, 400 + 400
  // idle that no 600 pod can use: 40% of the cluster's GPU.
  const std::vector<OpenbNode> nodes = Nodes("a,8000,16384,1,T4\nb,8000,16384,1,T4\n");
  const std::vector<OpenbPod> pods = Pods("a,1,1,1,600,,LS,R,0,1,0\nb,1,1,1,600,,LS,R,0,1,0\n");
  Result<OpenbRun> r = ReplayOpenb(nodes, pods, "fgd", 42, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->placed, 2);
  EXPECT_DOUBLE_EQ(r->alloc_end, 60.0);
  EXPECT_DOUBLE_EQ(r->frag_end, 40.0);
}

}  // namespace
}  // namespace sluice::sim
