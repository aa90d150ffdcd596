// The control plane's scheduling loop: build a snapshot of the server's
// state, run the scheduler core on it, and apply its decisions.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "server/control_plane.h"

namespace sluice {
namespace {

std::string DevicesText(const PlacedPod& p) {
  std::string devices;
  for (int32_t g : p.gpus) devices += (devices.empty() ? "" : ",") + std::to_string(g);
  std::string text = p.node;
  if (!p.gpus.empty()) text += " GPU " + devices;
  if (!p.mig.empty()) return text + " MIG " + p.mig;
  if (!p.gpus.empty() && p.gpu_milli != 1000) text += " (" + FormatMilli(p.gpu_milli) + " each)";
  return text;
}

std::string PlacementText(const std::vector<PlacedPod>& pods) {
  std::string text;
  for (const PlacedPod& p : pods) text += (text.empty() ? "" : "; ") + DevicesText(p);
  return text;
}

}  // namespace

void ControlPlane::RequestCycle() {
  if (cycle_requested_) return;
  cycle_requested_ = true;
  opt_.after(opt_.debounce, [this] {
    cycle_requested_ = false;
    RunSchedulingCycle();
  });
}

void ControlPlane::SchedulePeriodic() {
  opt_.after(opt_.period, [this] {
    RunSchedulingCycle();
    SchedulePeriodic();
  });
}

Snapshot ControlPlane::BuildSnapshot(std::vector<int64_t>* workload_ids) const {
  Snapshot s;
  s.now = opt_.now();
  s.time_based_fair_share.enabled = opt_.time_based_fair_share;
  s.time_based_fair_share.k_milli = opt_.time_based_k_milli;
  s.nodes = opt_.nodes;
  std::unordered_map<std::string, int32_t> node_ids;
  for (size_t i = 0; i < s.nodes.size(); ++i) node_ids[s.nodes[i].name] = static_cast<int32_t>(i);

  std::unordered_map<std::string, int32_t> queue_ids;
  auto add_queue = [&](const std::string& name, const QueueSettings& settings, QueueId parent) {
    Queue q;
    q.name = name;
    q.parent = parent;
    q.priority = settings.priority;
    q.resources = settings.resources;
    q.reclaim_min_runtime = settings.reclaim_min_runtime;
    q.preempt_min_runtime = settings.preempt_min_runtime;
    auto u = usage_.find(name);
    q.usage_milli_gpu_hours = u == usage_.end() ? 0 : static_cast<int64_t>(u->second);
    const auto id = static_cast<int32_t>(s.queues.size());
    if (parent.valid()) {
      q.depth = s.queues[parent.index()].depth + 1;
      s.queues[parent.index()].children.emplace_back(id);
      s.queues[parent.index()].usage_milli_gpu_hours += q.usage_milli_gpu_hours;
    }
    queue_ids[name] = id;
    s.queues.push_back(std::move(q));
  };
  for (const Department& d : departments_) add_queue(d.name, d.settings, QueueId());
  for (const Project& p : projects_) {
    QueueId parent;
    if (auto it = queue_ids.find(p.department); !p.department.empty() && it != queue_ids.end()) {
      parent = QueueId(it->second);
    }
    add_queue(p.name, p.settings, parent);
  }

  // Device use so far, to drop any stored pod that no longer fits the
  // inventory (a node removed, fewer GPUs) rather than over-commit.
  std::vector<std::vector<int64_t>> device_use(s.nodes.size());
  for (size_t n = 0; n < s.nodes.size(); ++n) {
    device_use[n].assign(static_cast<size_t>(s.nodes[n].gpus), 0);
  }
  for (const auto& [id, rec] : workloads_) {
    if (!rec.active()) continue;
    auto q = queue_ids.find(rec.project);
    if (q == queue_ids.end()) continue;
    Workload w;
    w.name = rec.project + "/" + rec.name;
    w.queue = QueueId(q->second);
    w.priority_class = rec.spec.priority_class;
    w.preemptible = rec.spec.preemptible;
    w.pods = rec.spec.pods;
    w.min_available = rec.spec.min_available;
    w.request = rec.spec.request;
    w.gpu_models = rec.spec.gpu_models;
    w.node_selector = rec.spec.node_selector;
    w.topology = rec.spec.topology;
    w.submitted = rec.submitted;
    w.requeued = rec.requeued;
    if (rec.phase == Phase::kRunning) {
      for (const PlacedPod& p : rec.placement) {
        auto n = node_ids.find(p.node);
        if (n == node_ids.end()) continue;
        if (!p.mig.empty() || w.request.mig()) {
          // A MIG pod holds its instance while the node still lists it.
          const MigPlacement m = ParseMigPlacement(p.mig);
          const Node& node = s.nodes[static_cast<size_t>(n->second)];
          const MigDevice* dev = p.gpus.size() == 1 ? node.FindMig(p.gpus[0]) : nullptr;
          if (dev == nullptr || m.profile != w.request.mig_profile ||
              std::find(dev->instances.begin(), dev->instances.end(), m) == dev->instances.end()) {
            continue;
          }
          w.placement.push_back({NodeId(n->second), p.gpus, w.request.gpu_milli, m.start});
          continue;
        }
        std::vector<int64_t>& use = device_use[static_cast<size_t>(n->second)];
        bool fits = true;
        for (int32_t g : p.gpus) {
          fits = fits && g >= 0 && g < static_cast<int32_t>(use.size()) &&
                 use[static_cast<size_t>(g)] + p.gpu_milli <= 1000;
        }
        if (!fits) continue;
        for (int32_t g : p.gpus) use[static_cast<size_t>(g)] += p.gpu_milli;
        w.placement.push_back({NodeId(n->second), p.gpus, p.gpu_milli, -1});
      }
      w.running = !w.placement.empty();
      w.releasing = w.running && rec.releasing;
      w.started = rec.started.value_or(rec.submitted);
      if (w.running) w.stale_since = rec.stale_since;
      if (!w.running && rec.releasing) continue;  // nothing left to release
    }
    workload_ids->push_back(id);
    s.workloads.push_back(std::move(w));
  }
  return s;
}

void ControlPlane::AccrueUsage(Time now) {
  const double hours = static_cast<double>((now - usage_updated_).ms) / 3.6e6;
  usage_updated_ = now;
  if (hours <= 0) return;
  const double decay = std::pow(
      0.5, hours * 3.6e6 / static_cast<double>(std::max<int64_t>(1, opt_.usage_half_life.ms)));
  std::map<std::string, int64_t> allocated;
  for (const auto& [id, w] : workloads_) {
    if (w.phase == Phase::kRunning) allocated[w.project] += w.AllocatedGpuMilli();
  }
  for (auto& [project, u] : usage_) u *= decay;
  for (const auto& [project, milli] : allocated) {
    usage_[project] += static_cast<double>(milli) * hours;
  }
  if ((now - usage_persisted_).ms >= 60'000) {
    usage_persisted_ = now;
    std::vector<Mutation> batch;
    for (const auto& [project, u] : usage_) {
      batch.push_back(Mutation::Put("usage", project, DumpJson(Json(u))));
    }
    CommitInBackground(std::move(batch));
  }
}

void ControlPlane::RunSchedulingCycle() {
  if (cycle_running_) {
    cycle_again_ = true;
    return;
  }
  cycle_running_ = true;
  const auto started = std::chrono::steady_clock::now();
  AccrueUsage(opt_.now());
  auto ids = std::make_shared<std::vector<int64_t>>();
  auto snapshot = std::make_shared<const Snapshot>(BuildSnapshot(ids.get()));
  auto compute = [this, ids, snapshot, started] {
    auto result = std::make_shared<const CycleResult>(RunCycle(*snapshot));
    opt_.post([this, ids, snapshot, result, started] {
      ApplyCycle(*snapshot, *ids, *result);
      const auto took = std::chrono::steady_clock::now() - started;
      metrics_->cycle_seconds.Observe(
          std::chrono::duration_cast<std::chrono::duration<double>>(took).count());
      ++metrics_->cycles;
      last_cycle_ = std::chrono::duration_cast<std::chrono::milliseconds>(took);
      cycle_running_ = false;
      if (cycle_again_) {
        // Under a stream of changes, leave at least as long as a cycle takes
        // between cycles, so scheduling never takes more than half the time.
        cycle_again_ = false;
        opt_.after(std::max(opt_.debounce, last_cycle_), [this] { RunSchedulingCycle(); });
      }
    });
  };
  if (opt_.offload) {
    opt_.offload(std::move(compute));
  } else {
    compute();
  }
}

void ControlPlane::ApplyCycle(const Snapshot& s, const std::vector<int64_t>& ids,
                              const CycleResult& r) {
  last_queue_names_.clear();
  for (const Queue& q : s.queues) last_queue_names_.push_back(q.name);
  last_fair_share_ = r.fair_share;
  pending_by_class_.clear();
  std::vector<Mutation> batch;
  auto pods_of = [&](WorkloadId w, const std::vector<PodPlacement>& pods) {
    std::vector<PlacedPod> out;
    for (const PodPlacement& p : pods) {
      out.push_back({s.node(p.node).name, p.gpus, p.gpu_milli,
                     p.mig() ? FormatMigPlacement({s.workload(w).request.mig_profile, p.mig_start})
                             : std::string()});
    }
    return out;
  };

  // The state changed while the cycle ran? Then its decisions about that
  // workload are stale: skip them; the next cycle decides again.
  std::vector<WorkloadRecord*> recs(ids.size(), nullptr);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = workloads_.find(ids[i]);
    if (it == workloads_.end()) continue;
    const Workload& seen = s.workloads[i];
    WorkloadRecord& rec = it->second;
    // (A workload that ended meanwhile, such as a pending sweep trial
    // stopped with its sweep, is never bound.)
    const bool same = rec.active() && !rec.deleting && rec.releasing == seen.releasing &&
                      (rec.phase == Phase::kRunning) == seen.running &&
                      rec.placement.size() == seen.placement.size();
    if (same) recs[i] = &rec;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (recs[i] == nullptr) continue;
    WorkloadRecord& rec = *recs[i];
    const std::string& reason = r.reason[i];
    if (rec.phase == Phase::kPending) {
      ++pending_by_class_[rec.project][static_cast<size_t>(rec.spec.priority_class)];
    }
    if (rec.reason != reason || rec.position != r.position[i]) {
      const bool reason_changed = rec.reason != reason;
      rec.reason = reason;
      rec.position = r.position[i];
      if (reason_changed) Notify("MODIFIED", rec);
    }
  }

