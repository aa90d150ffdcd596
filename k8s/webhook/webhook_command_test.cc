// `k8s webhook certs` and `k8s webhook` as processes: the files they write,
// a server that answers over TLS and stops cleanly on SIGTERM, and the
// messages for bad flags.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>

#include "k8s/testing/shell.h"

namespace {

namespace fs = std::filesystem;

using Output = sluice::k8s::testing::ShellOutput;

Output RunCommand(const std::string& cmd) { return sluice::k8s::testing::RunShell(cmd); }

class WebhookCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-webhook-cmd-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(WebhookCommandTest, WritesCertificatesThenServesThemUntilSigterm) {
  Output certs =
      RunCommand(std::string(WEBHOOK_TOOL) + " k8s webhook certs --dir " + dir_.string() +
                 " --dns sluice-webhook.sluice.svc --dns sluice-webhook.sluice");
  ASSERT_EQ(certs.code, 0) << certs.text;
  for (const char* f : {"ca.crt", "tls.crt", "tls.key"}) EXPECT_TRUE(fs::exists(dir_ / f)) << f;

  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    const std::string cert = (dir_ / "tls.crt").string();
    const std::string key = (dir_ / "tls.key").string();
    execl(WEBHOOK_TOOL, WEBHOOK_TOOL, "k8s", "webhook", "--cert", cert.c_str(), "--key",
          key.c_str(), "--address", "127.0.0.1", "--port", "0", nullptr);
    _exit(127);
  }
  close(out[1]);
  FILE* stdout_of = fdopen(out[0], "r");
  std::array<char, 256> line{};
  ASSERT_NE(fgets(line.data(), line.size(), stdout_of), nullptr);
  const std::string first(line.data());
  const std::string prefix = "sluice webhook listening on https://127.0.0.1:";
  ASSERT_EQ(first.rfind(prefix, 0), 0u) << first;
  const int port = std::stoi(first.substr(prefix.size()));

  Output health = RunCommand(
      "curl -sS --cacert " + (dir_ / "ca.crt").string() +
      " --resolve sluice-webhook.sluice.svc:" + std::to_string(port) +
      ":127.0.0.1 https://sluice-webhook.sluice.svc:" + std::to_string(port) + "/healthz");
  EXPECT_EQ(health.code, 0);
  EXPECT_EQ(health.text, "ok\n");

  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_NE(fgets(line.data(), line.size(), stdout_of), nullptr);
  EXPECT_EQ(std::string(line.data()), "sluice webhook stopped\n");
  fclose(stdout_of);
}

TEST_F(WebhookCommandTest, BadFlagsSayWhatIsWrong) {
  Output none = RunCommand(std::string(WEBHOOK_TOOL) + " k8s webhook");
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(none.text,
            "sluice k8s webhook: --cert and --key are required (PEM files; `sluice k8s webhook "
            "certs` makes a pair)\n");
  Output missing =
      RunCommand(std::string(WEBHOOK_TOOL) + " k8s webhook --cert /nonexistent.crt --key x");
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.text.rfind("sluice k8s webhook: --cert /nonexistent.crt: cannot load", 0), 0u)
      << missing.text;
  Output bad_name = RunCommand(std::string(WEBHOOK_TOOL) + " k8s webhook certs --dir " +
                               dir_.string() + " --dns Not_A_Name");
  EXPECT_EQ(bad_name.code, 2);
  EXPECT_EQ(bad_name.text,
            "sluice k8s webhook certs: \"Not_A_Name\" is neither a lowercase DNS name (such as "
            "sluice-webhook.sluice.svc) nor an IP address\n");
  EXPECT_FALSE(fs::exists(dir_));
}

}  // namespace
