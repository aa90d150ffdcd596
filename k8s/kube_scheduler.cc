#include "k8s/kube_scheduler.h"

#include <chrono>
#include <cstdio>

namespace sluice {
namespace {

using nlohmann::json;

template <class T>
std::vector<T> Values(const Informer<T>& informer) {
  return informer.Read([](const std::map<std::string, T>& items) {
    std::vector<T> out;
    out.reserve(items.size());
    for (const auto& [key, value] : items) out.push_back(value);
    return out;
  });
}

}  // namespace

std::string ReservationPodName(const std::string& node, int32_t gpu) {
  std::string name = "sluice-reservation-" + node + "-" + std::to_string(gpu);
  // Pod names are DNS subdomains: at most 253 characters.
  if (name.size() > 253) name = name.substr(name.size() - 253);
  return name;
}

KubeScheduler::KubeScheduler(KubeClient* client, KubeSchedulerOptions options)
    : client_(client), opt_(std::move(options)), elector_(client, opt_.lease, opt_.now) {
  if (opt_.lease.ns.empty()) opt_.lease.ns = opt_.ns;
  auto notify = [this] { Notify(); };
  nodes_ = std::make_unique<Informer<KubeNode>>(client_, "/api/v1/nodes", "", DecodeNode, notify);
  pods_ = std::make_unique<Informer<KubePod>>(client_, "/api/v1/pods", "", DecodePod, notify);
  const std::string crds = std::string("/apis/") + kSchedulingGroup + "/v1/";
  queues_ =
      std::make_unique<Informer<KubeQueue>>(client_, crds + "queues", "", DecodeQueue, notify);
  groups_ = std::make_unique<Informer<KubePodGroup>>(client_, crds + "podgroups", "",
                                                     DecodePodGroup, notify);
  namespaces_ = std::make_unique<Informer<KubeNamespace>>(client_, "/api/v1/namespaces", "",
                                                          DecodeNamespace, notify);
  jobs_ =
      std::make_unique<Informer<KubeJob>>(client_, "/apis/batch/v1/jobs", "", DecodeJob, notify);
}

KubeScheduler::~KubeScheduler() { Stop(/*release=*/false); }

void KubeScheduler::Log(const std::string& line) const {
  if (opt_.log) opt_.log(line);
}

void KubeScheduler::Start() {
  nodes_->Start();
  pods_->Start();
  queues_->Start();
  groups_->Start();
  namespaces_->Start();
  jobs_->Start();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  loop_ = std::thread([this] { Loop(); });
}

void KubeScheduler::Stop(bool release) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !loop_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  if (release && opt_.leader_elect) elector_.Release();
  nodes_->Stop();
  pods_->Stop();
  queues_->Stop();
  groups_->Stop();
  namespaces_->Stop();
  jobs_->Stop();
}

KubeSchedulerStats KubeScheduler::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

void KubeScheduler::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed_ = true;
  }
  cv_.notify_all();
}

bool KubeScheduler::Synced() const {
  return nodes_->synced() && pods_->synced() && queues_->synced() && groups_->synced() &&
         namespaces_->synced() && jobs_->synced();
}

void KubeScheduler::Loop() {
  Time last_tick{-1'000'000'000};
  bool was_leading = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Renew the lease a few times per its duration even when idle.
      const int64_t wait_ms =
          std::min(opt_.period.ms, opt_.leader_elect ? opt_.lease.duration.ms / 4 : opt_.period.ms);
      cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stop_ || changed_; });
      if (stop_) return;
      if (changed_) {
        // Let a burst of changes (a Job's pods, a list) arrive first.
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(opt_.debounce.ms));
        lock.lock();
        changed_ = false;
      }
    }
    const Time now = opt_.now();
    bool leading = true;
    if (opt_.leader_elect) {
      if (now - last_tick >= Duration{opt_.lease.duration.ms / 4} || !elector_.leading()) {
        elector_.Tick();
        last_tick = now;
      }
      leading = elector_.leading();
      if (leading != was_leading) {
        Log(leading ? "leading: this replica (" + opt_.lease.identity + ") holds the lease"
                    : "standby: the lease is held by " + elector_.holder());
        if (leading) {
          // What another leader decided is in the API server; nothing of
          // this replica's old guesses is worth keeping.
          std::lock_guard<std::mutex> lock(apply_mu_);
          assumed_binds_.clear();
          assumed_evictions_.clear();
          written_reason_.clear();
          configmap_has_device_.clear();
          reservations_made_.clear();
        }
      }
      was_leading = leading;
    }
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.leading = leading;
    }
    if (!leading || !Synced()) continue;
    RunOnce();
  }
}

