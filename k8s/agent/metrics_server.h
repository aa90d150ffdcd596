// A small plain-HTTP server for the node agent: GET /metrics answers with
// what its handler renders (Prometheus text), GET /healthz with "ok". One
// thread of its own; each connection gets one answer and is closed, which is
// all a Prometheus scrape needs. Stop (or the destructor) closes it; call it
// from the thread that owns the server.
#ifndef SLUICE_K8S_AGENT_METRICS_SERVER_H_
#define SLUICE_K8S_AGENT_METRICS_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace sluice::k8s {

class MetricsServer {
 public:
  using Render = std::function<Result<std::string>()>;

  // Listens on `address`:`port` (0 picks a free port).
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& address, int port,
                                                      Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const;
  void Stop();

 private:
  struct State;
  explicit MetricsServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sluice::k8s

#endif  // SLUICE_K8S_AGENT_METRICS_SERVER_H_
