// Commands for admins and for setting up: project, department, token, and
// `sluice server` itself.
#include <iostream>

#include "cli/client_context.h"
#include "cli/table.h"
#include "exec/pod_shim.h"
#include "server/server_main.h"

namespace sluice {
namespace {

using nlohmann::json;

// The quota flags shared by projects and departments; each unset flag
// leaves the value alone.
struct QueueFlags {
  std::string department;
  std::string priority;
  std::map<std::string, std::string> values;  // "gpu.quota" -> "4"
  std::string reclaim_min_runtime;
  std::string preempt_min_runtime;
  // Projects: how their workspaces are culled (docs/workspaces.md).
  std::string idle_timeout;
  int idle_gpu_percent = -1;
  std::string max_runtime;

  void Add(CLI::App* cmd, bool project) {
    if (project) {
      cmd->add_option("--department", department, "Parent department");
      cmd->add_option("--workspace-idle-timeout", idle_timeout,
                      "Suspend workspaces idle this long (default 2h; 0s: never)");
      cmd->add_option("--workspace-idle-gpu-percent", idle_gpu_percent,
                      "GPU use under this % of a workspace's allocation counts as idle "
                      "(default 10)");
      cmd->add_option("--workspace-max-runtime", max_runtime,
                      "Suspend workspaces that have run this long (12h; none: no maximum)");
    }
    cmd->add_option("--priority", priority, "Priority tier (default 100; higher is served first)");
    for (const char* r : {"gpu", "cpu", "memory"}) {
      for (const char* f : {"quota", "limit"}) {
        std::string key = std::string(r) + "." + f;
        cmd->add_option("--" + std::string(r) + "-" + f, values[key],
                        std::string(r == std::string("gpu") ? "GPUs" : r) + " " + f +
                            " (-1 or unlimited: none)");
      }
      cmd->add_option("--" + std::string(r) + "-weight",
                      values[std::string(r) + ".overQuotaWeight"],
                      std::string("Over-quota weight for ") + r + " (default 1)");
    }
    cmd->add_option("--reclaim-min-runtime", reclaim_min_runtime,
                    "Workloads younger than this are not reclaimed (10m)");
    cmd->add_option("--preempt-min-runtime", preempt_min_runtime,
                    "Workloads younger than this are not preempted");
  }

