// The node agent's only conversation with the API server: merge patches to
// its own Node object, through the shared Kubernetes client.
#include "k8s/agent/node_agent_command.h"
#include "k8s/kube_client.h"

namespace sluice::k8s {
namespace {

// Node names are DNS subdomains; checking keeps the name from reshaping
// the request path.
bool IsNodeName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return true;
}

}  // namespace

Result<NodePatcher> ConnectNodePatcher(const std::string& kubeconfig, const std::string& node) {
  if (!IsNodeName(node)) {
    return Status::InvalidArgument("--node-name: \"" + node +
                                   "\" is not a node name (lowercase letters, digits, '-', '.')");
  }
  Result<KubeConfig> config = ResolveKubeConfig(kubeconfig);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<KubeClient>> client = KubeClient::Create(*config);
  if (!client.ok()) return client.status();
  std::shared_ptr<KubeClient> shared = std::move(client).value();
  const std::string path = "/api/v1/nodes/" + node;
  return NodePatcher([shared, path](const nlohmann::json& patch) -> Status {
    Result<KubeResponse> response = shared->Patch(path, patch);
    if (!response.ok()) return response.status();
    if (response->status / 100 != 2) {
      return Status::FailedPrecondition("PATCH " + path + ": HTTP " +
                                        std::to_string(response->status) + ": " +
                                        response->Message());
    }
    return Status::OK();
  });
}

}  // namespace sluice::k8s