  for (const EvictionDecision& e : r.evictions) {
    if (recs[e.workload.index()] == nullptr) continue;
    WorkloadRecord& rec = *recs[e.workload.index()];
    const std::string action(EvictionActionName(e.action));
    std::string why = action;
    if (e.for_workload.valid()) why += " for " + s.workload(e.for_workload).name;
    if (!e.why.empty()) why += ": " + e.why;
    ++metrics_->evictions;
    if (e.action == EvictionAction::kConsolidate) {
      // Moved: the new pods follow among the binds.
      rec.placement.clear();
      batch.push_back(EventFor(rec, "Moved", why));
      continue;
    }
    rec.releasing = true;
    rec.message = "evicted by " + why;
    batch.push_back(PutWorkload(rec));
    batch.push_back(EventFor(rec, "Evicted", why));
    executor_->Stop(rec.id);
    Notify("MODIFIED", rec);
  }

  // MIG devices are laid out anew before the binds that use them; the
  // binds onto a device whose repartition failed wait for the next cycle.
  std::vector<std::pair<NodeId, int32_t>> failed_devices;
  for (const RepartitionDecision& d : r.repartitions) {
    const std::string& node = s.node(d.node).name;
    Status st = executor_->Repartition(node, d.gpu, d.destroy, d.create);
    if (!st.ok()) {
      failed_devices.emplace_back(d.node, d.gpu);
      repartition_error_ = "repartitioning GPU " + std::to_string(d.gpu) + " of " + node +
                           " failed: " + st.message();
      continue;
    }
    for (Node& n : opt_.nodes) {
      if (n.name != node) continue;
      for (MigDevice& m : n.mig) {
        if (m.gpu == d.gpu) m.instances = d.layout;
      }
    }
  }
  for (const BindDecision& b : r.binds) {
    if (recs[b.workload.index()] == nullptr) continue;
    const bool blocked = std::any_of(b.pods.begin(), b.pods.end(), [&](const PodPlacement& p) {
      return p.mig() && std::find(failed_devices.begin(), failed_devices.end(),
                                  std::make_pair(p.node, p.gpus[0])) != failed_devices.end();
    });
    WorkloadRecord& rec = *recs[b.workload.index()];
    if (blocked) {
      rec.reason = repartition_error_;
      Notify("MODIFIED", rec);
      continue;
    }
    std::vector<PlacedPod> pods = pods_of(b.workload, b.pods);
    ++metrics_->binds;
    if (rec.phase == Phase::kPending) {
      rec.phase = Phase::kRunning;
      rec.started = s.now;
      rec.placement = pods;
      rec.reason.clear();
      rec.position = 0;
      batch.push_back(EventFor(rec, "Scheduled", "bound to " + PlacementText(pods)));
      if (rec.spec.workspace) PrepareWorkspaceLaunch(rec);
      executor_->Start(rec, pods);
    } else if (rec.placement.empty()) {
      rec.placement = pods;  // consolidated: the same pods, elsewhere
      batch.push_back(EventFor(rec, "Scheduled", "moved to " + PlacementText(pods)));
      if (rec.spec.workspace) PrepareWorkspaceLaunch(rec);
      executor_->Restart(rec);
    } else {
      rec.placement.insert(rec.placement.end(), pods.begin(), pods.end());
      batch.push_back(EventFor(rec, "Scaled", "added " + PlacementText(pods)));
      executor_->Start(rec, pods);
    }
    if (static_cast<int32_t>(rec.placement.size()) >= rec.spec.min_available) {
      rec.stale_since.reset();
    }
    batch.push_back(PutWorkload(rec));
    Notify("MODIFIED", rec);
  }
  CommitInBackground(std::move(batch));
  ReconcileSweeps();
}

