#include "server/api_router.h"

#include <charconv>

namespace sluice {
namespace {

using nlohmann::json;

ApiResponse MethodNotAllowed(const ApiRequest& req, const std::string& allowed) {
  ApiResponse r = ApiResponse::Error(405, req.method + " is not allowed here; use " + allowed);
  return r;
}

// Parses the body as JSON, or replies 400.
bool Body(const ApiRequest& req, const Reply& reply, json* out) {
  Result<json> j = ParseJsonText(req.body, "the request body");
  if (!j.ok()) {
    reply(ApiResponse::FromStatus(j.status()));
    return false;
  }
  *out = std::move(j).value();
  return true;
}

// api v1 projects P workspaces [NAME [stop|start|open]]
void Workspaces(ControlPlane& cp, const ApiRequest& req, const Caller& c,
                const std::string& project, const Reply& reply) {
  const auto& s = req.segments;
  json body;
  if (s.size() == 5) {
    if (req.method == "GET") return reply(cp.ListWorkspaces(c, project));
    if (req.method == "POST") {
      if (Body(req, reply, &body)) cp.CreateWorkspace(c, project, body, reply);
      return;
    }
    return reply(MethodNotAllowed(req, "GET or POST"));
  }
  const std::string& name = s[5];
  if (s.size() == 6) {
    if (req.method == "GET") return reply(cp.GetWorkspace(c, project, name));
    if (req.method == "DELETE") return cp.DeleteWorkspace(c, project, name, reply);
    return reply(MethodNotAllowed(req, "GET or DELETE"));
  }
  if (s.size() == 7 && (s[6] == "stop" || s[6] == "start" || s[6] == "open")) {
    if (req.method != "POST") return reply(MethodNotAllowed(req, "POST"));
    if (s[6] == "stop") return cp.StopWorkspace(c, project, name, reply);
    if (s[6] == "start") return cp.StartWorkspace(c, project, name, reply);
    return reply(cp.OpenWorkspace(c, project, name));
  }
  reply(ApiResponse::Error(404, "no such API path; see docs/api.md"));
}

void Projects(ControlPlane& cp, const ApiRequest& req, const Caller& c, const Reply& reply) {
  const auto& s = req.segments;  // api v1 projects [name [members|workloads [x [events]]]]
  json body;
  if (s.size() == 3) {
    if (req.method == "GET") return reply(cp.ListProjects(c));
    if (req.method == "POST") {
      if (Body(req, reply, &body)) cp.CreateProject(c, body, reply);
      return;
    }
    return reply(MethodNotAllowed(req, "GET or POST"));
  }
  const std::string& name = s[3];
  if (s.size() == 4) {
    if (req.method == "GET") return reply(cp.GetProject(c, name));
    if (req.method == "PATCH") {
      if (Body(req, reply, &body)) cp.UpdateProject(c, name, body, reply);
      return;
    }
    if (req.method == "DELETE") return cp.DeleteProject(c, name, reply);
    return reply(MethodNotAllowed(req, "GET, PATCH or DELETE"));
  }
  if (s[4] == "members") {
    if (s.size() == 5 && req.method == "POST") {
      if (Body(req, reply, &body)) cp.SetMember(c, name, body, reply);
      return;
    }
    if (s.size() == 6 && req.method == "DELETE") return cp.RemoveMember(c, name, s[5], reply);
    return reply(MethodNotAllowed(req, "POST .../members or DELETE .../members/USER"));
  }
  if (s[4] == "workspaces") return Workspaces(cp, req, c, name, reply);
  if (s[4] == "workloads") {
    if (s.size() == 5) {
      if (req.method == "GET") return reply(cp.ListWorkloads(c, name, !QueryFlag(req, "active")));
      if (req.method == "POST") {
        if (Body(req, reply, &body)) cp.Submit(c, name, body, reply, QueryFlag(req, "dryRun"));
        return;
      }
      return reply(MethodNotAllowed(req, "GET or POST"));
    }
    if (s.size() == 6) {
      if (req.method == "GET") return reply(cp.GetWorkload(c, name, s[5]));
      if (req.method == "DELETE") return cp.DeleteWorkload(c, name, s[5], reply);
      return reply(MethodNotAllowed(req, "GET or DELETE"));
    }
    if (s.size() == 7 && s[6] == "events") {
      if (req.method != "GET") return reply(MethodNotAllowed(req, "GET"));
      return reply(cp.ListEvents(c, name, s[5], 1000));
    }
  }
  if (s[4] == "sweeps") {
    if (s.size() == 5) {
      if (req.method == "GET") return reply(cp.ListSweeps(c, name));
      if (req.method == "POST") {
        if (Body(req, reply, &body)) cp.SubmitSweep(c, name, body, reply);
        return;
      }
      return reply(MethodNotAllowed(req, "GET or POST"));
    }
    if (s.size() == 6) {
      if (req.method == "GET") return reply(cp.GetSweep(c, name, s[5]));
      if (req.method == "DELETE") return cp.ChangeSweep(c, name, s[5], "delete", reply);
      return reply(MethodNotAllowed(req, "GET or DELETE"));
    }
    if (s.size() == 7 && (s[6] == "stop" || s[6] == "resume")) {
      if (req.method != "POST") return reply(MethodNotAllowed(req, "POST"));
      return cp.ChangeSweep(c, name, s[5], s[6], reply);
    }
  }
  reply(ApiResponse::Error(404, "no such API path; see docs/api.md"));
}

}  // namespace

void HandleApi(ControlPlane& cp, const ApiRequest& req, const Caller& c, const Reply& reply) {
  const auto& s = req.segments;
  if (s.size() == 1 && s[0] == "metrics") {
    if (req.method != "GET") return reply(MethodNotAllowed(req, "GET"));
    ApiResponse r;
    r.text = cp.MetricsText();
    r.content_type = "text/plain; version=0.0.4";
    return reply(std::move(r));
  }
  if (s.size() < 3 || s[0] != "api" || s[1] != "v1") {
    return reply(
        ApiResponse::Error(404, "no such path; the API is under /api/v1 (see docs/api.md)"));
  }
  const std::string& resource = s[2];
  json body;
  if (c.trial >= 0 && !(s.size() == 3 && resource == "report")) {
    return reply(ApiResponse::Error(
        403, "a sweep trial's report token can only report metrics (POST /api/v1/report)"));
  }
  auto query = [&](const std::string& key) {
    auto it = req.query.find(key);
    return it == req.query.end() ? std::string() : it->second;
  };
  if (resource == "projects") return Projects(cp, req, c, reply);
  if (resource == "report" && s.size() == 3) {
    if (req.method != "POST") return reply(MethodNotAllowed(req, "POST"));
    if (Body(req, reply, &body)) cp.Report(c, body, reply);
    return;
  }
  if (resource == "sweeps" && s.size() == 3) {
    if (req.method != "GET") {
      return reply(MethodNotAllowed(req, "GET (submit with POST /api/v1/projects/P/sweeps)"));
    }
    return reply(cp.ListSweeps(c, query("project")));
  }
  if (resource == "departments") {
    if (s.size() == 3) {
      if (req.method == "GET") return reply(cp.ListDepartments(c));
      if (req.method == "POST") {
        if (Body(req, reply, &body)) cp.CreateDepartment(c, body, reply);
        return;
      }
      return reply(MethodNotAllowed(req, "GET or POST"));
    }
    if (s.size() == 4) {
      if (req.method == "GET") return reply(cp.GetDepartment(c, s[3]));
      if (req.method == "PATCH") {
        if (Body(req, reply, &body)) cp.UpdateDepartment(c, s[3], body, reply);
        return;
      }
      if (req.method == "DELETE") return cp.DeleteDepartment(c, s[3], reply);
      return reply(MethodNotAllowed(req, "GET, PATCH or DELETE"));
    }
  }
  if (resource == "workspaces" && s.size() == 3) {
    if (req.method != "GET") {
      return reply(MethodNotAllowed(req, "GET (create with POST /api/v1/projects/P/workspaces)"));
    }
    return reply(cp.ListWorkspaces(c, query("project")));
  }
  if (resource == "workloads" && s.size() == 3) {
    if (req.method != "GET") {
      return reply(MethodNotAllowed(req, "GET (submit with POST /api/v1/projects/P/workloads)"));
    }
    return reply(cp.ListWorkloads(c, query("project"), !QueryFlag(req, "active")));
  }
  if (resource == "tokens") {
    if (s.size() == 3) {
      if (req.method == "GET") return reply(cp.ListTokens(c));
      if (req.method == "POST") {
        if (Body(req, reply, &body)) cp.CreateToken(c, body, reply);
        return;
      }
      return reply(MethodNotAllowed(req, "GET or POST"));
    }
    if (s.size() == 4) {
      if (req.method == "DELETE") return cp.DeleteToken(c, s[3], reply);
      return reply(MethodNotAllowed(req, "DELETE"));
    }
  }
  if (resource == "settings" && s.size() == 3) {
    if (req.method == "GET") return reply(cp.GetSettings(c));
    if (req.method == "PATCH") {
      if (Body(req, reply, &body)) cp.UpdateSettings(c, body, reply);
      return;
    }
    return reply(MethodNotAllowed(req, "GET or PATCH"));
  }
  if (s.size() == 3 && req.method == "GET") {
    if (resource == "usage") return reply(cp.UsageSeries(c, req.query));
    if (resource == "chargeback") return reply(cp.Chargeback(c, req.query));
    if (resource == "nodes") return reply(cp.ListNodes(c));
    if (resource == "queues") return reply(cp.ListQueues(c));
    if (resource == "whoami") return reply(cp.WhoAmI(c));
    if (resource == "events") {
      int limit = 200;
      std::string l = query("limit");
      if (!l.empty()) {
        auto [ptr, ec] = std::from_chars(l.data(), l.data() + l.size(), limit);
        if (ec != std::errc() || ptr != l.data() + l.size()) limit = -1;
        if (limit < 1 || limit > 10000) {
          return reply(ApiResponse::Error(
              400, "limit: expected a whole number from 1 to 10000, got \"" + l + "\""));
        }
      }
      return reply(cp.ListEvents(c, query("project"), query("workload"), limit));
    }
  }
  if (s.size() == 3 && (resource == "nodes" || resource == "queues" || resource == "whoami" ||
                        resource == "events" || resource == "usage" || resource == "chargeback")) {
    return reply(MethodNotAllowed(req, "GET"));
  }
  reply(ApiResponse::Error(404, "no such API path: /" + resource + "; see docs/api.md"));
}

}  // namespace sluice
