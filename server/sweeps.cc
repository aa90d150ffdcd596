// The sweep controller and the sweep API (see sweeps.h).
//
// The controller runs after every scheduling cycle, after each trial's end
// and after each report. For each running sweep it brings its trials' states
// up to date from their workloads, counts failures, and submits new trials
// while fewer than `parallelism` are pending or running, the search has
// points left, the budget has trials left, and the project has room: quota
// headroom, or idle GPUs it may borrow (nobody waits for them and its limit
// allows). A preempted trial is requeued by the scheduling loop like any
// workload, with its parameters and SLUICE_RESTART_COUNT; the controller
// only counts it. Early stopping acts on reports: a trial that the rule
// stops has its workload stopped for good at once.
#include <algorithm>
#include <cmath>

#include "server/control_plane.h"
#include "server/json_fields.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr char kSweep[] = "sweep";
constexpr char kTrial[] = "trial";
constexpr int64_t kTrialBits = 20;  // a trial's code: sweep id << 20 | index
constexpr size_t kMaxReports = 100'000;

int64_t TrialCode(int64_t sweep_id, int32_t index) { return (sweep_id << kTrialBits) | index; }

ApiResponse Ok(Json body, int status = 200) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Json ToOrdered(const json& j) { return Json::parse(j.dump()); }

Json MaybeNumber(std::optional<double> v) { return v ? Json(*v) : Json(); }

}  // namespace

// ---- loading ----

Status ControlPlane::LoadSweepObject(const StoredObject& o) {
  if (o.kind == kSweep) {
    Result<SweepRecord> s = DecodeStoredSweep(o.doc);
    if (!s.ok()) return s.status();
    next_sweep_id_ = std::max(next_sweep_id_, s->id + 1);
    const int64_t id = s->id;
    sweeps_.emplace(id, std::move(s).value());
  } else if (o.kind == kTrial) {
    Result<TrialRecord> t = DecodeStoredTrial(o.doc);
    if (!t.ok()) return t.status();
    const int64_t code = TrialCode(t->sweep_id, t->index);
    if (!t->token.empty()) trial_tokens_[Sha256Hex(t->token)] = code;
    if (t->workload_id > 0) trial_of_workload_[t->workload_id] = code;
    std::vector<TrialRecord>& list = trials_[t->sweep_id];
    list.push_back(std::move(t).value());
  }
  return Status::OK();
}

void ControlPlane::FinishLoadingSweeps() {
  for (auto& [id, list] : trials_) {
    std::sort(list.begin(), list.end(),
              [](const TrialRecord& a, const TrialRecord& b) { return a.index < b.index; });
  }
}

void ControlPlane::SetReportEndpoints(std::string socket, std::string url) {
  report_socket_ = std::move(socket);
  report_url_ = std::move(url);
  // Trials that start from now on (again, after a preemption) report here.
  std::vector<Mutation> batch;
  for (auto& [code_workload, code] : trial_of_workload_) {
    auto w = workloads_.find(code_workload);
    if (w == workloads_.end() || !w->second.active()) continue;
    Labels env = w->second.private_env;
    SetReportEnv(&env);
    if (env != w->second.private_env) {
      w->second.private_env = std::move(env);
      batch.push_back(PutWorkload(w->second));
    }
  }
  CommitInBackground(std::move(batch));
}

void ControlPlane::SetReportEnv(Labels* env) const {
  std::erase_if(*env, [](const auto& kv) {
    return kv.first == "SLUICE_REPORT_SOCKET" || kv.first == "SLUICE_REPORT_URL";
  });
  if (!report_socket_.empty()) env->emplace_back("SLUICE_REPORT_SOCKET", report_socket_);
  if (!report_url_.empty()) env->emplace_back("SLUICE_REPORT_URL", report_url_);
  std::sort(env->begin(), env->end());
}

// ---- helpers ----

SweepRecord* ControlPlane::FindSweep(const std::string& project, const std::string& name) {
  for (auto& [id, s] : sweeps_) {
    if (s.project == project && s.name == name) return &s;
  }
  return nullptr;
}