void ControlPlane::OnExit(int64_t id, int exit_code, bool stopped, const std::string& message) {
  auto it = workloads_.find(id);
  if (it == workloads_.end()) return;
  WorkloadRecord& rec = it->second;
  const Time now = opt_.now();
  idle_.Forget(id);
  proxied_.erase(id);
  if (rec.deleting) {
    WorkloadRecord gone = rec;
    by_name_[gone.project].erase(gone.name);
    workloads_.erase(it);
    RemoveWorkspaceFiles(gone);
    CommitInBackground({Mutation::Delete("workload", gone.key()),
                        EventFor(gone, "Deleted", message + "; deleted")});
    Notify("DELETED", gone);
    RequestCycle();
    return;
  }
  if (rec.finishing) {
    // Stopped for good by its sweep (early stopping, or the sweep stopped).
    rec.phase = rec.message.rfind("stopped early", 0) == 0 ? Phase::kSucceeded : Phase::kFailed;
    rec.exit_code = exit_code;
    rec.ended = now;
    rec.placement.clear();
    rec.releasing = false;
    CommitInBackground(
        {PutWorkload(rec), EventFor(rec, std::string(PhaseName(rec.phase)), rec.message)});
  } else if (rec.suspending) {
    // A workspace stopped by its user or by idle culling: it keeps its
    // files and waits for `workspace start`.
    rec.phase = Phase::kSuspended;
    rec.placement.clear();
    rec.releasing = false;
    rec.suspending = false;
    rec.stale_since.reset();
    rec.ended = now;
    rec.launch_env.clear();
    CommitInBackground({PutWorkload(rec), EventFor(rec, "Suspended", rec.message)});
  } else if (stopped && rec.releasing) {
    // Evicted: back to the queue, behind what its queue received while it
    // ran (it keeps its submission time for the record).
    rec.phase = Phase::kPending;
    rec.placement.clear();
    rec.releasing = false;
    rec.requeued = now;
    rec.started.reset();
    rec.stale_since.reset();
    ++rec.evictions;
    CommitInBackground(
        {PutWorkload(rec), EventFor(rec, "Requeued", message + "; waiting to run again")});
  } else if (exit_code != 0 && !stopped &&
             (rec.spec.priority_class == PriorityClass::kInference ||
              rec.retries < rec.spec.max_retries)) {
    // A failed run starts again: inference services always, others up to
    // their retry limit. It queues like an evicted workload.
    rec.phase = Phase::kPending;
    rec.placement.clear();
    rec.releasing = false;
    rec.requeued = now;
    rec.started.reset();
    rec.stale_since.reset();
    ++rec.retries;
    rec.message = message;
    CommitInBackground({PutWorkload(rec), EventFor(rec, "Retrying",
                                                   message + "; starting again (retry " +
                                                       std::to_string(rec.retries) + ")")});
  } else {
    rec.phase = exit_code == 0 ? Phase::kSucceeded : Phase::kFailed;
    rec.exit_code = exit_code;
    rec.ended = now;
    rec.placement.clear();
    rec.releasing = false;
    rec.message = message;
    CommitInBackground(
        {PutWorkload(rec), EventFor(rec, std::string(PhaseName(rec.phase)), message)});
  }
  Notify("MODIFIED", rec);
  RequestCycle();
  if (trial_of_workload_.count(id) > 0) ReconcileSweeps();
}

