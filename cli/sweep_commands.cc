// `sluice sweep submit|list|describe|stop|resume|delete` and `sluice report`.
//
// A sweep spec is YAML (or JSON, which is YAML); the CLI reads it into JSON,
// checks it with the server's own decoder so that a bad spec is refused with
// FILE:LINE:COLUMN, the field and the reason before anything is sent, and
// submits it.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/client_context.h"
#include "cli/table.h"
#include "server/sweeps.h"

namespace sluice {
namespace {

using nlohmann::json;

std::string SweepsPath(const std::string& project, const std::string& name = "") {
  return "/api/v1/projects/" + UrlEncode(project) + "/sweeps" +
         (name.empty() ? "" : "/" + UrlEncode(name));
}

// A plain (unquoted) YAML scalar as JSON: null, true/false, a whole number,
// a real, or else a string. Quoted scalars are always strings.
json Scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  char* end = nullptr;
  errno = 0;
  const long long i = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() + s.size() && errno == 0) return static_cast<int64_t>(i);
  const double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str() + s.size() && std::isfinite(d) &&
      s.find_first_of("0123456789") != std::string::npos) {
    return d;
  }
  return s;
}

// YAML to JSON, remembering where each field was (by its path, "sweep.budget").
json ToJson(const YAML::Node& n, const std::string& path,
            std::map<std::string, YAML::Mark>* marks) {
  (*marks)[path] = n.Mark();
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : n) {
        const std::string key = kv.first.Scalar();
        (*marks)[path + "." + key] = kv.first.Mark();
        out[key] = ToJson(kv.second, path + "." + key, marks);
        (*marks)[path + "." + key] = kv.first.Mark();
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (size_t i = 0; i < n.size(); ++i) {
        out.push_back(ToJson(n[i], path + "[" + std::to_string(i) + "]", marks));
      }
      return out;
    }
    case YAML::NodeType::Scalar:
      return Scalar(n);
    default:
      return nullptr;
  }
}

// Prefixes each error line ("sweep.budget.parallelism: ...") with where the
// field is in the file: the longest known path the line starts with.
std::string WithPositions(const std::string& errors, const std::string& file,
                          const std::map<std::string, YAML::Mark>& marks) {
  std::istringstream in(errors);
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    const std::string path = line.substr(0, line.find(": "));
    const YAML::Mark* best = nullptr;
    size_t best_len = 0;
    for (const auto& [p, mark] : marks) {
      const bool prefix =
          path.compare(0, p.size(), p) == 0 &&
          (path.size() == p.size() || path[p.size()] == '.' || path[p.size()] == '[');
      if (prefix && p.size() >= best_len) {
        best = &mark;
        best_len = p.size();
      }
    }
    out += file;
    if (best != nullptr && best->line >= 0) {
      out += ":" + std::to_string(best->line + 1) + ":" + std::to_string(best->column + 1);
    }
    out += ": " + line + "\n";
  }
  return out;
}

// Reads and checks a spec file; on a problem prints every one and exits 2.
json ReadSpec(const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    std::cerr << "sluice: error: cannot read " << file << "\n";
    throw CLI::RuntimeError(2);
  }
  std::stringstream text;
  text << in.rdbuf();
  std::map<std::string, YAML::Mark> marks;
  json spec;
  try {
    spec = ToJson(YAML::Load(text.str()), "sweep", &marks);
  } catch (const YAML::Exception& e) {
    std::cerr << file << ":" << e.mark.line + 1 << ":" << e.mark.column + 1
              << ": not valid YAML: " << e.msg << "\n";
    throw CLI::RuntimeError(2);
  }
  Result<SweepSpec> checked = DecodeSweepSpec(spec, "sweep");
  if (!checked.ok()) {
    std::cerr << WithPositions(checked.status().message(), file, marks);
    std::cerr << "sluice: error: the sweep spec is not valid; nothing was submitted (see "
                 "docs/sweeps.md)\n";
    throw CLI::RuntimeError(2);
  }
  return spec;
}

std::string Number(const json& v) {
  if (v.is_null()) return "-";
  if (!v.is_number()) return Str(v);
  std::ostringstream s;
  s.precision(5);
  s << v.get<double>();
  return s.str();
}

std::string ParamsText(const json& params) {
  std::string out;
  for (const auto& [k, v] : params.items()) {
    std::string value = v.is_number_float() ? Number(v) : Str(v);
    out += (out.empty() ? "" : " ") + k + "=" + value;
  }
  return out;
}

