// `k8s node-agent --once` against a real kube-apiserver (kube-env), as a
// user that holds only the chart's node-agent rule (get and patch nodes):
// the Node object ends up with the sluice.dev labels and annotations.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "k8s/kube_client.h"
#include "k8s/testing/kube_env.h"
#include "k8s/testing/shell.h"

namespace sluice::k8s {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

using testing::ReadTextFile;
using Output = testing::ShellOutput;

Output RunCommand(const std::string& args) {
  return testing::RunShell(std::string(NODE_AGENT_TOOL) + " k8s node-agent " + args);
}

TEST(NodeAgentKubeTest, PublishesTheGpusOnItsNodeWithOnlyNodeGetAndPatch) {
  Result<testing::KubeEnv*> env = testing::KubeEnv::Shared();
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  KubeConfig config;
  config.server = (*env)->server();
  config.ca_data = ReadTextFile((*env)->ca_file());
  config.token = (*env)->admin_token();
  auto admin = KubeClient::Create(config);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  KubeClient& api = **admin;

  const std::string node = "gpu-node-" + std::to_string(getpid());
  auto made = api.Post("/api/v1/nodes", {{"metadata", {{"name", node}}}});
  ASSERT_TRUE(made.ok() && made->ok()) << (made.ok() ? made->Message() : "");
  const std::string role = "sluice-node-agent-" + std::to_string(getpid());
  ASSERT_TRUE(api.Post("/apis/rbac.authorization.k8s.io/v1/clusterroles",
                       {{"metadata", {{"name", role}}},
                        {"rules", json::array({{{"apiGroups", {""}},
                                                {"resources", {"nodes"}},
                                                {"verbs", {"get", "patch"}}}})}})
                  ->ok());
  ASSERT_TRUE(api.Post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                       {{"metadata", {{"name", role}}},
                        {"roleRef",
                         {{"apiGroup", "rbac.authorization.k8s.io"},
                          {"kind", "ClusterRole"},
                          {"name", role}}},
                        {"subjects", json::array({{{"kind", "User"},
                                                   {"apiGroup", "rbac.authorization.k8s.io"},
                                                   {"name", "sluice-scheduler"}}})}})
                  ->ok());

  setenv("SLUICE_FAKE_NVML_DEVICES",
         "NVIDIA H100 80GB HBM3:81559:0:0,NVIDIA H100 80GB HBM3:81559:0:0", 1);
  const fs::path dir = fs::path((*env)->dir()) / ("agent-" + std::to_string(getpid()));
  fs::create_directories(dir / "host");
  std::ofstream(dir / "libsluice-vgpu.so") << "the library";
  const std::string args = "--once --node-name " + node + " --kubeconfig " +
                           (*env)->scheduler_kubeconfig_path() + " --nvml-library " + FAKE_NVML +
                           " --vgpu-library " + (dir / "libsluice-vgpu.so").string() +
                           " --host-lib-dir " + (dir / "host").string();
  // RBAC takes effect as the API server's caches see the binding: retry.
  Output out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    out = RunCommand(args);
    if (out.code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(out.code, 0) << out.text;

  auto got = api.Get("/api/v1/nodes/" + node);
  ASSERT_TRUE(got.ok() && got->ok());
  const json& meta = got->json["metadata"];
  EXPECT_EQ(meta["labels"]["sluice.dev/gpu-count"], "2") << meta.dump();
  EXPECT_EQ(meta["labels"]["sluice.dev/gpu-model"], "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(meta["labels"]["sluice.dev/gpu-memory-mib"], "81559");
  EXPECT_EQ(json::parse(meta["annotations"]["sluice.dev/gpu-uuids"].get<std::string>()).size(), 2u);
  EXPECT_FALSE(meta["annotations"].contains("sluice.dev/mig-layout"));

  // The user may patch nodes and nothing else: reading pods is refused.
  KubeConfig limited = config;
  limited.token = (*env)->scheduler_token();
  auto agent = KubeClient::Create(limited);
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ((*agent)->Get("/api/v1/pods")->status, 403);

  (void)api.Delete("/api/v1/nodes/" + node);
  (void)api.Delete("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/" + role);
  (void)api.Delete("/apis/rbac.authorization.k8s.io/v1/clusterroles/" + role);
}

}  // namespace
}  // namespace sluice::k8s
