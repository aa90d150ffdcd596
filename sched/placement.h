// Placement: which nodes can hold a pod, and which of them is best.
//
// NodeFilter answers the static questions (GPU model, node selector, device
// count and memory, total CPU and memory: could this node ever hold a pod of
// this workload?). PodPlacer answers the dynamic one against a ClusterState:
// the best node and devices for one pod right now, scored lexicographically
// as SCHEDULING.md describes:
//   1. (binpack) fits on devices already shared rather than idle ones;
//   2. (binpack, when the cycle has a request mix) the placement that grows
//      the node's fragmentation least, measured against the mix (see
//      fragmentation.h);
//   3. (binpack, with a mix) the GPU that pods constrained to some models
//      need least: GPU taken x RequestMix::Scarcity of the node's model;
//   4. the placement strategy: binpack prefers the node left with the least
//      free GPU (with a mix: as a share of the node's GPU), then CPU, then
//      memory; spread the most;
//   5. the node listed first.
// Within a node, whole-GPU pods take idle devices (lowest index first) and
// never a device holding a fraction; fractions go to the device whose use
// grows fragmentation least (with a mix), then the most used device that
// still fits (binpack) or the least used (spread).
// A MIG pod takes an instance of its profile (sched/mig_placement.h); its
// score's first key is 1 when a device must be repartitioned for it, and the
// fragmentation key is the room for pending MIG pods it costs. Whole and
// fractional pods never go to devices in MIG mode.
// Under spread the "already shared" preference is not applied: it would pull
// fractions onto busy nodes, the opposite of what spread asks for.
// Both classes only read; they are thread-compatible.
#ifndef SLUICE_SCHED_PLACEMENT_H_
#define SLUICE_SCHED_PLACEMENT_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/model.h"
#include "sched/cluster_state.h"
#include "sched/fragmentation.h"

namespace sluice {

class NodeFilter {
 public:
  // GPU model and node selector (and the topology label, when asked for).
  static bool MatchesConstraints(const Workload& w, const Node& n);
  // `n` has devices in MIG mode of a model that has MIG profile `profile`.
  static bool OffersMig(const Node& n, int32_t profile);
  // MatchesConstraints, and the node's devices can express the GPU request
  // (a GPU-memory request needs the device memory known and large enough).
  static bool MatchesClass(const Workload& w, const Node& n);
  // Could a pod of `w` ever fit on an empty `n`?
  static bool CanEverHold(const Workload& w, const Node& n);
  // Nodes that pass both checks, in node order.
  static std::vector<NodeId> Eligible(const Workload& w, const Snapshot& s);
};

// Lexicographic score of one candidate placement; lower is better.
struct PlacementScore {
  int32_t idle_devices_taken = 0;  // binpack with fractions: idle devices used
  int32_t uses_releasing = 0;      // 1 when it waits for resources being released
  int64_t fragmentation = 0;       // growth of the node's fragmentation (with a mix)
  int64_t scarcity = 0;            // GPU milli taken x scarcity of its model (with a mix)
  int64_t k1 = 0, k2 = 0, k3 = 0;  // strategy keys
  int32_t node = 0;
  auto operator<=>(const PlacementScore&) const = default;
};

class PodPlacer {
 public:
  // `mix` (not owned; may be null) turns on the fragmentation score under
  // binpack.
  // `memo` (not owned; may be null) remembers the mix's fragmentation of
  // the states scored.
  PodPlacer(const Snapshot& snapshot, const ClusterState& state, const RequestMix* mix = nullptr,
            FragmentationMemo* memo = nullptr)
      : snapshot_(snapshot),
        state_(state),
        mix_(mix != nullptr && !mix->empty() && snapshot.strategy == PlacementStrategy::kBinpack
                 ? mix
                 : nullptr),
        memo_(memo),
        mig_pending_(mix != nullptr ? std::span<const MigDemand>(mix->mig_pending())
                                    : std::span<const MigDemand>()) {}

  // True when placements are scored by fragmentation.
  bool scores_fragmentation() const { return mix_ != nullptr; }

  // A pod's devices on a node and their score, found together: the device
  // choice of a fraction decides its fragmentation.
  struct Choice {
    PlacementScore score;
    PodPlacement placement;
  };
  // Score and devices of one pod of `w` on `n`, or nullopt if it does not
  // fit there now.
  std::optional<Choice> Evaluate(const Workload& w, NodeId n) const;
  // The score alone.
  std::optional<PlacementScore> Score(const Workload& w, NodeId n) const;
  // The devices one pod of `w` takes on `n`; `n` must have passed Score().
  PodPlacement PlaceOn(const Workload& w, NodeId n) const;
  // The best placement among `nodes`, or nullopt when none fits.
  std::optional<PodPlacement> FindBest(const Workload& w, std::span<const NodeId> nodes) const;

  // Pipelining: the same, counting resources that are being released as
  // free. A node where the pod fits without them scores better
  // (uses_releasing = 0) and gets the same devices as PlaceOn.
  std::optional<PlacementScore> ScorePipelined(const Workload& w, NodeId n) const;
  // The score of a placement on `n` that needs releasing resources, for a
  // caller that knows the pod does not fit there without them.
  std::optional<PlacementScore> ScoreReleasing(const Workload& w, NodeId n) const;
  PodPlacement PlaceOnPipelined(const Workload& w, NodeId n) const;
  // The devices of a placement on `n` that ScoreReleasing accepted.
  PodPlacement PlaceOnReleasing(const Workload& w, NodeId n) const;
  // True when `p` needs resources that are still being released.
  bool NeedsReleasing(const Workload& w, const PodPlacement& p) const;

 private:
  // A MIG pod (see mig_placement.h); `pipelined` also counts instances
  // whose pods are exiting, and the node's releasing CPU and memory.
  std::optional<Choice> EvaluateMig(const Workload& w, NodeId n, bool pipelined) const;
  // Every device of `n` that can take `milli` more, in the strategy's order.
  std::vector<int32_t> FractionDevices(NodeId n, int64_t milli) const;
  // Fragmentation growth of `n` if `p` were added.
  int64_t FragmentationGrowth(const Workload& w, const PodPlacement& p) const;

  const Snapshot& snapshot_;
  const ClusterState& state_;
  const RequestMix* mix_;
  FragmentationMemo* memo_;
  std::span<const MigDemand> mig_pending_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_PLACEMENT_H_
