#include "cli/sim_command.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/table.h"
#include "sim/openb.h"
#include "sim/philly.h"

extern char** environ;

namespace sluice {

namespace {

std::string Fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// "42-51", "42", or "1,5,9".
bool ParseSeeds(const std::string& text, std::vector<uint64_t>* out) {
  auto number = [](std::string_view s, uint64_t* v) {
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
  };
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t dash = part.find('-');
    uint64_t a = 0, b = 0;
    if (dash == std::string_view::npos) {
      if (!number(part, &a)) return false;
      b = a;
    } else if (!number(part.substr(0, dash), &a) || !number(part.substr(dash + 1), &b) || b < a ||
               b - a > 10'000) {
      return false;
    }
    for (uint64_t s = a; s <= b; ++s) out->push_back(s);
  }
  return !out->empty();
}

struct Spread {
  double mean = 0, min = 0, max = 0;
};

Spread SpreadOf(const std::vector<double>& v) {
  Spread s{0, v.front(), v.front()};
  for (double x : v) {
    s.mean += x;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean /= static_cast<double>(v.size());
  return s;
}

// Runs `jobs` on `threads` threads; each job writes only its own slot.
void RunParallel(size_t jobs, int32_t threads, const std::function<void(size_t)>& job) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  const size_t n = std::min(jobs, static_cast<size_t>(std::max(1, threads)));
  pool.reserve(n);
  for (size_t t = 0; t < n; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < jobs; i = next++) job(i);
    });
  }
  for (std::thread& t : pool) t.join();
}

// Writes the allocation curve: per policy and 1% of arrived demand, the
// mean, min and max over the seeds.
bool WriteCurve(const std::string& path, const std::vector<std::string>& policies, size_t seeds,
                int32_t tune_percent,
                const std::function<const sim::OpenbRun&(size_t, size_t)>& run) {
  std::ofstream curve(path);
  if (!curve) return false;
  curve << "policy_index,arrived_pct,alloc_mean_pct,alloc_min_pct,alloc_max_pct,policy\n";
  for (size_t p = 0; p < policies.size(); ++p) {
    for (size_t k = 1; k <= static_cast<size_t>(tune_percent); ++k) {
      std::vector<double> at;
      for (size_t s = 0; s < seeds; ++s) at.push_back(run(p, s).alloc_at[k]);
      const Spread c = SpreadOf(at);
      curve << p << "," << k << "," << Fixed(c.mean, 3) << "," << Fixed(c.min, 3) << ","
            << Fixed(c.max, 3) << "," << policies[p] << "\n";
    }
  }
  return static_cast<bool>(curve);
}

// Draws the curves with gnuplot: allocation ratio against arrived demand.
bool Plot(const std::string& csv, const std::vector<std::string>& policies, const std::string& png,
          std::ostream& err) {
  const std::string script_path = png + ".gp";
  {
    std::ofstream gp(script_path);
    gp << "set terminal pngcairo size 1000,650 font ',11'\n"
       << "set output '" << png << "'\n"
       << "set datafile separator ','\n"
       << "set title 'openb inflation replay: GPU allocated vs GPU requested'\n"
       << "set xlabel 'arrived GPU demand (% of cluster GPU)'\n"
       << "set ylabel 'GPU allocation ratio (%)'\n"
       << "set key left top\nset grid\nset xrange [50:*]\nset yrange [50:100]\n"
       << "plot ";
    for (size_t i = 0; i < policies.size(); ++i) {
      gp << (i ? ", " : "") << "'" << csv << "' using 2:($1==" << i
         << "?$3:1/0) with lines lw 2 title '" << policies[i] << "'";
    }
    gp << "\n";
  }
  std::vector<char*> argv;
  std::string prog = "gnuplot";
  argv.push_back(prog.data());
  std::string script = script_path;
  argv.push_back(script.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv.data(), environ) != 0) {
    err << "sluice sim: cannot run gnuplot (install it: scripts/setup.sh installs gnuplot-nox)\n";
    return false;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::filesystem::remove(script_path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    err << "sluice sim: gnuplot failed drawing " << png << "\n";
    return false;
  }
  return true;
}

}  // namespace

