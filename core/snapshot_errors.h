// Internal helpers of the snapshot reader: an error list that formats
// FILE:LINE:COLUMN: PATH: message lines, and a reader for the fields of one
// YAML mapping that refuses unknown keys and wrong types. Not part of the
// public surface of core.
#ifndef SLUICE_CORE_SNAPSHOT_ERRORS_H_
#define SLUICE_CORE_SNAPSHOT_ERRORS_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/quantity.h"
#include "common/status.h"
#include "core/model.h"

namespace sluice::internal {

// Edit distance between two short strings (for "did you mean" hints).
size_t EditDistance(std::string_view a, std::string_view b);

class ErrorList {
 public:
  explicit ErrorList(std::string_view source) : source_(source) {}

  void Add(const YAML::Mark& mark, const std::string& path, const std::string& message);
  bool empty() const { return lines_.empty(); }
  Status ToStatus() const;

  // "; did you mean \"x\"?" when one of `known` is close to `name`, else "".
  template <typename Map>
  static std::string Suggest(std::string_view name, const Map& known) {
    std::vector<std::string_view> keys;
    for (const auto& kv : known) keys.push_back(kv.first);
    return SuggestFrom(name, keys);
  }
  static std::string SuggestFrom(std::string_view name, std::span<const std::string_view> known);

 private:
  std::string source_;
  std::vector<std::string> lines_;
  std::vector<std::pair<int, int>> positions_;  // (line, column) of each line
};

// Reads the fields of one mapping. Every accessor returns nullopt when the
// key is absent (or null) and also when its value is malformed, in which case
// the error has been recorded.
class FieldReader {
 public:
  // The largest CPU (millicores) or memory (MiB) amount accepted: 2^40,
  // about a billion cores or an exbibyte.
  static constexpr int64_t kMaxAmount = int64_t{1} << 40;

  FieldReader(ErrorList* errors, const YAML::Node& node, std::string path,
              std::span<const std::string_view> known_keys);

  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }
  YAML::Node Get(std::string_view key) const;
  YAML::Mark MarkOf(std::string_view key) const;
  void Error(std::string_view key, const std::string& message);

  std::optional<std::string> Name(std::string_view key);
  std::optional<std::string> String(std::string_view key, bool required = false);
  std::optional<int64_t> Int(std::string_view key, int64_t min, int64_t max);
  std::optional<bool> Bool(std::string_view key);
  std::optional<int64_t> Milli(std::string_view key);
  std::optional<int64_t> Cpu(std::string_view key);
  std::optional<int64_t> Memory(std::string_view key);
  std::optional<sluice::Duration> Duration(std::string_view key);
  std::optional<sluice::Time> Time(std::string_view key, bool required = false);
  // Quota or limit: -1, or an amount of resource `r` >= 0.
  std::optional<int64_t> QueueAmount(std::string_view key, Resource r);
  std::optional<Labels> StringMap(std::string_view key);
  // A single string or a list of strings.
  std::optional<std::vector<std::string>> StringList(std::string_view key);
  std::optional<std::vector<int64_t>> IntList(std::string_view key, int64_t min, int64_t max);
  // A list (sequence); an absent or null key gives an empty node.
  YAML::Node List(std::string_view key);

 private:
  // The scalar text of `key`, or nullopt (absent, or not a scalar: error).
  std::optional<std::string> Scalar(std::string_view key, std::string_view expected);
  std::optional<int64_t> Bounded(std::string_view key, std::optional<int64_t> v, int64_t max,
                                 const std::string& max_text);
  template <typename T>
  std::optional<T> Parsed(std::string_view key, std::string_view expected,
                          Result<T> (*parse)(std::string_view));

  ErrorList* errors_;
  YAML::Node node_;
  std::string path_;
  bool ok_ = true;
};

}  // namespace sluice::internal

#endif  // SLUICE_CORE_SNAPSHOT_ERRORS_H_
