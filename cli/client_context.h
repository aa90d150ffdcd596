// What every command that talks to a server shares: where the server is,
// the caller's token, the sticky default project, and how a failure is
// reported (a message on stderr and exit code 1).
#ifndef SLUICE_CLI_CLIENT_CONTEXT_H_
#define SLUICE_CLI_CLIENT_CONTEXT_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/api_client.h"

namespace sluice {

struct ClientFlags {
  std::string server;  // --server or SLUICE_SERVER
  std::string token;   // --token or SLUICE_TOKEN
};

// Adds --server and --token to the top-level app (usable after the command too).
std::shared_ptr<ClientFlags> AddClientFlags(CLI::App& app);

class ClientContext {
 public:
  explicit ClientContext(const ClientFlags& flags);

  const ApiClient& client() const { return client_; }

  // Calls the API; on a transport error or a status >= 400 prints the
  // server's message and exits with 1 (by throwing CLI::RuntimeError).
  nlohmann::json Call(const std::string& method, const std::string& target,
                      const nlohmann::json& body = nullptr) const;

  // The project to use: `explicit_project`, else the sticky one
  // (`sluice project use`), else the caller's only project; otherwise fails
  // with what to do.
  std::string Project(const std::string& explicit_project) const;

  [[noreturn]] static void Fail(const std::string& message);

 private:
  ApiClient client_;
};

// The sticky default project, kept in ~/.config/sluice/config.json.
std::string StickyProject();
void SetStickyProject(const std::string& project);

// A JSON value for a table cell: strings as they are, null as "-".
std::string Str(const nlohmann::json& j);

// "5m30s" from milliseconds, to the second.
std::string Ago(int64_t ms);
// Milliseconds between an RFC 3339 time and now (0 when unparsable).
int64_t MillisSince(const std::string& rfc3339);

void AddWorkloadCommands(CLI::App& app, const std::shared_ptr<ClientFlags>& flags);
void AddAdminCommands(CLI::App& app, const std::shared_ptr<ClientFlags>& flags);
void AddSweepCommands(CLI::App& app, const std::shared_ptr<ClientFlags>& flags);
void AddWorkspaceCommands(CLI::App& app, const std::shared_ptr<ClientFlags>& flags);

}  // namespace sluice

#endif  // SLUICE_CLI_CLIENT_CONTEXT_H_
