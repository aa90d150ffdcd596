// `sluice k8s scheduler`: the scheduler core driving a Kubernetes cluster.
//
// KubeScheduler watches Nodes, Namespaces, Pods, Jobs and sluice's Queue and
// PodGroup resources through informers, and on every change (debounced) or
// period runs one cycle: build a snapshot (kube_snapshot.h), run the core,
// and carry out its decisions through the API: evictions through the
// Eviction API (so PodDisruptionBudgets hold) with the victim's grace
// period; binds through the Binding subresource, which also records the
// devices on the pod; for fractional GPUs, the per-pod ConfigMap the
// webhook pointed the pod at and a reservation pod per shared device (see
// docs/kubernetes.md); pending reasons into the PodScheduled condition and
// Events; fair share and allocation into each Queue's status.
//
// The API server holds all state. Decisions made but not yet seen by the
// informers are remembered ("assumed") until they are, so the next cycle
// does not decide them again. With leader election, only the replica that
// holds the Lease runs cycles. Start() and Stop() from one thread; stats()
// is thread-safe.
#ifndef SLUICE_K8S_KUBE_SCHEDULER_H_
#define SLUICE_K8S_KUBE_SCHEDULER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "k8s/informer.h"
#include "k8s/kube_objects.h"
#include "k8s/kube_snapshot.h"
#include "k8s/leader_election.h"
#include "sched/scheduler.h"

namespace sluice {

struct KubeSchedulerOptions {
  std::string scheduler_name = "sluice";
  // Where the Lease and the reservation pods live.
  std::string ns = "sluice-system";
  bool leader_elect = true;
  LeaseOptions lease;
  Duration period{2000};  // a cycle at least this often
  Duration debounce{50};  // after a change, wait this long for more
  int workers = 16;       // concurrent API calls when applying a cycle
  // Reservation pods: the image (which has `sluice k8s reserve`) and the
  // service account that lets them annotate themselves.
  std::string reservation_image = "ghcr.io/sluice-dev/sluice:0.1.0";
  std::string reservation_service_account = "sluice-reservation";
  std::function<Time()> now;
  std::function<void(const std::string&)> log;
};

struct KubeSchedulerStats {
  int64_t cycles = 0;
  int64_t binds = 0;
  int64_t bind_failures = 0;
  int64_t evictions = 0;
  int64_t last_cycle_ms = 0;  // the core's time in the last cycle
  bool leading = false;
};

class KubeScheduler {
 public:
  KubeScheduler(KubeClient* client, KubeSchedulerOptions options);
  ~KubeScheduler();
  KubeScheduler(const KubeScheduler&) = delete;
  KubeScheduler& operator=(const KubeScheduler&) = delete;

  void Start();
  // Stops cycles and informers; with `release`, gives up the lease.
  void Stop(bool release = true);
  KubeSchedulerStats stats() const;

 private:
  struct Assumed {
    std::string node;
    std::vector<int32_t> gpus;
    int64_t gpu_milli = 0;
    Time at;
  };

  void Loop();
  bool Synced() const;
  void Notify();
  ClusterObjects Collect();
  void Overlay(ClusterObjects* objects, Time now);
  void RunOnce();
  void Apply(const ClusterObjects& objects, const KubeSnapshot& ks, const CycleResult& r, Time now);
  void Evict(const KubePod& pod, const EvictionDecision& e, const std::string& why);
  bool Bind(const KubePod& pod, const Node& node, const PodPlacement& p, Time now);
  void WriteReason(const KubePod& pod, const std::string& reason, Time now);
  void Event(const KubePod& pod, const std::string& type, const std::string& reason,
             const std::string& message, Time now);
  void ReconcileReservations(const ClusterObjects& objects, Time now);
  void WriteQueueStatus(const ClusterObjects& objects, const KubeSnapshot& ks,
                        const CycleResult& r);
  void Parallel(std::vector<std::function<void()>> tasks);
  void Log(const std::string& line) const;

  KubeClient* client_;
  KubeSchedulerOptions opt_;
  LeaderElector elector_;
  std::unique_ptr<Informer<KubeNode>> nodes_;
  std::unique_ptr<Informer<KubePod>> pods_;
  std::unique_ptr<Informer<KubeQueue>> queues_;
  std::unique_ptr<Informer<KubePodGroup>> groups_;
  std::unique_ptr<Informer<KubeNamespace>> namespaces_;
  std::unique_ptr<Informer<KubeJob>> jobs_;

  std::thread loop_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool changed_ = false;  // guarded by mu_
  bool stop_ = false;     // guarded by mu_

  // Only the loop thread (and the tasks it waits for, under apply_mu_).
  std::mutex apply_mu_;
  std::map<std::string, Assumed> assumed_binds_;       // by pod uid
  std::map<std::string, Time> assumed_evictions_;      // by pod uid
  std::map<std::string, std::string> written_reason_;  // by pod uid
  std::set<std::string> configmap_has_device_;         // pod uids
  std::map<std::string, Time> reservations_made_;      // pod names, until seen

  mutable std::mutex stats_mu_;
  KubeSchedulerStats stats_;  // guarded by stats_mu_
};

// The name of the reservation pod holding GPU `gpu` of `node`.
std::string ReservationPodName(const std::string& node, int32_t gpu);

}  // namespace sluice

#endif  // SLUICE_K8S_KUBE_SCHEDULER_H_
