#include "cli/plan_command.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/table.h"
#include "common/quantity.h"
#include "core/snapshot_reader.h"
#include "sched/pending_reason.h"

namespace sluice {
namespace {

// A fixed-point amount as a JSON number: an integer when whole.
nlohmann::ordered_json MilliNumber(int64_t milli) {
  if (milli % 1000 == 0) return milli / 1000;
  return static_cast<double>(milli) / 1000.0;
}

std::string PlacementText(const Snapshot& s, const Workload& w, const PodPlacement& p) {
  std::string text = s.node(p.node).name;
  if (p.gpus.empty()) return text;
  if (p.mig()) {
    return text + "[" + std::to_string(p.gpus[0]) +
           "]:" + FormatMigPlacement({w.request.mig_profile, p.mig_start});
  }
  std::string devices;
  for (int32_t d : p.gpus) devices += (devices.empty() ? "" : ",") + std::to_string(d);
  text += "[" + devices + "]";
  if (p.gpu_milli != 1000) text += "@" + FormatMilli(p.gpu_milli);
  return text;
}

void PrintTables(const PlanResult& plan, std::ostream& out) {
  const Snapshot& s = plan.final_state;
  out << "Fair share after " << plan.cycles << (plan.cycles == 1 ? " cycle" : " cycles") << "\n";
  Table shares({"QUEUE", "PARENT", "PRIORITY", "GPU QUOTA", "GPU FAIR SHARE", "GPU ALLOCATED",
                "CPU FAIR SHARE", "MEMORY FAIR SHARE"});
  ClusterState state(s);
  for (size_t q = 0; q < s.queues.size(); ++q) {
    const Queue& queue = s.queues[q];
    const Resources& fs = plan.last.fair_share[q];
    const int64_t quota = queue.resource(Resource::kGpu).quota;
    shares.AddRow({std::string(static_cast<size_t>(queue.depth) * 2, ' ') + queue.name,
                   queue.parent.valid() ? s.queue(queue.parent).name : "-",
                   std::to_string(queue.priority), quota < 0 ? "unlimited" : FormatMilli(quota),
                   FormatMilli(fs[Resource::kGpu]),
                   FormatMilli(state.allocated(QueueId(static_cast<int32_t>(q)))[Resource::kGpu]),
                   FormatMilli(fs[Resource::kCpu]), FormatMemoryMiB(fs[Resource::kMemory])});
  }
  shares.Print(out);

  out << "\nRunning\n";
  Table running({"WORKLOAD", "QUEUE", "CLASS", "PODS", "STATE", "PLACEMENT (node[gpus]@fraction)"});
  for (const Workload& w : s.workloads) {
    if (!w.running) continue;
    std::string where;
    for (const PodPlacement& p : w.placement) {
      where += (where.empty() ? "" : " ") + PlacementText(s, w, p);
    }
    running.AddRow({w.name, s.queue(w.queue).name, std::string(PriorityClassName(w.priority_class)),
                    std::to_string(w.placement.size()) + "/" + std::to_string(w.pods),
                    w.releasing ? "releasing" : "running", where});
  }
  if (running.empty()) {
    out << "(none)\n";
  } else {
    running.Print(out);
  }

  if (!plan.repartitions.empty()) {
    out << "\nMIG repartitions\n";
    Table repartitions({"NODE", "GPU", "DESTROY", "CREATE", "LAYOUT AFTER"});
    auto list = [](const std::vector<MigPlacement>& l) {
      std::string text;
      for (const MigPlacement& m : l) text += (text.empty() ? "" : " ") + FormatMigPlacement(m);
      return text.empty() ? std::string("-") : text;
    };
    for (const RepartitionDecision& r : plan.repartitions) {
      repartitions.AddRow({s.node(r.node).name, std::to_string(r.gpu), list(r.destroy),
                           list(r.create), list(r.layout)});
    }
    repartitions.Print(out);
  }

  if (!plan.evictions.empty()) {
    out << "\nEvictions\n";
    Table evictions({"WORKLOAD", "QUEUE", "ACTION", "FOR", "STATE"});
    for (const EvictionDecision& e : plan.evictions) {
      const Workload& w = s.workload(e.workload);
      evictions.AddRow({w.name, s.queue(w.queue).name, std::string(EvictionActionName(e.action)),
                        e.for_workload.valid() ? s.workload(e.for_workload).name : "-",
                        w.releasing                                ? "releasing"
                        : e.action == EvictionAction::kConsolidate ? "moved"
                        : w.running                                ? "running again"
                                                                   : "exited"});
    }
    evictions.Print(out);
  }

  out << "\nPending\n";
  Table pending({"WORKLOAD", "QUEUE", "POSITION", "REASON"});
  for (size_t i = 0; i < s.workloads.size(); ++i) {
    if (plan.last.position[i] == 0) continue;
    const Workload& w = s.workloads[i];
    pending.AddRow({w.name, s.queue(w.queue).name, std::to_string(plan.last.position[i]),
                    plan.last.reason[i]});
  }
  if (pending.empty()) {
    out << "(none)\n";
  } else {
    pending.Print(out);
  }
}

}  // namespace

nlohmann::ordered_json PlanToJson(const PlanResult& plan) {
  const Snapshot& s = plan.final_state;
  nlohmann::ordered_json doc;
  doc["cycles"] = plan.cycles;
  nlohmann::ordered_json shares = nlohmann::ordered_json::object();
  for (size_t q = 0; q < s.queues.size(); ++q) {
    const Resources& fs = plan.last.fair_share[q];
    shares[s.queues[q].name] = {{"gpu", MilliNumber(fs[Resource::kGpu])},
                                {"cpu", MilliNumber(fs[Resource::kCpu])},
                                {"memory", fs[Resource::kMemory]}};
  }
  doc["fairShare"] = std::move(shares);
  nlohmann::ordered_json placements = nlohmann::ordered_json::object();
  for (const Workload& w : s.workloads) {
    if (!w.running) continue;
    nlohmann::ordered_json pods = nlohmann::ordered_json::array();
    for (const PodPlacement& p : w.placement) {
      if (p.mig()) {
        pods.push_back({{"node", s.node(p.node).name},
                        {"gpus", p.gpus},
                        {"mig", FormatMigPlacement({w.request.mig_profile, p.mig_start})}});
        continue;
      }
      pods.push_back({{"node", s.node(p.node).name},
                      {"gpus", p.gpus},
                      {"fraction", MilliNumber(p.gpus.empty() ? 0 : p.gpu_milli)}});
    }
    placements[w.name] = std::move(pods);
  }
  doc["placements"] = std::move(placements);
  nlohmann::ordered_json evicted = nlohmann::ordered_json::array();
  nlohmann::ordered_json evictions = nlohmann::ordered_json::array();
  for (const EvictionDecision& e : plan.evictions) {
    evicted.push_back(s.workload(e.workload).name);
    evictions.push_back(
        {{"workload", s.workload(e.workload).name},
         {"action", std::string(EvictionActionName(e.action))},
         {"for", e.for_workload.valid() ? nlohmann::ordered_json(s.workload(e.for_workload).name)
                                        : nlohmann::ordered_json(nullptr)},
         {"reason", e.why}});
  }
  doc["evicted"] = std::move(evicted);
  doc["evictions"] = std::move(evictions);
  nlohmann::ordered_json releasing = nlohmann::ordered_json::array();
  for (const Workload& w : s.workloads) {
    if (w.releasing) releasing.push_back(w.name);
  }
  doc["releasing"] = std::move(releasing);
  nlohmann::ordered_json pending = nlohmann::ordered_json::object();
  for (size_t i = 0; i < s.workloads.size(); ++i) {
    if (plan.last.position[i] == 0) continue;
    pending[s.workloads[i].name] = {{"queue", s.queue(s.workloads[i].queue).name},
                                    {"reason", plan.last.reason[i]},
                                    {"position", plan.last.position[i]}};
  }
  doc["pending"] = std::move(pending);
  nlohmann::ordered_json repartitions = nlohmann::ordered_json::array();
  auto names = [](const std::vector<MigPlacement>& list) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const MigPlacement& m : list) out.push_back(FormatMigPlacement(m));
    return out;
  };
  for (const RepartitionDecision& r : plan.repartitions) {
    repartitions.push_back({{"node", s.node(r.node).name},
                            {"gpu", r.gpu},
                            {"destroy", names(r.destroy)},
                            {"create", names(r.create)},
                            {"layout", names(r.layout)}});
  }
  doc["repartitions"] = std::move(repartitions);
  return doc;
}

