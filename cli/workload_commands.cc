// Commands for researchers: submit, list, describe, delete, queue, share,
// top and whoami.
#include <iostream>
#include <set>

#include "cli/client_context.h"
#include "cli/table.h"

namespace sluice {
namespace {

using nlohmann::json;

std::string WorkloadPath(const std::string& project, const std::string& name) {
  return "/api/v1/projects/" + UrlEncode(project) + "/workloads" +
         (name.empty() ? "" : "/" + UrlEncode(name));
}

// One workload as a flat object for `list --json`.
json Flat(const json& w) {
  const json& st = w["status"];
  return json{{"id", w["id"]},
              {"name", w["name"]},
              {"project", w["project"]},
              {"user", w["user"]},
              {"phase", st["phase"]},
              {"reason", st["reason"]},
              {"queuePosition", st["queuePosition"]},
              {"allocatedGpu", st["allocatedGpu"]},
              {"usedGpu", st["usedGpu"]},
              {"usedGpuMemory", st.value("usedGpuMemory", json())},
              {"pods", w["spec"]["pods"]},
              {"runningPods", st["placement"].size()},
              {"submitted", st["submitted"]},
              {"started", st.value("started", json())},
              {"ended", st.value("ended", json())},
              {"releasing", st["releasing"]},
              {"message", st["message"]}};
}

std::string GpuRequest(const json& spec) {
  if (spec.contains("mig")) return "MIG " + Str(spec["mig"]);
  if (spec.contains("gpuMemory")) {
    std::string s = Str(spec["gpuMemory"]);
    if (spec.value("gpuDevices", 1) != 1) s += " x" + Str(spec["gpuDevices"]);
    return s;
  }
  if (!spec.contains("gpu")) return "0";
  std::string s = Str(spec["gpu"]);
  if (spec.value("gpuDevices", 1) != 1) s += " x" + Str(spec["gpuDevices"]);
  return s;
}

// Wait for pending workloads, run time for running ones.
std::string TimeColumn(const json& st) {
  const std::string phase = st["phase"];
  if (phase == "Pending") return "waiting " + Ago(MillisSince(st["submitted"]));
  if (phase == "Running" && st.contains("started")) return "up " + Ago(MillisSince(st["started"]));
  if (st.contains("ended")) return "ended " + Ago(MillisSince(st["ended"])) + " ago";
  return "-";
}

void PrintWorkloads(const json& items, bool show_project) {
  std::vector<std::string> header{"NAME", "PHASE", "GPU (REQ/ALLOC/USED)",
                                  "PODS", "TIME",  "REASON"};
  if (show_project) header.insert(header.begin(), "PROJECT");
  Table t(header);
  for (const json& w : items) {
    const json& st = w["status"];
    std::string phase = st["phase"];
    if (st["releasing"].get<bool>()) phase += " (stopping)";
    std::string reason = phase == "Pending"
                             ? "#" + Str(st["queuePosition"]) + " " + Str(st["reason"])
                             : Str(st["message"]);
    std::vector<std::string> row{
        w["name"],
        phase,
        GpuRequest(w["spec"]) + " / " + Str(st["allocatedGpu"]) + " / " +
            (st["usedGpu"].is_null() ? "-" : Str(st["usedGpu"])),
        std::to_string(st["placement"].size()) + "/" + Str(w["spec"]["pods"]),
        TimeColumn(st),
        reason.empty() ? "-" : reason};
    if (show_project) row.insert(row.begin(), w["project"].get<std::string>());
    t.AddRow(row);
  }
  if (t.empty()) {
    std::cout << "No workloads.\n";
    return;
  }
  t.Print(std::cout);
}

// Prints each change of the watch stream; the stream starts with an ADDED
// for every current workload, which the list above already showed.
void Follow(const ClientContext& ctx, const std::string& project, const json& listed,
            bool json_lines) {
  std::string target = "/api/v1/workloads?watch=true";
  if (!project.empty()) target += "&project=" + UrlEncode(project);
  std::set<int64_t> known;
  for (const json& w : listed) known.insert(w["id"].get<int64_t>());
  Status s = ctx.client().Stream(target, [&](const std::string& type, const std::string& data) {
    json w = json::parse(data, nullptr, false);
    if (!w.is_object()) return true;
    const int64_t id = w["id"].get<int64_t>();
    if (type == "ADDED" && known.erase(id) > 0) return true;
    if (json_lines) {
      json line = Flat(w);
      line["event"] = type;
      std::cout << line.dump() << std::endl;
      return true;
    }
    const json& st = w["status"];
    std::string what = Str(st["phase"]);
    if (st["releasing"].get<bool>()) what += " (stopping)";
    if (what == "Pending") what += " #" + Str(st["queuePosition"]) + " " + Str(st["reason"]);
    std::cout << type << " " << Str(w["project"]) << "/" << Str(w["name"]) << ": " << what
              << std::endl;
    return true;
  });
  if (!s.ok()) ClientContext::Fail(s.message());
}

struct SubmitOptions {
  std::string name;
  std::string project;
  std::string gpu;
  std::string gpu_memory;
  int gpu_devices = 0;
  std::string mig;
  std::string cpu;
  std::string memory;
  int pods = 1;
  int min_available = 0;
  bool interactive = false;
  bool inference = false;
  std::string priority;
  bool preemptible = false;
  bool non_preemptible = false;
  std::vector<std::string> gpu_models;
  std::vector<std::string> selectors;
  std::vector<std::string> env;
  std::string workdir;
  int max_retries = -1;
  std::string grace_period;
  bool json_out = false;
  std::vector<std::string> command;
};

json KeyValues(const std::vector<std::string>& pairs, const std::string& flag) {
  json out = json::object();
  for (const std::string& p : pairs) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      ClientContext::Fail(flag + ": expected KEY=VALUE, got \"" + p + "\"");
    }
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

void RunSubmit(const ClientFlags& flags, const SubmitOptions& o) {
  ClientContext ctx(flags);
  const std::string project = ctx.Project(o.project);
  json body{{"name", o.name}};
  if (!o.gpu.empty() && !o.gpu_memory.empty()) {
    ClientContext::Fail("give --gpu or --gpu-memory, not both");
  }
  if (!o.gpu.empty()) body["gpu"] = o.gpu;
  if (!o.mig.empty()) body["mig"] = o.mig;
  if (!o.gpu_memory.empty()) body["gpuMemory"] = o.gpu_memory;
  if (o.gpu_devices > 0) body["gpuDevices"] = o.gpu_devices;
  if (!o.cpu.empty()) body["cpu"] = o.cpu;
  if (!o.memory.empty()) body["memory"] = o.memory;
  body["pods"] = o.pods;
  if (o.min_available > 0) body["minAvailable"] = o.min_available;
  if (!o.priority.empty()) {
    body["priorityClass"] = o.priority;
  } else if (o.inference) {
    body["priorityClass"] = "inference";
  } else if (o.interactive) {
    body["priorityClass"] = "build";
  }
  if (o.preemptible) body["preemptible"] = true;
  if (o.non_preemptible) body["preemptible"] = false;
  if (!o.gpu_models.empty()) body["gpuModel"] = o.gpu_models;
  if (!o.selectors.empty()) body["nodeSelector"] = KeyValues(o.selectors, "--node-selector");
  if (!o.env.empty()) body["env"] = KeyValues(o.env, "--env");
  std::error_code ec;
  body["workingDir"] = o.workdir.empty() ? std::filesystem::current_path(ec).string() : o.workdir;
  body["command"] = o.command;
  if (o.max_retries >= 0) body["maxRetries"] = o.max_retries;
  if (!o.grace_period.empty()) body["gracePeriod"] = o.grace_period;
  json w = ctx.Call("POST", WorkloadPath(project, ""), body);
  if (o.json_out) {
    std::cout << w.dump(2) << "\n";
    return;
  }
  std::cout << "submitted " << Str(w["project"]) << "/" << Str(w["name"]) << " (id " << Str(w["id"])
            << "), queue position " << Str(w["status"]["queuePosition"]) << "\n";
  for (const json& warning : w["warnings"]) std::cerr << "warning: " << Str(warning) << "\n";
  std::cout << "follow it with: sluice describe " << Str(w["name"]) << " -p " << Str(w["project"])
            << "\n";
}

void RunDescribe(const ClientFlags& flags, const std::string& name, const std::string& p,
                 bool json_out) {
  ClientContext ctx(flags);
  const std::string project = ctx.Project(p);
  json w = ctx.Call("GET", WorkloadPath(project, name));
  json events = ctx.Call("GET", WorkloadPath(project, name) + "/events");
  if (json_out) {
    w["events"] = events["items"];
    std::cout << w.dump(2) << "\n";
    return;
  }
  const json& st = w["status"];
  const json& spec = w["spec"];
  std::cout << "Name:        " << Str(w["name"]) << " (id " << Str(w["id"]) << ")\n"
            << "Project:     " << Str(w["project"]) << "\n"
            << "User:        " << Str(w["user"]) << "\n"
            << "Phase:       " << Str(st["phase"])
            << (st["releasing"].get<bool>() ? " (stopping)" : "") << "\n";
  if (Str(st["phase"]) == "Pending") {
    std::cout << "Queue:       position " << Str(st["queuePosition"]) << "\n"
              << "Reason:      " << Str(st["reason"]) << "\n";
  }
  if (!Str(st["message"]).empty() && Str(st["message"]) != "-") {
    std::cout << "Message:     " << Str(st["message"]) << "\n";
  }
  std::cout << "Class:       " << Str(spec["priorityClass"])
            << (spec["preemptible"].get<bool>() ? ", preemptible" : ", not preemptible") << "\n"
            << "Pods:        " << st["placement"].size() << " running of " << Str(spec["pods"])
            << " (at least " << Str(spec["minAvailable"]) << ")\n"
            << "GPU:         " << GpuRequest(spec) << " per pod; allocated "
            << Str(st["allocatedGpu"]) << ", used "
            << (st["usedGpu"].is_null() ? "unknown" : Str(st["usedGpu"])) << "\n"
            << "Submitted:   " << Str(st["submitted"]) << "\n";
  if (st.contains("started")) std::cout << "Started:     " << Str(st["started"]) << "\n";
  if (st.contains("ended")) std::cout << "Ended:       " << Str(st["ended"]) << "\n";
  if (st.contains("evictions") && st["evictions"].get<int>() > 0) {
    std::cout << "Evictions:   " << Str(st["evictions"]) << "\n";
  }
  std::string cmd;
  for (const json& a : spec["command"]) cmd += (cmd.empty() ? "" : " ") + Str(a);
  std::cout << "Command:     " << (cmd.empty() ? "-" : cmd) << "\n";
  if (!st["placement"].empty()) {
    std::cout << "Placement:\n";
    for (const json& p2 : st["placement"]) {
      std::cout << "  " << Str(p2["node"]) << " GPUs " << p2["gpus"].dump()
                << (p2.contains("gpuFraction") ? " x " + Str(p2["gpuFraction"]) : "") << "\n";
    }
  }
  std::cout << "Events:\n";
  Table t({"  TIME", "KIND", "MESSAGE"});
  for (const json& e : events["items"])
    t.AddRow({"  " + Str(e["time"]), Str(e["kind"]), Str(e["message"])});
  t.Print(std::cout);
}

}  // namespace

void AddWorkloadCommands(CLI::App& app, const std::shared_ptr<ClientFlags>& flags) {
  auto submit_opts = std::make_shared<SubmitOptions>();
  CLI::App* submit = app.add_subcommand(
      "submit", "Submit a workload: sluice submit NAME [-p PROJECT] [--gpu 0.5] -- CMD ARGS...");
  submit->add_option("name", submit_opts->name, "Workload name, unique in its project")->required();
  submit->add_option("-p,--project", submit_opts->project,
                     "Project (default: `sluice project use`)");
  submit->add_option("--gpu", submit_opts->gpu, "GPUs per pod: a whole number or a fraction (0.5)");
  submit->add_option("--gpu-memory", submit_opts->gpu_memory,
                     "GPU memory per pod instead of --gpu (20Gi)");
  submit->add_option("--mig", submit_opts->mig,
                     "A MIG instance per pod instead of --gpu (1g.10gb, 3g.40gb; see docs/mig.md)");
  submit->add_option("--gpu-devices", submit_opts->gpu_devices,
                     "Devices per pod with a fraction or --gpu-memory");
  submit->add_option("--cpu", submit_opts->cpu, "CPU per pod (8, 500m)");
  submit->add_option("--memory", submit_opts->memory, "Host memory per pod (64Gi)");
  submit->add_option("--pods", submit_opts->pods, "Replicas (default 1)");
  submit->add_option("--min-available", submit_opts->min_available,
                     "Gang size: fewest pods that may run (default: all)");
  submit->add_flag("--interactive", submit_opts->interactive,
                   "An interactive or build workload (priority class build, not preemptible)");
  submit->add_flag("--inference", submit_opts->inference,
                   "An inference service (priority class inference)");
  submit->add_option("--priority", submit_opts->priority,
                     "Priority class: train, build, build-preemptible, inference");
  submit->add_flag("--preemptible", submit_opts->preemptible,
                   "May be preempted (may run over quota)");
  submit->add_flag("--non-preemptible", submit_opts->non_preemptible,
                   "Never preempted (runs only within quota)");
  submit->add_option("--gpu-model", submit_opts->gpu_models, "Acceptable GPU model (repeatable)");
  submit->add_option("--node-selector", submit_opts->selectors,
                     "Node label KEY=VALUE (repeatable)");
  submit->add_option("-e,--env", submit_opts->env, "Environment variable KEY=VALUE (repeatable)");
  submit->add_option("--grace-period", submit_opts->grace_period,
                     "Time between SIGTERM and SIGKILL when stopped (e.g. 2m; default: the "
                     "server's, 30s)");
  submit->add_option("--max-retries", submit_opts->max_retries,
                     "Start a failed run again up to this many times (default 0; inference "
                     "always restarts)");
  submit->add_option("--workdir", submit_opts->workdir,
                     "Working directory (default: the current one)");
  submit->add_flag("--json", submit_opts->json_out, "Print the workload as JSON");
  submit->add_option("command", submit_opts->command, "The command to run, after --");
  submit->callback([flags, submit_opts] { RunSubmit(*flags, *submit_opts); });

  auto list_project = std::make_shared<std::string>();
  auto list_all = std::make_shared<bool>(false);
  auto list_json = std::make_shared<bool>(false);
  auto list_active = std::make_shared<bool>(false);
  auto list_watch = std::make_shared<bool>(false);
  CLI::App* list = app.add_subcommand("list", "List workloads: status, GPUs, wait, reason");
  list->add_option("-p,--project", *list_project, "Only this project");
  list->add_flag("-A,--all-projects", *list_all,
                 "Every project you can see (default: your default project if set)");
  list->add_flag("--active", *list_active, "Only pending and running workloads");
  list->add_flag("--json", *list_json, "Print a JSON list of {name, project, phase, reason, ...}");
  list->add_flag("-w,--watch", *list_watch,
                 "After the list, print each change as it happens (one line, or one JSON "
                 "object per line with --json) until interrupted");
  list->callback([=] {
    ClientContext ctx(*flags);
    std::string project = *list_project;
    if (project.empty() && !*list_all) project = StickyProject();
    std::string target = "/api/v1/workloads?";
    if (!project.empty()) target += "project=" + UrlEncode(project) + "&";
    if (*list_active) target += "active=true";
    json r = ctx.Call("GET", target);
    if (*list_json) {
      json out = json::array();
      for (const json& w : r["items"]) out.push_back(Flat(w));
      std::cout << out.dump(2) << "\n";
      if (*list_watch) Follow(ctx, project, r["items"], true);
      return;
    }
    PrintWorkloads(r["items"], project.empty());
    if (*list_watch) Follow(ctx, project, r["items"], false);
  });

  auto d_name = std::make_shared<std::string>();
  auto d_project = std::make_shared<std::string>();
  auto d_json = std::make_shared<bool>(false);
  CLI::App* describe = app.add_subcommand("describe", "Show one workload with its events");
  describe->add_option("name", *d_name, "Workload name")->required();
  describe->add_option("-p,--project", *d_project, "Project");
  describe->add_flag("--json", *d_json, "Print JSON");
  describe->callback([=] { RunDescribe(*flags, *d_name, *d_project, *d_json); });

  auto del_names = std::make_shared<std::vector<std::string>>();
  auto del_project = std::make_shared<std::string>();
  CLI::App* del = app.add_subcommand("delete", "Delete workloads (running ones are stopped first)");
  del->add_option("names", *del_names, "Workload names")->required();
  del->add_option("-p,--project", *del_project, "Project");
  del->callback([=] {
    ClientContext ctx(*flags);
    const std::string project = ctx.Project(*del_project);
    for (const std::string& n : *del_names) {
      json r = ctx.Call("DELETE", WorkloadPath(project, n));
      std::cout << (r.contains("deleted") ? "deleted " : "stopping ") << project << "/" << n
                << "\n";
    }
  });

  auto l_name = std::make_shared<std::string>();
  auto l_project = std::make_shared<std::string>();
  auto l_pod = std::make_shared<int>(0);
  auto l_follow = std::make_shared<bool>(false);
  CLI::App* logs = app.add_subcommand("logs", "Print a workload's output (stdout and stderr)");
  logs->add_option("name", *l_name, "Workload name")->required();
  logs->add_option("-p,--project", *l_project, "Project");
  logs->add_option("--pod", *l_pod, "Pod index for multi-pod workloads (default 0)");
  logs->add_flag("-f,--follow", *l_follow,
                 "Keep printing output as it comes, until the workload ends");
  logs->callback([=] {
    ClientContext ctx(*flags);
    const std::string project = ctx.Project(*l_project);
    const std::string target = WorkloadPath(project, *l_name) +
                               "/logs?pod=" + std::to_string(*l_pod) +
                               (*l_follow ? "&follow=true" : "");
    if (!*l_follow) {
      Result<HttpResult> r = ctx.client().Call("GET", target);
      if (!r.ok()) ClientContext::Fail(r.status().message());
      if (r->status >= 400) ClientContext::Fail(r->ErrorMessage());
      std::cout << r->body << std::flush;
      return;
    }
    Status s = ctx.client().StreamRaw(target, [](const std::string& chunk) {
      std::cout << chunk << std::flush;
      return true;
    });
    if (!s.ok()) ClientContext::Fail(s.message());
  });

  auto q_project = std::make_shared<std::string>();
  auto q_json = std::make_shared<bool>(false);
  CLI::App* queue =
      app.add_subcommand("queue", "Pending workloads in queue order, with why they wait");
  queue->add_option("-p,--project", *q_project, "Only this project");
  queue->add_flag("--json", *q_json, "Print JSON");
  queue->callback([=] {
    ClientContext ctx(*flags);
    std::string target = "/api/v1/workloads?active=true";
    if (!q_project->empty()) target += "&project=" + UrlEncode(*q_project);
    json r = ctx.Call("GET", target);
    json pending = json::array();
    for (const json& w : r["items"]) {
      if (w["status"]["phase"] == "Pending") pending.push_back(w);
    }
    std::stable_sort(pending.begin(), pending.end(), [](const json& a, const json& b) {
      if (a["project"] != b["project"])
        return a["project"].get<std::string>() < b["project"].get<std::string>();
      return a["status"]["queuePosition"].get<int>() < b["status"]["queuePosition"].get<int>();
    });
    if (*q_json) {
      json out = json::array();
      for (const json& w : pending) out.push_back(Flat(w));
      std::cout << out.dump(2) << "\n";
      return;
    }
    Table t({"PROJECT", "POSITION", "NAME", "CLASS", "GPU", "WAITING", "REASON"});
    for (const json& w : pending) {
      t.AddRow({w["project"], Str(w["status"]["queuePosition"]), w["name"],
                Str(w["spec"]["priorityClass"]), GpuRequest(w["spec"]),
                Ago(MillisSince(w["status"]["submitted"])), Str(w["status"]["reason"])});
    }
    if (t.empty()) {
      std::cout << "Nothing is waiting.\n";
      return;
    }
    t.Print(std::cout);
  });

  auto s_json = std::make_shared<bool>(false);
  CLI::App* share =
      app.add_subcommand("share", "Fair share vs quota vs allocation per queue (like sshare)");
  share->add_flag("--json", *s_json, "Print JSON");
  share->callback([=] {
    ClientContext ctx(*flags);
    json r = ctx.Call("GET", "/api/v1/queues");
    if (*s_json) {
      std::cout << r["items"].dump(2) << "\n";
      return;
    }
    Table t({"QUEUE", "KIND", "PRIORITY", "GPU QUOTA", "LIMIT", "WEIGHT", "FAIR SHARE", "ALLOCATED",
             "RUNNING", "PENDING"});
    for (const json& q : r["items"]) {
      std::string name = q["parent"].is_null() ? Str(q["name"]) : "  " + Str(q["name"]);
      auto amount = [](const json& v) { return v == -1 ? std::string("-") : Str(v); };
      t.AddRow({name, Str(q["kind"]), Str(q["priority"]),
                q["gpuQuota"] == -1 ? "unlimited" : Str(q["gpuQuota"]), amount(q["gpuLimit"]),
                Str(q["gpuOverQuotaWeight"]),
                q["fairShare"].is_null() ? "-" : Str(q["fairShare"]["gpu"]), Str(q["allocatedGpu"]),
                Str(q["running"]), Str(q["pending"])});
    }
    if (t.empty()) {
      std::cout << "No departments or projects yet; an admin creates them with `sluice project "
                   "create`.\n";
      return;
    }
    t.Print(std::cout);
  });

  auto top_what = std::make_shared<std::string>();
  auto top_json = std::make_shared<bool>(false);
  CLI::App* top = app.add_subcommand("top", "GPU allocation by node or by project");
  top->add_option("what", *top_what, "nodes or projects")
      ->required()
      ->check(CLI::IsMember({"nodes", "projects"}));
  top->add_flag("--json", *top_json, "Print JSON");
  top->callback([=] {
    ClientContext ctx(*flags);
    if (*top_what == "nodes") {
      json r = ctx.Call("GET", "/api/v1/nodes");
      if (*top_json) {
        std::cout << r["items"].dump(2) << "\n";
        return;
      }
      Table t({"NODE", "GPU", "MODEL", "MEMORY", "ALLOCATED", "UTILIZATION", "WORKLOADS"});
      for (const json& n : r["items"]) {
        for (const json& g : n["gpus"]) {
          std::string holders;
          for (const json& h : g["workloads"]) holders += (holders.empty() ? "" : ",") + Str(h);
          t.AddRow({n["name"], Str(g["index"]), Str(g["model"]), Str(g["memory"]),
                    Str(g["allocated"]), g["utilization"].is_null() ? "-" : Str(g["utilization"]),
                    holders.empty() ? "-" : holders});
        }
      }
      t.Print(std::cout);
      return;
    }
    json r = ctx.Call("GET", "/api/v1/queues");
    json projects = json::array();
    for (const json& q : r["items"]) {
      if (q["kind"] == "project") projects.push_back(q);
    }
    if (*top_json) {
      std::cout << projects.dump(2) << "\n";
      return;
    }
    Table t({"PROJECT", "ALLOCATED GPU", "FAIR SHARE", "QUOTA", "RUNNING", "PENDING", "GPU-HOURS"});
    for (const json& q : projects) {
      t.AddRow({q["name"], Str(q["allocatedGpu"]),
                q["fairShare"].is_null() ? "-" : Str(q["fairShare"]["gpu"]),
                q["gpuQuota"] == -1 ? "unlimited" : Str(q["gpuQuota"]), Str(q["running"]),
                Str(q["pending"]), Str(q["gpuHours"])});
    }
    t.Print(std::cout);
  });

  auto w_json = std::make_shared<bool>(false);
  CLI::App* whoami =
      app.add_subcommand("whoami", "Who the server thinks you are, and your projects");
  whoami->add_flag("--json", *w_json, "Print JSON");
  whoami->callback([=] {
    ClientContext ctx(*flags);
    json me = ctx.Call("GET", "/api/v1/whoami");
    if (*w_json) {
      std::cout << me.dump(2) << "\n";
      return;
    }
    std::cout << Str(me["user"]) << (me["admin"].get<bool>() ? " (admin)" : "") << " on "
              << ctx.client().Where() << "\n";
    for (const json& p : me["projects"])
      std::cout << "  " << Str(p["project"]) << ": " << Str(p["role"]) << "\n";
  });
}

}  // namespace sluice
