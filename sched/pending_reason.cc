#include "sched/pending_reason.h"

#include <algorithm>
#include <set>

#include "common/quantity.h"
#include "sched/mig_placement.h"
#include "sched/placement.h"

namespace sluice {
namespace {

std::string Plural(int64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string Join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string SelectorText(const Labels& selector) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : selector) parts.push_back(k + "=" + v);
  return Join(parts, ",");
}

std::string MigText(const PodRequest& r) {
  return "a " + std::string(MigProfileName(r.mig_profile)) + " MIG instance";
}

std::string GpuPerPodText(const PodRequest& r) {
  if (r.mig()) return MigText(r);
  if (r.whole_gpus()) return Plural(r.gpu_devices, "whole GPU", "whole GPUs");
  std::string each = r.gpu_memory_mib > 0 ? FormatMemoryMiB(r.gpu_memory_mib) + " of GPU memory"
                                          : FormatMilli(r.gpu_milli) + " of a GPU";
  if (r.gpu_devices == 1) return each;
  return each + " on each of " + std::to_string(r.gpu_devices) + " devices";
}

// Why no instance of a MIG pod's profile is to be had now.
std::string MigPlacementReason(const Workload& w, std::span<const NodeId> eligible,
                               const ClusterState& state) {
  const PodRequest& r = w.request;
  int32_t instances = 0, repartitionable = 0;
  std::vector<NodeId> gpu_ok;
  for (NodeId n : eligible) {
    for (const MigDeviceState& m : state.mig_devices(n)) {
      repartitionable += m.repartitionable ? 1 : 0;
      for (const MigInstanceState& i : m.instances) {
        instances += i.placement.profile == r.mig_profile ? 1 : 0;
      }
    }
    if (BestMigInstance(state.mig_devices(n), r.mig_profile, {}, true, false)) gpu_ok.push_back(n);
  }
  if (gpu_ok.empty()) {
    std::string text = "needs " + MigText(r) + "; ";
    text += instances == 0 ? "the matching nodes have none"
                           : "all " + Plural(instances, "such instance", "such instances") +
                                 " on matching nodes are in use";
    if (repartitionable == 0) {
      text +=
          ", and no MIG device may be repartitioned for it (a device is repartitioned only "
          "with migDynamic and no running work)";
    } else {
      text += ", and no idle MIG device has room for it";
    }
    return text;
  }
  int64_t best_cpu = 0, best_memory = 0;
  for (NodeId n : gpu_ok) {
    best_cpu = std::max(best_cpu, state.free_cpu(n));
    best_memory = std::max(best_memory, state.free_memory(n));
  }
  if (best_cpu < r.cpu_milli) {
    return "needs " + FormatAmount(Resource::kCpu, r.cpu_milli) +
           " on a node with room for its MIG instance; the most free there is " +
           FormatMilli(best_cpu);
  }
  if (best_memory < r.memory_mib) {
    return "needs " + FormatMemoryMiB(r.memory_mib) +
           " of memory on a node with room for its MIG instance; the most free there is " +
           FormatMemoryMiB(best_memory);
  }
  return "no matching node has room for " + MigText(r) + ", its CPU and memory at the same time";
}

}  // namespace

std::string FormatAmount(Resource r, int64_t amount) {
  switch (r) {
    case Resource::kGpu:
      return FormatMilli(amount) + (amount == 1000 || amount < 1000 ? " GPU" : " GPUs");
    case Resource::kCpu:
      return FormatMilli(amount) + (amount == 1000 ? " CPU core" : " CPU cores");
    case Resource::kMemory:
      return FormatMemoryMiB(amount) + " of memory";
  }
  return std::to_string(amount);
}

