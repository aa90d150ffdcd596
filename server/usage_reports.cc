// The control plane's usage history: every sample period it records, per
// project, per GPU and for the whole cluster, the GPUs allocated, used (where
// the devices are measured) and asked for by pending workloads, as integrals
// over the interval, in the store. The charts and the chargeback report are
// sums over those intervals, so a report over any range is exact to the
// sample period.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "server/control_plane.h"

namespace sluice {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr double kMilliGpuMsPerGpuHour = 1000.0 * 3'600'000.0;

ApiResponse Ok(Json body) {
  ApiResponse r;
  r.body = std::move(body);
  return r;
}

std::string QueryValue(const ControlPlane::Query& q, const std::string& key) {
  auto it = q.find(key);
  return it == q.end() ? std::string() : it->second;
}

// A time range from `from` and `to` (RFC 3339), `to` defaulting to now and
// `from` to `to` minus `default_span`.
struct Range {
  int64_t from = 0;
  int64_t to = 0;
};

Result<Range> ParseRange(const ControlPlane::Query& q, Time now, int64_t default_span) {
  Range r;
  r.to = now.ms;
  for (const char* key : {"to", "from"}) {
    const std::string text = QueryValue(q, key);
    if (text.empty()) continue;
    Result<Time> t = ParseTime(text);
    if (!t.ok()) {
      return Status::InvalidArgument(
          std::string(key) + ": expected an RFC 3339 time like 2026-12-01T00:00:00Z, got \"" +
          text + "\"");
    }
    (std::string(key) == "to" ? r.to : r.from) = t->ms;
  }
  if (QueryValue(q, "from").empty()) r.from = r.to - default_span;
  if (r.from >= r.to) return Status::InvalidArgument("from: must be before to");
  return r;
}

// An average over the part of a bucket that was recorded, in GPUs.
Json Average(int64_t integral, int64_t duration_ms) {
  if (duration_ms <= 0) return nullptr;
  const double gpus = static_cast<double>(integral) / static_cast<double>(duration_ms) / 1000.0;
  return std::round(gpus * 1000) / 1000;
}

double GpuHours(int64_t integral) { return static_cast<double>(integral) / kMilliGpuMsPerGpuHour; }

// Allocated and used GPU-hours of one row of the report.
struct Consumption {
  int64_t allocated = 0;
  int64_t used = 0;
  int64_t measured_ms = 0;

