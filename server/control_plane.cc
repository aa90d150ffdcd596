#include "server/control_plane.h"

#include <algorithm>
#include <cmath>
#include <future>

#include "server/json_fields.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr char kDepartment[] = "department";
constexpr char kProject[] = "project";
constexpr char kWorkload[] = "workload";
constexpr char kToken[] = "token";

ApiResponse Ok(Json body, int status = 200) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

ApiResponse AdminOnly(const std::string& what) {
  return ApiResponse::Error(
      403, "only admins can " + what + "; ask an admin, or use an admin token (--token)");
}

}  // namespace

ApiResponse ApiResponse::Error(int status, std::string message) {
  ApiResponse r;
  r.status = status;
  r.body = Json{{"error", {{"code", status}, {"message", std::move(message)}}}};
  return r;
}

ApiResponse ApiResponse::FromStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk:
      return Ok(Json::object());
    case Status::Code::kInvalidArgument:
      return Error(400, s.message());
    case Status::Code::kNotFound:
      return Error(404, s.message());
    case Status::Code::kFailedPrecondition:
      return Error(409, s.message());
    case Status::Code::kInternal:
      return Error(500, s.message());
  }
  return Error(500, s.message());
}

ControlPlane::ControlPlane(Store* store, Executor* executor, Metrics* metrics,
                           ControlPlaneOptions options)
    : store_(store), executor_(executor), metrics_(metrics), opt_(std::move(options)) {
  executor_->SetExitCallback(
      [this](int64_t id, int code, bool stopped, const std::string& message) {
        OnExit(id, code, stopped, message);
      });
}

Status ControlPlane::Load() {
  Result<std::vector<StoredObject>> all = store_->LoadAll();
  if (!all.ok()) return all.status();
  for (const StoredObject& o : *all) {
    auto bad = [&](const Status& s) {
      return Status::Internal("stored " + o.kind + " \"" + o.key +
                              "\" is unreadable: " + s.message());
    };
    if (o.kind == kDepartment) {
      Result<Department> d = DecodeStoredDepartment(o.doc);
      if (!d.ok()) return bad(d.status());
      departments_.push_back(*d);
    } else if (o.kind == kProject) {
      Result<Project> p = DecodeStoredProject(o.doc);
      if (!p.ok()) return bad(p.status());
      projects_.push_back(*p);
    } else if (o.kind == kWorkload) {
      Result<WorkloadRecord> w = DecodeStoredWorkload(o.doc);
      if (!w.ok()) return bad(w.status());
      next_id_ = std::max(next_id_, w->id + 1);
      const int64_t id = w->id;
      by_name_[w->project][w->name] = id;
      workloads_.emplace(id, std::move(w).value());
    } else if (o.kind == kToken) {
      Result<Token> t = DecodeStoredToken(o.doc);
      if (!t.ok()) return bad(t.status());
      tokens_.push_back(*t);
    } else if (o.kind == "usage") {
      Result<json> u = ParseJsonText(o.doc, "stored usage");
      if (u.ok() && u->is_number()) usage_[o.key] = u->get<double>();
    } else if (o.kind == "setting" && o.key == "chargeback") {
      Result<json> c = ParseJsonText(o.doc, "stored chargeback settings");
      if (c.ok() && c->is_object()) {
        gpu_hour_price_ = c->value("gpuHourPrice", 0.0);
        currency_ = c->value("currency", std::string("USD"));
      }
    } else if (o.kind == "sweep" || o.kind == "trial") {
      if (Status s = LoadSweepObject(o); !s.ok()) return bad(s);
    } else if (o.kind == "next-id") {
      Result<json> u = ParseJsonText(o.doc, "stored next id");
      if (u.ok() && u->is_number_integer()) next_id_ = std::max(next_id_, u->get<int64_t>());
    }
  }
  FinishLoadingSweeps();
  usage_updated_ = opt_.now();
  // Pods on nodes or devices the inventory no longer has are gone; a
  // workload left with none waits again.
  for (auto& [id, w] : workloads_) {
    if (w.phase != Phase::kRunning) continue;
    std::erase_if(w.placement, [&](const PlacedPod& p) {
      auto n = std::find_if(opt_.nodes.begin(), opt_.nodes.end(),
                            [&](const Node& node) { return node.name == p.node; });
      return n == opt_.nodes.end() || std::any_of(p.gpus.begin(), p.gpus.end(),
                                                  [&](int32_t g) { return g < 0 || g >= n->gpus; });
    });
    if (w.placement.empty()) {
      w.phase = Phase::kPending;
      w.releasing = false;
      w.started.reset();
    }
  }
  // Adopt what was running: the executor takes the placements over again,
  // and stops what was being stopped when the server went down.
  for (auto& [id, w] : workloads_) {
    if (w.phase == Phase::kRunning) executor_->Adopt(w);
  }
  SchedulePeriodic();
  last_sample_ = opt_.now();
  ScheduleSampling();
  ScheduleCulling();
  RequestCycle();
  return Status::OK();
}