int RunPlanCommand(const PlanCommandOptions& options, std::ostream& out, std::ostream& err) {
  Result<Snapshot> snapshot = ReadSnapshotFile(options.file);
  if (!snapshot.ok()) {
    err << "sluice plan: "
        << (snapshot.status().code() == Status::Code::kNotFound
                ? snapshot.status().message()
                : "the snapshot has errors:\n" + snapshot.status().message())
        << "\n";
    return 1;
  }
  PlanOptions plan_options;
  plan_options.settle = options.settle;
  plan_options.max_cycles = options.cycles > 0 ? options.cycles : (options.settle ? 100 : 1);
  PlanResult plan = Plan(std::move(snapshot).value(), plan_options);
  if (options.json) {
    out << PlanToJson(plan).dump(2) << "\n";
  } else {
    PrintTables(plan, out);
  }
  return 0;
}

void AddPlanCommand(CLI::App& app) {
  auto options = std::make_shared<PlanCommandOptions>();
  CLI::App* plan = app.add_subcommand(
      "plan",
      "Run scheduling cycles on a snapshot file and show fair shares, placements and why "
      "workloads wait");
  plan->footer(
      "A snapshot (YAML or JSON) holds the clock (now), the nodes, the queue tree and the "
      "workloads; see docs/snapshot-format.md.\n\nExamples:\n"
      "  sluice plan -f examples/three-departments.yaml\n"
      "  sluice plan -f examples/lab.yaml --settle --json\n\n"
      "Exit status: 0 when the plan ran, 1 when the snapshot has errors (each printed as\n"
      "FILE:LINE:COLUMN: FIELD: message), 2 for a bad command line.");
  plan->add_option("-f,--file", options->file, "Snapshot file (YAML or JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  plan->add_flag("--json", options->json, "Print one JSON object instead of tables");
  plan->add_flag("--settle", options->settle,
                 "Apply each cycle's decisions and repeat until nothing changes");
  plan->add_option("--cycles", options->cycles,
                   "Cycles to run (default 1; with --settle, the most to run, default 100)")
      ->check(CLI::Range(1, 1'000'000));
  plan->callback([options]() {
    int code = RunPlanCommand(*options, std::cout, std::cerr);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace sluice