int RunOpenbCommand(const OpenbCommandOptions& options, std::ostream& out, std::ostream& err) {
  std::vector<uint64_t> seeds;
  if (!ParseSeeds(options.seeds, &seeds)) {
    err << "sluice sim openb: --seeds: expected N, A-B or a comma-separated list, got \""
        << options.seeds << "\"\n";
    return 2;
  }
  if (!(options.tune >= 1.0 && options.tune <= 3.0)) {
    err << "sluice sim openb: --tune: expected 1.0 to 3.0, got " << options.tune << "\n";
    return 2;
  }
  const auto tune_percent = static_cast<int32_t>(std::lround(options.tune * 100));
  std::vector<std::string> policies =
      options.policies.empty() ? sim::OpenbPolicyNames() : options.policies;
  for (const std::string& p : policies) {
    const auto& names = sim::OpenbPolicyNames();
    if (std::find(names.begin(), names.end(), p) == names.end()) {
      err << "sluice sim openb: --policy: unknown policy \"" << p
          << "\" (random, dotprod, gpupacking, bestfit, fgd, sluice)\n";
      return 2;
    }
  }
  Result<std::vector<sim::OpenbNode>> nodes = sim::ReadOpenbNodes(options.nodes);
  if (!nodes.ok()) {
    err << "sluice sim openb: " << nodes.status().message() << "\n";
    return 1;
  }
  Result<std::vector<sim::OpenbPod>> pods = sim::ReadOpenbPods(options.pods);
  if (!pods.ok()) {
    err << "sluice sim openb: " << pods.status().message() << "\n";
    return 1;
  }
  const size_t jobs = policies.size() * seeds.size();
  std::vector<Result<sim::OpenbRun>> runs(jobs, Status::Internal("not run"));
  const int32_t threads =
      options.threads > 0 ? options.threads
                          : static_cast<int32_t>(std::max(1U, std::thread::hardware_concurrency()));
  RunParallel(jobs, threads, [&](size_t i) {
    runs[i] = sim::ReplayOpenb(*nodes, *pods, policies[i / seeds.size()], seeds[i % seeds.size()],
                               tune_percent);
  });
  for (const auto& r : runs) {
    if (!r.ok()) {
      err << "sluice sim openb: " << r.status().message() << "\n";
      return 1;
    }
  }
  nlohmann::ordered_json json;
  json["trace"] = {{"nodes", options.nodes}, {"pods", options.pods}};
  json["seeds"] = seeds;
  json["tune"] = options.tune;
  Table table({"POLICY", "ALLOC@100% MEAN", "MIN-MAX",
               "ALLOC@" + std::to_string(tune_percent) + "% MEAN", "MIN-MAX", "FRAG MEAN",
               "MIN-MAX"});
  for (size_t p = 0; p < policies.size(); ++p) {
    std::vector<double> a100, aend, frag;
    for (size_t s = 0; s < seeds.size(); ++s) {
      const sim::OpenbRun& r = *runs[p * seeds.size() + s];
      a100.push_back(r.alloc100);
      aend.push_back(r.alloc_end);
      frag.push_back(r.frag_end);
    }
    const Spread x = SpreadOf(a100), y = SpreadOf(aend), z = SpreadOf(frag);
    auto spread_json = [](const Spread& s) {
      return nlohmann::ordered_json{{"mean", s.mean}, {"min", s.min}, {"max", s.max}};
    };
    json["policies"][policies[p]] = {{"alloc100", spread_json(x)},
                                     {"alloc" + std::to_string(tune_percent), spread_json(y)},
                                     {"frag" + std::to_string(tune_percent), spread_json(z)}};
    table.AddRow({policies[p], Fixed(x.mean, 2), Fixed(x.min, 2) + "-" + Fixed(x.max, 2),
                  Fixed(y.mean, 2), Fixed(y.min, 2) + "-" + Fixed(y.max, 2), Fixed(z.mean, 2),
                  Fixed(z.min, 2) + "-" + Fixed(z.max, 2)});
  }
  auto curve_to = [&](const std::string& path) {
    return WriteCurve(
        path, policies, seeds.size(), tune_percent,
        [&](size_t p, size_t s) -> const sim::OpenbRun& { return *runs[p * seeds.size() + s]; });
  };
  if (!options.curve.empty() && !curve_to(options.curve)) {
    err << "sluice sim openb: --curve: cannot write " << options.curve << "\n";
    return 1;
  }
  if (!options.plot.empty()) {
    // Without --curve, the curve goes next to the picture for gnuplot.
    const bool temporary = options.curve.empty();
    const std::string csv = temporary ? options.plot + ".csv" : options.curve;
    if (temporary && !curve_to(csv)) {
      err << "sluice sim openb: --plot: cannot write " << csv << "\n";
      return 1;
    }
    const bool ok = Plot(csv, policies, options.plot, err);
    if (temporary) std::filesystem::remove(csv);
    if (!ok) return 1;
  }
  if (options.json) {
    out << json.dump(2) << "\n";
  } else {
    out << "openb inflation replay: " << nodes->size() << " nodes, " << pods->size()
        << " pods, tune " << options.tune << ", " << seeds.size() << " seeds (" << options.seeds
        << "); allocation and fragmentation in % of the cluster's GPU\n";
    table.Print(out);
  }
  return 0;
}

