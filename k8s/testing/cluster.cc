#include "k8s/testing/cluster.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <chrono>
#include <filesystem>

#include "k8s/kube_objects.h"

namespace sluice::k8s::testing {
namespace {

using nlohmann::json;

json ToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : n) out[kv.first.as<std::string>()] = ToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : n) out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "?") return s;  // quoted: a string
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      int64_t i = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
      if (ec == std::errc() && p == s.data() + s.size()) return i;
      return s;
    }
    default:
      return nullptr;
  }
}

void Expect2xx(const Result<KubeResponse>& r, const std::string& what) {
  ASSERT_TRUE(r.ok()) << what << ": " << r.status().message();
  ASSERT_TRUE(r->ok()) << what << ": " << r->Message();
}

}  // namespace

Result<json> YamlFileToJson(const std::string& path) {
  try {
    return ToJson(YAML::LoadFile(path));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
}

Result<std::unique_ptr<TestCluster>> TestCluster::Start() {
  Result<KubeEnv*> env = KubeEnv::Shared();
  if (!env.ok()) return env.status();
  std::unique_ptr<TestCluster> c(new TestCluster());
  c->env_ = *env;
  Result<KubeConfig> config = LoadKubeconfig(c->env_->kubeconfig_path());
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<KubeClient>> client = KubeClient::Create(*config);
  if (!client.ok()) return client.status();
  c->admin_ = std::move(client).value();
  const std::string crds = std::string(SLUICE_SOURCE_DIR) + "/deploy/helm/sluice/crds";
  for (const auto& entry : std::filesystem::directory_iterator(crds)) {
    Result<json> crd = YamlFileToJson(entry.path());
    if (!crd.ok()) return crd.status();
    Result<KubeResponse> r =
        c->admin_->Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", *crd);
    if (!r.ok()) return r.status();
    if (!r->ok() && r->status != 409)
      return Status::Internal("CRD " + entry.path().string() + ": " + r->Message());
  }
  // The new resources are served once the CRDs are established.
  const bool served = WaitFor([&] {
    Result<KubeResponse> q =
        c->admin_->Get(std::string("/apis/") + kSchedulingGroup + "/v1/queues");
    Result<KubeResponse> g =
        c->admin_->Get(std::string("/apis/") + kSchedulingGroup + "/v1/podgroups");
    return q.ok() && q->ok() && g.ok() && g->ok();
  });
  if (!served) return Status::Internal("the CRDs were not served within 20 s");
  Result<KubeResponse> ns = c->admin_->Post(
      "/api/v1/namespaces",
      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "sluice-system"}}}});
  if (!ns.ok()) return ns.status();
  return c;
}

bool TestCluster::WaitFor(const std::function<bool()>& ok, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ok();
}

void TestCluster::Apply(const std::string& path, const json& body) {
  Expect2xx(admin_->Post(path, body), "POST " + path);
}

void TestCluster::Node(const std::string& name, int gpus, int64_t gpu_memory_mib) {
  Apply("/api/v1/nodes", {{"apiVersion", "v1"},
                          {"kind", "Node"},
                          {"metadata",
                           {{"name", name},
                            {"labels",
                             {{"sluice.dev/gpu-memory-mib", std::to_string(gpu_memory_mib)},
                              {"kubernetes.io/hostname", name}}}}}});
  // The API server taints a new node not-ready until a kubelet says
  // otherwise; these nodes have no kubelet, so the test says it.
  Expect2xx(admin_->Patch("/api/v1/nodes/" + name, {{"spec", {{"taints", nullptr}}}}),
            "untaint " + name);
  const json amounts = {{"nvidia.com/gpu", std::to_string(gpus)},
                        {"cpu", "64"},
                        {"memory", "512Gi"},
                        {"pods", "250"}};
  Expect2xx(admin_->Patch("/api/v1/nodes/" + name + "/status",
                          {{"status", {{"capacity", amounts}, {"allocatable", amounts}}}}),
            "node status " + name);
}

void TestCluster::Namespace(const std::string& name, const std::string& queue) {
  json labels = json::object();
  if (!queue.empty()) labels[kQueueLabel] = queue;
  Apply("/api/v1/namespaces", {{"apiVersion", "v1"},
                               {"kind", "Namespace"},
                               {"metadata", {{"name", name}, {"labels", labels}}}});
}

