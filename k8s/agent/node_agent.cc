#include "k8s/agent/node_agent.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::k8s {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Whether `s` starts with a UUID whose separators are '-' or '_'.
bool StartsWithUuid(std::string_view s) {
  if (s.size() < 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    const bool separator = i == 8 || i == 13 || i == 18 || i == 23;
    if (separator ? (s[i] != '-' && s[i] != '_') : !IsHex(s[i])) return false;
  }
  return s.size() == 36 || !IsHex(s[36]);
}

// A Prometheus label value with \, " and newline escaped.
std::string Escaped(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string ReadAll(const fs::path& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string LabelValue(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool ok = IsAlnum(c) || c == '.' || c == '_' || c == '-';
    if (!ok && !out.empty() && out.back() == '-') continue;  // "A  B" -> "A-B"
    out += ok ? c : '-';
  }
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && !IsAlnum(out.back())) out.pop_back();
  size_t start = 0;
  while (start < out.size() && !IsAlnum(out[start])) ++start;
  return out.substr(start);
}

nlohmann::json NodeGpuPatch(const std::vector<GpuDevice>& devices) {
  json labels = {{kGpuCountLabel, std::to_string(devices.size())},
                 {kGpuModelLabel, nullptr},
                 {kGpuMemoryLabel, nullptr}};
  json uuids = json::array();
  json mig = json::object();
  int64_t smallest = 0;
  for (const GpuDevice& d : devices) {
    uuids.push_back(d.uuid);
    smallest = smallest == 0 ? d.memory_mib : std::min(smallest, d.memory_mib);
    if (!d.mig_enabled) continue;
    json instances = json::array();
    for (const MigInstance& m : d.mig_instances) {
      instances.push_back({{"index", m.index}, {"uuid", m.uuid}, {"memoryMiB", m.memory_mib}});
    }
    mig[std::to_string(d.index)] = {{"uuid", d.uuid}, {"instances", instances}};
  }
  if (!devices.empty()) {
    const std::string model = LabelValue(devices.front().name);
    if (!model.empty()) labels[kGpuModelLabel] = model;
    labels[kGpuMemoryLabel] = std::to_string(smallest);
  }
  json annotations = {{kGpuUuidsAnnotation, uuids.dump()},
                      {kMigLayoutAnnotation, mig.empty() ? json(nullptr) : json(mig.dump())}};
  return json{{"metadata", {{"labels", labels}, {"annotations", annotations}}}};
}

std::optional<std::string> PodUidFromCgroup(std::string_view cgroup_text) {
  size_t line_start = 0;
  while (line_start < cgroup_text.size()) {
    size_t end = cgroup_text.find('\n', line_start);
    if (end == std::string_view::npos) end = cgroup_text.size();
    const std::string_view line = cgroup_text.substr(line_start, end - line_start);
    line_start = end + 1;
    size_t kubepods = line.find("kubepods");
    if (kubepods == std::string_view::npos) continue;
    for (size_t at = line.find("pod", kubepods + 8); at != std::string_view::npos;
         at = line.find("pod", at + 3)) {
      const std::string_view rest = line.substr(at + 3);
      if (!StartsWithUuid(rest)) continue;
      std::string uid(rest.substr(0, 36));
      std::replace(uid.begin(), uid.end(), '_', '-');
      return uid;
    }
  }
  return std::nullopt;
}

std::optional<std::string> PodUidOfPid(int pid, const std::string& proc_root) {
  bool ok = false;
  const std::string text = ReadAll(fs::path(proc_root) / std::to_string(pid) / "cgroup", &ok);
  if (!ok) return std::nullopt;
  return PodUidFromCgroup(text);
}

