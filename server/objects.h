// The objects the server keeps: departments, projects, workloads and API
// tokens, as plain values. The server holds all of them in memory (see
// ServerState) and writes each change to the store as JSON (see codec.h).
#ifndef SLUICE_SERVER_OBJECTS_H_
#define SLUICE_SERVER_OBJECTS_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/quantity.h"
#include "core/model.h"

namespace sluice {

// What a department or project gets from the scheduler (a queue in the core).
struct QueueSettings {
  int32_t priority = 100;
  std::array<QueueResource, kNumResources> resources;
  std::optional<Duration> reclaim_min_runtime;
  std::optional<Duration> preempt_min_runtime;

  QueueSettings() {
    resources[static_cast<size_t>(Resource::kCpu)].quota = -1;
    resources[static_cast<size_t>(Resource::kMemory)].quota = -1;
  }
};

struct Department {
  std::string name;
  QueueSettings settings;
};

// A project member's role. Admins are not members: they hold an admin token
// or are the server's own user (or root) on the local socket.
enum class Role : uint8_t { kViewer, kMember };
std::string_view RoleName(Role r);

// How a project's workspaces are culled (docs/workspaces.md): one that has
// been idle for `idle_timeout` (no Jupyter activity, no busy kernel, its GPU
// under `idle_gpu_percent` of its allocation) is suspended; 0 turns culling
// off. A workspace that has run for `max_runtime` is suspended too.
struct WorkspacePolicy {
  Duration idle_timeout{2LL * 3600 * 1000};
  int32_t idle_gpu_percent = 10;
  std::optional<Duration> max_runtime;
};

struct Project {
  std::string name;
  std::string department;  // empty: a top-level project
  QueueSettings settings;
  std::map<std::string, Role> members;  // by user name
  WorkspacePolicy workspaces;
};

// What makes a workload a workspace: an interactive web server (JupyterLab,
// or any command listening on `port`) that the server reverse-proxies at
// /ws/PROJECT/NAME/ to the members of its project.
struct WorkspaceSpec {
  bool jupyter = true;  // JupyterLab, started by the server; else the spec's command
  int32_t port = 0;     // the command's port on 127.0.0.1 (JupyterLab: picked at each start)
};

struct WorkloadSpec {
  PriorityClass priority_class = PriorityClass::kTrain;
  bool preemptible = true;
  int32_t pods = 1;
  int32_t min_available = 1;
  PodRequest request;
  std::vector<std::string> gpu_models;
  Labels node_selector;
  std::string topology;
  std::vector<std::string> command;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;
  // Times a failed run is started again (inference always restarts).
  int32_t max_retries = 0;
  // SIGTERM to SIGKILL when its pods are stopped; unset: the server's default.
  std::optional<Duration> grace_period;
  // Free-form key/value labels (a sweep's trials carry sluice.io/sweep and
  // sluice.io/trial).
  Labels labels;
  // Set for workspaces (created through /workspaces, never by a submission).
  std::optional<WorkspaceSpec> workspace;
};

// Suspended: a workspace stopped by its user or by idle culling; it holds
// nothing and starts again (Pending) on `workspace start`.
enum class Phase : uint8_t { kPending, kRunning, kSucceeded, kFailed, kSuspended };
std::string_view PhaseName(Phase p);

struct PlacedPod {
  std::string node;
  std::vector<int32_t> gpus;
  int64_t gpu_milli = 0;
  std::string mig{};  // a MIG pod's instance on its one device ("1g.10gb@3"); empty otherwise
};

struct WorkloadRecord {
  int64_t id = 0;
  std::string name;
  std::string project;
  std::string user;  // who submitted it; it runs as this user
  int64_t uid = -1;  // that user's uid when known
  WorkloadSpec spec;
  Phase phase = Phase::kPending;
  Time submitted;
  // When it last went back to the queue after an eviction or a failed run;
  // it waits in its queue from then, behind what came while it ran.
  std::optional<Time> requeued;
  std::optional<Time> started;
  std::optional<Time> ended;
  std::vector<PlacedPod> placement;
  bool releasing = false;  // asked to stop; still holds its placement
  bool deleting = false;   // deleted while running: removed once stopped
  std::optional<Time> stale_since;
  std::string message;     // why it ended, or why it was last evicted
  int32_t evictions = 0;   // times it was evicted and went back to the queue
  int32_t exit_code = -1;  // for Succeeded/Failed, when known
  int32_t retries = 0;     // failed runs started again
  // Asked to stop for good (a sweep trial stopped early, or its sweep
  // stopped): it ends when its pods have stopped instead of queueing again.
  bool finishing = false;
  // Environment its pods get that the API never shows (a sweep trial's
  // report token).
  Labels private_env;
  bool suspending = false;  // a workspace being stopped: Suspended once it has

  // Workspaces: the port its server listens on (127.0.0.1) and the secret
  // the proxy presents to it. Stored, never shown through the API.
  int32_t workspace_port = 0;
  std::string workspace_token;
  // Environment for the pods on top of the spec's, set by the control plane
  // before each start (a workspace's token and port); neither stored nor shown.
  std::vector<std::pair<std::string, std::string>> launch_env;

  // From the last scheduling cycle; not stored.
  std::string reason;
  int32_t position = 0;

  bool active() const { return phase == Phase::kPending || phase == Phase::kRunning; }
  // The store key: unique for the life of the server.
  std::string key() const { return std::to_string(id); }
  int64_t AllocatedGpuMilli() const;
};

struct Token {
  std::string id;    // public part, shown in lists ("tok-1a2b3c")
  std::string hash;  // SHA-256 of the whole token, hex
  std::string user;
  bool admin = false;
  Time created;
  std::string description;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_OBJECTS_H_
