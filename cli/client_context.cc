#include "cli/client_context.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/quantity.h"
#include "server/server_main.h"

namespace sluice {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string ConfigPath() {
  std::string base = Env("XDG_CONFIG_HOME");
  if (base.empty()) base = Env("HOME").empty() ? "/tmp" : Env("HOME") + "/.config";
  return base + "/sluice/config.json";
}

}  // namespace

std::shared_ptr<ClientFlags> AddClientFlags(CLI::App& app) {
  auto flags = std::make_shared<ClientFlags>();
  app.add_option("--server", flags->server,
                 "Server URL, e.g. http://127.0.0.1:8080 (default: the local Unix socket; env "
                 "SLUICE_SERVER)");
  app.add_option("--token", flags->token, "Bearer token for the server (env SLUICE_TOKEN)");
  return flags;
}

ClientContext::ClientContext(const ClientFlags& flags)
    : client_([&] {
        ClientConfig c;
        c.server = flags.server.empty() ? Env("SLUICE_SERVER") : flags.server;
        c.token = flags.token.empty() ? Env("SLUICE_TOKEN") : flags.token;
        c.socket = ClientSocketPath();
        return c;
      }()) {}

void ClientContext::Fail(const std::string& message) {
  std::cerr << "sluice: error: " << message << "\n";
  throw CLI::RuntimeError(1);
}

nlohmann::json ClientContext::Call(const std::string& method, const std::string& target,
                                   const nlohmann::json& body) const {
  Result<HttpResult> r = client_.Call(method, target, body.is_null() ? "" : body.dump());
  if (!r.ok()) Fail(r.status().message());
  if (r->status >= 400) Fail(r->ErrorMessage());
  return r->json;
}

std::string ClientContext::Project(const std::string& explicit_project) const {
  if (!explicit_project.empty()) return explicit_project;
  std::string sticky = StickyProject();
  if (!sticky.empty()) return sticky;
  nlohmann::json me = Call("GET", "/api/v1/whoami");
  if (me["projects"].size() == 1) return me["projects"][0]["project"].get<std::string>();
  Fail(me["projects"].empty()
           ? "you are not a member of any project; pass -p PROJECT, or ask an admin to add you"
           : "you are in several projects; pass -p PROJECT or pick a default with `sluice "
             "project use PROJECT`");
}

std::string StickyProject() {
  std::ifstream in(ConfigPath());
  if (!in) return "";
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("project") || !j["project"].is_string()) return "";
  return j["project"].get<std::string>();
}

void SetStickyProject(const std::string& project) {
  const std::string path = ConfigPath();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  nlohmann::json j = nlohmann::json::object();
  {
    std::ifstream in(path);
    if (in) {
      j = nlohmann::json::parse(in, nullptr, false);
      if (!j.is_object()) j = nlohmann::json::object();
    }
  }
  j["project"] = project;
  std::ofstream out(path + ".tmp");
  out << j.dump(2) << "\n";
  out.close();
  std::filesystem::rename(path + ".tmp", path, ec);
  if (!out || ec) ClientContext::Fail("cannot write " + path);
}

std::string Str(const nlohmann::json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

std::string Ago(int64_t ms) {
  if (ms < 0) ms = 0;
  return FormatDuration(Duration{ms / 1000 * 1000});
}

int64_t MillisSince(const std::string& rfc3339) {
  Result<Time> t = ParseTime(rfc3339);
  if (!t.ok()) return 0;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return now - t->ms;
}

}  // namespace sluice
