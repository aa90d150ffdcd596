#include "server/codec.h"

#include "server/json_fields.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 20> kSpecFields = {
    "priorityClass", "preemptible", "pods",    "minAvailable", "gpu",
    "gpuMemory",     "gpuDevices",  "cpu",     "memory",       "gpuModel",
    "nodeSelector",  "topology",    "command", "env",          "workingDir",
    "maxRetries",    "gracePeriod", "mig",     "labels",       "workspace"};

void DecodeSpecFields(JsonFields& f, WorkloadSpec* spec) {
  if (auto s = f.String("priorityClass")) {
    // "interactive" is what people call a notebook or build workload.
    std::optional<PriorityClass> c =
        *s == "interactive" ? std::optional(PriorityClass::kBuild) : ParsePriorityClass(*s);
    if (c) {
      spec->priority_class = *c;
    } else {
      f.Error(
          "priorityClass",
          "expected train, build, interactive, build-preemptible or inference, got \"" + *s + "\"");
    }
  }
  spec->preemptible = f.Bool("preemptible").value_or(DefaultPreemptible(spec->priority_class));
  if (auto n = f.Int("pods", 1, 100'000)) spec->pods = static_cast<int32_t>(*n);
  spec->min_available = spec->pods;
  if (auto m = f.Int("minAvailable", 1, 100'000)) {
    if (*m > spec->pods) {
      f.Error("minAvailable", "must not exceed pods (" + std::to_string(spec->pods) + "), got " +
                                  std::to_string(*m));
    } else {
      spec->min_available = static_cast<int32_t>(*m);
    }
  }
  if (auto mig = f.String("mig")) {
    const bool others = f.Get("gpu") || f.Get("gpuMemory") || f.Get("gpuDevices");
    if (auto error = SetMigRequest(*mig, others, &spec->request)) {
      f.Error(error->field, error->message);
    }
  } else {
    std::optional<int64_t> gpu = f.Milli("gpu");
    std::optional<int64_t> gpu_memory = f.Memory("gpuMemory");
    std::optional<int64_t> devices = f.Int("gpuDevices", 1, kMaxGpusPerNode);
    if (auto error = SetGpuRequest(gpu, gpu_memory, devices, &spec->request)) {
      f.Error(error->field, error->message);
    }
  }
  if (auto c = f.Cpu("cpu")) spec->request.cpu_milli = *c;
  if (auto m = f.Memory("memory")) spec->request.memory_mib = *m;
  if (auto models = f.StringList("gpuModel")) spec->gpu_models = *models;
  if (auto sel = f.StringMap("nodeSelector")) spec->node_selector = *sel;
  if (auto t = f.String("topology")) spec->topology = *t;
  if (const nlohmann::json* cmd = f.Get("command"); cmd != nullptr && cmd->is_string()) {
    f.Error("command",
            "expected a list of strings such as [\"python\", \"train.py\"], got a "
            "string; a string is not split into words");
  } else if (auto list = f.StringList("command")) {
    spec->command = *list;
  }
  if (auto env = f.StringMap("env")) spec->env = *env;
  if (auto wd = f.String("workingDir")) spec->working_dir = *wd;
  if (auto r = f.Int("maxRetries", 0, 1000)) spec->max_retries = static_cast<int32_t>(*r);
  if (auto g = f.Dur("gracePeriod")) {
    if (g->ms < 0 || g->ms > 3'600'000) {
      f.Error("gracePeriod", "expected a duration from 0s to 1h");
    } else {
      spec->grace_period = *g;
    }
  }
  if (auto labels = f.StringMap("labels")) spec->labels = *labels;
  if (!spec->gpu_models.empty() && spec->request.gpu_devices == 0) {
    f.Error("gpuModel", "only workloads that request GPUs can ask for a GPU model");
  }
}

void DecodeQueueResource(JsonFields& parent, std::string_view key, Resource r, QueueResource* qr) {
  const json* v = parent.Get(key);
  if (v == nullptr) return;
  JsonFields f(*v, parent.FieldPath(key), parent.errors(), {"quota", "limit", "overQuotaWeight"});
  if (f.is_object()) {
    if (auto q = f.QueueAmount("quota", r)) qr->quota = *q;
    if (auto l = f.QueueAmount("limit", r)) qr->limit = *l;
    if (auto w = f.Milli("overQuotaWeight")) {
      if (*w < 0) {
        f.Error("overQuotaWeight", "expected a weight >= 0");
      } else {
        qr->weight_milli = *w;
      }
    }
    if (qr->limit >= 0 && qr->quota > qr->limit) {
      f.Error("limit", "must not be below the quota; raise the limit or lower the quota");
    }
  }
}

void DecodeSettings(JsonFields& f, QueueSettings* s) {
  if (auto p = f.Int("priority", -1'000'000, 1'000'000)) s->priority = static_cast<int32_t>(*p);
  for (Resource r : kAllResources) {
    DecodeQueueResource(f, ResourceName(r), r, &s->resources[static_cast<size_t>(r)]);
  }
  if (f.Get("reclaimMinRuntime") != nullptr) s->reclaim_min_runtime = f.Dur("reclaimMinRuntime");
  if (f.Get("preemptMinRuntime") != nullptr) s->preempt_min_runtime = f.Dur("preemptMinRuntime");
}

// {"idleTimeout": "2h" (0s: never culled), "idleGpuPercent": 10, "maxRuntime": "12h" or null};
// a PATCH changes only the fields it gives.
void DecodeWorkspacePolicy(JsonFields& parent, const json& v, WorkspacePolicy* w) {
  JsonFields f(v, parent.FieldPath("workspaces"), parent.errors(),
               {"idleTimeout", "idleGpuPercent", "maxRuntime"});
  if (!f.is_object()) {
    parent.Error(
        "workspaces",
        "expected {\"idleTimeout\", \"idleGpuPercent\", \"maxRuntime\"}, got " + JsonTypeName(v));
    return;
  }
  if (auto t = f.Dur("idleTimeout")) {
    if (t->ms < 0) {
      f.Error("idleTimeout", "expected a duration such as 2h (0s turns idle culling off)");
    } else {
      w->idle_timeout = *t;
    }
  }
  if (auto g = f.Int("idleGpuPercent", 0, 100)) w->idle_gpu_percent = static_cast<int32_t>(*g);
  if (const json* m = f.Get("maxRuntime"); m != nullptr) {
    std::optional<Duration> d = f.Dur("maxRuntime");
    if (d && d->ms <= 0) {
      f.Error("maxRuntime", "expected a duration above 0, such as 12h (null: no maximum)");
    } else if (d) {
      w->max_runtime = d;
    }
  } else if (v.contains("maxRuntime")) {
    w->max_runtime.reset();  // null: no maximum
  }
}

Json EncodeQueueResource(const QueueResource& qr, Resource r) {
  auto amount = [r](int64_t v) -> Json {
    if (v < 0) return -1;
    if (r == Resource::kMemory) return FormatMemoryMiB(v);
    return MilliNumber(v);
  };
  return Json{{"quota", amount(qr.quota)},
              {"limit", amount(qr.limit)},
              {"overQuotaWeight", MilliNumber(qr.weight_milli)}};
}

Json EncodePlacement(const std::vector<PlacedPod>& pods) {
  Json out = Json::array();
  for (const PlacedPod& p : pods) {
    Json pod{{"node", p.node}, {"gpus", p.gpus}};
    if (!p.gpus.empty()) pod["gpuFraction"] = MilliNumber(p.gpu_milli);
    if (!p.mig.empty()) pod["mig"] = p.mig;
    out.push_back(std::move(pod));
  }
  return out;
}

}  // namespace

Json MilliNumber(int64_t milli) {
  if (milli % 1000 == 0) return milli / 1000;
  return static_cast<double>(milli) / 1000.0;
}

std::string DumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<json> ParseJsonText(std::string_view text, std::string_view what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    // Syntax errors, and numbers too large for a double (out_of_range).
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    std::string message = e.what();
    if (size_t p = message.find("] "); p != std::string::npos) message = message.substr(p + 2);
    return Status::InvalidArgument(std::string(what) + " is not valid JSON: " + message);
  }
}

std::string_view RoleName(Role r) { return r == Role::kMember ? "member" : "viewer"; }

std::optional<Role> ParseRole(std::string_view s) {
  if (s == "member") return Role::kMember;
  if (s == "viewer") return Role::kViewer;
  return std::nullopt;
}

std::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kPending:
      return "Pending";
    case Phase::kRunning:
      return "Running";
    case Phase::kSucceeded:
      return "Succeeded";
    case Phase::kFailed:
      return "Failed";
    case Phase::kSuspended:
      return "Suspended";
  }
  return "?";
}

