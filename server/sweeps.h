// Hyperparameter sweeps as the server keeps them: the spec a user submits
// (`sluice sweep submit -f sweep.yaml`, POST /api/v1/projects/P/sweeps), the
// sweep's progress, and its trials, each an ordinary workload of the project
// plus the parameters it runs with and the metrics it has reported.
//
// A sweep is stored as one "sweep" document and each trial as a "trial"
// document (the trial's reports with it), so a server restart resumes every
// sweep where it was. The controller that drives them is in sweeps.cc.
#ifndef SLUICE_SERVER_SWEEPS_H_
#define SLUICE_SERVER_SWEEPS_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/codec.h"
#include "server/objects.h"
#include "sweep/early_stopping.h"
#include "sweep/search.h"

namespace sluice {

struct SweepSpec {
  std::string name;
  std::string project;  // empty: the project of the request
  std::string method = "random";
  std::string metric;
  bool maximize = false;
  sweep::Space space;
  int64_t max_trials = 10;
  int32_t max_failures = 3;
  int32_t parallelism = 1;
  sweep::EarlyStopping early;
  // The trials' workload, with ${param} in its command (and env values)
  // replaced by each trial's values.
  WorkloadSpec trial;
  std::optional<uint64_t> seed;  // unset: chosen at submission
};

// Decodes a sweep spec given as JSON (the CLI reads the YAML file into
// JSON). Every problem is reported, one line each, naming the field
// (`sweep.budget.parallelism`) and the reason.
Result<SweepSpec> DecodeSweepSpec(const nlohmann::json& body, const std::string& path = "sweep");
// The spec as JSON, in the form DecodeSweepSpec accepts.
Json EncodeSweepSpec(const SweepSpec& s);

enum class SweepState : uint8_t { kRunning, kSucceeded, kFailed, kStopped };
std::string_view SweepStateName(SweepState s);

struct SweepRecord {
  int64_t id = 0;
  std::string name;
  std::string project;
  std::string user;  // who submitted it; its trials run as this user
  int64_t uid = -1;
  SweepSpec spec;
  uint64_t seed = 0;
  SweepState state = SweepState::kRunning;
  std::string message;  // why it ended, or why it waits to start trials
  Time created;
  std::optional<Time> ended;
  int64_t trials_created = 0;
  int32_t failures = 0;
  // The most trials it ever had pending or running at once.
  int32_t peak_in_flight = 0;
  // The search has no more points (a grid that is exhausted).
  bool exhausted = false;

  std::string key() const { return std::to_string(id); }
};

struct TrialReport {
  int64_t step = 0;
  Time time;
  std::map<std::string, double> metrics;
};

enum class TrialState : uint8_t {
  kPending,       // its workload waits
  kRunning,       // its workload runs
  kSucceeded,     // ran to the end
  kFailed,        // failed (counted against maxFailures)
  kEarlyStopped,  // stopped by the early-stopping rule
  kStopped,       // stopped with its sweep (resumed with it)
};
std::string_view TrialStateName(TrialState s);

struct TrialRecord {
  int64_t sweep_id = 0;
  int32_t index = 0;
  nlohmann::json params = nlohmann::json::object();
  TrialState state = TrialState::kPending;
  int64_t workload_id = 0;  // its current workload (0: none yet)
  std::string workload;     // that workload's name
  int32_t attempts = 0;     // workloads made for it (more than one after a resume)
  int32_t restarts = 0;     // times it was preempted and resumed
  std::string token;        // its report token (the secret; stored, never shown)
  std::string message;
  std::vector<TrialReport> reports;

  std::string key() const { return std::to_string(sweep_id) + "." + std::to_string(index); }
  bool active() const { return state == TrialState::kPending || state == TrialState::kRunning; }
  // The objective's values, oriented so that lower is better.
  sweep::Curve Curve(const SweepSpec& spec) const;
  // The objective's best and last value as reported (not oriented).
  std::optional<double> Best(const SweepSpec& spec) const;
  std::optional<double> Last(const SweepSpec& spec) const;
  int64_t Steps() const { return reports.empty() ? 0 : reports.back().step; }
};

Json EncodeSweep(const SweepRecord& s);  // as stored
Result<SweepRecord> DecodeStoredSweep(const std::string& doc);
Json EncodeTrial(const TrialRecord& t);  // as stored
Result<TrialRecord> DecodeStoredTrial(const std::string& doc);

// `text` with each ${name} replaced by the parameter's value; names that
// are no parameter are left as they are.
std::string SubstituteParams(const std::string& text, const nlohmann::json& params);

}  // namespace sluice

#endif  // SLUICE_SERVER_SWEEPS_H_
