#include "k8s/kube_snapshot.h"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace sluice {
namespace {

bool SameRequest(const PodRequest& a, const PodRequest& b) {
  return a.gpu_devices == b.gpu_devices && a.gpu_milli == b.gpu_milli &&
         a.gpu_memory_mib == b.gpu_memory_mib && a.cpu_milli == b.cpu_milli &&
         a.memory_mib == b.memory_mib && a.mig_profile == b.mig_profile;
}

// Queues in an order where every parent comes before its children; a
// queue whose parent is missing (or in a cycle) is left out with why.
void AddQueues(const std::vector<KubeQueue>& queues, Snapshot* s,
               std::unordered_map<std::string, int32_t>* ids,
               std::unordered_map<std::string, std::string>* problems) {
  std::unordered_map<std::string, const KubeQueue*> by_name;
  for (const KubeQueue& q : queues) by_name[q.name] = &q;
  std::vector<const KubeQueue*> sorted;
  for (const KubeQueue& q : queues) sorted.push_back(&q);
  std::sort(sorted.begin(), sorted.end(),
            [](const KubeQueue* a, const KubeQueue* b) { return a->name < b->name; });
  bool added = true;
  while (added) {
    added = false;
    for (const KubeQueue* q : sorted) {
      if (ids->contains(q->name) || problems->contains(q->name)) continue;
      QueueId parent;
      if (!q->parent.empty()) {
        if (!by_name.contains(q->parent)) {
          (*problems)[q->name] =
              "queue " + q->name + ": its parent queue " + q->parent + " does not exist";
          continue;
        }
        if (problems->contains(q->parent)) {
          (*problems)[q->name] = problems->at(q->parent);
          continue;
        }
        auto it = ids->find(q->parent);
        if (it == ids->end()) continue;  // the parent comes in a later round
        parent = QueueId(it->second);
      }
      Queue out;
      out.name = q->name;
      out.parent = parent;
      out.priority = q->priority;
      out.resources = q->resources;
      out.reclaim_min_runtime = q->reclaim_min_runtime;
      out.preempt_min_runtime = q->preempt_min_runtime;
      const auto id = static_cast<int32_t>(s->queues.size());
      if (parent.valid()) {
        out.depth = s->queues[parent.index()].depth + 1;
        s->queues[parent.index()].children.emplace_back(id);
      }
      (*ids)[q->name] = id;
      s->queues.push_back(std::move(out));
      added = true;
    }
  }
  for (const KubeQueue* q : sorted) {
    if (!ids->contains(q->name) && !problems->contains(q->name)) {
      (*problems)[q->name] = "queue " + q->name + " is in a cycle of parents";
    }
  }
  for (const KubeQueue& q : queues) {
    if (!q.problem.empty()) (*problems)[q.name] = "queue " + q.name + ": " + q.problem;
  }
}

struct Group {
  std::string queue;
  std::string problem;
  int32_t min_member = 1;
  PriorityClass priority_class = PriorityClass::kTrain;
  std::optional<bool> preemptible;
  std::vector<int32_t> pods;
};

// Pods of other schedulers bound to a node hold what they ask for there.
struct Foreign {
  int64_t gpus = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
};

// Whether a bound pod's devices exist on its node and have room for it;
// if so they are counted as used.
bool FitsDevices(const PodPlacement& p, const Node& node,
                 std::unordered_map<std::string, std::vector<int64_t>>* device_use) {
  std::vector<int64_t>& use = (*device_use)[node.name];
  use.resize(static_cast<size_t>(node.gpus), 0);
  if (p.gpus.empty() || p.gpu_milli <= 0 || p.gpu_milli > 1000) return false;
  for (int32_t g : p.gpus) {
    if (g < 0 || g >= node.gpus || use[static_cast<size_t>(g)] + p.gpu_milli > 1000) return false;
  }
  for (int32_t g : p.gpus) use[static_cast<size_t>(g)] += p.gpu_milli;
  return true;
}

}  // namespace

