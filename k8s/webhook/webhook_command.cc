#include "k8s/webhook/webhook_command.h"

#include <csignal>
#include <iostream>
#include <memory>

#include "k8s/webhook/certs.h"
#include "k8s/webhook/webhook_server.h"

namespace sluice::k8s {
namespace {

struct CertsOptions {
  std::string dir;
  std::vector<std::string> names;
  int days = 3650;
};

int RunCerts(const CertsOptions& o) {
  Result<WebhookCertificates> certs = GenerateWebhookCertificates(o.names, o.days);
  if (!certs.ok()) {
    std::cerr << "sluice k8s webhook certs: " << certs.status().message() << "\n";
    return 2;
  }
  if (Status s = WriteWebhookCertificates(*certs, o.dir); !s.ok()) {
    std::cerr << "sluice k8s webhook certs: " << s.message() << "\n";
    return 1;
  }
  std::cout << "wrote " << o.dir << "/ca.crt (the webhook configuration's caBundle), " << o.dir
            << "/tls.crt and " << o.dir << "/tls.key\n";
  return 0;
}

// Serves until SIGTERM (the kubelet stopping the pod) or SIGINT. The
// signals are blocked before the server's threads start, so that they
// inherit the mask and sigwait here is the one place that receives them.
int RunServer(const WebhookServerOptions& o) {
  if (o.cert_file.empty() || o.key_file.empty()) {
    std::cerr << "sluice k8s webhook: --cert and --key are required (PEM files; "
                 "`sluice k8s webhook certs` makes a pair)\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Result<std::unique_ptr<WebhookServer>> server = WebhookServer::Start(o);
  if (!server.ok()) {
    std::cerr << "sluice k8s webhook: " << server.status().message() << "\n";
    return 1;
  }
  std::cout << "sluice webhook listening on https://" << o.address << ":" << (*server)->port()
            << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->Stop();
  std::cout << "sluice webhook stopped" << std::endl;
  return 0;
}

}  // namespace

void AddWebhookCommand(CLI::App* k8s) {
  auto serve = std::make_shared<WebhookServerOptions>();
  CLI::App* webhook = k8s->add_subcommand(
      "webhook",
      "Serve the admission webhook that checks fractional-GPU pods and points them at their "
      "GPU ConfigMap (POST /mutate, POST /validate, GET /healthz over HTTPS)");
  webhook->add_option("--cert", serve->cert_file, "PEM file of the serving certificate");
  webhook->add_option("--key", serve->key_file, "PEM file of its private key");
  webhook->add_option("--address", serve->address, "IP address to listen on")
      ->capture_default_str();
  webhook->add_option("--port", serve->port, "Port to listen on (0: any free one)")
      ->capture_default_str();

  auto certs = std::make_shared<CertsOptions>();
  CLI::App* certs_cmd = webhook->add_subcommand(
      "certs", "Write a new CA (ca.crt) and a serving certificate it signs (tls.crt, tls.key)");
  certs_cmd->add_option("--dir", certs->dir, "Folder to write the files into")->required();
  certs_cmd
      ->add_option("--dns", certs->names,
                   "DNS names (or IPs) of the webhook's Service, e.g. sluice-webhook.sluice.svc")
      ->required();
  certs_cmd->add_option("--days", certs->days, "How long the certificates are valid")
      ->capture_default_str();
  certs_cmd->callback([certs] {
    if (int code = RunCerts(*certs); code != 0) throw CLI::RuntimeError(code);
  });
  // `webhook certs` runs the parent's callback too; it must not serve.
  webhook->callback([certs_cmd, serve] {
    if (certs_cmd->parsed()) return;
    if (int code = RunServer(*serve); code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace sluice::k8s
