#include "sched/fair_share.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

// Builds queue trees and requests for the calculator, GPU only unless given.
class FairShareTest : public testing::Test {
 protected:
  QueueId Add(const std::string& name, int64_t quota_gpus_milli, int64_t weight_milli = 1000,
              QueueId parent = QueueId::Invalid(), int32_t priority = 100,
              int64_t limit_milli = -1) {
    Queue q;
    q.name = name;
    q.parent = parent;
    q.priority = priority;
    q.resources[0] = {quota_gpus_milli, limit_milli, weight_milli};
    q.resources[1].quota = -1;
    q.resources[2].quota = -1;
    QueueId id(static_cast<int32_t>(queues_.size()));
    if (parent.valid()) {
      queues_[parent.index()].children.push_back(id);
      q.depth = queues_[parent.index()].depth + 1;
    }
    queues_.push_back(q);
    request_.emplace_back();
    return id;
  }
  void Request(QueueId q, int64_t gpu_milli) { request_[q.index()][Resource::kGpu] = gpu_milli; }
  int64_t Gpu(QueueId q) {
    Resources cap;
    cap[Resource::kGpu] = capacity_;
    return FairShareCalculator::Compute(queues_, request_, cap)[q.index()][Resource::kGpu];
  }

  std::vector<Queue> queues_;
  std::vector<Resources> request_;
  int64_t capacity_ = 0;
};

TEST_F(FairShareTest, EqualWeightsSplitEvenly) {
  capacity_ = 8000;
  QueueId a = Add("a", 0), b = Add("b", 0);
  Request(a, 10000);
  Request(b, 10000);
  // No quotas: all 8 GPUs are over-quota, split 1:1.
  EXPECT_EQ(Gpu(a), 4000);
  EXPECT_EQ(Gpu(b), 4000);
}

TEST_F(FairShareTest, UnequalWeightsSplitByWeight) {
  capacity_ = 8000;
  QueueId a = Add("a", 0, 1000), b = Add("b", 0, 3000);
  Request(a, 8000);
  Request(b, 8000);
  // 8 GPUs by weight 1:3 -> 2 and 6.
  EXPECT_EQ(Gpu(a), 2000);
  EXPECT_EQ(Gpu(b), 6000);
}

TEST_F(FairShareTest, QuotaFirstThenOverQuotaByWeight) {
  capacity_ = 10000;
  QueueId a = Add("a", 4000, 1000), b = Add("b", 2000, 1000);
  Request(a, 10000);
  Request(b, 10000);
  // Deserved 4 + 2; the remaining 4 split 1:1 -> 6 and 4.
  EXPECT_EQ(Gpu(a), 6000);
  EXPECT_EQ(Gpu(b), 4000);
}

TEST_F(FairShareTest, SatisfiedQueueReleasesItsPartToOthers) {
  capacity_ = 9000;
  QueueId a = Add("a", 0), b = Add("b", 0), c = Add("c", 0);
  Request(a, 1000);
  Request(b, 10000);
  Request(c, 10000);
  // a needs only 1 of its 3; the 2 it leaves go to b and c: 4 each.
  EXPECT_EQ(Gpu(a), 1000);
  EXPECT_EQ(Gpu(b), 4000);
  EXPECT_EQ(Gpu(c), 4000);
}

TEST_F(FairShareTest, HigherPriorityTierGetsOverQuotaFirst) {
  capacity_ = 8000;
  QueueId low = Add("low", 2000, 1000, QueueId::Invalid(), 50);
  QueueId high = Add("high", 2000, 1000, QueueId::Invalid(), 200);
  Request(low, 8000);
  Request(high, 5000);
  // Both get their quota of 2; the 4 left go to the high tier first, which
  // needs 3 more; the last GPU goes to the low tier.
  EXPECT_EQ(Gpu(high), 5000);
  EXPECT_EQ(Gpu(low), 3000);
}

TEST_F(FairShareTest, LimitCapsTheShare) {
  capacity_ = 8000;
  QueueId a = Add("a", 0, 1000, QueueId::Invalid(), 100, 2000);
  QueueId b = Add("b", 0);
  Request(a, 8000);
  Request(b, 8000);
  // a is limited to 2; b gets the rest.
  EXPECT_EQ(Gpu(a), 2000);
  EXPECT_EQ(Gpu(b), 6000);
}

TEST_F(FairShareTest, ZeroWeightGetsNothingAboveQuota) {
  capacity_ = 8000;
  QueueId a = Add("a", 1000, 0), b = Add("b", 1000, 1000);
  Request(a, 8000);
  Request(b, 2000);
  // a keeps its quota of 1; b takes 2; 5 stay unassigned.
  EXPECT_EQ(Gpu(a), 1000);
  EXPECT_EQ(Gpu(b), 2000);
}

TEST_F(FairShareTest, OversubscribedQuotasSplitInProportion) {
  capacity_ = 6000;
  QueueId a = Add("a", 8000), b = Add("b", 4000);
  Request(a, 8000);
  Request(b, 4000);
  // Quotas 8 + 4 = 12 over 6 GPUs: 6 x 8/12 = 4 and 6 x 4/12 = 2.
  EXPECT_EQ(Gpu(a), 4000);
  EXPECT_EQ(Gpu(b), 2000);
}