const SweepRecord* ControlPlane::FindSweep(const std::string& project,
                                           const std::string& name) const {
  return const_cast<ControlPlane*>(this)->FindSweep(project, name);
}

TrialRecord* ControlPlane::FindTrial(int64_t code) {
  auto list = trials_.find(code >> kTrialBits);
  if (list == trials_.end()) return nullptr;
  const auto index = static_cast<int32_t>(code & ((int64_t{1} << kTrialBits) - 1));
  for (TrialRecord& t : list->second) {
    if (t.index == index) return &t;
  }
  return nullptr;
}

sweep::Searcher* ControlPlane::SearcherFor(const SweepRecord& s) {
  auto it = searchers_.find(s.id);
  if (it != searchers_.end()) return it->second.get();
  std::string error;
  std::unique_ptr<sweep::Searcher> searcher =
      sweep::MakeSearcher(s.spec.method, s.spec.space, s.seed, &error, s.spec.max_trials);
  if (!searcher) return nullptr;
  return searchers_.emplace(s.id, std::move(searcher)).first->second.get();
}

Mutation ControlPlane::PutSweep(const SweepRecord& s) const {
  return Mutation::Put(kSweep, s.key(), DumpJson(EncodeSweep(s)));
}

Mutation ControlPlane::PutTrial(const TrialRecord& t) const {
  return Mutation::Put(kTrial, t.key(), DumpJson(EncodeTrial(t)));
}

void ControlPlane::EndWorkloadForSweep(WorkloadRecord& w, const std::string& message,
                                       std::vector<Mutation>* batch) {
  if (!w.active() || w.finishing || w.deleting) return;
  w.finishing = true;
  w.message = message;
  if (w.phase == Phase::kRunning) {
    if (!w.releasing) {
      w.releasing = true;
      executor_->Stop(w.id);
    }
    batch->push_back(PutWorkload(w));
    batch->push_back(EventFor(w, "Stopping", message));
  } else {
    // Never ran: it ends where it waits.
    w.phase = Phase::kFailed;
    w.ended = opt_.now();
    batch->push_back(PutWorkload(w));
    batch->push_back(EventFor(w, "Failed", message));
  }
  Notify("MODIFIED", w);
  RequestCycle();
}

// ---- the controller ----

struct ControlPlane::SweepCapacity {
  int64_t idle = 0;                       // milli-GPU nobody holds or waits for
  std::map<std::string, int64_t> in_use;  // per project: allocated plus requested
};

std::string ControlPlane::TrialRoom(const SweepRecord& s, int64_t need, SweepCapacity* cap) const {
  auto p = std::find_if(projects_.begin(), projects_.end(),
                        [&](const Project& x) { return x.name == s.project; });
  if (p == projects_.end()) return "its project \"" + s.project + "\" is gone";
  const QueueResource& gpu = p->settings.resources[static_cast<size_t>(Resource::kGpu)];
  const int64_t used = cap->in_use[s.project];
  if (need == 0) return "";
  const bool headroom = gpu.quota < 0 || gpu.quota >= kUnlimited || used + need <= gpu.quota;
  const bool under_limit = gpu.limit < 0 || gpu.limit >= kUnlimited || used + need <= gpu.limit;
  if (headroom && under_limit) return "";
  if (under_limit && cap->idle >= need) return "";
  return "waiting for room: project " + s.project + " has " + FormatMilli(used) + " of its " +
         (gpu.quota < 0 ? std::string("unlimited") : FormatMilli(gpu.quota)) +
         " GPU quota in use or asked for, and " + FormatMilli(std::max<int64_t>(0, cap->idle)) +
         " GPUs are idle to borrow (a trial needs " + FormatMilli(need) + ")";
}

