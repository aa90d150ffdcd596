// When a workspace counts as idle: scenarios on made-up times (no clock).
#include "server/workspace_idle.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
const Time kStart{1'800'000'000'000};

Time At(int64_t ms) { return Time{kStart.ms + ms}; }

WorkspaceActivity Seen(int64_t now_ms) {
  WorkspaceActivity a;
  a.now = At(now_ms);
  return a;
}

TEST(WorkspaceIdleTracker, IdleForTheTimeoutIsSuspendedWithWhy) {
  WorkspaceIdleTracker t;
  WorkspacePolicy policy;  // 2 h, under 10% GPU
  WorkspaceActivity a = Seen(kHour);
  a.last_activity = At(10 * kMinute);
  EXPECT_EQ(t.Observe(1, kStart, a, policy), "");
  // 2 h after the last activity (at 0:10), and the GPU at 3% of its share.
  a = Seen(2 * kHour + 10 * kMinute);
  a.last_activity = At(10 * kMinute);
  a.gpu_percent = 3;
  const std::string why = t.Observe(1, kStart, a, policy);
  EXPECT_NE(why.find("idle for 2h"), std::string::npos) << why;
  EXPECT_NE(why.find("GPU utilisation 3% of its allocation (under 10%)"), std::string::npos) << why;
}

TEST(WorkspaceIdleTracker, ABusyKernelIsActiveHoweverOldItsLastMessage) {
  WorkspaceIdleTracker t;
  WorkspacePolicy policy;
  // A training loop in a cell: the kernel is busy, Jupyter's last activity
  // is when the cell started, three hours ago.
  for (int64_t now = kMinute; now <= 3 * kHour; now += kMinute) {
    WorkspaceActivity a = Seen(now);
    a.last_activity = At(0);
    a.busy_kernels = 1;
    ASSERT_EQ(t.Observe(1, kStart, a, policy), "") << "at " << now / kMinute << " min";
  }
  // The cell ends: idle from then on, suspended 2 h later, not before.
  WorkspaceActivity a = Seen(3 * kHour + 119 * kMinute);
  a.last_activity = At(0);
  EXPECT_EQ(t.Observe(1, kStart, a, policy), "");
  a.now = At(5 * kHour);
  EXPECT_NE(t.Observe(1, kStart, a, policy), "");
}

TEST(WorkspaceIdleTracker, GpuUseAtTheThresholdCountsAsActivity) {
  WorkspaceIdleTracker t;
  WorkspacePolicy policy;
  policy.idle_timeout = Duration{30 * kMinute};
  policy.idle_gpu_percent = 20;
  // A script started from a terminal keeps the GPU at 20%: active.
  WorkspaceActivity a = Seen(kHour);
  a.last_activity = At(0);
  a.gpu_percent = 20;
  EXPECT_EQ(t.Observe(1, kStart, a, policy), "");
  // Then 19% for 29 minutes: not yet; 30: suspended.
  a.gpu_percent = 19;
  a.now = At(kHour + 29 * kMinute);
  EXPECT_EQ(t.Observe(1, kStart, a, policy), "");
  a.now = At(kHour + 30 * kMinute);
  EXPECT_NE(t.Observe(1, kStart, a, policy), "");
}

TEST(WorkspaceIdleTracker, ProxyTrafficKeepsACommandWorkspaceActive) {
  WorkspaceIdleTracker t;
  WorkspacePolicy policy;
  policy.idle_timeout = Duration{10 * kMinute};
  WorkspaceActivity a = Seen(15 * kMinute);
  a.last_proxied = At(9 * kMinute);
  EXPECT_EQ(t.Observe(7, kStart, a, policy), "");
  EXPECT_EQ(t.LastActive(7)->ms, At(9 * kMinute).ms);
  a.now = At(19 * kMinute);
  EXPECT_NE(t.Observe(7, kStart, a, policy), "");
}

TEST(WorkspaceIdleTracker, OffMeansNeverButTheMaximumRuntimeStillHolds) {
  WorkspaceIdleTracker t;
  WorkspacePolicy off;
  off.idle_timeout = Duration{0};
  EXPECT_EQ(t.Observe(1, kStart, Seen(100 * kHour), off), "");
  WorkspacePolicy capped = off;
  capped.max_runtime = Duration{12 * kHour};
  WorkspaceActivity busy = Seen(12 * kHour);
  busy.busy_kernels = 3;
  const std::string why = t.Observe(2, kStart, busy, capped);
  EXPECT_NE(why.find("maximum runtime for workspaces (12h)"), std::string::npos) << why;
}

TEST(WorkspaceIdleTracker, ARestartStartsTheCountAgain) {
  WorkspaceIdleTracker t;
  WorkspacePolicy policy;
  policy.idle_timeout = Duration{kHour};
  EXPECT_EQ(t.Observe(1, kStart, Seen(30 * kMinute), policy), "");
  // Suspended and started again at 5 h: a fresh hour from there.
  EXPECT_EQ(t.Observe(1, At(5 * kHour), Seen(5 * kHour + 59 * kMinute), policy), "");
  EXPECT_NE(t.Observe(1, At(5 * kHour), Seen(6 * kHour), policy), "");
}

}  // namespace
}  // namespace sluice
