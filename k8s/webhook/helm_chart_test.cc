// The Helm chart (deploy/helm/sluice) installed by a real helm into a real
// kube-apiserver (kube-env): the CRDs take valid Queues and PodGroups and
// refuse invalid ones with the schema's message, an upgrade keeps the
// webhook's certificate, and that certificate serves the webhook over TLS
// for the CA the chart put into the webhook configuration.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "k8s/kube_client.h"
#include "k8s/testing/kube_env.h"
#include "k8s/testing/shell.h"
#include "k8s/webhook/webhook_server.h"

namespace sluice::k8s {
namespace {

using nlohmann::json;

using Output = testing::ShellOutput;

Output Shell(const std::string& cmd) { return testing::RunShell(cmd); }

std::string Base64Decode(const std::string& text) {
  std::string out(text.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  while (!out.empty() && out.back() == '\0') out.pop_back();  // the padding's zero bytes
  return out;
}

const std::string kChart = std::string(SOURCE_DIR) + "/deploy/helm/sluice";
const std::string kHelm = std::string(SOURCE_DIR) + "/.tools/bin/helm";

TEST(HelmChartTest, LintsAndRendersOffline) {
  Output lint = Shell(kHelm + " lint --strict " + kChart);
  EXPECT_EQ(lint.code, 0) << lint.text;
  Output rendered = Shell(kHelm + " template sluice " + kChart + " --namespace sluice");
  ASSERT_EQ(rendered.code, 0) << rendered.text;
  for (const char* kind :
       {"kind: Deployment", "kind: DaemonSet", "kind: MutatingWebhookConfiguration",
        "kind: ClusterRole", "kind: Role"}) {
    EXPECT_NE(rendered.text.find(kind), std::string::npos) << kind;
  }
  EXPECT_NE(rendered.text.find("- --namespace\n            - sluice"), std::string::npos);
}

TEST(HelmChartTest, InstallsUpgradesAndServesIntoARealApiServer) {
  Result<testing::KubeEnv*> env = testing::KubeEnv::Shared();
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  const std::string helm = "KUBECONFIG=" + (*env)->kubeconfig_path() + " " + kHelm;
  Output install = Shell(helm + " install sluice " + kChart +
                         " --namespace sluice --create-namespace --wait=false");
  ASSERT_EQ(install.code, 0) << install.text;

  KubeConfig config;
  config.server = (*env)->server();
  config.ca_data = testing::ReadTextFile((*env)->ca_file());
  config.token = (*env)->admin_token();
  auto client = KubeClient::Create(config);
  ASSERT_TRUE(client.ok());
  KubeClient& api = **client;

  auto queue = api.Post("/apis/scheduling.sluice.dev/v1/queues",
                        json::parse(R"({"apiVersion":"scheduling.sluice.dev/v1","kind":"Queue",
      "metadata":{"name":"team-a"},"spec":{"parent":"research","resources":{
      "gpu":{"quota":"2.5","limit":-1},"memory":{"quota":"64Gi"}},"reclaimMinRuntime":"10m"}})"));
  ASSERT_TRUE(queue.ok());
  ASSERT_EQ(queue->status, 201) << queue->Message();
  EXPECT_EQ(queue->json["spec"]["priority"], 100);  // the schema's defaults
  EXPECT_EQ(queue->json["spec"]["resources"]["gpu"]["overQuotaWeight"], 1);
  auto bad_queue = api.Post("/apis/scheduling.sluice.dev/v1/queues",
                            json::parse(R"({"apiVersion":"scheduling.sluice.dev/v1","kind":"Queue",
      "metadata":{"name":"bad"},"spec":{"resources":{"gpu":{"quota":"lots"}}}})"));
  EXPECT_EQ(bad_queue->status, 422);
  EXPECT_NE(bad_queue->Message().find("spec.resources.gpu.quota"), std::string::npos)
      << bad_queue->Message();
  auto group = api.Post("/apis/scheduling.sluice.dev/v1/namespaces/default/podgroups",
                        json::parse(R"({"apiVersion":"scheduling.sluice.dev/v1","kind":"PodGroup",
      "metadata":{"name":"g"},"spec":{"minMember":2}})"));
  ASSERT_EQ(group->status, 201) << group->Message();
  EXPECT_EQ(group->json["spec"]["priorityClassName"], "train");
  auto bad_group = api.Post("/apis/scheduling.sluice.dev/v1/namespaces/default/podgroups",
                            json::parse(R"({"apiVersion":"scheduling.sluice.dev/v1",
      "kind":"PodGroup","metadata":{"name":"g2"},"spec":{"minMember":0}})"));
  EXPECT_EQ(bad_group->status, 422);
  auto status = api.Patch("/apis/scheduling.sluice.dev/v1/queues/team-a/status",
                          {{"status", {{"fairShare", {{"gpu", "2.5"}}}}}});
  EXPECT_EQ(status->json["status"]["fairShare"]["gpu"], "2.5") << status->Message();

  const std::string secret_path = "/api/v1/namespaces/sluice/secrets/sluice-webhook-tls";
  auto before = api.Get(secret_path);
  ASSERT_TRUE(before.ok() && before->ok()) << (before.ok() ? before->Message() : "");
  Output upgrade = Shell(helm + " upgrade sluice " + kChart + " --namespace sluice");
  ASSERT_EQ(upgrade.code, 0) << upgrade.text;
  auto after = api.Get(secret_path);
  EXPECT_EQ(before->json["data"], after->json["data"]);  // lookup kept the certificate

  // The Secret's certificate serves the webhook, and the caBundle of the
  // webhook configuration verifies it under the Service's name.
  auto hook =
      api.Get("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/sluice-webhook");
  ASSERT_TRUE(hook.ok() && hook->ok());
  const std::string dir = (*env)->dir() + "/chart-tls";
  Shell("mkdir -p " + dir);
  std::ofstream(dir + "/tls.crt") << Base64Decode(after->json["data"]["tls.crt"]);
  std::ofstream(dir + "/tls.key") << Base64Decode(after->json["data"]["tls.key"]);
  std::ofstream(dir + "/ca.crt") << Base64Decode(
      hook->json["webhooks"][0]["clientConfig"]["caBundle"]);
  WebhookServerOptions options;
  options.cert_file = dir + "/tls.crt";
  options.key_file = dir + "/tls.key";
  options.address = "127.0.0.1";
  options.port = 0;
  auto server = WebhookServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().message();
  const std::string port = std::to_string((*server)->port());
  Output health =
      Shell("curl -sS --cacert " + dir + "/ca.crt --resolve sluice-webhook.sluice.svc:" + port +
            ":127.0.0.1 https://sluice-webhook.sluice.svc:" + port + "/healthz");
  EXPECT_EQ(health.text, "ok\n");

  Output uninstall = Shell(helm + " uninstall sluice --namespace sluice");
  EXPECT_EQ(uninstall.code, 0) << uninstall.text;
}

}  // namespace
}  // namespace sluice::k8s
