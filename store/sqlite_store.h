// The embedded store: one SQLite file in WAL mode.
//
// Writes go through one writer thread that groups whatever has queued up
// since its last commit into a single transaction (group commit), so a
// burst of submissions costs one fsync per group rather than one each,
// while every `done` still runs only after its mutation is on disk
// (synchronous=FULL). Reads use a second connection, which WAL lets run
// beside the writer. The schema is versioned with SQLite's user_version and
// upgraded in order by Open; a file from a newer sluice is refused.
#ifndef SLUICE_STORE_SQLITE_STORE_H_
#define SLUICE_STORE_SQLITE_STORE_H_

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/store.h"

struct sqlite3;

namespace sluice {

class SqliteStore final : public Store {
 public:
  // Opens (creating when absent) the database at `path` and brings its
  // schema up to date.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;  // drains queued writes, then closes

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<std::vector<StoredObject>> LoadAll() override;
  void Write(std::vector<Mutation> batch, std::function<void(const Status&)> done) override;
  Result<std::vector<StoredEvent>> Events(const std::string& workload,
                                          const std::vector<std::string>& projects,
                                          int64_t after_id, int limit) override;
  Result<std::vector<StoredSample>> Samples(const std::string& prefix, int64_t from_ms,
                                            int64_t to_ms, int64_t step_ms) override;
  StoreStats Stats() const override;

  static constexpr int kSchemaVersion = 2;

 private:
  struct Pending {
    std::vector<Mutation> batch;
    std::function<void(const Status&)> done;
  };

  SqliteStore(sqlite3* writer, sqlite3* reader);
  void WriterLoop();
  Status Apply(const std::vector<Pending>& group);

  sqlite3* writer_;  // used only by the writer thread once it runs
  sqlite3* reader_;  // guarded by read_mu_
  std::mutex read_mu_;
  int64_t next_seq_ = 1;  // writer thread only (after LoadAll)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  StoreStats stats_;           // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice

#endif  // SLUICE_STORE_SQLITE_STORE_H_