void ControlPlane::ReconcileSweeps() {
  if (sweeps_.empty() || reconciling_) return;
  reconciling_ = true;
  SweepCapacity cap;
  int64_t total = 0;
  for (const Node& n : opt_.nodes) total += static_cast<int64_t>(n.gpus) * 1000;
  int64_t taken = 0;
  for (const auto& [id, w] : workloads_) {
    if (w.phase == Phase::kRunning) {
      taken += w.AllocatedGpuMilli();
      cap.in_use[w.project] += w.AllocatedGpuMilli();
    } else if (w.phase == Phase::kPending) {
      taken += PendingGpuMilli(w);
      cap.in_use[w.project] += PendingGpuMilli(w);
    }
  }
  cap.idle = total - taken;
  std::vector<Mutation> batch;
  for (auto& [id, s] : sweeps_) ReconcileSweep(s, &cap, &batch);
  reconciling_ = false;
  CommitInBackground(std::move(batch));
}

void ControlPlane::ReconcileSweep(SweepRecord& s, SweepCapacity* cap,
                                  std::vector<Mutation>* batch) {
  std::vector<TrialRecord>& trials = trials_[s.id];
  bool sweep_changed = false;
  int32_t in_flight = 0;
  std::vector<TrialRecord*> to_resume;
  for (TrialRecord& t : trials) {
    auto w = workloads_.find(t.workload_id);
    const bool workload_active = w != workloads_.end() && w->second.active();
    if (!t.active()) {
      // Stopped early or with the sweep: it holds its GPU until it has stopped.
      if (workload_active) ++in_flight;
      if (t.state == TrialState::kStopped && !workload_active) to_resume.push_back(&t);
      continue;
    }
    if (workload_active) {
      const TrialState now =
          w->second.phase == Phase::kRunning ? TrialState::kRunning : TrialState::kPending;
      if (now != t.state || w->second.evictions != t.restarts) {
        t.state = now;
        t.restarts = w->second.evictions;
        if (now == TrialState::kPending && t.restarts > 0) t.message = w->second.message;
        batch->push_back(PutTrial(t));
      }
      ++in_flight;
      continue;
    }
    if (w == workloads_.end()) {
      t.state = TrialState::kFailed;
      t.message = "its workload " + t.workload + " was deleted";
    } else if (w->second.phase == Phase::kSucceeded) {
      t.state = TrialState::kSucceeded;
      t.message = w->second.message;
    } else {
      t.state = TrialState::kFailed;
      t.message = w->second.message;
    }
    if (t.state == TrialState::kFailed) {
      ++s.failures;
      sweep_changed = true;
    }
    batch->push_back(PutTrial(t));
  }
  if (s.state != SweepState::kRunning) {
    if (sweep_changed) batch->push_back(PutSweep(s));
    return;
  }
  const Time now = opt_.now();
  if (s.failures > s.spec.max_failures) {
    s.state = SweepState::kFailed;
    s.ended = now;
    s.message = std::to_string(s.failures) + " trials failed, more than maxFailures (" +
                std::to_string(s.spec.max_failures) + ")";
    StopTrials(s, TrialState::kStopped, "stopped by sweep " + s.name + ": it failed", batch);
    batch->push_back(PutSweep(s));
    return;
  }
  const int64_t need = [&] {
    WorkloadRecord probe;
    probe.spec = s.spec.trial;
    return PendingGpuMilli(probe);
  }();
  std::string waiting;
  auto room = [&]() {
    waiting = TrialRoom(s, need, cap);
    return waiting.empty();
  };
  auto started = [&]() {
    ++in_flight;
    cap->in_use[s.project] += need;
    cap->idle -= need;
  };
  for (TrialRecord* t : to_resume) {
    if (in_flight >= s.spec.parallelism || !room()) break;
    StartTrial(s, *t, batch);
    started();
  }
  sweep::Searcher* searcher = nullptr;
  while (in_flight < s.spec.parallelism && s.trials_created < s.spec.max_trials && !s.exhausted &&
         to_resume.size() <= static_cast<size_t>(in_flight) && room()) {
    if (searcher == nullptr) searcher = SearcherFor(s);
    if (searcher == nullptr) {
      s.exhausted = true;
      break;
    }
    std::vector<sweep::Observation> history;
    for (const TrialRecord& t : trials) {
      sweep::Observation o{t.params, std::nullopt};
      if (t.state == TrialState::kSucceeded || t.state == TrialState::kEarlyStopped) {
        sweep::Curve c = t.Curve(s.spec);
        for (const auto& [step, v] : c.points) o.value = o.value ? std::min(*o.value, v) : v;
      }
      history.push_back(std::move(o));
    }
    std::optional<json> params = searcher->Suggest(s.trials_created, history);
    if (!params) {
      s.exhausted = true;
      sweep_changed = true;
      break;
    }
    TrialRecord t;
    t.sweep_id = s.id;
    t.index = static_cast<int32_t>(s.trials_created);
    t.params = *params;
    ++s.trials_created;
    sweep_changed = true;
    trials.push_back(std::move(t));
    StartTrial(s, trials.back(), batch);
    started();
  }
  if (in_flight > s.peak_in_flight) {
    s.peak_in_flight = in_flight;
    sweep_changed = true;
  }
  const bool more = s.trials_created < s.spec.max_trials && !s.exhausted;
  const bool resumable = std::any_of(trials.begin(), trials.end(), [](const TrialRecord& t) {
    return t.state == TrialState::kStopped;
  });
  if (in_flight == 0 && !more && !resumable) {
    const bool any = std::any_of(trials.begin(), trials.end(), [](const TrialRecord& t) {
      return t.state == TrialState::kSucceeded || t.state == TrialState::kEarlyStopped;
    });
    s.state = any ? SweepState::kSucceeded : SweepState::kFailed;
    s.ended = now;
    s.message =
        any ? "all " + std::to_string(trials.size()) + " trials are done" : "no trial succeeded";
    sweep_changed = true;
  } else if (!waiting.empty() && (more || resumable) && in_flight < s.spec.parallelism) {
    if (s.message != waiting) {
      s.message = waiting;
      sweep_changed = true;
    }
  } else if (!s.message.empty() && s.message.rfind("waiting for room", 0) == 0) {
    s.message.clear();
    sweep_changed = true;
  }
  if (sweep_changed) batch->push_back(PutSweep(s));
}

