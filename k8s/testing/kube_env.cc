#include "k8s/testing/kube_env.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

namespace sluice::k8s::testing {
namespace {

// A first start on a busy two-core machine takes a few seconds; a minute
// means something is wrong, not slow.
constexpr auto kReadyTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(10);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string Tail(const std::string& text, size_t max_bytes) {
  return text.size() <= max_bytes ? text : "..." + text.substr(text.size() - max_bytes);
}

// Waits for `pid` to exit for at most `timeout`; true when it has been reaped.
bool WaitFor(pid_t pid, std::chrono::steady_clock::duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

std::string KubeEnv::BinaryPath() {
  const char* env = std::getenv("SLUICE_KUBE_ENV");
  if (env != nullptr && *env != '\0') return env;
  return std::string(SLUICE_SOURCE_DIR) + "/.tools/bin/kube-env";
}

Result<std::unique_ptr<KubeEnv>> KubeEnv::Start() {
  const std::string binary = BinaryPath();
  if (access(binary.c_str(), X_OK) != 0) {
    return Status::FailedPrecondition("no kube-env binary at " + binary +
                                      ": run scripts/setup.sh (or scripts/build-kube-env.sh) "
                                      "to build the test Kubernetes API server");
  }
  // kube-env picks free ports and binds them moments later; another test
  // that takes one in between makes the start fail, and a new start with
  // new ports is the whole cure.
  for (int attempt = 1;; ++attempt) {
    Result<std::unique_ptr<KubeEnv>> env = StartOnce(binary);
    if (env.ok() || attempt == 3 ||
        env.status().message().find("address already in use") == std::string::npos) {
      return env;
    }
  }
}

Result<std::unique_ptr<KubeEnv>> KubeEnv::StartOnce(const std::string& binary) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sluice-kube-env-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status::Internal("cannot create a folder from " + pattern);
  }
  std::unique_ptr<KubeEnv> env(new KubeEnv(pattern));

  const std::string out = env->dir_ + "/kube-env.out";
  std::vector<std::string> args{binary, "--dir", env->dir_};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  env->pid_ = fork();
  if (env->pid_ < 0) return Status::Internal("fork failed");
  if (env->pid_ == 0) {
    // The server must not outlive the test, even one killed by a timeout:
    // the kernel sends SIGTERM when the parent goes, and a parent that went
    // before this line is caught by the check after it.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  Status ready = env->WaitReady();
  if (!ready.ok()) return ready;  // the destructor stops the process
  return env;
}

Status KubeEnv::WaitReady() {
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // kube-env renames `ready` into place after every other file is written.
    if (std::filesystem::exists(dir_ + "/ready")) {
      const nlohmann::json ready = nlohmann::json::parse(ReadFile(dir_ + "/ready"), nullptr, false);
      if (!ready.is_object() || !ready.contains("server") || !ready["server"].is_string()) {
        return Status::Internal("unreadable " + dir_ + "/ready");
      }
      server_ = ready["server"].get<std::string>();
      admin_token_ = FirstLine(dir_ + "/admin.token");
      scheduler_token_ = FirstLine(dir_ + "/scheduler.token");
      return Status::OK();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Internal("kube-env exited before it was ready:\n" +
                              ReadFile(dir_ + "/kube-env.out") + "\napiserver.log:\n" + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Internal("kube-env was not ready within 60 s; apiserver.log:\n" + LogTail());
}

Result<KubeEnv*> KubeEnv::Shared() {
  // Destroyed by the exit handlers, which stops the server with the program.
  static Result<std::unique_ptr<KubeEnv>> shared = Start();
  if (!shared.ok()) return shared.status();
  return shared.value().get();
}

KubeEnv::~KubeEnv() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    if (!WaitFor(pid_, kStopTimeout)) {
      kill(pid_, SIGKILL);
      WaitFor(pid_, kStopTimeout);
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string KubeEnv::LogTail(size_t max_bytes) const {
  return Tail(ReadFile(dir_ + "/apiserver.log"), max_bytes);
}

}  // namespace sluice::k8s::testing
