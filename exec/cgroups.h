// Per-pod resource limits through Linux control groups, where the machine
// allows them.
//
// Detect() picks, in order: cgroup v2 (the unified hierarchy at
// /sys/fs/cgroup offers the memory and cpu controllers and sluice may create
// a subtree there), cgroup v1 (writable memory and cpu hierarchies, as on
// hosts still mounting the legacy layout), or nothing (pods are then only a
// process group). Each pod gets its own cgroup under `sluice/`: memory
// limited to the pod's memory request (no swap), CPU to its CPU request.
// The shim joins the pod's cgroups before it starts the command, so the
// command and everything it forks are accounted and limited together.
// Thread-compatible.
#ifndef SLUICE_EXEC_CGROUPS_H_
#define SLUICE_EXEC_CGROUPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice {

class PodCgroups {
 public:
  enum class Mode : uint8_t { kNone, kV1, kV2 };

  // `root` is the cgroup filesystem mount (tests pass another). `instance`,
  // when given, starts the name of every pod's cgroup, so that two servers
  // on one machine (with their own data directories) never share one.
  static PodCgroups Detect(const std::string& root = "/sys/fs/cgroup",
                           const std::string& instance = "");

  Mode mode() const { return mode_; }
  // For `sluice describe`: "cgroup v2 (memory, cpu)", "process group", ...
  std::string Describe() const;

  // Creates the cgroups of one pod with its limits (0: no limit) and
  // returns the directories the shim must join (one per hierarchy).
  Result<std::vector<std::string>> Create(int64_t workload_id, int32_t pod, int64_t memory_mib,
                                          int64_t cpu_milli) const;
  // True when the kernel's OOM killer killed something in the pod's cgroup.
  bool OomKilled(int64_t workload_id, int32_t pod) const;
  // Sends SIGKILL to every process in the pod's cgroup (cgroup.kill on v2).
  void KillAll(int64_t workload_id, int32_t pod) const;
  // Removes the pod's cgroups (once its processes are gone).
  void Remove(int64_t workload_id, int32_t pod) const;

 private:
  std::string PodDir(const std::string& hierarchy, int64_t workload_id, int32_t pod) const;

  Mode mode_ = Mode::kNone;
  std::string memory_;  // v2: the unified root; v1: the memory hierarchy
  std::string cpu_;     // v1 only: the cpu hierarchy ("" when unusable)
  std::string instance_;
};

// Joins the cgroups in `dirs` (writes this process's pid to cgroup.procs).
Status JoinCgroups(const std::vector<std::string>& dirs);

}  // namespace sluice

#endif  // SLUICE_EXEC_CGROUPS_H_