std::optional<Phase> ParsePhase(std::string_view s) {
  for (Phase p :
       {Phase::kPending, Phase::kRunning, Phase::kSucceeded, Phase::kFailed, Phase::kSuspended}) {
    if (PhaseName(p) == s) return p;
  }
  return std::nullopt;
}

int64_t WorkloadRecord::AllocatedGpuMilli() const {
  int64_t total = 0;
  for (const PlacedPod& p : placement) total += p.gpu_milli * static_cast<int64_t>(p.gpus.size());
  return total;
}

Result<Submission> DecodeSubmission(const json& body) {
  JsonErrors errors;
  Submission out;
  JsonFields f(body, "body", &errors,
               {"name",       "priorityClass", "preemptible", "pods",    "minAvailable",
                "gpu",        "gpuMemory",     "gpuDevices",  "cpu",     "memory",
                "gpuModel",   "nodeSelector",  "topology",    "command", "env",
                "workingDir", "maxRetries",    "gracePeriod", "mig",     "labels"});
  if (f.is_object()) {
    if (auto n = f.Name("name")) out.name = *n;
    DecodeSpecFields(f, &out.spec);
    if (out.spec.command.empty() && f.Get("command") == nullptr) {
      f.Error("command", "missing; give the command to run, e.g. [\"python\", \"train.py\"]");
    } else if (out.spec.command.empty() && f.Get("command")->is_array()) {
      f.Error("command", "is empty; give the command to run, e.g. [\"python\", \"train.py\"]");
    }
  }
  if (!errors.empty()) return errors.ToStatus();
  return out;
}

