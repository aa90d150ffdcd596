// sluice as the scheduler of a Kubernetes cluster, against a real
// kube-apiserver and etcd (KubeEnv): quotas and fair share across
// namespaces, reclaim through the Eviction API, gangs, fractional GPUs with
// their ConfigMap and reservation pod, pods of other schedulers, and leader
// election. Each test program runs its own API server (ctest runs each
// test in a process of its own).
#include "k8s/kube_scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "k8s/testing/cluster.h"

namespace sluice::k8s::testing {
namespace {

using nlohmann::json;

Time WallClock() {
  return Time{std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count()};
}

class KubeSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<TestCluster>> c = TestCluster::Start();
    ASSERT_TRUE(c.ok()) << c.status().message();
    cluster_ = std::move(c).value();
  }

  KubeSchedulerOptions Options(const std::string& identity = "test") {
    KubeSchedulerOptions o;
    o.period = Duration{300};
    o.debounce = Duration{20};
    o.lease.identity = identity;
    o.lease.duration = Duration{2000};
    o.now = WallClock;
    o.log = [identity](const std::string& line) {
      std::fprintf(stderr, "[%s] %s\n", identity.c_str(), line.c_str());
    };
    return o;
  }

  std::unique_ptr<KubeScheduler> StartScheduler(const std::string& identity = "test") {
    auto s = std::make_unique<KubeScheduler>(&cluster_->admin(), Options(identity));
    s->Start();
    return s;
  }

  std::string Condition(const std::string& ns, const std::string& pod) {
    json p = cluster_->Get("/api/v1/namespaces/" + ns + "/pods/" + pod);
    if (!p.is_object()) return "";
    for (const json& c : p["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "PodScheduled") return c.value("message", "");
    }
    return "";
  }

  std::unique_ptr<TestCluster> cluster_;
};

// Two teams, 4 guaranteed GPUs each, on one 8-GPU node; each asks for 6.
TEST_F(KubeSchedulerTest, PodsOfSeveralNamespacesBindByQuotaAndFairShare) {
  TestCluster& c = *cluster_;
  c.Node("gpu-1", 8);
  c.Queue("team-a", "4");
  c.Queue("team-b", "4");
  c.Namespace("a", "team-a");
  c.Namespace("b", "team-b");
  for (int i = 0; i < 6; ++i) {
    c.Pod("a", "a-" + std::to_string(i), 1);
    c.Pod("b", "b-" + std::to_string(i), 1);
  }
  auto s = StartScheduler();
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("a").size() + c.Bound("b").size() == 8; }));
  // Each team gets exactly its quota: neither may hold the other's.
  EXPECT_EQ(c.Bound("a").size(), 4U);
  EXPECT_EQ(c.Bound("b").size(), 4U);
  // The others say why they wait, in their PodScheduled condition and an Event.
  std::string waiting;
  for (const json& p : c.Pods("a")) {
    if (p["spec"].value("nodeName", "").empty()) waiting = p["metadata"]["name"];
  }
  ASSERT_FALSE(waiting.empty());
  ASSERT_TRUE(TestCluster::WaitFor([&] { return !Condition("a", waiting).empty(); }));
  EXPECT_NE(Condition("a", waiting).find("GPU"), std::string::npos) << Condition("a", waiting);
  bool failed_event = false;
  bool scheduled_event = false;
  for (const json& e : c.Events("a")) {
    failed_event |= e.value("reason", "") == "FailedScheduling";
    scheduled_event |= e.value("reason", "") == "Scheduled";
  }
  EXPECT_TRUE(failed_event);
  EXPECT_TRUE(scheduled_event);
  // Each Queue's status has its fair share and what it holds.
  ASSERT_TRUE(TestCluster::WaitFor([&] {
    json q = c.Get("/apis/scheduling.sluice.dev/v1/queues/team-a");
    return q.is_object() && q.contains("status") &&
           q["status"]["allocated"].value("gpu", "") == "4";
  }));
  json q = c.Get("/apis/scheduling.sluice.dev/v1/queues/team-a");
  EXPECT_EQ(q["status"]["fairShare"].value("gpu", ""), "4");
  EXPECT_EQ(q["status"]["pending"].value("gpu", ""), "2");
  // A bound pod records its devices; no device is given twice.
  std::set<std::string> devices;
  for (const std::string ns : {"a", "b"}) {
    for (const json& p : c.Pods(ns)) {
      if (p["spec"].value("nodeName", "").empty()) continue;
      const std::string d = p["metadata"]["annotations"].value(kGpuPlacementAnnotation, "");
      EXPECT_TRUE(devices.insert(d).second) << "device " << d << " given twice";
    }
  }
  EXPECT_EQ(devices.size(), 8U);
}

