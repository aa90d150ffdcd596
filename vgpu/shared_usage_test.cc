// SharedUsage across real processes: forks share one region file, children
// die in every way a process can (exit without leaving, SIGKILL, unreaped
// zombie), and the survivors get the memory back.
#include "vgpu/shared_usage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace sluice::vgpu {
namespace {

class VgpuSharedUsage : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-vgpu-usage-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/vgpu/usage";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SharedUsage> Open() {
    std::string error;
    auto u = SharedUsage::Open(path_, &error);
    EXPECT_TRUE(error.empty()) << error;
    return u;
  }

  // Forks a child that opens the region, runs `body`, and exits with its
  // result without leaving its slot (as a crash would). Returns its pid.
  template <typename Body>
  pid_t Child(Body body) {
    const pid_t pid = fork();
    if (pid == 0) {
      std::string error;
      auto u = SharedUsage::Open(path_, &error);
      _exit(u == nullptr ? 100 : body(*u));
    }
    return pid;
  }

  static int Reap(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(VgpuSharedUsage, ReservesWithinTheLimitAndRefusesPastIt) {
  auto u = Open();
  ASSERT_NE(u, nullptr);
  EXPECT_TRUE(u->Reserve(0, 60, 100));
  EXPECT_FALSE(u->Reserve(0, 50, 100));
  EXPECT_EQ(u->Used(0), 60U);
  EXPECT_TRUE(u->Reserve(0, 40, 100));   // exactly at the limit
  EXPECT_TRUE(u->Reserve(1, 100, 100));  // devices are counted apart
  u->Release(0, 100);
  EXPECT_EQ(u->Used(0), 0U);
  EXPECT_EQ(u->Used(1), 100U);
}

TEST_F(VgpuSharedUsage, ProcessesOfOneWorkloadShareOneLimit) {
  auto u = Open();
  ASSERT_TRUE(u->Reserve(0, 60, 100));
  const pid_t child = Child([](SharedUsage& c) {
    if (c.Reserve(0, 50, 100)) return 1;  // 60 + 50 > 100
    return c.Reserve(0, 40, 100) ? 0 : 2;
  });
  EXPECT_EQ(Reap(child), 0);
  // The child exited holding 40 without leaving: counted until found dead.
  EXPECT_EQ(u->Used(0), 100U);
  EXPECT_EQ(u->ReclaimDead(), 1);
  EXPECT_EQ(u->Used(0), 60U);
}

TEST_F(VgpuSharedUsage, AProcessKilledWhileHoldingMemoryGivesItBack) {
  auto u = Open();
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = Child([&](SharedUsage& c) {
    c.Reserve(0, 80, 100);
    (void)!write(ready[1], "x", 1);
    while (true) pause();
    return 0;
  });
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  EXPECT_FALSE(u->Reserve(0, 90, 100)) << "the child is alive and holds 80";
  kill(child, SIGKILL);
  EXPECT_EQ(Reap(child), -SIGKILL);
  // Refused at first, the reservation clears the dead child out and succeeds.
  EXPECT_TRUE(u->Reserve(0, 90, 100));
  close(ready[0]);
  close(ready[1]);
}

TEST_F(VgpuSharedUsage, AnUnreapedZombieCountsAsDead) {
  auto u = Open();
  const pid_t child = Child([](SharedUsage& c) { return c.Reserve(0, 80, 100) ? 0 : 1; });
  // Wait for it to exit without reaping it: it stays a zombie.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(StartTicks(child), -1);
  EXPECT_TRUE(u->Reserve(0, 90, 100));
  EXPECT_EQ(Reap(child), 0);
}

TEST_F(VgpuSharedUsage, ConcurrentProcessesNeverTogetherExceedTheLimit) {
  constexpr int kChildren = 6;
  constexpr uint64_t kLimit = 600;
  auto u = Open();
  int results[2];
  int go[2];
  ASSERT_EQ(pipe(results), 0);
  ASSERT_EQ(pipe(go), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < kChildren; ++i) {
    children.push_back(Child([&](SharedUsage& c) {
      uint32_t held = 0;
      while (c.Reserve(0, 1, kLimit)) ++held;
      (void)!write(results[1], &held, sizeof held);
      close(go[1]);
      char b = 0;
      (void)!read(go[0], &b, 1);  // hold it until every child has filled up
      return 0;
    }));
  }
  uint64_t total = 0;
  for (int i = 0; i < kChildren; ++i) {
    uint32_t held = 0;
    ASSERT_EQ(read(results[0], &held, sizeof held), static_cast<ssize_t>(sizeof held));
    total += held;
  }
  EXPECT_LE(total, kLimit);
  EXPECT_EQ(u->Used(0), total);
  // Two processes racing for the last unit can both be refused, never both
  // admitted: at most one unit per child is left unclaimed.
  EXPECT_GE(total, kLimit - kChildren);
  close(go[1]);
  for (pid_t c : children) EXPECT_EQ(Reap(c), 0);
  EXPECT_EQ(u->ReclaimDead(), kChildren);
  EXPECT_EQ(u->Used(0), 0U);
  close(go[0]);
  close(results[0]);
  close(results[1]);
}

TEST_F(VgpuSharedUsage, AForkedChildStartsWithAnEmptySlotOfItsOwn) {
  auto u = Open();
  ASSERT_TRUE(u->Reserve(0, 60, 100));
  const pid_t child = fork();
  if (child == 0) {
    u->AfterFork();
    const bool ok = u->Reserve(0, 40, 100) && !u->Reserve(0, 1, 100);
    u->Release(0, 40);
    const bool parent_kept = u->Used(0) == 60;
    u->Leave();
    _exit(ok && parent_kept ? 0 : 1);
  }
  EXPECT_EQ(Reap(child), 0);
  EXPECT_EQ(u->Used(0), 60U);
  EXPECT_EQ(u->ReclaimDead(), 0) << "the child left its slot";
}

TEST_F(VgpuSharedUsage, PidsAreTheLiveMembers) {
  auto u = Open();
  std::vector<int> pids = u->Pids();
  EXPECT_EQ(pids, std::vector<int>{getpid()});
  u->Leave();
  EXPECT_TRUE(u->Pids().empty());
}

TEST_F(VgpuSharedUsage, ARegionOfAnotherLayoutIsLeftAlone) {
  std::filesystem::create_directories(dir_ + "/vgpu");
  {
    std::ofstream out(path_, std::ios::binary);
    const uint64_t other = 0x736c7569636502ULL;
    out.write(reinterpret_cast<const char*>(&other), sizeof other);  // NOLINT
  }
  std::string error;
  auto u = SharedUsage::Open(path_, &error);
  EXPECT_NE(error.find("another layout"), std::string::npos) << error;
  // Still limited, in a region of its own.
  ASSERT_NE(u, nullptr);
  EXPECT_TRUE(u->Reserve(0, 10, 10));
  EXPECT_FALSE(u->Reserve(0, 1, 10));
}

TEST_F(VgpuSharedUsage, WithoutAWritableDirTheProcessCountsAlone) {
  std::string error;
  auto u = SharedUsage::Open("/proc/sluice-vgpu/usage", &error);
  ASSERT_NE(u, nullptr);
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
  EXPECT_TRUE(u->Reserve(0, 10, 10));
  EXPECT_FALSE(u->Reserve(0, 1, 10));
}

}  // namespace
}  // namespace sluice::vgpu