KubeSnapshot BuildKubeSnapshot(const ClusterObjects& objects, const std::string& scheduler_name,
                               Time now) {
  KubeSnapshot out;
  Snapshot& s = out.snapshot;
  s.now = now;

  std::unordered_map<std::string, int32_t> node_ids;
  std::unordered_map<std::string, Foreign> foreign;
  for (const KubePod& p : objects.pods) {
    if (p.node_name.empty() || p.terminal || p.reservation || p.scheduler_name == scheduler_name) {
      continue;
    }
    Foreign& f = foreign[p.node_name];
    f.gpus += p.request.whole_gpus() ? p.request.gpu_devices : 0;
    f.cpu_milli += p.request.cpu_milli;
    f.memory_mib += p.request.memory_mib;
  }
  for (const KubeNode& n : objects.nodes) {
    if (!n.unschedulable.empty()) continue;
    Node node;
    node.name = n.name;
    node.gpus = n.gpus;
    node.gpu_memory_mib = n.gpu_memory_mib;
    node.gpu_model = n.gpu_model;
    node.cpu_milli = n.cpu_milli;
    node.memory_mib = n.memory_mib;
    node.labels = n.labels;
    if (auto f = foreign.find(n.name); f != foreign.end()) {
      node.gpus = static_cast<int32_t>(std::max<int64_t>(0, node.gpus - f->second.gpus));
      if (node.cpu_milli != kUnlimited) {
        node.cpu_milli = std::max<int64_t>(0, node.cpu_milli - f->second.cpu_milli);
      }
      if (node.memory_mib != kUnlimited) {
        node.memory_mib = std::max<int64_t>(0, node.memory_mib - f->second.memory_mib);
      }
    }
    node_ids[n.name] = static_cast<int32_t>(s.nodes.size());
    s.nodes.push_back(std::move(node));
  }

  std::unordered_map<std::string, int32_t> queue_ids;
  std::unordered_map<std::string, std::string> queue_problems;
  AddQueues(objects.queues, &s, &queue_ids, &queue_problems);
  std::unordered_map<std::string, const KubeNamespace*> namespaces;
  for (const KubeNamespace& n : objects.namespaces) namespaces[n.name] = &n;
  std::unordered_map<std::string, const KubePodGroup*> groups;
  for (const KubePodGroup& g : objects.groups) groups[g.key()] = &g;
  std::unordered_map<std::string, const KubeJob*> jobs;
  for (const KubeJob& j : objects.jobs) jobs[j.key()] = &j;

  // Pods into groups, by a key that sorts them deterministically.
  std::map<std::string, Group> by_key;
  for (size_t i = 0; i < objects.pods.size(); ++i) {
    const KubePod& p = objects.pods[i];
    if (p.scheduler_name != scheduler_name || p.terminal || p.reservation) continue;
    if (p.deleting && p.node_name.empty()) continue;
    std::string key;
    Group g;
    auto ns = namespaces.find(p.ns);
    g.queue = ns == namespaces.end() ? "" : ns->second->queue;
    if (!p.pod_group.empty()) {
      key = p.ns + "/podgroup/" + p.pod_group;
      auto it = groups.find(p.ns + "/" + p.pod_group);
      if (it == groups.end()) {
        g.problem = "its PodGroup " + p.ns + "/" + p.pod_group + " does not exist";
      } else {
        g.min_member = it->second->min_member;
        g.priority_class = it->second->priority_class;
        g.preemptible = it->second->preemptible;
        if (!it->second->queue.empty()) g.queue = it->second->queue;
        if (!it->second->problem.empty()) {
          g.problem = "PodGroup " + it->second->key() + ": " + it->second->problem;
        }
      }
    } else if (!p.owner_job.empty()) {
      key = p.ns + "/job/" + p.owner_job;
      auto it = jobs.find(p.ns + "/" + p.owner_job);
      g.min_member = it == jobs.end() ? 1 : it->second->parallelism;
    } else {
      key = p.ns + "/pod/" + p.name;
    }
    if (p.pod_group.empty() && !p.priority_class_name.empty()) {
      if (auto c = ParsePriorityClass(p.priority_class_name)) g.priority_class = *c;
    }
    auto [it, inserted] = by_key.try_emplace(key, std::move(g));
    it->second.pods.push_back(static_cast<int32_t>(i));
  }

  std::unordered_map<std::string, std::vector<int64_t>> device_use;
  for (auto& [key, g] : by_key) {
    const KubePod& first = objects.pods[static_cast<size_t>(g.pods.front())];
    std::string problem = g.problem;
    if (problem.empty() && g.queue.empty()) {
      problem = "namespace " + first.ns + " has no " + kQueueLabel +
                " label, so its pods have no queue; label it with the queue they go to";
    }
    auto q = queue_ids.find(g.queue);
    if (problem.empty()) {
      if (auto qp = queue_problems.find(g.queue); qp != queue_problems.end()) {
        problem = qp->second;
      } else if (q == queue_ids.end()) {
        problem = "queue " + g.queue + " does not exist";
      } else if (!s.queues[static_cast<size_t>(q->second)].is_leaf()) {
        problem = "queue " + g.queue + " has child queues; pods go to a queue without children";
      }
    }
    for (int32_t pi : g.pods) {
      const KubePod& p = objects.pods[static_cast<size_t>(pi)];
      if (problem.empty() && !p.problem.empty()) problem = "pod " + p.name + ": " + p.problem;
      if (problem.empty() && !SameRequest(p.request, first.request)) {
        problem = "the pods of " + key + " ask for different resources (" + first.name + " and " +
                  p.name + "); a gang's pods must ask for the same";
      }
    }
    const auto pods = static_cast<int32_t>(g.pods.size());
    if (problem.empty() && pods < g.min_member) {
      problem = "waiting for the gang's pods: " + std::to_string(pods) + " of " +
                std::to_string(g.min_member) + " exist";
    }
    if (!problem.empty()) {
      for (int32_t pi : g.pods) {
        if (objects.pods[static_cast<size_t>(pi)].node_name.empty()) {
          out.refused.emplace_back(pi, problem);
        }
      }
      continue;
    }
    Workload w;
    w.name = key;
    w.queue = QueueId(q->second);
    w.priority_class = g.priority_class;
    w.preemptible = g.preemptible.value_or(DefaultPreemptible(g.priority_class));
    w.pods = pods;
    w.min_available = g.min_member;
    w.request = first.request;
    w.node_selector = first.node_selector;
    w.submitted = first.created;
    std::vector<int32_t> bound;
    std::vector<int32_t> waiting;
    for (int32_t pi : g.pods) {
      const KubePod& p = objects.pods[static_cast<size_t>(pi)];
      w.submitted = std::min(w.submitted, p.created);
      if (p.node_name.empty()) {
        waiting.push_back(pi);
        continue;
      }
      auto n = node_ids.find(p.node_name);
      if (n == node_ids.end()) continue;  // on a node that takes no new pods: not counted
      PodPlacement placed{NodeId(n->second), p.gpu_placement, p.gpu_milli};
      if (w.request.gpu_devices == 0) {
        placed.gpus.clear();
        placed.gpu_milli = 0;
      } else if (!FitsDevices(placed, s.nodes[static_cast<size_t>(n->second)], &device_use)) {
        // Its devices are not there (fewer GPUs now, or taken by another
        // scheduler's pods): rather than over-commit, it is not counted.
        continue;
      }
      w.placement.push_back(std::move(placed));
      w.releasing = w.releasing || p.deleting;
      const Time started = p.bound_at.value_or(p.created);
      w.started = bound.empty() ? started : std::min(w.started, started);
      bound.push_back(pi);
    }
    w.running = !bound.empty();
    std::sort(waiting.begin(), waiting.end(), [&](int32_t a, int32_t b) {
      return objects.pods[static_cast<size_t>(a)].name < objects.pods[static_cast<size_t>(b)].name;
    });
    s.workloads.push_back(std::move(w));
    out.bound.push_back(std::move(bound));
    out.waiting.push_back(std::move(waiting));
  }
  return out;
}

}  // namespace sluice
