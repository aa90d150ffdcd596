// A small Kubernetes API client: HTTPS with a bearer token (or a client
// certificate) to one API server, JSON in and out, and watches.
//
// KubeClient keeps a pool of kept-alive TLS connections, so concurrent
// calls from several threads each use their own connection; it is
// thread-safe. A watch holds one connection for as long as it runs;
// CancelWatches() ends every running watch (their Watch calls return),
// which is how a scheduler that stops leading lets go of its streams.
// Errors of the transport (cannot connect, bad certificate) are a Status;
// an answer of the API server, whatever its HTTP status, is a KubeResponse.
#ifndef SLUICE_K8S_KUBE_CLIENT_H_
#define SLUICE_K8S_KUBE_CLIENT_H_

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

// Where the API server is and how to prove who we are.
struct KubeConfig {
  std::string server;   // https://HOST:PORT
  std::string ca_data;  // PEM; empty: the system's trust store
  bool insecure_skip_tls_verify = false;
  std::string token;             // bearer token
  std::string token_file;        // re-read when it changes (bound service account tokens rotate)
  std::string client_cert_data;  // PEM client certificate and key, instead of a token
  std::string client_key_data;
};

// Reads the current context of a kubeconfig file.
Result<KubeConfig> LoadKubeconfig(const std::string& path);
// The pod's service account (KUBERNETES_SERVICE_HOST and the mounted token).
Result<KubeConfig> InClusterConfig();
// The flag if given, else $KUBECONFIG, else in-cluster, else ~/.kube/config.
Result<KubeConfig> ResolveKubeConfig(const std::string& kubeconfig_path);

struct KubeResponse {
  int status = 0;
  std::string body;
  nlohmann::json json;  // the body parsed; null when it is not JSON

  bool ok() const { return status >= 200 && status < 300; }
  // The API server's Status message for an error, or the body.
  std::string Message() const;
};

// One event of a watch: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
struct WatchEvent {
  std::string type;
  nlohmann::json object;
};

class KubeClient {
 public:
  static Result<std::unique_ptr<KubeClient>> Create(KubeConfig config);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  Result<KubeResponse> Request(std::string_view method, const std::string& path,
                               const std::string& body = "",
                               std::string_view content_type = "application/json");
  Result<KubeResponse> Get(const std::string& path) { return Request("GET", path); }
  Result<KubeResponse> Post(const std::string& path, const nlohmann::json& body) {
    return Request("POST", path, body.dump());
  }
  Result<KubeResponse> Put(const std::string& path, const nlohmann::json& body) {
    return Request("PUT", path, body.dump());
  }
  Result<KubeResponse> Patch(const std::string& path, const nlohmann::json& body,
                             std::string_view content_type = "application/merge-patch+json") {
    return Request("PATCH", path, body.dump(), content_type);
  }
  Result<KubeResponse> Delete(const std::string& path, const nlohmann::json& body = nullptr) {
    return Request("DELETE", path, body.is_null() ? "" : body.dump());
  }

  // GETs `path` (which must ask for watch=true) and calls `on_event` for
  // each event until it returns false, the server ends the stream, or
  // CancelWatches() is called. A non-200 answer comes back as the response
  // (410 Gone means the resourceVersion is too old: list again).
  Result<KubeResponse> Watch(const std::string& path,
                             const std::function<bool(const WatchEvent&)>& on_event);
  // Ends every watch running now.
  void CancelWatches();

  const std::string& server() const { return config_.server; }

  struct Connection;

 private:
  explicit KubeClient(KubeConfig config);
  Result<std::unique_ptr<Connection>> Connect();
  std::string Token();

  KubeConfig config_;
  std::string host_;
  std::string port_;
  struct TlsContext;
  std::unique_ptr<TlsContext> tls_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  std::set<int> watch_fds_;                        // guarded by mu_
  std::string token_;                              // guarded by mu_ (from token_file)
  int64_t token_mtime_ = -1;                       // guarded by mu_
};

// Percent-encodes a query value (label and field selectors).
std::string QueryEscape(std::string_view s);

}  // namespace sluice

#endif  // SLUICE_K8S_KUBE_CLIENT_H_