ClusterObjects KubeScheduler::Collect() {
  ClusterObjects o;
  o.nodes = Values(*nodes_);
  o.pods = Values(*pods_);
  o.queues = Values(*queues_);
  o.groups = Values(*groups_);
  o.namespaces = Values(*namespaces_);
  o.jobs = Values(*jobs_);
  return o;
}

void KubeScheduler::Overlay(ClusterObjects* objects, Time now) {
  std::lock_guard<std::mutex> lock(apply_mu_);
  std::set<std::string> seen;
  for (KubePod& p : objects->pods) {
    seen.insert(p.uid);
    if (auto it = assumed_binds_.find(p.uid); it != assumed_binds_.end()) {
      if (!p.node_name.empty()) {
        assumed_binds_.erase(it);  // the informer has it
      } else {
        p.node_name = it->second.node;
        p.gpu_placement = it->second.gpus;
        p.gpu_milli = it->second.gpu_milli;
        p.bound_at = it->second.at;
      }
    }
    if (auto it = assumed_evictions_.find(p.uid); it != assumed_evictions_.end()) {
      if (p.deleting) {
        assumed_evictions_.erase(it);
      } else {
        p.deleting = true;
      }
    }
  }
  // Forget guesses about pods that are gone, and any older than a minute
  // (a watch that missed them is listed again long before).
  const Duration stale{60'000};
  std::erase_if(assumed_binds_, [&](const auto& kv) {
    return !seen.contains(kv.first) || now - kv.second.at > stale;
  });
  std::erase_if(assumed_evictions_, [&](const auto& kv) {
    return !seen.contains(kv.first) || now - kv.second > stale;
  });
  std::erase_if(written_reason_, [&](const auto& kv) { return !seen.contains(kv.first); });
  std::erase_if(configmap_has_device_, [&](const std::string& uid) { return !seen.contains(uid); });
}

void KubeScheduler::RunOnce() {
  const Time now = opt_.now();
  ClusterObjects objects = Collect();
  Overlay(&objects, now);
  KubeSnapshot ks = BuildKubeSnapshot(objects, opt_.scheduler_name, now);
  const auto start = std::chrono::steady_clock::now();
  CycleResult r = RunCycle(ks.snapshot);
  const int64_t core_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  Apply(objects, ks, r, now);
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.cycles++;
  stats_.last_cycle_ms = core_ms;
}

void KubeScheduler::Parallel(std::vector<std::function<void()>> tasks) {
  if (tasks.empty()) return;
  std::atomic<size_t> next{0};
  const size_t n = std::min<size_t>(tasks.size(), static_cast<size_t>(std::max(1, opt_.workers)));
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t t = 0; t < n; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < tasks.size(); i = next++) tasks[i]();
    });
  }
  for (std::thread& t : threads) t.join();
}

