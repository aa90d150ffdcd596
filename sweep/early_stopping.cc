#include "sweep/early_stopping.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

namespace sluice::sweep {
namespace {

std::string Number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

// The best value of `c` up to and including its first report at or after
// `step`; nullopt when it has not reached `step`.
std::optional<double> BestAtRung(const Curve& c, int64_t step) {
  std::optional<double> best;
  for (const auto& [s, v] : c.points) {
    if (!std::isfinite(v)) continue;
    best = best ? std::min(*best, v) : v;
    if (s >= step) return best;
  }
  return std::nullopt;
}

StopDecision Asha(const EarlyStopping& rule, const Curve& trial,
                  const std::vector<const Curve*>& others) {
  const int64_t last = trial.points.back().first;
  const int64_t before = trial.points.size() > 1 ? trial.points[trial.points.size() - 2].first : 0;
  // The rung this report crossed, if any (the highest one, when it crossed several).
  std::optional<int64_t> crossed;
  for (int64_t rung : AshaRungs(rule, last)) {
    if (rung > before) crossed = rung;
  }
  if (!crossed) return {};
  const std::optional<double> mine = BestAtRung(trial, *crossed);
  if (!mine) return {};
  std::vector<double> rung_values;
  for (const Curve* o : others) {
    if (std::optional<double> v = BestAtRung(*o, *crossed)) rung_values.push_back(*v);
  }
  if (rung_values.empty()) return {};
  // Go on only within the best 1/reductionFactor of the rung (ties go on).
  std::sort(rung_values.begin(), rung_values.end());
  const double q = 1.0 / std::max(2, rule.reduction_factor);
  const double pos = q * static_cast<double>(rung_values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, rung_values.size() - 1);
  const double cutoff =
      rung_values[lo] + (pos - static_cast<double>(lo)) * (rung_values[hi] - rung_values[lo]);
  if (*mine <= cutoff) return {};
  return {true, "ASHA: at rung " + std::to_string(*crossed) + " its best " + Number(*mine) +
                    " is outside the best 1/" + std::to_string(rule.reduction_factor) + " of " +
                    std::to_string(rung_values.size()) + " trials (cutoff " + Number(cutoff) + ")"};
}

StopDecision Median(const EarlyStopping& rule, const Curve& trial,
                    const std::vector<const Curve*>& others) {
  const int64_t step = trial.points.back().first;
  double best = INFINITY;
  for (const auto& [s, v] : trial.points) {
    if (std::isfinite(v)) best = std::min(best, v);
  }
  if (!std::isfinite(best)) return {};
  // The running average of each other trial that has got this far.
  std::vector<double> averages;
  for (const Curve* o : others) {
    if (o->points.empty() || o->points.back().first < step) continue;
    double sum = 0;
    int64_t n = 0;
    for (const auto& [s, v] : o->points) {
      if (s > step) break;
      if (!std::isfinite(v)) continue;
      sum += v;
      ++n;
    }
    if (n > 0) averages.push_back(sum / static_cast<double>(n));
  }
  if (static_cast<int32_t>(averages.size()) < std::max(1, rule.min_trials)) return {};
  std::sort(averages.begin(), averages.end());
  const size_t m = averages.size();
  const double median =
      m % 2 == 1 ? averages[m / 2] : 0.5 * (averages[m / 2 - 1] + averages[m / 2]);
  if (best <= median) return {};
  return {true, "median rule: at step " + std::to_string(step) + " its best " + Number(best) +
                    " is worse than the median " + Number(median) + " of " + std::to_string(m) +
                    " other trials' running averages"};
}

}  // namespace

std::vector<int64_t> AshaRungs(const EarlyStopping& rule, int64_t up_to) {
  std::vector<int64_t> rungs;
  const int64_t factor = std::max(2, rule.reduction_factor);
  for (int64_t r = std::max<int64_t>(1, rule.min_steps); r <= up_to; r *= factor) {
    if (rule.max_steps > 0 && r >= rule.max_steps) break;
    rungs.push_back(r);
    if (r > (INT64_MAX / factor)) break;
  }
  return rungs;
}

StopDecision ShouldStop(const EarlyStopping& rule, const Curve& trial,
                        const std::vector<const Curve*>& others) {
  if (rule.type == EarlyStopping::Type::kNone || trial.points.empty()) return {};
  if (trial.points.back().first < rule.min_steps) return {};
  if (rule.type == EarlyStopping::Type::kAsha) return Asha(rule, trial, others);
  return Median(rule, trial, others);
}

}  // namespace sluice::sweep
