#include "sweep/search.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <numbers>

namespace sluice::sweep {
namespace {

uint64_t SplitMix(uint64_t* x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// The seed of trial `index`'s own random stream.
uint64_t TrialSeed(uint64_t seed, int64_t index, uint64_t salt) {
  uint64_t x = seed ^ (static_cast<uint64_t>(index) * 0xD1B54A32D192ED03ULL) ^ salt;
  return SplitMix(&x);
}

Json SampleParam(const Param& p, Rng& rng) {
  switch (p.kind) {
    case Param::Kind::kValues:
      return p.values[rng.Below(p.values.size())];
    case Param::Kind::kUniform:
      return p.min + rng.Uniform() * (p.max - p.min);
    case Param::Kind::kLogUniform:
      return std::exp(std::log(p.min) + rng.Uniform() * (std::log(p.max) - std::log(p.min)));
    case Param::Kind::kInt: {
      const auto lo = static_cast<int64_t>(std::ceil(p.min));
      const auto hi = static_cast<int64_t>(std::floor(p.max));
      return lo + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(hi - lo + 1)));
    }
  }
  return nullptr;
}

Json SampleSpace(const Space& space, Rng& rng) {
  Json out = Json::object();
  for (const Param& p : space) out[p.name] = SampleParam(p, rng);
  return out;
}

// ---- grid ----

// The points of one parameter on the grid; empty with `error` set when it
// has none that are finite.
std::vector<Json> GridPoints(const Param& p, std::string* error) {
  std::vector<Json> out;
  switch (p.kind) {
    case Param::Kind::kValues:
      return p.values;
    case Param::Kind::kInt: {
      const auto lo = static_cast<int64_t>(std::ceil(p.min));
      const auto hi = static_cast<int64_t>(std::floor(p.max));
      if (p.grid_points >= 2 && hi - lo + 1 > p.grid_points) {
        for (int32_t i = 0; i < p.grid_points; ++i) {
          out.emplace_back(lo + static_cast<int64_t>(std::llround(
                                    static_cast<double>(i) * static_cast<double>(hi - lo) /
                                    static_cast<double>(p.grid_points - 1))));
        }
        out.erase(std::unique(out.begin(), out.end()), out.end());
        return out;
      }
      if (hi - lo + 1 > 10'000) {
        *error = p.name + ": an int range of " + std::to_string(hi - lo + 1) +
                 " values is too large for a grid; give gridPoints";
        return {};
      }
      for (int64_t v = lo; v <= hi; ++v) out.emplace_back(v);
      return out;
    }
    case Param::Kind::kUniform:
    case Param::Kind::kLogUniform: {
      if (p.grid_points < 2) {
        *error = p.name +
                 ": grid search needs a finite set of points: give values, an int range, or "
                 "gridPoints (2 or more) for a real range";
        return {};
      }
      const bool log = p.kind == Param::Kind::kLogUniform;
      const double lo = log ? std::log(p.min) : p.min;
      const double hi = log ? std::log(p.max) : p.max;
      for (int32_t i = 0; i < p.grid_points; ++i) {
        const double t = lo + (hi - lo) * i / (p.grid_points - 1);
        // The ends exactly as given.
        out.emplace_back(i == 0 ? p.min : i == p.grid_points - 1 ? p.max : log ? std::exp(t) : t);
      }
      return out;
    }
  }
  return out;
}

class GridSearch final : public Searcher {
 public:
  explicit GridSearch(std::vector<std::pair<std::string, std::vector<Json>>> axes)
      : axes_(std::move(axes)) {
    size_ = 1;
    for (const auto& [name, points] : axes_) {
      size_ = std::min<int64_t>(size_ * static_cast<int64_t>(points.size()), int64_t{1} << 40);
    }
  }
  std::optional<Json> Suggest(int64_t index, const std::vector<Observation>&) override {
    if (index < 0 || index >= size_) return std::nullopt;
    // Mixed radix, the last parameter changing fastest.
    Json out = Json::object();
    int64_t rest = index;
    std::vector<size_t> digits(axes_.size());
    for (size_t i = axes_.size(); i-- > 0;) {
      const auto n = static_cast<int64_t>(axes_[i].second.size());
      digits[i] = static_cast<size_t>(rest % n);
      rest /= n;
    }
    for (size_t i = 0; i < axes_.size(); ++i) out[axes_[i].first] = axes_[i].second[digits[i]];
    return out;
  }
  int64_t Capacity() const override { return size_; }

