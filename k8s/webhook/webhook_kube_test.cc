// The webhook as a real API server calls it: kube-env's kube-apiserver
// (k8s/testing/kube_env.h) with a MutatingWebhookConfiguration that points
// at a WebhookServer on 127.0.0.1. Pods are created through the API and
// come back patched, or are refused with the webhook's message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "k8s/kube_client.h"
#include "k8s/testing/kube_env.h"
#include "k8s/testing/shell.h"
#include "k8s/webhook/certs.h"
#include "k8s/webhook/webhook_server.h"

namespace sluice::k8s {
namespace {

using nlohmann::json;

json Pod(const std::string& name, const std::string& scheduler, const json& annotations) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"annotations", annotations}}},
          {"spec",
           {{"schedulerName", scheduler},
            {"containers", json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
}

class WebhookKubeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<testing::KubeEnv*> env = testing::KubeEnv::Shared();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = *env;
    KubeConfig config;
    config.server = env_->server();
    config.ca_data = testing::ReadTextFile(env_->ca_file());
    config.token = env_->admin_token();
    auto client = KubeClient::Create(config);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();

    auto certs = GenerateWebhookCertificates({"127.0.0.1"});
    ASSERT_TRUE(certs.ok());
    dir_ = env_->dir() + "/webhook-" + std::to_string(getpid());
    ASSERT_TRUE(WriteWebhookCertificates(*certs, dir_).ok());
    WebhookServerOptions options;
    options.cert_file = dir_ + "/tls.crt";
    options.key_file = dir_ + "/tls.key";
    options.address = "127.0.0.1";
    options.port = 0;
    auto server = WebhookServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();

    // Only namespaces of this test go to the webhook, so that a failure
    // here cannot block other tests' pods on the shared server.
    // Deleted namespaces linger (Terminating): each test gets a new name.
    static int tests = 0;
    ns_ = "webhook-" + std::to_string(getpid()) + "-" + std::to_string(++tests);
    auto made =
        client_->Post("/api/v1/namespaces",
                      {{"metadata", {{"name", ns_}, {"labels", {{"sluice-webhook-test", ns_}}}}}});
    ASSERT_TRUE(made.ok() && made->ok()) << (made.ok() ? made->Message() : "");
    json hook = {{"name", "pods.webhook.sluice.dev"},
                 {"admissionReviewVersions", {"v1"}},
                 {"sideEffects", "None"},
                 {"failurePolicy", "Fail"},
                 {"reinvocationPolicy", "IfNeeded"},
                 {"timeoutSeconds", 5},
                 {"clientConfig",
                  {{"url", "https://127.0.0.1:" + std::to_string(server_->port()) + "/mutate"},
                   {"caBundle", Base64Encode(certs->ca_crt)}}},
                 {"rules", json::array({{{"operations", {"CREATE"}},
                                         {"apiGroups", {""}},
                                         {"apiVersions", {"v1"}},
                                         {"resources", {"pods"}}}})},
                 {"namespaceSelector", {{"matchLabels", {{"sluice-webhook-test", ns_}}}}},
                 {"matchConditions",
                  json::array({{{"name", "sluice-pods-only"},
                                {"expression", "object.spec.schedulerName == 'sluice'"}}})}};
    auto config_made =
        client_->Post("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
                      {{"metadata", {{"name", ns_}}}, {"webhooks", json::array({hook})}});
    ASSERT_TRUE(config_made.ok() && config_made->ok())
        << (config_made.ok() ? config_made->Message() : config_made.status().message());
  }

  void TearDown() override {
    if (client_ == nullptr) return;
    (void)client_->Delete("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/" +
                          ns_);
    (void)client_->Delete("/api/v1/namespaces/" + ns_);
  }

  // Creates a pod, retrying while the API server has not yet picked the
  // new webhook configuration up (a pod that comes back unpatched).
  Result<KubeResponse> CreatePod(const json& pod, bool expect_patch) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (int i = 0;; ++i) {
      json attempt = pod;
      attempt["metadata"]["name"] =
          pod["metadata"]["name"].get<std::string>() + "-" + std::to_string(i);
      Result<KubeResponse> r = client_->Post("/api/v1/namespaces/" + ns_ + "/pods", attempt);
      if (!r.ok()) return r;
      const bool patched =
          r->ok() && r->json["metadata"]["annotations"].contains("sluice.dev/gpu-configmap");
      const bool refused = r->status == 400;
      if ((expect_patch ? patched : refused) || std::chrono::steady_clock::now() > deadline) {
        return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  testing::KubeEnv* env_ = nullptr;
  std::unique_ptr<KubeClient> client_;
  std::string dir_;
  std::string ns_;
  std::unique_ptr<WebhookServer> server_;
};

TEST_F(WebhookKubeTest, TheApiServerStoresTheFractionalPodPatched) {
  Result<KubeResponse> r = CreatePod(Pod("half", "sluice", {{"sluice.dev/gpu-fraction", "0.5"}}),
                                     /*expect_patch=*/true);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->status, 201) << r->Message() << "\n" << env_->LogTail();
  const json& pod = r->json;
  const std::string configmap = pod["metadata"]["annotations"]["sluice.dev/gpu-configmap"];
  EXPECT_EQ(configmap.rfind("sluice-gpu-", 0), 0u) << configmap;
  const json& c = pod["spec"]["containers"][0];
  bool saw_devices = false;
  bool saw_preload = false;
  for (const json& e : c["env"]) {
    if (e["name"] == "NVIDIA_VISIBLE_DEVICES") {
      saw_devices = e["valueFrom"]["configMapKeyRef"]["name"] == configmap;
    }
    if (e["name"] == "LD_PRELOAD") {
      saw_preload = e["value"] == "/usr/local/sluice/lib/libsluice-vgpu.so";
    }
  }
  EXPECT_TRUE(saw_devices) << c.dump();
  EXPECT_TRUE(saw_preload) << c.dump();
  bool saw_lib = false;
  for (const json& v : pod["spec"]["volumes"]) {
    if (v["name"] == "sluice-lib") saw_lib = v["hostPath"]["path"] == "/usr/local/sluice/lib";
  }
  EXPECT_TRUE(saw_lib) << pod["spec"]["volumes"].dump();
}

TEST_F(WebhookKubeTest, TheApiServerRefusesABadAnnotationWithTheWebhooksMessage) {
  Result<KubeResponse> r = CreatePod(Pod("bad", "sluice", {{"sluice.dev/gpu-fraction", "1.5"}}),
                                     /*expect_patch=*/false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->Message().find("admission webhook \"pods.webhook.sluice.dev\" denied the request: "
                              "annotation sluice.dev/gpu-fraction: \"1.5\" is not a fraction of a "
                              "GPU"),
            std::string::npos)
      << r->Message();
  // Another scheduler's pod with the same annotation is none of sluice's
  // business: stored as it is.
  Result<KubeResponse> other =
      client_->Post("/api/v1/namespaces/" + ns_ + "/pods",
                    Pod("other", "default-scheduler", {{"sluice.dev/gpu-fraction", "1.5"}}));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->status, 201) << other->Message();
  EXPECT_FALSE(other->json["metadata"]["annotations"].contains("sluice.dev/gpu-configmap"));
}

}  // namespace
}  // namespace sluice::k8s
