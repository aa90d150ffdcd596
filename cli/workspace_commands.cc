// `sluice workspace create|list|open|stop|start|delete`: notebooks and web
// apps on a share of a GPU, reached through the server's proxy
// (docs/workspaces.md).
#include <chrono>
#include <iostream>
#include <thread>

#include "cli/client_context.h"
#include "cli/table.h"

namespace sluice {
namespace {

using nlohmann::json;

std::string WorkspacePath(const std::string& project, const std::string& name,
                          const std::string& action = "") {
  return "/api/v1/projects/" + UrlEncode(project) + "/workspaces" +
         (name.empty() ? "" : "/" + UrlEncode(name)) + (action.empty() ? "" : "/" + action);
}

std::string GpuText(const json& ws) {
  std::string s = ws.contains("gpuMemory") ? Str(ws["gpuMemory"])
                  : ws.contains("gpu")     ? Str(ws["gpu"])
                                           : "0";
  if (ws.value("gpuDevices", 1) != 1) s += " x" + Str(ws["gpuDevices"]);
  return s;
}

std::string PhaseText(const json& ws) {
  std::string phase = Str(ws["phase"]);
  if (ws.value("stopping", false)) phase += " (stopping)";
  if (ws["idle"].is_object() && ws["idle"].value("idle", false)) {
    phase += " (idle " + Str(ws["idle"]["idleFor"]) + ")";
  }
  return phase;
}

void PrintWorkspaces(const json& items, bool show_project) {
  std::vector<std::string> header{"NAME", "KIND", "PHASE", "GPU", "URL", "MESSAGE"};
  if (show_project) header.insert(header.begin(), "PROJECT");
  Table t(header);
  for (const json& ws : items) {
    std::string message = Str(ws["phase"]) == "Pending"
                              ? "#" + Str(ws["queuePosition"]) + " " + Str(ws["reason"])
                              : Str(ws["message"]);
    std::vector<std::string> row{Str(ws["name"]), Str(ws["kind"]), PhaseText(ws),
                                 GpuText(ws),     Str(ws["url"]),  message.empty() ? "-" : message};
    if (show_project) row.insert(row.begin(), Str(ws["project"]));
    t.AddRow(row);
  }
  if (t.empty()) {
    std::cout << "No workspaces. Create one with: sluice workspace create NAME --jupyter --gpu "
                 "0.25\n";
    return;
  }
  t.Print(std::cout);
}

struct CreateOptions {
  std::string name;
  std::string project;
  bool jupyter = false;
  std::string command;
  int port = 0;
  std::string gpu;
  std::string gpu_memory;
  int gpu_devices = 0;
  std::string cpu;
  std::string memory;
  std::vector<std::string> env;
  bool wait = false;
  bool json_out = false;
};

// Polls until the workspace runs (and, for JupyterLab, answers through the
// proxy) or `seconds` pass; returns the last view.
json WaitRunning(const ClientContext& ctx, const std::string& project, const std::string& name,
                 int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  json ws;
  while (std::chrono::steady_clock::now() < deadline) {
    ws = ctx.Call("GET", WorkspacePath(project, name));
    const std::string phase = Str(ws["phase"]);
    if (phase == "Running" && !ws.value("stopping", false)) {
      const std::string probe = "/ws/" + UrlEncode(project) + "/" + UrlEncode(name) +
                                (ws["kind"] == "jupyter" ? "/api/status" : "/");
      Result<HttpResult> r = ctx.client().Call("GET", probe);
      if (r.ok() && r->status < 500) return ws;
    } else if (phase != "Pending") {
      ClientContext::Fail("workspace " + project + "/" + name + " is " + phase + ": " +
                          Str(ws["message"]));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ClientContext::Fail("workspace " + project + "/" + name + " is not up after " +
                      std::to_string(seconds) + "s (" + PhaseText(ws) + " " + Str(ws["reason"]) +
                      "); `sluice logs " + name + " -p " + project + "` shows its output");
}

void RunCreate(const ClientFlags& flags, const CreateOptions& o) {
  ClientContext ctx(flags);
  const std::string project = ctx.Project(o.project);
  json body{{"name", o.name}};
  if (o.jupyter && !o.command.empty()) ClientContext::Fail("give --jupyter or --command, not both");
  if (!o.command.empty()) {
    if (o.port <= 0) ClientContext::Fail("--command needs --port: where the command listens");
    body["command"] = json::array({"sh", "-c", o.command});
    body["port"] = o.port;
  } else {
    if (o.port > 0) ClientContext::Fail("--port goes with --command; JupyterLab gets its own");
    body["jupyter"] = true;
  }
  if (!o.gpu.empty() && !o.gpu_memory.empty()) {
    ClientContext::Fail("give --gpu or --gpu-memory, not both");
  }
  if (!o.gpu.empty()) body["gpu"] = o.gpu;
  if (!o.gpu_memory.empty()) body["gpuMemory"] = o.gpu_memory;
  if (o.gpu_devices > 0) body["gpuDevices"] = o.gpu_devices;
  if (!o.cpu.empty()) body["cpu"] = o.cpu;
  if (!o.memory.empty()) body["memory"] = o.memory;
  if (!o.env.empty()) {
    json env = json::object();
    for (const std::string& p : o.env) {
      size_t eq = p.find('=');
      if (eq == std::string::npos || eq == 0) {
        ClientContext::Fail("--env: expected KEY=VALUE, got \"" + p + "\"");
      }
      env[p.substr(0, eq)] = p.substr(eq + 1);
    }
    body["env"] = env;
  }
  json ws = ctx.Call("POST", WorkspacePath(project, ""), body);
  if (o.wait) ws = WaitRunning(ctx, project, o.name, 300);
  if (o.json_out) {
    std::cout << ws.dump(2) << "\n";
    return;
  }
  std::cout << "created workspace " << project << "/" << o.name << " (" << PhaseText(ws) << ")\n"
            << "its files: " << Str(ws["workingDir"]) << "\n"
            << "open it with: sluice workspace open " << o.name << " -p " << project << "\n";
  for (const json& warning : ws.value("warnings", json::array())) {
    std::cerr << "warning: " << Str(warning) << "\n";
  }
}

}  // namespace

void AddWorkspaceCommands(CLI::App& app, const std::shared_ptr<ClientFlags>& flags) {
  CLI::App* ws = app.add_subcommand(
      "workspace",
      "Notebooks and web apps on a GPU share: create, list, open, stop, start, delete");
  ws->require_subcommand(1);

  auto co = std::make_shared<CreateOptions>();
  CLI::App* create = ws->add_subcommand(
      "create",
      "Create a workspace: JupyterLab (--jupyter, the default) or --command CMD --port N");
  create->add_option("name", co->name, "Workspace name, unique among the project's workloads")
      ->required();
  create->add_option("-p,--project", co->project, "Project (default: `sluice project use`)");
  create->add_flag("--jupyter", co->jupyter, "Run JupyterLab (the default)");
  create->add_option("--command", co->command,
                     "Run this shell command instead: a web app serving HTTP on 127.0.0.1:PORT "
                     "(VS Code server, TensorBoard, a Gradio demo)");
  create->add_option("--port", co->port, "The port --command listens on");
  create->add_option("--gpu", co->gpu, "GPUs: a fraction (0.25) or a whole number");
  create->add_option("--gpu-memory", co->gpu_memory, "GPU memory instead of --gpu (20Gi)");
  create->add_option("--gpu-devices", co->gpu_devices, "Devices, with a fraction or --gpu-memory");
  create->add_option("--cpu", co->cpu, "CPU (4, 500m)");
  create->add_option("--memory", co->memory, "Host memory (16Gi)");
  create->add_option("-e,--env", co->env, "Environment variable KEY=VALUE (repeatable)");
  create->add_flag("--wait", co->wait, "Wait until it runs and answers (up to 5 minutes)");
  create->add_flag("--json", co->json_out, "Print the workspace as JSON");
  create->callback([flags, co] { RunCreate(*flags, *co); });

  auto l_project = std::make_shared<std::string>();
  auto l_all = std::make_shared<bool>(false);
  auto l_json = std::make_shared<bool>(false);
  CLI::App* list = ws->add_subcommand("list", "List workspaces: phase, GPU, idle, URL");
  list->add_option("-p,--project", *l_project, "Only this project");
  list->add_flag("-A,--all-projects", *l_all, "Every project you can see");
  list->add_flag("--json", *l_json, "Print JSON");
  list->callback([=] {
    ClientContext ctx(*flags);
    std::string project = *l_project;
    if (project.empty() && !*l_all) project = StickyProject();
    json r = ctx.Call(
        "GET", "/api/v1/workspaces" + (project.empty() ? "" : "?project=" + UrlEncode(project)));
    if (*l_json) {
      std::cout << r["items"].dump(2) << "\n";
      return;
    }
    PrintWorkspaces(r["items"], project.empty());
  });

  // open, stop, start and delete take NAME and -p.
  struct Target {
    std::string name;
    std::string project;
    bool flag = false;
  };
  auto named = [&](const std::string& verb, const std::string& help, const char* flag,
                   const char* flag_help) {
    auto t = std::make_shared<Target>();
    CLI::App* cmd = ws->add_subcommand(verb, help);
    cmd->add_option("name", t->name, "Workspace name")->required();
    cmd->add_option("-p,--project", t->project, "Project");
    if (flag != nullptr) cmd->add_flag(flag, t->flag, flag_help);
    return std::make_pair(cmd, t);
  };

  auto [open, ot] =
      named("open", "Print a URL that opens the workspace in a browser (signs you in once)",
            "--wait", "Wait until it runs and answers first");
  open->callback([flags, ot = ot] {
    ClientContext ctx(*flags);
    const std::string project = ctx.Project(ot->project);
    if (ot->flag) WaitRunning(ctx, project, ot->name, 300);
    json r = ctx.Call("POST", WorkspacePath(project, ot->name, "open"));
    std::cout << Str(r["openUrl"]) << "\n";
    std::cerr << "(the link signs in one browser once, within 2 minutes; afterwards "
              << Str(r["url"]) << " works in that browser for 12 hours)\n";
  });

  auto [stop, st] = named("stop", "Suspend a workspace: its GPU is freed, its files are kept",
                          "--wait", "Wait until it is Suspended");
  stop->callback([flags, st = st] {
    ClientContext ctx(*flags);
    const std::string project = ctx.Project(st->project);
    json r = ctx.Call("POST", WorkspacePath(project, st->name, "stop"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (st->flag && Str(r["phase"]) != "Suspended" &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      r = ctx.Call("GET", WorkspacePath(project, st->name));
    }
    std::cout << (Str(r["phase"]) == "Suspended" ? "suspended " : "stopping ") << project << "/"
              << st->name << " (its files are kept; `sluice workspace start " << st->name
              << "` resumes it)\n";
  });

  auto [start, sa] = named("start", "Start a suspended workspace again", "--wait",
                           "Wait until it runs and answers");
  start->callback([flags, sa = sa] {
    ClientContext ctx(*flags);
    const std::string project = ctx.Project(sa->project);
    json r = ctx.Call("POST", WorkspacePath(project, sa->name, "start"));
    if (sa->flag) r = WaitRunning(ctx, project, sa->name, 300);
    std::cout << "started " << project << "/" << sa->name << " (" << PhaseText(r) << ")\n";
  });

  auto [del, dt] = named("delete", "Delete a workspace and its files", nullptr, nullptr);
  del->callback([flags, dt = dt] {
    ClientContext ctx(*flags);
    const std::string project = ctx.Project(dt->project);
    json r = ctx.Call("DELETE", WorkspacePath(project, dt->name));
    std::cout << (r.contains("deleted") ? "deleted " : "stopping and deleting ") << project << "/"
              << dt->name << "\n";
  });
}

}  // namespace sluice
