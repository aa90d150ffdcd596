// The Kubernetes objects the scheduler reads, decoded from the API's JSON
// into the few fields it uses, and the names of sluice's annotations.
//
// Decoding keeps a cluster of 10,000 pods small in memory (the API's JSON of
// a pod is kilobytes) and turns every quantity into sluice's integers once,
// when the object changes, not at every cycle. A field that cannot be read
// is not a crash: the object is decoded with `problem` saying what was
// wrong, and the scheduler reports it on the pod. All functions are pure.
#ifndef SLUICE_K8S_KUBE_OBJECTS_H_
#define SLUICE_K8S_KUBE_OBJECTS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/quantity.h"
#include "core/model.h"
#include "k8s/annotations.h"

namespace sluice {

struct KubeNode {
  std::string name;
  int32_t gpus = 0;
  int64_t gpu_memory_mib = 0;
  std::string gpu_model;
  int64_t cpu_milli = kUnlimited;
  int64_t memory_mib = kUnlimited;
  Labels labels;
  std::vector<std::string> gpu_uuids;  // by index, from the node agent
  // Why pods may not go there now (cordoned, a NoSchedule taint); empty: schedulable.
  std::string unschedulable;
};

struct KubePod {
  std::string ns;
  std::string name;
  std::string uid;
  std::string scheduler_name;
  std::string node_name;  // empty: not bound
  std::string phase;
  bool deleting = false;  // deletionTimestamp set
  bool terminal = false;  // Succeeded or Failed
  Time created;
  int64_t grace_seconds = 30;
  std::string pod_group;  // annotation
  std::string owner_job;  // the Job controlling it, if any
  std::string priority_class_name;
  PodRequest request;  // GPU from nvidia.com/gpu or the fraction annotations
  Labels node_selector;
  std::string gpu_configmap;
  // Bound by sluice: the devices and milli-GPU it holds (from the annotations).
  std::vector<int32_t> gpu_placement;
  int64_t gpu_milli = 0;
  std::optional<Time> bound_at;
  bool reservation = false;  // a reservation pod of sluice's
  int32_t reservation_gpu = -1;
  std::string gpu_uuid;           // a reservation pod's device, once known
  std::string scheduled_message;  // the PodScheduled condition's message now
  std::string problem;            // what in the pod cannot be understood
  std::string key() const { return ns + "/" + name; }
};

struct KubeQueue {
  std::string name;
  std::string parent;
  int32_t priority = 100;
  std::array<QueueResource, kNumResources> resources{};
  std::optional<Duration> reclaim_min_runtime;
  std::optional<Duration> preempt_min_runtime;
  std::string problem;
  // What the scheduler last wrote into the status (to write only changes).
  nlohmann::json status;
};

struct KubePodGroup {
  std::string ns;
  std::string name;
  int32_t min_member = 1;
  std::string queue;
  PriorityClass priority_class = PriorityClass::kTrain;
  std::optional<bool> preemptible;
  std::string problem;
  nlohmann::json status;  // as last written, to write only changes
  std::string key() const { return ns + "/" + name; }
};

struct KubeNamespace {
  std::string name;
  std::string queue;  // the sluice.dev/queue label
};

struct KubeJob {
  std::string ns;
  std::string name;
  int32_t parallelism = 1;
  std::string key() const { return ns + "/" + name; }
};

std::optional<KubeNode> DecodeNode(const nlohmann::json& j);
std::optional<KubePod> DecodePod(const nlohmann::json& j);
std::optional<KubeQueue> DecodeQueue(const nlohmann::json& j);
std::optional<KubePodGroup> DecodePodGroup(const nlohmann::json& j);
std::optional<KubeNamespace> DecodeNamespace(const nlohmann::json& j);
std::optional<KubeJob> DecodeJob(const nlohmann::json& j);

// "ns/name" of an object's metadata ("name" for cluster-scoped objects).
std::string ObjectKey(const nlohmann::json& j);

// A Kubernetes quantity ("2", "500m", "1.5", "64Gi", "16384Ki") as thousandths.
Result<int64_t> ParseKubeMilli(const std::string& text);
// A Kubernetes memory quantity in MiB (rounded up); "0" is 0.
Result<int64_t> ParseKubeMemoryMiB(const std::string& text);

}  // namespace sluice

#endif  // SLUICE_K8S_KUBE_OBJECTS_H_
