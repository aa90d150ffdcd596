#include "exec/mps.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX

namespace sluice {

MpsDaemons::~MpsDaemons() {
  std::vector<int32_t> gpus;
  for (const auto& [gpu, uuid] : uuids_) gpus.push_back(gpu);
  for (int32_t gpu : gpus) (void)Stop(gpu);
}

std::vector<std::string> MpsDaemons::ClientEnvironment(const std::string& dir, int32_t gpu) {
  return {"CUDA_MPS_PIPE_DIRECTORY=" + Dir(dir, gpu) + "/pipe",
          "CUDA_MPS_LOG_DIRECTORY=" + Dir(dir, gpu) + "/log"};
}

Status MpsDaemons::Run(int32_t gpu, const std::vector<std::string>& args,
                       const std::string& input) {
  // The daemon's environment: ours, with the device and its directories.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    if (kv.starts_with("CUDA_VISIBLE_DEVICES=") || kv.starts_with("CUDA_MPS_")) continue;
    env.push_back(kv);
  }
  env.push_back("CUDA_VISIBLE_DEVICES=" + uuids_[gpu]);
  for (std::string& e : ClientEnvironment(gpu)) env.push_back(std::move(e));
  std::vector<std::string> argv_s{control_};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int in[2];
  if (pipe(in) != 0) return Status::Internal(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    close(in[0]);
    close(in[1]);
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(in[0]);
  if (pid < 0) {
    close(in[1]);
    return Status::Internal(std::string("fork: ") + std::strerror(errno));
  }
  if (!input.empty()) (void)!write(in[1], input.data(), input.size());
  close(in[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::FailedPrecondition(
        control_ + " " + (args.empty() ? std::string("(quit)") : args[0]) + " for GPU " +
        std::to_string(gpu) + " failed" +
        (WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (not found on PATH)"
         : WIFEXITED(status) ? " with exit code " + std::to_string(WEXITSTATUS(status))
                             : " (killed by a signal)"));
  }
  return Status::OK();
}

Status MpsDaemons::Start(int32_t gpu, const std::string& uuid) {
  if (running(gpu)) return Status::OK();
  std::error_code ec;
  std::filesystem::create_directories(Dir(gpu) + "/pipe", ec);
  std::filesystem::create_directories(Dir(gpu) + "/log", ec);
  if (ec) return Status::FailedPrecondition("cannot create " + Dir(gpu) + ": " + ec.message());
  uuids_[gpu] = uuid;
  Status s = Run(gpu, {"-d"}, "");
  if (!s.ok()) uuids_.erase(gpu);
  return s;
}

Status MpsDaemons::Stop(int32_t gpu) {
  if (!running(gpu)) return Status::OK();
  Status s = Run(gpu, {}, "quit\n");
  uuids_.erase(gpu);
  return s;
}

std::vector<std::string> MpsPodEnvironment(int64_t gpu_milli, size_t devices,
                                           int64_t device_memory_mib) {
  std::vector<std::string> env;
  // MPS takes a whole percentage of the SMs, at least 1.
  env.push_back("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=" +
                std::to_string(std::max<int64_t>(1, gpu_milli / 10)));
  if (device_memory_mib > 0) {
    const int64_t limit = device_memory_mib * gpu_milli / 1000;
    std::string value;
    for (size_t d = 0; d < devices; ++d) {
      value += (value.empty() ? "" : ",") + std::to_string(d) + "=" + std::to_string(limit) + "M";
    }
    env.push_back("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=" + value);
  }
  return env;
}

}  // namespace sluice