std::span<const std::string_view> WorkloadSpecFields() { return kSpecFields; }

void DecodeWorkloadSpecFields(JsonFields& f, WorkloadSpec* spec) { DecodeSpecFields(f, spec); }

Result<Submission> DecodeWorkspaceRequest(const json& body) {
  JsonErrors errors;
  Submission out;
  JsonFields f(body, "body", &errors,
               {"name", "jupyter", "command", "port", "gpu", "gpuMemory", "gpuDevices", "cpu",
                "memory", "gpuModel", "nodeSelector", "env"});
  if (f.is_object()) {
    if (auto n = f.Name("name")) out.name = *n;
    DecodeSpecFields(f, &out.spec);
    // Interactive: the build class, never preempted, so within quota.
    out.spec.priority_class = PriorityClass::kBuild;
    out.spec.preemptible = false;
    WorkspaceSpec ws;
    const std::optional<bool> jupyter = f.Bool("jupyter");
    const std::optional<int64_t> port = f.Int("port", 1, 65535);
    const bool has_command = f.Get("command") != nullptr;
    ws.jupyter = jupyter.value_or(!has_command);
    if (ws.jupyter && has_command) {
      f.Error("command", "give either \"jupyter\": true or a command with its port, not both");
    } else if (!ws.jupyter && !has_command) {
      f.Error("command",
              "missing; a workspace runs JupyterLab (\"jupyter\": true) or a command that "
              "serves HTTP on \"port\"");
    } else if (!ws.jupyter && out.spec.command.empty() && f.Get("command")->is_array()) {
      f.Error("command", "is empty; give the command that serves the workspace");
    } else if (!ws.jupyter && !port && f.Get("port") == nullptr) {
      f.Error("port", "missing; the port on 127.0.0.1 where the command listens");
    } else if (ws.jupyter && f.Get("port") != nullptr) {
      f.Error("port", "JupyterLab gets a free port of its own; give a port only with a command");
    }
    if (port) ws.port = static_cast<int32_t>(*port);
    out.spec.workspace = ws;
  }
  if (!errors.empty()) return errors.ToStatus();
  return out;
}

