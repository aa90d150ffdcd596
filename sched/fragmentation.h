// Fragmentation of a node's free GPU, measured against a mix of requests.
//
// The idea is FGD's (Weng et al., "Beware of Fragmentation", USENIX ATC'23):
// free GPU on a node is a *fragment* for a request shape when a pod of that
// shape cannot use it, either because the pod does not fit on the node at
// all (then every free milli-GPU there is a fragment) or because the device
// holding it has less free than the pod takes per device. A node's
// fragmentation is the sum over the shapes of the mix, each weighted by how
// often it occurs. A placement that grows it least keeps the most room for
// the requests that are likely to come.
//
// Everything is an integer: weights are counts, amounts milli-GPU, so the
// same inputs give the same decisions. RequestMix is an immutable value;
// the free functions only read. Thread-compatible.
#ifndef SLUICE_SCHED_FRAGMENTATION_H_
#define SLUICE_SCHED_FRAGMENTATION_H_

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/model.h"

namespace sluice {

// One request shape of the mix and how many pods of it there are.
struct MixShape {
  PodRequest request;
  std::vector<std::string> gpu_models;  // empty = any model
  int64_t weight = 1;
};

// Pods of one MIG profile still waiting for an instance.
struct MigDemand {
  int32_t profile = 0;
  int64_t pods = 0;
};

class RequestMix {
 public:
  // The most frequent shapes covering `coverage_percent` of the pods (at
  // most `max_shapes`), heavier first; equal shapes are merged.
  static RequestMix FromShapes(std::vector<MixShape> shapes, int32_t coverage_percent = 95,
                               int32_t max_shapes = 32);
  // The pod shapes of every running and pending workload of `s` (MIG
  // requests apart: they never use the free GPU of a whole device; their
  // pending pods are counted per profile in mig_pending).
  static RequestMix FromSnapshot(const Snapshot& s);

  // The missing pods of MIG workloads, by profile id.
  const std::vector<MigDemand>& mig_pending() const { return mig_pending_; }

  const std::vector<MixShape>& shapes() const { return shapes_; }
  bool empty() const { return shapes_.empty(); }
  int64_t total_weight() const { return total_weight_; }

  // A fragmentation growth (weight x milli-GPU) as a placement key:
  // the expected milli-GPU per pod of the mix that asks for GPU, rounded
  // down to steps of kResolutionMilli. (Pods without GPU are left out of
  // the average: no placement can take GPU from them, so counting them
  // would only make the steps finer on a mix with more of them.) Differences finer than that are
  // noise in a mix sampled from recent requests, and treating them as ties lets the packing keys
  // decide, which replays of the openb trace show to be better than following every small
  // difference (the FGD paper's own scorer has the same resolution: a 0-100 score over a sigmoid of
  // growth in GPUs).
  static constexpr int64_t kResolutionMilli = 40;
  int64_t Resolution(int64_t growth) const;

  // GPU asked for by the pods that may use only some GPU models, per set of
  // models. Counted over every shape given to FromShapes, not only the most
  // frequent ones kept: constrained pods are often too varied for any of
  // their shapes to be among those.
  struct ModelSetDemand {
    std::vector<std::string> models;  // sorted, distinct
    int64_t gpu_milli = 0;            // weight x devices x milli
  };
  const std::vector<ModelSetDemand>& constrained_demand() const { return constrained_; }

  // Works out Scarcity for the GPU models of `nodes` (their whole-GPU
  // devices). FromSnapshot does this itself; a mix from FromShapes has no
  // scarcity until it is called.
  void MeasureSupply(std::span<const Node> nodes);
  // How much pods that cannot go elsewhere depend on the GPU of `model`:
  // the sum, over the constrained model sets that include it, of the set's
  // share of the GPU asked for divided by its share of the cluster's GPU,
  // in millionths. A set asking for 5% of the GPU that only 10% of the
  // cluster can give adds 500,000; 0 for a model no constrained pod asks
  // for. Placement prefers, among placements that fragment alike, GPU that
  // is less scarce, so unconstrained pods leave the models that constrained
  // ones depend on for them.
  int64_t Scarcity(const std::string& model) const;
  static constexpr int64_t kScarcityScale = 1'000'000;

 private:
  std::vector<MixShape> shapes_;
  int64_t total_weight_ = 0;
  int64_t gpu_weight_ = 0;  // of the shapes that ask for GPU
  std::vector<ModelSetDemand> constrained_;
  int64_t total_gpu_demand_ = 0;                           // of every shape given
  std::vector<std::pair<std::string, int64_t>> scarcity_;  // by model
  std::vector<MigDemand> mig_pending_;
};

// What fragmentation looks at on one node: its GPU model and device memory
// (static), and its free CPU, memory and per-device free milli-GPU (now).
struct NodeFreeView {
  const Node* node = nullptr;
  int64_t free_cpu = 0;
  int64_t free_memory = 0;
  std::span<const int64_t> device_free;  // milli-GPU free per device
};

struct FragmentationOptions {
  // FGD looks at CPU only; sluice also asks that the pod's memory fits.
  bool count_memory = true;
};

// GPU milli of `v` that a pod of `shape` could not use.
int64_t ShapeFragment(const NodeFreeView& v, const MixShape& shape,
                      const FragmentationOptions& options = {});

// Sum over the mix of weight x ShapeFragment.
int64_t NodeFragmentation(const NodeFreeView& v, const RequestMix& mix,
                          const FragmentationOptions& options = {});

// NodeFragmentation remembered by free state, for one mix and the default
// options: nodes of one GPU model and device memory with the same free CPU,
// memory and device frees (in any order) are as fragmented. Belongs to one
// cycle; not thread-safe.
class FragmentationMemo {
 public:
  explicit FragmentationMemo(const RequestMix& mix) : mix_(mix) {}
  // NodeFragmentation(v, mix).
  int64_t Of(const NodeFreeView& v);

 private:
  struct KeyHash {
    size_t operator()(const std::vector<int64_t>& key) const;
  };
  const RequestMix& mix_;
  std::unordered_map<std::string, int64_t> model_ids_;
  // (model id, device memory, free CPU, free memory, device frees sorted).
  std::unordered_map<std::vector<int64_t>, int64_t, KeyHash> known_;
  std::vector<int64_t> key_;  // scratch
};

}  // namespace sluice

#endif  // SLUICE_SCHED_FRAGMENTATION_H_