  void Add(const Consumption& o) {
    allocated += o.allocated;
    used += o.used;
    measured_ms += o.measured_ms;
  }
  Json ToJson(double price) const {
    const double hours = GpuHours(allocated);
    Json efficiency = nullptr;
    if (measured_ms > 0 && allocated > 0) {
      efficiency =
          std::round(static_cast<double>(used) / static_cast<double>(allocated) * 1e4) / 1e4;
    }
    return {{"allocatedGpuHours", hours},
            {"usedGpuHours", measured_ms > 0 ? Json(GpuHours(used)) : Json()},
            {"efficiency", efficiency},
            {"cost", std::round(hours * price * 100) / 100}};
  }
};

std::string CsvNumber(const Json& j) {
  if (j.is_null()) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", j.get<double>());
  return buf;
}

std::string CsvText(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::string CsvRow(const std::string& level, const std::string& department,
                   const std::string& project, const Json& row) {
  return CsvText(level) + "," + CsvText(department) + "," + CsvText(project) + "," +
         CsvNumber(row["allocatedGpuHours"]) + "," + CsvNumber(row["usedGpuHours"]) + "," +
         CsvNumber(row["efficiency"]) + "," + CsvNumber(row["cost"]) + "\n";
}

// The report as CSV: one line per project, per department and the total.
std::string ChargebackCsv(const Json& report) {
  std::string out = "level,department,project,allocated_gpu_hours,used_gpu_hours,efficiency,cost\n";
  for (const Json& d : report["departments"]) {
    const std::string dept = d["name"].is_null() ? "" : d["name"].get<std::string>();
    for (const Json& p : d["projects"]) out += CsvRow("project", dept, p["name"], p);
  }
  for (const Json& d : report["departments"]) {
    if (!d["name"].is_null()) out += CsvRow("department", d["name"], "", d);
  }
  return out + CsvRow("total", "", "", report["total"]);
}

}  // namespace

void ControlPlane::ScheduleSampling() {
  opt_.after(opt_.sample_period, [this] {
    RecordUsageSample();
    ScheduleSampling();
  });
}

int64_t ControlPlane::PendingGpuMilli(const WorkloadRecord& w) const {
  const PodRequest& r = w.spec.request;
  if (r.gpu_devices == 0) return 0;
  const int64_t memory = opt_.nodes.empty() ? 0 : opt_.nodes[0].gpu_memory_mib;
  const int64_t per_device = r.gpu_memory_mib > 0 ? r.MilliOn(memory) : r.gpu_milli;
  return per_device * r.gpu_devices * w.spec.pods;
}

void ControlPlane::RecordUsageSample() {
  const Time now = opt_.now();
  const int64_t duration = (now - last_sample_).ms;
  if (duration <= 0) return;
  StoredSample cluster{"cluster", last_sample_.ms, duration, 0, 0, 0, 0};
  last_sample_ = now;
  std::map<std::string, StoredSample> projects;
  for (const Project& p : projects_) {
    projects["project/" + p.name] = {"project/" + p.name, cluster.time_ms, duration, 0, 0, 0, 0};
  }
  for (const auto& [id, w] : workloads_) {
    auto it = projects.find("project/" + w.project);
    if (it == projects.end()) continue;
    StoredSample& s = it->second;
    if (w.phase == Phase::kPending) {
      s.pending += PendingGpuMilli(w) * duration;
    } else if (w.phase == Phase::kRunning) {
      s.allocated += w.AllocatedGpuMilli() * duration;
      if (std::optional<double> used = UsedGpu(w)) {
        s.used += static_cast<int64_t>(std::llround(*used * 1000)) * duration;
        s.measured_ms = duration;
      }
    }
  }
  std::vector<Mutation> batch;
  for (auto& [name, s] : projects) {
    cluster.allocated += s.allocated;
    cluster.pending += s.pending;
    batch.push_back(Mutation::Sample(std::move(s)));
  }
  for (const Node& n : opt_.nodes) {
    std::vector<int64_t> held(static_cast<size_t>(n.gpus), 0);
    for (const auto& [id, w] : workloads_) {
      for (const PlacedPod& p : w.placement) {
        if (p.node != n.name) continue;
        for (int32_t g : p.gpus) {
          if (g >= 0 && g < n.gpus) held[static_cast<size_t>(g)] += p.gpu_milli;
        }
      }
    }
    for (int32_t g = 0; g < n.gpus; ++g) {
      StoredSample s{"gpu/" + n.name + "/" + std::to_string(g),
                     cluster.time_ms,
                     duration,
                     held[static_cast<size_t>(g)] * duration,
                     0,
                     0,
                     0};
      const Json u = UtilizationOf(n.name, g);
      if (!u.is_null()) {
        s.used = static_cast<int64_t>(std::llround(u.get<double>() * 1000)) * duration;
        s.measured_ms = duration;
        cluster.used += s.used;
        cluster.measured_ms = duration;
      }
      batch.push_back(Mutation::Sample(std::move(s)));
    }
  }
  batch.push_back(Mutation::Sample(std::move(cluster)));
  // Intervals older than the retention become hourly sums, once an hour.
  if ((now - last_compaction_).ms >= 3'600'000) {
    last_compaction_ = now;
    batch.push_back(Mutation::CompactSamples(now.ms - opt_.sample_retention.ms));
  }
  CommitInBackground(std::move(batch));
}

ApiResponse ControlPlane::UsageSeries(const Caller& c, const Query& query) const {
  Result<Range> range = ParseRange(query, opt_.now(), 3'600'000);
  if (!range.ok()) return ApiResponse::FromStatus(range.status());
  int64_t step = std::max<int64_t>(kMinute, (range->to - range->from) / 360 / kMinute * kMinute);
  if (std::string text = QueryValue(query, "step"); !text.empty()) {
    Result<Duration> d = ParseDuration(text);
    if (!d.ok() || d->ms < 1000) {
      return ApiResponse::Error(
          400, "step: expected a duration of 1s or more, like 1m or 1h, got \"" + text + "\"");
    }
    step = d->ms;
  }
  if ((range->to - range->from) / step > 10'000) {
    return ApiResponse::Error(400,
                              "step: the range holds more than 10000 steps; use a larger step");
  }
  const std::string scope = QueryValue(query, "scope").empty() ? "cluster" : query.at("scope");
  std::string prefix;
  if (scope == "cluster") {
    prefix = "cluster";
  } else if (scope == "projects") {
    const std::string project = QueryValue(query, "project");
    if (!project.empty() && !CanSee(c, project)) {
      return ApiResponse::Error(
          403, "you (" + c.user + ") are not a member of project \"" + project + "\"");
    }
    prefix = "project/" + project;
  } else if (scope == "gpus") {
    prefix = "gpu/";
  } else {
    return ApiResponse::Error(400,
                              "scope: expected cluster, projects or gpus, got \"" + scope + "\"");
  }
  Result<std::vector<StoredSample>> samples =
      store_->Samples(prefix, range->from / step * step, range->to, step);
  if (!samples.ok()) return ApiResponse::FromStatus(samples.status());
  Json series = Json::array();
  for (const StoredSample& s : *samples) {
    if (scope == "cluster" && s.series != "cluster") continue;
    if (scope == "projects") {
      const std::string project = s.series.substr(8);
      if (!QueryValue(query, "project").empty() && project != query.at("project")) continue;
      if (!CanSee(c, project)) continue;
    }
    if (series.empty() || series.back()["name"] != s.series) {
      series.push_back({{"name", s.series}, {"points", Json::array()}});
    }
    series.back()["points"].push_back({{"t", s.time_ms},
                                       {"allocated", Average(s.allocated, s.duration_ms)},
                                       {"used", Average(s.used, s.measured_ms)},
                                       {"pending", Average(s.pending, s.duration_ms)}});
  }
  return Ok({{"from", FormatTime(Time{range->from})},
             {"to", FormatTime(Time{range->to})},
             {"step", FormatDuration(Duration{step})},
             {"scope", scope},
             {"series", std::move(series)}});
}

ApiResponse ControlPlane::Chargeback(const Caller& c, const Query& query) const {
  if (!c.admin) {
    return ApiResponse::Error(403,
                              "only admins can read the chargeback report; ask an admin, or use "
                              "an admin token (--token)");
  }
  Result<Range> range = ParseRange(query, opt_.now(), 30LL * 24 * 3'600'000);
  if (!range.ok()) return ApiResponse::FromStatus(range.status());
  int64_t idle_minutes = 60;
  if (std::string text = QueryValue(query, "idleMinutes"); !text.empty()) {
    char* end = nullptr;
    idle_minutes = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0' || idle_minutes < 1 || idle_minutes > 10'080) {
      return ApiResponse::Error(
          400, "idleMinutes: expected a whole number from 1 to 10080, got \"" + text + "\"");
    }
  }
  const std::string format = QueryValue(query, "format");
  if (!format.empty() && format != "json" && format != "csv") {
    return ApiResponse::Error(400, "format: expected json or csv, got \"" + format + "\"");
  }
  Result<std::vector<StoredSample>> minutes =
      store_->Samples("project/", range->from, range->to, kMinute);
  if (!minutes.ok()) return ApiResponse::FromStatus(minutes.status());