Json EncodeSpec(const WorkloadSpec& spec) {
  Json j;
  j["priorityClass"] = PriorityClassName(spec.priority_class);
  j["preemptible"] = spec.preemptible;
  j["pods"] = spec.pods;
  j["minAvailable"] = spec.min_available;
  const PodRequest& r = spec.request;
  if (r.mig()) {
    j["mig"] = std::string(MigProfileName(r.mig_profile));
  } else if (r.gpu_memory_mib > 0) {
    j["gpuMemory"] = FormatMemoryMiB(r.gpu_memory_mib);
    j["gpuDevices"] = r.gpu_devices;
  } else if (r.whole_gpus()) {
    j["gpu"] = r.gpu_devices;
  } else if (r.fractional()) {
    j["gpu"] = MilliNumber(r.gpu_milli);
    j["gpuDevices"] = r.gpu_devices;
  }
  if (r.cpu_milli > 0) j["cpu"] = MilliNumber(r.cpu_milli);
  if (r.memory_mib > 0) j["memory"] = FormatMemoryMiB(r.memory_mib);
  if (!spec.gpu_models.empty()) j["gpuModel"] = spec.gpu_models;
  if (!spec.node_selector.empty()) {
    Json sel = Json::object();
    for (const auto& [k, v] : spec.node_selector) sel[k] = v;
    j["nodeSelector"] = std::move(sel);
  }
  if (!spec.topology.empty()) j["topology"] = spec.topology;
  j["command"] = spec.command;
  Json env = Json::object();
  for (const auto& [k, v] : spec.env) env[k] = v;
  j["env"] = std::move(env);
  if (!spec.working_dir.empty()) j["workingDir"] = spec.working_dir;
  j["maxRetries"] = spec.max_retries;
  if (spec.grace_period) j["gracePeriod"] = FormatDuration(*spec.grace_period);
  if (!spec.labels.empty()) {
    Json labels = Json::object();
    for (const auto& [k, v] : spec.labels) labels[k] = v;
    j["labels"] = std::move(labels);
  }
  if (spec.workspace) {
    Json ws{{"kind", spec.workspace->jupyter ? "jupyter" : "command"}};
    if (!spec.workspace->jupyter) ws["port"] = spec.workspace->port;
    j["workspace"] = std::move(ws);
  }
  return j;
}

Status DecodeDepartment(const json& body, bool create, Department* d) {
  JsonErrors errors;
  JsonFields f(
      body, "body", &errors,
      {"name", "priority", "gpu", "cpu", "memory", "reclaimMinRuntime", "preemptMinRuntime"});
  if (f.is_object()) {
    if (create) {
      if (auto n = f.Name("name")) d->name = *n;
    } else if (auto n = f.String("name"); n && *n != d->name) {
      f.Error("name", "cannot be changed; create a new department instead");
    }
    DecodeSettings(f, &d->settings);
  }
  return errors.ToStatus();
}

Status DecodeProject(const json& body, bool create, Project* p) {
  JsonErrors errors;
  JsonFields f(body, "body", &errors,
               {"name", "department", "priority", "gpu", "cpu", "memory", "reclaimMinRuntime",
                "preemptMinRuntime", "members", "workspaces"});
  if (f.is_object()) {
    if (create) {
      if (auto n = f.Name("name")) p->name = *n;
    } else if (auto n = f.String("name"); n && *n != p->name) {
      f.Error("name", "cannot be changed; create a new project instead");
    }
    if (auto dep = f.Name("department", /*required=*/false)) p->department = *dep;
    DecodeSettings(f, &p->settings);
    if (const json* ws = f.Get("workspaces")) DecodeWorkspacePolicy(f, *ws, &p->workspaces);
    if (const json* members = f.Get("members")) {
      if (!members->is_array()) {
        f.Error("members",
                "expected a list of {\"user\", \"role\"}, got " + JsonTypeName(*members));
      } else {
        p->members.clear();
        for (size_t i = 0; i < members->size(); ++i) {
          JsonFields m((*members)[i], f.FieldPath("members") + "[" + std::to_string(i) + "]",
                       &errors, {"user", "role"});
          auto user = m.String("user", true);
          auto role = m.String("role");
          Role r = Role::kMember;
          if (role && !ParseRole(*role)) {
            m.Error("role", "expected member or viewer, got \"" + *role + "\"");
          } else if (role) {
            r = *ParseRole(*role);
          }
          if (user) p->members[*user] = r;
        }
      }
    }
  }
  return errors.ToStatus();
}

Json EncodeWorkspacePolicy(const WorkspacePolicy& w) {
  Json j{{"idleTimeout", FormatDuration(w.idle_timeout)}, {"idleGpuPercent", w.idle_gpu_percent}};
  j["maxRuntime"] = w.max_runtime ? Json(FormatDuration(*w.max_runtime)) : Json();
  return j;
}

