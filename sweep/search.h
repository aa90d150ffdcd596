// Hyperparameter search for sweeps: the search space, and the three ways of
// choosing the next trial's parameters (grid, random and TPE), written here
// rather than borrowed so that the server needs nothing beyond the standard
// library to run a sweep.
//
// Everything is deterministic: a suggestion depends only on the space, the
// seed, the trial's index and the history it is given, so a server that
// restarts suggests what it would have suggested before.
#ifndef SLUICE_SWEEP_SEARCH_H_
#define SLUICE_SWEEP_SEARCH_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sluice::sweep {

using Json = nlohmann::json;

// One parameter of the search space.
struct Param {
  enum class Kind : uint8_t {
    kValues,      // one of `values` (numbers or strings)
    kUniform,     // a real in [min, max]
    kLogUniform,  // a real in [min, max], uniform in log space (min > 0)
    kInt,         // a whole number in [min, max]
  };
  std::string name;
  Kind kind = Kind::kValues;
  std::vector<Json> values;
  double min = 0;
  double max = 1;
  // Grid search over a real range: this many points, evenly spaced (in log
  // space for kLogUniform); 0 when not given.
  int32_t grid_points = 0;
};

using Space = std::vector<Param>;

// A finished (or running) trial as the searcher sees it: its parameters and
// the objective's best value so far, oriented so that lower is better
// (maximised metrics are negated); nullopt while it has reported nothing.
struct Observation {
  Json params;  // {"name": value}
  std::optional<double> value;
};

// A deterministic pseudo-random source (splitmix64 seeding xoshiro256**),
// the same on every platform, unlike the standard distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  double Uniform();  // [0, 1)
  double Normal();   // standard normal
  // A whole number in [0, n).
  uint64_t Below(uint64_t n);

 private:
  uint64_t s_[4];
};

class Searcher {
 public:
  virtual ~Searcher() = default;
  // The parameters of trial `index` (0-based) given what the earlier trials
  // found, or nullopt when the search has nothing left to try (a grid that
  // is exhausted).
  virtual std::optional<Json> Suggest(int64_t index, const std::vector<Observation>& history) = 0;
  // How many trials the search can ever suggest (-1: unbounded).
  virtual int64_t Capacity() const { return -1; }
};

// method: "grid", "random" or "bayes" (TPE; "tpe" too). Fails (nullptr and
// `error` set) when the space does not suit the method (a grid over a real
// range without gridPoints). `max_trials` sizes TPE's random start (a quarter
// of the budget, from 3 to 10 trials); 0: the default.
std::unique_ptr<Searcher> MakeSearcher(const std::string& method, const Space& space, uint64_t seed,
                                       std::string* error, int64_t max_trials = 0);

// The number of points of the grid over `space`, capped at `cap`; `error` is
// set when a parameter has no finite set of points.
int64_t GridSize(const Space& space, int64_t cap, std::string* error);

// Tree-structured Parzen Estimator options (Bergstra et al. 2011), as in
// hyperopt: the first `startup` trials are random; after that each
// parameter is drawn from a density fitted to the best `gamma` of the
// history, picking of `candidates` draws the one that is most likely under
// it relative to a density fitted to the rest.
struct TpeOptions {
  int32_t startup = 10;
  double gamma = 0.25;
  int32_t candidates = 24;
  // The prior (the whole range) counts as this many observations.
  double prior_weight = 1.0;
  // One density over all parameters together (Optuna's multivariate TPE)
  // rather than one per parameter (hyperopt's).
  bool multivariate = true;
};
std::unique_ptr<Searcher> MakeTpe(const Space& space, uint64_t seed, TpeOptions options);

// A parameter value as text for a command line: whole numbers without a
// decimal point, reals in the shortest form that reads back the same,
// strings as they are.
std::string ValueText(const Json& v);

}  // namespace sluice::sweep

#endif  // SLUICE_SWEEP_SEARCH_H_