Result<std::string> ControlPlane::EnsureAdminToken() {
  for (const Token& t : tokens_) {
    if (t.admin) return std::string();
  }
  Result<NewToken> nt = GenerateToken();
  if (!nt.ok()) return nt.status();
  Token t{nt->id, nt->hash, "admin", true, opt_.now(), "created at first start"};
  std::promise<Status> done;
  store_->Write({Mutation::Put(kToken, t.id, DumpJson(EncodeToken(t, false)))},
                [&done](const Status& s) { done.set_value(s); });
  Status s = done.get_future().get();
  if (!s.ok()) return s;
  tokens_.push_back(t);
  return nt->secret;
}

std::optional<Caller> ControlPlane::Authenticate(const std::string& secret) const {
  const std::string hash = Sha256Hex(secret);
  for (const Token& t : tokens_) {
    if (DigestEqual(t.hash, hash)) return Caller{t.user, UidOf(t.user), t.admin};
  }
  // A sweep trial's report token: it may only report.
  if (auto it = trial_tokens_.find(hash); it != trial_tokens_.end()) {
    return Caller{"sweep-trial", -1, false, it->second};
  }
  return std::nullopt;
}

// ---- access rules ----

bool ControlPlane::CanSee(const Caller& c, const std::string& project) const {
  if (c.admin) return true;
  for (const Project& p : projects_) {
    if (p.name == project) return p.members.count(c.user) > 0;
  }
  return false;
}

bool ControlPlane::CanSubmit(const Caller& c, const std::string& project) const {
  if (c.admin) return true;
  for (const Project& p : projects_) {
    if (p.name != project) continue;
    auto it = p.members.find(c.user);
    return it != p.members.end() && it->second == Role::kMember;
  }
  return false;
}

// ---- writing ----

void ControlPlane::Commit(std::vector<Mutation> batch, std::function<void()> then,
                          const Reply& reply) {
  store_->Write(std::move(batch), [this, then = std::move(then), reply](const Status& s) {
    opt_.post([this, s, then, reply] {
      if (s.ok()) {
        then();
        return;
      }
      reply(ApiResponse::Error(503, "could not save the change: " + s.message() +
                                        "; the server restarts from what is on disk"));
      opt_.fatal(s);
    });
  });
}

void ControlPlane::CommitInBackground(std::vector<Mutation> batch) {
  if (batch.empty()) return;
  store_->Write(std::move(batch), [this](const Status& s) {
    if (!s.ok()) opt_.post([this, s] { opt_.fatal(s); });
  });
}

Mutation ControlPlane::PutWorkload(const WorkloadRecord& w) const {
  return Mutation::Put(kWorkload, w.key(), DumpJson(EncodeWorkload(w, false)));
}

Mutation ControlPlane::EventFor(const WorkloadRecord& w, std::string kind,
                                std::string message) const {
  return Mutation::Event(
      {0, opt_.now().ms, w.project, w.key(), std::move(kind), std::move(message)});
}

void ControlPlane::Notify(const std::string& type, const WorkloadRecord& w) {
  if (watchers_.empty()) return;
  Json doc = ApiWorkload(w);
  std::erase_if(watchers_, [&](Watcher& watcher) {
    if (!CanSee(watcher.caller, w.project)) return false;
    if (!watcher.project.empty() && watcher.project != w.project) return false;
    return !watcher.send(type, doc);
  });
}

// ---- departments ----

void ControlPlane::CreateDepartment(const Caller& c, const json& body, const Reply& reply) {
  if (!c.admin) return reply(AdminOnly("create departments"));
  Department d;
  if (Status s = DecodeDepartment(body, true, &d); !s.ok())
    return reply(ApiResponse::FromStatus(s));
  for (const Department& other : departments_) {
    if (other.name == d.name) {
      return reply(ApiResponse::Error(409, "department \"" + d.name + "\" already exists"));
    }
  }
  for (const Project& p : projects_) {
    if (p.name == d.name) {
      return reply(ApiResponse::Error(
          409, "\"" + d.name + "\" is already a project; departments and projects share names"));
    }
  }
  departments_.push_back(d);
  Commit(
      {Mutation::Put(kDepartment, d.name, DumpJson(EncodeDepartment(d)))},
      [this, d, reply] {
        reply(Ok(EncodeDepartment(d), 201));
        RequestCycle();
      },
      reply);
}

void ControlPlane::UpdateDepartment(const Caller& c, const std::string& name, const json& body,
                                    const Reply& reply) {
  if (!c.admin) return reply(AdminOnly("change departments"));
  auto it = std::find_if(departments_.begin(), departments_.end(),
                         [&](const Department& d) { return d.name == name; });
  if (it == departments_.end()) {
    return reply(ApiResponse::Error(
        404, "no department \"" + name + "\"; `sluice department list` shows them"));
  }
  Department d = *it;
  if (Status s = DecodeDepartment(body, false, &d); !s.ok())
    return reply(ApiResponse::FromStatus(s));
  *it = d;
  Commit(
      {Mutation::Put(kDepartment, d.name, DumpJson(EncodeDepartment(d)))},
      [this, d, reply] {
        reply(Ok(EncodeDepartment(d)));
        RequestCycle();
      },
      reply);
}