  json Body() const {
    json body = json::object();
    if (!department.empty()) body["department"] = department;
    if (!priority.empty()) {
      try {
        body["priority"] = std::stoi(priority);
      } catch (const std::exception&) {
        ClientContext::Fail("--priority: expected a whole number, got \"" + priority + "\"");
      }
    }
    for (const auto& [key, value] : values) {
      if (value.empty()) continue;
      const std::string resource = key.substr(0, key.find('.'));
      const std::string field = key.substr(key.find('.') + 1);
      if (value == "-1" || value == "unlimited" || value == "none") {
        body[resource][field] = -1;
      } else {
        body[resource][field] = value;
      }
    }
    if (!reclaim_min_runtime.empty()) body["reclaimMinRuntime"] = reclaim_min_runtime;
    if (!preempt_min_runtime.empty()) body["preemptMinRuntime"] = preempt_min_runtime;
    if (!idle_timeout.empty()) body["workspaces"]["idleTimeout"] = idle_timeout;
    if (idle_gpu_percent >= 0) body["workspaces"]["idleGpuPercent"] = idle_gpu_percent;
    if (max_runtime == "none") {
      body["workspaces"]["maxRuntime"] = nullptr;
    } else if (!max_runtime.empty()) {
      body["workspaces"]["maxRuntime"] = max_runtime;
    }
    return body;
  }
};

std::string Amount(const json& r, const char* field) {
  const json& v = r[field];
  return v == -1 ? "-" : Str(v);
}

void PrintQueues(const json& items, bool projects) {
  std::vector<std::string> header{"NAME",       "PRIORITY",  "GPU QUOTA",   "GPU LIMIT",
                                  "GPU WEIGHT", "CPU QUOTA", "MEMORY QUOTA"};
  if (projects) {
    header.insert(header.begin() + 1, "DEPARTMENT");
    header.emplace_back("MEMBERS");
  }
  Table t(header);
  for (const json& q : items) {
    std::vector<std::string> row{
        q["name"],
        Str(q["priority"]),
        q["gpu"]["quota"] == -1 ? "unlimited" : Str(q["gpu"]["quota"]),
        Amount(q["gpu"], "limit"),
        Str(q["gpu"]["overQuotaWeight"]),
        q["cpu"]["quota"] == -1 ? "unlimited" : Str(q["cpu"]["quota"]),
        q["memory"]["quota"] == -1 ? "unlimited" : Str(q["memory"]["quota"])};
    if (projects) {
      row.insert(row.begin() + 1, q.value("department", "-"));
      std::string members;
      for (const json& m : q["members"]) {
        members += (members.empty() ? "" : ",") + Str(m["user"]) +
                   (m["role"] == "viewer" ? "(viewer)" : "");
      }
      row.push_back(members.empty() ? "-" : members);
    }
    t.AddRow(row);
  }
  if (t.empty()) {
    std::cout << (projects ? "No projects" : "No departments") << " you can see.\n";
    return;
  }
  t.Print(std::cout);
}

// project and department share create / list / set-quota / delete.
void AddQueueCommands(CLI::App* parent, const std::shared_ptr<ClientFlags>& flags, bool project) {
  const std::string kind = project ? "project" : "department";
  const std::string path = project ? "/api/v1/projects" : "/api/v1/departments";

  auto c_name = std::make_shared<std::string>();
  auto c_flags = std::make_shared<QueueFlags>();
  auto c_json = std::make_shared<bool>(false);
  CLI::App* create = parent->add_subcommand("create", "Create a " + kind + " (admins)");
  create->add_option("name", *c_name, "Name")->required();
  c_flags->Add(create, project);
  create->add_flag("--json", *c_json, "Print JSON");
  create->callback([=] {
    ClientContext ctx(*flags);
    json body = c_flags->Body();
    body["name"] = *c_name;
    json r = ctx.Call("POST", path, body);
    if (*c_json) {
      std::cout << r.dump(2) << "\n";
      return;
    }
    std::cout << "created " << kind << " " << *c_name << "\n";
  });

  auto s_name = std::make_shared<std::string>();
  auto s_flags = std::make_shared<QueueFlags>();
  CLI::App* set = parent->add_subcommand(
      "set-quota", "Change a " + kind + "'s quotas, limits, weights or priority (admins)");
  set->add_option("name", *s_name, "Name")->required();
  s_flags->Add(set, project);
  set->callback([=] {
    ClientContext ctx(*flags);
    json body = s_flags->Body();
    if (body.empty())
      ClientContext::Fail("nothing to change; give at least one of the flags (see --help)");
    json r = ctx.Call("PATCH", path + "/" + UrlEncode(*s_name), body);
    std::cout << "updated " << kind << " " << *s_name << ": GPU quota " << Str(r["gpu"]["quota"])
              << ", limit " << Str(r["gpu"]["limit"]) << ", weight "
              << Str(r["gpu"]["overQuotaWeight"]) << "\n";
  });

  auto l_json = std::make_shared<bool>(false);
  CLI::App* list = parent->add_subcommand("list", "List " + kind + "s");
  list->add_flag("--json", *l_json, "Print JSON");
  list->callback([=] {
    ClientContext ctx(*flags);
    json r = ctx.Call("GET", path);
    if (*l_json) {
      std::cout << r["items"].dump(2) << "\n";
      return;
    }
    PrintQueues(r["items"], project);
  });

  auto d_name = std::make_shared<std::string>();
  CLI::App* del =
      parent->add_subcommand("delete", "Delete a " + kind + " (admins; it must be empty)");
  del->add_option("name", *d_name, "Name")->required();
  del->callback([=] {
    ClientContext ctx(*flags);
    ctx.Call("DELETE", path + "/" + UrlEncode(*d_name));
    std::cout << "deleted " << kind << " " << *d_name << "\n";
  });
}

}  // namespace

void AddAdminCommands(CLI::App& app, const std::shared_ptr<ClientFlags>& flags) {
  CLI::App* project = app.add_subcommand("project", "Projects: quotas, members, your default");
  project->require_subcommand(1);
  AddQueueCommands(project, flags, true);
  auto m_project = std::make_shared<std::string>();
  auto m_user = std::make_shared<std::string>();
  auto m_role = std::make_shared<std::string>("member");
  CLI::App* add = project->add_subcommand("add-member", "Add a user to a project (admins)");
  add->add_option("project", *m_project, "Project")->required();
  add->add_option("user", *m_user, "User name")->required();
  add->add_option("--role", *m_role, "member (submits) or viewer (reads only)")
      ->check(CLI::IsMember({"member", "viewer"}));
  add->callback([=] {
    ClientContext ctx(*flags);
    ctx.Call("POST", "/api/v1/projects/" + UrlEncode(*m_project) + "/members",
             json{{"user", *m_user}, {"role", *m_role}});
    std::cout << *m_user << " is now a " << *m_role << " of " << *m_project << "\n";
  });
  auto r_project = std::make_shared<std::string>();
  auto r_user = std::make_shared<std::string>();
  CLI::App* remove =
      project->add_subcommand("remove-member", "Remove a user from a project (admins)");
  remove->add_option("project", *r_project, "Project")->required();
  remove->add_option("user", *r_user, "User name")->required();
  remove->callback([=] {
    ClientContext ctx(*flags);
    ctx.Call("DELETE",
             "/api/v1/projects/" + UrlEncode(*r_project) + "/members/" + UrlEncode(*r_user));
    std::cout << *r_user << " is no longer in " << *r_project << "\n";
  });
  auto u_project = std::make_shared<std::string>();
  CLI::App* use = project->add_subcommand(
      "use", "Make a project your default for submit, list, describe, delete");
  use->add_option("project", *u_project, "Project")->required();
  use->callback([=] {
    ClientContext ctx(*flags);
    ctx.Call("GET", "/api/v1/projects/" + UrlEncode(*u_project));  // it exists and you are in it
    SetStickyProject(*u_project);
    std::cout << "default project: " << *u_project << "\n";
  });

  CLI::App* department =
      app.add_subcommand("department", "Departments: groups of projects with their own quota");
  department->require_subcommand(1);
  AddQueueCommands(department, flags, false);

  CLI::App* token = app.add_subcommand("token", "API tokens for HTTP access");
  token->require_subcommand(1);
  auto t_user = std::make_shared<std::string>();
  auto t_admin = std::make_shared<bool>(false);
  auto t_desc = std::make_shared<std::string>();
  auto t_json = std::make_shared<bool>(false);
  CLI::App* tcreate = token->add_subcommand("create", "Create a token (shown once)");
  tcreate->add_option("--user", *t_user, "For this user (admins; default: yourself)");
  tcreate->add_flag("--admin", *t_admin, "An admin token (admins)");
  tcreate->add_option("--description", *t_desc, "What it is for");
  tcreate->add_flag("--json", *t_json, "Print JSON");
  tcreate->callback([=] {
    ClientContext ctx(*flags);
    json body{{"admin", *t_admin}, {"description", *t_desc}};
    if (!t_user->empty()) body["user"] = *t_user;
    json r = ctx.Call("POST", "/api/v1/tokens", body);
    if (*t_json) {
      std::cout << r.dump(2) << "\n";
      return;
    }
    std::cout << Str(r["token"]) << "\n";
    std::cerr << "token " << Str(r["id"]) << " for " << Str(r["user"])
              << (r["admin"].get<bool>() ? " (admin)" : "")
              << "; it is shown only now. Use it with --token or SLUICE_TOKEN.\n";
  });
  auto tl_json = std::make_shared<bool>(false);
  CLI::App* tlist = token->add_subcommand("list", "List tokens (admins see all)");
  tlist->add_flag("--json", *tl_json, "Print JSON");
  tlist->callback([=] {
    ClientContext ctx(*flags);
    json r = ctx.Call("GET", "/api/v1/tokens");
    if (*tl_json) {
      std::cout << r["items"].dump(2) << "\n";
      return;
    }
    Table t({"ID", "USER", "ADMIN", "CREATED", "DESCRIPTION"});
    for (const json& k : r["items"]) {
      t.AddRow({k["id"], k["user"], k["admin"].get<bool>() ? "yes" : "no", k["created"],
                Str(k["description"])});
    }
    t.Print(std::cout);
  });
  auto td_id = std::make_shared<std::string>();
  CLI::App* tdel = token->add_subcommand("delete", "Revoke a token");
  tdel->add_option("id", *td_id, "Token id (tok-...)")->required();
  tdel->callback([=] {
    ClientContext ctx(*flags);
    ctx.Call("DELETE", "/api/v1/tokens/" + UrlEncode(*td_id));
    std::cout << "revoked " << *td_id << "\n";
  });

  auto so = std::make_shared<ServerOptions>();
  auto no_listen = std::make_shared<bool>(false);
  auto tbfs = std::make_shared<std::string>();
  CLI::App* server =
      app.add_subcommand("server", "Run the sluice server (API, scheduler, state in SQLite)");
  server->add_option(
      "--data-dir", so->data_dir,
      "Where the database and the admin token live (default: " + DefaultDataDir() + ")");
  server->add_option("--listen", so->listen,
                     "HTTP address (default 127.0.0.1:8080; port 0 picks one)");
  server->add_flag("--no-listen", *no_listen, "No HTTP listener, only the Unix socket");
  so->socket = DefaultSocketPath();
  server->add_option("--socket", so->socket,
                     "Unix socket for local users (default " + DefaultSocketPath() + ")");
  server->add_option(
      "--gpus", so->gpus,
      "auto, or simulated GPUs: sim:8xH100-80GB[,4xA100:40Gi...] (one node per group)");
  server->add_option("--time-based-fair-share", *tbfs,
                     "Turn on time-based fair share with this k (e.g. 1)");
  server->add_option("--debounce-ms", so->debounce_ms,
                     "Delay between a change and the scheduling cycle it triggers (default 2)");
  server
      ->add_option("--executor", so->executor,
                   "local: run workloads as processes (default); sim: hold their GPUs, run nothing")
      ->check(CLI::IsMember({"local", "sim"}));
  server->add_option("--gpu-sharing", so->gpu_sharing,
                     "How GPU fractions are shared: vgpu (the interception library, default), "
                     "mps (MPS on every GPU) or mps:0,2 (MPS on those GPUs)");
  server->add_flag("--mig-dynamic", so->mig_dynamic,
                   "Let the scheduler repartition GPUs in MIG mode that run nothing");
  server->add_option("--telemetry-ms", so->telemetry_ms,
                     "How often GPU utilisation is sampled through NVML (default 5000)");
  server->add_option("--sample-ms", so->sample_ms,
                     "How often the usage history (charts, chargeback) records an interval "
                     "(default 60000)");
  server->add_option("--web-dir", so->web_dir,
                     "The built web UI to serve at / (default: web/dist of this build)");
  server->add_option("--grace-period", so->grace_seconds,
                     "Seconds between SIGTERM and SIGKILL when a pod is stopped (default 30)");
  server->add_option("--jupyter", so->jupyter,
                     "The jupyter-lab program for workspaces (default: .venv/bin/jupyter-lab of "
                     "this checkout, which scripts/setup.sh installs)");
  server->add_option("--public-url", so->public_url,
                     "The URL people reach this server at, for workspace links (default: "
                     "http://LISTEN)");
  server->add_option("--workspace-cull-ms", so->workspace_cull_ms,
                     "How often idle workspaces are looked for (default 60000)");

  // The pod shim the local executor starts for each pod (not for people).
  auto shim = std::make_shared<ShimOptions>();
  CLI::App* pod_shim = app.add_subcommand("pod-shim", "");
  pod_shim->group("");
  pod_shim->add_option("--log", shim->log_path)->required();
  pod_shim->add_option("--exit", shim->exit_path)->required();
  pod_shim->add_option("--uid", shim->uid);
  pod_shim->add_option("--workdir", shim->workdir);
  pod_shim->add_option("--cgroup", shim->cgroups)->allow_extra_args(false);
  pod_shim->add_option("command", shim->command)->required();
  pod_shim->callback([shim] {
    int code = RunPodShim(*shim);
    if (code != 0) throw CLI::RuntimeError(code);
  });
  server->callback([=] {
    ServerOptions o = *so;
    if (*no_listen) o.listen.clear();
    if (!tbfs->empty()) {
      o.time_based_fair_share = true;
      o.time_based_k = *tbfs;
    }
    int code = RunServer(o);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace sluice
