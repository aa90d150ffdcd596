#include "bench/cluster_shapes.h"

#include <string>

namespace sluice::bench {
namespace {

// A snapshot at a fixed clock with `nodes` nodes of 8 H100s each.
Snapshot EightGpuNodes(int32_t nodes) {
  Snapshot s;
  s.now = Time{1'767'268'800'000};
  for (int32_t i = 0; i < nodes; ++i) {
    Node n;
    n.name = "node-" + std::to_string(i);
    n.gpus = 8;
    n.gpu_memory_mib = 80 * 1024;
    n.gpu_model = "H100-80GB";
    n.cpu_milli = 128'000;
    n.memory_mib = 1024 * 1024;
    s.nodes.push_back(std::move(n));
  }
  return s;
}

}  // namespace

Snapshot KaiAllocateShape(int32_t nodes) {
  Snapshot s = EightGpuNodes(nodes);
  const int64_t total_gpu_milli = int64_t{nodes} * 8 * 1000;
  for (int d = 0; d < 2; ++d) {
    Queue dept;
    dept.name = "dept-" + std::to_string(d);
    dept.resources[0] = {total_gpu_milli / 2, -1, 1000};
    dept.resources[1].quota = -1;
    dept.resources[2].quota = -1;
    const QueueId dept_id(static_cast<int32_t>(s.queues.size()));
    s.queues.push_back(std::move(dept));
    for (int p = 0; p < 2; ++p) {
      Queue proj;
      proj.name = "project-" + std::to_string(d) + "-" + std::to_string(p);
      proj.parent = dept_id;
      proj.depth = 1;
      proj.resources[0] = {total_gpu_milli / 4, -1, 1000};
      proj.resources[1].quota = -1;
      proj.resources[2].quota = -1;
      s.queues[dept_id.index()].children.emplace_back(static_cast<int32_t>(s.queues.size()));
      s.queues.push_back(std::move(proj));
    }
  }
  const int32_t jobs = 5 * nodes;
  for (int32_t j = 0; j < jobs; ++j) {
    Workload w;
    w.name = "job-" + std::to_string(j);
    const int32_t project = j % 4;
    w.queue = QueueId(1 + (project / 2) * 3 + project % 2);
    w.request.gpu_devices = 1;
    w.request.gpu_milli = 1000;
    w.request.cpu_milli = 1000;
    w.request.memory_mib = 4096;
    w.submitted = Time{s.now.ms - 1000 * (jobs - j)};
    s.workloads.push_back(std::move(w));
  }
  return s;
}

Snapshot KaiReclaimLargeShape(int32_t nodes) {
  Snapshot s = EightGpuNodes(nodes);
  Queue a, b;
  a.name = "queue-a";
  a.resources[0] = {0, -1, 0};
  b.name = "queue-b";
  b.resources[0] = {int64_t{nodes} * 8 * 1000, -1, 1000};
  for (Queue* q : {&a, &b}) q->resources[1].quota = q->resources[2].quota = -1;
  s.queues = {a, b};
  for (int32_t n = 0; n < nodes; ++n) {
    for (int32_t d = 0; d < 8; ++d) {
      Workload w;
      w.name = "a-" + std::to_string(n) + "-" + std::to_string(d);
      w.queue = QueueId(0);
      w.request = {1, 1000, 0, 0, 0};
      w.running = true;
      w.started = Time{s.now.ms - 3'600'000};
      w.submitted = w.started;
      w.placement = {PodPlacement{NodeId(n), {d}, 1000}};
      s.workloads.push_back(std::move(w));
    }
  }
  Workload big;
  big.name = "large-job";
  big.queue = QueueId(1);
  big.pods = std::max(1, nodes / 10);
  big.min_available = big.pods;
  big.request = {8, 1000, 0, 0, 0};
  big.submitted = s.now;
  s.workloads.push_back(std::move(big));
  return s;
}

}  // namespace sluice::bench