ApiResponse ControlPlane::ListQueues(const Caller&) const {
  struct Totals {
    int64_t allocated_gpu = 0;
    int64_t allocated_cpu = 0;     // millicores
    int64_t allocated_memory = 0;  // MiB
    int32_t running = 0;
    int32_t pending = 0;
  };
  std::map<std::string, Totals> totals;
  for (const auto& [id, w] : workloads_) {
    Totals& t = totals[w.project];
    if (w.phase == Phase::kRunning) {
      t.allocated_gpu += w.AllocatedGpuMilli();
      const auto pods = static_cast<int64_t>(w.placement.size());
      t.allocated_cpu += pods * w.spec.request.cpu_milli;
      t.allocated_memory += pods * w.spec.request.memory_mib;
      ++t.running;
    } else if (w.phase == Phase::kPending) {
      ++t.pending;
    }
  }
  std::unordered_map<std::string, size_t> fs_index;
  for (size_t i = 0; i < last_queue_names_.size(); ++i) fs_index[last_queue_names_[i]] = i;
  auto entry = [&](const std::string& name, const std::string& kind, const std::string& parent,
                   const QueueSettings& settings, const Totals& t) {
    const QueueResource& gpu = settings.resources[static_cast<size_t>(Resource::kGpu)];
    Json fair = nullptr;
    const Resources* share = nullptr;
    if (auto it = fs_index.find(name);
        it != fs_index.end() && it->second < last_fair_share_.size()) {
      share = &last_fair_share_[it->second];
      fair = Json{{"gpu", MilliNumber((*share)[Resource::kGpu])},
                  {"cpu", MilliNumber((*share)[Resource::kCpu])},
                  {"memory", FormatMemoryMiB((*share)[Resource::kMemory])}};
    }
    // Each resource's settings, fair share and allocation, for the UI.
    Json resources = Json::object();
    for (Resource r : kAllResources) {
      const auto amount = [r](int64_t v) -> Json {
        if (v < 0 || v >= kUnlimited) return -1;  // unlimited
        return r == Resource::kMemory ? Json(FormatMemoryMiB(v)) : MilliNumber(v);
      };
      const QueueResource& qr = settings.resources[static_cast<size_t>(r)];
      const int64_t allocated = r == Resource::kGpu   ? t.allocated_gpu
                                : r == Resource::kCpu ? t.allocated_cpu
                                                      : t.allocated_memory;
      resources[std::string(ResourceName(r))] = {
          {"quota", amount(qr.quota)},
          {"limit", amount(qr.limit)},
          {"overQuotaWeight", MilliNumber(qr.weight_milli)},
          {"fairShare", share == nullptr ? Json() : amount((*share)[r])},
          {"allocated", amount(allocated)}};
    }
    double hours = 0;
    if (auto u = usage_.find(name); u != usage_.end()) hours = u->second;
    if (kind == "department") {
      for (const Project& p : projects_) {
        if (p.department != name) continue;
        if (auto u = usage_.find(p.name); u != usage_.end()) hours += u->second;
      }
    }
    return Json{{"name", name},
                {"kind", kind},
                {"parent", parent.empty() ? Json() : Json(parent)},
                {"priority", settings.priority},
                {"gpuQuota", gpu.quota < 0 ? Json(-1) : MilliNumber(gpu.quota)},
                {"gpuLimit", gpu.limit < 0 ? Json(-1) : MilliNumber(gpu.limit)},
                {"gpuOverQuotaWeight", MilliNumber(gpu.weight_milli)},
                {"fairShare", fair},
                {"allocatedGpu", MilliNumber(t.allocated_gpu)},
                {"running", t.running},
                {"pending", t.pending},
                {"gpuHours", hours / 1000.0},
                {"resources", std::move(resources)}};
  };
  Json items = Json::array();
  for (const Department& d : departments_) {
    Totals sum;
    for (const Project& p : projects_) {
      if (p.department != d.name) continue;
      const Totals& t = totals[p.name];
      sum.allocated_gpu += t.allocated_gpu;
      sum.allocated_cpu += t.allocated_cpu;
      sum.allocated_memory += t.allocated_memory;
      sum.running += t.running;
      sum.pending += t.pending;
    }
    items.push_back(entry(d.name, "department", "", d.settings, sum));
  }
  for (const Project& p : projects_) {
    items.push_back(entry(p.name, "project", p.department, p.settings, totals[p.name]));
  }
  return ApiResponse{200, Json{{"items", std::move(items)}}, "", "application/json", "", {}};
}