// Team a borrows the whole node; team b's guaranteed quota takes it back
// through the Eviction API, and b's pods bind once a's are gone.
TEST_F(KubeSchedulerTest, ReclaimEvictsThroughTheEvictionApiAndTheReclaimerBinds) {
  TestCluster& c = *cluster_;
  FakeKubelet kubelet(&c.admin());
  c.Node("gpu-1", 8);
  c.Queue("team-a", "2");
  c.Queue("team-b", "6");
  c.Namespace("a", "team-a");
  c.Namespace("b", "team-b");
  for (int i = 0; i < 8; ++i) c.Pod("a", "a-" + std::to_string(i), 1);
  auto s = StartScheduler();
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("a").size() == 8; }));
  for (int i = 0; i < 4; ++i) c.Pod("b", "b-" + std::to_string(i), 1);
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("b").size() == 4; }))
      << "b has " << c.Bound("b").size() << " bound";
  EXPECT_EQ(c.Pods("a").size(), 4U) << "four of a's borrowed GPUs were taken back";
  EXPECT_GE(kubelet.deleted(), 4);
  int reclaimed = 0;
  for (const json& e : c.Events("a")) reclaimed += e.value("reason", "") == "Reclaimed" ? 1 : 0;
  EXPECT_EQ(reclaimed, 4);
}

// A gang of three pods of 4 GPUs binds all together or not at all.
TEST_F(KubeSchedulerTest, AGangBindsAllOrNothing) {
  TestCluster& c = *cluster_;
  c.Node("gpu-1", 8);
  c.Queue("team-a", "16");
  c.Namespace("a", "team-a");
  c.Apply("/apis/scheduling.sluice.dev/v1/namespaces/a/podgroups",
          {{"apiVersion", "scheduling.sluice.dev/v1"},
           {"kind", "PodGroup"},
           {"metadata", {{"name", "ddp"}}},
           {"spec", {{"minMember", 3}}}});
  for (int i = 0; i < 3; ++i)
    c.Pod("a", "ddp-" + std::to_string(i), 4, {{kPodGroupAnnotation, "ddp"}});
  auto s = StartScheduler();
  ASSERT_TRUE(TestCluster::WaitFor([&] { return !Condition("a", "ddp-0").empty(); }));
  EXPECT_TRUE(c.Bound("a").empty()) << "12 GPUs do not fit on 8: nothing binds";
  EXPECT_NE(Condition("a", "ddp-0").find('3'), std::string::npos) << Condition("a", "ddp-0");
  // The PodGroup's status is patched apart from the pods' conditions: wait
  // for it rather than read it at once.
  json group;
  EXPECT_TRUE(TestCluster::WaitFor([&] {
    group = c.Get("/apis/scheduling.sluice.dev/v1/namespaces/a/podgroups/ddp");
    return group.is_object() && group["status"].is_object() &&
           group["status"].value("phase", "") == "Pending";
  })) << group;
  EXPECT_EQ(group["status"].value("scheduled", -1), 0) << group;
  c.Node("gpu-2", 8);
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("a").size() == 3; }));
  ASSERT_TRUE(TestCluster::WaitFor([&] {
    json g = c.Get("/apis/scheduling.sluice.dev/v1/namespaces/a/podgroups/ddp");
    return g["status"].value("phase", "") == "Running" && g["status"].value("scheduled", 0) == 3;
  }));
}

