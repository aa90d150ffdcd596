// The pod shim: a small parent for each pod's process.
//
// The executor starts `sluice pod-shim ...` for every pod; the shim starts
// the pod's command as the workload's user, copies its output into a log
// file with size-based rotation, and when the command ends writes how it
// ended to an exit file. Because the shim, not the server, is the parent,
// pods keep running and their outcome is still recorded when the server
// restarts (like containerd's shims). The shim leads its own session, so
// the executor stops a pod by signalling the shim's process group.
#ifndef SLUICE_EXEC_POD_SHIM_H_
#define SLUICE_EXEC_POD_SHIM_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sluice {

struct ShimOptions {
  std::string log_path;
  std::string exit_path;
  int64_t uid = -1;  // run the command as this user (needs root); -1: as the shim's user
  std::string workdir;
  int64_t log_max_bytes = 10 << 20;  // rotate past this size
  int log_keep = 3;                  // LOG.1 .. LOG.N kept
  std::vector<std::string> cgroups;  // joined before the command starts
  std::vector<std::string> command;
};

// What the exit file says: "exit N" or "signal N", or a start failure
// "error MESSAGE" (the command could not be run).
struct PodExit {
  bool exited = false;  // false: killed by a signal, or never started
  int code = -1;        // exit code or signal number
  std::string error;    // set when the command could not be started
  bool lost = false;    // gone while the server was down, without a trace
};

// Runs the shim in this process; returns its exit code. Called by
// `sluice pod-shim`.
int RunPodShim(const ShimOptions& options);

// Reads an exit file; false when it does not exist (yet).
bool ReadPodExit(const std::string& path, PodExit* out);

}  // namespace sluice

#endif  // SLUICE_EXEC_POD_SHIM_H_
