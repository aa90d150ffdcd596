// Reading snapshots from YAML or JSON (one schema; JSON is read as YAML).
//
// Every problem found is reported, not just the first, one per line as
//   FILE:LINE:COLUMN: PATH: what is wrong and what was expected
// where PATH names the entity and field (`workloads[2] "train-1".gpu`). The
// returned Status is InvalidArgument with those lines joined by newlines.
// The functions are thread-safe.
#ifndef SLUICE_CORE_SNAPSHOT_READER_H_
#define SLUICE_CORE_SNAPSHOT_READER_H_

#include <string>
#include <string_view>

#include "common/status.h"
#include "core/model.h"

namespace YAML {
class Node;
}

namespace sluice {

// Reads the file at `path`; errors name the path.
Result<Snapshot> ReadSnapshotFile(const std::string& path);

// Parses snapshot text; errors name `source`.
Result<Snapshot> ParseSnapshot(std::string_view text, std::string_view source);

// Parses an already loaded YAML document (used by tests that keep more than
// the snapshot in one file); errors name `source`.
Result<Snapshot> ParseSnapshotNode(const YAML::Node& root, std::string_view source);

// The documented top-level keys of a snapshot, for callers that embed one.
bool IsSnapshotKey(std::string_view key);

}  // namespace sluice

#endif  // SLUICE_CORE_SNAPSHOT_READER_H_
