// The JSONPatch for a fractional pod and the AdmissionReview envelope
// around a decision (the declarations are in admission.h).
#include <vector>

#include "k8s/webhook/admission.h"

namespace sluice::k8s {
namespace {

using nlohmann::json;

const json* Field(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// A key as one JSON Pointer token (RFC 6901): annotation keys hold '/'.
std::string PointerToken(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

json Op(std::string_view op, const std::string& path, json value) {
  return json{{"op", op}, {"path", path}, {"value", std::move(value)}};
}

// The index of the entry named `name` in array `list`, or -1.
int FindNamed(const json* list, std::string_view name) {
  if (list == nullptr || !list->is_array()) return -1;
  for (size_t i = 0; i < list->size(); ++i) {
    const json* n = Field((*list)[i], "name");
    if (n != nullptr && n->is_string() && n->get<std::string>() == name) return static_cast<int>(i);
  }
  return -1;
}

// Whether a colon- or space-separated LD_PRELOAD list already names the
// interception library.
bool PreloadsLibrary(std::string_view value) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find_first_of(": ", start);
    if (end == std::string_view::npos) end = value.size();
    if (value.substr(start, end - start) == kVgpuLibrary) return true;
    start = end + 1;
  }
  return false;
}

// The environment every container of a fractional pod gets, LD_PRELOAD
// apart (it is merged with the container's own).
std::vector<json> WantedEnv(const std::string& configmap) {
  std::vector<json> env;
  for (std::string_view key : kConfigMapKeys) {
    env.push_back(json{{"name", key},
                       {"valueFrom", {{"configMapKeyRef", {{"name", configmap}, {"key", key}}}}}});
  }
  env.push_back(json{{"name", "SLUICE_VGPU_DIR"}, {"value", kVgpuDir}});
  return env;
}

std::vector<json> WantedMounts() {
  return {json{{"name", kVgpuVolume}, {"mountPath", kVgpuDir}},
          json{{"name", kLibVolume}, {"mountPath", kLibDir}, {"readOnly", true}}};
}

std::vector<json> WantedVolumes() {
  return {json{{"name", kVgpuVolume}, {"emptyDir", json::object()}},
          json{{"name", kLibVolume}, {"hostPath", {{"path", kLibDir}, {"type", "Directory"}}}}};
}

// Appends to `ops` what it takes to give the named entries of `wanted` to
// the array at `path` (absent: created whole; an entry of the same name
// that differs: replaced; equal: left alone).
void MergeNamed(const json* current, const std::string& path, const std::vector<json>& wanted,
                bool replace_different, json* ops) {
  if (current == nullptr || !current->is_array()) {
    ops->push_back(Op("add", path, json(wanted)));
    return;
  }
  for (const json& entry : wanted) {
    const int at = FindNamed(current, entry["name"].get<std::string>());
    if (at < 0) {
      ops->push_back(Op("add", path + "/-", entry));
    } else if (replace_different && (*current)[static_cast<size_t>(at)] != entry) {
      ops->push_back(Op("replace", path + "/" + std::to_string(at), entry));
    }
  }
}

Status PatchContainer(const json& container, const std::string& base, const std::string& configmap,
                      json* ops) {
  const json* env = Field(container, "env");
  std::vector<json> wanted = WantedEnv(configmap);
  const int preload = FindNamed(env, "LD_PRELOAD");
  if (preload < 0) {
    wanted.push_back(json{{"name", "LD_PRELOAD"}, {"value", kVgpuLibrary}});
  } else {
    const json& entry = (*env)[static_cast<size_t>(preload)];
    const json* value = Field(entry, "value");
    if (Field(entry, "valueFrom") != nullptr || (value != nullptr && !value->is_string())) {
      const json* name = Field(container, "name");
      return Status::InvalidArgument(
          "container " + (name != nullptr ? name->dump() : std::string("?")) +
          " takes LD_PRELOAD from valueFrom; sluice must put its GPU-sharing library first in "
          "LD_PRELOAD: give LD_PRELOAD as a plain value instead");
    }
    const std::string old = value != nullptr ? value->get<std::string>() : "";
    if (!PreloadsLibrary(old)) {
      ops->push_back(
          Op("replace", base + "/env/" + std::to_string(preload) + "/value",
             old.empty() ? std::string(kVgpuLibrary) : std::string(kVgpuLibrary) + ":" + old));
    }
  }
  MergeNamed(env, base + "/env", wanted, /*replace_different=*/true, ops);
  MergeNamed(Field(container, "volumeMounts"), base + "/volumeMounts", WantedMounts(),
             /*replace_different=*/false, ops);
  return Status::OK();
}

// The JSONPatch that makes `pod` a fractional pod (see the header).
Result<json> FractionPatch(const json& pod, const ConfigMapNamer& namer) {
  json ops = json::array();
  const json* meta = Field(pod, "metadata");
  const json* annotations = meta ? Field(*meta, "annotations") : nullptr;
  const json* existing = annotations ? Field(*annotations, kGpuConfigMapAnnotation) : nullptr;
  std::string configmap;
  if (existing != nullptr && existing->is_string() && !existing->get<std::string>().empty()) {
    configmap = existing->get<std::string>();
  } else {
    configmap = namer();
    const std::string path = "/metadata/annotations/" + PointerToken(kGpuConfigMapAnnotation);
    ops.push_back(existing != nullptr ? Op("replace", path, configmap)
                                      : Op("add", path, configmap));
  }
  const json& spec = pod["spec"];
  const json* containers = Field(spec, "containers");
  if (containers != nullptr && containers->is_array()) {
    for (size_t i = 0; i < containers->size(); ++i) {
      Status s = PatchContainer((*containers)[i], "/spec/containers/" + std::to_string(i),
                                configmap, &ops);
      if (!s.ok()) return s;
    }
  }
  MergeNamed(Field(spec, "volumes"), "/spec/volumes", WantedVolumes(),
             /*replace_different=*/false, &ops);
  return ops;
}

PodDecision Refuse(const Status& why) { return PodDecision{false, why.message(), json::array()}; }

}  // namespace

PodDecision ReviewPod(const nlohmann::json& pod, bool mutate, const ConfigMapNamer& namer) {
  const json* spec = Field(pod, "spec");
  const json* scheduler = spec ? Field(*spec, "schedulerName") : nullptr;
  if (scheduler == nullptr || !scheduler->is_string() ||
      scheduler->get<std::string>() != kSchedulerName) {
    return PodDecision{};
  }
  if (Status s = CheckWholeGpuRequests(pod); !s.ok()) return Refuse(s);
  Result<GpuShareRequest> share = ParseGpuShare(pod);
  if (share.status().code() == Status::Code::kNotFound) return PodDecision{};
  if (!share.ok()) return Refuse(share.status());
  if (!mutate) return PodDecision{};
  Result<json> patch = FractionPatch(pod, namer);
  if (!patch.ok()) return Refuse(patch.status());
  return PodDecision{true, "", std::move(patch).value()};
}

Result<nlohmann::json> AnswerAdmissionReview(std::string_view body, bool mutate,
                                             const ConfigMapNamer& namer) {
  const json review = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (review.is_discarded()) {
    return Status::InvalidArgument("the request body is not JSON; expected an AdmissionReview");
  }
  const json* api_version = Field(review, "apiVersion");
  const json* kind = Field(review, "kind");
  if (kind == nullptr || *kind != "AdmissionReview" || api_version == nullptr ||
      *api_version != "admission.k8s.io/v1") {
    return Status::InvalidArgument(
        "expected an AdmissionReview with apiVersion admission.k8s.io/v1 (set "
        "admissionReviewVersions: [v1] in the webhook configuration)");
  }
  const json* request = Field(review, "request");
  const json* uid = request ? Field(*request, "uid") : nullptr;
  if (uid == nullptr || !uid->is_string() || uid->get<std::string>().empty()) {
    return Status::InvalidArgument("the AdmissionReview has no request.uid");
  }
  json response = {{"uid", *uid}, {"allowed", true}};
  const json* what = Field(*request, "kind");
  const json* what_kind = what ? Field(*what, "kind") : nullptr;
  const json* sub = Field(*request, "subResource");
  const json* op = Field(*request, "operation");
  const bool is_pod =
      what_kind != nullptr && *what_kind == "Pod" &&
      (sub == nullptr || sub->is_null() || (sub->is_string() && sub->get<std::string>().empty()));
  const bool create = op != nullptr && *op == "CREATE";
  const bool update = op != nullptr && *op == "UPDATE";
  if (is_pod && (create || update)) {
    const json* pod = Field(*request, "object");
    if (pod == nullptr || !pod->is_object()) {
      return Status::InvalidArgument("the AdmissionReview's request.object is not a Pod object");
    }
    // A pod's containers cannot change after it is created, so an update
    // is only checked, never patched.
    PodDecision decision = ReviewPod(*pod, mutate && create, namer);
    response["allowed"] = decision.allowed;
    if (!decision.allowed) {
      response["status"] = {{"code", 400}, {"reason", "BadRequest"}, {"message", decision.message}};
    } else if (!decision.patch.empty()) {
      response["patchType"] = "JSONPatch";
      response["patch"] = Base64Encode(decision.patch.dump());
    }
  }
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"response", std::move(response)}};
}

}  // namespace sluice::k8s
