// The node agent of sluice on Kubernetes (`sluice k8s node-agent`, one pod
// per GPU node from a DaemonSet): it tells the scheduler which GPUs the node
// has, puts the interception library where fractional pods mount it from,
// and exports per-GPU and per-pod GPU metrics (docs/kubernetes.md).
//
// The pieces are pure functions, so they are tested without a cluster:
// devices to the Node's labels and annotations, a process's cgroup to its
// pod, samples to Prometheus text. NodeAgent ties them to NVML and to a
// NodePatcher that sends the merge patch to the API server. A NodeAgent is
// thread-safe: Publish and Metrics may run at once (one lock guards NVML).
#ifndef SLUICE_K8S_AGENT_NODE_AGENT_H_
#define SLUICE_K8S_AGENT_NODE_AGENT_H_

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "gpu/nvml.h"
#include "k8s/annotations.h"

namespace sluice::k8s {

// `text` as a Kubernetes label value: at most 63 characters of
// [A-Za-z0-9._-], starting and ending alphanumeric; every other character
// becomes '-' ("NVIDIA H100 80GB HBM3" -> "NVIDIA-H100-80GB-HBM3").
std::string LabelValue(std::string_view text);

// The JSON merge patch (RFC 7386) that publishes `devices` on the Node:
// labels gpu-count, gpu-model (of device 0) and gpu-memory-mib (the
// smallest device's, so a pod that fits it fits any), annotations gpu-uuids
// (a JSON array, by index) and mig-layout (only while a device is in MIG
// mode). Keys that no longer apply are null, which deletes them.
nlohmann::json NodeGpuPatch(const std::vector<GpuDevice>& devices);

// The UID of the pod whose cgroup `cgroup_text` (the contents of
// /proc/PID/cgroup) lies in, from the kubepods hierarchy of either cgroup
// driver: ".../kubepods/burstable/pod<uid>/..." (cgroupfs) or
// ".../kubepods-burstable-pod<uid with _>.slice/..." (systemd).
std::optional<std::string> PodUidFromCgroup(std::string_view cgroup_text);

// Reads `proc_root`/PID/cgroup; nullopt when the process is gone or is in
// no pod.
std::optional<std::string> PodUidOfPid(int pid, const std::string& proc_root = "/proc");

using PodOfPid = std::function<std::optional<std::string>(int pid)>;

// Prometheus text (exposition format 0.0.4) for `samples` of `devices` on
// node `node`: memory total and used and utilisation per GPU, and memory per
// process with the UID of its pod where `pod_of` finds one.
std::string RenderNodeMetrics(const std::string& node, const std::vector<GpuDevice>& devices,
                              const std::vector<GpuSample>& samples, const PodOfPid& pod_of);

// Copies the file `source` into folder `dir` under the same name, unless an
// identical file is there already; true when it copied. The copy is written
// beside the target and renamed over it, so a process that has the old
// library mapped keeps its inode and never sees a half-written file.
Result<bool> InstallFileAtomically(const std::string& source, const std::string& dir);

// Sends a merge patch to this node's Node object.
using NodePatcher = std::function<Status(const nlohmann::json& merge_patch)>;

struct NodeAgentOptions {
  std::string node_name;
  std::string proc_root = "/proc";
};

class NodeAgent {
 public:
  NodeAgent(NodeAgentOptions options, std::unique_ptr<Nvml> nvml, NodePatcher patcher);

  // Discovers the GPUs and patches the Node when what it would publish
  // differs from what it last published successfully.
  Status Publish();
  // Samples every GPU now and renders the metrics; a GPU that cannot be
  // sampled is left out (its memory total stays).
  Result<std::string> Metrics();

 private:
  const NodeAgentOptions options_;
  NodePatcher patcher_;
  std::mutex mu_;
  std::unique_ptr<Nvml> nvml_;     // guarded by mu_ (NVML handles are not thread-safe)
  nlohmann::json last_published_;  // guarded by mu_
};

}  // namespace sluice::k8s

#endif  // SLUICE_K8S_AGENT_NODE_AGENT_H_
