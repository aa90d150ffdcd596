#include "server/server_main.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "exec/local_executor.h"
#include "exec/mig_partitioner.h"
#include "gpu/nvml.h"
#include "server/control_plane.h"
#include "server/http_server.h"
#include "server/inventory.h"
#include "server/jupyter_probe.h"
#include "store/sqlite_store.h"

namespace sluice {
namespace {

namespace asio = boost::asio;

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

Time SystemNow() {
  return Time{std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count()};
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

Status WriteSecretFile(const std::string& path, const std::string& secret) {
  std::filesystem::remove(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    return Status::FailedPrecondition("cannot write " + path + ": " + std::strerror(errno));
  std::string text = secret + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return Status::FailedPrecondition("cannot write " + path);
  return Status::OK();
}

// One node for this machine's devices. The model is NVML's name without
// the vendor, spaces as dashes ("NVIDIA H100 80GB HBM3" -> "H100-80GB-HBM3"),
// from the first device; memory is the smallest device's.
Node NodeFromDevices(const std::string& host, const std::vector<GpuDevice>& devices) {
  Node n;
  n.name = host;
  n.gpus = static_cast<int32_t>(devices.size());
  std::string model = devices[0].name;
  if (model.rfind("NVIDIA ", 0) == 0) model = model.substr(7);
  for (char& c : model) c = c == ' ' ? '-' : c;
  n.gpu_model = model;
  n.gpu_memory_mib = devices[0].memory_mib;
  for (const GpuDevice& d : devices) n.gpu_memory_mib = std::min(n.gpu_memory_mib, d.memory_mib);
  return n;
}

// The devices MPS shares ("mps": all of `gpus`; "mps:0,2": those), or an
// error for anything but vgpu and those.
Result<std::vector<int32_t>> MpsDevices(const std::string& spec, int32_t gpus) {
  std::vector<int32_t> out;
  if (spec == "vgpu") return out;
  if (spec == "mps") {
    for (int32_t g = 0; g < gpus; ++g) out.push_back(g);
    return out;
  }
  if (spec.rfind("mps:", 0) != 0) {
    return Status::InvalidArgument("--gpu-sharing: expected vgpu, mps or mps:0,1, got \"" + spec +
                                   "\"");
  }
  std::stringstream in(spec.substr(4));
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const long g = std::strtol(item.c_str(), &end, 10);  // NOLINT(google-runtime-int)
    if (item.empty() || *end != '\0' || g < 0 || g >= gpus) {
      return Status::InvalidArgument("--gpu-sharing: \"" + item + "\" is not a GPU index (0.." +
                                     std::to_string(gpus - 1) + ")");
    }
    out.push_back(static_cast<int32_t>(g));
  }
  return out;
}

// The MIG layout of each discovered device in MIG mode, for the scheduler.
void AddMigLayouts(Nvml* nvml, const std::vector<GpuDevice>& devices, bool dynamic, Node* node) {
  for (const GpuDevice& d : devices) {
    if (!d.mig_enabled) continue;
    Result<std::vector<MigGpuInstance>> layout = nvml->MigLayout(d.index);
    MigDevice dev;
    dev.gpu = d.index;
    if (layout.ok()) {
      for (const MigGpuInstance& i : *layout) {
        if (i.placement.profile != 0) dev.instances.push_back(i.placement);
      }
    }
    node->mig.push_back(std::move(dev));
  }
  node->mig_dynamic = dynamic && node->has_mig();
}

// What starts the names of this server's pod cgroups, so that two servers
// on one machine (each with its data directory) never touch each other's:
// "s" and FNV-1a of the directory's path, the same across restarts and builds.
std::string CgroupInstance(const std::string& data_dir) {
  uint64_t hash = 1469598103934665603ULL;
  for (const char ch : std::filesystem::absolute(data_dir).lexically_normal().string()) {
    hash = (hash ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
  }
  char name[16];
  std::snprintf(name, sizeof(name), "s%08llx",
                static_cast<unsigned long long>(hash & 0xffffffffULL));
  return name;
}

}  // namespace

std::string DefaultDataDir() {
  if (geteuid() == 0) return "/var/lib/sluice";
  std::string home = EnvOr("HOME", "/tmp");
  return EnvOr("XDG_DATA_HOME", home + "/.local/share") + "/sluice";
}

std::string DefaultSocketPath() {
  if (geteuid() == 0) return "/run/sluice.sock";
  std::string runtime = EnvOr("XDG_RUNTIME_DIR", "");
  if (!runtime.empty()) return runtime + "/sluice.sock";
  return "/tmp/sluice-" + std::to_string(geteuid()) + ".sock";
}

std::string ClientSocketPath() {
  std::string env = EnvOr("SLUICE_SOCKET", "");
  if (!env.empty()) return env;
  std::string own = DefaultSocketPath();
  if (std::filesystem::exists(own)) return own;
  return "/run/sluice.sock";
}

int RunServer(const ServerOptions& options) {
  const std::string data_dir = options.data_dir.empty() ? DefaultDataDir() : options.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    std::cerr << "sluice server: cannot create the data directory " << data_dir << ": "
              << ec.message() << "\n";
    return 1;
  }
  // Others may pass through (not list) the data directory, to reach their
  // workspaces' directories under it; everything else in it is private to
  // the server by its own mode (the database and the admin token are 0600).
  ::chmod(data_dir.c_str(), 0711);
  // --gpus auto: this machine's GPUs through NVML, else simulated ones.
  std::unique_ptr<Nvml> nvml;
  std::vector<GpuDevice> devices;
  std::string gpus_spec = options.gpus;
  std::string inventory_note = "simulated: " + options.gpus;
  if (options.gpus == "auto") {
    Result<std::unique_ptr<Nvml>> loaded = Nvml::Load();
    Result<std::vector<GpuDevice>> found =
        loaded.ok() ? (*loaded)->Devices() : Result<std::vector<GpuDevice>>(loaded.status());
    if (found.ok() && !found->empty()) {
      nvml = std::move(loaded).value();
      devices = *found;
      inventory_note = "discovered through NVML";
    } else {
      gpus_spec = "sim:8xH100-80GB";
      inventory_note = "simulated: " + gpus_spec + ", because " +
                       (found.ok() ? std::string("NVML reports no GPU") : found.status().message());
    }
  }
  Result<std::vector<Node>> nodes =
      nvml ? Result<std::vector<Node>>(std::vector<Node>{NodeFromDevices(HostName(), devices)})
           : ParseGpuInventory(gpus_spec, HostName());
  if (!nodes.ok()) {
    std::cerr << "sluice server: " << nodes.status().message() << "\n";
    return 2;
  }
  if (nvml) AddMigLayouts(nvml.get(), devices, options.mig_dynamic, &nodes.value()[0]);
  Result<std::vector<int32_t>> mps = MpsDevices(options.gpu_sharing, (*nodes)[0].gpus);
  if (!mps.ok()) {
    std::cerr << "sluice server: " << mps.status().message() << "\n";
    return 2;
  }
  std::unique_ptr<MigPartitioner> partitioner;
  if (nvml) partitioner = std::make_unique<MigPartitioner>(nvml.get());
  Result<int64_t> k = ParseMilli(options.time_based_k);
  if (!k.ok() || *k < 0) {
    std::cerr << "sluice server: --time-based-k: expected a decimal >= 0\n";
    return 2;
  }
  const std::string db_path = data_dir + "/sluice.db";
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(db_path);
  if (!store.ok()) {
    std::cerr << "sluice server: " << store.status().message() << "\n";
    return 1;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) ::chmod((db_path + suffix).c_str(), 0600);

  asio::io_context io(1);
  auto post = [&io](std::function<void()> f) { asio::post(io, std::move(f)); };
  // Probing workspaces' JupyterLab blocks (briefly): on a thread of its own.
  asio::io_context probe_io(1);
  auto probe_work = asio::make_work_guard(probe_io);
  std::thread probe_thread([&probe_io] { probe_io.run(); });
  struct JoinProbeOnExit {
    asio::io_context& io;
    decltype(probe_work)& guard;
    std::thread& thread;
    ~JoinProbeOnExit() {
      guard.reset();
      io.stop();
      thread.join();
    }
  } join_probe_on_exit{probe_io, probe_work, probe_thread};
  // Scheduling cycles compute on a thread of their own.
  asio::io_context sched_io(1);
  auto sched_work = asio::make_work_guard(sched_io);
  std::thread sched_thread([&sched_io] { sched_io.run(); });
  struct JoinOnExit {
    asio::io_context& io;
    decltype(sched_work)& guard;
    std::thread& thread;
    ~JoinOnExit() {
      guard.reset();
      io.stop();
      thread.join();
    }
  } join_on_exit{sched_io, sched_work, sched_thread};
  if (options.executor != "local" && options.executor != "sim") {
    std::cerr << "sluice server: --executor: expected local or sim, got \"" << options.executor
              << "\"\n";
    return 2;
  }
  auto after = [&io](std::chrono::milliseconds delay, std::function<void()> f) {
    auto timer = std::make_shared<asio::steady_timer>(io, delay);
    timer->async_wait([timer, f = std::move(f)](const boost::system::error_code& e) {
      if (!e) f();
    });
  };
  std::unique_ptr<Executor> executor;
  if (options.executor == "sim") {
    executor = std::make_unique<SimulatedExecutor>(post);
  } else {
    LocalExecutorOptions eo;
    eo.state_dir = data_dir + "/pods";
    std::error_code self_ec;
    eo.shim_binary = std::filesystem::read_symlink("/proc/self/exe", self_ec).string();
    eo.grace = std::chrono::seconds(options.grace_seconds);
    const std::vector<Node>& inventory = *nodes;
    eo.device_uuid = [devices](const std::string& node, int32_t gpu) {
      if (gpu >= 0 && static_cast<size_t>(gpu) < devices.size() &&
          !devices[static_cast<size_t>(gpu)].uuid.empty()) {
        return devices[static_cast<size_t>(gpu)].uuid;
      }
      return "GPU-" + node + "-" + std::to_string(gpu);
    };
    eo.device_memory_mib = [inventory](const std::string& node) -> int64_t {
      for (const Node& n : inventory) {
        if (n.name == node) return n.gpu_memory_mib;
      }
      return 0;
    };
    // The interception library is installed next to the sluice binary.
    const std::string vgpu =
        std::filesystem::path(eo.shim_binary).parent_path().string() + "/libsluice-vgpu.so";
    if (std::filesystem::exists(vgpu, self_ec)) eo.vgpu_library = vgpu;
    eo.after = after;
    eo.post = post;
    eo.cgroups = PodCgroups::Detect("/sys/fs/cgroup", CgroupInstance(data_dir));
    eo.mps_gpus = *mps;
    if (partitioner) {
      MigPartitioner* p = partitioner.get();
      eo.repartition = [p](const MigChange& change, bool busy) { return p->Apply(change, busy); };
      eo.mig_uuid = [p](const std::string& node, int32_t gpu, const std::string& mig) {
        Result<std::string> uuid = p->Uuid(gpu, ParseMigPlacement(mig));
        return uuid.ok() ? *uuid : "MIG-" + node + "-" + std::to_string(gpu) + "-" + mig;
      };
    }
    executor = std::make_unique<LocalExecutor>(eo);
  }
  Metrics metrics;
  ControlPlaneOptions cpo;
  cpo.nodes = *nodes;
  for (const GpuDevice& d : devices) {
    std::vector<std::vector<MigSlice>>& node_mig = cpo.mig[(*nodes)[0].name];
    node_mig.resize(devices.size());
    for (const MigInstance& m : d.mig_instances) {
      node_mig[static_cast<size_t>(d.index)].push_back({m.uuid, m.memory_mib});
    }
  }
  cpo.now = &SystemNow;
  cpo.post = post;
  cpo.after = after;
  cpo.debounce = std::chrono::milliseconds(options.debounce_ms);
  cpo.offload = [&sched_io](std::function<void()> f) { asio::post(sched_io, std::move(f)); };
  cpo.time_based_fair_share = options.time_based_fair_share;
  cpo.time_based_k_milli = *k;
  cpo.sample_period = std::chrono::milliseconds(std::max(100, options.sample_ms));
  cpo.fatal = [](const Status& s) {
    std::cerr << "sluice server: FATAL: " << s.message()
              << "; stopping so that a restart resumes from what is on disk\n";
    std::cerr.flush();
    _exit(70);
  };
  std::error_code self_path_ec;
  const std::filesystem::path self_exe =
      std::filesystem::read_symlink("/proc/self/exe", self_path_ec);
  cpo.workspace_root = data_dir + "/workspaces";
  cpo.jupyter = options.jupyter;
  if (cpo.jupyter.empty()) {
    // BUILD/sluice of a checkout whose setup installed .venv beside BUILD.
    const std::filesystem::path venv =
        self_exe.parent_path().parent_path() / ".venv/bin/jupyter-lab";
    if (std::filesystem::exists(venv, self_path_ec)) cpo.jupyter = venv.string();
  }
  cpo.cull_period = std::chrono::milliseconds(std::max(50, options.workspace_cull_ms));
  cpo.free_port = &FreeLoopbackPort;
  cpo.probe_jupyter = [&probe_io, post](const JupyterProbe& probe,
                                        std::function<void(std::optional<JupyterActivity>)> done) {
    asio::post(probe_io, [probe, done = std::move(done), post] {
      std::optional<JupyterActivity> seen = ProbeJupyter(probe, std::chrono::seconds(5));
      post([done, seen] { done(seen); });
    });
  };
  cpo.public_url = options.public_url;  // else set once the port is known (below)
  while (!cpo.public_url.empty() && cpo.public_url.back() == '/') cpo.public_url.pop_back();
  ControlPlane cp(store->get(), executor.get(), &metrics, cpo);
  if (Status s = cp.Load(); !s.ok()) {
    std::cerr << "sluice server: loading " << db_path << ": " << s.message() << "\n";
    return 1;
  }
  Result<std::string> admin = cp.EnsureAdminToken();
  if (!admin.ok()) {
    std::cerr << "sluice server: " << admin.status().message() << "\n";
    return 1;
  }
  const std::string token_path = data_dir + "/admin-token";
  if (!admin->empty()) {
    if (Status s = WriteSecretFile(token_path, *admin); !s.ok()) {
      std::cerr << "sluice server: " << s.message() << "\n";
      return 1;
    }
    std::cout << "sluice server: created the first admin token; it is in " << token_path
              << " (mode 0600)\n";
  }

  HttpServer http(io, &cp, &metrics, static_cast<int64_t>(geteuid()));
  http.ServeWeb(options.web_dir.empty() ? std::string(SLUICE_WEB_DIR) : options.web_dir);
  int tcp_port = 0;
  if (!options.listen.empty()) {
    Result<int> port = http.ListenTcp(options.listen);
    if (!port.ok()) {
      std::cerr << "sluice server: " << port.status().message() << "\n";
      return 1;
    }
    tcp_port = *port;
    std::string host = options.listen.substr(0, options.listen.rfind(':'));
    std::cout << "sluice server: listening on http://" << host << ":" << *port << "\n";
    if (options.public_url.empty()) {
      const bool any = host == "0.0.0.0" || host == "::" || host == "[::]";
      cp.SetPublicUrl("http://" + (any ? HostName() : host) + ":" + std::to_string(*port));
    }
  }
  if (!options.socket.empty()) {
    if (Status s = http.ListenUnix(options.socket); !s.ok()) {
      std::cerr << "sluice server: " << s.message() << "\n";
      return 1;
    }
    std::cout << "sluice server: listening on unix:" << options.socket << "\n";
  }
  {
    // Where sweep trials report their metrics: the socket first.
    std::string url;
    if (tcp_port > 0) {
      std::string host = options.listen.substr(0, options.listen.rfind(':'));
      if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
      url = "http://" + host + ":" + std::to_string(tcp_port);
    }
    std::string socket = options.socket;
    if (!socket.empty() && socket[0] != '/') {
      socket = std::filesystem::absolute(socket, ec).string();
    }
    cp.SetReportEndpoints(socket, url);
  }
  int32_t gpus = 0;
  for (const Node& n : *nodes) gpus += n.gpus;
  std::cout << "sluice server: " << nodes->size() << (nodes->size() == 1 ? " node" : " nodes")
            << " with " << gpus << " GPUs (" << inventory_note << "); "
            << (options.executor == "sim" ? "workloads simulated (nothing runs)"
                                          : "workloads run as local processes")
            << "; data in " << data_dir << std::endl;

  // GPU telemetry: utilisation of each device, every few seconds.
  std::function<void()> sample;
  const std::string node_name = (*nodes)[0].name;
  sample = [&] {
    if (!nvml) return;
    std::vector<int32_t> percent;
    std::map<int64_t, int64_t> memory_use;
    for (const GpuDevice& d : devices) {
      Result<GpuSample> s = nvml->Sample(d.index);
      percent.push_back(s.ok() ? s->utilization_percent : -1);
      if (!s.ok()) continue;
      for (const GpuProcess& p : s->processes) {
        const int64_t id = executor->WorkloadOfProcess(p.pid);
        if (id >= 0) memory_use[id] += p.used_memory_mib;
      }
    }
    cp.SetUtilization(node_name, std::move(percent));
    cp.SetGpuMemoryUse(std::move(memory_use));
    after(std::chrono::milliseconds(options.telemetry_ms), sample);
  };
  sample();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    std::cout << "sluice server: stopping on signal " << sig << std::endl;
    http.Close();
    io.stop();
  });
  io.run();
  if (!options.socket.empty()) ::unlink(options.socket.c_str());
  return 0;
}

}  // namespace sluice