void TestCluster::Queue(const std::string& name, const std::string& gpu_quota,
                        const std::string& parent, const std::string& gpu_limit) {
  json gpu = {{"quota", gpu_quota}};
  if (!gpu_limit.empty()) gpu["limit"] = gpu_limit;
  json spec = {{"resources", {{"gpu", gpu}}}};
  if (!parent.empty()) spec["parent"] = parent;
  Apply(std::string("/apis/") + kSchedulingGroup + "/v1/queues",
        {{"apiVersion", std::string(kSchedulingGroup) + "/v1"},
         {"kind", "Queue"},
         {"metadata", {{"name", name}}},
         {"spec", spec}});
}

void TestCluster::Pod(const std::string& ns, const std::string& name, int gpus,
                      const std::map<std::string, std::string>& annotations,
                      const std::string& scheduler) {
  json resources = json::object();
  if (gpus > 0) resources = {{"limits", {{"nvidia.com/gpu", std::to_string(gpus)}}}};
  Apply("/api/v1/namespaces/" + ns + "/pods",
        {{"apiVersion", "v1"},
         {"kind", "Pod"},
         {"metadata", {{"name", name}, {"annotations", json(annotations)}}},
         {"spec",
          {{"schedulerName", scheduler},
           {"terminationGracePeriodSeconds", 1},
           {"containers",
            json::array({{{"name", "main"}, {"image", "busybox"}, {"resources", resources}}})}}}});
}

json TestCluster::Get(const std::string& path) {
  Result<KubeResponse> r = admin_->Get(path);
  if (!r.ok() || !r->ok()) return nullptr;
  return r->json;
}

std::vector<json> TestCluster::Pods(const std::string& ns) {
  json list = Get("/api/v1/namespaces/" + ns + "/pods");
  std::vector<json> out;
  if (list.is_object()) {
    for (const json& p : list["items"]) out.push_back(p);
  }
  return out;
}

std::vector<json> TestCluster::Events(const std::string& ns) {
  json list = Get("/api/v1/namespaces/" + ns + "/events");
  std::vector<json> out;
  if (list.is_object()) {
    for (const json& e : list["items"]) out.push_back(e);
  }
  return out;
}

std::vector<std::string> TestCluster::Bound(const std::string& ns) {
  std::vector<std::string> out;
  for (const json& p : Pods(ns)) {
    if (!p["spec"].value("nodeName", "").empty()) out.push_back(p["metadata"]["name"]);
  }
  return out;
}

FakeKubelet::FakeKubelet(KubeClient* client) : client_(client) {
  thread_ = std::thread([this] { Run(); });
}

FakeKubelet::~FakeKubelet() {
  stop_ = true;
  thread_.join();
}

void FakeKubelet::Run() {
  while (!stop_) {
    Result<KubeResponse> r = client_->Get("/api/v1/pods");
    if (r.ok() && r->ok()) {
      for (const json& p : r->json["items"]) {
        const json& meta = p["metadata"];
        const std::string path =
            "/api/v1/namespaces/" + meta.value("namespace", "") + "/pods/" + meta.value("name", "");
        if (meta.contains("deletionTimestamp")) {
          // The containers have exited: the kubelet deletes the pod for good.
          Result<KubeResponse> d = client_->Delete(path, {{"gracePeriodSeconds", 0}});
          if (d.ok() && d->ok()) deleted_++;
          continue;
        }
        const json labels = meta.value("labels", json::object());
        const json ann = meta.value("annotations", json::object());
        if (labels.value(kReservationLabel, "") == "true" && !ann.contains(kGpuUuidAnnotation)) {
          // What `sluice k8s reserve` writes: the device the plugin gave it.
          const std::string uuid = "GPU-" + p["spec"].value("nodeName", "") + "-" +
                                   labels.value(kReservationGpuLabel, "");
          (void)client_->Patch(path,
                               {{"metadata", {{"annotations", {{kGpuUuidAnnotation, uuid}}}}}});
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace sluice::k8s::testing
