#include "k8s/k8s_commands.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "k8s/kube_client.h"
#include "k8s/kube_scheduler.h"

namespace sluice {
namespace {

Time WallClock() {
  return Time{std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count()};
}

void LogLine(const std::string& line) {
  std::cerr << FormatTime(WallClock()) << " " << line << std::endl;
}

// Blocks SIGTERM and SIGINT in every thread started after it, so that the
// caller can wait for them with sigwait.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

Result<std::unique_ptr<KubeClient>> Connect(const std::string& kubeconfig) {
  Result<KubeConfig> config = ResolveKubeConfig(kubeconfig);
  if (!config.ok()) return config.status();
  return KubeClient::Create(*config);
}

struct SchedulerFlags {
  std::string kubeconfig;
  KubeSchedulerOptions opt;
  std::string lease_duration = "15s";
  std::string period = "2s";
};

int RunScheduler(SchedulerFlags& f) {
  Result<Duration> lease = ParseDuration(f.lease_duration);
  Result<Duration> period = ParseDuration(f.period);
  if (!lease.ok() || lease->ms < 2000) {
    std::cerr << "sluice k8s scheduler: --lease-duration: expected 2s or more, got \""
              << f.lease_duration << "\"\n";
    return 2;
  }
  if (!period.ok() || period->ms < 10) {
    std::cerr << "sluice k8s scheduler: --period: expected 10ms or more, got \"" << f.period
              << "\"\n";
    return 2;
  }
  Result<std::unique_ptr<KubeClient>> client = Connect(f.kubeconfig);
  if (!client.ok()) {
    std::cerr << "sluice k8s scheduler: " << client.status().message() << "\n";
    return 1;
  }
  f.opt.lease.duration = *lease;
  f.opt.period = *period;
  if (f.opt.lease.identity.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    f.opt.lease.identity = std::string(host) + "_" + std::to_string(getpid());
  }
  f.opt.lease.ns = f.opt.ns;
  f.opt.now = WallClock;
  f.opt.log = LogLine;
  sigset_t stop = BlockStopSignals();
  KubeScheduler scheduler(client->get(), f.opt);
  LogLine("sluice k8s scheduler " + f.opt.lease.identity + ": scheduling pods with schedulerName " +
          f.opt.scheduler_name + " on " + (*client)->server());
  scheduler.Start();
  int sig = 0;
  sigwait(&stop, &sig);
  LogLine("stopping");
  scheduler.Stop(/*release=*/true);
  return 0;
}

// The container of a reservation pod: it tells the scheduler which device
// the device plugin gave it, then holds it until the pod is deleted.
int RunReserve(const std::string& kubeconfig) {
  const char* devices = std::getenv("NVIDIA_VISIBLE_DEVICES");
  const char* name = std::getenv("POD_NAME");
  const char* ns = std::getenv("POD_NAMESPACE");
  if (devices == nullptr || name == nullptr || ns == nullptr) {
    std::cerr << "sluice k8s reserve: needs NVIDIA_VISIBLE_DEVICES, POD_NAME and POD_NAMESPACE "
                 "(it runs in a reservation pod that sluice makes)\n";
    return 2;
  }
  Result<std::unique_ptr<KubeClient>> client = Connect(kubeconfig);
  if (!client.ok()) {
    std::cerr << "sluice k8s reserve: " << client.status().message() << "\n";
    return 1;
  }
  sigset_t stop = BlockStopSignals();
  const nlohmann::json patch = {{"metadata", {{"annotations", {{kGpuUuidAnnotation, devices}}}}}};
  for (int attempt = 0;; ++attempt) {
    Result<KubeResponse> r =
        (*client)->Patch("/api/v1/namespaces/" + std::string(ns) + "/pods/" + name, patch);
    if (r.ok() && r->ok()) break;
    std::cerr << "sluice k8s reserve: annotating the pod failed: "
              << (r.ok() ? r->Message() : r.status().message()) << "\n";
    if (attempt > 30) return 1;
    sleep(2);
  }
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}

}  // namespace

CLI::App* AddK8sCommands(CLI::App& app) {
  CLI::App* k8s = app.add_subcommand("k8s", "Run sluice on a Kubernetes cluster");
  k8s->require_subcommand(1);

  auto f = std::make_shared<SchedulerFlags>();
  CLI::App* sched = k8s->add_subcommand(
      "scheduler",
      "Schedule the pods that name sluice (schedulerName) with quotas, fair share, gangs and "
      "fractional GPUs");
  sched->add_option("--kubeconfig", f->kubeconfig,
                    "kubeconfig file (default: $KUBECONFIG, the pod's service account, "
                    "~/.kube/config)");
  sched->add_option("--scheduler-name", f->opt.scheduler_name, "the schedulerName to serve")
      ->capture_default_str();
  sched
      ->add_option("--namespace", f->opt.ns,
                   "namespace of the leader Lease and the GPU reservation pods")
      ->capture_default_str();
  sched->add_flag("--leader-elect,!--no-leader-elect", f->opt.leader_elect,
                  "take part in leader election (default on)");
  sched->add_option("--lease-name", f->opt.lease.name, "the Lease's name")->capture_default_str();
  sched->add_option("--lease-duration", f->lease_duration, "how long a lease holds without renewal")
      ->capture_default_str();
  sched->add_option("--identity", f->opt.lease.identity,
                    "this replica's name in the Lease (default HOSTNAME_PID)");
  sched->add_option("--period", f->period, "a cycle at least this often")->capture_default_str();
  sched->add_option("--workers", f->opt.workers, "concurrent API calls when applying a cycle")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  sched
      ->add_option("--reservation-image", f->opt.reservation_image,
                   "image of the GPU reservation pods")
      ->capture_default_str();
  sched
      ->add_option("--reservation-service-account", f->opt.reservation_service_account,
                   "service account of the GPU reservation pods")
      ->capture_default_str();
  sched->callback([f] {
    if (int rc = RunScheduler(*f); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto kubeconfig = std::make_shared<std::string>();
  CLI::App* reserve = k8s->add_subcommand(
      "reserve", "The container of a GPU reservation pod (made by the scheduler)");
  reserve->add_option("--kubeconfig", *kubeconfig, "kubeconfig file (default: in-cluster)");
  reserve->callback([kubeconfig] {
    if (int rc = RunReserve(*kubeconfig); rc != 0) throw CLI::RuntimeError(rc);
  });
  return k8s;
}

}  // namespace sluice
