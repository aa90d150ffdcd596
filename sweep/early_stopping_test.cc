#include "sweep/early_stopping.h"

#include <gtest/gtest.h>

namespace sluice::sweep {
namespace {

Curve Flat(double v, int64_t steps) {
  Curve c;
  for (int64_t s = 1; s <= steps; ++s) c.points.emplace_back(s, v);
  return c;
}

EarlyStopping Asha() {
  EarlyStopping r;
  r.type = EarlyStopping::Type::kAsha;
  r.min_steps = 2;
  r.reduction_factor = 3;
  return r;
}

TEST(Asha, RungsGrowByTheReductionFactor) {
  EXPECT_EQ(AshaRungs(Asha(), 100), (std::vector<int64_t>{2, 6, 18, 54}));
  EarlyStopping r = Asha();
  r.max_steps = 18;
  EXPECT_EQ(AshaRungs(r, 100), (std::vector<int64_t>{2, 6}));
}

TEST(Asha, JudgesOnlyWhenARungIsCrossed) {
  Curve good = Flat(1, 6);
  Curve bad = Flat(5, 1);
  std::vector<const Curve*> others{&good};
  EXPECT_FALSE(ShouldStop(Asha(), bad, others).stop);  // before the first rung
  bad.points.emplace_back(2, 5);
  StopDecision d = ShouldStop(Asha(), bad, others);
  EXPECT_TRUE(d.stop);
  EXPECT_NE(d.reason.find("rung 2"), std::string::npos) << d.reason;
  bad.points.emplace_back(3, 5);
  EXPECT_FALSE(ShouldStop(Asha(), bad, others).stop);  // between rungs
}

TEST(Asha, TheFirstAtARungAndTheBestGoOn) {
  Curve first = Flat(9, 2);
  EXPECT_FALSE(ShouldStop(Asha(), first, {}).stop);
  Curve a = Flat(3, 2);
  Curve b = Flat(4, 2);
  Curve c = Flat(5, 2);
  Curve best = Flat(2, 2);
  EXPECT_FALSE(ShouldStop(Asha(), best, {&a, &b, &c}).stop);
  Curve middle = Flat(4.5, 2);
  EXPECT_TRUE(ShouldStop(Asha(), middle, {&a, &b, &c}).stop);
}

TEST(Median, StopsWhatIsWorseThanTheMedianOfRunningAverages) {
  EarlyStopping r;
  r.type = EarlyStopping::Type::kMedian;
  r.min_steps = 3;
  r.min_trials = 3;
  Curve a = Flat(1, 10);
  Curve b = Flat(2, 10);
  Curve c = Flat(3, 10);
  Curve worse = Flat(2.5, 3);
  EXPECT_TRUE(ShouldStop(r, worse, {&a, &b, &c}).stop);
  Curve better = Flat(1.5, 3);
  EXPECT_FALSE(ShouldStop(r, better, {&a, &b, &c}).stop);
  Curve early = Flat(2.5, 2);
  EXPECT_FALSE(ShouldStop(r, early, {&a, &b, &c}).stop);  // before minSteps
  EXPECT_FALSE(ShouldStop(r, worse, {&a, &b}).stop);      // too few others
}

TEST(None, NeverStops) {
  Curve c = Flat(100, 50);
  Curve o = Flat(0, 50);
  EXPECT_FALSE(ShouldStop(EarlyStopping{}, c, {&o}).stop);
}

}  // namespace
}  // namespace sluice::sweep
