// The built web UI (web/dist), served by the HTTP server at `/` without
// authentication: the files are the same for everyone, and the app signs
// in with a token for every API call it makes. Paths that are not files
// answer index.html, so that the app's own routes (/workloads/...) load it.
// Thread-compatible; reads the directory on every request.
#ifndef SLUICE_SERVER_WEB_FILES_H_
#define SLUICE_SERVER_WEB_FILES_H_

#include <string>
#include <vector>

#include "server/control_plane.h"

namespace sluice {

class WebFiles {
 public:
  explicit WebFiles(std::string root) : root_(std::move(root)) {}

  // True for paths outside the API: not under /api, /metrics or /healthz.
  static bool IsWebPath(const std::vector<std::string>& segments);

  // The file at the decoded path, or index.html for a path without one;
  // 404 for paths that try to leave the directory, and when the UI was
  // not built.
  ApiResponse Serve(const std::vector<std::string>& segments) const;

 private:
  std::string root_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WEB_FILES_H_
