// Sweep specs, sweeps and trials as JSON (see sweeps.h).
#include <algorithm>
#include <cmath>

#include "server/json_fields.h"
#include "server/sweeps.h"

namespace sluice {
namespace {

using nlohmann::json;
using sweep::EarlyStopping;
using sweep::Param;

bool Identifier(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// A real number: a JSON number, or a string that is one ("1e-5").
std::optional<double> Real(JsonFields& f, std::string_view key) {
  const json* v = f.Get(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number()) return v->get<double>();
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d)) return d;
  }
  f.Error(key, "expected a number, got " + JsonTypeName(*v));
  return std::nullopt;
}

std::string ParamNames(const sweep::Space& space) {
  std::string out;
  for (const Param& p : space) out += (out.empty() ? "" : ", ") + p.name;
  return out.empty() ? "none" : out;
}

// Every ${name} in `text` must name a parameter.
void CheckReferences(JsonFields& f, const std::string& key, const std::string& text,
                     const sweep::Space& space) {
  size_t at = 0;
  while ((at = text.find("${", at)) != std::string::npos) {
    const size_t close = text.find('}', at);
    if (close == std::string::npos) {
      f.Error(key, "\"${\" without a closing \"}\"");
      return;
    }
    const std::string name = text.substr(at + 2, close - at - 2);
    if (std::none_of(space.begin(), space.end(), [&](const Param& p) { return p.name == name; })) {
      f.Error(key,
              "${" + name + "} names no parameter (the parameters are " + ParamNames(space) + ")");
    }
    at = close + 1;
  }
}

