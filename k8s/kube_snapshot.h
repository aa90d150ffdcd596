// Turns what the informers hold (nodes, pods, queues, pod groups,
// namespaces, jobs) into the scheduler core's Snapshot, and remembers which
// pods each of the core's workloads stands for.
//
// A workload is a PodGroup (pods with the scheduling.sluice.dev/pod-group
// annotation, a gang of minMember), a Job (its pods, a gang of its
// parallelism) or a single pod. Only pods whose schedulerName is sluice's
// become workloads; bound pods of other schedulers take their CPU, memory
// and GPUs off their node. A pod that cannot be scheduled as it is written
// (no queue for its namespace, a bad annotation, a gang whose pods ask for
// different resources) is not a workload: it is listed in `refused` with
// the message the scheduler writes on it. BuildKubeSnapshot is pure.
#ifndef SLUICE_K8S_KUBE_SNAPSHOT_H_
#define SLUICE_K8S_KUBE_SNAPSHOT_H_

#include <string>
#include <utility>
#include <vector>

#include "core/model.h"
#include "k8s/kube_objects.h"

namespace sluice {

struct ClusterObjects {
  std::vector<KubeNode> nodes;
  std::vector<KubePod> pods;
  std::vector<KubeQueue> queues;
  std::vector<KubePodGroup> groups;
  std::vector<KubeNamespace> namespaces;
  std::vector<KubeJob> jobs;
};

struct KubeSnapshot {
  Snapshot snapshot;
  // Per workload: the pods bound (in the order of its placement) and the
  // pods waiting (by name), as indexes into ClusterObjects::pods.
  std::vector<std::vector<int32_t>> bound;
  std::vector<std::vector<int32_t>> waiting;
  // Pods that are not workloads, with why.
  std::vector<std::pair<int32_t, std::string>> refused;
};

KubeSnapshot BuildKubeSnapshot(const ClusterObjects& objects, const std::string& scheduler_name,
                               Time now);

}  // namespace sluice

#endif  // SLUICE_K8S_KUBE_SNAPSHOT_H_