void PrintSweeps(const json& items) {
  Table t({"PROJECT", "NAME", "STATE", "METHOD", "TRIALS", "IN FLIGHT", "BEST", "MESSAGE"});
  for (const json& s : items) {
    const json& st = s["status"];
    t.AddRow({Str(s["project"]), Str(s["name"]), Str(s["state"]), Str(s["spec"]["method"]),
              Str(st["trialsCreated"]) + "/" + Str(s["spec"]["budget"]["maxTrials"]),
              Str(st["inFlight"]) + "/" + Str(s["spec"]["budget"]["parallelism"]),
              s["best"].is_null() ? "-" : Number(s["best"]["value"]),
              Str(st["message"]).empty() ? "-" : Str(st["message"])});
  }
  if (t.empty()) {
    std::cout << "No sweeps.\n";
    return;
  }
  t.Print(std::cout);
}

void PrintSweep(const json& s) {
  const json& st = s["status"];
  const json& spec = s["spec"];
  std::cout << "Name:        " << Str(s["name"]) << " (id " << Str(s["id"]) << ")\n"
            << "Project:     " << Str(s["project"]) << "\n"
            << "User:        " << Str(s["user"]) << "\n"
            << "State:       " << Str(s["state"]) << "\n";
  if (!Str(st["message"]).empty()) std::cout << "Message:     " << Str(st["message"]) << "\n";
  std::cout << "Method:      " << Str(spec["method"]) << " (seed " << Str(s["seed"]) << ")\n"
            << "Metric:      " << Str(s["metric"]["name"]) << " (" << Str(s["metric"]["goal"])
            << ")\n"
            << "Early stop:  " << Str(spec["earlyStopping"]["type"]) << "\n"
            << "Trials:      " << Str(st["trialsCreated"]) << " of "
            << Str(spec["budget"]["maxTrials"]) << " created, " << Str(st["inFlight"])
            << " in flight (at most " << Str(spec["budget"]["parallelism"]) << ", peak "
            << Str(st["peakInFlight"]) << ")\n"
            << "Budget left: " << Str(st["budgetLeft"]["trials"]) << " trials, "
            << Str(st["budgetLeft"]["failures"]) << " failures (" << Str(st["failures"])
            << " failed)\n";
  if (s["best"].is_null()) {
    std::cout << "Best:        none yet\n";
  } else {
    std::cout << "Best:        trial " << Str(s["best"]["trial"]) << ", "
              << Str(s["metric"]["name"]) << " " << Number(s["best"]["value"]) << " with "
              << ParamsText(s["best"]["parameters"]) << "\n";
  }
  std::cout << "Trials:\n";
  Table t({"  #", "STATE", "PARAMETERS", "LAST", "BEST", "STEPS", "RESTARTS", "WORKLOAD"});
  for (const json& tr : s["trials"]) {
    t.AddRow({"  " + Str(tr["index"]), Str(tr["state"]), ParamsText(tr["parameters"]),
              Number(tr["last"]), Number(tr["best"]), Str(tr["steps"]), Str(tr["restarts"]),
              Str(tr["workload"])});
  }
  t.Print(std::cout);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

void RunReport(int64_t step, const std::vector<std::string>& pairs) {
  const std::string token = Env("SLUICE_REPORT_TOKEN");
  if (token.empty()) {
    ClientContext::Fail(
        "no SLUICE_REPORT_TOKEN: `sluice report` runs inside a sweep's trial, where sluice sets "
        "it");
  }
  json metrics = json::object();
  for (const std::string& p : pairs) {
    const size_t eq = p.find('=');
    char* end = nullptr;
    const std::string value = eq == std::string::npos ? "" : p.substr(eq + 1);
    const double d = std::strtod(value.c_str(), &end);
    if (eq == std::string::npos || eq == 0 || value.empty() ||
        end != value.c_str() + value.size() || !std::isfinite(d)) {
      ClientContext::Fail("expected METRIC=NUMBER, got \"" + p + "\"");
    }
    metrics[p.substr(0, eq)] = d;
  }
  if (metrics.empty()) ClientContext::Fail("give at least one METRIC=NUMBER");
  ClientConfig config;
  config.token = token;
  config.socket = Env("SLUICE_REPORT_SOCKET");
  if (config.socket.empty() || !std::filesystem::exists(config.socket)) {
    config.socket.clear();
    config.server = Env("SLUICE_REPORT_URL");
  }
  if (config.socket.empty() && config.server.empty()) {
    ClientContext::Fail("no SLUICE_REPORT_SOCKET or SLUICE_REPORT_URL to report to");
  }
  ApiClient client(config);
  Result<HttpResult> r =
      client.Call("POST", "/api/v1/report", json{{"step", step}, {"metrics", metrics}}.dump());
  if (!r.ok()) ClientContext::Fail(r.status().message());
  if (r->status >= 400) ClientContext::Fail(r->ErrorMessage());
  if (r->json.value("stop", false)) {
    std::cout << "stop: " << r->json.value("reason", std::string("the sweep stopped this trial"))
              << "\n";
  }
}

}  // namespace

