#include "k8s/agent/node_agent_command.h"

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>

#include "common/quantity.h"
#include "k8s/agent/metrics_server.h"

namespace sluice::k8s {
namespace {

struct AgentFlags {
  std::string node_name;
  std::string kubeconfig;
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string vgpu_library = DefaultVgpuLibrary();
  std::string host_lib_dir = "/host/usr/local/sluice/lib";
  std::string metrics_address = "0.0.0.0";
  int metrics_port = 9400;
  std::string interval = "60s";
  std::string proc_root = "/proc";
  bool once = false;
};

void Log(const std::string& line) { std::cerr << "sluice node-agent: " << line << std::endl; }

// Waits up to `ms` for SIGTERM or SIGINT (blocked in every thread, so the
// kubelet's stop request lands here); true when one came.
bool WaitForStop(sigset_t* signals, int64_t ms) {
  timespec wait{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1'000'000)};
  return sigtimedwait(signals, nullptr, &wait) > 0;
}

// Installs the library and publishes the GPUs; failures are logged and
// retried on the next round rather than fatal, because a node agent that
// exits would take the node's metrics with it.
Status Round(const AgentFlags& f, NodeAgent* agent) {
  Result<bool> copied = InstallFileAtomically(f.vgpu_library, f.host_lib_dir);
  if (!copied.ok()) {
    Log(copied.status().message());
  } else if (*copied) {
    Log("installed " + f.vgpu_library + " into " + f.host_lib_dir);
  }
  Status published = agent->Publish();
  if (!published.ok()) Log("publishing the GPUs on the Node: " + published.message());
  return published;
}

int Run(AgentFlags f) {
  if (f.node_name.empty()) {
    const char* env = std::getenv("NODE_NAME");
    f.node_name = env != nullptr ? env : "";
  }
  if (f.node_name.empty()) {
    Log("--node-name (or $NODE_NAME, from the downward API's spec.nodeName) is required");
    return 2;
  }
  Result<Duration> interval = ParseDuration(f.interval);
  if (!interval.ok() || interval->ms < 1000) {
    Log("--interval: expected a duration of at least 1s such as \"60s\", got \"" + f.interval +
        "\"");
    return 2;
  }
  Result<std::unique_ptr<Nvml>> nvml = Nvml::Load(f.nvml_library);
  if (!nvml.ok()) {
    Log("cannot read the GPUs: " + nvml.status().message());
    return 1;
  }
  Result<NodePatcher> patcher = ConnectNodePatcher(f.kubeconfig, f.node_name);
  if (!patcher.ok()) {
    Log(patcher.status().message());
    return 1;
  }
  NodeAgent agent({f.node_name, f.proc_root}, std::move(nvml).value(), *patcher);
  if (f.once) return Round(f, &agent).ok() ? 0 : 1;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto server =
      MetricsServer::Start(f.metrics_address, f.metrics_port, [&agent] { return agent.Metrics(); });
  if (!server.ok()) {
    Log(server.status().message());
    return 1;
  }
  Log("node " + f.node_name + ": metrics on http://" + f.metrics_address + ":" +
      std::to_string((*server)->port()) + "/metrics");
  do {
    Round(f, &agent);
  } while (!WaitForStop(&signals, interval->ms));
  (*server)->Stop();
  Log("stopped");
  return 0;
}

}  // namespace

std::string DefaultVgpuLibrary() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "/usr/local/sluice/lib/libsluice-vgpu.so";
  return (exe.parent_path().parent_path() / "lib" / "libsluice-vgpu.so").string();
}

void AddNodeAgentCommand(CLI::App* k8s) {
  auto f = std::make_shared<AgentFlags>();
  CLI::App* cmd = k8s->add_subcommand(
      "node-agent",
      "Run on a GPU node: publish its GPUs on the Node object, install the GPU-sharing library "
      "for fractional pods, and serve GPU metrics for Prometheus");
  cmd->add_option("--node-name", f->node_name, "This node's name (default: $NODE_NAME)");
  cmd->add_option("--kubeconfig", f->kubeconfig,
                  "kubeconfig file (default: $KUBECONFIG, the pod's service account, "
                  "~/.kube/config)");
  cmd->add_option("--nvml-library", f->nvml_library, "NVML library to load")->capture_default_str();
  cmd->add_option("--vgpu-library", f->vgpu_library, "The interception library to install")
      ->capture_default_str();
  cmd->add_option("--host-lib-dir", f->host_lib_dir,
                  "The host's /usr/local/sluice/lib, as mounted in this container")
      ->capture_default_str();
  cmd->add_option("--metrics-address", f->metrics_address, "IP address for /metrics")
      ->capture_default_str();
  cmd->add_option("--metrics-port", f->metrics_port, "Port for /metrics (0: any free one)")
      ->capture_default_str();
  cmd->add_option("--interval", f->interval, "How often to check the GPUs and the library")
      ->capture_default_str();
  cmd->add_option("--proc-root", f->proc_root,
                  "Where the host's /proc is (the pod runs with hostPID)")
      ->capture_default_str();
  cmd->add_flag("--once", f->once, "Install and publish once, then exit");
  cmd->callback([f] {
    if (int code = Run(*f); code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace sluice::k8s
