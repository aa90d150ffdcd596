#include "core/snapshot_reader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "core/snapshot_errors.h"

namespace sluice {
namespace {

using internal::ErrorList;
using internal::FieldReader;

// Bounds that no real cluster reaches and that keep every product of the
// scheduler's arithmetic (pods x per-pod amount, sums over nodes) far from
// int64 overflow.

constexpr std::string_view kTopKeys[] = {
    "now",    "placement", "staleGangGracePeriod", "timeBasedFairShare", "nodes",
    "queues", "workloads"};
constexpr std::string_view kTimeBasedKeys[] = {"enabled", "k"};
constexpr std::string_view kNodeKeys[] = {"name",   "gpus",   "gpuMemory", "gpuModel",  "cpu",
                                          "memory", "labels", "mig",       "migDynamic"};
constexpr std::string_view kMigDeviceKeys[] = {"gpu", "instances"};
constexpr std::string_view kQueueKeys[] = {
    "name", "parent", "priority", "gpu", "cpu", "memory", "reclaimMinRuntime", "preemptMinRuntime",
    "usage"};
constexpr std::string_view kQueueResourceKeys[] = {"quota", "limit", "overQuotaWeight"};
constexpr std::string_view kWorkloadKeys[] = {
    "name",         "queue",     "priorityClass", "preemptible", "pods",    "minAvailable",
    "gpu",          "gpuMemory", "gpuDevices",    "cpu",         "memory",  "gpuModel",
    "nodeSelector", "topology",  "submitted",     "state",       "started", "placement",
    "staleSince",   "mig",       "requeued"};
constexpr std::string_view kPlacementKeys[] = {"node", "gpus", "fraction", "mig"};

// Per-entity source positions, kept so that cross-reference checks made after
// the first pass still point at the right line.
struct Marks {
  std::vector<YAML::Mark> queue_parent;
  std::vector<YAML::Mark> queue;
  std::vector<YAML::Mark> workload_queue;
  std::vector<YAML::Mark> workload;
  std::vector<std::vector<YAML::Mark>> placement;        // [workload][pod]
  std::vector<std::vector<MigPlacement>> placement_mig;  // [workload][pod]; profile 0: none
};

class SnapshotParser {
 public:
  explicit SnapshotParser(std::string_view source) : errors_(source) {}

  Result<Snapshot> Parse(const YAML::Node& root);

 private:
  void ParseNodes(const YAML::Node& list);
  void ParseMig(FieldReader& f, Node* n);
  void ParseQueues(const YAML::Node& list);
  void ParseQueueResource(FieldReader& f, std::string_view key, Resource r, Queue* q);
  void ParseWorkloads(const YAML::Node& list);
  void ParseWorkload(FieldReader& f, Workload* w, std::string* queue_name);
  void ParseGpuRequest(FieldReader& f, Workload* w);
  void ParsePlacement(const YAML::Node& list, const std::string& path, size_t workload_index,
                      std::vector<std::string>* node_names,
                      std::vector<std::optional<int64_t>>* fractions);
  void LinkQueues(const std::vector<std::string>& parent_names);
  void LinkWorkloads(const std::vector<std::string>& queue_names,
                     const std::vector<std::vector<std::string>>& placement_nodes,
                     const std::vector<std::vector<std::optional<int64_t>>>& fractions);
  void LinkMigPlacement(size_t workload, size_t pod, const Node& node, PodPlacement* pp);
  void CheckCapacity();
  std::string WorkloadPath(size_t i) const {
    return "workloads[" + std::to_string(i) + "] \"" + snap_.workloads[i].name + "\"";
  }

