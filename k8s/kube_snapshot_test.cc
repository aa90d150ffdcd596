// The snapshot a Kubernetes cluster turns into, from the API's own JSON.
#include "k8s/kube_snapshot.h"

#include <gtest/gtest.h>

#include "sched/scheduler.h"

namespace sluice {
namespace {

using nlohmann::json;

json NodeJson(const std::string& name, int gpus, std::map<std::string, std::string> labels = {}) {
  labels["sluice.dev/gpu-memory-mib"] = "81920";
  return {{"metadata", {{"name", name}, {"labels", json(labels)}}},
          {"status",
           {{"allocatable",
             {{"nvidia.com/gpu", std::to_string(gpus)}, {"cpu", "64"}, {"memory", "512Gi"}}}}}};
}

using Strings = std::map<std::string, std::string>;

json PodJson(const std::string& ns, const std::string& name, const Strings& annotations = {},
             const Strings& limits = {}, const std::string& scheduler = "sluice") {
  return {{"metadata",
           {{"namespace", ns},
            {"name", name},
            {"uid", ns + "-" + name},
            {"creationTimestamp", "2026-12-01T10:00:00Z"},
            {"annotations", json(annotations)}}},
          {"spec",
           {{"schedulerName", scheduler},
            {"containers",
             json::array(
                 {{{"name", "main"},
                   {"resources", {{"limits", json(limits)}, {"requests", {{"cpu", "1"}}}}}}})}}},
          {"status", {{"phase", "Pending"}}}};
}

struct Cluster {
  ClusterObjects o;
  void Node(const json& j) { o.nodes.push_back(*DecodeNode(j)); }
  void Pod(const json& j) { o.pods.push_back(*DecodePod(j)); }
  void Queue(const std::string& name, const std::string& gpu_quota,
             const std::string& parent = "") {
    json spec = {{"resources", {{"gpu", {{"quota", gpu_quota}}}}}};
    if (!parent.empty()) spec["parent"] = parent;
    o.queues.push_back(*DecodeQueue({{"metadata", {{"name", name}}}, {"spec", spec}}));
  }
  void Namespace(const std::string& name, const std::string& queue) {
    json labels = json::object();
    if (!queue.empty()) labels[kQueueLabel] = queue;
    o.namespaces.push_back(
        *DecodeNamespace({{"metadata", {{"name", name}, {"labels", json(labels)}}}}));
  }
  KubeSnapshot Build() { return BuildKubeSnapshot(o, "sluice", Time{1'800'000'000'000}); }
};

TEST(KubeObjects, NodesGiveTheirGpusAndTaintsKeepPodsOff) {
  KubeNode n =
      *DecodeNode(NodeJson("gpu-1", 8, {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"}}));
  EXPECT_EQ(n.gpus, 8);
  EXPECT_EQ(n.gpu_memory_mib, 81920);
  EXPECT_EQ(n.gpu_model, "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(n.cpu_milli, 64000);
  EXPECT_EQ(n.memory_mib, 512 * 1024);
  EXPECT_EQ(n.unschedulable, "");

  json tainted = NodeJson("gpu-2", 8);
  tainted["spec"]["taints"] = json::array({{{"key", "nvidia.com/gpu"}, {"effect", "NoSchedule"}}});
  EXPECT_EQ(DecodeNode(tainted)->unschedulable, "") << "GPU nodes are tainted for GPU pods";
  tainted["spec"]["taints"].push_back({{"key", "maintenance"}, {"effect", "NoSchedule"}});
  EXPECT_EQ(DecodeNode(tainted)->unschedulable, "taint maintenance:NoSchedule");
}

TEST(KubeObjects, PodsAskForWholeOrFractionalGpus) {
  KubePod whole = *DecodePod(PodJson("a", "p", {}, {{"nvidia.com/gpu", "2"}}));
  EXPECT_TRUE(whole.request.whole_gpus());
  EXPECT_EQ(whole.request.gpu_devices, 2);
  EXPECT_EQ(whole.request.cpu_milli, 1000);

  KubePod half = *DecodePod(PodJson("a", "p", {{kGpuFractionAnnotation, "0.5"}}));
  EXPECT_TRUE(half.request.fractional());
  EXPECT_EQ(half.request.gpu_milli, 500);

  KubePod memory = *DecodePod(PodJson("a", "p", {{kGpuMemoryAnnotation, "20Gi"}}));
  EXPECT_EQ(memory.request.gpu_memory_mib, 20480);
  EXPECT_EQ(DecodePod(PodJson("a", "p", {{kGpuMemoryAnnotation, "4096"}}))->request.gpu_memory_mib,
            4096);

  EXPECT_EQ(
      DecodePod(PodJson("a", "p", {{kGpuFractionAnnotation, "half"}}))->problem,
      "sluice.dev/gpu-fraction: expected a decimal number with at most 3 decimals, got \"half\"");
  EXPECT_EQ(
      DecodePod(PodJson("a", "p", {{kGpuFractionAnnotation, "0.5"}}, {{"nvidia.com/gpu", "1"}}))
          ->problem,
      "asks for nvidia.com/gpu and a fraction annotation at once; use one");
  EXPECT_NE(DecodePod(PodJson("a", "p", {}, {{"nvidia.com/gpu", "0.5"}}))->problem, "");
}

TEST(KubeSnapshot, PodsOfOneNamespaceGoToItsQueue) {
  Cluster c;
  c.Node(NodeJson("n1", 8));
  c.Queue("research", "8");
  c.Queue("vision", "4", "research");
  c.Namespace("team-a", "vision");
  c.Pod(PodJson("team-a", "train", {}, {{"nvidia.com/gpu", "2"}}));
  c.Pod(PodJson("team-a", "other", {}, {{"nvidia.com/gpu", "1"}}, "default-scheduler"));
  KubeSnapshot ks = c.Build();
  ASSERT_EQ(ks.snapshot.workloads.size(), 1U);
  const Workload& w = ks.snapshot.workloads[0];
  EXPECT_EQ(w.name, "team-a/pod/train");
  EXPECT_EQ(ks.snapshot.queue(w.queue).name, "vision");
  EXPECT_EQ(ks.snapshot.queues[0].name, "research") << "parents come first";
  EXPECT_EQ(ks.snapshot.queue(w.queue).depth, 1);
  EXPECT_EQ(ks.waiting[0].size(), 1U);
  EXPECT_TRUE(ks.refused.empty());

  CycleResult r = RunCycle(ks.snapshot);
  ASSERT_EQ(r.binds.size(), 1U);
  EXPECT_EQ(r.binds[0].pods[0].gpus.size(), 2U);
}

TEST(KubeSnapshot, OtherSchedulersPodsTakeTheirShareOfTheNode) {
  Cluster c;
  c.Node(NodeJson("n1", 4));
  c.Queue("vision", "4");
  c.Namespace("team-a", "vision");
  json foreign = PodJson("kube-system", "dcgm", {}, {{"nvidia.com/gpu", "3"}}, "default-scheduler");
  foreign["spec"]["nodeName"] = "n1";
  c.Pod(foreign);
  c.Pod(PodJson("team-a", "train", {}, {{"nvidia.com/gpu", "2"}}));
  KubeSnapshot ks = c.Build();
  EXPECT_EQ(ks.snapshot.nodes[0].gpus, 1);
  CycleResult r = RunCycle(ks.snapshot);
  EXPECT_TRUE(r.binds.empty());
  EXPECT_NE(r.reason[0], "");
}

TEST(KubeSnapshot, BoundPodsHoldTheDevicesTheirBindingRecorded) {
  Cluster c;
  c.Node(NodeJson("n1", 1));
  c.Queue("vision", "1");
  c.Namespace("team-a", "vision");
  json bound = PodJson("team-a", "a",
                       {{kGpuFractionAnnotation, "0.5"},
                        {kGpuPlacementAnnotation, "0"},
                        {kGpuMilliAnnotation, "500"}});
  bound["spec"]["nodeName"] = "n1";
  c.Pod(bound);
  c.Pod(PodJson("team-a", "b", {{kGpuFractionAnnotation, "0.5"}}));
  c.Pod(PodJson("team-a", "c", {{kGpuFractionAnnotation, "0.75"}}));
  KubeSnapshot ks = c.Build();
  ASSERT_EQ(ks.snapshot.workloads.size(), 3U);
  EXPECT_TRUE(ks.snapshot.workloads[0].running);
  EXPECT_EQ(ks.snapshot.workloads[0].placement[0].gpu_milli, 500);
  CycleResult r = RunCycle(ks.snapshot);
  ASSERT_EQ(r.binds.size(), 1U) << "half of the GPU is left: b fits, c does not";
  EXPECT_EQ(ks.snapshot.workload(r.binds[0].workload).name, "team-a/pod/b");
}

TEST(KubeSnapshot, GangsComeFromPodGroupsAndJobs) {
  Cluster c;
  c.Node(NodeJson("n1", 8));
  c.Queue("vision", "8");
  c.Namespace("team-a", "vision");
  c.o.groups.push_back(
      *DecodePodGroup({{"metadata", {{"namespace", "team-a"}, {"name", "ddp"}}},
                       {"spec", {{"minMember", 3}, {"priorityClassName", "build"}}}}));
  for (const char* name : {"ddp-0", "ddp-1", "ddp-2"}) {
    c.Pod(PodJson("team-a", name, {{kPodGroupAnnotation, "ddp"}}, {{"nvidia.com/gpu", "2"}}));
  }
  c.o.jobs.push_back(*DecodeJob({{"metadata", {{"namespace", "team-a"}, {"name", "sweep"}}},
                                 {"spec", {{"parallelism", 2}}}}));
  json job_pod = PodJson("team-a", "sweep-x", {}, {{"nvidia.com/gpu", "1"}});
  job_pod["metadata"]["ownerReferences"] =
      json::array({{{"kind", "Job"}, {"name", "sweep"}, {"controller", true}}});
  c.Pod(job_pod);
  KubeSnapshot ks = c.Build();
  ASSERT_EQ(ks.snapshot.workloads.size(), 1U);
  const Workload& gang = ks.snapshot.workloads[0];
  EXPECT_EQ(gang.name, "team-a/podgroup/ddp");
  EXPECT_EQ(gang.pods, 3);
  EXPECT_EQ(gang.min_available, 3);
  EXPECT_EQ(gang.priority_class, PriorityClass::kBuild);
  EXPECT_FALSE(gang.preemptible);
  ASSERT_EQ(ks.refused.size(), 1U);
  EXPECT_EQ(ks.refused[0].second, "waiting for the gang's pods: 1 of 2 exist");
}

TEST(KubeSnapshot, PodsThatCannotBeScheduledSayWhy) {
  Cluster c;
  c.Node(NodeJson("n1", 8));
  c.Queue("research", "8");
  c.Queue("vision", "4", "research");
  c.Queue("orphan", "1", "nowhere");
  c.Namespace("unlabelled", "");
  c.Namespace("to-parent", "research");
  c.Namespace("to-orphan", "orphan");
  c.Pod(PodJson("unlabelled", "a", {}, {{"nvidia.com/gpu", "1"}}));
  c.Pod(PodJson("to-parent", "b", {}, {{"nvidia.com/gpu", "1"}}));
  c.Pod(PodJson("to-orphan", "c", {}, {{"nvidia.com/gpu", "1"}}));
  c.Pod(PodJson("to-parent", "d", {{kPodGroupAnnotation, "missing"}}));
  KubeSnapshot ks = c.Build();
  EXPECT_TRUE(ks.snapshot.workloads.empty());
  std::map<std::string, std::string> why;
  for (const auto& [pi, message] : ks.refused)
    why[c.o.pods[static_cast<size_t>(pi)].name] = message;
  EXPECT_EQ(why["a"],
            "namespace unlabelled has no sluice.dev/queue label, so its pods have no queue; label "
            "it with the queue they go to");
  EXPECT_EQ(why["b"], "queue research has child queues; pods go to a queue without children");
  EXPECT_EQ(why["c"], "queue orphan: its parent queue nowhere does not exist");
  EXPECT_EQ(why["d"], "its PodGroup to-parent/missing does not exist");
}

}  // namespace
}  // namespace sluice