TEST_F(FairShareTest, OversubscribedQuotasServeHigherPriorityFirst) {
  capacity_ = 6000;
  QueueId a = Add("a", 4000, 1000, QueueId::Invalid(), 100);
  QueueId b = Add("b", 4000, 1000, QueueId::Invalid(), 200);
  Request(a, 4000);
  Request(b, 4000);
  EXPECT_EQ(Gpu(b), 4000);
  EXPECT_EQ(Gpu(a), 2000);
}

TEST_F(FairShareTest, HierarchyDividesTheDepartmentsShare) {
  capacity_ = 16000;
  QueueId d1 = Add("d1", 8000), d2 = Add("d2", 8000);
  QueueId p1 = Add("p1", 2000, 1000, d1), p2 = Add("p2", 2000, 3000, d1);
  QueueId p3 = Add("p3", 0, 1000, d2);
  Request(p1, 16000);
  Request(p2, 16000);
  Request(p3, 3000);
  // d2 needs 3, so d1 gets 8 + the 5 left = 13. Inside d1: quotas 2 + 2,
  // the remaining 9 split 1:3 -> 2.25 and 6.75; whole units first (2 and 6),
  // then the last unit to the largest remainder (p2's 0.75):
  // p1 = 2 + 2 = 4, p2 = 2 + 6 + 1 = 9.
  EXPECT_EQ(Gpu(d1), 13000);
  EXPECT_EQ(Gpu(d2), 3000);
  EXPECT_EQ(Gpu(p3), 3000);
  EXPECT_EQ(Gpu(p1), 4000);
  EXPECT_EQ(Gpu(p2), 9000);
}

TEST_F(FairShareTest, RemaindersGoToLargestThenOlder) {
  capacity_ = 3000;
  QueueId a = Add("a", 0), b = Add("b", 0);
  Request(a, 3000);
  Request(b, 3000);
  // 1.5 each: one whole GPU each, the third to the older queue (a).
  EXPECT_EQ(Gpu(a), 2000);
  EXPECT_EQ(Gpu(b), 1000);
}

TEST_F(FairShareTest, FractionalCapacityRemainder) {
  capacity_ = 2500;
  QueueId a = Add("a", 0), b = Add("b", 0), c = Add("c", 0);
  Request(a, 5000);
  Request(b, 5000);
  Request(c, 5000);
  // 2.5 / 3 = 0.833 each: no whole unit for anyone; then units by largest
  // remainder (all equal) in age order: a gets 1, b gets 1, c the last 0.5.
  EXPECT_EQ(Gpu(a), 1000);
  EXPECT_EQ(Gpu(b), 1000);
  EXPECT_EQ(Gpu(c), 500);
}

TEST_F(FairShareTest, NoDemandNoShare) {
  capacity_ = 8000;
  QueueId a = Add("a", 4000), b = Add("b", 0);
  Request(b, 2000);
  EXPECT_EQ(Gpu(a), 0);
  EXPECT_EQ(Gpu(b), 2000);
}

TEST_F(FairShareTest, UnlimitedQuotaDeservesAllItAsks) {
  capacity_ = 8000;
  QueueId a = Add("a", -1), b = Add("b", 0);
  Request(a, 5000);
  Request(b, 8000);
  EXPECT_EQ(Gpu(a), 5000);
  EXPECT_EQ(Gpu(b), 3000);
}

TEST_F(FairShareTest, SharesNeverExceedCapacityOrRequest) {
  // A sweep over many small trees: the children of a parent never get more
  // than it has, and no queue more than it asks for.
  for (int seed = 0; seed < 200; ++seed) {
    queues_.clear();
    request_.clear();
    capacity_ = 1000 + (seed * 7919) % 20000;
    QueueId d = Add("d", (seed % 5) * 1000, 1000 + seed % 3 * 1000);
    std::vector<QueueId> leaves;
    for (int i = 0; i < 2 + seed % 4; ++i) {
      leaves.push_back(Add("p" + std::to_string(i), (seed * (i + 3)) % 7 * 500,
                           (seed + i) % 4 * 1000, d, 100 + (i % 2) * 50));
      Request(leaves.back(), (seed * 31 + i * 977) % 9000);
    }
    QueueId other = Add("o", 1000);
    Request(other, (seed * 13) % 5000);
    Resources cap;
    cap[Resource::kGpu] = capacity_;
    std::vector<Resources> fs = FairShareCalculator::Compute(queues_, request_, cap);
    int64_t sum_top = fs[d.index()][Resource::kGpu] + fs[other.index()][Resource::kGpu];
    EXPECT_LE(sum_top, capacity_) << "seed " << seed;
    int64_t sum_leaves = 0;
    for (QueueId l : leaves) {
      sum_leaves += fs[l.index()][Resource::kGpu];
      EXPECT_LE(fs[l.index()][Resource::kGpu], request_[l.index()][Resource::kGpu]);
    }
    EXPECT_LE(sum_leaves, fs[d.index()][Resource::kGpu]) << "seed " << seed;
  }
}

}  // namespace
}  // namespace sluice
