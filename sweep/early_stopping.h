// Early stopping of sweep trials from the intermediate metrics they report:
// ASHA (asynchronous successive halving, Li et al. 2020) and the median
// stopping rule (Golovin et al. 2017, Google Vizier). Both are stateless:
// a decision depends only on the curves given, so a restarted server
// decides as it would have.
#ifndef SLUICE_SWEEP_EARLY_STOPPING_H_
#define SLUICE_SWEEP_EARLY_STOPPING_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sluice::sweep {

struct EarlyStopping {
  enum class Type : uint8_t { kNone, kAsha, kMedian };
  Type type = Type::kNone;
  // No trial is judged before it has reported this step.
  int64_t min_steps = 1;
  // ASHA: rungs at min_steps * reductionFactor^k; at each rung a trial goes
  // on only when it is in the best 1/reductionFactor of the trials that
  // reached the rung before it.
  int32_t reduction_factor = 3;
  // ASHA: no rung at or beyond this step (a trial that gets there is about
  // to finish anyway); 0: no limit.
  int64_t max_steps = 0;
  // Median: judge only against at least this many other trials.
  int32_t min_trials = 3;
};

// One trial's reports of the objective, oriented so that lower is better,
// in the order of their steps.
struct Curve {
  std::vector<std::pair<int64_t, double>> points;  // step, value
};

struct StopDecision {
  bool stop = false;
  std::string reason;  // why it stops, in words
};

// Whether `trial`, which has just reported its latest point, should stop,
// given the curves of the sweep's other trials.
StopDecision ShouldStop(const EarlyStopping& rule, const Curve& trial,
                        const std::vector<const Curve*>& others);

// The rungs of ASHA below `up_to` (inclusive).
std::vector<int64_t> AshaRungs(const EarlyStopping& rule, int64_t up_to);

}  // namespace sluice::sweep

#endif  // SLUICE_SWEEP_EARLY_STOPPING_H_