 private:
  std::vector<std::pair<std::string, std::vector<Json>>> axes_;
  int64_t size_ = 0;
};

class RandomSearch final : public Searcher {
 public:
  RandomSearch(Space space, uint64_t seed) : space_(std::move(space)), seed_(seed) {}
  std::optional<Json> Suggest(int64_t index, const std::vector<Observation>&) override {
    Rng rng(TrialSeed(seed_, index, 0x52414E44ULL));
    return SampleSpace(space_, rng);
  }

 private:
  Space space_;
  uint64_t seed_;
};

// ---- TPE ----

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

// A mixture of normals truncated to [low, high]: the adaptive Parzen
// estimator of hyperopt, with the prior (centred, as wide as the range).
class Parzen {
 public:
  Parzen(const std::vector<double>& points, double low, double high, double prior_weight)
      : low_(low), high_(high) {
    const double range = high - low;
    const double prior_mu = 0.5 * (low + high);
    std::vector<std::pair<double, double>> sorted;  // mu, weight
    for (double p : points) sorted.emplace_back(p, 1.0);
    sorted.emplace_back(prior_mu, -prior_weight);  // negative marks the prior
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(n));
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      const double mu = sorted[i].first;
      double sigma = 0;
      if (sorted[i].second < 0) {
        sigma = range;
      } else {
        const double left = i > 0 ? mu - sorted[i - 1].first : mu - low;
        const double right = i + 1 < n ? sorted[i + 1].first - mu : high - mu;
        sigma = std::clamp(std::max(left, right), min_sigma, range);
      }
      const double w = std::abs(sorted[i].second);
      total += w;
      mu_.push_back(mu);
      sigma_.push_back(sigma);
      weight_.push_back(w);
      const double z = NormalCdf((high - mu) / sigma) - NormalCdf((low - mu) / sigma);
      mass_.push_back(std::max(z, 1e-12));
    }
    for (double& w : weight_) w /= total;
  }

  double Sample(Rng& rng) const {
    double u = rng.Uniform();
    size_t k = 0;
    while (k + 1 < weight_.size() && u >= weight_[k]) {
      u -= weight_[k];
      ++k;
    }
    for (int tries = 0; tries < 64; ++tries) {
      const double x = mu_[k] + sigma_[k] * rng.Normal();
      if (x >= low_ && x <= high_) return x;
    }
    return low_ + rng.Uniform() * (high_ - low_);
  }

  double LogDensity(double x) const {
    double p = 0;
    for (size_t k = 0; k < mu_.size(); ++k) {
      const double z = (x - mu_[k]) / sigma_[k];
      p += weight_[k] * std::exp(-0.5 * z * z) /
           (sigma_[k] * std::sqrt(2 * std::numbers::pi) * mass_[k]);
    }
    return std::log(std::max(p, 1e-300));
  }

 private:
  double low_;
  double high_;
  std::vector<double> mu_;
  std::vector<double> sigma_;
  std::vector<double> weight_;
  std::vector<double> mass_;
};

// Where a value of a numeric parameter lives for the estimator.
struct Axis {
  double low = 0;
  double high = 1;
  bool log = false;
  bool integer = false;
};

Axis AxisOf(const Param& p) {
  Axis a;
  a.log = p.kind == Param::Kind::kLogUniform;
  a.integer = p.kind == Param::Kind::kInt;
  a.low = a.log ? std::log(p.min) : p.min;
  a.high = a.log ? std::log(p.max) : p.max;
  if (a.integer) {
    a.low = std::ceil(p.min) - 0.5;
    a.high = std::floor(p.max) + 0.5;
  }
  return a;
}

