#include "server/workspace_idle.h"

#include <algorithm>
#include <cmath>

#include "common/quantity.h"

namespace sluice {

std::string WorkspaceIdleTracker::Observe(int64_t id, Time started, const WorkspaceActivity& seen,
                                          const WorkspacePolicy& policy) {
  auto [it, inserted] = last_active_.emplace(id, started);
  Time& active = it->second;
  // A restart of the same workspace (a later start) begins afresh.
  if (started.ms > active.ms) active = started;
  if (seen.last_activity) active.ms = std::max(active.ms, seen.last_activity->ms);
  if (seen.last_proxied) active.ms = std::max(active.ms, seen.last_proxied->ms);
  const bool busy = seen.busy_kernels > 0;
  const bool gpu_busy = seen.gpu_percent && *seen.gpu_percent >= policy.idle_gpu_percent;
  if (busy || gpu_busy) active.ms = std::max(active.ms, seen.now.ms);

  if (policy.max_runtime && seen.now.ms - started.ms >= policy.max_runtime->ms) {
    return "ran for " + FormatDuration(Duration{seen.now.ms - started.ms}) +
           ", its project's maximum runtime for workspaces (" +
           FormatDuration(*policy.max_runtime) + ")";
  }
  if (policy.idle_timeout.ms <= 0) return "";
  const int64_t idle_ms = seen.now.ms - active.ms;
  if (idle_ms < policy.idle_timeout.ms) return "";
  std::string why = "idle for " + FormatDuration(Duration{idle_ms / 1000 * 1000}) +
                    " (its project suspends workspaces idle for " +
                    FormatDuration(policy.idle_timeout) + "): no kernel, terminal or browser " +
                    "activity since " + FormatTime(active) + ", no busy kernel";
  if (seen.gpu_percent) {
    why += ", GPU utilisation " + std::to_string(static_cast<int>(std::lround(*seen.gpu_percent))) +
           "% of its allocation (under " + std::to_string(policy.idle_gpu_percent) + "%)";
  }
  return why;
}

std::optional<Time> WorkspaceIdleTracker::LastActive(int64_t id) const {
  auto it = last_active_.find(id);
  if (it == last_active_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sluice
