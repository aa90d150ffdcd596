// Reading the fields of one JSON object from an API request, with errors a
// person can act on: each names the field by its path (`body.gpu`), says
// what was expected and what came, and unknown fields get a "did you mean".
// Every accessor returns nullopt when the field is absent or null, and also
// when it is malformed, in which case the error has been recorded.
#ifndef SLUICE_SERVER_JSON_FIELDS_H_
#define SLUICE_SERVER_JSON_FIELDS_H_

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/quantity.h"
#include "common/status.h"
#include "core/model.h"

namespace sluice {

// Collected errors, one line each.
class JsonErrors {
 public:
  void Add(std::string line) { lines_.push_back(std::move(line)); }
  bool empty() const { return lines_.empty(); }
  Status ToStatus() const;  // InvalidArgument with the lines, or OK

 private:
  std::vector<std::string> lines_;
};

class JsonFields {
 public:
  // The largest CPU (millicores) or memory (MiB) amount accepted.
  static constexpr int64_t kMaxAmount = int64_t{1} << 40;

  JsonFields(const nlohmann::json& obj, std::string path, JsonErrors* errors,
             std::span<const std::string_view> known);
  JsonFields(const nlohmann::json& obj, std::string path, JsonErrors* errors,
             std::initializer_list<std::string_view> known)
      : JsonFields(obj, std::move(path), errors,
                   std::span<const std::string_view>(known.begin(), known.size())) {}

  bool is_object() const { return obj_.is_object(); }
  JsonErrors* errors() const { return errors_; }
  const std::string& path() const { return path_; }
  // The field's value, or nullptr when absent or null.
  const nlohmann::json* Get(std::string_view key) const;
  void Error(std::string_view key, const std::string& message);
  std::string FieldPath(std::string_view key) const;

  std::optional<std::string> String(std::string_view key, bool required = false);
  // A name usable in a URL: 1 to 63 letters, digits, '-', '_' or '.',
  // starting with a letter or digit.
  std::optional<std::string> Name(std::string_view key, bool required = true);
  std::optional<int64_t> Int(std::string_view key, int64_t min, int64_t max);
  std::optional<bool> Bool(std::string_view key);
  std::optional<int64_t> Milli(std::string_view key);   // a decimal: 0.5, "0.5"
  std::optional<int64_t> Cpu(std::string_view key);     // cores: 8, "500m"
  std::optional<int64_t> Memory(std::string_view key);  // "64Gi"
  std::optional<Duration> Dur(std::string_view key);    // "5m"
  std::optional<Time> TimeField(std::string_view key);  // RFC 3339
  // A string or a list of strings.
  std::optional<std::vector<std::string>> StringList(std::string_view key);
  std::optional<Labels> StringMap(std::string_view key);
  // -1 or an amount of `r` >= 0.
  std::optional<int64_t> QueueAmount(std::string_view key, Resource r);

  static bool ValidName(std::string_view s);

 private:
  // The field as text for the quantity parsers: strings as they are,
  // numbers as written.
  std::optional<std::string> Scalar(std::string_view key, std::string_view expected);
  template <typename T, typename Parse>
  std::optional<T> Parsed(std::string_view key, std::string_view expected, Parse parse);

  const nlohmann::json& obj_;
  std::string path_;
  JsonErrors* errors_;
};

// The JSON type of `j` in words ("a string", "a list").
std::string JsonTypeName(const nlohmann::json& j);

}  // namespace sluice

#endif  // SLUICE_SERVER_JSON_FIELDS_H_