void AddSweepCommands(CLI::App& app, const std::shared_ptr<ClientFlags>& flags) {
  CLI::App* sweep = app.add_subcommand(
      "sweep", "Hyperparameter sweeps: submit -f sweep.yaml, list, describe, stop, resume, delete");
  sweep->require_subcommand(1);

  auto file = std::make_shared<std::string>();
  auto project = std::make_shared<std::string>();
  auto json_out = std::make_shared<bool>(false);
  CLI::App* submit = sweep->add_subcommand("submit", "Submit a sweep from its spec (YAML)");
  submit->add_option("-f,--file", *file, "The sweep spec (see docs/sweeps.md)")->required();
  submit->add_option("-p,--project", *project,
                     "Project (default: the spec's project, else `sluice project use`)");
  submit->add_flag("--json", *json_out, "Print the sweep as JSON");
  submit->callback([=] {
    json spec = ReadSpec(*file);
    ClientContext ctx(*flags);
    std::string p = *project;
    if (p.empty() && spec.contains("project") && spec["project"].is_string()) p = spec["project"];
    p = ctx.Project(p);
    json s = ctx.Call("POST", SweepsPath(p), spec);
    if (*json_out) {
      std::cout << s.dump(2) << "\n";
      return;
    }
    std::cout << "submitted sweep " << Str(s["project"]) << "/" << Str(s["name"]) << " (id "
              << Str(s["id"]) << "): up to " << Str(s["spec"]["budget"]["maxTrials"]) << " trials, "
              << Str(s["spec"]["budget"]["parallelism"]) << " at a time\n"
              << "follow it with: sluice sweep describe " << Str(s["name"]) << " -p "
              << Str(s["project"]) << "\n";
  });

  auto list_project = std::make_shared<std::string>();
  auto list_json = std::make_shared<bool>(false);
  CLI::App* list = sweep->add_subcommand("list", "List sweeps: state, trials, best value");
  list->add_option("-p,--project", *list_project, "Only this project");
  list->add_flag("--json", *list_json, "Print the sweeps as JSON");
  list->callback([=] {
    ClientContext ctx(*flags);
    std::string target = "/api/v1/sweeps";
    if (!list_project->empty()) target += "?project=" + UrlEncode(*list_project);
    json r = ctx.Call("GET", target);
    if (*list_json) {
      std::cout << r["items"].dump(2) << "\n";
      return;
    }
    PrintSweeps(r["items"]);
  });

  auto name = std::make_shared<std::string>();
  auto d_project = std::make_shared<std::string>();
  auto d_json = std::make_shared<bool>(false);
  CLI::App* describe = sweep->add_subcommand(
      "describe",
      "A sweep's trials (parameters, state, last and best metric, steps), its best "
      "trial and the budget left");
  describe->add_option("name", *name, "The sweep")->required();
  describe->add_option("-p,--project", *d_project, "Project (default: `sluice project use`)");
  describe->add_flag("--json", *d_json,
                     "Print JSON: state, trials (parameters, state, best, history), best");
  describe->callback([=] {
    ClientContext ctx(*flags);
    json s = ctx.Call("GET", SweepsPath(ctx.Project(*d_project), *name));
    if (*d_json) {
      std::cout << s.dump(2) << "\n";
      return;
    }
    PrintSweep(s);
  });

  for (const char* action : {"stop", "resume", "delete"}) {
    auto n = std::make_shared<std::string>();
    auto p = std::make_shared<std::string>();
    const std::string a = action;
    CLI::App* cmd = sweep->add_subcommand(
        a, a == "stop"     ? "Stop a sweep: its trials stop, no new ones start"
           : a == "resume" ? "Resume a stopped sweep: its stopped trials start again with the same "
                             "parameters, and new ones follow"
                           : "Delete a sweep that is not running (its trials' workloads stay)");
    cmd->add_option("name", *n, "The sweep")->required();
    cmd->add_option("-p,--project", *p, "Project (default: `sluice project use`)");
    cmd->callback([=] {
      ClientContext ctx(*flags);
      const std::string proj = ctx.Project(*p);
      if (a == "delete") {
        ctx.Call("DELETE", SweepsPath(proj, *n));
        std::cout << "deleted sweep " << proj << "/" << *n << "\n";
        return;
      }
      json s = ctx.Call("POST", SweepsPath(proj, *n) + "/" + a);
      std::cout << "sweep " << proj << "/" << *n << ": " << Str(s["state"]) << "\n";
    });
  }

  auto step = std::make_shared<int64_t>(-1);
  auto pairs = std::make_shared<std::vector<std::string>>();
  CLI::App* report = app.add_subcommand(
      "report",
      "Report a sweep trial's metrics at a step, from inside the trial: sluice report --step 3 "
      "val_loss=0.42 acc=0.9");
  report->add_option("--step", *step, "The step (0 or more)")->required();
  report->add_option("metrics", *pairs, "METRIC=NUMBER ...")->required();
  report->callback([=] { RunReport(*step, *pairs); });
}

}  // namespace sluice
