// A test's Kubernetes cluster: the real API server of KubeEnv with sluice's
// CRDs installed, an admin client, and helpers that create the objects a
// scenario needs (GPU nodes, namespaces in queues, pods) and wait for what
// the scheduler does to them.
//
// No kubelet runs, so the cluster's nodes are only Node objects. A
// FakeKubelet stands in for the two things a kubelet would do that the
// scheduler depends on: it finishes the deletion of pods whose deletion was
// asked for (at once, as a kubelet does when the containers exit as soon as
// they are told to), and it plays the container of a GPU reservation pod,
// which writes the device the device plugin gave it into its annotation.
#ifndef SLUICE_K8S_TESTING_CLUSTER_H_
#define SLUICE_K8S_TESTING_CLUSTER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "k8s/kube_client.h"
#include "k8s/testing/kube_env.h"

namespace sluice::k8s::testing {

class TestCluster {
 public:
  // Starts (or shares) the API server and installs the CRDs of
  // deploy/helm/sluice/crds.
  static Result<std::unique_ptr<TestCluster>> Start();

  KubeClient& admin() { return *admin_; }
  KubeEnv& env() { return *env_; }

  // Objects; each returns the API's answer and fails the test on an error.
  void Node(const std::string& name, int gpus, int64_t gpu_memory_mib = 81920);
  void Namespace(const std::string& name, const std::string& queue);
  void Queue(const std::string& name, const std::string& gpu_quota, const std::string& parent = "",
             const std::string& gpu_limit = "");
  void Pod(const std::string& ns, const std::string& name, int gpus,
           const std::map<std::string, std::string>& annotations = {},
           const std::string& scheduler = "sluice");
  void Apply(const std::string& path, const nlohmann::json& body);  // POST, fail unless 2xx

  std::vector<nlohmann::json> Pods(const std::string& ns);
  std::vector<nlohmann::json> Events(const std::string& ns);
  nlohmann::json Get(const std::string& path);
  // Names of the pods of `ns` bound to a node.
  std::vector<std::string> Bound(const std::string& ns);

  // Polls `ok` every 50 ms for up to `seconds`; returns whether it held.
  static bool WaitFor(const std::function<bool()>& ok, double seconds = 20);

 private:
  TestCluster() = default;
  KubeEnv* env_ = nullptr;
  std::unique_ptr<KubeClient> admin_;
};

class FakeKubelet {
 public:
  explicit FakeKubelet(KubeClient* client);
  ~FakeKubelet();
  FakeKubelet(const FakeKubelet&) = delete;
  FakeKubelet& operator=(const FakeKubelet&) = delete;
  int64_t deleted() const { return deleted_.load(); }

 private:
  void Run();
  KubeClient* client_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> deleted_{0};
  std::thread thread_;
};

// YAML (one document) as JSON, for manifests.
Result<nlohmann::json> YamlFileToJson(const std::string& path);

}  // namespace sluice::k8s::testing

#endif  // SLUICE_K8S_TESTING_CLUSTER_H_