  ErrorList errors_;
  Snapshot snap_;
  Marks marks_;
  std::map<std::string, NodeId, std::less<>> node_ids_;
  std::map<std::string, QueueId, std::less<>> queue_ids_;
};

Result<Snapshot> SnapshotParser::Parse(const YAML::Node& root) {
  if (!root.IsMap()) {
    errors_.Add(root.Mark(), "snapshot",
                "expected a mapping with the keys now, placement, nodes, queues, workloads");
    return errors_.ToStatus();
  }
  FieldReader top(&errors_, root, "snapshot", kTopKeys);
  if (auto now = top.Time("now", /*required=*/true)) snap_.now = *now;
  if (auto p = top.String("placement")) {
    if (*p == "binpack") {
      snap_.strategy = PlacementStrategy::kBinpack;
    } else if (*p == "spread") {
      snap_.strategy = PlacementStrategy::kSpread;
    } else {
      top.Error("placement", "expected binpack or spread, got \"" + *p + "\"");
    }
  }
  if (auto d = top.Duration("staleGangGracePeriod")) snap_.stale_gang_grace = *d;
  if (YAML::Node tb = top.Get("timeBasedFairShare"); tb.IsDefined()) {
    FieldReader f(&errors_, tb, "timeBasedFairShare", kTimeBasedKeys);
    if (f.ok()) {
      snap_.time_based_fair_share.enabled = f.Bool("enabled").value_or(true);
      if (auto k = f.Milli("k")) {
        if (*k < 0) {
          f.Error("k", "expected k >= 0 (how strongly past usage moves the weights)");
        } else {
          snap_.time_based_fair_share.k_milli = *k;
        }
      }
    }
  }
  ParseNodes(top.List("nodes"));
  ParseQueues(top.List("queues"));
  ParseWorkloads(top.List("workloads"));
  if (!errors_.empty()) return errors_.ToStatus();
  CheckCapacity();
  if (!errors_.empty()) return errors_.ToStatus();
  return std::move(snap_);
}

void SnapshotParser::ParseNodes(const YAML::Node& list) {
  for (size_t i = 0; list && i < list.size(); ++i) {
    std::string path = "nodes[" + std::to_string(i) + "]";
    FieldReader f(&errors_, list[i], path, kNodeKeys);
    if (!f.ok()) continue;
    Node n;
    if (auto name = f.Name("name")) n.name = *name;
    if (auto g = f.Int("gpus", 0, kMaxGpusPerNode)) n.gpus = static_cast<int32_t>(*g);
    if (auto m = f.Memory("gpuMemory")) n.gpu_memory_mib = *m;
    if (auto s = f.String("gpuModel")) n.gpu_model = *s;
    if (auto c = f.Cpu("cpu")) n.cpu_milli = *c;
    if (auto m = f.Memory("memory")) n.memory_mib = *m;
    if (auto l = f.StringMap("labels")) n.labels = std::move(*l);
    ParseMig(f, &n);
    if (!n.name.empty() && !node_ids_.emplace(n.name, NodeId(static_cast<int32_t>(i))).second) {
      f.Error("name", "node \"" + n.name + "\" is listed twice");
    }
    snap_.nodes.push_back(std::move(n));
  }
}

// `mig: [{gpu: 0, instances: [3g.40gb, 1g.10gb@6]}]`: the devices in MIG
// mode and their instances. An instance without a start goes where the
// driver puts it when none is asked for: the lowest start that is free.
void SnapshotParser::ParseMig(FieldReader& f, Node* n) {
  if (auto d = f.Bool("migDynamic")) n->mig_dynamic = *d;
  YAML::Node list = f.List("mig");
  if (!list || list.size() == 0) {
    if (n->mig_dynamic) f.Error("migDynamic", "migDynamic needs devices in MIG mode (mig: ...)");
    return;
  }
  const MigModel* model = FindMigModel(n->gpu_model);
  if (model == nullptr) {
    std::string known;
    for (const MigModel& m : MigModels())
      known += (known.empty() ? "" : ", ") + std::string(m.model);
    f.Error("mig", "gpuModel \"" + n->gpu_model + "\" has no MIG profiles that sluice knows (" +
                       known + ")");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    FieldReader df(&errors_, list[i], f.path() + ".mig[" + std::to_string(i) + "]", kMigDeviceKeys);
    if (!df.ok()) continue;
    MigDevice dev;
    std::optional<int64_t> gpu = df.Int("gpu", 0, kMaxGpusPerNode - 1);
    if (!gpu) {
      if (!df.Get("gpu")) df.Error("gpu", "give the index of the device in MIG mode");
      continue;
    }
    dev.gpu = static_cast<int32_t>(*gpu);
    if (dev.gpu >= n->gpus) {
      df.Error("gpu", "GPU index " + std::to_string(dev.gpu) + " does not exist on a node with " +
                          std::to_string(n->gpus) + " GPU(s)");
      continue;
    }
    if (n->FindMig(dev.gpu) != nullptr) {
      df.Error("gpu", "GPU " + std::to_string(dev.gpu) + " is listed twice");
      continue;
    }
    bool ok = true;
    for (const std::string& text :
         df.StringList("instances").value_or(std::vector<std::string>{})) {
      MigPlacement inst = ParseMigPlacement(text);
      const MigProfile* profile = model->Find(inst.profile);
      if (profile == nullptr) {
        std::string known;
        for (const MigProfile& p : model->profiles)
          known += (known.empty() ? "" : ", ") + std::string(p.name);
        df.Error("instances", "\"" + text + "\" is not a MIG instance of " +
                                  std::string(model->model) +
                                  " (expected PROFILE or PROFILE@START, "
                                  "with a profile among " +
                                  known + ")");
        ok = false;
        break;
      }
      if (inst.start < 0) {
        inst.start = MigLowestFreeStart(*model, dev.instances, *profile);
        if (inst.start < 0) {
          df.Error("instances", "no room left for " + text + " on this " +
                                    std::string(model->model) + " after the instances before it");
          ok = false;
          break;
        }
      }
      dev.instances.push_back(inst);
    }
    if (!ok) continue;
    if (std::string why = MigLayoutError(*model, dev.instances); !why.empty()) {
      df.Error("instances", why);
      continue;
    }
    n->mig.push_back(std::move(dev));
  }
  std::sort(n->mig.begin(), n->mig.end(),
            [](const MigDevice& a, const MigDevice& b) { return a.gpu < b.gpu; });
}

void SnapshotParser::ParseQueueResource(FieldReader& f, std::string_view key, Resource r,
                                        Queue* q) {
  YAML::Node node = f.Get(key);
  if (!node) return;
  FieldReader rf(&errors_, node, f.path() + "." + std::string(key), kQueueResourceKeys);
  if (!rf.ok()) return;
  QueueResource& qr = q->resources[static_cast<size_t>(r)];
  if (auto v = rf.QueueAmount("quota", r)) qr.quota = *v;
  if (auto v = rf.QueueAmount("limit", r)) qr.limit = *v;
  if (auto v = rf.Milli("overQuotaWeight")) {
    if (*v < 0) {
      rf.Error("overQuotaWeight", "expected a weight >= 0, got " + FormatMilli(*v));
    } else {
      qr.weight_milli = *v;
    }
  }
  if (qr.limit >= 0 && qr.quota > qr.limit) {
    rf.Error("limit", "the limit (" + FormatMilli(qr.limit) + ") is below the quota (" +
                          FormatMilli(qr.quota) + "); a limit caps quota and over-quota use");
  }
}

void SnapshotParser::ParseQueues(const YAML::Node& list) {
  std::vector<std::string> parent_names;
  for (size_t i = 0; list && i < list.size(); ++i) {
    std::string path = "queues[" + std::to_string(i) + "]";
    FieldReader f(&errors_, list[i], path, kQueueKeys);
    Queue q;
    // Defaults: GPUs are guaranteed only when a quota is given; CPU and
    // memory are not rationed unless configured.
    q.resources[static_cast<size_t>(Resource::kCpu)].quota = -1;
    q.resources[static_cast<size_t>(Resource::kMemory)].quota = -1;
    std::string parent;
    if (f.ok()) {
      if (auto name = f.Name("name")) q.name = *name;
      if (auto p = f.String("parent")) parent = *p;
      if (auto p = f.Int("priority", -1'000'000, 1'000'000)) q.priority = static_cast<int32_t>(*p);
      ParseQueueResource(f, "gpu", Resource::kGpu, &q);
      ParseQueueResource(f, "cpu", Resource::kCpu, &q);
      ParseQueueResource(f, "memory", Resource::kMemory, &q);
      if (auto d = f.Duration("reclaimMinRuntime")) q.reclaim_min_runtime = *d;
      if (auto d = f.Duration("preemptMinRuntime")) q.preempt_min_runtime = *d;
      if (auto u = f.Milli("usage")) {
        if (*u < 0) {
          f.Error("usage", "expected GPU-hours >= 0, got " + FormatMilli(*u));
        } else {
          q.usage_milli_gpu_hours = *u;
        }
      }
      if (!q.name.empty() && !queue_ids_.emplace(q.name, QueueId(static_cast<int32_t>(i))).second) {
        f.Error("name", "queue \"" + q.name + "\" is listed twice");
      }
    }
    marks_.queue.push_back(list[i].Mark());
    marks_.queue_parent.push_back(f.MarkOf("parent"));
    parent_names.push_back(parent);
    snap_.queues.push_back(std::move(q));
  }
  LinkQueues(parent_names);
}

void SnapshotParser::LinkQueues(const std::vector<std::string>& parent_names) {
  for (size_t i = 0; i < snap_.queues.size(); ++i) {
    const std::string& parent = parent_names[i];
    if (parent.empty()) continue;
    std::string path = "queues[" + std::to_string(i) + "] \"" + snap_.queues[i].name + "\".parent";
    auto it = queue_ids_.find(parent);
    if (it == queue_ids_.end()) {
      errors_.Add(marks_.queue_parent[i], path,
                  "unknown parent queue \"" + parent + "\"" + errors_.Suggest(parent, queue_ids_));
      continue;
    }
    if (it->second.index() == i) {
      errors_.Add(marks_.queue_parent[i], path, "a queue cannot be its own parent");
      continue;
    }
    snap_.queues[i].parent = it->second;
  }
  // Cycles: walk up from every queue; revisiting a queue means the walk went
  // round. Each cycle is reported once, at its members.
  std::vector<bool> in_cycle(snap_.queues.size(), false);
  for (size_t i = 0; i < snap_.queues.size(); ++i) {
    std::vector<bool> seen(snap_.queues.size(), false);
    std::vector<std::string> chain = {snap_.queues[i].name};
    seen[i] = true;
    QueueId q = snap_.queues[i].parent;
    int32_t depth = 0;
    bool cycle = false;
    while (q.valid()) {
      chain.push_back(snap_.queues[q.index()].name);
      if (seen[q.index()]) {
        cycle = q.index() == i;
        if (!cycle) depth = -1;  // leads into a cycle elsewhere; reported there
        break;
      }
      seen[q.index()] = true;
      q = snap_.queues[q.index()].parent;
      ++depth;
    }
    if (cycle) {
      std::string path = "queues[" + std::to_string(i) + "] \"" + snap_.queues[i].name + "\"";
      std::string text;
      for (const std::string& c : chain) text += (text.empty() ? "" : " -> ") + c;
      errors_.Add(marks_.queue_parent[i], path + ".parent", "the queue tree has a cycle: " + text);
      in_cycle[i] = true;
    }
    snap_.queues[i].depth = std::max(depth, 0);
  }
  if (std::find(in_cycle.begin(), in_cycle.end(), true) != in_cycle.end()) return;
  for (size_t i = 0; i < snap_.queues.size(); ++i) {
    QueueId p = snap_.queues[i].parent;
    if (p.valid()) snap_.queues[p.index()].children.emplace_back(static_cast<int32_t>(i));
  }
}

void SnapshotParser::ParseGpuRequest(FieldReader& f, Workload* w) {
  if (auto mig = f.String("mig")) {
    const bool others = f.Get("gpu") || f.Get("gpuMemory") || f.Get("gpuDevices");
    if (auto error = SetMigRequest(*mig, others, &w->request))
      f.Error(error->field, error->message);
    return;
  }
  std::optional<int64_t> gpu = f.Milli("gpu");
  std::optional<int64_t> gpu_memory = f.Memory("gpuMemory");
  std::optional<int64_t> devices = f.Int("gpuDevices", 1, kMaxGpusPerNode);
  if (auto error = SetGpuRequest(gpu, gpu_memory, devices, &w->request)) {
    f.Error(error->field, error->message);
  }
}

void SnapshotParser::ParseWorkload(FieldReader& f, Workload* w, std::string* queue_name) {
  if (auto s = f.String("queue", /*required=*/true)) *queue_name = *s;
  if (auto s = f.String("priorityClass")) {
    if (auto c = ParsePriorityClass(*s)) {
      w->priority_class = *c;
    } else {
      f.Error("priorityClass",
              "expected train, build-preemptible, build or inference, got \"" + *s + "\"");
    }
  }
  w->preemptible = DefaultPreemptible(w->priority_class);
  if (auto b = f.Bool("preemptible")) w->preemptible = *b;
  if (auto p = f.Int("pods", 1, 1'000'000)) w->pods = static_cast<int32_t>(*p);
  w->min_available = w->pods;
  if (auto m = f.Int("minAvailable", 1, 1'000'000)) {
    if (*m > w->pods) {
      f.Error("minAvailable", "minAvailable (" + std::to_string(*m) + ") is larger than pods (" +
                                  std::to_string(w->pods) + ")");
    } else {
      w->min_available = static_cast<int32_t>(*m);
    }
  }
  ParseGpuRequest(f, w);
  if (auto c = f.Cpu("cpu")) w->request.cpu_milli = *c;
  if (auto m = f.Memory("memory")) w->request.memory_mib = *m;
  if (auto models = f.StringList("gpuModel")) {
    w->gpu_models = std::move(*models);
    if (std::find(w->gpu_models.begin(), w->gpu_models.end(), "") != w->gpu_models.end()) {
      f.Error("gpuModel", "a GPU model name cannot be empty");
    }
    if (w->request.gpu_devices == 0 && !w->gpu_models.empty()) {
      f.Error("gpuModel", "gpuModel constrains GPU devices, but this workload requests no GPU");
    }
  }
  if (auto sel = f.StringMap("nodeSelector")) w->node_selector = std::move(*sel);
  if (auto t = f.String("topology")) w->topology = *t;
  w->submitted = snap_.now;
  if (auto t = f.Time("submitted")) w->submitted = *t;
  if (auto t = f.Time("requeued")) {
    if (*t < w->submitted) f.Error("requeued", "a workload is requeued after it is submitted");
    w->requeued = *t;
  }
  if (auto s = f.String("state")) {
    if (*s == "running") {
      w->running = true;
    } else if (*s == "releasing") {
      w->running = true;
      w->releasing = true;
    } else if (*s != "pending") {
      f.Error("state", "expected pending, running or releasing, got \"" + *s + "\"");
    }
  }
  w->started = w->submitted;
  if (auto t = f.Time("started")) {
    if (!w->running) f.Error("started", "only a running workload has a start time");
    w->started = *t;
  }
  if (auto t = f.Time("staleSince")) {
    if (!w->running) f.Error("staleSince", "only a running gang can fall below minAvailable");
    w->stale_since = *t;
  }
}

void SnapshotParser::ParsePlacement(const YAML::Node& list, const std::string& path,
                                    size_t workload_index, std::vector<std::string>* node_names,
                                    std::vector<std::optional<int64_t>>* fractions) {
  Workload& w = snap_.workloads[workload_index];
  for (size_t p = 0; list && p < list.size(); ++p) {
    FieldReader f(&errors_, list[p], path + ".placement[" + std::to_string(p) + "]",
                  kPlacementKeys);
    marks_.placement[workload_index].push_back(list[p].Mark());
    marks_.placement_mig[workload_index].emplace_back(MigPlacement{0, -1});
    PodPlacement pp;
    std::string node;
    std::optional<int64_t> fraction;
    if (f.ok()) {
      if (auto n = f.String("node", /*required=*/true)) node = *n;
      if (auto g = f.IntList("gpus", 0, 1'000'000)) {
        for (int64_t d : *g) pp.gpus.push_back(static_cast<int32_t>(d));
        std::vector<int32_t> sorted = pp.gpus;
        std::sort(sorted.begin(), sorted.end());
        if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
          f.Error("gpus", "a GPU index appears twice");
        }
      }
      if (auto mig = f.String("mig")) {
        MigPlacement m = ParseMigPlacement(*mig);
        if (!w.request.mig()) {
          f.Error("mig", "only a MIG workload (mig: PROFILE) has a MIG placement");
        } else if (m.profile != w.request.mig_profile || m.start < 0) {
          f.Error("mig", "expected " + std::string(MigProfileName(w.request.mig_profile)) +
                             "@START (the workload's profile and the instance's first memory "
                             "slot), got \"" +
                             *mig + "\"");
        } else {
          marks_.placement_mig[workload_index].back() = m;
        }
      } else if (w.request.mig()) {
        f.Error("mig", "a MIG workload's placement names its instance: mig: " +
                           std::string(MigProfileName(w.request.mig_profile)) + "@START");
      }
      fraction = f.Milli("fraction");
      if (fraction && (*fraction <= 0 || *fraction > 1000)) {
        f.Error("fraction",
                "expected a fraction above 0 and at most 1, got " + FormatMilli(*fraction));
        fraction.reset();
      }
      if (static_cast<int32_t>(pp.gpus.size()) != w.request.gpu_devices) {
        f.Error("gpus", "this workload's pods use " + std::to_string(w.request.gpu_devices) +
                            " GPU device(s) each, but the placement lists " +
                            std::to_string(pp.gpus.size()));
      }
    }
    node_names->push_back(node);
    fractions->push_back(fraction);
    w.placement.push_back(std::move(pp));
  }
}

void SnapshotParser::ParseWorkloads(const YAML::Node& list) {
  std::vector<std::string> queue_names;
  std::vector<std::vector<std::string>> placement_nodes;
  std::vector<std::vector<std::optional<int64_t>>> fractions;
  std::set<std::string, std::less<>> names;
  for (size_t i = 0; list && i < list.size(); ++i) {
    std::string path = "workloads[" + std::to_string(i) + "]";
    FieldReader f(&errors_, list[i], path, kWorkloadKeys);
    snap_.workloads.emplace_back();
    Workload& w = snap_.workloads.back();
    marks_.workload.push_back(list[i].Mark());
    marks_.workload_queue.push_back(f.MarkOf("queue"));
    marks_.placement.emplace_back();
    marks_.placement_mig.emplace_back();
    placement_nodes.emplace_back();
    fractions.emplace_back();
    queue_names.emplace_back();
    if (!f.ok()) continue;
    if (auto name = f.Name("name")) w.name = *name;
    path = WorkloadPath(i);
    if (!w.name.empty() && !names.insert(w.name).second) {
      f.Error("name", "workload \"" + w.name + "\" is listed twice");
    }
    ParseWorkload(f, &w, &queue_names.back());
    YAML::Node placement = f.List("placement");
    if (placement && placement.size() > 0) {
      if (!w.running) {
        f.Error("placement", "only a running workload has a placement (state: running)");
      } else if (static_cast<int32_t>(placement.size()) > w.pods) {
        f.Error("placement", "lists " + std::to_string(placement.size()) +
                                 " pods but the workload has pods: " + std::to_string(w.pods));
      } else {
        ParsePlacement(placement, path, i, &placement_nodes.back(), &fractions.back());
      }
    } else if (w.running) {
      f.Error("state", "a running workload needs a placement: one {node, gpus} entry per pod");
    }
  }
  LinkWorkloads(queue_names, placement_nodes, fractions);
}

void SnapshotParser::LinkWorkloads(
    const std::vector<std::string>& queue_names,
    const std::vector<std::vector<std::string>>& placement_nodes,
    const std::vector<std::vector<std::optional<int64_t>>>& fractions) {
  for (size_t i = 0; i < snap_.workloads.size(); ++i) {
    Workload& w = snap_.workloads[i];
    const std::string& qn = queue_names[i];
    if (!qn.empty()) {
      auto it = queue_ids_.find(qn);
      if (it == queue_ids_.end()) {
        errors_.Add(marks_.workload_queue[i], WorkloadPath(i) + ".queue",
                    "unknown queue \"" + qn + "\"" + errors_.Suggest(qn, queue_ids_));
      } else if (!snap_.queue(it->second).is_leaf()) {
        errors_.Add(
            marks_.workload_queue[i], WorkloadPath(i) + ".queue",
            "queue \"" + qn + "\" has child queues; workloads go to a leaf queue (a project)");
      } else {
        w.queue = it->second;
      }
    }
    for (size_t p = 0; p < w.placement.size() && p < placement_nodes[i].size(); ++p) {
      PodPlacement& pp = w.placement[p];
      const std::string& nn = placement_nodes[i][p];
      std::string path = WorkloadPath(i) + ".placement[" + std::to_string(p) + "]";
      const YAML::Mark& mark = marks_.placement[i][p];
      if (nn.empty()) continue;
      auto it = node_ids_.find(nn);
      if (it == node_ids_.end()) {
        errors_.Add(mark, path + ".node",
                    "unknown node \"" + nn + "\"" + errors_.Suggest(nn, node_ids_));
        continue;
      }
      pp.node = it->second;
      const Node& node = snap_.node(pp.node);
      for (int32_t d : pp.gpus) {
        if (d >= node.gpus) {
          errors_.Add(mark, path + ".gpus",
                      "GPU index " + std::to_string(d) + " does not exist on node \"" + nn +
                          "\", which has " + std::to_string(node.gpus) + " GPU(s) (0.." +
                          std::to_string(std::max(0, node.gpus - 1)) + ")");
        }
      }
      if (w.request.gpu_devices == 0) continue;
      if (w.request.mig()) {
        LinkMigPlacement(i, p, node, &pp);
        continue;
      }
      int64_t expected = w.request.MilliOn(node.gpu_memory_mib);
      if (expected == 0) {
        errors_.Add(mark, path + ".node",
                    "the workload asks for " + FormatMemoryMiB(w.request.gpu_memory_mib) +
                        " of GPU memory but node \"" + nn +
                        (node.gpu_memory_mib == 0
                             ? "\" gives no gpuMemory"
                             : "\" has GPUs of " + FormatMemoryMiB(node.gpu_memory_mib)));
        continue;
      }
      const std::optional<int64_t>& given = fractions[i][p];
      if (given && *given != expected) {
        std::string asked = w.request.gpu_memory_mib > 0
                                ? FormatMemoryMiB(w.request.gpu_memory_mib) + " of GPU memory, " +
                                      FormatMilli(expected) + " of a GPU on " + node.name
                                : FormatMilli(expected) + " of a GPU";
        errors_.Add(mark, path + ".fraction",
                    "the placement says fraction " + FormatMilli(*given) +
                        " but the workload requests " + asked + " per device");
      }
      pp.gpu_milli = expected;
    }
  }
}

// A MIG pod runs on an instance of its profile that the node lists.
void SnapshotParser::LinkMigPlacement(size_t workload, size_t pod, const Node& node,
                                      PodPlacement* pp) {
  const MigPlacement& m = marks_.placement_mig[workload][pod];
  if (m.profile == 0 || pp->gpus.size() != 1) return;  // reported when parsed
  const std::string path = WorkloadPath(workload) + ".placement[" + std::to_string(pod) + "]";
  const YAML::Mark& mark = marks_.placement[workload][pod];
  const MigDevice* dev = node.FindMig(pp->gpus[0]);
  if (dev == nullptr) {
    errors_.Add(mark, path + ".gpus",
                "GPU " + std::to_string(pp->gpus[0]) + " of node \"" + node.name +
                    "\" is not in MIG mode (the node's mig: list does not name it)");
    return;
  }
  if (std::find(dev->instances.begin(), dev->instances.end(), m) == dev->instances.end()) {
    std::string have;
    for (const MigPlacement& i : dev->instances) {
      have += (have.empty() ? "" : ", ") + FormatMigPlacement(i);
    }
    errors_.Add(mark, path + ".mig",
                "GPU " + std::to_string(pp->gpus[0]) + " of node \"" + node.name +
                    "\" has no instance " + FormatMigPlacement(m) + " (it has " +
                    (have.empty() ? "none" : have) + ")");
    return;
  }
  pp->mig_start = m.start;
  pp->gpu_milli = snap_.workloads[workload].request.gpu_milli;
}

// Running placements must fit the nodes: no device above one whole GPU, no
// whole device shared, no node's CPU or memory over-committed.
void SnapshotParser::CheckCapacity() {
  struct DeviceUse {
    int64_t milli = 0;
    std::vector<std::string> holders;
    bool reported = false;
  };
  std::vector<std::vector<DeviceUse>> devices(snap_.nodes.size());
  std::vector<Resources> node_use(snap_.nodes.size());
  std::vector<bool> cpu_reported(snap_.nodes.size(), false);
  std::vector<bool> memory_reported(snap_.nodes.size(), false);
  std::map<std::tuple<int32_t, int32_t, int32_t>, std::string> mig_holders;
  for (size_t n = 0; n < snap_.nodes.size(); ++n) {
    devices[n].resize(static_cast<size_t>(snap_.nodes[n].gpus));
  }
  for (size_t i = 0; i < snap_.workloads.size(); ++i) {
    const Workload& w = snap_.workloads[i];
    for (size_t p = 0; p < w.placement.size(); ++p) {
      const PodPlacement& pp = w.placement[p];
      const Node& node = snap_.node(pp.node);
      std::string path = WorkloadPath(i) + ".placement[" + std::to_string(p) + "]";
      if (pp.mig()) {
        const auto [it, added] =
            mig_holders.emplace(std::make_tuple(pp.node.value(), pp.gpus[0], pp.mig_start), w.name);
        if (!added) {
          errors_.Add(marks_.placement[i][p], path + ".mig",
                      "MIG instance " + FormatMigPlacement({w.request.mig_profile, pp.mig_start}) +
                          " of GPU " + std::to_string(pp.gpus[0]) + " on node \"" + node.name +
                          "\" is already held by " + it->second);
        }
      }
      for (int32_t d : pp.gpus) {
        if (!pp.mig() && node.FindMig(d) != nullptr) {
          errors_.Add(marks_.placement[i][p], path + ".gpus",
                      "GPU " + std::to_string(d) + " of node \"" + node.name +
                          "\" is in MIG mode; only MIG workloads (mig: PROFILE) run there");
          continue;
        }
        if (pp.mig()) continue;
        DeviceUse& use = devices[pp.node.index()][static_cast<size_t>(d)];
        use.milli += pp.gpu_milli;
        use.holders.push_back(w.name + " (" + FormatMilli(pp.gpu_milli) + ")");
        if (use.milli > 1000 && !use.reported) {
          use.reported = true;
          std::string who;
          for (const std::string& h : use.holders) who += (who.empty() ? "" : ", ") + h;
          errors_.Add(marks_.placement[i][p], path + ".gpus",
                      "GPU " + std::to_string(d) + " of node \"" + node.name +
                          "\" is over-committed: " + who + " add up to " + FormatMilli(use.milli) +
                          " GPUs");
        }
      }
      Resources& nu = node_use[pp.node.index()];
      nu[Resource::kCpu] += w.request.cpu_milli;
      nu[Resource::kMemory] += w.request.memory_mib;
      if (nu[Resource::kCpu] > node.cpu_milli && !cpu_reported[pp.node.index()]) {
        cpu_reported[pp.node.index()] = true;
        errors_.Add(marks_.placement[i][p], path + ".node",
                    "node \"" + node.name + "\" has " + FormatMilli(node.cpu_milli) +
                        " CPU cores; running pods placed there ask for " +
                        FormatMilli(nu[Resource::kCpu]));
      }
      if (nu[Resource::kMemory] > node.memory_mib && !memory_reported[pp.node.index()]) {
        memory_reported[pp.node.index()] = true;
        errors_.Add(marks_.placement[i][p], path + ".node",
                    "node \"" + node.name + "\" has " + FormatMemoryMiB(node.memory_mib) +
                        " of memory; running pods placed there ask for " +
                        FormatMemoryMiB(nu[Resource::kMemory]));
      }
    }
  }
}

}  // namespace

