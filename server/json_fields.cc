#include "server/json_fields.h"

#include "core/snapshot_errors.h"

namespace sluice {

using nlohmann::json;

Status JsonErrors::ToStatus() const {
  if (lines_.empty()) return Status::OK();
  std::string text;
  for (const std::string& l : lines_) text += (text.empty() ? "" : "\n") + l;
  return Status::InvalidArgument(text);
}

std::string JsonTypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "a list";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

JsonFields::JsonFields(const json& obj, std::string path, JsonErrors* errors,
                       std::span<const std::string_view> known)
    : obj_(obj), path_(std::move(path)), errors_(errors) {
  if (!obj_.is_object()) {
    errors_->Add(path_ + ": expected an object, got " + JsonTypeName(obj_));
    return;
  }
  std::vector<std::string_view> keys(known.begin(), known.end());
  for (const auto& [key, value] : obj_.items()) {
    bool found = false;
    for (std::string_view k : keys) found = found || k == key;
    if (!found) {
      errors_->Add(path_ + ": unknown field \"" + key + "\"" +
                   internal::ErrorList::SuggestFrom(key, keys));
    }
  }
}

const json* JsonFields::Get(std::string_view key) const {
  if (!obj_.is_object()) return nullptr;
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string JsonFields::FieldPath(std::string_view key) const {
  return path_ + "." + std::string(key);
}

void JsonFields::Error(std::string_view key, const std::string& message) {
  errors_->Add(FieldPath(key) + ": " + message);
}

std::optional<std::string> JsonFields::String(std::string_view key, bool required) {
  const json* v = Get(key);
  if (v == nullptr) {
    if (required && obj_.is_object()) Error(key, "missing; it is required");
    return std::nullopt;
  }
  if (!v->is_string()) {
    Error(key, "expected a string, got " + JsonTypeName(*v));
    return std::nullopt;
  }
  return v->get<std::string>();
}

bool JsonFields::ValidName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.'))) return false;
  }
  return true;
}

std::optional<std::string> JsonFields::Name(std::string_view key, bool required) {
  std::optional<std::string> s = String(key, required);
  if (s && !ValidName(*s)) {
    Error(key,
          "expected a name of 1 to 63 letters, digits, '-', '_' or '.', starting with a letter "
          "or digit, got \"" +
              *s + "\"");
    return std::nullopt;
  }
  return s;
}

std::optional<int64_t> JsonFields::Int(std::string_view key, int64_t min, int64_t max) {
  const json* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) {
    Error(key, "expected a whole number from " + std::to_string(min) + " to " +
                   std::to_string(max) + ", got " + v->dump());
    return std::nullopt;
  }
  int64_t n = 0;
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    n = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  } else {
    n = v->get<int64_t>();
  }
  if (n < min || n > max) {
    Error(key, "expected a whole number from " + std::to_string(min) + " to " +
                   std::to_string(max) + ", got " + v->dump());
    return std::nullopt;
  }
  return n;
}

std::optional<bool> JsonFields::Bool(std::string_view key) {
  const json* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    Error(key, "expected true or false, got " + v->dump());
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<std::string> JsonFields::Scalar(std::string_view key, std::string_view expected) {
  const json* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number()) return v->dump();
  Error(key, "expected " + std::string(expected) + ", got " + JsonTypeName(*v));
  return std::nullopt;
}

template <typename T, typename Parse>
std::optional<T> JsonFields::Parsed(std::string_view key, std::string_view expected, Parse parse) {
  std::optional<std::string> text = Scalar(key, expected);
  if (!text) return std::nullopt;
  Result<T> r = parse(*text);
  if (!r.ok()) {
    Error(key, r.status().message());
    return std::nullopt;
  }
  return *r;
}

std::optional<int64_t> JsonFields::Milli(std::string_view key) {
  return Parsed<int64_t>(key, "a number", &ParseMilli);
}

std::optional<int64_t> JsonFields::Cpu(std::string_view key) {
  std::optional<int64_t> v = Parsed<int64_t>(key, "CPU cores", &ParseCpuMillis);
  if (v && *v > kMaxAmount) {
    Error(key, "is too large; at most about a billion cores");
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> JsonFields::Memory(std::string_view key) {
  std::optional<int64_t> v =
      Parsed<int64_t>(key, "a memory size such as \"64Gi\"", &ParseMemoryMiB);
  if (v && *v > kMaxAmount) {
    Error(key, "is too large; at most " + FormatMemoryMiB(kMaxAmount));
    return std::nullopt;
  }
  return v;
}

std::optional<Duration> JsonFields::Dur(std::string_view key) {
  return Parsed<Duration>(key, "a duration such as \"5m\"", &ParseDuration);
}

std::optional<Time> JsonFields::TimeField(std::string_view key) {
  return Parsed<Time>(key, "an RFC 3339 time", &ParseTime);
}

std::optional<std::vector<std::string>> JsonFields::StringList(std::string_view key) {
  const json* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return std::vector<std::string>{v->get<std::string>()};
  if (!v->is_array()) {
    Error(key, "expected a string or a list of strings, got " + JsonTypeName(*v));
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      Error(std::string(key) + "[" + std::to_string(i) + "]",
            "expected a string, got " + JsonTypeName((*v)[i]));
      return std::nullopt;
    }
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

std::optional<Labels> JsonFields::StringMap(std::string_view key) {
  const json* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    Error(key, "expected an object of strings, got " + JsonTypeName(*v));
    return std::nullopt;
  }
  Labels out;
  for (const auto& [k, value] : v->items()) {
    if (!value.is_string()) {
      Error(std::string(key) + "." + k, "expected a string, got " + JsonTypeName(value));
      return std::nullopt;
    }
    out.emplace_back(k, value.get<std::string>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<int64_t> JsonFields::QueueAmount(std::string_view key, Resource r) {
  const json* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer() && v->get<int64_t>() == -1) return -1;
  std::optional<int64_t> amount;
  switch (r) {
    case Resource::kGpu:
      amount = Milli(key);
      break;
    case Resource::kCpu:
      amount = Cpu(key);
      break;
    case Resource::kMemory:
      amount = Memory(key);
      break;
  }
  if (amount && *amount < 0) {
    Error(key, "expected -1 (unlimited) or an amount >= 0");
    return std::nullopt;
  }
  return amount;
}

}  // namespace sluice
