// kube_scheduler_bench: pods bound per second by `sluice k8s scheduler`
// against a real kube-apiserver (KubeEnv), with fake GPU nodes.
//
//   ./build/k8s/kube_scheduler_bench [--nodes 1000] [--pods 10000]
//                                     [--queues 50] [--workers 16] [--json]
//
// It creates the nodes (8 GPUs each, more when the pods need more), the queues and their
// namespaces, and the pods (1 GPU each, all pending) first; then starts the scheduler and times
// from its start until every pod is bound, as the scheduler counts its successful Binding calls.
// The figure includes everything a bind costs: the informers' initial list, the cycles, the Binding
// POSTs and the Scheduled events. Not a test: run it by hand (docs/kubernetes.md).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "k8s/kube_scheduler.h"
#include "k8s/testing/cluster.h"

namespace sluice::k8s::testing {
namespace {

using nlohmann::json;

// Runs f(i) for i in [0, n) on `threads` threads.
void ParallelFor(int n, int threads, const std::function<void(int)>& f) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) f(i);
    });
  }
  for (std::thread& t : pool) t.join();
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int Run(int nodes, int pods, int queues, int workers, bool as_json) {
  Result<std::unique_ptr<TestCluster>> started = TestCluster::Start();
  if (!started.ok()) {
    std::fprintf(stderr, "kube_scheduler_bench: %s\n", started.status().message().c_str());
    return 1;
  }
  TestCluster& c = **started;
  auto t0 = std::chrono::steady_clock::now();
  // Enough GPUs for every pod (8 per node, or more when the pods need it).
  const int gpus = std::max(8, (pods + nodes - 1) / nodes);
  ParallelFor(nodes, 16, [&](int i) { c.Node("node-" + std::to_string(i), gpus); });
  for (int q = 0; q < queues; ++q) {
    // Quotas add up to the cluster, so every pod fits within its queue's.
    c.Queue("q" + std::to_string(q), std::to_string(nodes * gpus / queues));
    c.Namespace("ns-" + std::to_string(q), "q" + std::to_string(q));
  }
  const double setup_nodes = Seconds(t0);
  t0 = std::chrono::steady_clock::now();
  ParallelFor(pods, 16, [&](int i) {
    c.Pod("ns-" + std::to_string(i % queues), "p-" + std::to_string(i), 1);
  });
  const double setup_pods = Seconds(t0);

  KubeSchedulerOptions o;
  o.lease.identity = "bench";
  o.workers = workers;
  o.now = [] {
    return Time{std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count()};
  };
  KubeScheduler scheduler(&c.admin(), o);
  const auto start = std::chrono::steady_clock::now();
  scheduler.Start();
  double first_bind = -1;
  while (scheduler.stats().binds < pods && Seconds(start) < 600) {
    if (first_bind < 0 && scheduler.stats().binds > 0) first_bind = Seconds(start);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double elapsed = Seconds(start);
  const KubeSchedulerStats st = scheduler.stats();
  scheduler.Stop();
  const double rate = static_cast<double>(st.binds) / elapsed;
  if (as_json) {
    std::printf("%s\n", json{{"nodes", nodes},
                             {"pods", pods},
                             {"bound", st.binds},
                             {"bind_failures", st.bind_failures},
                             {"cycles", st.cycles},
                             {"seconds", elapsed},
                             {"first_bind_seconds", first_bind},
                             {"pods_per_second", rate}}
                            .dump()
                            .c_str());
  } else {
    std::printf("setup: %d nodes in %.1f s, %d pods in %.1f s\n", nodes, setup_nodes, pods,
                setup_pods);
    std::printf(
        "bound %lld of %d pods in %.2f s (first bind after %.2f s, %lld cycles, %lld "
        "failures): %.0f pods/s\n",
        static_cast<long long>(st.binds), pods, elapsed, first_bind,
        static_cast<long long>(st.cycles), static_cast<long long>(st.bind_failures), rate);
  }
  return st.binds == pods ? 0 : 1;
}

}  // namespace
}  // namespace sluice::k8s::testing

int main(int argc, char** argv) {
  int nodes = 1000;
  int pods = 10000;
  int queues = 50;
  int workers = 16;
  bool as_json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&](int* v) {
      if (i + 1 >= argc || (*v = std::atoi(argv[i + 1])) <= 0) {
        std::fprintf(stderr, "kube_scheduler_bench: %s needs a positive number\n", a.c_str());
        std::exit(2);
      }
      ++i;
    };
    if (a == "--nodes") {
      next(&nodes);
    } else if (a == "--pods") {
      next(&pods);
    } else if (a == "--queues") {
      next(&queues);
    } else if (a == "--workers") {
      next(&workers);
    } else if (a == "--json") {
      as_json = true;
    } else {
      std::fprintf(stderr,
                   "usage: kube_scheduler_bench [--nodes N] [--pods N] [--queues N] "
                   "[--workers N] [--json]\n");
      return 2;
    }
  }
  return sluice::k8s::testing::Run(nodes, pods, queues, workers, as_json);
}
