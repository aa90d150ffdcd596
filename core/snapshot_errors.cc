#include "core/snapshot_errors.h"

#include <algorithm>
#include <set>

namespace sluice::internal {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

void ErrorList::Add(const YAML::Mark& mark, const std::string& path, const std::string& message) {
  std::string where = source_;
  if (!mark.is_null()) {
    where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  lines_.push_back(where + ": " + path + ": " + message);
  positions_.emplace_back(mark.is_null() ? 0 : mark.line, mark.is_null() ? 0 : mark.column);
}

Status ErrorList::ToStatus() const {
  constexpr size_t kMaxShown = 50;
  // Report in file order, whatever order the checks found them in.
  std::vector<size_t> order(lines_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [this](size_t a, size_t b) { return positions_[a] < positions_[b]; });
  std::string out;
  for (size_t i = 0; i < order.size() && i < kMaxShown; ++i) {
    if (i > 0) out += "\n";
    out += lines_[order[i]];
  }
  if (lines_.size() > kMaxShown) {
    out += "\n... and " + std::to_string(lines_.size() - kMaxShown) + " more errors";
  }
  return Status::InvalidArgument(out);
}

std::string ErrorList::SuggestFrom(std::string_view name, std::span<const std::string_view> known) {
  std::string_view best;
  size_t best_distance = 3;  // suggest only close matches
  for (std::string_view k : known) {
    size_t d = EditDistance(name, k);
    // Also require most of the name to survive, so "zz" does not suggest "a".
    if (d < best_distance && d * 2 <= std::max(name.size(), k.size())) {
      best_distance = d;
      best = k;
    }
  }
  if (best.empty()) return "";
  return "; did you mean \"" + std::string(best) + "\"?";
}

FieldReader::FieldReader(ErrorList* errors, const YAML::Node& node, std::string path,
                         std::span<const std::string_view> known_keys)
    : errors_(errors), node_(node), path_(std::move(path)) {
  if (!node.IsMap()) {
    std::string known;
    for (std::string_view k : known_keys) known += (known.empty() ? "" : ", ") + std::string(k);
    errors_->Add(node.Mark(), path_, "expected a mapping with the keys " + known);
    ok_ = false;
    return;
  }
  // Name the entity in every message about it, unknown fields included.
  if (YAML::Node name = node["name"]; name && name.IsScalar() && !name.Scalar().empty()) {
    path_ += " \"" + name.Scalar() + "\"";
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    if (std::find(known_keys.begin(), known_keys.end(), key) == known_keys.end()) {
      std::string known;
      for (std::string_view k : known_keys) known += (known.empty() ? "" : ", ") + std::string(k);
      std::string hint = ErrorList::SuggestFrom(key, known_keys);
      errors_->Add(kv.first.Mark(), path_,
                   "unknown field \"" + key + "\"" +
                       (hint.empty() ? " (known fields: " + known + ")" : hint));
    } else if (!seen.insert(key).second) {
      errors_->Add(kv.first.Mark(), path_, "field \"" + key + "\" is given twice");
    }
  }
}

YAML::Node FieldReader::Get(std::string_view key) const {
  if (!ok_) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) {
      if (kv.second.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
      return kv.second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Mark FieldReader::MarkOf(std::string_view key) const {
  YAML::Node v = Get(key);
  if (v.IsDefined()) return v.Mark();
  return node_.Mark();
}

void FieldReader::Error(std::string_view key, const std::string& message) {
  errors_->Add(MarkOf(key), path_ + "." + std::string(key), message);
}

std::optional<std::string> FieldReader::Scalar(std::string_view key, std::string_view expected) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return std::nullopt;
  if (!v.IsScalar()) {
    Error(key,
          "expected " + std::string(expected) + ", got a " + (v.IsSequence() ? "list" : "mapping"));
    return std::nullopt;
  }
  return v.Scalar();
}

template <typename T>
std::optional<T> FieldReader::Parsed(std::string_view key, std::string_view expected,
                                     Result<T> (*parse)(std::string_view)) {
  std::optional<std::string> s = Scalar(key, expected);
  if (!s) return std::nullopt;
  Result<T> r = parse(*s);
  if (!r.ok()) {
    Error(key, r.status().message());
    return std::nullopt;
  }
  return *r;
}

std::optional<std::string> FieldReader::Name(std::string_view key) {
  std::optional<std::string> s = String(key, /*required=*/true);
  if (!s) return std::nullopt;
  bool valid = !s->empty() && s->size() <= 253;
  for (char c : *s) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '.';
    valid = valid && allowed;
  }
  if (!valid) {
    Error(key, "expected a name of 1 to 253 letters, digits, '-', '_' or '.', got \"" + *s + "\"");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> FieldReader::String(std::string_view key, bool required) {
  std::optional<std::string> s = Scalar(key, "a string");
  if (!s && required && ok_ && !Get(key).IsDefined()) {
    errors_->Add(node_.Mark(), path_, "missing field \"" + std::string(key) + "\"");
  }
  return s;
}

std::optional<int64_t> FieldReader::Int(std::string_view key, int64_t min, int64_t max) {
  std::optional<std::string> s = Scalar(key, "a whole number");
  if (!s) return std::nullopt;
  Result<int64_t> milli = ParseMilli(*s);
  if (!milli.ok() || *milli % 1000 != 0 || *milli / 1000 < min || *milli / 1000 > max) {
    Error(key, "expected a whole number from " + std::to_string(min) + " to " +
                   std::to_string(max) + ", got \"" + *s + "\"");
    return std::nullopt;
  }
  return *milli / 1000;
}

std::optional<bool> FieldReader::Bool(std::string_view key) {
  std::optional<std::string> s = Scalar(key, "true or false");
  if (!s) return std::nullopt;
  if (*s == "true") return true;
  if (*s == "false") return false;
  Error(key, "expected true or false, got \"" + *s + "\"");
  return std::nullopt;
}

std::optional<int64_t> FieldReader::Milli(std::string_view key) {
  return Parsed<int64_t>(key, "a number", &ParseMilli);
}

std::optional<int64_t> FieldReader::Bounded(std::string_view key, std::optional<int64_t> v,
                                            int64_t max, const std::string& max_text) {
  if (v && *v > max) {
    Error(key, "is too large; at most " + max_text);
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> FieldReader::Cpu(std::string_view key) {
  return Bounded(key, Parsed<int64_t>(key, "CPU cores", &ParseCpuMillis), kMaxAmount,
                 "about a billion cores");
}

std::optional<int64_t> FieldReader::Memory(std::string_view key) {
  return Bounded(key, Parsed<int64_t>(key, "a memory size", &ParseMemoryMiB), kMaxAmount,
                 FormatMemoryMiB(kMaxAmount));
}

std::optional<sluice::Duration> FieldReader::Duration(std::string_view key) {
  return Parsed<sluice::Duration>(key, "a duration", &ParseDuration);
}

std::optional<sluice::Time> FieldReader::Time(std::string_view key, bool required) {
  if (required && ok_ && !Get(key).IsDefined()) {
    errors_->Add(node_.Mark(), path_,
                 "missing field \"" + std::string(key) +
                     "\" (an RFC 3339 time such as 2026-01-01T12:00:00Z)");
    return std::nullopt;
  }
  return Parsed<sluice::Time>(key, "a time", &ParseTime);
}

std::optional<int64_t> FieldReader::QueueAmount(std::string_view key, Resource r) {
  std::optional<std::string> s = Scalar(key, "an amount or -1");
  if (!s) return std::nullopt;
  if (*s == "-1") return -1;
  Result<int64_t> v = Status::Internal("unreachable");
  switch (r) {
    case Resource::kGpu:
      v = ParseMilli(*s);
      break;
    case Resource::kCpu:
      v = ParseCpuMillis(*s);
      break;
    case Resource::kMemory:
      v = ParseMemoryMiB(*s);
      break;
  }
  if (!v.ok() || *v < 0 || *v > kMaxAmount) {
    std::string unit = r == Resource::kGpu   ? "GPUs such as 4 or 2.5"
                       : r == Resource::kCpu ? "CPU cores such as 64 or 500m"
                                             : "memory such as 512Gi";
    Error(key, "expected -1 (unlimited) or an amount of " + unit + ", got \"" + *s + "\"");
    return std::nullopt;
  }
  return *v;
}

std::optional<Labels> FieldReader::StringMap(std::string_view key) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return std::nullopt;
  if (!v.IsMap()) {
    Error(key, "expected a mapping of label names to values, such as {rack: r1}");
    return std::nullopt;
  }
  Labels out;
  for (const auto& kv : v) {
    if (!kv.second.IsScalar()) {
      errors_->Add(kv.second.Mark(), path_ + "." + std::string(key) + "." + kv.first.Scalar(),
                   "expected a label value (a string)");
      continue;
    }
    out.emplace_back(kv.first.Scalar(), kv.second.Scalar());
  }
  std::sort(out.begin(), out.end());
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].first == out[i - 1].first) {
      Error(key, "label \"" + out[i].first + "\" is given twice");
    }
  }
  return out;
}

std::optional<std::vector<std::string>> FieldReader::StringList(std::string_view key) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return std::nullopt;
  std::vector<std::string> out;
  if (v.IsScalar()) {
    out.push_back(v.Scalar());
    return out;
  }
  if (!v.IsSequence()) {
    Error(key, "expected a string or a list of strings");
    return std::nullopt;
  }
  for (const auto& item : v) {
    if (!item.IsScalar()) {
      errors_->Add(item.Mark(), path_ + "." + std::string(key), "expected a string");
      return std::nullopt;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

std::optional<std::vector<int64_t>> FieldReader::IntList(std::string_view key, int64_t min,
                                                         int64_t max) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return std::vector<int64_t>{};
  if (!v.IsSequence()) {
    Error(key, "expected a list of whole numbers, such as [0, 1]");
    return std::nullopt;
  }
  std::vector<int64_t> out;
  for (const auto& item : v) {
    Result<int64_t> milli =
        item.IsScalar() ? ParseMilli(item.Scalar()) : Result<int64_t>(Status::InvalidArgument(""));
    if (!milli.ok() || *milli % 1000 != 0 || *milli / 1000 < min || *milli / 1000 > max) {
      errors_->Add(item.Mark(), path_ + "." + std::string(key),
                   "expected a whole number from " + std::to_string(min) + " to " +
                       std::to_string(max) +
                       (item.IsScalar() ? ", got \"" + item.Scalar() + "\"" : ""));
      return std::nullopt;
    }
    out.push_back(*milli / 1000);
  }
  return out;
}

YAML::Node FieldReader::List(std::string_view key) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return YAML::Node(YAML::NodeType::Sequence);
  if (!v.IsSequence()) {
    Error(key, "expected a list (a YAML sequence or JSON array)");
    return YAML::Node(YAML::NodeType::Sequence);
  }
  return v;
}

}  // namespace sluice::internal
