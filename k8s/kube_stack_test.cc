// The whole Kubernetes stack as it is deployed, against a real API server:
// `sluice k8s webhook` and two `sluice k8s scheduler` replicas run as
// processes, the schedulers as the "sluice-scheduler" user with exactly the
// RBAC rules the Helm chart grants (rendered by helm template), and the API
// server calls the webhook for every pod. Fraction pods come out of the
// webhook pointed at a ConfigMap that the scheduler fills; the leader is
// killed with SIGKILL mid-stream and the standby binds everything that
// was left, each pod once.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "gtest/gtest.h"
#include "k8s/kube_objects.h"
#include "k8s/testing/cluster.h"
#include "k8s/testing/shell.h"
#include "k8s/webhook/admission.h"

namespace sluice::k8s::testing {
namespace {

using nlohmann::json;

const std::string kSluice = SLUICE_BINARY;
const std::string kSource = SLUICE_SOURCE_DIR;

// A child process with its output in a file; killed (SIGKILL) when dropped.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log) {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> args;
      args.reserve(argv.size() + 1);
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Process() { Kill(SIGKILL); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  return ok ? ntohs(a.sin_port) : 18443;
}

// The scheduler's RBAC objects of the chart, rendered by helm, bound to the
// test's "sluice-scheduler" user instead of the chart's service account.
void GrantTheChartsSchedulerRules(TestCluster& c) {
  const std::string rendered = RunShell(kSource + "/.tools/bin/helm template sluice " + kSource +
                                        "/deploy/helm/sluice --namespace sluice-system")
                                   .text;
  std::vector<YAML::Node> docs = YAML::LoadAll(rendered);
  int granted = 0;
  for (const YAML::Node& doc : docs) {
    if (!doc.IsMap() || !doc["kind"] || !doc["metadata"]) continue;
    const std::string kind = doc["kind"].as<std::string>();
    const std::string name = doc["metadata"]["name"].as<std::string>();
    if (name != "sluice-scheduler") continue;
    std::string path;
    YAML::Node d = YAML::Clone(doc);
    if (kind == "ClusterRole") path = "/apis/rbac.authorization.k8s.io/v1/clusterroles";
    if (kind == "Role") path = "/apis/rbac.authorization.k8s.io/v1/namespaces/sluice-system/roles";
    if (kind == "ClusterRoleBinding" || kind == "RoleBinding") {
      path = kind == "RoleBinding"
                 ? "/apis/rbac.authorization.k8s.io/v1/namespaces/sluice-system/rolebindings"
                 : "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
      YAML::Node user;
      user["kind"] = "User";
      user["apiGroup"] = "rbac.authorization.k8s.io";
      user["name"] = "sluice-scheduler";
      d["subjects"] = YAML::Node(YAML::NodeType::Sequence);
      d["subjects"].push_back(user);
    }
    if (path.empty()) continue;
    const std::string file = c.env().dir() + "/rbac-" + kind + ".yaml";
    std::ofstream(file) << d;
    Result<json> j = YamlFileToJson(file);
    ASSERT_TRUE(j.ok()) << j.status().message();
    c.Apply(path, *j);
    ++granted;
  }
  ASSERT_EQ(granted, 4) << "the chart's scheduler ClusterRole, Role and their bindings:\n"
                        << rendered.substr(0, 2000);
}

TEST(KubeStackTest, WebhookAndReplicatedSchedulersWithTheChartsRbac) {
  Result<std::unique_ptr<TestCluster>> started = TestCluster::Start();
  ASSERT_TRUE(started.ok()) << started.status().message();
  TestCluster& c = **started;
  GrantTheChartsSchedulerRules(c);

  // The webhook, serving a certificate for 127.0.0.1.
  const std::string certs = c.env().dir() + "/webhook-certs";
  ASSERT_EQ(
      system(
          (kSluice + " k8s webhook certs --dir " + certs + " --dns 127.0.0.1 > /dev/null").c_str()),
      0);
  const int port = FreePort();
  Process webhook({kSluice, "k8s", "webhook", "--cert", certs + "/tls.crt", "--key",
                   certs + "/tls.key", "--address", "127.0.0.1", "--port", std::to_string(port)},
                  c.env().dir() + "/webhook.log");
  json hook = {{"name", "pods.webhook.sluice.dev"},
               {"admissionReviewVersions", {"v1"}},
               {"sideEffects", "None"},
               {"failurePolicy", "Fail"},
               {"timeoutSeconds", 5},
               {"clientConfig",
                {{"url", "https://127.0.0.1:" + std::to_string(port) + "/mutate"},
                 {"caBundle", Base64Encode(ReadTextFile(certs + "/ca.crt"))}}},
               {"rules", json::array({{{"operations", {"CREATE"}},
                                       {"apiGroups", {""}},
                                       {"apiVersions", {"v1"}},
                                       {"resources", {"pods"}}}})},
               {"namespaceSelector", {{"matchLabels", {{"sluice.dev/queue", "team-a"}}}}}};
  c.Apply("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
          {{"metadata", {{"name", "sluice"}}}, {"webhooks", json::array({hook})}});

  c.Node("gpu-1", 4);
  c.Node("gpu-2", 4);
  c.Queue("team-a", "8");
  c.Namespace("a", "team-a");
  FakeKubelet kubelet(&c.admin());

  // A pod with a bad annotation is refused with the webhook's message
  // (retried while the API server picks the configuration up).
  std::string refusal;
  ASSERT_TRUE(TestCluster::WaitFor([&] {
    Result<KubeResponse> r = c.admin().Post(
        "/api/v1/namespaces/a/pods",
        {{"metadata", {{"name", "bad"}, {"annotations", {{kGpuFractionAnnotation, "1.5"}}}}},
         {"spec",
          {{"schedulerName", "sluice"},
           {"containers", json::array({{{"name", "m"}, {"image", "x"}}})}}}});
    if (r.ok() && r->status == 201) {
      (void)c.admin().Delete("/api/v1/namespaces/a/pods/bad", {{"gracePeriodSeconds", 0}});
    }
    refusal = r.ok() ? r->Message() : "";
    return r.ok() && r->status == 400;
  }));
  EXPECT_NE(refusal.find(kGpuFractionAnnotation), std::string::npos) << refusal;

  auto scheduler = [&](const std::string& id) {
    return std::make_unique<Process>(
        std::vector<std::string>{kSluice, "k8s", "scheduler", "--kubeconfig",
                                 c.env().scheduler_kubeconfig_path(), "--namespace",
                                 "sluice-system", "--identity", id, "--lease-duration", "2s",
                                 "--period", "300ms", "--reservation-service-account", "default"},
        c.env().dir() + "/scheduler-" + id + ".log");
  };
  auto one = scheduler("one");
  auto two = scheduler("two");
  const std::string lease_path =
      "/apis/coordination.k8s.io/v1/namespaces/sluice-system/leases/sluice-scheduler";
  std::string leader;
  ASSERT_TRUE(TestCluster::WaitFor([&] {
    json lease = c.Get(lease_path);
    leader = lease.is_object() ? lease["spec"].value("holderIdentity", "") : "";
    return !leader.empty();
  }));

  // Four half-GPU pods through the webhook, and whole-GPU pods.
  for (int i = 0; i < 4; ++i) {
    c.Pod("a", "half-" + std::to_string(i), 0, {{kGpuFractionAnnotation, "0.5"}});
  }
  for (int i = 0; i < 2; ++i) c.Pod("a", "whole-" + std::to_string(i), 1);
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("a").size() == 6; }))
      << ReadTextFile(c.env().dir() + "/scheduler-" + leader + ".log");
  for (int i = 0; i < 4; ++i) {
    json pod = c.Get("/api/v1/namespaces/a/pods/half-" + std::to_string(i));
    const std::string cm = pod["metadata"]["annotations"].value(kGpuConfigMapAnnotation, "");
    ASSERT_FALSE(cm.empty()) << "the webhook named the pod's ConfigMap";
    bool reads_limit = false;
    for (const json& e : pod["spec"]["containers"][0]["env"]) {
      reads_limit |= e.value("name", "") == "SLUICE_GPU_MEMORY_LIMIT" &&
                     e["valueFrom"]["configMapKeyRef"].value("name", "") == cm;
    }
    EXPECT_TRUE(reads_limit) << pod["spec"].dump();
    ASSERT_TRUE(TestCluster::WaitFor([&] {
      json m = c.Get("/api/v1/namespaces/a/configmaps/" + cm);
      return m.is_object() && !m["data"].value("NVIDIA_VISIBLE_DEVICES", "").empty();
    })) << cm;
    json m = c.Get("/api/v1/namespaces/a/configmaps/" + cm);
    EXPECT_EQ(m["data"].value("SLUICE_GPU_MEMORY_LIMIT_MIB", ""), "40960");
    const std::string node = pod["spec"].value("nodeName", "");
    const std::string gpu = pod["metadata"]["annotations"].value(kGpuPlacementAnnotation, "");
    EXPECT_EQ(m["data"].value("NVIDIA_VISIBLE_DEVICES", ""), "GPU-" + node + "-" + gpu)
        << "the device of the reservation pod that holds that GPU";
  }

  // The leader dies without a word; what comes next is bound by the other.
  (leader == "one" ? one : two)->Kill(SIGKILL);
  const std::string standby = leader == "one" ? "two" : "one";
  for (int i = 2; i < 6; ++i) c.Pod("a", "whole-" + std::to_string(i), 1);
  ASSERT_TRUE(TestCluster::WaitFor([&] { return c.Bound("a").size() == 10; }))
      << ReadTextFile(c.env().dir() + "/scheduler-" + standby + ".log");
  json lease = c.Get(lease_path);
  EXPECT_EQ(lease["spec"].value("holderIdentity", ""), standby);
  // No device was given twice: 2 GPUs hold the four halves, 6 whole pods the rest.
  std::set<std::string> whole;
  std::map<std::string, int> halves;
  for (const json& p : c.Pods("a")) {
    const std::string at = p["spec"].value("nodeName", "") + "/" +
                           p["metadata"]["annotations"].value(kGpuPlacementAnnotation, "");
    if (p["metadata"]["name"].get<std::string>().starts_with("half")) {
      halves[at]++;
    } else {
      EXPECT_TRUE(whole.insert(at).second) << at << " given twice";
    }
  }
  EXPECT_EQ(whole.size(), 6U);
  ASSERT_EQ(halves.size(), 2U);
  for (const auto& [at, n] : halves) {
    EXPECT_EQ(n, 2) << at;
    EXPECT_FALSE(whole.contains(at)) << at << " is shared and whole at once";
  }
}

}  // namespace
}  // namespace sluice::k8s::testing