int RunPhillyCommand(const PhillyCommandOptions& options, std::ostream& out, std::ostream& err) {
  std::vector<std::string> policies =
      options.policies.empty() ? sim::PhillyPolicyNames() : options.policies;
  for (const std::string& p : policies) {
    const auto& names = sim::PhillyPolicyNames();
    if (std::find(names.begin(), names.end(), p) == names.end()) {
      err << "sluice sim philly: --policy: unknown policy \"" << p << "\" (fifo, quota, sluice)\n";
      return 2;
    }
  }
  Result<std::vector<sim::PhillyJob>> jobs = sim::ReadPhillyJobs(options.jobs);
  if (!jobs.ok()) {
    err << "sluice sim philly: " << jobs.status().message() << "\n";
    return 1;
  }
  sim::PhillyOptions po;
  po.nodes = options.nodes;
  po.gpus_per_node = options.gpus_per_node;
  po.reclaim_min_runtime_s = options.reclaim_min_runtime_s;
  std::vector<Result<sim::PhillyRun>> runs(policies.size(), Status::Internal("not run"));
  RunParallel(policies.size(),
              static_cast<int32_t>(std::max(1U, std::thread::hardware_concurrency())),
              [&](size_t i) { runs[i] = sim::ReplayPhilly(*jobs, policies[i], po); });
  for (const auto& r : runs) {
    if (!r.ok()) {
      err << "sluice sim philly: " << r.status().message() << "\n";
      return 1;
    }
  }
  nlohmann::ordered_json json;
  json["jobs"] = jobs->size();
  json["nodes"] = options.nodes;
  json["gpusPerNode"] = options.gpus_per_node;
  Table table({"POLICY", "UTIL %", "JCT MEAN H", "JCT P95 H", "WAIT MEAN H", "WAIT P95 H",
               "PREEMPTIONS", "QUOTA SHORTFALL GPU-H"});
  std::vector<std::string> header = {"TENANT", "QUOTA GPUS", "JOBS"};
  for (const std::string& p : policies) {
    header.push_back(p + " WAIT MEAN/P95 H");
    header.push_back(p + " SHORTFALL GPU-H");
  }
  Table tenants(header);
  for (size_t p = 0; p < policies.size(); ++p) {
    const sim::PhillyRun& r = *runs[p];
    nlohmann::ordered_json pj = {{"utilization", r.utilization},
                                 {"jctMeanHours", r.jct_mean_h},
                                 {"jctP95Hours", r.jct_p95_h},
                                 {"waitMeanHours", r.wait_mean_h},
                                 {"waitP95Hours", r.wait_p95_h},
                                 {"preemptions", r.preemptions},
                                 {"quotaShortfallGpuHours", r.shortfall_gpu_h},
                                 {"cycles", r.cycles}};
    for (const sim::TenantStats& t : r.tenants) {
      pj["tenants"][t.name] = {{"quotaGpus", static_cast<double>(t.quota_milli) / 1000.0},
                               {"jobs", t.jobs},
                               {"waitMeanHours", t.wait_mean_h},
                               {"waitP95Hours", t.wait_p95_h},
                               {"quotaShortfallGpuHours", t.shortfall_gpu_h}};
    }
    json["policies"][policies[p]] = std::move(pj);
    table.AddRow({policies[p], Fixed(r.utilization, 2), Fixed(r.jct_mean_h, 2),
                  Fixed(r.jct_p95_h, 2), Fixed(r.wait_mean_h, 2), Fixed(r.wait_p95_h, 2),
                  std::to_string(r.preemptions), Fixed(r.shortfall_gpu_h, 1)});
  }
  for (size_t t = 0; t < runs.front()->tenants.size(); ++t) {
    const sim::TenantStats& first = runs.front()->tenants[t];
    std::vector<std::string> row = {first.name,
                                    Fixed(static_cast<double>(first.quota_milli) / 1000.0, 1),
                                    std::to_string(first.jobs)};
    for (const auto& r : runs) {
      const sim::TenantStats& ts = r->tenants[t];
      row.push_back(Fixed(ts.wait_mean_h, 2) + " / " + Fixed(ts.wait_p95_h, 2));
      row.push_back(Fixed(ts.shortfall_gpu_h, 1));
    }
    tenants.AddRow(std::move(row));
  }
  if (options.json) {
    out << json.dump(2) << "\n";
  } else {
    out << "Philly replay: " << jobs->size() << " jobs, " << options.nodes << " nodes x "
        << options.gpus_per_node << " GPUs; times in hours\n";
    table.Print(out);
    out << "\nPer tenant (queue wait from submit to first start; quota shortfall)\n";
    tenants.Print(out);
  }
  return 0;
}

