// Deciding when a workspace is idle (docs/workspaces.md).
//
// WorkspaceIdleTracker keeps, per running workspace, the last moment it was
// seen active, from what each cull pass observes: Jupyter's own
// last_activity (kernel, terminal and API activity), a busy kernel (active
// now, however long ago its last message was), GPU utilisation at or above
// the project's threshold (active now), and requests through the proxy. A
// workspace whose last activity is older than the project's idle timeout,
// or that has run past the project's maximum runtime, is to be suspended;
// Observe says why. It never reads a clock: the caller passes the time, so
// tests drive it with made-up times. Not thread-safe; the control plane
// owns one on its thread.
#ifndef SLUICE_SERVER_WORKSPACE_IDLE_H_
#define SLUICE_SERVER_WORKSPACE_IDLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "server/objects.h"

namespace sluice {

// How to reach a running JupyterLab, and what it says about itself: the
// last_activity of its /api/status and how many of its kernels are busy.
struct JupyterProbe {
  int32_t port = 0;
  std::string base_url;  // "/ws/PROJECT/NAME/"
  std::string token;
};
struct JupyterActivity {
  std::optional<Time> last_activity;
  int32_t busy_kernels = 0;
};

// What one cull pass saw of a workspace.
struct WorkspaceActivity {
  Time now;
  // From Jupyter's /api/status; unset when it did not answer or the
  // workspace is not JupyterLab.
  std::optional<Time> last_activity;
  int32_t busy_kernels = 0;
  // GPU utilisation as a percentage of its allocation; unset when unknown
  // (no telemetry, as with simulated GPUs) or when it holds no GPU.
  std::optional<double> gpu_percent;
  std::optional<Time> last_proxied;  // the last request through the proxy
};

class WorkspaceIdleTracker {
 public:
  // Records `seen` for workspace `id` (running since `started`); returns
  // why it should be suspended now, or "" to leave it running.
  std::string Observe(int64_t id, Time started, const WorkspaceActivity& seen,
                      const WorkspacePolicy& policy);
  // The last moment the workspace was seen active, when it is tracked.
  std::optional<Time> LastActive(int64_t id) const;
  void Forget(int64_t id) { last_active_.erase(id); }

 private:
  std::map<int64_t, Time> last_active_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKSPACE_IDLE_H_