void KubeScheduler::Apply(const ClusterObjects& objects, const KubeSnapshot& ks,
                          const CycleResult& r, Time now) {
  const Snapshot& s = ks.snapshot;
  std::vector<std::function<void()>> tasks;
  for (const EvictionDecision& e : r.evictions) {
    const Workload& victim = s.workload(e.workload);
    std::string why = std::string(EvictionActionName(e.action)) + ": " + e.why;
    if (e.for_workload.valid()) why += " (for " + s.workload(e.for_workload).name + ")";
    Log("evict " + victim.name + ": " + why);
    for (int32_t pi : ks.bound[e.workload.index()]) {
      const KubePod& pod = objects.pods[static_cast<size_t>(pi)];
      if (pod.deleting) continue;
      tasks.emplace_back([this, &pod, e, why] { Evict(pod, e, why); });
    }
  }
  Parallel(std::move(tasks));
  tasks.clear();

  for (const BindDecision& b : r.binds) {
    const std::vector<int32_t>& waiting = ks.waiting[b.workload.index()];
    const Workload& w = s.workload(b.workload);
    for (size_t i = 0; i < b.pods.size() && i < waiting.size(); ++i) {
      const KubePod& pod = objects.pods[static_cast<size_t>(waiting[i])];
      const PodPlacement& p = b.pods[i];
      const Node& node = s.node(p.node);
      tasks.emplace_back([this, &pod, &node, p, now] { Bind(pod, node, p, now); });
    }
    Log("bind " + w.name + ": " + std::to_string(b.pods.size()) + " pod(s)");
  }
  Parallel(std::move(tasks));
  tasks.clear();

  // Why the others wait, on each of their pods (only when it changed).
  std::set<int32_t> pipelined;
  for (const BindDecision& b : r.pipelined)
    pipelined.insert(static_cast<int32_t>(b.workload.index()));
  for (size_t w = 0; w < s.workloads.size(); ++w) {
    std::string reason = w < r.reason.size() ? r.reason[w] : "";
    if (pipelined.contains(static_cast<int32_t>(w))) {
      reason = "waiting for evicted pods to release their resources";
    }
    if (reason.empty()) continue;
    for (int32_t pi : ks.waiting[w]) {
      const KubePod& pod = objects.pods[static_cast<size_t>(pi)];
      tasks.emplace_back([this, &pod, reason, now] { WriteReason(pod, reason, now); });
    }
  }
  for (const auto& refusal : ks.refused) {
    const KubePod& pod = objects.pods[static_cast<size_t>(refusal.first)];
    tasks.emplace_back(
        [this, &pod, message = refusal.second, now] { WriteReason(pod, message, now); });
  }
  Parallel(std::move(tasks));
  ReconcileReservations(objects, now);
  WriteQueueStatus(objects, ks, r);
}

void KubeScheduler::Evict(const KubePod& pod, const EvictionDecision& e, const std::string& why) {
  json body = {{"apiVersion", "policy/v1"},
               {"kind", "Eviction"},
               {"metadata", {{"name", pod.name}, {"namespace", pod.ns}}},
               {"deleteOptions", {{"gracePeriodSeconds", pod.grace_seconds}}}};
  Result<KubeResponse> res =
      client_->Post("/api/v1/namespaces/" + pod.ns + "/pods/" + pod.name + "/eviction", body);
  const Time now = opt_.now();
  if (res.ok() && res->ok()) {
    {
      std::lock_guard<std::mutex> lock(apply_mu_);
      assumed_evictions_[pod.uid] = now;
    }
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.evictions++;
    }
    Event(pod, "Normal", e.action == EvictionAction::kReclaim ? "Reclaimed" : "Preempted", why,
          now);
    return;
  }
  const std::string message = res.ok() ? res->Message() : res.status().message();
  Log("eviction of " + pod.key() + " refused: " + message);
  Event(pod, "Warning", "EvictionRefused", "sluice could not evict this pod: " + message, now);
}

