#include "exec/cgroups.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice {
namespace {

bool WriteFile(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool HasWord(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w) {
    if (w == word) return true;
  }
  return false;
}

// The value after `key` in a "key value" file (memory.events, oom_control).
int64_t KeyValue(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  int64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

// Can we make (or reuse) DIR under `hierarchy`?
bool Usable(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return !ec && access((dir + "/cgroup.procs").c_str(), W_OK) == 0;
}

}  // namespace

PodCgroups PodCgroups::Detect(const std::string& root, const std::string& instance) {
  PodCgroups c;
  c.instance_ = instance;
  if (geteuid() != 0) return c;
  const std::string controllers = ReadFile(root + "/cgroup.controllers");
  if (HasWord(controllers, "memory") && HasWord(controllers, "cpu") && Usable(root + "/sluice")) {
    // Hand the controllers down to sluice/ and from there to each pod.
    WriteFile(root + "/cgroup.subtree_control", "+memory +cpu");
    if (WriteFile(root + "/sluice/cgroup.subtree_control", "+memory +cpu") &&
        HasWord(ReadFile(root + "/sluice/cgroup.subtree_control"), "memory")) {
      c.mode_ = Mode::kV2;
      c.memory_ = root + "/sluice";
      return c;
    }
  }
  if (std::filesystem::exists(root + "/memory/memory.limit_in_bytes") &&
      Usable(root + "/memory/sluice")) {
    c.mode_ = Mode::kV1;
    c.memory_ = root + "/memory/sluice";
    if (std::filesystem::exists(root + "/cpu/cpu.cfs_quota_us") && Usable(root + "/cpu/sluice")) {
      c.cpu_ = root + "/cpu/sluice";
    }
  }
  return c;
}

std::string PodCgroups::Describe() const {
  switch (mode_) {
    case Mode::kV2:
      return "cgroup v2 (memory, cpu)";
    case Mode::kV1:
      return cpu_.empty() ? "cgroup v1 (memory)" : "cgroup v1 (memory, cpu)";
    case Mode::kNone:
      break;
  }
  return "process group (no cgroups on this machine)";
}

std::string PodCgroups::PodDir(const std::string& hierarchy, int64_t workload_id,
                               int32_t pod) const {
  return hierarchy + "/" + (instance_.empty() ? "" : instance_ + "-") + "w" +
         std::to_string(workload_id) + "-p" + std::to_string(pod);
}

Result<std::vector<std::string>> PodCgroups::Create(int64_t workload_id, int32_t pod,
                                                    int64_t memory_mib, int64_t cpu_milli) const {
  std::vector<std::string> dirs;
  if (mode_ == Mode::kNone) return dirs;
  auto fail = [](const std::string& what) {
    return Status::Internal("cgroup: " + what + ": " + std::strerror(errno));
  };
  const std::string mem = PodDir(memory_, workload_id, pod);
  std::error_code ec;
  std::filesystem::create_directories(mem, ec);
  if (ec) return fail("cannot create " + mem);
  dirs.push_back(mem);
  const int64_t bytes = memory_mib * 1024 * 1024;
  if (mode_ == Mode::kV2) {
    if (memory_mib > 0 && (!WriteFile(mem + "/memory.max", std::to_string(bytes)) ||
                           !WriteFile(mem + "/memory.swap.max", "0"))) {
      // memory.swap.max is absent without swap accounting; the limit stands.
      if (ReadFile(mem + "/memory.max") == "max\n") return fail("setting memory.max");
    }
    if (cpu_milli > 0 &&
        !WriteFile(mem + "/cpu.max", std::to_string(cpu_milli * 100) + " 100000")) {
      return fail("setting cpu.max");
    }
    return dirs;
  }
  if (memory_mib > 0) {
    if (!WriteFile(mem + "/memory.limit_in_bytes", std::to_string(bytes))) {
      return fail("setting memory.limit_in_bytes");
    }
    WriteFile(mem + "/memory.memsw.limit_in_bytes",
              std::to_string(bytes));  // no swap, if accounted
    WriteFile(mem + "/memory.swappiness", "0");
  }
  if (!cpu_.empty()) {
    const std::string cpu = PodDir(cpu_, workload_id, pod);
    std::filesystem::create_directories(cpu, ec);
    if (!ec) {
      dirs.push_back(cpu);
      if (cpu_milli > 0) {
        WriteFile(cpu + "/cpu.cfs_period_us", "100000");
        if (!WriteFile(cpu + "/cpu.cfs_quota_us", std::to_string(cpu_milli * 100))) {
          return fail("setting cpu.cfs_quota_us");
        }
      }
    }
  }
  return dirs;
}

bool PodCgroups::OomKilled(int64_t workload_id, int32_t pod) const {
  if (mode_ == Mode::kNone) return false;
  const std::string mem = PodDir(memory_, workload_id, pod);
  if (mode_ == Mode::kV2) return KeyValue(ReadFile(mem + "/memory.events"), "oom_kill") > 0;
  return KeyValue(ReadFile(mem + "/memory.oom_control"), "oom_kill") > 0;
}

void PodCgroups::KillAll(int64_t workload_id, int32_t pod) const {
  if (mode_ == Mode::kNone) return;
  const std::string mem = PodDir(memory_, workload_id, pod);
  if (mode_ == Mode::kV2 && WriteFile(mem + "/cgroup.kill", "1")) return;
  std::istringstream procs(ReadFile(mem + "/cgroup.procs"));
  int pid = 0;
  while (procs >> pid) {
    if (pid > 0) kill(pid, SIGKILL);
  }
}

void PodCgroups::Remove(int64_t workload_id, int32_t pod) const {
  if (mode_ == Mode::kNone) return;
  rmdir(PodDir(memory_, workload_id, pod).c_str());
  if (!cpu_.empty()) rmdir(PodDir(cpu_, workload_id, pod).c_str());
}

Status JoinCgroups(const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    if (!WriteFile(dir + "/cgroup.procs", std::to_string(getpid()))) {
      return Status::Internal("cannot join the cgroup " + dir + ": " + std::strerror(errno));
    }
  }
  return Status::OK();
}

}  // namespace sluice
