// The cluster model: everything one scheduling decision looks at.
//
// A Snapshot is a plain value: nodes with their GPU devices, the queue tree
// (departments and projects with quotas), and the workloads, running or
// pending. Entities refer to each other by dense ids that are positions in
// the snapshot's vectors, so lookups in the scheduler's hot loops are array
// indexing. Quantities are fixed-point integers (see resources.h). A
// Snapshot is immutable once built by the reader and safe to share between
// threads for reading.
#ifndef SLUICE_CORE_MODEL_H_
#define SLUICE_CORE_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/quantity.h"
#include "common/strong_id.h"
#include "core/mig.h"
#include "core/resources.h"

namespace sluice {

using NodeId = StrongId<struct NodeTag>;
using QueueId = StrongId<struct QueueTag>;
using WorkloadId = StrongId<struct WorkloadTag>;

// Labels sorted by key; keys are unique.
using Labels = std::vector<std::pair<std::string, std::string>>;
const std::string* FindLabel(const Labels& labels, std::string_view key);

// A device in MIG mode and the GPU instances it has now.
struct MigDevice {
  int32_t gpu = 0;
  std::vector<MigPlacement> instances;
};

struct Node {
  std::string name;
  int32_t gpus = 0;
  int64_t gpu_memory_mib = 0;  // per device; 0 when not given
  std::string gpu_model;
  int64_t cpu_milli = kUnlimited;  // kUnlimited when the node does not track it
  int64_t memory_mib = kUnlimited;
  Labels labels;
  // Devices in MIG mode, by ascending gpu; the others are whole GPUs. Only
  // MIG requests go to these devices.
  std::vector<MigDevice> mig{};
  // Whether MIG devices with no running work may be repartitioned.
  bool mig_dynamic = false;

  bool has_mig() const { return !mig.empty(); }
  // The MIG device `gpu`, or nullptr when that device is not in MIG mode.
  const MigDevice* FindMig(int32_t gpu) const;
};

// Quota, limit and over-quota weight of one queue for one resource.
struct QueueResource {
  int64_t quota = 0;            // -1 = unlimited
  int64_t limit = -1;           // -1 = none
  int64_t weight_milli = 1000;  // overQuotaWeight in thousandths
};

struct Queue {
  std::string name;
  QueueId parent;  // invalid for a top-level queue (a department, or a flat project)
  int32_t priority = 100;
  std::array<QueueResource, kNumResources> resources;
  std::optional<Duration> reclaim_min_runtime;  // unset: inherited from the parent
  std::optional<Duration> preempt_min_runtime;
  // Historical GPU usage in the time-based fair-share window, in milli
  // GPU-hours, already decayed by whoever recorded it.
  int64_t usage_milli_gpu_hours = 0;
  // Filled by the reader: children in file order, depth (top level = 0).
  std::vector<QueueId> children;
  int32_t depth = 0;

  bool is_leaf() const { return children.empty(); }
  const QueueResource& resource(Resource r) const { return resources[static_cast<size_t>(r)]; }
};

enum class PriorityClass : uint8_t { kTrain, kBuildPreemptible, kBuild, kInference };
int32_t PriorityValue(PriorityClass c);
bool DefaultPreemptible(PriorityClass c);
std::string_view PriorityClassName(PriorityClass c);
std::optional<PriorityClass> ParsePriorityClass(std::string_view name);

enum class PlacementStrategy : uint8_t { kBinpack, kSpread };

// What one pod asks for. GPU requests come in three shapes:
//   whole devices:   gpu_devices = N, gpu_milli = 1000;
//   a fraction:      gpu_devices = K (default 1), gpu_milli in 1..999;
//   GPU memory:      gpu_devices = K, gpu_memory_mib > 0, gpu_milli = 0 (the
//                    fraction is resolved against the device it lands on).
//   a MIG instance:  gpu_devices = 1, mig_profile = the profile id,
//                    gpu_milli = what it counts as (N/7 of a GPU, MigMilli).
// gpu_devices = 0 means a CPU-only pod.
struct PodRequest {
  int32_t gpu_devices = 0;
  int64_t gpu_milli = 0;
  int64_t gpu_memory_mib = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int32_t mig_profile = 0;  // 0: not a MIG request