void ControlPlane::DeleteDepartment(const Caller& c, const std::string& name, const Reply& reply) {
  if (!c.admin) return reply(AdminOnly("delete departments"));
  auto it = std::find_if(departments_.begin(), departments_.end(),
                         [&](const Department& d) { return d.name == name; });
  if (it == departments_.end())
    return reply(ApiResponse::Error(404, "no department \"" + name + "\""));
  for (const Project& p : projects_) {
    if (p.department == name) {
      return reply(ApiResponse::Error(409, "department \"" + name + "\" still has project \"" +
                                               p.name + "\"; delete or move its projects first"));
    }
  }
  departments_.erase(it);
  Commit(
      {Mutation::Delete(kDepartment, name)},
      [this, name, reply] {
        reply(Ok(Json{{"deleted", name}}));
        RequestCycle();
      },
      reply);
}

ApiResponse ControlPlane::ListDepartments(const Caller&) const {
  Json items = Json::array();
  for (const Department& d : departments_) items.push_back(EncodeDepartment(d));
  return Ok(Json{{"items", std::move(items)}});
}

ApiResponse ControlPlane::GetDepartment(const Caller&, const std::string& name) const {
  for (const Department& d : departments_) {
    if (d.name == name) return Ok(EncodeDepartment(d));
  }
  return ApiResponse::Error(404, "no department \"" + name + "\"");
}

// ---- projects ----

void ControlPlane::CreateProject(const Caller& c, const json& body, const Reply& reply) {
  if (!c.admin) return reply(AdminOnly("create projects"));
  Project p;
  if (Status s = DecodeProject(body, true, &p); !s.ok()) return reply(ApiResponse::FromStatus(s));
  for (const Project& other : projects_) {
    if (other.name == p.name) {
      return reply(ApiResponse::Error(409, "project \"" + p.name + "\" already exists"));
    }
  }
  bool department_found = p.department.empty();
  for (const Department& d : departments_) {
    if (d.name == p.name) {
      return reply(ApiResponse::Error(
          409, "\"" + p.name + "\" is already a department; departments and projects share names"));
    }
    department_found = department_found || d.name == p.department;
  }
  if (!department_found) {
    return reply(ApiResponse::Error(404, "body.department: no department \"" + p.department +
                                             "\"; create it first (sluice department create)"));
  }
  projects_.push_back(p);
  Commit(
      {Mutation::Put(kProject, p.name, DumpJson(EncodeProject(p)))},
      [this, p, reply] {
        reply(Ok(EncodeProject(p), 201));
        RequestCycle();
      },
      reply);
}

void ControlPlane::UpdateProject(const Caller& c, const std::string& name, const json& body,
                                 const Reply& reply) {
  if (!c.admin) return reply(AdminOnly("change project quotas and settings"));
  auto it = std::find_if(projects_.begin(), projects_.end(),
                         [&](const Project& p) { return p.name == name; });
  if (it == projects_.end()) {
    return reply(
        ApiResponse::Error(404, "no project \"" + name + "\"; `sluice project list` shows them"));
  }
  Project p = *it;
  if (Status s = DecodeProject(body, false, &p); !s.ok()) return reply(ApiResponse::FromStatus(s));
  if (!p.department.empty() &&
      std::none_of(departments_.begin(), departments_.end(),
                   [&](const Department& d) { return d.name == p.department; })) {
    return reply(
        ApiResponse::Error(404, "body.department: no department \"" + p.department + "\""));
  }
  *it = p;
  Commit(
      {Mutation::Put(kProject, p.name, DumpJson(EncodeProject(p)))},
      [this, p, reply] {
        reply(Ok(EncodeProject(p)));
        RequestCycle();
      },
      reply);
}

void ControlPlane::DeleteProject(const Caller& c, const std::string& name, const Reply& reply) {
  if (!c.admin) return reply(AdminOnly("delete projects"));
  auto it = std::find_if(projects_.begin(), projects_.end(),
                         [&](const Project& p) { return p.name == name; });
  if (it == projects_.end()) return reply(ApiResponse::Error(404, "no project \"" + name + "\""));
  for (const auto& [id, w] : workloads_) {
    if (w.project == name && (w.active() || w.spec.workspace)) {
      return reply(
          ApiResponse::Error(409, "project \"" + name + "\" still has " +
                                      (w.spec.workspace ? "workspace \"" : "workload \"") + w.name +
                                      "\" (" + std::string(PhaseName(w.phase)) + "); delete its " +
                                      (w.spec.workspace ? "workspaces" : "workloads") + " first"));
    }
  }
  if (std::string why = SweepBlockingDeletion(name); !why.empty()) {
    return reply(ApiResponse::Error(409, why));
  }
  projects_.erase(it);
  std::vector<Mutation> batch{Mutation::Delete(kProject, name)};
  ForgetSweepsOf(name, &batch);
  for (auto wit = workloads_.begin(); wit != workloads_.end();) {
    if (wit->second.project == name) {
      batch.push_back(Mutation::Delete(kWorkload, wit->second.key()));
      wit = workloads_.erase(wit);
    } else {
      ++wit;
    }
  }
  by_name_.erase(name);
  Commit(
      std::move(batch),
      [this, name, reply] {
        reply(Ok(Json{{"deleted", name}}));
        RequestCycle();
      },
      reply);
}