bool KubeScheduler::Bind(const KubePod& pod, const Node& node, const PodPlacement& p, Time now) {
  std::string devices;
  for (int32_t g : p.gpus) devices += (devices.empty() ? "" : ",") + std::to_string(g);
  if (!pod.gpu_configmap.empty() && pod.request.fractional()) {
    // What the webhook made the containers read; the device itself comes
    // from the reservation pod once the device plugin has given it one.
    json data = {
        {"SLUICE_GPU_DEVICES", devices},
        {"SLUICE_GPU_FRACTION", FormatMilli(p.gpu_milli)},
        {"SLUICE_GPU_COMPUTE_SHARE", std::to_string(std::max<int64_t>(1, p.gpu_milli / 10))},
        {"SLUICE_GPU_MEMORY_LIMIT", ""},
        {"SLUICE_GPU_MEMORY_LIMIT_MIB", ""}};
    if (node.gpu_memory_mib > 0) {
      const int64_t mib = node.gpu_memory_mib * p.gpu_milli / 1000;
      data["SLUICE_GPU_MEMORY_LIMIT"] = std::to_string(mib << 20);
      data["SLUICE_GPU_MEMORY_LIMIT_MIB"] = std::to_string(mib);
    }
    json cm = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", pod.gpu_configmap},
          {"namespace", pod.ns},
          {"labels", {{"sluice.dev/pod", pod.name}}},
          {"ownerReferences",
           json::array(
               {{{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", pod.name}, {"uid", pod.uid}}})}}},
        {"data", data}};
    const std::string base = "/api/v1/namespaces/" + pod.ns + "/configmaps";
    Result<KubeResponse> made = client_->Post(base, cm);
    if (made.ok() && made->status == 409) {
      made = client_->Patch(base + "/" + pod.gpu_configmap, {{"data", data}});
    }
    if (!made.ok() || !made->ok()) {
      const std::string message = made.ok() ? made->Message() : made.status().message();
      Log("configmap for " + pod.key() + " failed: " + message);
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.bind_failures++;
      return false;
    }
  }
  json annotations = {{kBoundAtAnnotation, FormatTime(now)}};
  if (!p.gpus.empty()) {
    annotations[kGpuPlacementAnnotation] = devices;
    annotations[kGpuMilliAnnotation] = std::to_string(p.gpu_milli);
  }
  json binding = {
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata", {{"name", pod.name}, {"namespace", pod.ns}, {"annotations", annotations}}},
      {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node.name}}}};
  Result<KubeResponse> res =
      client_->Post("/api/v1/namespaces/" + pod.ns + "/pods/" + pod.name + "/binding", binding);
  if (!res.ok() || !res->ok()) {
    const std::string message = res.ok() ? res->Message() : res.status().message();
    Log("binding " + pod.key() + " to " + node.name + " failed: " + message);
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.bind_failures++;
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    assumed_binds_[pod.uid] = Assumed{node.name, p.gpus, p.gpu_milli, now};
  }
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.binds++;
  }
  std::string text = "Successfully assigned " + pod.key() + " to " + node.name;
  if (!p.gpus.empty()) {
    text += " (GPU " + devices +
            (p.gpu_milli < 1000 ? ", " + FormatMilli(p.gpu_milli) + " each" : "") + ")";
  }
  Event(pod, "Normal", "Scheduled", text, now);
  return true;
}

void KubeScheduler::WriteReason(const KubePod& pod, const std::string& reason, Time now) {
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    auto it = written_reason_.find(pod.uid);
    if (it != written_reason_.end() ? it->second == reason : pod.scheduled_message == reason) {
      return;
    }
    written_reason_[pod.uid] = reason;
  }
  json patch = {
      {"status",
       {{"conditions",
         json::array({{{"type", "PodScheduled"},
                       {"status", "False"},
                       {"reason", "Unschedulable"},
                       {"message", reason},
                       {"lastTransitionTime", FormatTime(Time{now.ms / 1000 * 1000})}}})}}}};
  Result<KubeResponse> res =
      client_->Patch("/api/v1/namespaces/" + pod.ns + "/pods/" + pod.name + "/status", patch,
                     "application/strategic-merge-patch+json");
  if (!res.ok() || !res->ok()) {
    std::lock_guard<std::mutex> lock(apply_mu_);
    written_reason_.erase(pod.uid);  // try again next cycle
    return;
  }
  Event(pod, "Warning", "FailedScheduling", reason, now);
}

void KubeScheduler::Event(const KubePod& pod, const std::string& type, const std::string& reason,
                          const std::string& message, Time now) {
  const std::string stamp = FormatTime(Time{now.ms / 1000 * 1000});
  json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"generateName", pod.name + "."}, {"namespace", pod.ns}}},
             {"involvedObject",
              {{"apiVersion", "v1"},
               {"kind", "Pod"},
               {"name", pod.name},
               {"namespace", pod.ns},
               {"uid", pod.uid}}},
             {"reason", reason},
             {"message", message.substr(0, 1024)},
             {"type", type},
             {"source", {{"component", opt_.scheduler_name + "-scheduler"}}},
             {"reportingComponent", opt_.scheduler_name + "-scheduler"},
             {"reportingInstance", opt_.lease.identity},
             {"firstTimestamp", stamp},
             {"lastTimestamp", stamp},
             {"count", 1}};
  // Events are best effort: a lost one changes no decision.
  (void)client_->Post("/api/v1/namespaces/" + pod.ns + "/events", ev);
}

}  // namespace sluice
