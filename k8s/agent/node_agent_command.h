// `sluice k8s node-agent`: the DaemonSet's process on every GPU node. It
// installs the interception library into the host folder fractional pods
// mount, publishes the node's GPUs on its Node object every --interval (and
// whenever they change), and serves /metrics and /healthz, until SIGTERM.
#ifndef SLUICE_K8S_AGENT_NODE_AGENT_COMMAND_H_
#define SLUICE_K8S_AGENT_NODE_AGENT_COMMAND_H_

#include <CLI/CLI.hpp>
#include <string>

#include "common/status.h"
#include "k8s/agent/node_agent.h"

namespace sluice::k8s {

// Adds `node-agent` under the `k8s` command.
void AddNodeAgentCommand(CLI::App* k8s);

// The NodePatcher that sends merge patches to /api/v1/nodes/`node` with
// the credentials `kubeconfig` resolves to (in the cluster: the pod's
// service account). Defined in kube_node_patcher.cc, the one place the
// agent talks to the API server.
Result<NodePatcher> ConnectNodePatcher(const std::string& kubeconfig, const std::string& node);

// libsluice-vgpu.so in the lib folder beside the folder of the running
// binary (/usr/local/sluice/bin/sluice -> /usr/local/sluice/lib/...).
std::string DefaultVgpuLibrary();

}  // namespace sluice::k8s

#endif  // SLUICE_K8S_AGENT_NODE_AGENT_COMMAND_H_
