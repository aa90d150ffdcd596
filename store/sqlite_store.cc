#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <utility>

namespace sluice {
namespace {

// Each entry upgrades the schema from version i to i+1.
constexpr const char* kMigrations[] = {
    // 0 -> 1: objects by kind and key, in creation order; the event log.
    "CREATE TABLE objects ("
    "  kind TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL,"
    "  PRIMARY KEY (kind, key));"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL,"
    "  project TEXT NOT NULL, workload TEXT NOT NULL, kind TEXT NOT NULL,"
    "  message TEXT NOT NULL);"
    "CREATE INDEX events_by_workload ON events (workload, id);"
    "CREATE INDEX events_by_project ON events (project, id);",
    // 1 -> 2: usage time series, per interval (hourly = 0) and per hour
    // once compacted (hourly = 1).
    "CREATE TABLE samples ("
    "  series TEXT NOT NULL, time_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
    "  allocated INTEGER NOT NULL, used INTEGER NOT NULL, measured_ms INTEGER NOT NULL,"
    "  pending INTEGER NOT NULL, hourly INTEGER NOT NULL);"
    "CREATE INDEX samples_by_series ON samples (series, time_ms);",
};
static_assert(std::size(kMigrations) == SqliteStore::kSchemaVersion);

Status SqlError(sqlite3* db, const std::string& what) {
  return Status::Internal(what + ": " + sqlite3_errmsg(db));
}

Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    return Status::Internal(std::string("sqlite: ") + message + " (in: " + sql + ")");
  }
  return Status::OK();
}

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  void Bind(int i, const std::string& text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  Status Error(const std::string& what) const { return SqlError(db_, what); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

Result<sqlite3*> OpenConnection(const std::string& path) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::FailedPrecondition("cannot open the database " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 10'000);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;", "PRAGMA foreign_keys=ON;"}) {
    if (Status s = Exec(db, pragma); !s.ok()) {
      sqlite3_close(db);
      return Status::FailedPrecondition("cannot use the database " + path + ": " + s.message());
    }
  }
  return db;
}

Status Migrate(sqlite3* db, const std::string& path) {
  Statement version(db, "PRAGMA user_version;");
  if (!version.ok() || version.Step() != SQLITE_ROW) return version.Error("reading user_version");
  const int64_t current = version.Int(0);
  if (current > SqliteStore::kSchemaVersion) {
    return Status::FailedPrecondition(
        path + " has schema version " + std::to_string(current) + " but this sluice knows up to " +
        std::to_string(SqliteStore::kSchemaVersion) + "; run the newer sluice that wrote it");
  }
  for (int64_t v = current; v < SqliteStore::kSchemaVersion; ++v) {
    std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                      "PRAGMA user_version=" + std::to_string(v + 1) + ";COMMIT;";
    if (Status s = Exec(db, sql.c_str()); !s.ok()) {
      (void)Exec(db, "ROLLBACK;");
      return Status::FailedPrecondition("upgrading " + path + " to schema version " +
                                        std::to_string(v + 1) + ": " + s.message());
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  Result<sqlite3*> writer = OpenConnection(path);
  if (!writer.ok()) return writer.status();
  if (Status s = Migrate(*writer, path); !s.ok()) {
    sqlite3_close(*writer);
    return s;
  }
  Result<sqlite3*> reader = OpenConnection(path);
  if (!reader.ok()) {
    sqlite3_close(*writer);
    return reader.status();
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(*writer, *reader));
}

SqliteStore::SqliteStore(sqlite3* writer, sqlite3* reader) : writer_(writer), reader_(reader) {}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  sqlite3_close(reader_);
  sqlite3_close(writer_);
}

Result<std::vector<StoredObject>> SqliteStore::LoadAll() {
  std::vector<StoredObject> out;
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    Statement all(reader_, "SELECT kind, key, doc, seq FROM objects ORDER BY seq;");
    if (!all.ok()) return all.Error("reading objects");
    int rc = 0;
    while ((rc = all.Step()) == SQLITE_ROW) {
      out.push_back({all.Text(0), all.Text(1), all.Text(2)});
      next_seq_ = std::max(next_seq_, all.Int(3) + 1);
    }
    if (rc != SQLITE_DONE) return all.Error("reading objects");
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { WriterLoop(); });
  return out;
}

void SqliteStore::Write(std::vector<Mutation> batch, std::function<void(const Status&)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({std::move(batch), std::move(done)});
  }
  cv_.notify_one();
}

void SqliteStore::WriterLoop() {
  std::vector<Pending> group;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is written
      group.clear();
      while (!queue_.empty()) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Status s = Apply(group);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (s.ok()) {
        ++stats_.commits;
        for (const Pending& p : group) stats_.mutations += static_cast<int64_t>(p.batch.size());
      }
    }
    for (Pending& p : group) {
      if (p.done) p.done(s);
    }
  }
}