void ControlPlane::StartTrial(SweepRecord& s, TrialRecord& t, std::vector<Mutation>* batch) {
  WorkloadRecord w;
  w.id = next_id_++;
  std::string name = s.name + "-" + std::to_string(t.index);
  if (t.attempts > 0) name += "-r" + std::to_string(t.attempts);
  for (int i = 2; FindWorkload(s.project, name) != nullptr; ++i) {
    name = s.name + "-" + std::to_string(t.index) + "-" + std::to_string(i);
  }
  w.name = name;
  w.project = s.project;
  w.user = s.user;
  w.uid = s.uid;
  w.spec = s.spec.trial;
  for (std::string& arg : w.spec.command) arg = SubstituteParams(arg, t.params);
  for (auto& [k, v] : w.spec.env) v = SubstituteParams(v, t.params);
  std::erase_if(w.spec.labels, [](const auto& kv) { return kv.first.rfind("sluice.io/", 0) == 0; });
  w.spec.labels.emplace_back("sluice.io/sweep", s.name);
  w.spec.labels.emplace_back("sluice.io/trial", std::to_string(t.index));
  std::sort(w.spec.labels.begin(), w.spec.labels.end());
  if (t.token.empty()) {
    Result<NewToken> nt = GenerateToken();
    if (nt.ok()) t.token = nt->secret;
  }
  const int64_t code = TrialCode(s.id, t.index);
  if (!t.token.empty()) trial_tokens_[Sha256Hex(t.token)] = code;
  w.private_env = {{"SLUICE_REPORT_TOKEN", t.token},
                   {"SLUICE_SWEEP", s.name},
                   {"SLUICE_TRIAL", std::to_string(t.index)},
                   {"SLUICE_TRIAL_PARAMS", t.params.dump()}};
  SetReportEnv(&w.private_env);
  // A resumed trial goes on counting its restarts (SLUICE_RESTART_COUNT).
  w.evictions = t.restarts;
  w.submitted = opt_.now();
  w.reason = "waiting for the next scheduling cycle";
  std::array<int32_t, 4>& pending = pending_by_class_[s.project];
  w.position = 1;
  for (int32_t n : pending) w.position += n;
  ++pending[static_cast<size_t>(w.spec.priority_class)];
  t.workload_id = w.id;
  t.workload = w.name;
  ++t.attempts;
  t.state = TrialState::kPending;
  t.message.clear();
  trial_of_workload_[w.id] = code;
  by_name_[s.project][w.name] = w.id;
  auto [it, inserted] = workloads_.emplace(w.id, std::move(w));
  ++metrics_->submissions;
  batch->push_back(PutWorkload(it->second));
  batch->push_back(EventFor(it->second, "Submitted",
                            "trial " + std::to_string(t.index) + " of sweep " + s.name +
                                " (submitted by " + s.user + ") with " + t.params.dump()));
  batch->push_back(PutTrial(t));
  Notify("ADDED", it->second);
  RequestCycle();
}