void AddSimCommand(CLI::App& app) {
  CLI::App* sim = app.add_subcommand("sim", "Replay real cluster traces and compare policies");
  sim->require_subcommand(1);
  auto o = std::make_shared<OpenbCommandOptions>();
  CLI::App* openb = sim->add_subcommand(
      "openb", "Placement quality on the Alibaba openb GPU-sharing trace (inflation replay)");
  openb->footer(
      "Reproduces the FGD paper's inflation replay: every pod of the trace plus random copies\n"
      "up to --tune x the cluster's GPU, shuffled with the seed, placed one by one, never\n"
      "leaving; a pod that fits nowhere is dropped. Prints, per policy, the allocation ratio\n"
      "at 100% and at the end of the arrivals, and the idle GPU that the trace's request mix\n"
      "cannot use (fragmentation), as mean and min-max over the seeds.\n\n"
      "Example:\n  sluice sim openb --nodes ../shared/traces/openb/openb_node_list_gpu_node.csv "
      "\\\n"
      "    --pods ../shared/traces/openb/openb_pod_list_default.csv --plot curve.png");
  openb->add_option("--nodes", o->nodes, "The node list (sn,cpu_milli,memory_mib,gpu,model)")
      ->required();
  openb
      ->add_option("--pods", o->pods,
                   "The pod list (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec])")
      ->required();
  openb->add_option("--policy", o->policies,
                    "random, dotprod, gpupacking, bestfit, fgd, sluice (repeatable; default all)");
  openb->add_option("--tune", o->tune, "Inflate arrivals to this x the cluster's GPU (1.3)");
  openb->add_option("--seeds", o->seeds, "Seeds: N, A-B or a list (42-51)");
  openb->add_option("--threads", o->threads, "Replays run at once (default: one per core)")
      ->check(CLI::Range(1, 256));
  openb->add_flag("--json", o->json,
                  "Print {policies: {P: {alloc100, alloc130, frag130: {mean, min, max}}}}");
  openb->add_option("--curve", o->curve, "Write the allocation curve per policy to this CSV");
  openb->add_option("--plot", o->plot, "Draw the curves with gnuplot into this PNG");
  openb->callback([o]() {
    const int code = RunOpenbCommand(*o, std::cout, std::cerr);
    if (code != 0) throw CLI::RuntimeError(code);
  });

  auto po = std::make_shared<PhillyCommandOptions>();
  CLI::App* philly = sim->add_subcommand(
      "philly", "Multi-tenant replay of the Philly trace: quotas, reclaim and checkpoints");
  philly->footer(
      "Replays the jobs in simulated time on NODES x GPUS-PER-NODE whole GPUs, the scheduler\n"
      "core deciding at every arrival and completion. Each tenant's GPU quota is its share of\n"
      "the trace's GPU-hours (summing to the cluster), over-quota weight 1; jobs are\n"
      "preemptible training that checkpoints every 30 minutes of run time. Policies: fifo (one\n"
      "queue, no quotas), quota (quotas, no reclaim or preemption), sluice (the full cycle).\n\n"
      "Example:\n  sluice sim philly --jobs ../shared/traces/philly/philly_vc_jobs.csv");
  philly->add_option("--jobs", po->jobs, "The job list (job_id,tenant,submit_s,gpus,duration_s)")
      ->required();
  philly->add_option("--nodes", po->nodes, "Nodes (48)")->check(CLI::Range(1, 100'000));
  philly->add_option("--gpus-per-node", po->gpus_per_node, "GPUs per node (8)")
      ->check(CLI::Range(1, 1024));
  philly->add_option("--policy", po->policies, "fifo, quota, sluice (repeatable; default all)");
  philly
      ->add_option("--reclaim-min-runtime", po->reclaim_min_runtime_s,
                   "sluice: seconds a job runs before reclaim may take it (0)")
      ->check(CLI::Range(int64_t{0}, int64_t{86400} * 30));
  philly->add_flag("--json", po->json, "Print the results as one JSON object");
  philly->callback([po]() {
    const int code = RunPhillyCommand(*po, std::cout, std::cerr);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace sluice
