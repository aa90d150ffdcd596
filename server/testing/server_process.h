// A real `sluice server` process for integration tests: started on a fresh
// data directory with an HTTP port picked by the kernel, a Unix socket and
// simulated GPUs; stopped (or killed) by the test.
#ifndef SLUICE_SERVER_TESTING_SERVER_PROCESS_H_
#define SLUICE_SERVER_TESTING_SERVER_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "cli/api_client.h"

namespace sluice::testing {

struct CommandResult {
  int status = -1;
  std::string out;  // stdout and stderr together
};

class ServerProcess {
 public:
  // `dir` is created (and left behind on failure, for inspection).
  explicit ServerProcess(std::string dir, std::string gpus = "sim:8xH100-80GB");
  ~ServerProcess();  // SIGTERM, then waits

  // Starts the server on the same data directory; returns false (with the
  // log in `error`) when it does not answer /healthz within 20 s.
  bool Start(std::string* error, const std::vector<std::string>& extra_args = {});
  void Kill(int signal);  // and wait for it
  // Kills every pod process this server's executor started.
  void KillPods() const;
  // Sends SIGKILL to the pods still alive (not zombies); returns their pids.
  std::vector<pid_t> SignalPods() const;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  const std::string& socket() const { return socket_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string AdminToken() const;
  std::string Log() const;

  ApiClient Http(const std::string& token) const;  // over TCP with a token
  ApiClient Local() const;                         // over the Unix socket

  // Runs the `sluice` binary against this server's socket (as this process's user).
  CommandResult Cli(const std::string& args) const;

 private:
  std::string dir_;
  std::string gpus_;
  std::string socket_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Runs a shell command and collects its output and exit status.
CommandResult Run(const std::string& command);

}  // namespace sluice::testing

#endif  // SLUICE_SERVER_TESTING_SERVER_PROCESS_H_
