// The HTTPS endpoint of the admission webhook: POST /mutate and POST
// /validate answer AdmissionReviews (admission.h), GET /healthz answers
// "ok". TLS 1.2 or newer, with the certificate and key read from PEM files
// at start. A body that is not an AdmissionReview gets 400 with the reason;
// the API server's ?timeout= query is ignored. The server runs its own
// threads; Start returns once it listens. Stop (or the destructor) closes
// it and joins them; call it from the thread that owns the server.
#ifndef SLUICE_K8S_WEBHOOK_WEBHOOK_SERVER_H_
#define SLUICE_K8S_WEBHOOK_WEBHOOK_SERVER_H_

#include <memory>
#include <string>

#include "common/status.h"
#include "k8s/webhook/admission.h"

namespace sluice::k8s {

struct WebhookServerOptions {
  std::string cert_file;  // PEM: the serving certificate (and any chain after it)
  std::string key_file;   // PEM: its private key
  std::string address = "0.0.0.0";
  int port = 8443;  // 0 picks a free one
  int threads = 2;
  ConfigMapNamer namer = RandomConfigMapName;
};

class WebhookServer {
 public:
  // Loads the certificate and listens; the error names the file or address
  // that failed.
  static Result<std::unique_ptr<WebhookServer>> Start(WebhookServerOptions options);
  ~WebhookServer();
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  int port() const;
  void Stop();

 private:
  struct State;
  explicit WebhookServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sluice::k8s

#endif  // SLUICE_K8S_WEBHOOK_WEBHOOK_SERVER_H_
