// The parts of a cycle's apply that keep things in step rather than carry
// out the core's decisions: reservation pods and the device in fractional
// pods' ConfigMaps, and the Queues' status.
#include <map>
#include <set>
#include <tuple>

#include "k8s/kube_scheduler.h"

namespace sluice {
namespace {

using nlohmann::json;

std::string FormatAmount(Resource r, int64_t v) {
  if (v >= kUnlimited) return "unlimited";
  return r == Resource::kMemory ? FormatMemoryMiB(v) : FormatMilli(v);
}

json ResourcesJson(const Resources& r) {
  return {{"gpu", FormatAmount(Resource::kGpu, r[Resource::kGpu])},
          {"cpu", FormatAmount(Resource::kCpu, r[Resource::kCpu])},
          {"memory", FormatAmount(Resource::kMemory, r[Resource::kMemory])}};
}

}  // namespace

void KubeScheduler::ReconcileReservations(const ClusterObjects& objects, Time now) {
  struct Device {
    std::string node;
    int32_t gpu = 0;
    bool operator<(const Device& o) const { return std::tie(node, gpu) < std::tie(o.node, o.gpu); }
  };
  std::map<Device, std::vector<const KubePod*>> needed;
  std::map<std::string, const KubePod*> existing;  // reservation pods by name
  std::map<const KubePod*, Assumed> placed;
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    for (const KubePod& p : objects.pods) {
      if (p.reservation) {
        if (p.ns == opt_.ns) existing[p.name] = &p;
        continue;
      }
      if (p.scheduler_name != opt_.scheduler_name || p.terminal || !p.request.fractional())
        continue;
      Assumed a{p.node_name, p.gpu_placement, p.gpu_milli, now};
      if (auto it = assumed_binds_.find(p.uid); a.node.empty() && it != assumed_binds_.end()) {
        a = it->second;
      }
      if (a.node.empty()) continue;
      for (int32_t g : a.gpus) needed[{a.node, g}].push_back(&p);
      placed[&p] = a;
    }
    std::erase_if(reservations_made_, [&](const auto& kv) {
      return existing.contains(kv.first) || now - kv.second > Duration{60'000};
    });
  }

  std::vector<std::function<void()>> tasks;
  const std::string base = "/api/v1/namespaces/" + opt_.ns + "/pods";
  for (const auto& [dev, pods] : needed) {
    const std::string name = ReservationPodName(dev.node, dev.gpu);
    if (existing.contains(name)) continue;
    {
      std::lock_guard<std::mutex> lock(apply_mu_);
      if (reservations_made_.contains(name)) continue;
      reservations_made_[name] = now;
    }
    json limits = {{"nvidia.com/gpu", "1"}, {"cpu", "10m"}, {"memory", "32Mi"}};
    json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", name},
          {"namespace", opt_.ns},
          {"labels",
           {{kReservationLabel, "true"},
            {kReservationGpuLabel, std::to_string(dev.gpu)},
            {"sluice.dev/node", dev.node.substr(0, 63)}}}}},
        {"spec",
         {{"nodeName", dev.node},
          {"schedulerName", opt_.scheduler_name},
          {"serviceAccountName", opt_.reservation_service_account},
          {"terminationGracePeriodSeconds", 0},
          {"tolerations", json::array({{{"operator", "Exists"}}})},
          {"containers",
           json::array(
               {{{"name", "reserve"},
                 {"image", opt_.reservation_image},
                 {"command", {"sluice", "k8s", "reserve"}},
                 {"env",
                  json::array(
                      {{{"name", "POD_NAME"},
                        {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
                       {{"name", "POD_NAMESPACE"},
                        {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}}})},
                 {"resources", {{"limits", limits}, {"requests", limits}}}}})}}}};
    tasks.emplace_back([this, base, pod, name] {
      Result<KubeResponse> r = client_->Post(base, pod);
      if (!r.ok() || (!r->ok() && r->status != 409)) {
        Log("reservation pod " + name +
            " not made: " + (r.ok() ? r->Message() : r.status().message()));
        std::lock_guard<std::mutex> lock(apply_mu_);
        reservations_made_.erase(name);
      }
    });
  }
  // A device no fraction uses any more is handed back to the device plugin.
  std::set<std::string> needed_names;
  for (const auto& [dev, pods] : needed) needed_names.insert(ReservationPodName(dev.node, dev.gpu));
  for (const auto& reservation : existing) {
    if (needed_names.contains(reservation.first) || reservation.second->deleting) continue;
    tasks.emplace_back([this, path = base + "/" + reservation.first] {
      (void)client_->Delete(path, json{{"gracePeriodSeconds", 0}});
    });
  }
  // Fraction pods learn their device once its reservation pod knows it.
  for (const auto& [pod, a] : placed) {
    if (pod->gpu_configmap.empty()) continue;
    {
      std::lock_guard<std::mutex> lock(apply_mu_);
      if (configmap_has_device_.contains(pod->uid)) continue;
    }
    std::string uuids;
    bool known = true;
    for (int32_t g : a.gpus) {
      auto it = existing.find(ReservationPodName(a.node, g));
      if (it == existing.end() || it->second->gpu_uuid.empty()) {
        known = false;
        break;
      }
      uuids += (uuids.empty() ? "" : ",") + it->second->gpu_uuid;
    }
    if (!known) continue;
    const std::string path = "/api/v1/namespaces/" + pod->ns + "/configmaps/" + pod->gpu_configmap;
    const std::string uid = pod->uid;
    tasks.emplace_back([this, path, uuids, uid] {
      Result<KubeResponse> r =
          client_->Patch(path, {{"data", {{"NVIDIA_VISIBLE_DEVICES", uuids}}}});
      if (r.ok() && r->ok()) {
        std::lock_guard<std::mutex> lock(apply_mu_);
        configmap_has_device_.insert(uid);
      }
    });
  }
  Parallel(std::move(tasks));
}