Json EncodeQueueSettings(const QueueSettings& s) {
  Json j;
  j["priority"] = s.priority;
  for (Resource r : kAllResources) {
    j[std::string(ResourceName(r))] = EncodeQueueResource(s.resources[static_cast<size_t>(r)], r);
  }
  if (s.reclaim_min_runtime) j["reclaimMinRuntime"] = FormatDuration(*s.reclaim_min_runtime);
  if (s.preempt_min_runtime) j["preemptMinRuntime"] = FormatDuration(*s.preempt_min_runtime);
  return j;
}

Json EncodeDepartment(const Department& d) {
  Json j{{"name", d.name}};
  j.update(EncodeQueueSettings(d.settings));
  return j;
}

Json EncodeProject(const Project& p) {
  Json j{{"name", p.name}};
  if (!p.department.empty()) j["department"] = p.department;
  j.update(EncodeQueueSettings(p.settings));
  Json members = Json::array();
  for (const auto& [user, role] : p.members)
    members.push_back({{"user", user}, {"role", RoleName(role)}});
  j["members"] = std::move(members);
  j["workspaces"] = EncodeWorkspacePolicy(p.workspaces);
  return j;
}

Json EncodeWorkload(const WorkloadRecord& w, bool for_api) {
  Json j{{"id", w.id}, {"name", w.name}, {"project", w.project}, {"user", w.user}};
  if (!for_api) j["uid"] = w.uid;
  if (!for_api && !w.workspace_token.empty()) j["workspaceToken"] = w.workspace_token;
  j["spec"] = EncodeSpec(w.spec);
  if (!for_api && !w.private_env.empty()) {
    Json env = Json::object();
    for (const auto& [k, v] : w.private_env) env[k] = v;
    j["privateEnv"] = std::move(env);
  }
  Json st;
  st["phase"] = PhaseName(w.phase);
  st["submitted"] = FormatTime(w.submitted);
  if (w.requeued) st["requeued"] = FormatTime(*w.requeued);
  if (w.started) st["started"] = FormatTime(*w.started);
  if (w.ended) st["ended"] = FormatTime(*w.ended);
  st["placement"] = EncodePlacement(w.placement);
  st["releasing"] = w.releasing;
  if (w.deleting) st["deleting"] = true;
  if (w.finishing) st["finishing"] = true;
  if (w.suspending) st["suspending"] = true;
  if (!for_api && w.workspace_port > 0) st["workspacePort"] = w.workspace_port;
  if (w.stale_since) st["staleSince"] = FormatTime(*w.stale_since);
  st["message"] = w.message;
  st["evictions"] = w.evictions;
  st["retries"] = w.retries;
  if (w.exit_code >= 0) st["exitCode"] = w.exit_code;
  if (for_api) {
    st["allocatedGpu"] = MilliNumber(w.AllocatedGpuMilli());
    // Measured use comes from the executor's telemetry (not yet wired).
    st["usedGpu"] = nullptr;
    st["reason"] = w.reason;
    st["queuePosition"] = w.position;
  }
  j["status"] = std::move(st);
  return j;
}