// Two half-GPU pods share one device: each gets a ConfigMap with its
// fraction and memory limit, one reservation pod holds the device, and the
// device's UUID reaches both ConfigMaps once the reservation knows it.
TEST_F(KubeSchedulerTest, FractionsGetTheirDeviceAndLimitThroughAConfigMap) {
  TestCluster& c = *cluster_;
  FakeKubelet kubelet(&c.admin());
  c.Node("gpu-1", 1, 81920);
  c.Queue("team-a", "1");
  c.Namespace("a", "team-a");
  c.Pod("a", "half-0", 0,
        {{kGpuFractionAnnotation, "0.5"}, {kGpuConfigMapAnnotation, "sluice-gpu-h0"}});
  c.Pod("a", "half-1", 0,
        {{kGpuFractionAnnotation, "0.5"}, {kGpuConfigMapAnnotation, "sluice-gpu-h1"}});
  auto s = StartScheduler();
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("a").size() == 2; }));
  for (const std::string cm : {"sluice-gpu-h0", "sluice-gpu-h1"}) {
    ASSERT_TRUE(TestCluster::WaitFor([&] {
      json m = c.Get("/api/v1/namespaces/a/configmaps/" + cm);
      return m.is_object() && m["data"].contains("NVIDIA_VISIBLE_DEVICES");
    })) << cm;
    json m = c.Get("/api/v1/namespaces/a/configmaps/" + cm);
    EXPECT_EQ(m["data"].value("NVIDIA_VISIBLE_DEVICES", ""), "GPU-gpu-1-0");
    EXPECT_EQ(m["data"].value("SLUICE_GPU_FRACTION", ""), "0.5");
    EXPECT_EQ(m["data"].value("SLUICE_GPU_MEMORY_LIMIT_MIB", ""), "40960");
    EXPECT_EQ(m["data"].value("SLUICE_GPU_MEMORY_LIMIT", ""), std::to_string(int64_t{40960} << 20));
    EXPECT_EQ(m["data"].value("SLUICE_GPU_COMPUTE_SHARE", ""), "50");
    EXPECT_EQ(m["metadata"]["ownerReferences"][0].value("kind", ""), "Pod");
  }
  std::vector<json> reservations = c.Pods("sluice-system");
  ASSERT_EQ(reservations.size(), 1U) << "one device, one reservation";
  EXPECT_EQ(reservations[0]["spec"].value("nodeName", ""), "gpu-1");
  EXPECT_EQ(
      reservations[0]["spec"]["containers"][0]["resources"]["limits"].value("nvidia.com/gpu", ""),
      "1");
  // When the fractions are gone, the device goes back to the device plugin.
  ASSERT_TRUE(
      c.admin().Delete("/api/v1/namespaces/a/pods/half-0", {{"gracePeriodSeconds", 0}}).ok());
  ASSERT_TRUE(
      c.admin().Delete("/api/v1/namespaces/a/pods/half-1", {{"gracePeriodSeconds", 0}}).ok());
  EXPECT_TRUE(TestCluster::WaitFor([&] { return c.Pods("sluice-system").empty(); }));
}

// Pods that name another scheduler are never bound, evicted or annotated.
TEST_F(KubeSchedulerTest, PodsOfOtherSchedulersAreNeverTouched) {
  TestCluster& c = *cluster_;
  c.Node("gpu-1", 8);
  c.Queue("team-a", "8");
  c.Namespace("a", "team-a");
  c.Pod("a", "theirs", 1, {}, "default-scheduler");
  c.Pod("a", "ours", 1);
  auto s = StartScheduler();
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("a").size() == 1; }));
  s->Stop();
  EXPECT_EQ(c.Bound("a"), std::vector<std::string>{"ours"});
  json theirs = c.Get("/api/v1/namespaces/a/pods/theirs");
  EXPECT_FALSE(theirs["status"].contains("conditions")) << theirs["status"].dump();
  for (const json& e : c.Events("a")) EXPECT_NE(e["involvedObject"].value("name", ""), "theirs");
}

// Two replicas: one leads; when it dies without a word, the other takes
// the lease once it expires and binds what came since.
TEST_F(KubeSchedulerTest, AStandbyTakesOverWhenTheLeaderDies) {
  TestCluster& c = *cluster_;
  c.Node("gpu-1", 8);
  c.Queue("team-a", "8");
  c.Namespace("a", "team-a");
  auto first = StartScheduler("first");
  ASSERT_TRUE(TestCluster::WaitFor([&] { return first->stats().leading; }));
  auto second = StartScheduler("second");
  c.Pod("a", "p-0", 1);
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("a").size() == 1; }));
  EXPECT_FALSE(second->stats().leading);
  EXPECT_EQ(second->stats().binds, 0);
  first->Stop(/*release=*/false);  // as if killed: the lease is not given up
  for (int i = 1; i < 4; ++i) c.Pod("a", "p-" + std::to_string(i), 1);
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("a").size() == 4; }));
  EXPECT_TRUE(second->stats().leading);
  // The counter goes up once the Binding call has returned, a moment after
  // the API server shows the pod bound.
  EXPECT_TRUE(TestCluster::WaitFor([&] { return second->stats().binds == 3; }))
      << second->stats().binds;
  json lease =
      c.Get("/apis/coordination.k8s.io/v1/namespaces/sluice-system/leases/sluice-scheduler");
  EXPECT_EQ(lease["spec"].value("holderIdentity", ""), "second");
  EXPECT_EQ(lease["spec"].value("leaseTransitions", 0), 1);
}

}  // namespace
}  // namespace sluice::k8s::testing