void ControlPlane::SetMember(const Caller& c, const std::string& project, const json& body,
                             const Reply& reply) {
  if (!c.admin) return reply(AdminOnly("add project members"));
  auto it = std::find_if(projects_.begin(), projects_.end(),
                         [&](const Project& p) { return p.name == project; });
  if (it == projects_.end())
    return reply(ApiResponse::Error(404, "no project \"" + project + "\""));
  JsonErrors errors;
  JsonFields f(body, "body", &errors, {"user", "role"});
  std::optional<std::string> user = f.Name("user");
  Role role = Role::kMember;
  if (auto r = f.String("role")) {
    if (auto parsed = ParseRole(*r)) {
      role = *parsed;
    } else {
      f.Error("role", "expected member or viewer, got \"" + *r + "\"");
    }
  }
  if (!errors.empty()) return reply(ApiResponse::FromStatus(errors.ToStatus()));
  it->members[*user] = role;
  Project p = *it;
  Commit(
      {Mutation::Put(kProject, p.name, DumpJson(EncodeProject(p)))},
      [p, reply] { reply(Ok(EncodeProject(p))); }, reply);
}

void ControlPlane::RemoveMember(const Caller& c, const std::string& project,
                                const std::string& user, const Reply& reply) {
  if (!c.admin) return reply(AdminOnly("remove project members"));
  auto it = std::find_if(projects_.begin(), projects_.end(),
                         [&](const Project& p) { return p.name == project; });
  if (it == projects_.end())
    return reply(ApiResponse::Error(404, "no project \"" + project + "\""));
  if (it->members.erase(user) == 0) {
    return reply(ApiResponse::Error(404, "\"" + user + "\" is not a member of " + project));
  }
  Project p = *it;
  Commit(
      {Mutation::Put(kProject, p.name, DumpJson(EncodeProject(p)))},
      [p, reply] { reply(Ok(EncodeProject(p))); }, reply);
}

ApiResponse ControlPlane::ListProjects(const Caller& c) const {
  Json items = Json::array();
  for (const Project& p : projects_) {
    if (CanSee(c, p.name)) items.push_back(EncodeProject(p));
  }
  return Ok(Json{{"items", std::move(items)}});
}

ApiResponse ControlPlane::GetProject(const Caller& c, const std::string& name) const {
  for (const Project& p : projects_) {
    if (p.name != name) continue;
    if (!CanSee(c, name))
      return ApiResponse::Error(403, "you are not a member of project \"" + name + "\"");
    return Ok(EncodeProject(p));
  }
  return ApiResponse::Error(404, "no project \"" + name + "\"");
}

// ---- workloads ----

WorkloadRecord* ControlPlane::FindWorkload(const std::string& project, const std::string& name) {
  auto p = by_name_.find(project);
  if (p == by_name_.end()) return nullptr;
  auto n = p->second.find(name);
  if (n == p->second.end()) return nullptr;
  auto w = workloads_.find(n->second);
  return w == workloads_.end() ? nullptr : &w->second;
}

const WorkloadRecord* ControlPlane::FindWorkload(const std::string& project,
                                                 const std::string& name) const {
  return const_cast<ControlPlane*>(this)->FindWorkload(project, name);
}

std::string ControlPlane::NeverFitsWarning(const WorkloadSpec& spec) const {
  const PodRequest& r = spec.request;
  int32_t most_gpus = 0;
  for (const Node& n : opt_.nodes) {
    bool model_ok = spec.gpu_models.empty() ||
                    std::find(spec.gpu_models.begin(), spec.gpu_models.end(), n.gpu_model) !=
                        spec.gpu_models.end();
    bool memory_ok =
        r.gpu_memory_mib == 0 || (n.gpu_memory_mib > 0 && r.gpu_memory_mib <= n.gpu_memory_mib);
    bool labels_ok = true;
    for (const auto& [key, value] : spec.node_selector) {
      const std::string* have = FindLabel(n.labels, key);
      labels_ok = labels_ok && have != nullptr && *have == value;
    }
    bool fits = model_ok && memory_ok && labels_ok && r.gpu_devices <= n.gpus &&
                r.cpu_milli <= n.cpu_milli && r.memory_mib <= n.memory_mib;
    if (fits) return "";
    if (model_ok) most_gpus = std::max(most_gpus, n.gpus);
  }
  if (r.gpu_devices > most_gpus) {
    return "no node can ever run a pod of this workload: it asks for " +
           std::to_string(r.gpu_devices) + " GPU devices and the largest matching node has " +
           std::to_string(most_gpus) + "; it stays pending until a larger node joins";
  }
  return "no node can ever run a pod of this workload (GPU model, GPU memory, node labels, CPU "
         "or memory); "
         "it stays pending until a node that can joins";
}