std::string ControlPlane::MetricsText() const {
  std::string out;
  metrics_->Render(&out);
  ApiResponse queues = ListQueues(Caller{"metrics", -1, true});
  auto gauge = [&out](const std::string& name, const std::string& help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
  };
  auto number = [](const Json& j) { return j.is_null() ? std::string("NaN") : DumpJson(j); };
  gauge("sluice_queue_gpu_fair_share",
        "GPUs the queue deserves now (quota plus its over-quota share).");
  for (const Json& q : queues.body["items"]) {
    if (q["fairShare"].is_null()) continue;
    out += "sluice_queue_gpu_fair_share{queue=\"" + PromLabel(q["name"]) + "\",kind=\"" +
           q["kind"].get<std::string>() + "\"} " + number(q["fairShare"]["gpu"]) + "\n";
  }
  gauge("sluice_queue_gpu_quota", "Guaranteed GPUs of the queue (-1: unlimited).");
  for (const Json& q : queues.body["items"]) {
    out += "sluice_queue_gpu_quota{queue=\"" + PromLabel(q["name"]) + "\",kind=\"" +
           q["kind"].get<std::string>() + "\"} " + number(q["gpuQuota"]) + "\n";
  }
  gauge("sluice_queue_gpu_allocated", "GPUs held by the queue's running workloads.");
  for (const Json& q : queues.body["items"]) {
    out += "sluice_queue_gpu_allocated{queue=\"" + PromLabel(q["name"]) + "\",kind=\"" +
           q["kind"].get<std::string>() + "\"} " + number(q["allocatedGpu"]) + "\n";
  }
  gauge("sluice_queue_pending_workloads", "Workloads waiting in the queue.");
  for (const Json& q : queues.body["items"]) {
    out += "sluice_queue_pending_workloads{queue=\"" + PromLabel(q["name"]) + "\",kind=\"" +
           q["kind"].get<std::string>() + "\"} " + number(q["pending"]) + "\n";
  }
  ApiResponse nodes = ListNodes(Caller{"metrics", -1, true});
  gauge("sluice_gpu_allocated", "Fraction of the GPU device allocated to workloads.");
  for (const Json& n : nodes.body["items"]) {
    for (const Json& g : n["gpus"]) {
      out += "sluice_gpu_allocated{node=\"" + PromLabel(n["name"]) + "\",gpu=\"" +
             DumpJson(g["index"]) + "\",model=\"" + PromLabel(g["model"]) + "\"} " +
             number(g["allocated"]) + "\n";
    }
  }
  gauge("sluice_gpu_utilization",
        "Measured utilisation of the GPU device (0-1); absent for simulated GPUs.");
  for (const Json& n : nodes.body["items"]) {
    for (const Json& g : n["gpus"]) {
      if (g["utilization"].is_null()) continue;
      out += "sluice_gpu_utilization{node=\"" + PromLabel(n["name"]) + "\",gpu=\"" +
             DumpJson(g["index"]) + "\",model=\"" + PromLabel(g["model"]) + "\"} " +
             number(g["utilization"]) + "\n";
    }
  }
  gauge("sluice_node_gpu_allocated", "GPUs allocated on the node.");
  for (const Json& n : nodes.body["items"]) {
    out += "sluice_node_gpu_allocated{node=\"" + PromLabel(n["name"]) + "\"} " +
           number(n["allocatedGpu"]) + "\n";
  }
  return out;
}

}  // namespace sluice
