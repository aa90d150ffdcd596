#include "k8s/kube_objects.h"

#include <algorithm>
#include <charconv>

namespace sluice {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& Obj(const json& j, const char* key) {
  static const json kEmpty = json::object();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

// Quantities come as strings, but hand-written objects may use numbers.
std::optional<std::string> QuantityText(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  if (j.is_number()) return json(j).dump();
  return std::nullopt;
}

Labels LabelsOf(const json& map) {
  Labels out;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it.value().is_string()) out.emplace_back(it.key(), it.value().get<std::string>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<int64_t> ParseCount(const std::string& text) {
  Result<int64_t> milli = ParseKubeMilli(text);
  if (!milli.ok()) return milli.status();
  if (*milli % 1000 != 0) return Status::InvalidArgument("expected a whole number, got " + text);
  return *milli / 1000;
}

// The sum of the containers' requests for one resource (a limit stands in
// for a missing request, as Kubernetes defaults it), or an error.
struct PodTotals {
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int64_t gpus = 0;
  std::string problem;
};

PodTotals SumContainers(const json& spec) {
  PodTotals t;
  auto containers = spec.find("containers");
  if (containers == spec.end() || !containers->is_array()) return t;
  for (const json& c : *containers) {
    const json& res = Obj(c, "resources");
    const json& req = Obj(res, "requests");
    const json& lim = Obj(res, "limits");
    auto get = [&](const char* name) -> std::optional<std::string> {
      if (auto it = req.find(name); it != req.end()) return QuantityText(*it);
      if (auto it = lim.find(name); it != lim.end()) return QuantityText(*it);
      return std::nullopt;
    };
    const std::string where = "container " + Str(c, "name") + ": ";
    if (auto v = get("cpu")) {
      Result<int64_t> m = ParseKubeMilli(*v);
      if (!m.ok())
        t.problem = where + "cpu: " + m.status().message();
      else
        t.cpu_milli += *m;
    }
    if (auto v = get("memory")) {
      Result<int64_t> m = ParseKubeMemoryMiB(*v);
      if (!m.ok())
        t.problem = where + "memory: " + m.status().message();
      else
        t.memory_mib += *m;
    }
    if (auto v = get("nvidia.com/gpu")) {
      Result<int64_t> n = ParseCount(*v);
      if (!n.ok())
        t.problem = where + "nvidia.com/gpu: " + n.status().message();
      else
        t.gpus += *n;
    }
  }
  return t;
}

std::optional<Duration> DurationField(const json& spec, const char* key, std::string* problem) {
  const std::string text = Str(spec, key);
  if (text.empty()) return std::nullopt;
  Result<Duration> d = ParseDuration(text);
  if (!d.ok()) {
    *problem = std::string("spec.") + key + ": " + d.status().message();
    return std::nullopt;
  }
  return *d;
}

}  // namespace

Result<int64_t> ParseKubeMilli(const std::string& text) {
  if (text.ends_with("m")) {
    int64_t v = 0;
    const char* end = text.data() + text.size() - 1;
    auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || p != end) {
      return Status::InvalidArgument("expected a quantity like \"2\", \"0.5\" or \"500m\", got \"" +
                                     text + "\"");
    }
    return v;
  }
  Result<int64_t> m = ParseMilli(text);
  if (m.ok()) return m;
  // Binary or decimal suffixes on a count ("1k") are rare; memory sizes go
  // through ParseKubeMemoryMiB instead.
  return Status::InvalidArgument("expected a quantity like \"2\", \"0.5\" or \"500m\", got \"" +
                                 text + "\"");
}

Result<int64_t> ParseKubeMemoryMiB(const std::string& text) {
  if (text == "0") return 0;
  return ParseMemoryMiB(text);
}

std::string ObjectKey(const json& j) {
  const json& meta = Obj(j, "metadata");
  const std::string ns = Str(meta, "namespace");
  return ns.empty() ? Str(meta, "name") : ns + "/" + Str(meta, "name");
}

std::optional<KubeNode> DecodeNode(const json& j) {
  const json& meta = Obj(j, "metadata");
  KubeNode n;
  n.name = Str(meta, "name");
  if (n.name.empty()) return std::nullopt;
  n.labels = LabelsOf(Obj(meta, "labels"));
  const json& alloc = Obj(Obj(j, "status"), "allocatable");
  auto label = [&](const char* key) -> std::string {
    const std::string* v = FindLabel(n.labels, key);
    return v == nullptr ? "" : *v;
  };
  if (auto it = alloc.find("nvidia.com/gpu"); it != alloc.end()) {
    if (auto text = QuantityText(*it)) {
      Result<int64_t> c = ParseCount(*text);
      if (c.ok()) n.gpus = static_cast<int32_t>(std::clamp<int64_t>(*c, 0, kMaxGpusPerNode));
    }
  } else if (std::string c = label(kGpuCountLabel); !c.empty()) {
    Result<int64_t> v = ParseCount(c);
    if (v.ok()) n.gpus = static_cast<int32_t>(std::clamp<int64_t>(*v, 0, kMaxGpusPerNode));
  }
  for (const char* key : {kGpuMemoryLabel, "nvidia.com/gpu.memory"}) {
    if (std::string m = label(key); !m.empty()) {
      Result<int64_t> v = ParseCount(m);
      if (v.ok()) n.gpu_memory_mib = *v;
      break;
    }
  }
  n.gpu_model = label(kGpuModelLabel);
  if (n.gpu_model.empty()) n.gpu_model = label("nvidia.com/gpu.product");
  if (auto it = alloc.find("cpu"); it != alloc.end()) {
    if (auto text = QuantityText(*it)) {
      Result<int64_t> v = ParseKubeMilli(*text);
      if (v.ok()) n.cpu_milli = *v;
    }
  }
  if (auto it = alloc.find("memory"); it != alloc.end()) {
    if (auto text = QuantityText(*it)) {
      Result<int64_t> v = ParseKubeMemoryMiB(*text);
      if (v.ok()) n.memory_mib = *v;
    }
  }
  const std::string uuids = Str(Obj(meta, "annotations"), kGpuUuidsAnnotation);
  if (!uuids.empty()) {
    json list = json::parse(uuids, nullptr, false);
    if (list.is_array()) {
      for (const json& u : list) n.gpu_uuids.push_back(u.is_string() ? u.get<std::string>() : "");
    }
  }
  const json& spec = Obj(j, "spec");
  if (spec.value("unschedulable", false)) n.unschedulable = "cordoned";
  if (auto taints = spec.find("taints"); taints != spec.end() && taints->is_array()) {
    for (const json& t : *taints) {
      const std::string effect = Str(t, "effect");
      const std::string key = Str(t, "key");
      // GPU nodes are commonly tainted so that only GPU pods go there; the
      // pods sluice schedules are those pods.
      if ((effect == "NoSchedule" || effect == "NoExecute") && key != "nvidia.com/gpu") {
        n.unschedulable = "taint " + key + ":" + effect;
      }
    }
  }
  return n;
}

std::optional<KubePod> DecodePod(const json& j) {
  const json& meta = Obj(j, "metadata");
  const json& spec = Obj(j, "spec");
  const json& status = Obj(j, "status");
  const json& ann = Obj(meta, "annotations");
  KubePod p;
  p.ns = Str(meta, "namespace");
  p.name = Str(meta, "name");
  if (p.name.empty()) return std::nullopt;
  p.uid = Str(meta, "uid");
  p.scheduler_name = Str(spec, "schedulerName");
  p.node_name = Str(spec, "nodeName");
  p.phase = Str(status, "phase");
  p.terminal = p.phase == "Succeeded" || p.phase == "Failed";
  p.deleting = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
  if (Result<Time> t = ParseTime(Str(meta, "creationTimestamp")); t.ok()) p.created = *t;
  if (auto it = spec.find("terminationGracePeriodSeconds"); it != spec.end() && it->is_number()) {
    p.grace_seconds = it->get<int64_t>();
  }
  p.pod_group = Str(ann, kPodGroupAnnotation);
  p.priority_class_name = Str(spec, "priorityClassName");
  if (auto owners = meta.find("ownerReferences"); owners != meta.end() && owners->is_array()) {
    for (const json& o : *owners) {
      if (Str(o, "kind") == "Job" && o.value("controller", false)) p.owner_job = Str(o, "name");
    }
  }
  p.node_selector = LabelsOf(Obj(spec, "nodeSelector"));
  p.gpu_configmap = Str(ann, kGpuConfigMapAnnotation);
  const json& labels = Obj(meta, "labels");
  p.reservation = Str(labels, kReservationLabel) == "true";
  if (std::string g = Str(labels, kReservationGpuLabel); !g.empty()) {
    Result<int64_t> v = ParseCount(g);
    if (v.ok()) p.reservation_gpu = static_cast<int32_t>(*v);
  }
  p.gpu_uuid = Str(ann, kGpuUuidAnnotation);
  if (auto conds = status.find("conditions"); conds != status.end() && conds->is_array()) {
    for (const json& c : *conds) {
      if (Str(c, "type") == "PodScheduled") p.scheduled_message = Str(c, "message");
    }
  }
  // Where sluice put it, as the binding's annotations recorded.
  for (size_t start = 0, placed = 0; !Str(ann, kGpuPlacementAnnotation).empty();
       start = placed + 1) {
    const std::string text = Str(ann, kGpuPlacementAnnotation);
    placed = text.find(',', start);
    Result<int64_t> g = ParseCount(text.substr(start, placed - start));
    if (g.ok()) p.gpu_placement.push_back(static_cast<int32_t>(*g));
    if (placed == std::string::npos) break;
  }
  if (std::string m = Str(ann, kGpuMilliAnnotation); !m.empty()) {
    Result<int64_t> v = ParseCount(m);
    if (v.ok()) p.gpu_milli = *v;
  }

  if (Result<Time> t = ParseTime(Str(ann, kBoundAtAnnotation)); t.ok()) p.bound_at = *t;

  PodTotals totals = SumContainers(spec);
  p.problem = totals.problem;
  p.request.cpu_milli = totals.cpu_milli;
  p.request.memory_mib = totals.memory_mib;
  const std::string fraction = Str(ann, kGpuFractionAnnotation);
  const std::string memory = Str(ann, kGpuMemoryAnnotation);
  const std::string devices = Str(ann, kGpuDevicesAnnotation);
  std::optional<int64_t> gpu_milli;
  std::optional<int64_t> gpu_memory;
  std::optional<int64_t> gpu_devices;
  if (!fraction.empty()) {
    Result<int64_t> v = ParseMilli(fraction);
    if (!v.ok())
      p.problem = std::string(kGpuFractionAnnotation) + ": " + v.status().message();
    else
      gpu_milli = *v;
  }
  if (!memory.empty()) {
    Result<int64_t> v = memory.find_first_not_of("0123456789") == std::string::npos
                            ? ParseCount(memory)
                            : ParseKubeMemoryMiB(memory);
    if (!v.ok())
      p.problem = std::string(kGpuMemoryAnnotation) + ": " + v.status().message();
    else
      gpu_memory = *v;
  }
  if (!devices.empty()) {
    Result<int64_t> v = ParseCount(devices);
    if (!v.ok())
      p.problem = std::string(kGpuDevicesAnnotation) + ": " + v.status().message();
    else
      gpu_devices = *v;
  }
  if (totals.gpus > 0) {
    if (gpu_milli || gpu_memory) {
      p.problem = "asks for nvidia.com/gpu and a fraction annotation at once; use one";
    } else {
      gpu_milli = totals.gpus * 1000;
    }
  } else if (gpu_milli && *gpu_milli >= 1000) {
    p.problem = std::string(kGpuFractionAnnotation) + ": expected a fraction below 1, got " +
                fraction + " (ask for whole GPUs with nvidia.com/gpu)";
  }
  if (p.problem.empty() && (gpu_milli || gpu_memory)) {
    if (auto e = SetGpuRequest(gpu_milli, gpu_memory, gpu_devices, &p.request)) {
      p.problem = std::string(e->field) + ": " + e->message;
    }
  }
  return p;
}

namespace {

void DecodeQueueResource(const json& spec_res, Resource r, const char* name, KubeQueue* q) {
  auto it = spec_res.find(name);
  if (it == spec_res.end() || !it->is_object()) return;
  QueueResource& out = q->resources[static_cast<size_t>(r)];
  auto amount = [&](const char* key, int64_t* dst) {
    auto v = it->find(key);
    if (v == it->end()) return;
    std::optional<std::string> text = QuantityText(*v);
    Result<int64_t> parsed = Status::InvalidArgument("expected a quantity");
    if (text && (*text == "-1")) {
      *dst = -1;
      return;
    }
    if (text) parsed = r == Resource::kMemory ? ParseKubeMemoryMiB(*text) : ParseKubeMilli(*text);
    if (!parsed.ok()) {
      q->problem =
          std::string("spec.resources.") + name + "." + key + ": " + parsed.status().message();
      return;
    }
    *dst = *parsed;
  };
  amount("quota", &out.quota);
  amount("limit", &out.limit);
  if (auto w = it->find("overQuotaWeight"); w != it->end()) {
    std::optional<std::string> text = QuantityText(*w);
    Result<int64_t> parsed =
        text ? ParseMilli(*text) : Status::InvalidArgument("expected a number");
    if (parsed.ok() && *parsed >= 0) {
      out.weight_milli = *parsed;
    } else {
      q->problem = std::string("spec.resources.") + name +
                   ".overQuotaWeight: expected a number "
                   "of 0 or more";
    }
  }
}

}  // namespace

std::optional<KubeQueue> DecodeQueue(const json& j) {
  const json& meta = Obj(j, "metadata");
  const json& spec = Obj(j, "spec");
  KubeQueue q;
  q.name = Str(meta, "name");
  if (q.name.empty()) return std::nullopt;
  q.parent = Str(spec, "parent");
  if (auto it = spec.find("priority"); it != spec.end() && it->is_number_integer()) {
    q.priority = it->get<int32_t>();
  }
  // A queue with no resources section has no guaranteed quota.
  for (QueueResource& r : q.resources) r.quota = 0;
  q.resources[static_cast<size_t>(Resource::kCpu)].quota = -1;
  q.resources[static_cast<size_t>(Resource::kMemory)].quota = -1;
  const json& res = Obj(spec, "resources");
  DecodeQueueResource(res, Resource::kGpu, "gpu", &q);
  DecodeQueueResource(res, Resource::kCpu, "cpu", &q);
  DecodeQueueResource(res, Resource::kMemory, "memory", &q);
  q.reclaim_min_runtime = DurationField(spec, "reclaimMinRuntime", &q.problem);
  q.preempt_min_runtime = DurationField(spec, "preemptMinRuntime", &q.problem);
  q.status = Obj(j, "status");
  return q;
}

std::optional<KubePodGroup> DecodePodGroup(const json& j) {
  const json& meta = Obj(j, "metadata");
  const json& spec = Obj(j, "spec");
  KubePodGroup g;
  g.ns = Str(meta, "namespace");
  g.name = Str(meta, "name");
  if (g.name.empty()) return std::nullopt;
  if (auto it = spec.find("minMember"); it != spec.end() && it->is_number_integer()) {
    g.min_member = std::max(1, it->get<int32_t>());
  }
  g.queue = Str(spec, "queue");
  if (std::string pc = Str(spec, "priorityClassName"); !pc.empty()) {
    if (auto c = ParsePriorityClass(pc)) {
      g.priority_class = *c;
    } else {
      g.problem =
          "spec.priorityClassName: expected train, build, build-preemptible or "
          "inference, got \"" +
          pc + "\"";
    }
  }
  if (auto it = spec.find("preemptible"); it != spec.end() && it->is_boolean()) {
    g.preemptible = it->get<bool>();
  }
  g.status = Obj(j, "status");
  return g;
}

std::optional<KubeNamespace> DecodeNamespace(const json& j) {
  const json& meta = Obj(j, "metadata");
  KubeNamespace n;
  n.name = Str(meta, "name");
  if (n.name.empty()) return std::nullopt;
  n.queue = Str(Obj(meta, "labels"), kQueueLabel);
  return n;
}

std::optional<KubeJob> DecodeJob(const json& j) {
  const json& meta = Obj(j, "metadata");
  KubeJob job;
  job.ns = Str(meta, "namespace");
  job.name = Str(meta, "name");
  if (job.name.empty()) return std::nullopt;
  const json& spec = Obj(j, "spec");
  if (auto it = spec.find("parallelism"); it != spec.end() && it->is_number_integer()) {
    job.parallelism = std::max(1, it->get<int32_t>());
  }
  return job;
}

}  // namespace sluice