void ControlPlane::Submit(const Caller& c, const std::string& project, const json& body,
                          const Reply& reply, bool dry_run) {
  SubmitDecoded(c, project, DecodeSubmission(body), reply, dry_run);
}

std::optional<ApiResponse> ControlPlane::SubmitRefusal(const Caller& c, const std::string& project,
                                                       const std::string& what) const {
  if (std::none_of(projects_.begin(), projects_.end(),
                   [&](const Project& p) { return p.name == project; })) {
    return ApiResponse::Error(
        404, "no project \"" + project + "\"; `sluice project list` shows the projects you are in");
  }
  if (!CanSee(c, project)) {
    return ApiResponse::Error(403, "you (" + c.user + ") are not a member of project \"" + project +
                                       "\"; ask an admin to add you");
  }
  if (!CanSubmit(c, project)) {
    return ApiResponse::Error(403, "you (" + c.user + ") are a viewer of project \"" + project +
                                       "\" and viewers cannot submit " + what +
                                       "; ask an admin to make you a member");
  }
  return std::nullopt;
}

void ControlPlane::SubmitDecoded(const Caller& c, const std::string& project,
                                 Result<Submission> decoded, const Reply& reply, bool dry_run,
                                 std::string token) {
  if (std::optional<ApiResponse> no = SubmitRefusal(c, project, "workloads")) return reply(*no);
  if (!decoded.ok()) return reply(ApiResponse::FromStatus(decoded.status()));
  Submission sub = std::move(decoded).value();
  if (const WorkloadRecord* existing = FindWorkload(project, sub.name)) {
    return reply(ApiResponse::Error(409, "project \"" + project +
                                             "\" already has a workload named \"" + sub.name +
                                             "\" (" + std::string(PhaseName(existing->phase)) +
                                             "); pick another name or delete it first"));
  }
  if (dry_run) {
    const std::string warning = NeverFitsWarning(sub.spec);
    return reply(Ok(Json{{"valid", true},
                         {"warnings", warning.empty() ? Json::array() : Json::array({warning})}}));
  }
  WorkloadRecord w;
  w.id = next_id_++;
  w.name = sub.name;
  w.project = project;
  w.user = c.user;
  w.uid = c.uid;
  w.spec = std::move(sub.spec);
  w.submitted = opt_.now();
  w.workspace_token = std::move(token);
  // Estimated until the next cycle: behind every pending workload of this
  // project with the same or a higher priority class.
  std::array<int32_t, 4>& pending = pending_by_class_[project];
  const int32_t my_priority = PriorityValue(w.spec.priority_class);
  int32_t ahead = 0;
  for (size_t k = 0; k < pending.size(); ++k) {
    if (PriorityValue(static_cast<PriorityClass>(k)) >= my_priority) ahead += pending[k];
  }
  ++pending[static_cast<size_t>(w.spec.priority_class)];
  w.position = ahead + 1;
  w.reason = "waiting for the next scheduling cycle";
  const std::string warning = NeverFitsWarning(w.spec);
  by_name_[project][w.name] = w.id;
  auto [it, inserted] = workloads_.emplace(w.id, std::move(w));
  const WorkloadRecord& rec = it->second;
  ++metrics_->submissions;
  const int64_t id = rec.id;
  Commit(
      {PutWorkload(rec), EventFor(rec, "Submitted", "submitted by " + c.user)},
      [this, id, warning, reply] {
        auto found = workloads_.find(id);
        if (found == workloads_.end()) return reply(ApiResponse::Error(410, "deleted meanwhile"));
        Json out =
            found->second.spec.workspace ? ApiWorkspace(found->second) : ApiWorkload(found->second);
        Json warnings = Json::array();
        if (!warning.empty()) warnings.push_back(warning);
        out["warnings"] = std::move(warnings);
        reply(Ok(std::move(out), 201));
        Notify("ADDED", found->second);
        RequestCycle();
      },
      reply);
}

