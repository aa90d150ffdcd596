#include "sched/online_placer.h"

#include <utility>

#include "sched/cluster_state.h"
#include "sched/cycle_context.h"
#include "sched/gang.h"
#include "sched/node_index.h"

namespace sluice {

struct OnlinePlacer::Impl {
  Impl(const Snapshot& s, std::optional<RequestMix> m)
      : state(s),
        index(s, &state),
        mix(m ? std::move(*m) : RequestMix::FromSnapshot(s)),
        fair_share(s.queues.size()),
        demand(s.workloads.size()),
        ctx{s,          state,
            &index,     &mix,
            fair_share, demand,
            result,     std::vector<uint8_t>(s.workloads.size(), 0),
            {},         std::vector<int64_t>(s.workloads.size(), 0)} {
    // A mix given from outside knows nothing of the nodes yet.
    mix.MeasureSupply(s.nodes);
  }

  ClusterState state;
  NodeIndex index;
  RequestMix mix;
  std::vector<Resources> fair_share;
  std::vector<Resources> demand;
  CycleResult result;
  CycleContext ctx;
};

OnlinePlacer::OnlinePlacer(const Snapshot& snapshot, std::optional<RequestMix> mix)
    : impl_(std::make_unique<Impl>(snapshot, std::move(mix))) {}

OnlinePlacer::~OnlinePlacer() = default;

std::optional<std::vector<PodPlacement>> OnlinePlacer::Place(WorkloadId id) {
  GangOutcome out = PlaceGang(impl_->ctx, id, GangMode{});
  if (!out.placed) return std::nullopt;
  return std::move(out.pods);
}

}  // namespace sluice
