// Tests of the Philly replay on traces small enough to follow by hand.
#include "sim/philly.h"

#include <gtest/gtest.h>

namespace sluice::sim {
namespace {

std::vector<PhillyJob> Jobs(const std::string& rows) {
  Result<std::vector<PhillyJob>> j =
      ParsePhillyJobs("job_id,tenant,submit_s,gpus,duration_s,model\n" + rows);
  EXPECT_TRUE(j.ok()) << j.status().message();
  return *j;
}

PhillyOptions OneNode(int32_t gpus) {
  PhillyOptions o;
  o.nodes = 1;
  o.gpus_per_node = gpus;
  return o;
}

TEST(PhillyTest, QuotasFollowGpuHoursAndSumToTheCluster) {
  // GPU-seconds 3 : 1 : 2 over 4 GPUs: 2000, 666.67, 1333.33 milli; the
  // largest remainders get the last milli so that the sum is exact.
  const std::vector<PhillyJob> jobs = Jobs("j1,a,0,3,100,m\nj2,b,0,1,100,m\nj3,c,0,1,200,m\n");
  const auto q = PhillyQuotas(jobs, 4);
  ASSERT_EQ(q.size(), 3U);
  EXPECT_EQ(q[0], (std::pair<std::string, int64_t>("a", 2000)));
  EXPECT_EQ(q[1], (std::pair<std::string, int64_t>("b", 667)));
  EXPECT_EQ(q[2], (std::pair<std::string, int64_t>("c", 1333)));
}

TEST(PhillyTest, BadInputIsLocated) {
  Result<std::vector<PhillyJob>> j =
      ParsePhillyJobs("job_id,tenant,submit_s,gpus,duration_s\nj1,a,0,0,10\n");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "jobs.csv:2: column \"gpus\": expected 1 to 4096, got 0");
  j = ParsePhillyJobs("job_id,tenant,submit_s,gpus\nj1,a,0,1\n");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("missing column \"duration_s\""), std::string::npos);
  EXPECT_FALSE(ReplayPhilly(Jobs("j1,a,0,9,10,m\n"), "sluice", OneNode(8)).ok());
  EXPECT_FALSE(ReplayPhilly(Jobs("j1,a,0,1,10,m\n"), "lifo", OneNode(8)).ok());
}

// Two GPUs; tenants a and b have equal GPU-hours, so a quota of 1 GPU each.
// a's two one-hour jobs start at 0 and hold both GPUs; b submits two at 100 s.
//   fifo and quota: b waits until 3600 while it wants 2 >= its quota 1 and
//     holds 0: a shortfall of 1 GPU for 3500 s. JCT 3600, 3600, 7100, 7100.
//   sluice: at 100 b reclaims one GPU (a keeps its quota); the evicted job
//     had run 100 s, less than a checkpoint, and starts over when a's other
//     job ends at 3600 (a is then below its share), ending at 7200; b's
//     second job waits for b's first (b is at its share), 3700 to 7300.
//     No shortfall; one preemption. JCT 3600, 7200, 3600, 7200.
TEST(PhillyTest, ReclaimGivesEachTenantItsQuota) {
  const std::vector<PhillyJob> jobs =
      Jobs("a1,a,0,1,3600,m\na2,a,0,1,3600,m\nb1,b,100,1,3600,m\nb2,b,100,1,3600,m\n");
  for (const char* policy : {"fifo", "quota"}) {
    Result<PhillyRun> r = ReplayPhilly(jobs, policy, OneNode(2));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->completed, 4) << policy;
    EXPECT_EQ(r->preemptions, 0) << policy;
    EXPECT_NEAR(r->shortfall_gpu_h, 3500.0 / 3600.0, 1e-9) << policy;
    EXPECT_NEAR(r->jct_mean_h, (3600.0 + 3600 + 7100 + 7100) / 4 / 3600, 1e-9) << policy;
    EXPECT_DOUBLE_EQ(r->utilization, 100.0) << policy;
  }
  Result<PhillyRun> r = ReplayPhilly(jobs, "sluice", OneNode(2));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->completed, 4);
  EXPECT_EQ(r->preemptions, 1);
  EXPECT_DOUBLE_EQ(r->shortfall_gpu_h, 0.0);
  EXPECT_NEAR(r->jct_mean_h, (3600.0 + 7200 + 3600 + 7200) / 4 / 3600, 1e-9);
  ASSERT_EQ(r->tenants.size(), 2U);
  EXPECT_EQ(r->tenants[0].quota_milli, 1000);
  EXPECT_NEAR(r->tenants[1].wait_mean_h, 1800.0 / 3600.0, 1e-9);  // 0 s and 3600 s
}

// The same shape with long jobs: b reclaims at 8000 s, when the victim has
// run 8000 s, so it keeps 4 checkpoints (7200 s) and loses 800 s. It resumes
// at 20000 (when a's other job ends) with 12800 s left, ending at 32800;
// b's jobs run 8000-28000 and 28000-48000.
TEST(PhillyTest, PreemptedJobsResumeFromTheirLastCheckpoint) {
  const std::vector<PhillyJob> jobs =
      Jobs("a1,a,0,1,20000,m\na2,a,0,1,20000,m\nb1,b,8000,1,20000,m\nb2,b,8000,1,20000,m\n");
  Result<PhillyRun> r = ReplayPhilly(jobs, "sluice", OneNode(2));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->preemptions, 1);
  EXPECT_NEAR(r->jct_mean_h, (20000.0 + 32800 + 20000 + 40000) / 4 / 3600, 1e-9);
  EXPECT_NEAR(r->makespan_h, 48000.0 / 3600, 1e-9);
}

// A preempted job goes back to its tenant's queue at the time it was
// preempted, behind what its tenant submitted while it ran. a's two long
// jobs start at 0; a3 comes at 50 and waits; at 100 b reclaims one of a's
// jobs (it had run 100 s, less than a checkpoint). When a's other long job
// ends at 10000, a3 runs first (10000-11000), then the preempted job starts
// over (11000-21000); b1 runs 100-21100. JCT 10000, 21000, 10950, 21000.
TEST(PhillyTest, PreemptedJobsWaitBehindNewerOnes) {
  const std::vector<PhillyJob> jobs =
      Jobs("a1,a,0,1,10000,m\na2,a,0,1,10000,m\na3,a,50,1,1000,m\nb1,b,100,1,21000,m\n");
  Result<PhillyRun> r = ReplayPhilly(jobs, "sluice", OneNode(2));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->preemptions, 1);
  EXPECT_NEAR(r->jct_mean_h, (10000.0 + 21000 + 10950 + 21000) / 4 / 3600, 1e-9);
  EXPECT_NEAR(r->makespan_h, 21100.0 / 3600, 1e-9);
}

}  // namespace
}  // namespace sluice::sim