  bool mig() const { return mig_profile != 0; }
  bool whole_gpus() const { return gpu_devices > 0 && gpu_milli == 1000 && !mig(); }
  bool fractional() const { return gpu_devices > 0 && gpu_milli < 1000 && !mig(); }
  // Milli-GPU per device on a device with `device_memory_mib` of memory, or
  // 0 when a memory request cannot be expressed there (no memory known, or
  // more than the device has).
  int64_t MilliOn(int64_t device_memory_mib) const;
};

// The largest number of GPU devices on one node (and so per pod).
inline constexpr int64_t kMaxGpusPerNode = 1024;

// A refused GPU request: the field at fault and what was expected.
struct GpuRequestError {
  std::string_view field;
  std::string message;
};

// Turns the GPU fields of a pod as people write them (`gpu` in milli-GPU,
// `gpuMemory` in MiB, `gpuDevices`; each absent or given) into `r`'s GPU
// part, or says which field is wrong. Shared by the snapshot reader and the
// server's API so both accept exactly the same requests.
std::optional<GpuRequestError> SetGpuRequest(std::optional<int64_t> gpu,
                                             std::optional<int64_t> gpu_memory_mib,
                                             std::optional<int64_t> devices, PodRequest* r);
// The same for a MIG request (`mig: 1g.10gb`), which stands instead of the
// other GPU fields; `others_given` says whether any of them was given.
std::optional<GpuRequestError> SetMigRequest(const std::string& profile, bool others_given,
                                             PodRequest* r);

// Where one pod of a running workload is: a node and the device indexes on
// it, each holding `gpu_milli` (1000 for whole devices). A MIG pod holds one
// instance of its workload's profile at memory slot `mig_start` of its one
// device (and gpu_milli is what that instance counts as).
struct PodPlacement {
  NodeId node;
  std::vector<int32_t> gpus;
  int64_t gpu_milli = 0;
  int32_t mig_start = -1;  // -1: not a MIG placement

  bool mig() const { return mig_start >= 0; }
};

struct Workload {
  std::string name;
  QueueId queue;
  PriorityClass priority_class = PriorityClass::kTrain;
  bool preemptible = true;
  int32_t pods = 1;
  int32_t min_available = 1;
  PodRequest request;
  std::vector<std::string> gpu_models;  // empty = any model
  Labels node_selector;
  std::string topology;  // empty = no topology constraint
  Time submitted;
  // When it last went back to its queue after an eviction; unset if never.
  // Within a queue it waits from then, behind what came while it ran.
  std::optional<Time> requeued;
  bool running = false;
  // A running workload whose eviction has been requested: it still holds
  // its placement until its processes exit, and is never a victim again.
  bool releasing = false;
  Time started;
  // When a running gang fell below minAvailable (stale-gang eviction).
  std::optional<Time> stale_since;
  std::vector<PodPlacement> placement;  // one entry per placed pod (running only)

  // Its place in its queue's time order: its submission, or its last requeue.
  Time queued_since() const { return requeued.value_or(submitted); }
};

// Time-based fair share: over-quota GPU weights are adjusted by historical
// usage, w' = max(0, w/W + k (w/W - usage share)) among siblings.
struct TimeBasedFairShare {
  bool enabled = false;
  int64_t k_milli = 1000;
};

struct Snapshot {
  Time now;
  PlacementStrategy strategy = PlacementStrategy::kBinpack;
  // How long a running gang may stay below minAvailable before it is evicted.
  Duration stale_gang_grace{60'000};
  TimeBasedFairShare time_based_fair_share;
  std::vector<Node> nodes;
  std::vector<Queue> queues;
  std::vector<Workload> workloads;

  const Node& node(NodeId id) const { return nodes[id.index()]; }
  const Queue& queue(QueueId id) const { return queues[id.index()]; }
  const Workload& workload(WorkloadId id) const { return workloads[id.index()]; }
};

// Resources one pod of `w` holds in placement `p` (GPU counted as milli on
// every device it uses).
Resources PodResources(const Workload& w, const PodPlacement& p);

// The min-runtimes of a leaf queue: its own, or the nearest ancestor's, or 0.
Duration ReclaimMinRuntime(const Snapshot& s, QueueId q);
Duration PreemptMinRuntime(const Snapshot& s, QueueId q);

// Resources one pod of `w` would hold on a device of `device_memory_mib`.
Resources PodResourcesOn(const PodRequest& r, int64_t device_memory_mib);

}  // namespace sluice

#endif  // SLUICE_CORE_MODEL_H_