std::optional<std::string> QueueRuleViolation(const Workload& w, const Resources& pod,
                                              const ClusterState& state) {
  const Snapshot& s = state.snapshot();
  for (QueueId q = w.queue; q.valid(); q = s.queue(q).parent) {
    const Queue& queue = s.queue(q);
    for (Resource r : kAllResources) {
      if (pod[r] == 0) continue;
      const int64_t limit = queue.resource(r).limit;
      const int64_t held = state.allocated(q)[r];
      if (limit >= 0 && held + pod[r] > limit) {
        if (pod[r] > limit) {
          return "queue " + queue.name + "'s limit of " + FormatAmount(r, limit) +
                 " is less than one pod needs (" + FormatAmount(r, pod[r]) +
                 "); it can never run unless the limit is raised";
        }
        if (held >= limit) {
          return "queue " + queue.name + " is at its limit of " + FormatAmount(r, limit) + " (" +
                 FormatAmount(r, held) + " in use)";
        }
        return "queue " + queue.name + " would go over its limit of " + FormatAmount(r, limit) +
               " (" + FormatAmount(r, held) + " in use, " + FormatAmount(r, pod[r]) +
               " more needed for the next pod)";
      }
      const int64_t quota = queue.resource(r).quota;
      const int64_t held_np = state.nonpreemptible_allocated(q)[r];
      if (!w.preemptible && quota >= 0 && held_np + pod[r] > quota) {
        return "the non-preemptible usage of queue " + queue.name + " would exceed its quota of " +
               FormatAmount(r, quota) + " (" + FormatAmount(r, held_np) +
               " held by non-preemptible workloads, " + FormatAmount(r, pod[r]) +
               " more needed); non-preemptible workloads only use in-quota resources, so mark "
               "it preemptible or raise the quota";
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> NeverFitsReason(const Workload& w, const Snapshot& s) {
  // Narrow the nodes step by step so the message names the first constraint
  // that leaves none.
  std::vector<const Node*> nodes;
  for (const Node& n : s.nodes) nodes.push_back(&n);
  if (nodes.empty()) return "the cluster has no nodes";
  if (w.request.gpu_devices > 0) {
    std::erase_if(nodes, [](const Node* n) { return n->gpus == 0; });
    if (nodes.empty()) return "needs GPUs but no node has any";
  }
  if (!w.gpu_models.empty()) {
    std::set<std::string> present;
    for (const Node* n : nodes) present.insert(n->gpu_model.empty() ? "(unnamed)" : n->gpu_model);
    std::erase_if(nodes, [&](const Node* n) {
      return std::find(w.gpu_models.begin(), w.gpu_models.end(), n->gpu_model) ==
             w.gpu_models.end();
    });
    if (nodes.empty()) {
      return "no node has a GPU of model " + Join(w.gpu_models, " or ") + " (the cluster has " +
             Join(std::vector<std::string>(present.begin(), present.end()), ", ") + ")";
    }
  }
  if (!w.node_selector.empty()) {
    std::erase_if(nodes, [&](const Node* n) {
      for (const auto& [k, v] : w.node_selector) {
        const std::string* got = FindLabel(n->labels, k);
        if (got == nullptr || *got != v) return true;
      }
      return false;
    });
    if (nodes.empty()) {
      return "no node" + std::string(w.gpu_models.empty() ? "" : " with a matching GPU model") +
             " matches nodeSelector " + SelectorText(w.node_selector);
    }
  }
  if (!w.topology.empty()) {
    std::erase_if(nodes,
                  [&](const Node* n) { return FindLabel(n->labels, w.topology) == nullptr; });
    if (nodes.empty()) return "no matching node has the topology label \"" + w.topology + "\"";
  }
  const PodRequest& r = w.request;
  if (r.mig()) {
    std::erase_if(nodes, [&](const Node* n) { return !NodeFilter::OffersMig(*n, r.mig_profile); });
    if (nodes.empty()) {
      return "needs " + MigText(r) +
             " but no matching node has a device in MIG mode whose model offers that profile";
    }
    std::erase_if(nodes, [&](const Node* n) {
      Workload gpu_only = w;
      gpu_only.request.cpu_milli = 0;
      gpu_only.request.memory_mib = 0;
      return !NodeFilter::CanEverHold(gpu_only, *n);
    });
    if (nodes.empty()) {
      return "needs " + MigText(r) +
             " but no matching MIG device has one and no node with MIG devices allows "
             "repartitioning (migDynamic)";
    }
  }
  int32_t most_gpus = 0;
  int64_t most_gpu_memory = 0, most_cpu = 0, most_memory = 0;
  for (const Node* n : nodes) {
    most_gpus = std::max(most_gpus, n->gpus);
    most_gpu_memory = std::max(most_gpu_memory, n->gpu_memory_mib);
    most_cpu = std::max(most_cpu, n->cpu_milli);
    most_memory = std::max(most_memory, n->memory_mib);
  }
  if (r.gpu_devices > most_gpus) {
    return "needs " + Plural(r.gpu_devices, "GPU", "GPUs") +
           " on one node but the largest matching node has " + std::to_string(most_gpus) +
           "; it can never run here";
  }
  if (r.gpu_memory_mib > 0 && most_gpu_memory == 0) {
    return "asks for GPU memory but no matching node states its gpuMemory";
  }
  if (r.gpu_memory_mib > most_gpu_memory && r.gpu_devices > 0) {
    return "needs " + FormatMemoryMiB(r.gpu_memory_mib) +
           " of GPU memory per device but the largest matching GPU has " +
           FormatMemoryMiB(most_gpu_memory) + "; it can never run here";
  }
  if (r.cpu_milli > most_cpu) {
    return "needs " + FormatAmount(Resource::kCpu, r.cpu_milli) +
           " per pod but the largest matching node has " + FormatMilli(most_cpu) +
           "; it can never run here";
  }
  if (r.memory_mib > most_memory) {
    return "needs " + FormatMemoryMiB(r.memory_mib) +
           " of memory per pod but the largest matching node has " + FormatMemoryMiB(most_memory) +
           "; it can never run here";
  }
  for (const Node* n : nodes) {
    if (NodeFilter::CanEverHold(w, *n)) return std::nullopt;
  }
  std::vector<std::string> parts;
  if (r.gpu_devices > 0) parts.push_back(GpuPerPodText(r));
  if (r.cpu_milli > 0) parts.push_back(FormatAmount(Resource::kCpu, r.cpu_milli));
  if (r.memory_mib > 0) parts.push_back(FormatAmount(Resource::kMemory, r.memory_mib));
  return "no single matching node is large enough for one pod (" + Join(parts, ", ") +
         "); it can never run here";
}

std::string PlacementReason(const Workload& w, std::span<const NodeId> eligible,
                            const ClusterState& state, int32_t needed, int32_t max_placed) {
  const Snapshot& s = state.snapshot();
  const PodRequest& r = w.request;
  PodPlacer placer(s, state);
  if (max_placed > 0) {
    std::string where = w.topology.empty() ? "" : " within one \"" + w.topology + "\" domain";
    return "needs " + std::to_string(needed) + " pods placed together" + where + " (minAvailable " +
           std::to_string(w.min_available) + "); only " + std::to_string(max_placed) +
           " fit at the same time";
  }
  if (r.mig()) return MigPlacementReason(w, eligible, state);
  // Which part of the pod finds no room: the GPUs first, then CPU, memory.
  std::vector<NodeId> gpu_ok;
  int32_t best_block = 0;
  int64_t best_fraction_free = 0;
  for (NodeId n : eligible) {
    if (r.gpu_devices == 0) {
      gpu_ok.push_back(n);
      continue;
    }
    const int64_t milli = r.MilliOn(state.gpu_memory_mib(n));
    int32_t fitting = 0;
    if (milli == 1000) {
      // Whole devices: those with nothing on them, which the state counts.
      fitting = state.idle_devices(n);
      if (fitting > 0) best_fraction_free = 1000;
    }
    if (milli != 1000 || (fitting == 0 && best_fraction_free < 1000)) {
      if (milli > 0 && state.shared_devices(n) == 0) {
        // Every device is idle or full: the idle ones fit and are all free.
        const int32_t idle = state.idle_devices(n);
        if (milli != 1000) fitting = idle;
        if (idle > 0) best_fraction_free = 1000;
      } else {
        for (int32_t d = 0; d < state.gpus(n); ++d) {
          const int64_t used = state.device_used(n, d);
          if (milli != 1000 && used + milli <= 1000) ++fitting;
          best_fraction_free = std::max(best_fraction_free, 1000 - used);
        }
      }
    }
    best_block = std::max(best_block, fitting);
    if (fitting >= r.gpu_devices) gpu_ok.push_back(n);
  }
  if (gpu_ok.empty()) {
    if (r.whole_gpus()) {
      return "needs " + Plural(r.gpu_devices, "whole GPU", "whole GPUs") +
             " on one node; the largest free block on a matching node is " +
             std::to_string(best_block);
    }
    if (r.gpu_devices == 1) {
      return "needs " + GpuPerPodText(r) + "; the most free on any matching GPU is " +
             FormatMilli(best_fraction_free);
    }
    return "needs " + GpuPerPodText(r) + " on one node; at most " + std::to_string(best_block) +
           " such devices are free on any matching node";
  }
  int64_t best_cpu = 0, best_memory = 0;
  for (NodeId n : gpu_ok) {
    best_cpu = std::max(best_cpu, state.free_cpu(n));
    best_memory = std::max(best_memory, state.free_memory(n));
  }
  const std::string with_gpus = r.gpu_devices > 0 ? " on a node with room for its GPUs" : "";
  if (best_cpu < r.cpu_milli) {
    return "needs " + FormatAmount(Resource::kCpu, r.cpu_milli) + with_gpus +
           "; the most free there is " + FormatMilli(best_cpu);
  }
  if (best_memory < r.memory_mib) {
    return "needs " + FormatMemoryMiB(r.memory_mib) + " of memory" + with_gpus +
           "; the most free there is " + FormatMemoryMiB(best_memory);
  }
  return "no matching node has room for its GPUs, " + FormatAmount(Resource::kCpu, r.cpu_milli) +
         " and " + FormatMemoryMiB(r.memory_mib) + " of memory at the same time";
}

}  // namespace sluice
