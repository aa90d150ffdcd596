// `k8s node-agent` as a process, with the fake NVML: its flags, the library
// it installs, and what it says when the API server cannot be reached.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "k8s/testing/shell.h"

namespace {

namespace fs = std::filesystem;

using Output = sluice::k8s::testing::ShellOutput;

Output RunCommand(const std::string& args) {
  return sluice::k8s::testing::RunShell(std::string(NODE_AGENT_TOOL) + " k8s node-agent " + args);
}

class NodeAgentCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("NODE_NAME");
    unsetenv("SLUICE_FAKE_NVML_FAIL");
    setenv("SLUICE_FAKE_NVML_DEVICES", "NVIDIA H100 80GB HBM3:81559:0:0", 1);
    dir_ = fs::temp_directory_path() /
           ("sluice-agent-cmd-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "host");
    std::ofstream(dir_ / "libsluice-vgpu.so") << "the library";
    // An API server that is not there: port 1 on loopback refuses.
    std::ofstream(dir_ / "kubeconfig") << R"(apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: abc}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
)";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Flags(const std::string& nvml = FAKE_NVML) const {
    return "--kubeconfig " + (dir_ / "kubeconfig").string() + " --nvml-library " + nvml +
           " --vgpu-library " + (dir_ / "libsluice-vgpu.so").string() + " --host-lib-dir " +
           (dir_ / "host").string();
  }

  fs::path dir_;
};

TEST_F(NodeAgentCommandTest, InstallsTheLibraryAndSaysWhyItCouldNotPublish) {
  Output out = RunCommand("--once --node-name gpu-node-1 " + Flags());
  EXPECT_EQ(out.code, 1) << out.text;
  EXPECT_NE(out.text.find("sluice node-agent: installed " + (dir_ / "libsluice-vgpu.so").string() +
                          " into " + (dir_ / "host").string()),
            std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find("sluice node-agent: publishing the GPUs on the Node: "),
            std::string::npos)
      << out.text;
  std::ifstream in(dir_ / "host/libsluice-vgpu.so");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "the library");
}

TEST_F(NodeAgentCommandTest, TheNodeNameComesFromTheFlagOrTheDownwardApi) {
  Output none = RunCommand("--once " + Flags());
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(none.text,
            "sluice node-agent: --node-name (or $NODE_NAME, from the downward API's "
            "spec.nodeName) is required\n");
  setenv("NODE_NAME", "Bad/Name", 1);
  Output bad = RunCommand("--once " + Flags());
  unsetenv("NODE_NAME");
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.text,
            "sluice node-agent: --node-name: \"Bad/Name\" is not a node name (lowercase letters, "
            "digits, '-', '.')\n");
}

TEST_F(NodeAgentCommandTest, BadIntervalsAndMissingDriversAreNamed) {
  Output interval = RunCommand("--once --node-name n --interval 10ms " + Flags());
  EXPECT_EQ(interval.code, 2);
  EXPECT_EQ(interval.text,
            "sluice node-agent: --interval: expected a duration of at least 1s such as \"60s\", "
            "got \"10ms\"\n");
  Output driver = RunCommand("--once --node-name n " + Flags("/nonexistent/libnvidia-ml.so.1"));
  EXPECT_EQ(driver.code, 1);
  EXPECT_EQ(driver.text.rfind("sluice node-agent: cannot read the GPUs: ", 0), 0u) << driver.text;
}

// Serving: /metrics answers while the API server is away (the agent keeps
// retrying it), and SIGTERM ends the agent cleanly.
TEST_F(NodeAgentCommandTest, ServesMetricsUntilSigterm) {
  int err[2];
  ASSERT_EQ(pipe(err), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], 2);
    close(err[0]);
    const std::string cmd = std::string("exec ") + NODE_AGENT_TOOL +
                            " k8s node-agent --node-name gpu-node-1 --metrics-address 127.0.0.1 "
                            "--metrics-port 0 --interval 1s " +
                            Flags();
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  close(err[1]);
  FILE* stderr_of = fdopen(err[0], "r");
  std::array<char, 512> line{};
  ASSERT_NE(fgets(line.data(), line.size(), stderr_of), nullptr);
  const std::string first(line.data());
  const std::string prefix = "sluice node-agent: node gpu-node-1: metrics on http://127.0.0.1:";
  ASSERT_EQ(first.rfind(prefix, 0), 0u) << first;
  const int port = std::stoi(first.substr(prefix.size()));
  FILE* curl =
      popen(("curl -s http://127.0.0.1:" + std::to_string(port) + "/metrics").c_str(), "r");
  std::string metrics;
  size_t n = 0;
  std::array<char, 4096> buf{};
  while ((n = fread(buf.data(), 1, buf.size(), curl)) > 0) metrics.append(buf.data(), n);
  pclose(curl);
  EXPECT_NE(metrics.find("sluice_gpu_memory_total_bytes{node=\"gpu-node-1\",gpu=\"0\""),
            std::string::npos)
      << metrics;
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::string rest;
  while ((n = fread(buf.data(), 1, buf.size(), stderr_of)) > 0) rest.append(buf.data(), n);
  fclose(stderr_of);
  EXPECT_NE(rest.find("sluice node-agent: stopped\n"), std::string::npos) << rest;
}

}  // namespace