bool IsSnapshotKey(std::string_view key) {
  return std::find(std::begin(kTopKeys), std::end(kTopKeys), key) != std::end(kTopKeys);
}

Result<Snapshot> ParseSnapshotNode(const YAML::Node& root, std::string_view source) {
  SnapshotParser parser(source);
  return parser.Parse(root);
}

Result<Snapshot> ParseSnapshot(std::string_view text, std::string_view source) {
  // YAML forbids tabs where JSON allows them as white space; JSON files
  // written by tools often indent with tabs, so turn those into spaces.
  // Tabs inside quoted strings are kept.
  std::string cleaned(text);
  bool in_string = false;
  for (size_t i = 0; i < cleaned.size(); ++i) {
    char c = cleaned[i];
    if (c == '"' && (i == 0 || cleaned[i - 1] != '\\')) in_string = !in_string;
    if (c == '\t' && !in_string) cleaned[i] = ' ';
  }
  YAML::Node root;
  try {
    root = YAML::Load(cleaned);
  } catch (const YAML::Exception& e) {
    std::ostringstream out;
    out << source << ":" << e.mark.line + 1 << ":" << e.mark.column + 1
        << ": not valid YAML or JSON: " << e.msg;
    return Status::InvalidArgument(out.str());
  }
  return ParseSnapshotNode(root, source);
}

Result<Snapshot> ReadSnapshotFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open snapshot file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseSnapshot(text.str(), path);
}

}  // namespace sluice