// The multivariate estimator (as Optuna's multivariate TPE): one kernel per
// observation over all the parameters together, so that values that went
// well together are drawn together; plus the prior over the whole space.
class JointParzen {
 public:
  JointParzen(const Space& space, const std::vector<const Observation*>& obs, double prior_weight)
      : space_(space) {
    const auto d = static_cast<double>(space.size());
    const double n = static_cast<double>(obs.size()) + 1;
    const double factor = 0.2 * std::pow(n, -1.0 / (d + 4));
    for (const Param& p : space) {
      axes_.push_back(p.kind == Param::Kind::kValues ? Axis{} : AxisOf(p));
    }
    for (const Observation* o : obs) {
      Component c;
      c.weight = 1;
      bool ok = true;
      for (size_t j = 0; j < space.size() && ok; ++j) {
        const Param& p = space[j];
        auto it = o->params.find(p.name);
        if (it == o->params.end()) {
          ok = false;
          break;
        }
        if (p.kind == Param::Kind::kValues) {
          auto v = std::find(p.values.begin(), p.values.end(), *it);
          if (v == p.values.end()) {
            ok = false;
            break;
          }
          std::vector<double> probs(p.values.size(),
                                    prior_weight / static_cast<double>(p.values.size()));
          probs[static_cast<size_t>(v - p.values.begin())] += 1;
          double total = 0;
          for (double x : probs) total += x;
          for (double& x : probs) x /= total;
          c.mu.push_back(0);
          c.sigma.push_back(0);
          c.probs.push_back(std::move(probs));
        } else {
          if (!it->is_number()) {
            ok = false;
            break;
          }
          const Axis& a = axes_[j];
          double x = it->get<double>();
          if (a.log && x <= 0) {
            ok = false;
            break;
          }
          x = std::clamp(a.log ? std::log(x) : x, a.low, a.high);
          const double range = a.high - a.low;
          c.mu.push_back(x);
          c.sigma.push_back(std::clamp(factor * range, range / 100, range));
          c.probs.emplace_back();
        }
      }
      if (ok) components_.push_back(std::move(c));
    }
    Component prior;
    prior.weight = prior_weight;
    for (size_t j = 0; j < space.size(); ++j) {
      const Param& p = space[j];
      if (p.kind == Param::Kind::kValues) {
        prior.mu.push_back(0);
        prior.sigma.push_back(0);
        prior.probs.emplace_back(p.values.size(), 1.0 / static_cast<double>(p.values.size()));
      } else {
        prior.mu.push_back(0.5 * (axes_[j].low + axes_[j].high));
        prior.sigma.push_back(axes_[j].high - axes_[j].low);
        prior.probs.emplace_back();
      }
    }
    components_.push_back(std::move(prior));
    double total = 0;
    for (const Component& c : components_) total += c.weight;
    for (Component& c : components_) {
      c.weight /= total;
      for (size_t j = 0; j < space.size(); ++j) {
        if (space[j].kind == Param::Kind::kValues) {
          c.mass.push_back(1);
          continue;
        }
        const double lo = (axes_[j].low - c.mu[j]) / c.sigma[j];
        const double hi = (axes_[j].high - c.mu[j]) / c.sigma[j];
        c.mass.push_back(std::max(NormalCdf(hi) - NormalCdf(lo), 1e-12));
      }
    }
  }

  // A point: per parameter, the axis value (or the category's index).
  std::vector<double> Sample(Rng& rng) const {
    double u = rng.Uniform();
    size_t k = 0;
    while (k + 1 < components_.size() && u >= components_[k].weight) {
      u -= components_[k].weight;
      ++k;
    }
    const Component& c = components_[k];
    std::vector<double> x(space_.size());
    for (size_t j = 0; j < space_.size(); ++j) {
      if (space_[j].kind == Param::Kind::kValues) {
        double v = rng.Uniform();
        size_t i = 0;
        while (i + 1 < c.probs[j].size() && v >= c.probs[j][i]) {
          v -= c.probs[j][i];
          ++i;
        }
        x[j] = static_cast<double>(i);
        continue;
      }
      const Axis& a = axes_[j];
      x[j] = a.low + rng.Uniform() * (a.high - a.low);
      for (int tries = 0; tries < 64; ++tries) {
        const double y = c.mu[j] + c.sigma[j] * rng.Normal();
        if (y >= a.low && y <= a.high) {
          x[j] = y;
          break;
        }
      }
    }
    return x;
  }

  double LogDensity(const std::vector<double>& x) const {
    // log-sum-exp over the components.
    std::vector<double> logs;
    double top = -INFINITY;
    for (const Component& c : components_) {
      double l = std::log(c.weight);
      for (size_t j = 0; j < space_.size(); ++j) {
        if (space_[j].kind == Param::Kind::kValues) {
          l += std::log(std::max(c.probs[j][static_cast<size_t>(x[j])], 1e-300));
        } else {
          const double z = (x[j] - c.mu[j]) / c.sigma[j];
          l += -0.5 * z * z - std::log(c.sigma[j] * std::sqrt(2 * std::numbers::pi) * c.mass[j]);
        }
      }
      logs.push_back(l);
      top = std::max(top, l);
    }
    double sum = 0;
    for (double l : logs) sum += std::exp(l - top);
    return top + std::log(sum);
  }

