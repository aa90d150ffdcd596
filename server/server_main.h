// `sluice server`: opens the data directory, loads the state, and serves
// the API until SIGINT or SIGTERM.
#ifndef SLUICE_SERVER_SERVER_MAIN_H_
#define SLUICE_SERVER_SERVER_MAIN_H_

#include <string>

namespace sluice {

struct ServerOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:8080";  // empty: no TCP listener
  std::string socket;                     // empty: no Unix socket
  std::string gpus = "auto";
  bool time_based_fair_share = false;
  std::string time_based_k = "1";
  int debounce_ms = 2;
  std::string executor = "local";  // local: run processes; sim: hold GPUs, run nothing
  int grace_seconds = 30;          // SIGTERM to SIGKILL when stopping a pod
  int telemetry_ms = 5000;         // how often GPU utilisation is sampled
  int sample_ms = 60'000;          // how often the usage history records an interval
  std::string web_dir;             // the built web UI; empty: the one this build made
  // How fractions of a GPU are shared: "vgpu" (the interception library),
  // "mps" (MPS on every device) or "mps:0,2" (MPS on those devices).
  std::string gpu_sharing = "vgpu";
  bool mig_dynamic = false;  // devices in MIG mode may be repartitioned when idle
  // Workspaces: the jupyter-lab program (empty: .venv/bin/jupyter-lab of
  // this checkout, when there is one), the URL people reach the server at
  // (empty: http://LISTEN), and how often idle workspaces are looked for.
  std::string jupyter;
  std::string public_url;
  int workspace_cull_ms = 60'000;
};

// The defaults for a user: root gets /var/lib/sluice and /run/sluice.sock;
// others a directory under $XDG_DATA_HOME (or ~/.local/share) and a socket
// in $XDG_RUNTIME_DIR (or /tmp/sluice-UID.sock).
std::string DefaultDataDir();
std::string DefaultSocketPath();
// Where the CLI looks for a local server: SLUICE_SOCKET, else this user's
// own default socket when it exists, else the system one.
std::string ClientSocketPath();

// Returns the process exit code.
int RunServer(const ServerOptions& options);

}  // namespace sluice

#endif  // SLUICE_SERVER_SERVER_MAIN_H_