Status SqliteStore::Apply(const std::vector<Pending>& group) {
  if (Status s = Exec(writer_, "BEGIN IMMEDIATE;"); !s.ok()) return s;
  Statement put(writer_,
                "INSERT INTO objects (kind, key, seq, doc) VALUES (?1, ?2, ?3, ?4) "
                "ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc;");
  Statement del(writer_, "DELETE FROM objects WHERE kind = ?1 AND key = ?2;");
  Statement event(writer_,
                  "INSERT INTO events (time_ms, project, workload, kind, message) "
                  "VALUES (?1, ?2, ?3, ?4, ?5);");
  Statement sample(writer_,
                   "INSERT INTO samples (series, time_ms, duration_ms, allocated, used, "
                   "measured_ms, pending, hourly) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0);");
  // Hours wholly before the cutoff become one row each; the rows they sum go.
  Statement roll_up(writer_,
                    "INSERT INTO samples SELECT series, time_ms / 3600000 * 3600000, "
                    "SUM(duration_ms), SUM(allocated), SUM(used), SUM(measured_ms), "
                    "SUM(pending), 1 FROM samples WHERE hourly = 0 AND time_ms < ?1 "
                    "GROUP BY series, time_ms / 3600000;");
  Statement drop(writer_, "DELETE FROM samples WHERE hourly = 0 AND time_ms < ?1;");
  Status result = Status::OK();
  if (!put.ok() || !del.ok() || !event.ok() || !sample.ok() || !roll_up.ok() || !drop.ok()) {
    result = SqlError(writer_, "preparing writes");
  }
  const int64_t first_seq = next_seq_;
  for (const Pending& p : group) {
    for (const Mutation& m : p.batch) {
      if (!result.ok()) break;
      Statement* st = nullptr;
      switch (m.op) {
        case Mutation::Op::kPut:
          st = &put;
          put.Bind(1, m.object.kind);
          put.Bind(2, m.object.key);
          put.Bind(3, next_seq_++);
          put.Bind(4, m.object.doc);
          break;
        case Mutation::Op::kDelete:
          st = &del;
          del.Bind(1, m.object.kind);
          del.Bind(2, m.object.key);
          break;
        case Mutation::Op::kEvent:
          st = &event;
          event.Bind(1, m.event.time_ms);
          event.Bind(2, m.event.project);
          event.Bind(3, m.event.workload);
          event.Bind(4, m.event.kind);
          event.Bind(5, m.event.message);
          break;
        case Mutation::Op::kSample:
          st = &sample;
          sample.Bind(1, m.sample.series);
          sample.Bind(2, m.sample.time_ms);
          sample.Bind(3, m.sample.duration_ms);
          sample.Bind(4, m.sample.allocated);
          sample.Bind(5, m.sample.used);
          sample.Bind(6, m.sample.measured_ms);
          sample.Bind(7, m.sample.pending);
          break;
        case Mutation::Op::kCompactSamples: {
          const int64_t cutoff = m.sample.time_ms / 3'600'000 * 3'600'000;
          roll_up.Bind(1, cutoff);
          if (roll_up.Step() != SQLITE_DONE) result = roll_up.Error("compacting samples");
          roll_up.Reset();
          st = &drop;
          drop.Bind(1, cutoff);
          break;
        }
      }
      if (!result.ok()) break;
      if (st->Step() != SQLITE_DONE) result = st->Error("writing");
      st->Reset();
    }
  }
  if (result.ok()) result = Exec(writer_, "COMMIT;");
  if (!result.ok()) {
    (void)Exec(writer_, "ROLLBACK;");
    next_seq_ = first_seq;
  }
  return result;
}

Result<std::vector<StoredEvent>> SqliteStore::Events(const std::string& workload,
                                                     const std::vector<std::string>& projects,
                                                     int64_t after_id, int limit) {
  std::lock_guard<std::mutex> lock(read_mu_);
  // The newest `limit` matching events, returned oldest first.
  std::string sql =
      "SELECT id, time_ms, project, workload, kind, message FROM events WHERE id > ?1";
  if (!workload.empty()) sql += " AND workload = ?2";
  if (!projects.empty()) {
    sql += " AND project IN (";
    for (size_t i = 0; i < projects.size(); ++i) {
      sql += (i == 0 ? "?" : ",?") + std::to_string(i + 3);
    }
    sql += ")";
  }
  sql = "SELECT * FROM (" + sql + " ORDER BY id DESC LIMIT " + std::to_string(limit) +
        ") ORDER BY id;";
  Statement q(reader_, sql.c_str());
  if (!q.ok()) return q.Error("reading events");
  q.Bind(1, after_id);
  if (!workload.empty()) q.Bind(2, workload);
  for (size_t i = 0; i < projects.size(); ++i) q.Bind(static_cast<int>(i + 3), projects[i]);
  std::vector<StoredEvent> out;
  int rc = 0;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back({q.Int(0), q.Int(1), q.Text(2), q.Text(3), q.Text(4), q.Text(5)});
  }
  if (rc != SQLITE_DONE) return q.Error("reading events");
  return out;
}

Result<std::vector<StoredSample>> SqliteStore::Samples(const std::string& prefix, int64_t from_ms,
                                                       int64_t to_ms, int64_t step_ms) {
  if (step_ms <= 0) return Status::InvalidArgument("the step must be positive");
  std::lock_guard<std::mutex> lock(read_mu_);
  // substr rather than LIKE: series names may hold '%' or '_'.
  Statement q(reader_,
              "SELECT series, time_ms / ?4 * ?4 AS bucket, SUM(duration_ms), SUM(allocated), "
              "SUM(used), SUM(measured_ms), SUM(pending) FROM samples "
              "WHERE substr(series, 1, length(?1)) = ?1 AND time_ms >= ?2 AND time_ms < ?3 "
              "GROUP BY series, bucket ORDER BY series, bucket;");
  if (!q.ok()) return q.Error("reading samples");
  q.Bind(1, prefix);
  q.Bind(2, from_ms);
  q.Bind(3, to_ms);
  q.Bind(4, step_ms);
  std::vector<StoredSample> out;
  int rc = 0;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back({q.Text(0), q.Int(1), q.Int(2), q.Int(3), q.Int(4), q.Int(5), q.Int(6)});
  }
  if (rc != SQLITE_DONE) return q.Error("reading samples");
  return out;
}

StoreStats SqliteStore::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace sluice
