// `sluice k8s webhook`: serves the admission webhook over HTTPS until
// SIGTERM or SIGINT; `sluice k8s webhook certs` writes a CA and a serving
// certificate for installs that do not let Helm make them.
#ifndef SLUICE_K8S_WEBHOOK_WEBHOOK_COMMAND_H_
#define SLUICE_K8S_WEBHOOK_WEBHOOK_COMMAND_H_

#include <CLI/CLI.hpp>

namespace sluice::k8s {

// Adds `webhook` (and `webhook certs`) under the `k8s` command.
void AddWebhookCommand(CLI::App* k8s);

}  // namespace sluice::k8s

#endif  // SLUICE_K8S_WEBHOOK_WEBHOOK_COMMAND_H_