std::string RenderNodeMetrics(const std::string& node, const std::vector<GpuDevice>& devices,
                              const std::vector<GpuSample>& samples, const PodOfPid& pod_of) {
  constexpr int64_t kMiB = 1 << 20;
  std::string out;
  auto header = [&out](const char* name, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
  };
  auto gpu_labels = [&node](const GpuDevice& d) {
    return "node=\"" + Escaped(node) + "\",gpu=\"" + std::to_string(d.index) + "\",uuid=\"" +
           Escaped(d.uuid) + "\"";
  };
  auto device_of = [&devices](int32_t index) -> const GpuDevice* {
    for (const GpuDevice& d : devices) {
      if (d.index == index) return &d;
    }
    return nullptr;
  };
  header("sluice_gpu_memory_total_bytes", "Memory of the GPU.");
  for (const GpuDevice& d : devices) {
    out += "sluice_gpu_memory_total_bytes{" + gpu_labels(d) + ",model=\"" + Escaped(d.name) +
           "\"} " + std::to_string(d.memory_mib * kMiB) + "\n";
  }
  header("sluice_gpu_memory_used_bytes", "Memory in use on the GPU, by every process.");
  for (const GpuSample& s : samples) {
    const GpuDevice* d = device_of(s.index);
    if (d == nullptr || s.memory_used_mib < 0) continue;
    out += "sluice_gpu_memory_used_bytes{" + gpu_labels(*d) + "} " +
           std::to_string(s.memory_used_mib * kMiB) + "\n";
  }
  header("sluice_gpu_utilization_percent",
         "Percent of the last sample period in which a kernel ran on the GPU.");
  for (const GpuSample& s : samples) {
    const GpuDevice* d = device_of(s.index);
    if (d == nullptr || s.utilization_percent < 0) continue;
    out += "sluice_gpu_utilization_percent{" + gpu_labels(*d) + "} " +
           std::to_string(s.utilization_percent) + "\n";
  }
  header("sluice_gpu_process_memory_used_bytes",
         "GPU memory of one process, with the UID of its pod (empty outside pods).");
  for (const GpuSample& s : samples) {
    const GpuDevice* d = device_of(s.index);
    if (d == nullptr) continue;
    for (const GpuProcess& p : s.processes) {
      const std::optional<std::string> pod = pod_of ? pod_of(p.pid) : std::nullopt;
      out += "sluice_gpu_process_memory_used_bytes{" + gpu_labels(*d) + ",pid=\"" +
             std::to_string(p.pid) + "\",pod_uid=\"" + Escaped(pod.value_or("")) + "\"} " +
             std::to_string(p.used_memory_mib * kMiB) + "\n";
    }
  }
  return out;
}

Result<bool> InstallFileAtomically(const std::string& source, const std::string& dir) {
  bool ok = false;
  const std::string bytes = ReadAll(source, &ok);
  if (!ok) return Status::NotFound("--vgpu-library " + source + ": cannot read it");
  const fs::path target = fs::path(dir) / fs::path(source).filename();
  bool have = false;
  if (ReadAll(target, &have) == bytes && have) return false;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::FailedPrecondition("--host-lib-dir " + dir +
                                      " is not a folder (mount the host's /usr/local/sluice/lib "
                                      "there)");
  }
  const fs::path tmp =
      fs::path(dir) / ("." + target.filename().string() + ".tmp-" + std::to_string(getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out.flush()) return Status::FailedPrecondition("cannot write " + tmp.string());
  }
  fs::permissions(tmp,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                      fs::perms::others_read | fs::perms::others_exec,
                  ec);
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::FailedPrecondition("cannot rename into " + target.string() + ": " +
                                      ec.message());
  }
  return true;
}

NodeAgent::NodeAgent(NodeAgentOptions options, std::unique_ptr<Nvml> nvml, NodePatcher patcher)
    : options_(std::move(options)), patcher_(std::move(patcher)), nvml_(std::move(nvml)) {}

Status NodeAgent::Publish() {
  std::lock_guard<std::mutex> lock(mu_);
  Result<std::vector<GpuDevice>> devices = nvml_->Devices();
  if (!devices.ok()) return devices.status();
  json patch = NodeGpuPatch(*devices);
  if (patch == last_published_) return Status::OK();
  if (Status s = patcher_(patch); !s.ok()) return s;
  last_published_ = std::move(patch);
  return Status::OK();
}

Result<std::string> NodeAgent::Metrics() {
  std::lock_guard<std::mutex> lock(mu_);
  Result<std::vector<GpuDevice>> devices = nvml_->Devices();
  if (!devices.ok()) return devices.status();
  std::vector<GpuSample> samples;
  for (const GpuDevice& d : *devices) {
    Result<GpuSample> s = nvml_->Sample(d.index);
    if (s.ok()) samples.push_back(*s);
  }
  const std::string proc_root = options_.proc_root;
  return RenderNodeMetrics(options_.node_name, *devices, samples,
                           [&proc_root](int pid) { return PodUidOfPid(pid, proc_root); });
}

}  // namespace sluice::k8s
