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

Snapshot MixedShape(int32_t nodes) {
  Snapshot s = EightGpuNodes(nodes);
  for (int32_t i = 0; i < nodes; ++i) {
    s.nodes[static_cast<size_t>(i)].labels = {{"rack", "r" + std::to_string(i / 32)}};
  }
  const int64_t total_gpu = int64_t{nodes} * 8 * 1000;
  // 5 departments x 10 projects; quotas add up to the cluster, weights vary.
  for (int d = 0; d < 5; ++d) {
    Queue dept;
    dept.name = "dept-" + std::to_string(d);
    dept.resources[0] = {total_gpu / 5, -1, 1000};
    dept.resources[1].quota = dept.resources[2].quota = -1;
    const QueueId dept_id(static_cast<int32_t>(s.queues.size()));
    s.queues.push_back(std::move(dept));
    for (int p = 0; p < 10; ++p) {
      Queue proj;
      proj.name = "project-" + std::to_string(d) + "-" + std::to_string(p);
      proj.parent = dept_id;
      proj.depth = 1;
      proj.priority = p < 2 ? 200 : 100;
      proj.resources[0] = {total_gpu / 50, -1, 1000 + 500 * (p % 3)};
      proj.resources[1].quota = proj.resources[2].quota = -1;
      s.queues[dept_id.index()].children.emplace_back(static_cast<int32_t>(s.queues.size()));
      s.queues.push_back(std::move(proj));
    }
  }
  // Running work leans towards the first 7 projects of each department, so
  // that they hold more than their share and the other 3 are owed GPUs.
  auto project = [](int64_t k, int64_t projects) {
    return QueueId(static_cast<int32_t>(1 + (k / projects % 5) * 11 + k % projects));
  };
  int64_t serial = 0;
  auto add = [&](PodRequest r, int32_t pods, QueueId q, PriorityClass c) -> Workload& {
    Workload w;
    w.name = "w-" + std::to_string(serial);
    w.queue = q;
    w.priority_class = c;
    w.preemptible = DefaultPreemptible(c);
    w.pods = pods;
    w.min_available = pods;
    w.request = r;
    w.submitted = Time{s.now.ms - 1000 * (serial % 86'400)};
    ++serial;
    s.workloads.push_back(std::move(w));
    return s.workloads.back();
  };
  auto run = [&](Workload& w, NodeId n, std::vector<int32_t> gpus, int64_t milli) {
    w.running = true;
    w.started = Time{w.submitted.ms + 60'000};
    w.placement.push_back(PodPlacement{n, std::move(gpus), milli});
  };
  const PodRequest quarter{1, 250, 0, 1000, 4096};
  const PodRequest half{1, 500, 0, 2000, 8192};
  const PodRequest mem20{1, 0, 20 * 1024, 2000, 8192};
  const PodRequest one{1, 1000, 0, 8000, 32768};
  const PodRequest two{2, 1000, 0, 16000, 65536};
  const PodRequest eight{8, 1000, 0, 64000, 262144};
  int64_t k = 0;
  for (int32_t i = 0; i < nodes; ++i) {
    const NodeId n(i);
    if (i % 16 == 0 && i + 1 < nodes) {  // a 2-pod gang of whole nodes
      Workload& g = add(eight, 2, project(k++, 7), PriorityClass::kTrain);
      run(g, n, {0, 1, 2, 3, 4, 5, 6, 7}, 1000);
      run(g, NodeId(i + 1), {0, 1, 2, 3, 4, 5, 6, 7}, 1000);
      ++i;
      continue;
    }
    if (i % 20 == 19) {  // half free
      for (int32_t d = 0; d < 4; ++d)
        run(add(one, 1, project(k++, 7), PriorityClass::kTrain), n, {d}, 1000);
      continue;
    }
    for (int32_t q = 0; q < 4; ++q) {
      const PriorityClass c = i % 3 == 0 ? PriorityClass::kBuild : PriorityClass::kTrain;
      run(add(quarter, 1, project(k++, 7), c), n, {0}, 250);
    }
    for (int32_t q = 0; q < 2; ++q)
      run(add(half, 1, project(k++, 7), PriorityClass::kTrain), n, {1}, 500);
    for (int32_t q = 0; q < 2; ++q)
      run(add(mem20, 1, project(k++, 7), PriorityClass::kTrain), n, {2}, 250);
    run(add(two, 1, project(k++, 7), PriorityClass::kTrain), n, {3, 4}, 1000);
    for (int32_t d = 5; d < 8; ++d)
      run(add(one, 1, project(k++, 7), PriorityClass::kTrain), n, {d}, 1000);
  }
  // As many pending workloads as running ones, over all 50 projects.
  const int64_t running = static_cast<int64_t>(s.workloads.size());
  for (int64_t j = 0; j < running; ++j) {
    const QueueId q = project(j, 10);
    switch (j % 10) {
      case 0:
      case 1:
        add(quarter, 1, q, j % 20 == 0 ? PriorityClass::kBuild : PriorityClass::kTrain);
        break;
      case 2:
        add(half, 1, q, PriorityClass::kTrain);
        break;
      case 3:
        add(mem20, 1, q, PriorityClass::kTrain);
        break;
      case 4:
      case 5:
      case 6:
        add(one, 1, q, j % 30 == 4 ? PriorityClass::kInference : PriorityClass::kTrain);
        break;
      case 7:
        add(two, 1, q, PriorityClass::kTrain);
        break;
      case 8:
        add(one, static_cast<int32_t>(2 + j % 15), q, PriorityClass::kTrain);
        break;
      default: {
        Workload& g = add(eight, static_cast<int32_t>(2 + j % 3), q, PriorityClass::kTrain);
        if (j % 4 == 1) g.topology = "rack";
      }
    }
  }
  return s;
}

}  // namespace sluice::bench
