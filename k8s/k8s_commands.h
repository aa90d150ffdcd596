// The `sluice k8s` commands: the scheduler of a Kubernetes cluster and the
// reservation pods' small job (the webhook and node agent add themselves).
#ifndef SLUICE_K8S_K8S_COMMANDS_H_
#define SLUICE_K8S_K8S_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace sluice {

// Adds `k8s` with its subcommands to `app`; returns the `k8s` command so
// that other components can add theirs.
CLI::App* AddK8sCommands(CLI::App& app);

}  // namespace sluice

#endif  // SLUICE_K8S_K8S_COMMANDS_H_