void ControlPlane::StopTrials(SweepRecord& s, TrialState as, const std::string& message,
                              std::vector<Mutation>* batch) {
  for (TrialRecord& t : trials_[s.id]) {
    if (!t.active()) continue;
    t.state = as;
    t.message = message;
    auto w = workloads_.find(t.workload_id);
    if (w != workloads_.end()) EndWorkloadForSweep(w->second, message, batch);
    batch->push_back(PutTrial(t));
  }
}

void ControlPlane::ForgetSweep(int64_t id, std::vector<Mutation>* batch) {
  for (const TrialRecord& t : trials_[id]) {
    batch->push_back(Mutation::Delete(kTrial, t.key()));
    trial_of_workload_.erase(t.workload_id);
    std::erase_if(trial_tokens_,
                  [&](const auto& kv) { return kv.second == TrialCode(id, t.index); });
  }
  batch->push_back(Mutation::Delete(kSweep, std::to_string(id)));
  trials_.erase(id);
  searchers_.erase(id);
  sweeps_.erase(id);
}

std::string ControlPlane::SweepBlockingDeletion(const std::string& project) const {
  for (const auto& [id, s] : sweeps_) {
    if (s.project == project && s.state == SweepState::kRunning) {
      return "project \"" + project + "\" still has sweep \"" + s.name +
             "\" running; stop it first (sluice sweep stop)";
    }
  }
  return "";
}

void ControlPlane::ForgetSweepsOf(const std::string& project, std::vector<Mutation>* batch) {
  std::vector<int64_t> ids;
  for (const auto& [id, s] : sweeps_) {
    if (s.project == project) ids.push_back(id);
  }
  for (int64_t id : ids) ForgetSweep(id, batch);
}

// ---- the API ----

Json ControlPlane::ApiTrial(const SweepRecord& s, const TrialRecord& t, bool with_reports) const {
  Json j{{"index", t.index},
         {"parameters", ToOrdered(t.params)},
         {"state", TrialStateName(t.state)},
         {"workload", t.workload.empty() ? Json() : Json(t.workload)},
         {"best", MaybeNumber(t.Best(s.spec))},
         {"last", MaybeNumber(t.Last(s.spec))},
         {"steps", t.Steps()},
         {"reports", t.reports.size()},
         {"restarts", t.restarts},
         {"attempts", t.attempts},
         {"message", t.message}};
  if (auto w = workloads_.find(t.workload_id); w != workloads_.end()) {
    j["workloadPhase"] = PhaseName(w->second.phase);
    if (w->second.phase == Phase::kPending) j["reason"] = w->second.reason;
  }
  if (with_reports) {
    Json curve = Json::array();
    for (const TrialReport& r : t.reports) {
      Json m = Json::object();
      for (const auto& [k, v] : r.metrics) m[k] = v;
      curve.push_back({{"step", r.step}, {"time", FormatTime(r.time)}, {"metrics", std::move(m)}});
    }
    j["history"] = std::move(curve);
  }
  return j;
}