  // Per project: its consumption, and its idle runs: consecutive minutes
  // with GPUs allocated and under 5% of them used, lasting idleMinutes.
  std::map<std::string, Consumption> by_project;
  Json idle = Json::array();
  struct Run {
    int64_t start = 0;
    int64_t end = 0;
    Consumption use;
  };
  std::optional<Run> run;
  std::string run_project;
  auto close_run = [&] {
    if (run && run->end - run->start >= idle_minutes * kMinute) {
      idle.push_back({{"project", run_project},
                      {"from", FormatTime(Time{run->start})},
                      {"to", FormatTime(Time{run->end})},
                      {"allocatedGpuHours", GpuHours(run->use.allocated)},
                      {"usedGpuHours", GpuHours(run->use.used)}});
    }
    run.reset();
  };
  for (const StoredSample& s : *minutes) {
    const std::string project = s.series.substr(8);
    by_project[project].Add({s.allocated, s.used, s.measured_ms});
    // Use accrues only while workloads run, so both integrals cover the
    // same time.
    const bool low = s.allocated > 0 && s.measured_ms > 0 &&
                     static_cast<double>(s.used) < 0.05 * static_cast<double>(s.allocated);
    if (run && (project != run_project || s.time_ms != run->end || !low)) close_run();
    if (!low) continue;
    if (!run) {
      run = Run{s.time_ms, s.time_ms, {}};
      run_project = project;
    }
    run->end = s.time_ms + kMinute;
    run->use.Add({s.allocated, s.used, s.measured_ms});
  }
  close_run();