void ControlPlane::DeleteWorkload(const Caller& c, const std::string& project,
                                  const std::string& name, const Reply& reply) {
  WorkloadRecord* w = FindWorkload(project, name);
  if (w == nullptr || !CanSee(c, project)) {
    if (w != nullptr || (std::any_of(projects_.begin(), projects_.end(),
                                     [&](const Project& p) { return p.name == project; }) &&
                         !CanSee(c, project))) {
      return reply(ApiResponse::Error(
          403, "you (" + c.user + ") are not a member of project \"" + project + "\""));
    }
    return reply(ApiResponse::Error(404, "no workload \"" + name + "\" in project \"" + project +
                                             "\"; `sluice list` shows yours"));
  }
  if (!CanSubmit(c, project)) {
    return reply(ApiResponse::Error(403, "viewers cannot delete workloads; ask an admin"));
  }
  if (w->phase == Phase::kRunning) {
    if (!w->deleting) {
      w->deleting = true;
      if (!w->releasing) {
        w->releasing = true;
        w->message = "deleted by " + c.user;
        executor_->Stop(w->id);
      }
    }
    Json out = ApiWorkload(*w);
    Commit(
        {PutWorkload(*w), EventFor(*w, "Deleting", "deleted by " + c.user + "; stopping")},
        [out, reply] { reply(Ok(out, 202)); }, reply);
    Notify("MODIFIED", *w);
    return;
  }
  WorkloadRecord gone = *w;
  by_name_[project].erase(name);
  workloads_.erase(gone.id);
  RemoveWorkspaceFiles(gone);
  Commit(
      {Mutation::Delete(kWorkload, gone.key()), EventFor(gone, "Deleted", "deleted by " + c.user)},
      [this, gone, reply] {
        reply(Ok(Json{{"deleted", gone.name}, {"project", gone.project}}));
        Notify("DELETED", gone);
        RequestCycle();
      },
      reply);
}

ApiResponse ControlPlane::GetWorkload(const Caller& c, const std::string& project,
                                      const std::string& name) const {
  const WorkloadRecord* w = FindWorkload(project, name);
  if (w != nullptr && !CanSee(c, project)) {
    return ApiResponse::Error(
        403, "you (" + c.user + ") are not a member of project \"" + project + "\"");
  }
  if (w == nullptr) {
    return ApiResponse::Error(404, "no workload \"" + name + "\" in project \"" + project + "\"");
  }
  Json out = ApiWorkload(*w);
  out["status"]["isolation"] = executor_->Isolation();
  return Ok(std::move(out));
}

ApiResponse ControlPlane::ListWorkloads(const Caller& c, const std::string& project,
                                        bool include_ended) const {
  if (!project.empty()) {
    bool exists = std::any_of(projects_.begin(), projects_.end(),
                              [&](const Project& p) { return p.name == project; });
    if (!exists) return ApiResponse::Error(404, "no project \"" + project + "\"");
    if (!CanSee(c, project)) {
      return ApiResponse::Error(
          403, "you (" + c.user + ") are not a member of project \"" + project + "\"");
    }
  }
  Json items = Json::array();
  for (const auto& [id, w] : workloads_) {
    if (!project.empty() && w.project != project) continue;
    if (!include_ended && !w.active()) continue;
    if (!CanSee(c, w.project)) continue;
    items.push_back(ApiWorkload(w));
  }
  return Ok(Json{{"items", std::move(items)}});
}

ApiResponse ControlPlane::Watch(const Caller& c, const std::string& project, WatchSink send) {
  if (!project.empty() && !CanSee(c, project)) {
    return ApiResponse::Error(
        403, "you (" + c.user + ") are not a member of project \"" + project + "\"");
  }
  for (const auto& [id, w] : workloads_) {
    if ((project.empty() || w.project == project) && CanSee(c, w.project)) {
      if (!send("ADDED", ApiWorkload(w))) return Ok(Json::object());
    }
  }
  watchers_.push_back({c, project, std::move(send)});
  return Ok(Json::object());
}

void ControlPlane::SetUtilization(const std::string& node, std::vector<int32_t> percent) {
  utilization_[node] = std::move(percent);
  // What was allocated on each device when it was measured: a workload's
  // part of a device's use is its share of this. Computed once per sample
  // rather than for every workload shown (which was quadratic in lists).
  std::vector<int64_t>& totals = allocated_at_sample_[node];
  totals.assign(utilization_[node].size(), 0);
  for (const auto& [id, w] : workloads_) {
    if (w.phase != Phase::kRunning) continue;
    for (const PlacedPod& p : w.placement) {
      if (p.node != node) continue;
      for (int32_t g : p.gpus) {
        if (g >= 0 && static_cast<size_t>(g) < totals.size())
          totals[static_cast<size_t>(g)] += p.gpu_milli;
      }
    }
  }
}

void ControlPlane::SetGpuMemoryUse(std::map<int64_t, int64_t> mib_by_workload) {
  gpu_memory_use_ = std::move(mib_by_workload);
}

