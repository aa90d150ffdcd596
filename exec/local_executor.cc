#include "exec/local_executor.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/quantity.h"

namespace sluice {
namespace {

std::string PodFile(const std::string& dir, int32_t pod, const char* ext) {
  return dir + "/pod-" + std::to_string(pod) + ext;
}

bool Alive(int pid, int64_t start_ticks) {
  return pid > 0 && ProcessStartTicks(pid) == start_ticks;
}

std::string ExitText(const PodExit& e) {
  if (e.lost) return "its processes vanished while the server was down";
  if (!e.error.empty()) return "could not start: " + e.error;
  if (e.exited) return "exited with code " + std::to_string(e.code);
  if (e.code > 0)
    return std::string("killed by signal ") + std::to_string(e.code) + " (" + strsignal(e.code) +
           ")";
  return "vanished";
}

std::string VgpuDir(const std::string& state_dir, int64_t id, int32_t pod) {
  return state_dir + "/" + std::to_string(id) + "/vgpu-pod-" + std::to_string(pod);
}

// What a pod holding a fraction of its devices gets: the fraction, its share
// of each device's memory and compute, and the interception library that
// enforces them, with a usage region of the pod's own under the workload's
// directory (shared by every process of the pod, and nobody else).
void FractionEnvironment(const WorkloadRecord& w, int32_t pod, const PlacedPod& placed,
                         const LocalExecutorOptions& o, std::vector<std::string>* env) {
  env->push_back("SLUICE_GPU_FRACTION=" + FormatMilli(placed.gpu_milli));
  const int64_t memory = o.device_memory_mib ? o.device_memory_mib(placed.node) : 0;
  if (memory > 0) {
    const int64_t limit_mib = memory * placed.gpu_milli / 1000;
    env->push_back("SLUICE_GPU_MEMORY_LIMIT_MIB=" + std::to_string(limit_mib));
    env->push_back("SLUICE_GPU_MEMORY_LIMIT=" + std::to_string(limit_mib << 20));
  }
  env->push_back("SLUICE_GPU_COMPUTE_SHARE=" + std::to_string(placed.gpu_milli / 10));
  if (o.vgpu_library.empty()) return;
  env->push_back("SLUICE_VGPU_DIR=" + VgpuDir(o.state_dir, w.id, pod));
  // The library goes first; whatever the workload preloads itself follows.
  std::string preload = o.vgpu_library;
  for (std::string& e : *env) {
    if (e.starts_with("LD_PRELOAD=")) {
      preload += ":" + e.substr(11);
      e.clear();
    }
  }
  std::erase(*env, std::string());
  env->push_back("LD_PRELOAD=" + preload);
}

// A fraction on a device that shares by MPS (the pod's first device names
// the daemon it talks to).
bool UsesMps(const PlacedPod& placed, const LocalExecutorOptions& o) {
  return !placed.gpus.empty() &&
         std::find(o.mps_gpus.begin(), o.mps_gpus.end(), placed.gpus[0]) != o.mps_gpus.end();
}

}  // namespace

std::vector<std::string> ProcessStat(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return {};
  // The command name (field 2) may hold spaces; fields resume after the last ')'.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(text.substr(close + 1));
  std::vector<std::string> fields;
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;
}

int64_t ProcessStartTicks(int pid) {
  std::vector<std::string> f = ProcessStat(pid);
  // f[0] is field 3 (state), so field 22 (starttime) is f[19]. A zombie
  // still has its entry but is not running.
  if (f.size() < 20 || f[0] == "Z") return -1;
  return std::atoll(f[19].c_str());
}

LocalExecutor::LocalExecutor(LocalExecutorOptions options) : opt_(std::move(options)) {
  std::error_code ec;
  std::filesystem::create_directories(opt_.state_dir, ec);
  if (!opt_.mps_gpus.empty()) {
    mps_ = std::make_unique<MpsDaemons>(opt_.state_dir + "/mps", opt_.mps_control);
    for (int32_t g : opt_.mps_gpus) {
      const std::string uuid = opt_.device_uuid ? opt_.device_uuid("", g) : std::to_string(g);
      if (Status s = mps_->Start(g, uuid); !s.ok() && mps_error_.empty()) mps_error_ = s.message();
    }
  }
  opt_.after(opt_.poll, [this] { Poll(); });
}

LocalExecutor::~LocalExecutor() = default;  // the MPS daemons are told to quit

std::string LocalExecutor::Isolation() const {
  std::string text = opt_.cgroups.Describe();
  if (opt_.mps_gpus.empty()) {
    text += "; GPU fractions: " + std::string(opt_.vgpu_library.empty()
                                                  ? "bookkeeping only (no interception library)"
                                                  : "the interception library (libsluice-vgpu)");
  } else {
    std::string gpus;
    for (int32_t g : opt_.mps_gpus) gpus += (gpus.empty() ? "" : ",") + std::to_string(g);
    text += "; GPU fractions: MPS on GPU " + gpus +
            " (CUDA_MPS_ACTIVE_THREAD_PERCENTAGE, CUDA_MPS_PINNED_DEVICE_MEM_LIMIT)" +
            (mps_error_.empty() ? "" : " [the daemon did not start: " + mps_error_ + "]") +
            (opt_.vgpu_library.empty() ? "" : ", the interception library on the others");
  }
  return text + "; MIG instances: isolated by the hardware";
}

Status LocalExecutor::Repartition(const std::string& node, int32_t gpu,
                                  const std::vector<MigPlacement>& destroy,
                                  const std::vector<MigPlacement>& create) {
  if (!opt_.repartition) {
    return Status::FailedPrecondition("MIG devices of " + node +
                                      " cannot be repartitioned here (no NVML)");
  }
  bool busy = false;
  for (const auto& [id, t] : tracked_) {
    for (const Pod& p : t.pods) {
      busy = busy || (!p.done && std::find(p.gpus.begin(), p.gpus.end(), gpu) != p.gpus.end());
    }
  }
  return opt_.repartition(MigChange{gpu, destroy, create}, busy);
}

std::string LocalExecutor::Dir(int64_t id) const {
  return opt_.state_dir + "/" + std::to_string(id);
}

int64_t LocalExecutor::WorkloadOfProcess(int pid) const {
  // A process may have left its pod's session (JupyterLab starts each
  // kernel in a session of its own): then its ancestors tell.
  for (int hops = 0; hops < 64 && pid > 1; ++hops) {
    std::vector<std::string> f = ProcessStat(pid);
    if (f.size() < 4) return -1;
    const int session = std::atoi(f[3].c_str());  // field 6
    for (const auto& [id, t] : tracked_) {
      for (const Pod& p : t.pods) {
        if (!p.done && p.pid == session) return id;
      }
    }
    pid = std::atoi(f[1].c_str());  // field 4: the parent
  }
  return -1;
}

std::string LocalExecutor::LogPath(int64_t workload_id, int32_t pod) const {
  return PodFile(Dir(workload_id), pod, ".log");
}

std::vector<std::string> LocalExecutor::PodEnvironment(const WorkloadRecord& w, int32_t pod,
                                                       const PlacedPod& placed,
                                                       const std::vector<PlacedPod>& all,
                                                       const LocalExecutorOptions& o) {
  std::vector<std::string> env;
  std::string home = "/";
  std::string user = w.user;
  if (w.uid >= 0) {
    std::array<char, 16384> buf{};
    passwd pw{};
    passwd* found = nullptr;
    if (getpwuid_r(static_cast<uid_t>(w.uid), &pw, buf.data(), buf.size(), &found) == 0 &&
        found != nullptr) {
      home = pw.pw_dir;
      user = pw.pw_name;
    }
  }
  env.emplace_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  env.push_back("HOME=" + home);
  env.push_back("USER=" + user);
  env.push_back("LOGNAME=" + user);
  for (const auto& [k, v] : w.spec.env) env.push_back(k + "=" + v);
  for (const auto& [k, v] : w.launch_env) env.push_back(k + "=" + v);
  std::string devices;
  for (int32_t g : placed.gpus) {
    devices += (devices.empty() ? "" : ",") +
               (o.device_uuid ? o.device_uuid(placed.node, g) : std::to_string(g));
  }
  if (!placed.mig.empty() && !placed.gpus.empty()) {
    // A MIG pod sees its instance, and only it, as its one CUDA device.
    devices = o.mig_uuid
                  ? o.mig_uuid(placed.node, placed.gpus[0], placed.mig)
                  : "MIG-" + placed.node + "-" + std::to_string(placed.gpus[0]) + "-" + placed.mig;
    env.push_back("SLUICE_MIG_INSTANCE=" + placed.mig);
  }
  env.push_back("CUDA_VISIBLE_DEVICES=" + devices);
  env.push_back("SLUICE_WORKLOAD=" + w.name);
  env.push_back("SLUICE_PROJECT=" + w.project);
  env.push_back("SLUICE_WORKLOAD_ID=" + std::to_string(w.id));
  env.push_back("SLUICE_RESTART_COUNT=" + std::to_string(w.evictions));
  // A sweep trial's report token and where to report (never in the API).
  for (const auto& [k, v] : w.private_env) env.push_back(k + "=" + v);
  // torchrun-style rendezvous: every pod runs on this machine.
  int32_t local_rank = 0;
  for (int32_t i = 0; i < pod && i < static_cast<int32_t>(all.size()); ++i) {
    if (all[static_cast<size_t>(i)].node == placed.node) ++local_rank;
  }
  env.push_back("WORLD_SIZE=" + std::to_string(w.spec.pods));
  env.push_back("RANK=" + std::to_string(pod));
  env.push_back("LOCAL_RANK=" + std::to_string(local_rank));
  env.emplace_back("MASTER_ADDR=127.0.0.1");
  env.push_back("MASTER_PORT=" + std::to_string(29500 + w.id % 20000));
  if (!placed.gpus.empty() && placed.gpu_milli < 1000 && placed.mig.empty()) {
    if (UsesMps(placed, o)) {
      // MPS holds the pod to its share; the interception library stays out.
      env.push_back("SLUICE_GPU_FRACTION=" + FormatMilli(placed.gpu_milli));
      const int64_t memory = o.device_memory_mib ? o.device_memory_mib(placed.node) : 0;
      for (std::string& e : MpsPodEnvironment(placed.gpu_milli, placed.gpus.size(), memory)) {
        env.push_back(std::move(e));
      }
      for (std::string& e : MpsDaemons::ClientEnvironment(o.state_dir + "/mps", placed.gpus[0])) {
        env.push_back(std::move(e));
      }
    } else {
      FractionEnvironment(w, pod, placed, o, &env);
    }
  }
  return env;
}

void LocalExecutor::Spawn(const WorkloadRecord& w, int32_t index, const PlacedPod& placed,
                          const std::vector<PlacedPod>& all, Tracked* t) {
  const std::string dir = Dir(w.id);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!opt_.vgpu_library.empty() && !placed.gpus.empty() && placed.gpu_milli < 1000 &&
      placed.mig.empty() && !UsesMps(placed, opt_)) {
    // The pod's processes create their usage region here, as its user.
    const std::string vgpu = VgpuDir(opt_.state_dir, w.id, index);
    std::filesystem::create_directories(vgpu, ec);
    if (w.uid >= 0 && geteuid() == 0) (void)!chown(vgpu.c_str(), static_cast<uid_t>(w.uid), -1);
  }
  const std::string exit_path = PodFile(dir, index, ".exit");
  std::filesystem::remove(exit_path, ec);
  std::vector<std::string> args{opt_.shim_binary, "pod-shim", "--log", PodFile(dir, index, ".log"),
                                "--exit",         exit_path};
  if (w.uid >= 0 && geteuid() == 0) {
    args.emplace_back("--uid");
    args.push_back(std::to_string(w.uid));
  }
  if (!w.spec.working_dir.empty()) {
    args.emplace_back("--workdir");
    args.push_back(w.spec.working_dir);
  }
  Result<std::vector<std::string>> cgroups =
      opt_.cgroups.Create(w.id, index, w.spec.request.memory_mib, w.spec.request.cpu_milli);
  if (!cgroups.ok()) {
    Pod failed;
    failed.index = index;
    failed.done = true;
    failed.exit.error = cgroups.status().message();
    t->pods.push_back(failed);
    return;
  }
  for (const std::string& cgroup : *cgroups) {
    args.emplace_back("--cgroup");
    args.push_back(cgroup);
  }
  args.emplace_back("--");
  for (const std::string& c : w.spec.command) args.push_back(c);
  std::vector<std::string> env = PodEnvironment(w, index, placed, all, opt_);
  // Everything the child needs is built before fork: after it only execve.
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  Pod pod;
  pod.index = index;
  pod.gpus = placed.gpus;
  if (w.spec.command.empty()) {
    pod.done = true;
    pod.exit.error = "no command given (submit NAME -- COMMAND ARGS...)";
    t->pods.push_back(pod);
    return;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    // The server's sockets and files must not live on in the pod: a client
    // would wait forever on a connection a pod holds open.
    close_range(3, ~0U, 0);
    // The pod's process group exists from the first instant, so a Stop that
    // comes before the shim has started still reaches it.
    setsid();
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  if (pid < 0) {
    pod.done = true;
    pod.exit.error = std::string("fork failed: ") + std::strerror(errno);
    t->pods.push_back(pod);
    return;
  }
  pod.pid = pid;
  pod.start_ticks = ProcessStartTicks(pid);
  const std::string state = PodFile(dir, index, ".json");
  std::ofstream(state + ".tmp") << nlohmann::json{
      {"pid", pid},
      {"startTicks", pod.start_ticks}}.dump();
  std::filesystem::rename(state + ".tmp", state, ec);
  t->pods.push_back(pod);
}

void LocalExecutor::Start(const WorkloadRecord& w, const std::vector<PlacedPod>& new_pods) {
  const bool fresh = tracked_.count(w.id) == 0;
  Tracked& t = tracked_[w.id];
  if (fresh) t.run = next_run_++;
  t.name = w.project + "/" + w.name;
  t.stopping = false;
  t.memory_mib = w.spec.request.memory_mib;
  t.grace = w.spec.grace_period ? std::chrono::milliseconds(w.spec.grace_period->ms) : opt_.grace;
  // Pod indexes continue after the pods already placed (elastic growth).
  const auto first = static_cast<int32_t>(w.placement.size() - new_pods.size());
  for (size_t i = 0; i < new_pods.size(); ++i) {
    Spawn(w, first + static_cast<int32_t>(i), new_pods[i], w.placement, &t);
  }
}

void LocalExecutor::Restart(const WorkloadRecord& w) {
  // A move: the old processes go (without an exit report), new ones start.
  auto it = tracked_.find(w.id);
  if (it != tracked_.end()) {
    for (const Pod& p : it->second.pods) {
      if (!p.done && Alive(p.pid, p.start_ticks)) kill(-p.pid, SIGKILL);
    }
    tracked_.erase(it);
  }
  Start(w, w.placement);
}

void LocalExecutor::Stop(int64_t workload_id) {
  auto it = tracked_.find(workload_id);
  if (it == tracked_.end()) {
    opt_.post([this, workload_id] {
      if (exit_) exit_(workload_id, 143, true, "stopped (it was not running)");
    });
    return;
  }
  it->second.stopping = true;
  // The pods this stop is for: a workload that has stopped and started
  // again (evicted, then bound anew) within the grace period has new pods,
  // which the SIGKILL below must spare.
  std::vector<std::pair<int, int64_t>> stopping;
  for (const Pod& p : it->second.pods) {
    if (!p.done && Alive(p.pid, p.start_ticks)) kill(-p.pid, SIGTERM);
    stopping.emplace_back(p.pid, p.start_ticks);
  }
  const int64_t run = it->second.run;
  opt_.after(it->second.grace, [this, workload_id, stopping, run] {
    auto t = tracked_.find(workload_id);
    if (t == tracked_.end() || t->second.run != run) return;
    for (const Pod& p : t->second.pods) {
      if (p.done) continue;
      if (std::find(stopping.begin(), stopping.end(), std::make_pair(p.pid, p.start_ticks)) ==
          stopping.end()) {
        continue;
      }
      if (Alive(p.pid, p.start_ticks)) kill(-p.pid, SIGKILL);
      // Whatever left the pod's process group is still in its cgroup.
      opt_.cgroups.KillAll(workload_id, p.index);
    }
  });
}

void LocalExecutor::Adopt(const WorkloadRecord& w) {
  Tracked& t = tracked_[w.id];
  t.run = next_run_++;
  t.name = w.project + "/" + w.name;
  t.stopping = w.releasing;
  t.memory_mib = w.spec.request.memory_mib;
  t.grace = w.spec.grace_period ? std::chrono::milliseconds(w.spec.grace_period->ms) : opt_.grace;
  const std::string dir = Dir(w.id);
  for (size_t i = 0; i < w.placement.size(); ++i) {
    Pod pod;
    pod.index = static_cast<int32_t>(i);
    std::ifstream in(PodFile(dir, pod.index, ".json"));
    nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
    if (state.is_object() && state["pid"].is_number_integer() &&
        state["startTicks"].is_number_integer()) {
      pod.pid = state["pid"].get<int>();
      pod.start_ticks = state["startTicks"].get<int64_t>();
    }
    if (!Alive(pod.pid, pod.start_ticks) &&
        !ReadPodExit(PodFile(dir, pod.index, ".exit"), &pod.exit)) {
      pod.done = true;
      pod.exit.lost = true;
    }
    t.pods.push_back(pod);
  }
  if (w.releasing) Stop(w.id);
}

void LocalExecutor::Poll() {
  // Reap the shims this process started, keeping how each ended.
  int status = 0;
  pid_t reaped = 0;
  while ((reaped = waitpid(-1, &status, WNOHANG)) > 0) shim_status_[reaped] = status;
  std::vector<int64_t> finished;
  for (auto& [id, t] : tracked_) {
    bool all_done = true;
    for (Pod& p : t.pods) {
      if (p.done) continue;
      if (ReadPodExit(PodFile(Dir(id), p.index, ".exit"), &p.exit)) {
        p.done = true;
      } else if (!Alive(p.pid, p.start_ticks)) {
        p.done = true;
        auto s = shim_status_.find(p.pid);
        if (s != shim_status_.end() && WIFEXITED(s->second)) {
          // The shim itself failed before it could run the command.
          p.exit.error = "the pod shim exited with code " + std::to_string(WEXITSTATUS(s->second)) +
                         " before running the command (see the server's log)";
        } else {
          // The shim died without a word: it was killed along with its pod.
          p.exit.exited = false;
          p.exit.code = SIGKILL;
        }
        if (s != shim_status_.end()) shim_status_.erase(s);
      } else {
        all_done = false;
      }
    }
    if (all_done) finished.push_back(id);
  }
  for (int64_t id : finished) {
    auto it = tracked_.find(id);
    Tracked t = std::move(it->second);
    tracked_.erase(it);
    Finish(id, t);
  }
  opt_.after(opt_.poll, [this] { Poll(); });
}

void LocalExecutor::Finish(int64_t id, Tracked& t) {
  int code = 0;
  std::string message = "exited with code 0";
  for (const Pod& p : t.pods) {
    const bool ok = p.exit.exited && p.exit.code == 0 && p.exit.error.empty() && !p.exit.lost;
    if (ok) continue;
    if (p.exit.lost) {
      code = 1;
    } else if (p.exit.exited) {
      code = p.exit.code;
    } else {
      code = p.exit.error.empty() ? 128 + p.exit.code : 127;
    }
    std::string text = ExitText(p.exit);
    if (!p.exit.exited && p.exit.code == SIGKILL && opt_.cgroups.OomKilled(id, p.index)) {
      text = "killed by the out-of-memory killer: it used more than its memory limit of " +
             FormatMemoryMiB(t.memory_mib) + " (the memory it asked for)";
    }
    message = (t.pods.size() > 1 ? "pod " + std::to_string(p.index) + " " : "") + text;
    break;
  }
  std::error_code ec;
  for (const Pod& p : t.pods) {
    std::filesystem::remove(PodFile(Dir(id), p.index, ".json"), ec);
    opt_.cgroups.Remove(id, p.index);
  }
  if (exit_) exit_(id, code, t.stopping, message);
}

}  // namespace sluice
