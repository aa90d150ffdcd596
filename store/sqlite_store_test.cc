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