void DecodeParam(JsonFields& parent, const std::string& name, const json& body, Param* p) {
  p->name = name;
  JsonFields f(body, parent.FieldPath("parameters") + "." + name, parent.errors(),
               {"values", "distribution", "min", "max", "gridPoints"});
  if (!f.is_object()) {
    parent.Error("parameters." + name,
                 "expected {values: [...]} or {distribution: uniform|loguniform|int, min, max}, "
                 "got " +
                     JsonTypeName(body));
    return;
  }
  std::optional<std::string> dist = f.String("distribution");
  if (const json* values = f.Get("values")) {
    if (dist && *dist != "categorical") {
      f.Error("distribution", "give either values or a distribution with min and max, not both");
    }
    if (!values->is_array() || values->empty()) {
      f.Error("values",
              "expected a non-empty list of numbers or strings, got " +
                  (values->is_array() ? std::string("an empty list") : JsonTypeName(*values)));
      return;
    }
    p->kind = Param::Kind::kValues;
    for (size_t i = 0; i < values->size(); ++i) {
      const json& v = (*values)[i];
      if (!v.is_number() && !v.is_string() && !v.is_boolean()) {
        f.Error("values[" + std::to_string(i) + "]",
                "expected a number, a string or true/false, got " + JsonTypeName(v));
        continue;
      }
      if (std::find(p->values.begin(), p->values.end(), v) != p->values.end()) {
        f.Error("values[" + std::to_string(i) + "]", "repeats " + v.dump());
        continue;
      }
      p->values.push_back(v);
    }
    if (f.Get("min") != nullptr || f.Get("max") != nullptr) {
      f.Error("values", "a list of values takes no min or max");
    }
    return;
  }
  if (!dist) {
    f.Error("distribution",
            "missing; give values: [...], or distribution: uniform, loguniform or int with min and "
            "max");
    return;
  }
  if (*dist == "uniform") {
    p->kind = Param::Kind::kUniform;
  } else if (*dist == "loguniform" || *dist == "log_uniform" || *dist == "log-uniform") {
    p->kind = Param::Kind::kLogUniform;
  } else if (*dist == "int" || *dist == "int_uniform") {
    p->kind = Param::Kind::kInt;
  } else {
    f.Error("distribution", "expected uniform, loguniform or int, got \"" + *dist + "\"");
    return;
  }
  std::optional<double> lo = Real(f, "min");
  std::optional<double> hi = Real(f, "max");
  if (!lo && f.Get("min") == nullptr) f.Error("min", "missing; a " + *dist + " range needs min");
  if (!hi && f.Get("max") == nullptr) f.Error("max", "missing; a " + *dist + " range needs max");
  if (!lo || !hi) return;
  p->min = *lo;
  p->max = *hi;
  if (!(*lo < *hi)) {
    f.Error("max", "must be above min (" + json(*lo).dump() + "), got " + json(*hi).dump());
  }
  if (p->kind == Param::Kind::kLogUniform && *lo <= 0) {
    f.Error("min", "must be above 0 for loguniform, got " + json(*lo).dump());
  }
  if (p->kind == Param::Kind::kInt && std::floor(*hi) < std::ceil(*lo)) {
    f.Error("max", "no whole number lies between min and max");
  }
  if (auto g = f.Int("gridPoints", 2, 10'000)) p->grid_points = static_cast<int32_t>(*g);
}

void DecodeEarlyStopping(JsonFields& parent, EarlyStopping* e) {
  const json* v = parent.Get("earlyStopping");
  if (v == nullptr) return;
  if (v->is_string()) {
    // "earlyStopping: none" (or asha, median) with the defaults.
    const std::string t = v->get<std::string>();
    if (t == "none") return;
    if (t == "asha") {
      e->type = EarlyStopping::Type::kAsha;
    } else if (t == "median") {
      e->type = EarlyStopping::Type::kMedian;
    } else {
      parent.Error("earlyStopping", "expected asha, median or none, got \"" + t + "\"");
    }
    return;
  }
  JsonFields f(*v, parent.FieldPath("earlyStopping"), parent.errors(),
               {"type", "minSteps", "reductionFactor", "maxSteps", "minTrials"});
  if (!f.is_object()) {
    parent.Error("earlyStopping",
                 "expected {type: asha|median|none, ...}, got " + JsonTypeName(*v));
    return;
  }
  const std::string type = f.String("type").value_or("none");
  if (type == "asha") {
    e->type = EarlyStopping::Type::kAsha;
  } else if (type == "median") {
    e->type = EarlyStopping::Type::kMedian;
  } else if (type != "none") {
    f.Error("type", "expected asha, median or none, got \"" + type + "\"");
  }
  if (auto m = f.Int("minSteps", 1, int64_t{1} << 40)) e->min_steps = *m;
  if (auto r = f.Int("reductionFactor", 2, 100)) {
    e->reduction_factor = static_cast<int32_t>(*r);
    if (type != "asha") f.Error("reductionFactor", "applies only to type asha");
  }
  if (auto m = f.Int("maxSteps", 0, int64_t{1} << 40)) {
    e->max_steps = *m;
    if (type != "asha") f.Error("maxSteps", "applies only to type asha");
  }
  if (auto t = f.Int("minTrials", 1, 10'000)) {
    e->min_trials = static_cast<int32_t>(*t);
    if (type != "median") f.Error("minTrials", "applies only to type median");
  }
}

void DecodeTrial(JsonFields& parent, SweepSpec* s) {
  const json* v = parent.Get("trial");
  if (v == nullptr) {
    parent.Error("trial",
                 "missing; give the trial's workload: {command: [...], gpu: ..., ...} with "
                 "${param} where each value goes");
    return;
  }
  std::span<const std::string_view> fields = WorkloadSpecFields();
  JsonFields f(*v, parent.FieldPath("trial"), parent.errors(), fields);
  if (!f.is_object()) {
    parent.Error("trial", "expected the trial's workload as an object, got " + JsonTypeName(*v));
    return;
  }
  DecodeWorkloadSpecFields(f, &s->trial);
  if (f.Get("command") == nullptr) {
    f.Error("command",
            "missing; give the command each trial runs, e.g. [\"python\", "
            "\"train.py\", \"--lr\", \"${lr}\"]");
  } else if (s->trial.command.empty() && f.Get("command")->is_array()) {
    f.Error("command", "is empty; give the command each trial runs");
  }
  for (size_t i = 0; i < s->trial.command.size(); ++i) {
    CheckReferences(f, "command[" + std::to_string(i) + "]", s->trial.command[i], s->space);
  }
  for (const auto& [k, value] : s->trial.env) CheckReferences(f, "env." + k, value, s->space);
  for (const auto& [k, value] : s->trial.env) {
    if (k.rfind("SLUICE_", 0) == 0) f.Error("env." + k, "SLUICE_ variables are set by sluice");
  }
}

Json EncodeValueList(const std::vector<json>& values) {
  Json out = Json::array();
  for (const json& v : values) out.push_back(Json::parse(v.dump()));
  return out;
}

}  // namespace

std::string_view SweepStateName(SweepState s) {
  switch (s) {
    case SweepState::kRunning:
      return "Running";
    case SweepState::kSucceeded:
      return "Succeeded";
    case SweepState::kFailed:
      return "Failed";
    case SweepState::kStopped:
      return "Stopped";
  }
  return "?";
}

std::string_view TrialStateName(TrialState s) {
  switch (s) {
    case TrialState::kPending:
      return "Pending";
    case TrialState::kRunning:
      return "Running";
    case TrialState::kSucceeded:
      return "Succeeded";
    case TrialState::kFailed:
      return "Failed";
    case TrialState::kEarlyStopped:
      return "EarlyStopped";
    case TrialState::kStopped:
      return "Stopped";
  }
  return "?";
}

Result<SweepSpec> DecodeSweepSpec(const json& body, const std::string& path) {
  JsonErrors errors;
  SweepSpec s;
  JsonFields f(body, path, &errors,
               {"name", "project", "method", "metric", "parameters", "budget", "earlyStopping",
                "trial", "seed"});
  if (!f.is_object()) {
    errors.Add(path + ": expected the sweep spec as an object, got " + JsonTypeName(body));
    return errors.ToStatus();
  }
  if (auto n = f.Name("name")) {
    s.name = *n;
    if (n->size() > 50) f.Error("name", "is too long; at most 50 characters (trials add -N)");
  }
  if (auto p = f.Name("project", /*required=*/false)) s.project = *p;
  if (auto m = f.String("method")) {
    s.method = *m == "tpe" ? "bayes" : *m;
    if (s.method != "grid" && s.method != "random" && s.method != "bayes") {
      f.Error("method", "expected grid, random or bayes (TPE), got \"" + *m + "\"");
    }
  }
  if (const json* m = f.Get("metric")) {
    JsonFields mf(*m, f.FieldPath("metric"), &errors, {"name", "goal"});
    if (m->is_string()) {
      s.metric = m->get<std::string>();
    } else if (mf.is_object()) {
      if (auto n = mf.String("name", true)) s.metric = *n;
      if (auto g = mf.String("goal")) {
        if (*g == "maximize" || *g == "max") {
          s.maximize = true;
        } else if (*g != "minimize" && *g != "min") {
          mf.Error("goal", "expected minimize or maximize, got \"" + *g + "\"");
        }
      }
    } else {
      f.Error("metric",
              "expected {name: METRIC, goal: minimize|maximize}, got " + JsonTypeName(*m));
    }
    if (!s.metric.empty() && !Identifier(s.metric)) {
      mf.Error("name",
               "expected letters, digits and _ (as in sluice.report(val_loss=...)), got \"" +
                   s.metric + "\"");
    }
  } else {
    f.Error("metric",
            "missing; give the metric trials report and its goal: {name: val_loss, "
            "goal: minimize}");
  }
  if (const json* params = f.Get("parameters")) {
    if (!params->is_object() || params->empty()) {
      f.Error("parameters",
              "expected at least one parameter, as {NAME: {values: [...]} or "
              "{distribution: ..., min: ..., max: ...}}");
    } else {
      for (const auto& [name, value] : params->items()) {
        if (!Identifier(name)) {
          f.Error("parameters." + name,
                  "a parameter's name is letters, digits and _ (not starting with a digit), as "
                  "${NAME} uses it");
          continue;
        }
        Param p;
        DecodeParam(f, name, value, &p);
        s.space.push_back(std::move(p));
      }
    }
  } else {
    f.Error("parameters", "missing; give the search space");
  }
  if (const json* b = f.Get("budget")) {
    JsonFields bf(*b, f.FieldPath("budget"), &errors, {"maxTrials", "maxFailures", "parallelism"});
    if (bf.is_object()) {
      if (auto n = bf.Int("maxTrials", 1, 100'000)) s.max_trials = *n;
      if (auto n = bf.Int("maxFailures", 0, 100'000)) s.max_failures = static_cast<int32_t>(*n);
      if (auto n = bf.Int("parallelism", 1, 10'000)) s.parallelism = static_cast<int32_t>(*n);
    } else {
      f.Error("budget", "expected {maxTrials, maxFailures, parallelism}, got " + JsonTypeName(*b));
    }
  }
  DecodeEarlyStopping(f, &s.early);
  if (auto seed = f.Int("seed", 0, int64_t{1} << 53)) s.seed = static_cast<uint64_t>(*seed);
  DecodeTrial(f, &s);
  if (s.method == "grid" && !s.space.empty()) {
    for (const Param& p : s.space) {
      std::string error;
      if (sweep::GridSize({p}, 1, &error) == 0 && !error.empty()) {
        errors.Add(f.FieldPath("parameters") + "." + p.name + ": " +
                   error.substr(error.find(": ") + 2));
      }
    }
  }
  if (!errors.empty()) return errors.ToStatus();
  return s;
}

Json EncodeSweepSpec(const SweepSpec& s) {
  Json j;
  j["name"] = s.name;
  if (!s.project.empty()) j["project"] = s.project;
  j["method"] = s.method;
  j["metric"] = {{"name", s.metric}, {"goal", s.maximize ? "maximize" : "minimize"}};
  Json params = Json::object();
  for (const Param& p : s.space) {
    Json pj;
    switch (p.kind) {
      case Param::Kind::kValues:
        pj["values"] = EncodeValueList(p.values);
        break;
      case Param::Kind::kUniform:
      case Param::Kind::kLogUniform:
      case Param::Kind::kInt:
        pj["distribution"] = p.kind == Param::Kind::kUniform      ? "uniform"
                             : p.kind == Param::Kind::kLogUniform ? "loguniform"
                                                                  : "int";
        pj["min"] = p.min;
        pj["max"] = p.max;
        if (p.grid_points > 0) pj["gridPoints"] = p.grid_points;
        break;
    }
    params[p.name] = std::move(pj);
  }
  j["parameters"] = std::move(params);
  j["budget"] = {
      {"maxTrials", s.max_trials}, {"maxFailures", s.max_failures}, {"parallelism", s.parallelism}};
  Json es;
  switch (s.early.type) {
    case EarlyStopping::Type::kNone:
      es["type"] = "none";
      break;
    case EarlyStopping::Type::kAsha:
      es["type"] = "asha";
      es["minSteps"] = s.early.min_steps;
      es["reductionFactor"] = s.early.reduction_factor;
      if (s.early.max_steps > 0) es["maxSteps"] = s.early.max_steps;
      break;
    case EarlyStopping::Type::kMedian:
      es["type"] = "median";
      es["minSteps"] = s.early.min_steps;
      es["minTrials"] = s.early.min_trials;
      break;
  }
  j["earlyStopping"] = std::move(es);
  j["trial"] = EncodeSpec(s.trial);
  if (s.seed) j["seed"] = *s.seed;
  return j;
}

sweep::Curve TrialRecord::Curve(const SweepSpec& spec) const {
  sweep::Curve c;
  for (const TrialReport& r : reports) {
    auto it = r.metrics.find(spec.metric);
    if (it == r.metrics.end() || !std::isfinite(it->second)) continue;
    c.points.emplace_back(r.step, spec.maximize ? -it->second : it->second);
  }
  return c;
}

std::optional<double> TrialRecord::Best(const SweepSpec& spec) const {
  std::optional<double> best;
  for (const auto& [step, v] : Curve(spec).points) best = best ? std::min(*best, v) : v;
  if (best && spec.maximize) return -*best;
  return best;
}

std::optional<double> TrialRecord::Last(const SweepSpec& spec) const {
  sweep::Curve c = Curve(spec);
  if (c.points.empty()) return std::nullopt;
  return spec.maximize ? -c.points.back().second : c.points.back().second;
}

Json EncodeSweep(const SweepRecord& s) {
  Json j{{"id", s.id},           {"name", s.name},
         {"project", s.project}, {"user", s.user},
         {"uid", s.uid},         {"spec", EncodeSweepSpec(s.spec)},
         {"seed", s.seed},       {"state", SweepStateName(s.state)},
         {"message", s.message}, {"created", FormatTime(s.created)}};
  if (s.ended) j["ended"] = FormatTime(*s.ended);
  j["trialsCreated"] = s.trials_created;
  j["failures"] = s.failures;
  j["peakInFlight"] = s.peak_in_flight;
  j["exhausted"] = s.exhausted;
  return j;
}

Result<SweepRecord> DecodeStoredSweep(const std::string& doc) {
  Result<json> parsed = ParseJsonText(doc, "stored sweep");
  if (!parsed.ok()) return parsed.status();
  JsonErrors errors;
  JsonFields f(*parsed, "sweep", &errors,
               {"id", "name", "project", "user", "uid", "spec", "seed", "state", "message",
                "created", "ended", "trialsCreated", "failures", "peakInFlight", "exhausted"});
  SweepRecord s;
  s.id = f.Int("id", 1, INT64_MAX).value_or(0);
  s.name = f.String("name", true).value_or("");
  s.project = f.String("project", true).value_or("");
  s.user = f.String("user", true).value_or("");
  s.uid = f.Int("uid", -1, INT64_MAX).value_or(-1);
  if (const json* spec = f.Get("spec")) {
    Result<SweepSpec> decoded = DecodeSweepSpec(*spec, "sweep.spec");
    if (!decoded.ok()) return decoded.status();
    s.spec = *decoded;
  }
  s.seed = static_cast<uint64_t>(f.Int("seed", 0, INT64_MAX).value_or(0));
  const std::string state = f.String("state").value_or("Running");
  for (SweepState st :
       {SweepState::kRunning, SweepState::kSucceeded, SweepState::kFailed, SweepState::kStopped}) {
    if (SweepStateName(st) == state) s.state = st;
  }
  s.message = f.String("message").value_or("");
  s.created = f.TimeField("created").value_or(Time{});
  s.ended = f.TimeField("ended");
  s.trials_created = f.Int("trialsCreated", 0, INT64_MAX).value_or(0);
  s.failures = static_cast<int32_t>(f.Int("failures", 0, INT32_MAX).value_or(0));
  s.peak_in_flight = static_cast<int32_t>(f.Int("peakInFlight", 0, INT32_MAX).value_or(0));
  s.exhausted = f.Bool("exhausted").value_or(false);
  if (!errors.empty()) return errors.ToStatus();
  return s;
}

Json EncodeTrial(const TrialRecord& t) {
  Json reports = Json::array();
  for (const TrialReport& r : t.reports) {
    Json m = Json::object();
    for (const auto& [k, v] : r.metrics) m[k] = v;
    reports.push_back({{"step", r.step}, {"time", r.time.ms}, {"metrics", m}});
  }
  return Json{{"sweep", t.sweep_id},
              {"index", t.index},
              {"params", Json::parse(t.params.dump())},
              {"state", TrialStateName(t.state)},
              {"workloadId", t.workload_id},
              {"workload", t.workload},
              {"attempts", t.attempts},
              {"restarts", t.restarts},
              {"token", t.token},
              {"message", t.message},
              {"reports", std::move(reports)}};
}

Result<TrialRecord> DecodeStoredTrial(const std::string& doc) {
  Result<json> parsed = ParseJsonText(doc, "stored trial");
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  JsonErrors errors;
  JsonFields f(j, "trial", &errors,
               {"sweep", "index", "params", "state", "workloadId", "workload", "attempts",
                "restarts", "token", "message", "reports"});
  TrialRecord t;
  t.sweep_id = f.Int("sweep", 1, INT64_MAX).value_or(0);
  t.index = static_cast<int32_t>(f.Int("index", 0, INT32_MAX).value_or(0));
  if (const json* p = f.Get("params"); p != nullptr && p->is_object()) t.params = *p;
  const std::string state = f.String("state").value_or("Pending");
  for (TrialState st : {TrialState::kPending, TrialState::kRunning, TrialState::kSucceeded,
                        TrialState::kFailed, TrialState::kEarlyStopped, TrialState::kStopped}) {
    if (TrialStateName(st) == state) t.state = st;
  }
  t.workload_id = f.Int("workloadId", 0, INT64_MAX).value_or(0);
  t.workload = f.String("workload").value_or("");
  t.attempts = static_cast<int32_t>(f.Int("attempts", 0, INT32_MAX).value_or(0));
  t.restarts = static_cast<int32_t>(f.Int("restarts", 0, INT32_MAX).value_or(0));
  t.token = f.String("token").value_or("");
  t.message = f.String("message").value_or("");
  if (const json* rs = f.Get("reports"); rs != nullptr && rs->is_array()) {
    for (const json& r : *rs) {
      TrialReport tr;
      tr.step = r.value("step", int64_t{0});
      tr.time = Time{r.value("time", int64_t{0})};
      if (r.contains("metrics") && r["metrics"].is_object()) {
        for (const auto& [k, v] : r["metrics"].items()) {
          if (v.is_number()) tr.metrics[k] = v.get<double>();
        }
      }
      t.reports.push_back(std::move(tr));
    }
  }
  if (!errors.empty()) return errors.ToStatus();
  return t;
}

std::string SubstituteParams(const std::string& text, const json& params) {
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t open = text.find("${", at);
    if (open == std::string::npos) break;
    const size_t close = text.find('}', open);
    if (close == std::string::npos) break;
    const std::string name = text.substr(open + 2, close - open - 2);
    out += text.substr(at, open - at);
    auto it = params.find(name);
    out += it == params.end() ? text.substr(open, close - open + 1) : sweep::ValueText(*it);
    at = close + 1;
  }
  return out + text.substr(at);
}

}  // namespace sluice
