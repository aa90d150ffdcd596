// Twins: pending workloads that the actions of a cycle treat alike (same
// queue, priority class and preemptibility, same request, gang shape,
// constraints and pods held). A failed placement attempt leaves the state as
// it found it, so until some attempt succeeds a twin of a failed workload
// fails the same way and need not be tried: with many identical pending
// workloads this turns a cycle's cost from one search per workload into one
// per kind of workload. Internal to sched; one action owns one FailedTwins.
#ifndef SLUICE_SCHED_TWINS_H_
#define SLUICE_SCHED_TWINS_H_

#include <cstdint>
#include <map>
#include <utility>

#include "sched/cycle_context.h"

namespace sluice {

// Twins are workloads of the same shape holding as many pods.
using Twin = std::pair<int32_t, int32_t>;

inline Twin TwinOf(CycleContext& ctx, WorkloadId id) {
  return {ctx.twin_shapes.Of(ctx.snapshot, id),
          static_cast<int32_t>(ctx.state.placements(id).size())};
}

// What a failed attempt of each twin found (`Outcome`), until one succeeds.
template <typename Outcome>
class FailedTwins {
 public:
  const Outcome* Find(CycleContext& ctx, WorkloadId id) const {
    auto it = failed_.find(TwinOf(ctx, id));
    return it == failed_.end() ? nullptr : &it->second;
  }
  void Failed(CycleContext& ctx, WorkloadId id, Outcome outcome) {
    failed_.emplace(TwinOf(ctx, id), std::move(outcome));
  }
  void Succeeded() { failed_.clear(); }

 private:
  std::map<Twin, Outcome> failed_;
};

}  // namespace sluice

#endif  // SLUICE_SCHED_TWINS_H_
