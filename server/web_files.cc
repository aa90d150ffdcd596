#include "server/web_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice {
namespace {

std::string ContentType(const std::string& extension) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (extension == ext) return type;
  }
  return "application/octet-stream";
}

bool ReadFile(const std::filesystem::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  *out = std::move(text).str();
  return true;
}

}  // namespace

bool WebFiles::IsWebPath(const std::vector<std::string>& segments) {
  if (segments.empty()) return true;
  const std::string& first = segments[0];
  return first != "api" && first != "metrics" && first != "healthz";
}

ApiResponse WebFiles::Serve(const std::vector<std::string>& segments) const {
  std::filesystem::path path = root_;
  for (const std::string& s : segments) {
    if (s.empty() || s == "." || s == ".." || s.find('/') != std::string::npos ||
        s.find('\0') != std::string::npos) {
      return ApiResponse::Error(404, "no such file");
    }
    path /= s;
  }
  std::error_code ec;
  const bool is_file = !segments.empty() && std::filesystem::is_regular_file(path, ec);
  // Hashed assets never change under their name; index.html always may.
  const bool asset = is_file && segments.size() >= 2 && segments[0] == "assets";
  if (!is_file) {
    // A missing asset is an error, not a route of the app.
    if (!segments.empty() && segments[0] == "assets") {
      return ApiResponse::Error(404, "no such file");
    }
    path = std::filesystem::path(root_) / "index.html";
  }
  ApiResponse r;
  if (!ReadFile(path, &r.text)) {
    return ApiResponse::Error(404, "the web UI is not built (no " + path.string() +
                                       "); run scripts/build.sh, or pass --web-dir");
  }
  r.content_type = ContentType(path.extension().string());
  r.cache_control = asset ? "public, max-age=31536000, immutable" : "no-cache";
  return r;
}

}  // namespace sluice