void KubeScheduler::WriteQueueStatus(const ClusterObjects& objects, const KubeSnapshot& ks,
                                     const CycleResult& r) {
  const Snapshot& s = ks.snapshot;
  std::vector<Resources> allocated(s.queues.size());
  std::vector<Resources> pending(s.queues.size());
  auto add_up = [&](std::vector<Resources>& to, QueueId q, const Resources& amount) {
    for (; q.valid(); q = s.queue(q).parent) to[q.index()] += amount;
  };
  // Pods bound in this cycle, per workload.
  std::vector<int64_t> bound_now(s.workloads.size(), 0);
  for (const BindDecision& b : r.binds) {
    bound_now[b.workload.index()] += static_cast<int64_t>(b.pods.size());
    for (const PodPlacement& p : b.pods) {
      add_up(allocated, s.workload(b.workload).queue, PodResources(s.workload(b.workload), p));
    }
  }
  for (size_t i = 0; i < s.workloads.size(); ++i) {
    const Workload& w = s.workloads[i];
    for (const PodPlacement& p : w.placement) add_up(allocated, w.queue, PodResources(w, p));
    if (!w.running && bound_now[i] == 0) {
      add_up(pending, w.queue,
             PodResourcesOn(w.request, 0) * static_cast<int64_t>(ks.waiting[i].size()));
    }
  }
  // Each PodGroup's phase and how many of its pods are bound.
  std::map<std::string, const KubePodGroup*> groups;
  for (const KubePodGroup& g : objects.groups) groups["/podgroup/" + g.name + "@" + g.ns] = &g;
  std::vector<std::function<void()>> group_tasks;
  for (size_t i = 0; i < s.workloads.size(); ++i) {
    const Workload& w = s.workloads[i];
    const size_t slash = w.name.find("/podgroup/");
    if (slash == std::string::npos) continue;
    auto g = groups.find(w.name.substr(slash) + "@" + w.name.substr(0, slash));
    if (g == groups.end()) continue;
    const int64_t scheduled = static_cast<int64_t>(ks.bound[i].size()) + bound_now[i];
    const std::string phase = w.releasing                    ? "Releasing"
                              : scheduled >= w.min_available ? "Running"
                                                             : "Pending";
    const json& old = g->second->status;
    if (old.value("phase", "") == phase && old.value("scheduled", int64_t{-1}) == scheduled) {
      continue;
    }
    const std::string path = std::string("/apis/") + kSchedulingGroup + "/v1/namespaces/" +
                             g->second->ns + "/podgroups/" + g->second->name + "/status";
    group_tasks.emplace_back([this, path, phase, scheduled] {
      (void)client_->Patch(path, {{"status", {{"phase", phase}, {"scheduled", scheduled}}}});
    });
  }
  Parallel(std::move(group_tasks));

  std::map<std::string, const KubeQueue*> by_name;
  for (const KubeQueue& q : objects.queues) by_name[q.name] = &q;
  std::vector<std::function<void()>> tasks;
  for (size_t i = 0; i < s.queues.size(); ++i) {
    json status = {
        {"fairShare", ResourcesJson(i < r.fair_share.size() ? r.fair_share[i] : Resources{})},
        {"allocated", ResourcesJson(allocated[i])},
        {"pending", ResourcesJson(pending[i])}};
    auto q = by_name.find(s.queues[i].name);
    if (q == by_name.end()) continue;
    const json& old = q->second->status;
    if (old.value("fairShare", json()) == status["fairShare"] &&
        old.value("allocated", json()) == status["allocated"] &&
        old.value("pending", json()) == status["pending"]) {
      continue;
    }
    const std::string path =
        std::string("/apis/") + kSchedulingGroup + "/v1/queues/" + s.queues[i].name + "/status";
    tasks.emplace_back([this, path, status] { (void)client_->Patch(path, {{"status", status}}); });
  }
  Parallel(std::move(tasks));
}

}  // namespace sluice
