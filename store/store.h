// Durable state of the standalone server, behind an interface.
//
// The store is a document store: objects of a few kinds (department,
// project, workload, token, ...) each under a unique key, held as JSON text
// the server encodes and decodes, plus an append-only event log. The server
// keeps the whole object set in memory and writes every change through; the
// store is read in full only at start. Mutations are applied in the order
// they are written, and `done` is called once they are durable, so a reply
// sent from `done` never acknowledges something a crash could lose.
//
// Implementations are thread-safe: Write may be called from any thread, and
// `done` runs on a thread of the store's own.
#ifndef SLUICE_STORE_STORE_H_
#define SLUICE_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice {

struct StoredObject {
  std::string kind;
  std::string key;
  std::string doc;  // JSON
};

struct StoredEvent {
  int64_t id = 0;  // assigned by the store, increasing
  int64_t time_ms = 0;
  std::string project;
  std::string workload;  // the workload's key, or empty for events of a project
  std::string kind;      // Submitted, Scheduled, Evicted, ...
  std::string message;
};

// One interval of a usage time series ("project/vision", "gpu/node-1/0",
// "cluster"): GPU amounts integrated over the interval, in milli-GPU times
// milliseconds, so that adding intervals (into hours, into a report) is
// exact. `used` covers only the `measured_ms` of the interval when the GPUs'
// use was known. Read back, a sample is the sum over one bucket.
struct StoredSample {
  std::string series;
  int64_t time_ms = 0;  // start of the interval (of the bucket, when read)
  int64_t duration_ms = 0;
  int64_t allocated = 0;
  int64_t used = 0;
  int64_t measured_ms = 0;
  int64_t pending = 0;
};

// One change: a put (insert or replace) or delete of an object, an event, a
// usage sample, or the compaction of samples older than `sample.time_ms`
// into hourly ones.
struct Mutation {
  enum class Op : uint8_t { kPut, kDelete, kEvent, kSample, kCompactSamples };
  Op op = Op::kPut;
  StoredObject object;  // kPut: all fields; kDelete: kind and key
  StoredEvent event;    // kEvent
  StoredSample sample;  // kSample; kCompactSamples: time_ms is the cutoff

  static Mutation Put(std::string kind, std::string key, std::string doc) {
    return Mutation{Op::kPut, {std::move(kind), std::move(key), std::move(doc)}, {}, {}};
  }
  static Mutation Delete(std::string kind, std::string key) {
    return Mutation{Op::kDelete, {std::move(kind), std::move(key), {}}, {}, {}};
  }
  static Mutation Event(StoredEvent e) { return Mutation{Op::kEvent, {}, std::move(e), {}}; }
  static Mutation Sample(StoredSample s) { return Mutation{Op::kSample, {}, {}, std::move(s)}; }
  // Sums the per-interval samples before `cutoff_ms` into one per series and hour.
  static Mutation CompactSamples(int64_t cutoff_ms) {
    StoredSample s;
    s.time_ms = cutoff_ms;
    return Mutation{Op::kCompactSamples, {}, {}, std::move(s)};
  }
};

struct StoreStats {
  int64_t commits = 0;
  int64_t mutations = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Every object, in the order each key was first put (so lists keep the
  // order in which things were created). Call before the first Write.
  virtual Result<std::vector<StoredObject>> LoadAll() = 0;

  // Queues `batch` to be applied atomically; `done` receives OK once it is
  // durable, or the error that stopped it (then nothing of it was applied).
  virtual void Write(std::vector<Mutation> batch, std::function<void(const Status&)> done) = 0;

  // Events, newest last: those of one workload key (or of all when empty),
  // of the projects in `projects` (all when empty), at most `limit`, with
  // id > after_id.
  virtual Result<std::vector<StoredEvent>> Events(const std::string& workload,
                                                  const std::vector<std::string>& projects,
                                                  int64_t after_id, int limit) = 0;

  // Usage samples of the series whose name starts with `prefix`, with
  // time_ms in [from_ms, to_ms), summed per series and per bucket of
  // `step_ms` (aligned to multiples of it); ordered by series, then time.
  virtual Result<std::vector<StoredSample>> Samples(const std::string& prefix, int64_t from_ms,
                                                    int64_t to_ms, int64_t step_ms) = 0;

  virtual StoreStats Stats() const = 0;
};

}  // namespace sluice

#endif  // SLUICE_STORE_STORE_H_
