#include "server/testing/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::testing {

CommandResult Run(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

ServerProcess::ServerProcess(std::string dir, std::string gpus)
    : dir_(std::move(dir)), gpus_(std::move(gpus)), socket_(dir_ + "/sluice.sock") {
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill(SIGTERM);
  KillPods();
}

void ServerProcess::KillPods() const {
  std::vector<pid_t> killed = SignalPods();
  // Wait until they are gone (reaped by whoever their parent is now).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline && !SignalPods().empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<pid_t> ServerProcess::SignalPods() const {
  std::vector<pid_t> found;
  // Pods outlive the server by design; the test's must not outlive the test.
  // Each pod shim leads its own process group, named by its --log path.
  const std::string marker = dir_ + "/data/pods/";
  // A workspace's JupyterLab starts kernels in sessions of their own; their
  // command lines name a file in the workspace's directory.
  const std::string workspaces = dir_ + "/data/workspaces/";
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(marker) == std::string::npos &&
        cmdline.find(workspaces) == std::string::npos) {
      continue;
    }
    const pid_t pid = std::atoi(name.c_str());
    // A zombie waits for its parent; it is already gone for our purpose.
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    size_t close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z') continue;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    found.push_back(pid);
  }
  return found;
}

bool ServerProcess::Start(std::string* error, const std::vector<std::string>& extra_args) {
  const std::string log = dir_ + "/server.log";
  std::vector<std::string> args{SLUICE_BINARY, "server",   "--data-dir", dir_ + "/data", "--listen",
                                "127.0.0.1:0", "--socket", socket_,      "--gpus",       gpus_};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    // The last "listening on http://127.0.0.1:PORT" line of the log.
    std::string text = Log();
    size_t at = text.rfind("listening on http://127.0.0.1:");
    if (at != std::string::npos) {
      port_ = std::atoi(text.c_str() + at + std::string("listening on http://127.0.0.1:").size());
      Result<HttpResult> r = Http("").Call("GET", "/healthz");
      if (r.ok() && r->status == 200) return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "the server exited:\n" + Log();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = "the server did not answer within 20 s:\n" + Log();
  return false;
}

void ServerProcess::Kill(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  // Forget the port so that a restart reads the new one.
  std::ofstream(dir_ + "/server.log", std::ios::app) << "\n--- stopped ---\n";
}

std::string ServerProcess::AdminToken() const {
  std::ifstream in(dir_ + "/data/admin-token");
  std::string token;
  std::getline(in, token);
  return token;
}

std::string ServerProcess::Log() const {
  std::ifstream in(dir_ + "/server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  size_t stop = text.rfind("--- stopped ---");
  return stop == std::string::npos ? text : text.substr(stop);
}

ApiClient ServerProcess::Http(const std::string& token) const {
  return ApiClient(ClientConfig{url(), "", token});
}

ApiClient ServerProcess::Local() const { return ApiClient(ClientConfig{"", socket_, ""}); }

CommandResult ServerProcess::Cli(const std::string& args) const {
  return Run("env SLUICE_SOCKET=" + socket_ + " XDG_CONFIG_HOME=" + dir_ +
             "/config SLUICE_SERVER= SLUICE_TOKEN= " + SLUICE_BINARY + " " + args);
}

}  // namespace sluice::testing
