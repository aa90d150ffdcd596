// Certificates for the webhook's HTTPS endpoint, made with OpenSSL's C API:
// a self-signed CA and a serving certificate it signs for the webhook
// Service's DNS names. The Helm chart makes its own with genCA and
// genSignedCert; `sluice k8s webhook certs` serves installs without Helm and
// the tests. The CA's private key is not kept: nothing else is ever signed
// with it, so a new pair is made instead of renewing. Thread-safe.
#ifndef SLUICE_K8S_WEBHOOK_CERTS_H_
#define SLUICE_K8S_WEBHOOK_CERTS_H_

#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::k8s {

// PEM texts, named after the keys of a kubernetes.io/tls Secret.
struct WebhookCertificates {
  std::string ca_crt;   // the CA: the caBundle of the webhook configuration
  std::string tls_crt;  // the serving certificate, signed by the CA
  std::string tls_key;  // its private key (ECDSA P-256, PKCS#8)
};

// Makes a CA and a serving certificate valid for `names` (DNS names such as
// "sluice-webhook.sluice.svc", or IP addresses) for `valid_days` days.
// InvalidArgument names the first name that is neither.
Result<WebhookCertificates> GenerateWebhookCertificates(const std::vector<std::string>& names,
                                                        int valid_days = 3650);

// Writes ca.crt, tls.crt and tls.key (mode 0600) into `dir`, creating it.
Status WriteWebhookCertificates(const WebhookCertificates& certs, const std::string& dir);

}  // namespace sluice::k8s

#endif  // SLUICE_K8S_WEBHOOK_CERTS_H_
