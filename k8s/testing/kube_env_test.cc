// The test Kubernetes environment is itself tested against the real API
// server it starts: who may read, that RBAC and token authentication are
// on, and that plain Pods can be created although no controller runs.
#include "k8s/testing/kube_env.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace sluice::k8s::testing {
namespace {

// The HTTP status of one request made with curl, which checks the server's
// certificate against the environment's CA; -1 when curl itself fails.
int Status(const KubeEnv& env, const std::string& method, const std::string& path,
           const std::string& token, const std::string& body_file = "") {
  std::string command = "curl -sS -o /dev/null -w '%{http_code}' --cacert '" + env.ca_file() +
                        "' -X " + method + " -H 'Authorization: Bearer " + token + "'";
  if (!body_file.empty()) {
    command += " -H 'Content-Type: application/json' --data-binary '@" + body_file + "'";
  }
  command += " '" + env.server() + path + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string out;
  std::array<char, 256> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int raw = pclose(pipe);
  if (!WIFEXITED(raw) || WEXITSTATUS(raw) != 0) return -1;
  return std::atoi(out.c_str());
}

std::string WriteJson(const KubeEnv& env, const std::string& name, const std::string& json) {
  std::string path = env.dir() + "/" + name;
  std::ofstream(path) << json;
  return path;
}

TEST(KubeEnv, StartsAndServesTheApi) {
  Result<KubeEnv*> started = KubeEnv::Shared();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  const KubeEnv& env = **started;
  ASSERT_EQ(env.server().rfind("https://127.0.0.1:", 0), 0u) << env.server();

  // "default" exists from the API server's own bootstrap; the admin may
  // read it, the scheduler user has no role yet, and a wrong token is not
  // authenticated at all.
  EXPECT_EQ(Status(env, "GET", "/api/v1/namespaces/default", env.admin_token()), 200);
  EXPECT_EQ(Status(env, "GET", "/api/v1/namespaces/default", env.scheduler_token()), 403);
  EXPECT_EQ(Status(env, "GET", "/api/v1/namespaces/default", "not-a-token"), 401);

  // A new namespace and a Pod in it without any ServiceAccount: this is
  // what the scheduler's tests do, with no controller manager running.
  const std::string ns =
      WriteJson(env, "ns.json",
                R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-env-test"}})");
  EXPECT_EQ(Status(env, "POST", "/api/v1/namespaces", env.admin_token(), ns), 201);
  const std::string pod = WriteJson(env, "pod.json", R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},
      "spec":{"schedulerName":"sluice","containers":[{"name":"c","image":"busybox"}]}})");
  EXPECT_EQ(Status(env, "POST", "/api/v1/namespaces/kube-env-test/pods", env.admin_token(), pod),
            201)
      << env.LogTail();
  EXPECT_EQ(Status(env, "GET", "/api/v1/namespaces/kube-env-test/pods/p", env.admin_token()), 200);
}

}  // namespace
}  // namespace sluice::k8s::testing
