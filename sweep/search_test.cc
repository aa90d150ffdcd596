// The search methods: grid enumeration, random sampling, and TPE, which must
// beat random search on the Branin function.
#include "sweep/search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <set>

namespace sluice::sweep {
namespace {

Param Real(const std::string& name, double lo, double hi) {
  Param p;
  p.name = name;
  p.kind = Param::Kind::kUniform;
  p.min = lo;
  p.max = hi;
  return p;
}

// Branin-Hoo on [-5, 10] x [0, 15]; its minimum is 0.397887 (at three points).
double Branin(double x1, double x2) {
  const double pi = std::numbers::pi;
  const double b = 5.1 / (4 * pi * pi);
  const double c = 5 / pi;
  const double t = 1 / (8 * pi);
  return std::pow(x2 - b * x1 * x1 + c * x1 - 6, 2) + 10 * (1 - t) * std::cos(x1) + 10;
}

// The best Branin value `method` finds with `budget` trials, one at a time.
double BestOnBranin(const std::string& method, uint64_t seed, int budget) {
  const Space space{Real("x1", -5, 10), Real("x2", 0, 15)};
  std::string error;
  std::unique_ptr<Searcher> s = MakeSearcher(method, space, seed, &error, budget);
  EXPECT_NE(s, nullptr) << error;
  std::vector<Observation> history;
  double best = INFINITY;
  for (int i = 0; i < budget; ++i) {
    std::optional<Json> p = s->Suggest(i, history);
    EXPECT_TRUE(p.has_value());
    const double x1 = (*p)["x1"].get<double>();
    const double x2 = (*p)["x2"].get<double>();
    EXPECT_GE(x1, -5);
    EXPECT_LE(x1, 10);
    EXPECT_GE(x2, 0);
    EXPECT_LE(x2, 15);
    const double v = Branin(x1, x2);
    best = std::min(best, v);
    history.push_back({*p, v});
  }
  return best;
}

TEST(Tpe, BeatsRandomSearchOnBranin) {
  constexpr int kSeeds = 10;
  constexpr int kBudget = 30;
  double tpe = 0;
  double random = 0;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    tpe += BestOnBranin("bayes", seed, kBudget) / kSeeds;
    random += BestOnBranin("random", seed, kBudget) / kSeeds;
  }
  RecordProperty("tpe_mean_best", std::to_string(tpe));
  RecordProperty("random_mean_best", std::to_string(random));
  std::cout << "Branin, mean best of " << kSeeds << " seeds at " << kBudget << " trials: TPE "
            << tpe << ", random " << random << " (optimum 0.397887)\n";
  EXPECT_LT(tpe, random);
  EXPECT_GE(tpe, 0.397);
}

TEST(Tpe, HandlesCategoricalLogAndIntParameters) {
  Param lr;
  lr.name = "lr";
  lr.kind = Param::Kind::kLogUniform;
  lr.min = 1e-5;
  lr.max = 1e-1;
  Param batch;
  batch.name = "batch";
  batch.values = {32, 64, 128};
  Param layers;
  layers.name = "layers";
  layers.kind = Param::Kind::kInt;
  layers.min = 2;
  layers.max = 8;
  std::unique_ptr<Searcher> s = MakeTpe({lr, batch, layers}, 7, TpeOptions{.startup = 5});
  std::vector<Observation> history;
  std::set<int64_t> batches_late;
  for (int i = 0; i < 40; ++i) {
    Json p = *s->Suggest(i, history);
    const double l = p["lr"].get<double>();
    ASSERT_GE(l, 1e-5);
    ASSERT_LE(l, 1e-1);
    ASSERT_TRUE(p["layers"].is_number_integer());
    ASSERT_GE(p["layers"].get<int64_t>(), 2);
    ASSERT_LE(p["layers"].get<int64_t>(), 8);
    const int64_t b = p["batch"].get<int64_t>();
    ASSERT_TRUE(b == 32 || b == 64 || b == 128);
    if (i >= 30) batches_late.insert(b);
    // Best at lr 1e-3, batch 64, 4 layers.
    const double v = std::pow(std::log10(l) + 3, 2) + (b == 64 ? 0 : 1) +
                     std::abs(p["layers"].get<int64_t>() - 4) * 0.1;
    history.push_back({p, v});
  }
  // Late suggestions have learnt which batch is best.
  EXPECT_TRUE(batches_late.count(64));
}

TEST(Tpe, SameInputsSameSuggestion) {
  const Space space{Real("x", 0, 1)};
  std::vector<Observation> history;
  for (int i = 0; i < 12; ++i) history.push_back({{{"x", i / 12.0}}, std::abs(i / 12.0 - 0.3)});
  std::unique_ptr<Searcher> a = MakeTpe(space, 3, {});
  std::unique_ptr<Searcher> b = MakeTpe(space, 3, {});
  EXPECT_EQ(*a->Suggest(12, history), *b->Suggest(12, history));
  // Pending trials (no value yet) are ignored.
  history.push_back({{{"x", 0.9}}, std::nullopt});
  EXPECT_EQ(*a->Suggest(12, history), *b->Suggest(12, history));
}

TEST(Grid, EnumeratesEveryCombinationOnce) {
  Param batch;
  batch.name = "batch";
  batch.values = {32, 64};
  Param layers;
  layers.name = "layers";
  layers.kind = Param::Kind::kInt;
  layers.min = 2;
  layers.max = 4;
  Param lr;
  lr.name = "lr";
  lr.kind = Param::Kind::kLogUniform;
  lr.min = 1e-4;
  lr.max = 1e-2;
  lr.grid_points = 3;
  std::string error;
  std::unique_ptr<Searcher> g = MakeSearcher("grid", {batch, layers, lr}, 0, &error);
  ASSERT_NE(g, nullptr) << error;
  EXPECT_EQ(g->Capacity(), 18);
  std::set<std::string> seen;
  for (int i = 0; i < 18; ++i) {
    std::optional<Json> p = g->Suggest(i, {});
    ASSERT_TRUE(p.has_value());
    seen.insert(p->dump());
  }
  EXPECT_EQ(seen.size(), 18u);
  EXPECT_FALSE(g->Suggest(18, {}).has_value());
  EXPECT_EQ((*g->Suggest(0, {}))["lr"].get<double>(), 1e-4);
  EXPECT_NEAR((*g->Suggest(1, {}))["lr"].get<double>(), 1e-3, 1e-12);
}

TEST(Grid, RefusesARealRangeWithoutPoints) {
  std::string error;
  EXPECT_EQ(MakeSearcher("grid", {Real("x", 0, 1)}, 0, &error), nullptr);
  EXPECT_NE(error.find("gridPoints"), std::string::npos) << error;
  EXPECT_EQ(GridSize({Real("x", 0, 1)}, 100, &error), 0);
}

TEST(Random, StaysInRangeAndDependsOnlyOnSeedAndIndex) {
  Param lr;
  lr.name = "lr";
  lr.kind = Param::Kind::kLogUniform;
  lr.min = 1e-5;
  lr.max = 1e-1;
  std::string error;
  std::unique_ptr<Searcher> a = MakeSearcher("random", {lr, Real("x", -1, 1)}, 42, &error);
  std::unique_ptr<Searcher> b = MakeSearcher("random", {lr, Real("x", -1, 1)}, 42, &error);
  int below_1e3 = 0;
  for (int i = 0; i < 400; ++i) {
    Json p = *a->Suggest(i, {});
    EXPECT_EQ(p, *b->Suggest(i, {}));
    ASSERT_GE(p["lr"].get<double>(), 1e-5);
    ASSERT_LE(p["lr"].get<double>(), 1e-1);
    if (p["lr"].get<double>() < 1e-3) ++below_1e3;
  }
  // Log-uniform: half the draws below the geometric middle.
  EXPECT_GT(below_1e3, 150);
  EXPECT_LT(below_1e3, 250);
  EXPECT_NE(*a->Suggest(0, {}), *a->Suggest(1, {}));
}

TEST(ValueText, ForCommandLines) {
  EXPECT_EQ(ValueText(64), "64");
  EXPECT_EQ(ValueText(0.001), "0.001");
  EXPECT_EQ(ValueText(1e-5), "1e-05");
  EXPECT_EQ(ValueText(2.0), "2");
  EXPECT_EQ(ValueText("adam"), "adam");
}

}  // namespace
}  // namespace sluice::sweep