Json ControlPlane::ApiSweep(const SweepRecord& s, bool with_trials) const {
  const std::vector<TrialRecord>* trials = nullptr;
  if (auto it = trials_.find(s.id); it != trials_.end()) trials = &it->second;
  int32_t counts[6] = {0, 0, 0, 0, 0, 0};
  const TrialRecord* best = nullptr;
  std::optional<double> best_value;
  int32_t in_flight = 0;
  if (trials != nullptr) {
    for (const TrialRecord& t : *trials) {
      ++counts[static_cast<size_t>(t.state)];
      if (t.active()) ++in_flight;
      std::optional<double> b = t.Best(s.spec);
      if (!b) continue;
      const bool better = !best_value || (s.spec.maximize ? *b > *best_value : *b < *best_value);
      if (better) {
        best_value = b;
        best = &t;
      }
    }
  }
  Json status;
  status["state"] = SweepStateName(s.state);
  status["message"] = s.message;
  status["created"] = FormatTime(s.created);
  if (s.ended) status["ended"] = FormatTime(*s.ended);
  status["trialsCreated"] = s.trials_created;
  status["inFlight"] = in_flight;
  status["peakInFlight"] = s.peak_in_flight;
  status["failures"] = s.failures;
  status["counts"] = {{"pending", counts[0]}, {"running", counts[1]},      {"succeeded", counts[2]},
                      {"failed", counts[3]},  {"earlyStopped", counts[4]}, {"stopped", counts[5]}};
  status["budgetLeft"] = {
      {"trials", s.exhausted ? 0 : std::max<int64_t>(0, s.spec.max_trials - s.trials_created)},
      {"failures", std::max<int32_t>(0, s.spec.max_failures - s.failures)}};
  Json best_json = nullptr;
  if (best != nullptr) {
    best_json = {{"trial", best->index},
                 {"parameters", ToOrdered(best->params)},
                 {"value", *best_value},
                 {"workload", best->workload}};
  }
  Json j{{"id", s.id},
         {"name", s.name},
         {"project", s.project},
         {"user", s.user},
         {"state", SweepStateName(s.state)},
         {"metric", {{"name", s.spec.metric}, {"goal", s.spec.maximize ? "maximize" : "minimize"}}},
         {"spec", EncodeSweepSpec(s.spec)},
         {"seed", s.seed},
         {"status", std::move(status)},
         {"best", std::move(best_json)}};
  if (with_trials) {
    Json items = Json::array();
    if (trials != nullptr) {
      for (const TrialRecord& t : *trials) items.push_back(ApiTrial(s, t, true));
    }
    j["trials"] = std::move(items);
  }
  return j;
}

void ControlPlane::SubmitSweep(const Caller& c, const std::string& project, const json& body,
                               const Reply& reply) {
  if (c.trial >= 0) return reply(ApiResponse::Error(403, "a trial's token can only report"));
  if (std::optional<ApiResponse> no = SubmitRefusal(c, project, "sweeps")) return reply(*no);
  Result<SweepSpec> spec = DecodeSweepSpec(body, "sweep");
  if (!spec.ok()) return reply(ApiResponse::FromStatus(spec.status()));
  if (!spec->project.empty() && spec->project != project) {
    return reply(ApiResponse::Error(400, "sweep.project: the spec names project \"" +
                                             spec->project + "\" but it was submitted to \"" +
                                             project + "\""));
  }
  if (FindSweep(project, spec->name) != nullptr) {
    return reply(ApiResponse::Error(409, "project \"" + project +
                                             "\" already has a sweep named \"" + spec->name +
                                             "\"; pick another name or delete it"));
  }
  SweepRecord s;
  s.id = next_sweep_id_++;
  s.name = spec->name;
  s.project = project;
  s.user = c.user;
  s.uid = c.uid;
  s.spec = std::move(spec).value();
  s.spec.project = project;
  s.created = opt_.now();
  s.seed = s.spec.seed ? *s.spec.seed
                       : static_cast<uint64_t>(s.created.ms) * 2654435761ULL % (uint64_t{1} << 53);
  if (s.spec.method == "grid") {
    std::string error;
    const int64_t size = sweep::GridSize(s.spec.space, s.spec.max_trials, &error);
    s.message = size < s.spec.max_trials
                    ? "the grid has " + std::to_string(size) + " points, fewer than maxTrials"
                    : "";
  }
  const int64_t id = s.id;
  sweeps_.emplace(id, std::move(s));
  Commit(
      {PutSweep(sweeps_.at(id))},
      [this, id, reply] {
        auto it = sweeps_.find(id);
        if (it == sweeps_.end()) return reply(ApiResponse::Error(410, "deleted meanwhile"));
        ReconcileSweeps();
        reply(Ok(ApiSweep(it->second, true), 201));
      },
      reply);
}