std::optional<double> ControlPlane::UsedGpu(const WorkloadRecord& w) const {
  if (w.phase != Phase::kRunning || utilization_.empty()) return std::nullopt;
  double used = 0;
  for (const PlacedPod& p : w.placement) {
    auto u = utilization_.find(p.node);
    if (u == utilization_.end()) return std::nullopt;
    for (int32_t g : p.gpus) {
      if (g < 0 || static_cast<size_t>(g) >= u->second.size() ||
          u->second[static_cast<size_t>(g)] < 0) {
        return std::nullopt;
      }
      // The workload's part of the device: its milli over all milli allocated
      // there when the device was sampled (all of it if it came since).
      const std::vector<int64_t>& totals = allocated_at_sample_.at(p.node);
      const int64_t total = std::max(p.gpu_milli, totals[static_cast<size_t>(g)]);
      const double part =
          total > 0 ? static_cast<double>(p.gpu_milli) / static_cast<double>(total) : 1.0;
      used += u->second[static_cast<size_t>(g)] / 100.0 * part;
    }
  }
  return std::round(used * 1000) / 1000;
}

Json ControlPlane::ApiWorkload(const WorkloadRecord& w) const {
  Json out = EncodeWorkload(w, true);
  if (std::optional<double> used = UsedGpu(w)) out["status"]["usedGpu"] = *used;
  if (gpu_memory_use_ && w.phase == Phase::kRunning) {
    auto it = gpu_memory_use_->find(w.id);
    out["status"]["usedGpuMemory"] = FormatMemoryMiB(it == gpu_memory_use_->end() ? 0 : it->second);
  }
  return out;
}

ApiResponse ControlPlane::LogFile(const Caller& c, const std::string& project,
                                  const std::string& name, int32_t pod, std::string* path,
                                  int64_t* id) const {
  ApiResponse found = GetWorkload(c, project, name);
  if (found.status != 200) return found;
  const WorkloadRecord* w = FindWorkload(project, name);
  if (pod < 0 || pod >= w->spec.pods) {
    return ApiResponse::Error(400, "pod: expected 0 to " + std::to_string(w->spec.pods - 1) +
                                       ", got " + std::to_string(pod));
  }
  *path = executor_->LogPath(w->id, pod);
  *id = w->id;
  if (path->empty()) {
    return ApiResponse::Error(404, "no logs: this server simulates workloads (--executor sim)");
  }
  return found;
}

bool ControlPlane::IsActive(int64_t id) const {
  auto it = workloads_.find(id);
  return it != workloads_.end() && it->second.active();
}

// ---- nodes, events, tokens ----

Json ControlPlane::UtilizationOf(const std::string& node, int32_t gpu) const {
  auto u = utilization_.find(node);
  if (u == utilization_.end() || gpu >= static_cast<int32_t>(u->second.size()) ||
      u->second[static_cast<size_t>(gpu)] < 0) {
    return nullptr;
  }
  return u->second[static_cast<size_t>(gpu)] / 100.0;
}

ApiResponse ControlPlane::ListNodes(const Caller&) const {
  Json items = Json::array();
  for (const Node& n : opt_.nodes) {
    std::vector<int64_t> used(static_cast<size_t>(n.gpus), 0);
    std::vector<Json> holders(static_cast<size_t>(n.gpus), Json::array());
    // Each holder's share of the device, and its part of the GPU memory its
    // processes use (split evenly over its devices).
    std::vector<Json> shares(static_cast<size_t>(n.gpus), Json::array());
    for (const auto& [id, w] : workloads_) {
      size_t devices = 0;
      for (const PlacedPod& p : w.placement) devices += p.gpus.size();
      Json memory = nullptr;
      if (gpu_memory_use_ && w.phase == Phase::kRunning && devices > 0) {
        auto it = gpu_memory_use_->find(w.id);
        const int64_t mib = it == gpu_memory_use_->end() ? 0 : it->second;
        memory = FormatMemoryMiB(mib / static_cast<int64_t>(devices));
      }
      for (const PlacedPod& p : w.placement) {
        if (p.node != n.name) continue;
        for (int32_t g : p.gpus) {
          if (g < 0 || g >= n.gpus) continue;
          used[static_cast<size_t>(g)] += p.gpu_milli;
          holders[static_cast<size_t>(g)].push_back(w.project + "/" + w.name);
          shares[static_cast<size_t>(g)].push_back({{"workload", w.project + "/" + w.name},
                                                    {"gpuFraction", MilliNumber(p.gpu_milli)},
                                                    {"usedGpuMemory", memory}});
        }
      }
    }
    Json gpus = Json::array();
    int64_t total = 0;
    auto mig = opt_.mig.find(n.name);
    for (int32_t g = 0; g < n.gpus; ++g) {
      total += used[static_cast<size_t>(g)];
      Json slices = Json::array();
      if (mig != opt_.mig.end() && static_cast<size_t>(g) < mig->second.size()) {
        for (const MigSlice& m : mig->second[static_cast<size_t>(g)]) {
          slices.push_back({{"uuid", m.uuid}, {"memory", FormatMemoryMiB(m.memory_mib)}});
        }
      }
      gpus.push_back(
          {{"index", g},
           {"model", n.gpu_model},
           {"memory", n.gpu_memory_mib > 0 ? Json(FormatMemoryMiB(n.gpu_memory_mib)) : Json()},
           {"allocated", MilliNumber(used[static_cast<size_t>(g)])},
           {"utilization", UtilizationOf(n.name, g)},
           {"workloads", holders[static_cast<size_t>(g)]},
           {"shares", shares[static_cast<size_t>(g)]},
           {"mig", std::move(slices)}});
    }
    items.push_back({{"name", n.name},
                     {"gpuCount", n.gpus},
                     {"gpuModel", n.gpu_model},
                     {"allocatedGpu", MilliNumber(total)},
                     {"simulated", n.name.rfind("sim-", 0) == 0},
                     {"gpus", std::move(gpus)}});
  }
  return Ok(Json{{"items", std::move(items)}});
}