  Json ToParams(const std::vector<double>& x) const {
    Json out = Json::object();
    for (size_t j = 0; j < space_.size(); ++j) {
      const Param& p = space_[j];
      if (p.kind == Param::Kind::kValues) {
        out[p.name] = p.values[static_cast<size_t>(x[j])];
      } else if (axes_[j].integer) {
        out[p.name] = std::clamp(static_cast<int64_t>(std::llround(x[j])),
                                 static_cast<int64_t>(std::ceil(p.min)),
                                 static_cast<int64_t>(std::floor(p.max)));
      } else if (axes_[j].log) {
        out[p.name] = std::clamp(std::exp(x[j]), p.min, p.max);
      } else {
        out[p.name] = std::clamp(x[j], p.min, p.max);
      }
    }
    return out;
  }

 private:
  struct Component {
    double weight = 1;
    std::vector<double> mu;
    std::vector<double> sigma;
    std::vector<double> mass;
    std::vector<std::vector<double>> probs;  // for categorical parameters
  };
  const Space& space_;
  std::vector<Axis> axes_;
  std::vector<Component> components_;
};

class Tpe final : public Searcher {
 public:
  Tpe(Space space, uint64_t seed, TpeOptions o) : space_(std::move(space)), seed_(seed), o_(o) {}

  std::optional<Json> Suggest(int64_t index, const std::vector<Observation>& history) override {
    std::vector<const Observation*> seen;
    for (const Observation& h : history) {
      if (h.value && std::isfinite(*h.value) && h.params.is_object()) seen.push_back(&h);
    }
    Rng rng(TrialSeed(seed_, index, 0x545045ULL));
    if (static_cast<int64_t>(seen.size()) < std::max(1, o_.startup))
      return SampleSpace(space_, rng);
    std::stable_sort(seen.begin(), seen.end(), [](const Observation* a, const Observation* b) {
      return *a->value < *b->value;
    });
    const auto n = seen.size();
    const size_t below =
        std::clamp<size_t>(static_cast<size_t>(std::ceil(o_.gamma * static_cast<double>(n))), 1,
                           std::min<size_t>(25, n));
    if (o_.multivariate) {
      const std::vector<const Observation*> good(seen.begin(),
                                                 seen.begin() + static_cast<std::ptrdiff_t>(below));
      const std::vector<const Observation*> bad(seen.begin() + static_cast<std::ptrdiff_t>(below),
                                                seen.end());
      const JointParzen l(space_, good, o_.prior_weight);
      const JointParzen g(space_, bad, o_.prior_weight);
      std::vector<double> best;
      double best_score = -INFINITY;
      for (int32_t i = 0; i < std::max(1, o_.candidates); ++i) {
        std::vector<double> x = l.Sample(rng);
        const double score = l.LogDensity(x) - g.LogDensity(x);
        if (score > best_score) {
          best_score = score;
          best = std::move(x);
        }
      }
      return l.ToParams(best);
    }
    Json out = Json::object();
    for (const Param& p : space_) {
      std::vector<const Json*> good;
      std::vector<const Json*> bad;
      for (size_t i = 0; i < n; ++i) {
        auto it = seen[i]->params.find(p.name);
        if (it == seen[i]->params.end()) continue;
        (i < below ? good : bad).push_back(&*it);
      }
      out[p.name] = p.kind == Param::Kind::kValues ? SuggestCategorical(p, good, bad, rng)
                                                   : SuggestNumeric(p, good, bad, rng);
    }
    return out;
  }

