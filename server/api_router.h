// Maps REST requests under /api/v1 (and /metrics) to ControlPlane
// operations. Transport-free: the HTTP server hands it a decoded request
// and the authenticated caller; it never sees sockets.
#ifndef SLUICE_SERVER_API_ROUTER_H_
#define SLUICE_SERVER_API_ROUTER_H_

#include <map>
#include <string>
#include <vector>

#include "server/control_plane.h"

namespace sluice {

struct ApiRequest {
  std::string method;                 // GET, POST, PATCH, DELETE
  std::vector<std::string> segments;  // decoded path segments: {"api", "v1", "projects"}
  std::map<std::string, std::string> query;
  std::string body;
};

// Splits and percent-decodes a request target ("/api/v1/x?watch=true").
// Returns false for a target that cannot be decoded.
bool ParseTarget(const std::string& target, ApiRequest* req);

// True when query parameter `key` is present as "", "true" or "1".
bool QueryFlag(const ApiRequest& req, const std::string& key);

// True for GET /api/v1/workloads?watch=true and
// GET /api/v1/projects/P/workloads?watch=true: the HTTP layer keeps those
// connections open as Server-Sent Events streams.
bool IsWatch(const ApiRequest& req, std::string* project);

// True for GET /api/v1/projects/P/workloads/W/logs: the HTTP layer serves
// the file itself (and follows it with ?follow=true).
bool IsLogs(const ApiRequest& req, std::string* project, std::string* name);

void HandleApi(ControlPlane& cp, const ApiRequest& req, const Caller& caller, const Reply& reply);

// The largest request body accepted (413 above it).
inline constexpr size_t kMaxRequestBody = 1 << 20;

}  // namespace sluice

#endif  // SLUICE_SERVER_API_ROUTER_H_