Result<WorkloadRecord> DecodeStoredWorkload(const std::string& doc) {
  Result<json> parsed = ParseJsonText(doc, "stored workload");
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  WorkloadRecord w;
  JsonErrors errors;
  JsonFields f(
      j, "workload", &errors,
      {"id", "name", "project", "user", "uid", "workspaceToken", "spec", "status", "privateEnv"});
  if (auto id = f.Int("id", 1, INT64_MAX)) w.id = *id;
  if (auto n = f.String("name", true)) w.name = *n;
  if (auto p = f.String("project", true)) w.project = *p;
  if (auto u = f.String("user", true)) w.user = *u;
  if (auto uid = f.Int("uid", -1, INT64_MAX)) w.uid = *uid;
  if (auto env = f.StringMap("privateEnv")) w.private_env = *env;
  w.workspace_token = f.String("workspaceToken").value_or("");
  if (const json* spec = f.Get("spec")) {
    JsonFields sf(*spec, "workload.spec", &errors, kSpecFields);
    if (sf.is_object()) DecodeSpecFields(sf, &w.spec);
    if (const json* ws = sf.Get("workspace")) {
      JsonFields wf(*ws, "workload.spec.workspace", &errors, {"kind", "port"});
      WorkspaceSpec decoded;
      decoded.jupyter = wf.String("kind").value_or("jupyter") == "jupyter";
      decoded.port = static_cast<int32_t>(wf.Int("port", 1, 65535).value_or(0));
      w.spec.workspace = decoded;
    }
  }
  if (const json* st = f.Get("status")) {
    JsonFields s(*st, "workload.status", &errors,
                 {"phase", "submitted", "requeued", "started", "ended", "placement", "releasing",
                  "deleting", "suspending", "workspacePort", "staleSince", "message", "evictions",
                  "retries", "exitCode", "finishing"});
    if (auto ph = s.String("phase")) {
      if (auto p = ParsePhase(*ph)) w.phase = *p;
    }
    if (auto t = s.TimeField("submitted")) w.submitted = *t;
    w.requeued = s.TimeField("requeued");
    w.started = s.TimeField("started");
    w.ended = s.TimeField("ended");
    w.stale_since = s.TimeField("staleSince");
    w.releasing = s.Bool("releasing").value_or(false);
    w.deleting = s.Bool("deleting").value_or(false);
    w.finishing = s.Bool("finishing").value_or(false);
    w.suspending = s.Bool("suspending").value_or(false);
    w.workspace_port = static_cast<int32_t>(s.Int("workspacePort", 1, 65535).value_or(0));
    w.message = s.String("message").value_or("");
    w.evictions = static_cast<int32_t>(s.Int("evictions", 0, INT32_MAX).value_or(0));
    w.retries = static_cast<int32_t>(s.Int("retries", 0, INT32_MAX).value_or(0));
    w.exit_code = static_cast<int32_t>(s.Int("exitCode", 0, 255).value_or(-1));
    if (const json* pl = s.Get("placement"); pl != nullptr && pl->is_array()) {
      for (const json& p : *pl) {
        PlacedPod pod;
        JsonFields pf(p, "workload.status.placement", &errors,
                      {"node", "gpus", "gpuFraction", "mig"});
        pod.node = pf.String("node", true).value_or("");
        if (const json* g = pf.Get("gpus"); g != nullptr && g->is_array()) {
          for (const json& d : *g) {
            if (!d.is_number_integer() || d.get<int64_t>() < 0 ||
                d.get<int64_t>() >= kMaxGpusPerNode) {
              pf.Error("gpus",
                       "expected device indexes from 0 to " + std::to_string(kMaxGpusPerNode - 1));
              break;
            }
            pod.gpus.push_back(static_cast<int32_t>(d.get<int64_t>()));
          }
        }
        pod.gpu_milli = pf.Milli("gpuFraction").value_or(0);
        pod.mig = pf.String("mig").value_or("");
        w.placement.push_back(std::move(pod));
      }
    }
  }
  if (!errors.empty()) return errors.ToStatus();
  return w;
}

Json EncodeToken(const Token& t, bool for_api) {
  Json j{{"id", t.id},
         {"user", t.user},
         {"admin", t.admin},
         {"created", FormatTime(t.created)},
         {"description", t.description}};
  if (!for_api) j["hash"] = t.hash;
  return j;
}

Result<Token> DecodeStoredToken(const std::string& doc) {
  Result<json> parsed = ParseJsonText(doc, "stored token");
  if (!parsed.ok()) return parsed.status();
  JsonErrors errors;
  JsonFields f(*parsed, "token", &errors,
               {"id", "user", "admin", "created", "description", "hash"});
  Token t;
  t.id = f.String("id", true).value_or("");
  t.user = f.String("user", true).value_or("");
  t.admin = f.Bool("admin").value_or(false);
  t.created = f.TimeField("created").value_or(Time{});
  t.description = f.String("description").value_or("");
  t.hash = f.String("hash", true).value_or("");
  if (!errors.empty()) return errors.ToStatus();
  return t;
}

Result<Department> DecodeStoredDepartment(const std::string& doc) {
  Result<json> parsed = ParseJsonText(doc, "stored department");
  if (!parsed.ok()) return parsed.status();
  Department d;
  if (Status s = DecodeDepartment(*parsed, true, &d); !s.ok()) return s;
  return d;
}

Result<Project> DecodeStoredProject(const std::string& doc) {
  Result<json> parsed = ParseJsonText(doc, "stored project");
  if (!parsed.ok()) return parsed.status();
  Project p;
  if (Status s = DecodeProject(*parsed, true, &p); !s.ok()) return s;
  return p;
}

}  // namespace sluice
