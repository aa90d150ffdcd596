#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <string>

namespace sluice {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-store-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "state.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static Status WriteAndWait(Store& store, std::vector<Mutation> batch) {
    std::promise<Status> done;
    store.Write(std::move(batch), [&](const Status& s) { done.set_value(s); });
    return done.get_future().get();
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, ObjectsSurviveReopenInCreationOrder) {
  {
    auto store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->LoadAll().ok());
    ASSERT_TRUE(WriteAndWait(**store, {Mutation::Put("project", "b", "{\"v\":1}"),
                                       Mutation::Put("project", "a", "{\"v\":2}"),
                                       Mutation::Put("workload", "1", "{}")})
                    .ok());
    // Replacing a document keeps its place; deleting removes it.
    ASSERT_TRUE(WriteAndWait(**store, {Mutation::Put("project", "b", "{\"v\":3}"),
                                       Mutation::Delete("workload", "1")})
                    .ok());
  }
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok());
  auto all = (*store)->LoadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key, "b");
  EXPECT_EQ((*all)[0].doc, "{\"v\":3}");
  EXPECT_EQ((*all)[1].key, "a");
}

TEST_F(SqliteStoreTest, EventsFilterByWorkloadAndProject) {
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->LoadAll().ok());
  std::vector<Mutation> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back(
        Mutation::Event({0, 1000 + i, i % 2 == 0 ? "p1" : "p2", "w" + std::to_string(i % 3), "Kind",
                         "m" + std::to_string(i)}));
  }
  ASSERT_TRUE(WriteAndWait(**store, std::move(batch)).ok());
  auto w0 = (*store)->Events("w0", {}, 0, 100);
  ASSERT_TRUE(w0.ok());
  ASSERT_EQ(w0->size(), 2u);  // events 0 and 3
  EXPECT_EQ((*w0)[0].message, "m0");
  EXPECT_EQ((*w0)[1].message, "m3");
  auto p2 = (*store)->Events("", {"p2"}, 0, 100);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->size(), 2u);
  auto newest = (*store)->Events("", {}, 0, 2);  // the newest two, oldest first
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].message, "m3");
  EXPECT_EQ((*newest)[1].message, "m4");
  auto after = (*store)->Events("", {}, (*newest)[0].id, 100);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 1u);
}

TEST_F(SqliteStoreTest, ConcurrentWritesAreGroupedAndAllDurable) {
  constexpr int kWriters = 8;
  constexpr int kEach = 200;
  {
    auto store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->LoadAll().ok());
    std::atomic<int> acked{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kWriters; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          std::string key = std::to_string(t) + "-" + std::to_string(i);
          if (WriteAndWait(**store, {Mutation::Put("workload", key, "{}")}).ok()) ++acked;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(acked.load(), kWriters * kEach);
    // With eight writers waiting on each other's commits, groups form.
    EXPECT_LT((*store)->Stats().commits, kWriters * kEach);
  }
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok());
  auto all = (*store)->LoadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<size_t>(kWriters * kEach));
}

// Two minutes of one series at one-minute intervals, and one of another.
StoredSample Minute(const std::string& series, int64_t time_ms, int64_t milli) {
  return {series, time_ms, 60'000, milli * 60'000, milli / 2 * 60'000, 60'000, 0};
}

TEST_F(SqliteStoreTest, SamplesSumPerBucketAndCompactIntoHoursExactly) {
  constexpr int64_t kHour = 3'600'000;
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->LoadAll().ok());
  std::vector<Mutation> batch;
  // project/a holds 1 GPU for the first hour and 2 GPUs for 30 minutes of the second.
  for (int64_t m = 0; m < 60; ++m)
    batch.push_back(Mutation::Sample(Minute("project/a", m * 60'000, 1000)));
  for (int64_t m = 60; m < 90; ++m)
    batch.push_back(Mutation::Sample(Minute("project/a", m * 60'000, 2000)));
  batch.push_back(Mutation::Sample(Minute("gpu/n/0", 0, 500)));
  ASSERT_TRUE(WriteAndWait(**store, std::move(batch)).ok());

  auto before = (*store)->Samples("project/", 0, 2 * kHour, kHour);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_EQ(before->size(), 2u);  // one bucket per hour; gpu/n/0 is not under the prefix
  EXPECT_EQ((*before)[0].allocated, 1000 * kHour);
  EXPECT_EQ((*before)[1].allocated, 2000 * kHour / 2);
  EXPECT_EQ((*before)[1].duration_ms, kHour / 2);

  // Compacting the first hour keeps every sum and leaves one row for it.
  ASSERT_TRUE(WriteAndWait(**store, {Mutation::CompactSamples(kHour + 5 * 60'000)}).ok());
  auto after = (*store)->Samples("project/", 0, 2 * kHour, kHour);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].allocated, (*before)[0].allocated);
  EXPECT_EQ((*after)[0].used, (*before)[0].used);
  EXPECT_EQ((*after)[1].allocated, (*before)[1].allocated);
  auto minutes = (*store)->Samples("project/a", 0, kHour, 60'000);
  ASSERT_TRUE(minutes.ok());
  EXPECT_EQ(minutes->size(), 1u);  // the first hour is one hourly row now
  auto gpu = (*store)->Samples("gpu/", 0, kHour, kHour);
  ASSERT_TRUE(gpu.ok());
  ASSERT_EQ(gpu->size(), 1u);
  EXPECT_EQ((*gpu)[0].series, "gpu/n/0");
  EXPECT_EQ((*gpu)[0].allocated, 500 * 60'000);
}

TEST_F(SqliteStoreTest, RefusesAFileFromANewerSchema) {
  {
    auto store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99;", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos)
      << store.status().message();
}

TEST_F(SqliteStoreTest, ReportsAnUnusableFile) {
  auto store = SqliteStore::Open((dir_ / "no-such-dir" / "state.db").string());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace sluice
