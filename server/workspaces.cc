// Workspaces: JupyterLab (or any web app) as a workload, reverse-proxied
// at /ws/PROJECT/NAME/, suspended when idle. See docs/workspaces.md.
//
// A workspace is a workload whose spec has `workspace` set: build class,
// never preempted (so it runs within quota), with a working directory
// under the data directory that outlives its runs. Stopping it suspends it
// (phase Suspended: its GPU freed, its files kept); starting it queues it
// again. Nothing here touches sockets: the HTTP layer proxies, and probing
// JupyterLab goes through opt_.probe_jupyter.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "server/control_plane.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr int64_t kTicketMs = int64_t{2} * 60 * 1000;
constexpr int64_t kSessionMs = 12LL * 3600 * 1000;

std::string BaseUrl(const WorkloadRecord& w) { return "/ws/" + w.project + "/" + w.name + "/"; }

ApiResponse Ok(Json body, int status = 200) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The working directory and the folders above it: ROOT and ROOT/PROJECT
// may be passed through by anyone (mode 0711, no listing), the workspace's
// own directory belongs to its user (0700).
Status EnsureWorkspaceDir(const std::string& root, const std::string& dir, int64_t uid) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::FailedPrecondition("cannot create " + dir + ": " + ec.message());
  for (std::filesystem::path p = std::filesystem::path(dir).parent_path();
       p.string().size() >= root.size(); p = p.parent_path()) {
    ::chmod(p.c_str(), 0711);
    if (p.string() == root) break;
  }
  ::chmod(dir.c_str(), 0700);
  if (uid >= 0 && geteuid() == 0) {
    // The user's own group too, where the system knows the user.
    gid_t gid = static_cast<gid_t>(-1);
    std::array<char, 16384> buf{};
    passwd pw{};
    passwd* found = nullptr;
    if (getpwuid_r(static_cast<uid_t>(uid), &pw, buf.data(), buf.size(), &found) == 0 &&
        found != nullptr) {
      gid = pw.pw_gid;
    }
    if (::chown(dir.c_str(), static_cast<uid_t>(uid), gid) != 0) {
      return Status::FailedPrecondition("cannot give " + dir + " to uid " + std::to_string(uid));
    }
  }
  return Status::OK();
}

}  // namespace

// ---- the view ----