 private:
  Json SuggestNumeric(const Param& p, const std::vector<const Json*>& good,
                      const std::vector<const Json*>& bad, Rng& rng) const {
    const Axis a = AxisOf(p);
    auto to_axis = [&](const std::vector<const Json*>& values) {
      std::vector<double> out;
      for (const Json* v : values) {
        if (!v->is_number()) continue;
        const double x = v->get<double>();
        if (a.log && x <= 0) continue;
        out.push_back(std::clamp(a.log ? std::log(x) : x, a.low, a.high));
      }
      return out;
    };
    const Parzen l(to_axis(good), a.low, a.high, o_.prior_weight);
    const Parzen g(to_axis(bad), a.low, a.high, o_.prior_weight);
    double best = 0;
    double best_score = -INFINITY;
    for (int32_t i = 0; i < std::max(1, o_.candidates); ++i) {
      const double x = l.Sample(rng);
      const double score = l.LogDensity(x) - g.LogDensity(x);
      if (score > best_score) {
        best_score = score;
        best = x;
      }
    }
    if (a.integer) {
      return std::clamp(static_cast<int64_t>(std::llround(best)),
                        static_cast<int64_t>(std::ceil(p.min)),
                        static_cast<int64_t>(std::floor(p.max)));
    }
    if (a.log) return std::clamp(std::exp(best), p.min, p.max);
    return std::clamp(best, p.min, p.max);
  }

  Json SuggestCategorical(const Param& p, const std::vector<const Json*>& good,
                          const std::vector<const Json*>& bad, Rng& rng) const {
    const size_t k = p.values.size();
    auto probabilities = [&](const std::vector<const Json*>& values) {
      std::vector<double> w(k, o_.prior_weight / static_cast<double>(k));
      for (const Json* v : values) {
        auto it = std::find(p.values.begin(), p.values.end(), *v);
        if (it != p.values.end()) w[static_cast<size_t>(it - p.values.begin())] += 1;
      }
      double total = 0;
      for (double x : w) total += x;
      for (double& x : w) x /= total;
      return w;
    };
    const std::vector<double> l = probabilities(good);
    const std::vector<double> g = probabilities(bad);
    size_t best = 0;
    double best_score = -INFINITY;
    for (int32_t i = 0; i < std::max(1, o_.candidates); ++i) {
      double u = rng.Uniform();
      size_t c = 0;
      while (c + 1 < k && u >= l[c]) {
        u -= l[c];
        ++c;
      }
      const double score = std::log(l[c]) - std::log(g[c]);
      if (score > best_score) {
        best_score = score;
        best = c;
      }
    }
    return p.values[best];
  }

  Space space_;
  uint64_t seed_;
  TpeOptions o_;
};

}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : s_) s = SplitMix(&x);
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Rng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

double Rng::Normal() {
  // Box-Muller; 1 - U keeps the logarithm finite.
  const double u1 = 1.0 - Uniform();
  const double u2 = Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
}

uint64_t Rng::Below(uint64_t n) {
  if (n <= 1) return 0;
  // Rejection keeps every outcome equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x = Next();
  while (x >= limit) x = Next();
  return x % n;
}

int64_t GridSize(const Space& space, int64_t cap, std::string* error) {
  int64_t size = 1;
  for (const Param& p : space) {
    std::vector<Json> points = GridPoints(p, error);
    if (points.empty()) return 0;
    size = std::min(cap, size * static_cast<int64_t>(points.size()));
  }
  return size;
}

std::unique_ptr<Searcher> MakeTpe(const Space& space, uint64_t seed, TpeOptions options) {
  return std::make_unique<Tpe>(space, seed, options);
}

std::unique_ptr<Searcher> MakeSearcher(const std::string& method, const Space& space, uint64_t seed,
                                       std::string* error, int64_t max_trials) {
  if (method == "grid") {
    std::vector<std::pair<std::string, std::vector<Json>>> axes;
    for (const Param& p : space) {
      std::vector<Json> points = GridPoints(p, error);
      if (points.empty()) return nullptr;
      axes.emplace_back(p.name, std::move(points));
    }
    return std::make_unique<GridSearch>(std::move(axes));
  }
  if (method == "random") return std::make_unique<RandomSearch>(space, seed);
  if (method == "bayes" || method == "tpe") {
    TpeOptions o;
    if (max_trials > 0)
      o.startup = static_cast<int32_t>(std::clamp<int64_t>(max_trials / 4, 3, 10));
    return MakeTpe(space, seed, o);
  }
  *error = "method: expected grid, random or bayes, got \"" + method + "\"";
  return nullptr;
}

std::string ValueText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 1e15) {
      return std::to_string(static_cast<int64_t>(d));
    }
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
    return ec == std::errc() ? std::string(buf.data(), end) : std::to_string(d);
  }
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

}  // namespace sluice::sweep