  // Projects under their departments, in creation order; projects that
  // are gone but left history, and top-level projects, under no department.
  std::map<std::string, std::string> department_of;
  for (const Project& p : projects_) department_of[p.name] = p.department;
  std::vector<std::string> departments;
  for (const Department& d : departments_) departments.push_back(d.name);
  departments.emplace_back();
  Json rows = Json::array();
  Consumption total;
  for (const std::string& dept : departments) {
    Consumption sum;
    Json projects = Json::array();
    auto add = [&](const std::string& name) {
      auto it = by_project.find(name);
      const Consumption use = it == by_project.end() ? Consumption{} : it->second;
      sum.Add(use);
      Json row = use.ToJson(gpu_hour_price_);
      row["name"] = name;
      projects.push_back(std::move(row));
    };
    for (const Project& p : projects_) {
      if (p.department == dept) add(p.name);
    }
    if (dept.empty()) {
      for (const auto& [name, use] : by_project) {
        if (department_of.count(name) == 0) add(name);
      }
    }
    if (dept.empty() && projects.empty()) continue;
    total.Add(sum);
    Json row = sum.ToJson(gpu_hour_price_);
    row["name"] = dept.empty() ? Json() : Json(dept);
    row["projects"] = std::move(projects);
    rows.push_back(std::move(row));
  }
  Json report = {{"from", FormatTime(Time{range->from})},
                 {"to", FormatTime(Time{range->to})},
                 {"gpuHourPrice", gpu_hour_price_},
                 {"currency", currency_},
                 {"idleMinutes", idle_minutes},
                 {"departments", std::move(rows)},
                 {"total", total.ToJson(gpu_hour_price_)},
                 {"idle", std::move(idle)}};
  if (format != "csv") return Ok(std::move(report));
  ApiResponse r;
  r.text = ChargebackCsv(report);
  r.content_type = "text/csv; charset=utf-8";
  return r;
}

ApiResponse ControlPlane::GetSettings(const Caller&) const {
  return Ok({{"gpuHourPrice", gpu_hour_price_}, {"currency", currency_}});
}

void ControlPlane::UpdateSettings(const Caller& c, const nlohmann::json& body, const Reply& reply) {
  if (!c.admin) {
    return reply(ApiResponse::Error(
        403, "only admins can change the settings; ask an admin, or use an admin token (--token)"));
  }
  if (!body.is_object()) {
    return reply(ApiResponse::Error(400, "the request body must be a JSON object"));
  }
  double price = gpu_hour_price_;
  std::string currency = currency_;
  std::vector<std::string> problems;
  for (const auto& [key, value] : body.items()) {
    if (key == "gpuHourPrice") {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1e6) {
        problems.emplace_back("gpuHourPrice: expected a number from 0 to 1000000 (per GPU-hour)");
      } else {
        price = value.get<double>();
      }
    } else if (key == "currency") {
      if (!value.is_string() || value.get<std::string>().empty() ||
          value.get<std::string>().size() > 8) {
        problems.emplace_back("currency: expected a short name like USD or EUR");
      } else {
        currency = value.get<std::string>();
      }
    } else {
      problems.push_back(key + ": unknown field; expected gpuHourPrice or currency");
    }
  }
  if (!problems.empty()) {
    std::string message;
    for (const std::string& p : problems) message += (message.empty() ? "" : "; ") + p;
    return reply(ApiResponse::Error(400, message));
  }
  Json doc = {{"gpuHourPrice", price}, {"currency", currency}};
  Commit(
      {Mutation::Put("setting", "chargeback", DumpJson(doc))},
      [this, price, currency, doc, reply] {
        gpu_hour_price_ = price;
        currency_ = currency;
        reply(Ok(doc));
      },
      reply);
}

}  // namespace sluice