Json ControlPlane::ApiWorkspace(const WorkloadRecord& w) const {
  Json wl = ApiWorkload(w);
  const Json& spec = wl["spec"];
  const Json& st = wl["status"];
  Json out{{"id", w.id},
           {"name", w.name},
           {"project", w.project},
           {"user", w.user},
           {"kind", w.spec.workspace->jupyter ? "jupyter" : "command"},
           {"phase", st["phase"]},
           {"url", opt_.public_url + BaseUrl(w)},
           {"workingDir", w.spec.working_dir}};
  for (const char* k : {"gpu", "gpuMemory", "gpuDevices", "cpu", "memory"}) {
    if (spec.contains(k)) out[k] = spec[k];
  }
  if (!w.spec.workspace->jupyter) {
    out["command"] = w.spec.command;
    out["port"] = w.spec.workspace->port;
  }
  out["allocatedGpu"] = st["allocatedGpu"];
  out["usedGpu"] = st.contains("usedGpu") ? st["usedGpu"] : Json();
  out["placement"] = st["placement"];
  if (st.contains("started")) out["started"] = st["started"];
  if (st.contains("ended")) out["ended"] = st["ended"];
  out["stopping"] = w.releasing;
  out["message"] = w.message;
  out["reason"] = w.reason;
  out["queuePosition"] = w.position;
  // Idle: since when nothing happened in it, and when culling suspends it.
  Json idle = nullptr;
  if (w.phase == Phase::kRunning) {
    if (std::optional<Time> active = idle_.LastActive(w.id)) {
      idle = Json{{"lastActive", FormatTime(*active)}};
      for (const Project& p : projects_) {
        if (p.name != w.project) continue;
        const int64_t idle_ms = opt_.now().ms - active->ms;
        idle["idleFor"] = FormatDuration(Duration{std::max<int64_t>(0, idle_ms) / 1000 * 1000});
        idle["suspendsAt"] = p.workspaces.idle_timeout.ms > 0
                                 ? Json(FormatTime(Time{active->ms + p.workspaces.idle_timeout.ms}))
                                 : Json();
        // Idle for at least a tenth of the timeout, or a minute: worth a badge.
        idle["idle"] = idle_ms >= std::max<int64_t>(60'000, p.workspaces.idle_timeout.ms / 10);
      }
    }
  }
  out["idle"] = std::move(idle);
  return out;
}

// ---- finding one, with the access rules ----

const WorkloadRecord* ControlPlane::FindWorkspace(const Caller& c, const std::string& project,
                                                  const std::string& name, bool act,
                                                  ApiResponse* refusal) const {
  const bool project_exists = std::any_of(projects_.begin(), projects_.end(),
                                          [&](const Project& p) { return p.name == project; });
  if (!project_exists) {
    *refusal = ApiResponse::Error(404, "no project \"" + project + "\"");
    return nullptr;
  }
  if (!CanSee(c, project)) {
    *refusal = ApiResponse::Error(
        403, "you (" + c.user + ") are not a member of project \"" + project + "\"");
    return nullptr;
  }
  const WorkloadRecord* w = FindWorkload(project, name);
  if (w == nullptr || !w->spec.workspace) {
    *refusal = ApiResponse::Error(404, "no workspace \"" + name + "\" in project \"" + project +
                                           "\"; `sluice workspace list` shows them");
    return nullptr;
  }
  if (act && !CanSubmit(c, project)) {
    *refusal = ApiResponse::Error(
        403, "you (" + c.user + ") are a viewer of project \"" + project +
                 "\"; only its members can open, stop, start or delete workspaces");
    return nullptr;
  }
  return w;
}

// ---- create, list, stop, start, delete ----

void ControlPlane::CreateWorkspace(const Caller& c, const std::string& project, const json& body,
                                   const Reply& reply) {
  Result<Submission> decoded = DecodeWorkspaceRequest(body);
  std::string token;
  if (decoded.ok()) {
    WorkloadSpec& spec = decoded.value().spec;
    const std::string base = "/ws/" + project + "/" + decoded->name + "/";
    const std::string dir = opt_.workspace_root + "/" + project + "/" + decoded->name;
    if (spec.workspace->jupyter) {
      if (opt_.jupyter.empty()) {
        return reply(ApiResponse::Error(
            409,
            "JupyterLab is not installed on this server: run scripts/setup.sh (it installs it "
            "into .venv) or start the server with --jupyter PATH/TO/jupyter-lab"));
      }
      // Bound to loopback on the port it is given at each start
      // (JUPYTER_PORT), with the token only the proxy knows (JUPYTER_TOKEN);
      // never another port, which the proxy would not find.
      spec.command = {opt_.jupyter, "--no-browser", "--allow-root", "--ip=127.0.0.1",
                      "--ServerApp.port_retries=0", "--ServerApp.base_url=" + base,
                      "--ServerApp.root_dir=" + dir, "--ServerApp.allow_remote_access=True",
                      "--ServerApp.quit_button=False",
                      // The machine may not reach the internet, and its users
                      // need not be asked about news.
                      "--LabApp.news_url=None",
                      "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"};
      spec.env.emplace_back("JUPYTER_CONFIG_DIR", dir + "/.jupyter");
      spec.env.emplace_back("JUPYTER_RUNTIME_DIR", dir + "/.jupyter/runtime");
      spec.env.emplace_back("IPYTHONDIR", dir + "/.ipython");
      Result<NewToken> t = GenerateToken();
      if (!t.ok()) return reply(ApiResponse::FromStatus(t.status()));
      token = t->secret;
    } else {
      spec.env.emplace_back("PORT", std::to_string(spec.workspace->port));
    }
    spec.env.emplace_back("SLUICE_WORKSPACE_URL", opt_.public_url + base);
    spec.working_dir = dir;
  }
  // The same checks and bookkeeping as any submission; the directory is made
  // only for one that passes them.
  if (decoded.ok() && FindWorkload(project, decoded->name) == nullptr && CanSubmit(c, project)) {
    if (Status s = EnsureWorkspaceDir(opt_.workspace_root, decoded->spec.working_dir, c.uid);
        !s.ok()) {
      return reply(ApiResponse::FromStatus(s));
    }
  }
  SubmitDecoded(c, project, std::move(decoded), reply, false, token);
}

ApiResponse ControlPlane::ListWorkspaces(const Caller& c, const std::string& project) const {
  if (!project.empty()) {
    if (std::none_of(projects_.begin(), projects_.end(),
                     [&](const Project& p) { return p.name == project; })) {
      return ApiResponse::Error(404, "no project \"" + project + "\"");
    }
    if (!CanSee(c, project)) {
      return ApiResponse::Error(
          403, "you (" + c.user + ") are not a member of project \"" + project + "\"");
    }
  }
  Json items = Json::array();
  for (const auto& [id, w] : workloads_) {
    if (!w.spec.workspace || (!project.empty() && w.project != project)) continue;
    if (!CanSee(c, w.project)) continue;
    items.push_back(ApiWorkspace(w));
  }
  return Ok(Json{{"items", std::move(items)}});
}

ApiResponse ControlPlane::GetWorkspace(const Caller& c, const std::string& project,
                                       const std::string& name) const {
  ApiResponse refusal;
  const WorkloadRecord* w = FindWorkspace(c, project, name, false, &refusal);
  if (w == nullptr) return refusal;
  return Ok(ApiWorkspace(*w));
}

void ControlPlane::Suspend(WorkloadRecord& w, const std::string& why,
                           std::vector<Mutation>* batch) {
  w.message = why;
  if (w.phase == Phase::kRunning) {
    w.suspending = true;
    if (!w.releasing) {
      w.releasing = true;
      executor_->Stop(w.id);
    }
    batch->push_back(EventFor(w, "Suspending", why + "; stopping it (its files are kept)"));
  } else {
    // Pending: it never started; it leaves the queue at once.
    w.phase = Phase::kSuspended;
    w.reason.clear();
    w.position = 0;
    batch->push_back(EventFor(w, "Suspended", why));
  }
  batch->push_back(PutWorkload(w));
  Notify("MODIFIED", w);
}

void ControlPlane::StopWorkspace(const Caller& c, const std::string& project,
                                 const std::string& name, const Reply& reply) {
  ApiResponse refusal;
  const WorkloadRecord* found = FindWorkspace(c, project, name, true, &refusal);
  if (found == nullptr) return reply(refusal);
  WorkloadRecord& w = workloads_.at(found->id);
  if (!w.active() || w.suspending) return reply(Ok(ApiWorkspace(w)));
  std::vector<Mutation> batch;
  Suspend(w, "stopped by " + c.user, &batch);
  const int64_t id = w.id;
  Commit(
      std::move(batch),
      [this, id, reply] {
        auto it = workloads_.find(id);
        if (it == workloads_.end()) return reply(ApiResponse::Error(410, "deleted meanwhile"));
        reply(Ok(ApiWorkspace(it->second), 202));
        RequestCycle();
      },
      reply);
}

void ControlPlane::StartWorkspace(const Caller& c, const std::string& project,
                                  const std::string& name, const Reply& reply) {
  ApiResponse refusal;
  const WorkloadRecord* found = FindWorkspace(c, project, name, true, &refusal);
  if (found == nullptr) return reply(refusal);
  WorkloadRecord& w = workloads_.at(found->id);
  if (w.suspending || w.deleting) {
    return reply(ApiResponse::Error(
        409, "workspace \"" + name + "\" is still stopping; start it once it is Suspended"));
  }
  if (w.active()) return reply(Ok(ApiWorkspace(w)));
  // Back in the queue, as a new submission of the same workspace.
  w.phase = Phase::kPending;
  w.submitted = opt_.now();
  w.requeued.reset();
  w.started.reset();
  w.ended.reset();
  w.placement.clear();
  w.exit_code = -1;
  w.message.clear();
  w.reason = "waiting for the next scheduling cycle";
  if (Status s = EnsureWorkspaceDir(opt_.workspace_root, w.spec.working_dir, w.uid); !s.ok()) {
    return reply(ApiResponse::FromStatus(s));
  }
  const int64_t id = w.id;
  Commit(
      {PutWorkload(w), EventFor(w, "Resumed", "started by " + c.user)},
      [this, id, reply] {
        auto it = workloads_.find(id);
        if (it == workloads_.end()) return reply(ApiResponse::Error(410, "deleted meanwhile"));
        reply(Ok(ApiWorkspace(it->second), 202));
        Notify("MODIFIED", it->second);
        RequestCycle();
      },
      reply);
}

void ControlPlane::DeleteWorkspace(const Caller& c, const std::string& project,
                                   const std::string& name, const Reply& reply) {
  ApiResponse refusal;
  if (FindWorkspace(c, project, name, true, &refusal) == nullptr) return reply(refusal);
  DeleteWorkload(c, project, name, reply);
}

void ControlPlane::RemoveWorkspaceFiles(const WorkloadRecord& w) const {
  if (!w.spec.workspace || opt_.workspace_root.empty()) return;
  const std::string& dir = w.spec.working_dir;
  // Only ever a directory of the server's own workspace tree.
  if (dir.rfind(opt_.workspace_root + "/", 0) != 0 || dir.find("/../") != std::string::npos) {
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void ControlPlane::PrepareWorkspaceLaunch(WorkloadRecord& w) {
  w.launch_env.clear();
  if (!w.spec.workspace->jupyter) {
    w.workspace_port = w.spec.workspace->port;
    return;
  }
  w.workspace_port = opt_.free_port ? opt_.free_port() : 0;
  // A new token for every run: one seen by a member who has since left the
  // project is worth nothing after the next start.
  if (Result<NewToken> t = GenerateToken(); t.ok()) w.workspace_token = t->secret;
  w.launch_env = {{"JUPYTER_PORT", std::to_string(w.workspace_port)},
                  {"JUPYTER_TOKEN", w.workspace_token}};
}

// ---- the proxy's side ----

ApiResponse ControlPlane::OpenWorkspace(const Caller& c, const std::string& project,
                                        const std::string& name) {
  ApiResponse refusal;
  const WorkloadRecord* w = FindWorkspace(c, project, name, true, &refusal);
  if (w == nullptr) return refusal;
  if (!w->active()) {
    return ApiResponse::Error(409, "workspace \"" + name + "\" is " +
                                       std::string(PhaseName(w->phase)) +
                                       "; start it first (sluice workspace start " + name + ")");
  }
  Result<NewToken> t = GenerateToken();
  if (!t.ok()) return ApiResponse::FromStatus(t.status());
  const Time now = opt_.now();
  std::erase_if(tickets_, [&](const auto& e) { return e.second.expires.ms <= now.ms; });
  tickets_[Sha256Hex(t->secret)] = {c, Time{now.ms + kTicketMs}};
  Json out = ApiWorkspace(*w);
  out["openUrl"] = opt_.public_url + BaseUrl(*w) + "?sluice-ticket=" + t->secret;
  out["openUrlExpires"] = FormatTime(Time{now.ms + kTicketMs});
  return Ok(std::move(out));
}

std::optional<std::string> ControlPlane::RedeemWorkspaceTicket(const std::string& ticket) {
  auto it = tickets_.find(Sha256Hex(ticket));
  const Time now = opt_.now();
  if (it == tickets_.end() || it->second.expires.ms <= now.ms) return std::nullopt;
  Caller caller = it->second.caller;
  tickets_.erase(it);
  Result<NewToken> t = GenerateToken();
  if (!t.ok()) return std::nullopt;
  std::erase_if(proxy_sessions_, [&](const auto& e) { return e.second.expires.ms <= now.ms; });
  proxy_sessions_[Sha256Hex(t->secret)] = {caller, Time{now.ms + kSessionMs}};
  return t->secret;
}

std::optional<Caller> ControlPlane::WorkspaceSession(const std::string& secret) const {
  auto it = proxy_sessions_.find(Sha256Hex(secret));
  if (it == proxy_sessions_.end() || it->second.expires.ms <= opt_.now().ms) return std::nullopt;
  return it->second.caller;
}

ApiResponse ControlPlane::WorkspaceUpstreamFor(const Caller& c, const std::string& project,
                                               const std::string& name, WorkspaceUpstream* out) {
  ApiResponse refusal;
  const WorkloadRecord* w = FindWorkspace(c, project, name, true, &refusal);
  if (w == nullptr) return refusal;
  if (w->phase != Phase::kRunning || w->releasing || w->workspace_port <= 0) {
    const std::string state = w->releasing                  ? std::string("stopping")
                              : w->phase == Phase::kPending ? "waiting to run (" + w->reason + ")"
                                                            : std::string(PhaseName(w->phase));
    return ApiResponse::Error(
        503, "workspace " + project + "/" + name + " is not running: it is " + state +
                 (w->phase == Phase::kSuspended
                      ? "; start it with `sluice workspace start " + name + " -p " + project + "`"
                      : ""));
  }
  out->port = w->workspace_port;
  out->token = w->workspace_token;
  out->jupyter = w->spec.workspace->jupyter;
  out->strip_prefix = !w->spec.workspace->jupyter;
  proxied_[w->id] = opt_.now();
  return Ok(Json::object());
}

// ---- idle culling ----

void ControlPlane::ScheduleCulling() {
  opt_.after(opt_.cull_period, [this] {
    CullWorkspaces();
    ScheduleCulling();
  });
}

void ControlPlane::CullWorkspaces() {
  for (const auto& [id, w] : workloads_) {
    if (!w.spec.workspace || w.phase != Phase::kRunning || w.releasing || !w.started) continue;
    const int64_t wid = id;
    const Time started = *w.started;
    if (w.spec.workspace->jupyter && opt_.probe_jupyter && w.workspace_port > 0) {
      opt_.probe_jupyter(JupyterProbe{w.workspace_port, BaseUrl(w), w.workspace_token},
                         [this, wid, started](std::optional<JupyterActivity> seen) {
                           ObserveWorkspace(wid, started, seen);
                         });
    } else {
      ObserveWorkspace(wid, started, std::nullopt);
    }
  }
}

void ControlPlane::ObserveWorkspace(int64_t id, Time started, std::optional<JupyterActivity> seen) {
  auto it = workloads_.find(id);
  if (it == workloads_.end()) return;
  WorkloadRecord& w = it->second;
  // It changed while the probe was out: the next pass looks again.
  if (w.phase != Phase::kRunning || w.releasing || !w.started || w.started->ms != started.ms) {
    return;
  }
  const Project* project = nullptr;
  for (const Project& p : projects_) {
    if (p.name == w.project) project = &p;
  }
  if (project == nullptr) return;
  WorkspaceActivity a;
  a.now = opt_.now();
  if (seen) {
    a.last_activity = seen->last_activity;
    a.busy_kernels = seen->busy_kernels;
  }
  const int64_t allocated = w.AllocatedGpuMilli();
  if (std::optional<double> used = UsedGpu(w); used && allocated > 0) {
    a.gpu_percent = *used * 100.0 * 1000.0 / static_cast<double>(allocated);
  }
  // JupyterLab accounts for its own traffic (and leaves out what does not
  // count, like status checks); a command's only sign of use is its traffic.
  if (auto p = proxied_.find(id); p != proxied_.end() && !w.spec.workspace->jupyter) {
    a.last_proxied = p->second;
  }
  const std::string why = idle_.Observe(id, started, a, project->workspaces);
  if (why.empty()) return;
  std::vector<Mutation> batch;
  Suspend(w, "suspended: " + why, &batch);
  CommitInBackground(std::move(batch));
  RequestCycle();
}

}  // namespace sluice
