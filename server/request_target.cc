// Decoding request targets: path segments and query parameters.
#include "server/api_router.h"

namespace sluice {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Decode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (in[i] == '+' && plus_is_space) {
      *out += ' ';
    } else {
      *out += in[i];
    }
  }
  return true;
}

}  // namespace

bool QueryFlag(const ApiRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  return it != req.query.end() && (it->second.empty() || it->second == "true" || it->second == "1");
}

bool ParseTarget(const std::string& target, ApiRequest* req) {
  std::string_view t = target;
  std::string_view query;
  if (size_t q = t.find('?'); q != std::string_view::npos) {
    query = t.substr(q + 1);
    t = t.substr(0, q);
  }
  req->segments.clear();
  while (!t.empty()) {
    if (t.front() == '/') {
      t.remove_prefix(1);
      continue;
    }
    size_t slash = t.find('/');
    std::string seg;
    if (!Decode(t.substr(0, slash), false, &seg)) return false;
    req->segments.push_back(std::move(seg));
    if (slash == std::string_view::npos) break;
    t.remove_prefix(slash);
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key;
    std::string value;
    if (!Decode(pair.substr(0, eq), true, &key)) return false;
    if (eq != std::string_view::npos && !Decode(pair.substr(eq + 1), true, &value)) return false;
    if (!key.empty()) req->query[key] = value;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return true;
}

bool IsLogs(const ApiRequest& req, std::string* project, std::string* name) {
  const auto& s = req.segments;
  if (req.method != "GET" || s.size() != 7 || s[0] != "api" || s[1] != "v1" || s[2] != "projects" ||
      s[4] != "workloads" || s[6] != "logs") {
    return false;
  }
  *project = s[3];
  *name = s[5];
  return true;
}

bool IsWatch(const ApiRequest& req, std::string* project) {
  if (req.method != "GET" || !QueryFlag(req, "watch")) return false;
  const auto& s = req.segments;
  if (s.size() == 3 && s[0] == "api" && s[1] == "v1" && s[2] == "workloads") {
    auto it = req.query.find("project");
    *project = it == req.query.end() ? "" : it->second;
    return true;
  }
  if (s.size() == 5 && s[0] == "api" && s[1] == "v1" && s[2] == "projects" && s[4] == "workloads") {
    *project = s[3];
    return true;
  }
  return false;
}

}  // namespace sluice