ApiResponse ControlPlane::ListEvents(const Caller& c, const std::string& project,
                                     const std::string& workload, int limit) const {
  std::vector<std::string> projects;
  std::string key;
  if (!project.empty()) {
    if (!CanSee(c, project)) {
      return ApiResponse::Error(
          403, "you (" + c.user + ") are not a member of project \"" + project + "\"");
    }
    projects.push_back(project);
    if (!workload.empty()) {
      const WorkloadRecord* w = FindWorkload(project, workload);
      if (w == nullptr)
        return ApiResponse::Error(
            404, "no workload \"" + workload + "\" in project \"" + project + "\"");
      key = w->key();
    }
  } else if (!c.admin) {
    for (const Project& p : projects_) {
      if (CanSee(c, p.name)) projects.push_back(p.name);
    }
    if (projects.empty()) return Ok(Json{{"items", Json::array()}});
  }
  Result<std::vector<StoredEvent>> events = store_->Events(key, projects, 0, limit);
  if (!events.ok()) return ApiResponse::FromStatus(events.status());
  Json items = Json::array();
  for (const StoredEvent& e : *events) {
    items.push_back({{"id", e.id},
                     {"time", FormatTime(Time{e.time_ms})},
                     {"project", e.project},
                     {"workloadId", e.workload.empty() ? Json() : Json(std::stoll(e.workload))},
                     {"kind", e.kind},
                     {"message", e.message}});
  }
  return Ok(Json{{"items", std::move(items)}});
}

void ControlPlane::CreateToken(const Caller& c, const json& body, const Reply& reply) {
  JsonErrors errors;
  JsonFields f(body, "body", &errors, {"user", "admin", "description"});
  std::string user = f.Name("user", /*required=*/false).value_or(c.user);
  bool admin = f.Bool("admin").value_or(false);
  std::string description = f.String("description").value_or("");
  if (!errors.empty()) return reply(ApiResponse::FromStatus(errors.ToStatus()));
  if (!c.admin && (user != c.user || admin)) {
    return reply(AdminOnly("create tokens for other users or admin tokens"));
  }
  Result<NewToken> nt = GenerateToken();
  if (!nt.ok()) return reply(ApiResponse::FromStatus(nt.status()));
  Token t{nt->id, nt->hash, user, admin, opt_.now(), description};
  tokens_.push_back(t);
  Json out = EncodeToken(t, true);
  out["token"] = nt->secret;
  Commit(
      {Mutation::Put(kToken, t.id, DumpJson(EncodeToken(t, false)))},
      [out, reply] { reply(Ok(out, 201)); }, reply);
}

void ControlPlane::DeleteToken(const Caller& c, const std::string& id, const Reply& reply) {
  auto it =
      std::find_if(tokens_.begin(), tokens_.end(), [&](const Token& t) { return t.id == id; });
  if (it == tokens_.end() || (!c.admin && it->user != c.user)) {
    return reply(ApiResponse::Error(
        404, "no token \"" + id + "\" of yours; `sluice token list` shows them"));
  }
  tokens_.erase(it);
  Commit(
      {Mutation::Delete(kToken, id)},
      [id, reply] {
        reply(Ok(Json{{"deleted", id}}));
      },
      reply);
}

ApiResponse ControlPlane::ListTokens(const Caller& c) const {
  Json items = Json::array();
  for (const Token& t : tokens_) {
    if (c.admin || t.user == c.user) items.push_back(EncodeToken(t, true));
  }
  return Ok(Json{{"items", std::move(items)}});
}

ApiResponse ControlPlane::WhoAmI(const Caller& c) const {
  Json projects = Json::array();
  for (const Project& p : projects_) {
    auto it = p.members.find(c.user);
    if (it != p.members.end()) {
      projects.push_back({{"project", p.name}, {"role", RoleName(it->second)}});
    }
  }
  return Ok(Json{{"user", c.user},
                 {"uid", c.uid >= 0 ? Json(c.uid) : Json()},
                 {"admin", c.admin},
                 {"projects", std::move(projects)}});
}

}  // namespace sluice
