// The admission logic of sluice's Kubernetes webhook: AdmissionReview v1 in,
// AdmissionReview v1 out, with no I/O (docs/kubernetes.md).
//
// For a pod with spec.schedulerName "sluice" that asks for a fraction of a
// GPU (annotation sluice.dev/gpu-fraction or sluice.dev/gpu-memory), the
// review checks the annotations and answers with a JSONPatch that points the
// pod's containers at the ConfigMap the scheduler writes before it binds the
// pod, and mounts the interception library. Every other pod is allowed
// unchanged, except that a sluice pod's whole-GPU requests are checked too.
// The patch adds only what the pod lacks, so a reinvoked webhook adds nothing.
// All functions are pure apart from the name generator they are handed, and
// are thread-safe when it is.
#ifndef SLUICE_K8S_WEBHOOK_ADMISSION_H_
#define SLUICE_K8S_WEBHOOK_ADMISSION_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "k8s/annotations.h"

namespace sluice::k8s {

// The names of the contract shared with the scheduler and the node agent.
inline constexpr std::string_view kSchedulerName = "sluice";
inline constexpr std::string_view kNvidiaGpuResource = "nvidia.com/gpu";
inline constexpr std::string_view kVgpuDir = "/run/sluice-vgpu";
inline constexpr std::string_view kVgpuVolume = "sluice-vgpu";
inline constexpr std::string_view kLibDir = "/usr/local/sluice/lib";
inline constexpr std::string_view kLibVolume = "sluice-lib";
inline constexpr std::string_view kVgpuLibrary = "/usr/local/sluice/lib/libsluice-vgpu.so";

// The ConfigMap keys every container of a fractional pod reads its
// environment from, in the order they are added.
inline constexpr std::string_view kConfigMapKeys[] = {
    "NVIDIA_VISIBLE_DEVICES",  "SLUICE_GPU_DEVICES",          "SLUICE_GPU_FRACTION",
    "SLUICE_GPU_MEMORY_LIMIT", "SLUICE_GPU_MEMORY_LIMIT_MIB", "SLUICE_GPU_COMPUTE_SHARE",
};

// What a fractional pod asked for, once its annotations are checked.
struct GpuShareRequest {
  int64_t fraction_milli = 0;  // thousandths of a GPU; 0 when memory is given instead
  int64_t memory_mib = 0;      // 0 when a fraction is given instead
  int64_t devices = 1;         // the share applies to each of this many GPUs
};

// Reads and checks the GPU-sharing annotations of `pod`. Returns
// NotFound when the pod carries none of them (it is not a fractional pod),
// and InvalidArgument naming the annotation, the value and what was
// expected when one is wrong or they contradict each other or an
// nvidia.com/gpu request.
Result<GpuShareRequest> ParseGpuShare(const nlohmann::json& pod);

// Checks the nvidia.com/gpu requests and limits of every container and
// init container: whole numbers, and limits equal to requests when both are
// given.
Status CheckWholeGpuRequests(const nlohmann::json& pod);

// The decision about one pod.
struct PodDecision {
  bool allowed = true;
  std::string message;                             // why not, when !allowed
  nlohmann::json patch = nlohmann::json::array();  // JSONPatch operations; empty: unchanged
};

// Makes the names of the ConfigMaps of new fractional pods.
using ConfigMapNamer = std::function<std::string()>;

// "sluice-gpu-" and ten random lowercase hex digits, from OpenSSL's RNG.
std::string RandomConfigMapName();

// Decides about `pod` (a Pod object). `mutate` false only validates (the
// /validate endpoint): the patch stays empty.
PodDecision ReviewPod(const nlohmann::json& pod, bool mutate, const ConfigMapNamer& namer);

// Answers one AdmissionReview request body with an AdmissionReview
// response. InvalidArgument when `body` is not JSON or not an AdmissionReview
// v1 request (the server answers 400); a refused pod is a valid review with
// allowed: false.
Result<nlohmann::json> AnswerAdmissionReview(std::string_view body, bool mutate,
                                             const ConfigMapNamer& namer);

// Standard base64 with padding, as the AdmissionReview's patch field wants.
std::string Base64Encode(std::string_view bytes);

}  // namespace sluice::k8s

#endif  // SLUICE_K8S_WEBHOOK_ADMISSION_H_