ApiResponse ControlPlane::ListSweeps(const Caller& c, const std::string& project) const {
  if (!project.empty() && !CanSee(c, project)) {
    return ApiResponse::Error(
        403, "you (" + c.user + ") are not a member of project \"" + project + "\"");
  }
  Json items = Json::array();
  for (const auto& [id, s] : sweeps_) {
    if (!project.empty() && s.project != project) continue;
    if (!CanSee(c, s.project)) continue;
    items.push_back(ApiSweep(s, false));
  }
  return Ok(Json{{"items", std::move(items)}});
}

ApiResponse ControlPlane::GetSweep(const Caller& c, const std::string& project,
                                   const std::string& name) const {
  const SweepRecord* s = FindSweep(project, name);
  if (s != nullptr && !CanSee(c, project)) {
    return ApiResponse::Error(
        403, "you (" + c.user + ") are not a member of project \"" + project + "\"");
  }
  if (s == nullptr) {
    return ApiResponse::Error(404, "no sweep \"" + name + "\" in project \"" + project +
                                       "\"; `sluice sweep list` shows them");
  }
  return Ok(ApiSweep(*s, true));
}

void ControlPlane::ChangeSweep(const Caller& c, const std::string& project, const std::string& name,
                               const std::string& action, const Reply& reply) {
  SweepRecord* s = FindSweep(project, name);
  if (s == nullptr || !CanSee(c, project)) {
    return reply(
        s == nullptr
            ? ApiResponse::Error(404, "no sweep \"" + name + "\" in project \"" + project + "\"")
            : ApiResponse::Error(
                  403, "you (" + c.user + ") are not a member of project \"" + project + "\""));
  }
  if (!CanSubmit(c, project)) {
    return reply(ApiResponse::Error(403, "viewers cannot " + action + " sweeps; ask an admin"));
  }
  std::vector<Mutation> batch;
  if (action == "stop") {
    if (s->state != SweepState::kRunning) {
      return reply(ApiResponse::Error(409, "sweep \"" + name + "\" is not running (" +
                                               std::string(SweepStateName(s->state)) + ")"));
    }
    s->state = SweepState::kStopped;
    s->ended = opt_.now();
    s->message = "stopped by " + c.user;
    StopTrials(*s, TrialState::kStopped,
               "stopped by sweep " + s->name + " (stopped by " + c.user + ")", &batch);
  } else if (action == "resume") {
    if (s->state == SweepState::kRunning) {
      return reply(ApiResponse::Error(409, "sweep \"" + name + "\" is already running"));
    }
    if ((s->exhausted || s->trials_created >= s->spec.max_trials) &&
        std::none_of(trials_[s->id].begin(), trials_[s->id].end(),
                     [](const TrialRecord& t) { return t.state == TrialState::kStopped; })) {
      return reply(ApiResponse::Error(
          409, "sweep \"" + name + "\" has no trials left to run (its budget is spent)"));
    }
    s->state = SweepState::kRunning;
    s->ended.reset();
    s->message = "resumed by " + c.user;
    if (s->failures > s->spec.max_failures) s->failures = 0;  // a fresh failure budget
  } else if (action == "delete") {
    if (s->state == SweepState::kRunning) {
      return reply(ApiResponse::Error(
          409, "sweep \"" + name + "\" is running; stop it first (sluice sweep stop)"));
    }
    ForgetSweep(s->id, &batch);
    Commit(
        std::move(batch),
        [reply, name] {
          reply(Ok(Json{{"deleted", name}}));
        },
        reply);
    return;
  }
  batch.push_back(PutSweep(*s));
  const int64_t id = s->id;
  Commit(
      std::move(batch),
      [this, id, reply] {
        ReconcileSweeps();
        auto it = sweeps_.find(id);
        if (it == sweeps_.end()) return reply(ApiResponse::Error(410, "deleted meanwhile"));
        reply(Ok(ApiSweep(it->second, false)));
      },
      reply);
}

void ControlPlane::Report(const Caller& c, const json& body, const Reply& reply) {
  if (c.trial < 0) {
    return reply(ApiResponse::Error(
        403,
        "reports come from trials, with the token sluice puts in each trial's environment "
        "(SLUICE_REPORT_TOKEN); sluice.report() and `sluice report` use it"));
  }
  TrialRecord* t = FindTrial(c.trial);
  auto sit = sweeps_.find(c.trial >> kTrialBits);
  if (t == nullptr || sit == sweeps_.end()) {
    return reply(ApiResponse::Error(404, "this trial's sweep was deleted"));
  }
  SweepRecord& s = sit->second;
  JsonErrors errors;
  JsonFields f(body, "body", &errors, {"step", "metrics"});
  std::optional<int64_t> step = f.Int("step", 0, int64_t{1} << 53);
  if (!step && f.Get("step") == nullptr) f.Error("step", "missing; give the step (0 or more)");
  TrialReport r;
  if (const json* m = f.Get("metrics"); m == nullptr || !m->is_object() || m->empty()) {
    f.Error("metrics", "expected at least one metric, as {\"NAME\": NUMBER}");
  } else {
    for (const auto& [k, v] : m->items()) {
      if (k.empty() || k.size() > 63) {
        f.Error("metrics." + k, "a metric's name is 1 to 63 characters");
      } else if (!v.is_number() || !std::isfinite(v.get<double>())) {
        f.Error("metrics." + k, "expected a finite number, got " + JsonTypeName(v));
      } else {
        r.metrics[k] = v.get<double>();
      }
    }
  }
  if (!errors.empty()) return reply(ApiResponse::FromStatus(errors.ToStatus()));
  if (t->state == TrialState::kEarlyStopped || t->state == TrialState::kStopped) {
    return reply(Ok(Json{{"stop", true}, {"reason", t->message}}));
  }
  if (!t->active()) {
    return reply(ApiResponse::Error(409, "trial " + std::to_string(t->index) + " of sweep " +
                                             s.name + " has ended (" +
                                             std::string(TrialStateName(t->state)) + ")"));
  }
  r.step = *step;
  r.time = opt_.now();
  // A trial that resumed from an earlier checkpoint reports those steps again.
  std::erase_if(t->reports, [&](const TrialReport& old) { return old.step >= r.step; });
  if (t->reports.size() >= kMaxReports) {
    return reply(ApiResponse::Error(
        409, "a trial keeps at most " + std::to_string(kMaxReports) + " reports"));
  }
  t->reports.push_back(std::move(r));
  std::vector<Mutation> batch;
  sweep::StopDecision decision;
  if (s.state == SweepState::kRunning && s.spec.early.type != sweep::EarlyStopping::Type::kNone) {
    std::vector<sweep::Curve> curves;
    const std::vector<TrialRecord>& trials = trials_[s.id];
    curves.reserve(trials.size());
    std::vector<const sweep::Curve*> others;
    for (const TrialRecord& o : trials) {
      if (o.index == t->index) continue;
      curves.push_back(o.Curve(s.spec));
    }
    for (const sweep::Curve& cv : curves) others.push_back(&cv);
    const sweep::Curve mine = t->Curve(s.spec);
    if (!mine.points.empty() && mine.points.back().first == t->reports.back().step) {
      decision = sweep::ShouldStop(s.spec.early, mine, others);
    }
  }
  if (decision.stop) {
    t->state = TrialState::kEarlyStopped;
    t->message = "stopped early: " + decision.reason;
    auto w = workloads_.find(t->workload_id);
    if (w != workloads_.end()) {
      EndWorkloadForSweep(w->second, "stopped early by sweep " + s.name + ": " + decision.reason,
                          &batch);
    }
  }
  batch.push_back(PutTrial(*t));
  Json out{{"stop", decision.stop}};
  if (decision.stop) out["reason"] = decision.reason;
  Commit(
      std::move(batch),
      [this, out, reply] {
        reply(Ok(out));
        ReconcileSweeps();
      },
      reply);
}

}  // namespace sluice
