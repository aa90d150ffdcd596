#include "cli/bench_command.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench/cluster_shapes.h"
#include "cli/table.h"
#include "sched/scheduler.h"

namespace sluice {
namespace {

struct Shape {
  const char* name;
  std::vector<int32_t> sizes;
  std::function<Snapshot(int32_t)> build;
};

const std::vector<Shape>& Shapes() {
  static const std::vector<Shape> kShapes = {
      {"kai-allocate", {100, 1000, 10000}, &bench::KaiAllocateShape},
      {"kai-reclaim-large", {100, 500, 1000, 10000}, &bench::KaiReclaimLargeShape},
      {"mixed-cycle", {100, 1000, 10000}, &bench::MixedShape},
  };
  return kShapes;
}

struct Measurement {
  double median_ms = 0;
  int32_t runs = 0;
};

// Times `repetitions` cycles (fewer when one takes over 10 s) and returns
// the median.
Measurement Measure(const Snapshot& snapshot, int32_t repetitions) {
  std::vector<double> ms;
  for (int32_t i = 0; i < repetitions; ++i) {
    const auto start = std::chrono::steady_clock::now();
    CycleResult r = RunCycle(snapshot);
    const auto end = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    if (ms.back() > 10'000) break;
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], static_cast<int32_t>(ms.size())};
}

// Runs one shape and size in a child process, so that its peak memory is
// its own: the child writes "median runs" to a pipe; the parent reads the
// child's peak resident memory from wait4.
bool RunIsolated(const Shape& shape, int32_t nodes, int32_t repetitions, Measurement* m,
                 double* peak_mib) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fds[0]);
    const Snapshot snapshot = shape.build(nodes);
    const Measurement result = Measure(snapshot, repetitions);
    char buf[64];
    const int len = std::snprintf(buf, sizeof(buf), "%.6f %d", result.median_ms, result.runs);
    const ssize_t written = write(fds[1], buf, static_cast<size_t>(len));
    _exit(written == len ? 0 : 1);
  }
  close(fds[1]);
  char buf[64] = {};
  size_t got = 0;
  ssize_t n = 0;
  while (got + 1 < sizeof(buf) && (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0) {
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return false;
  }
  if (std::sscanf(buf, "%lf %d", &m->median_ms, &m->runs) != 2) return false;
  *peak_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB
  return true;
}

std::string Fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

}  // namespace

int RunBenchCommand(const BenchCommandOptions& options, std::ostream& out, std::ostream& err) {
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  Table table({"NAME", "NODES", "MEDIAN MS", "PEAK MIB", "RUNS"});
  bool any = false;
  for (const Shape& shape : Shapes()) {
    if (!options.filter.empty() &&
        std::string(shape.name).find(options.filter) == std::string::npos) {
      continue;
    }
    for (int32_t nodes : shape.sizes) {
      if (options.max_nodes > 0 && nodes > options.max_nodes) continue;
      any = true;
      if (!options.json) err << "running " << shape.name << " at " << nodes << " nodes...\n";
      Measurement m;
      double peak = 0;
      if (!RunIsolated(shape, nodes, options.repetitions, &m, &peak)) {
        err << "sluice bench: " << shape.name << " at " << nodes << " nodes failed\n";
        return 1;
      }
      results.push_back({{"name", shape.name},
                         {"nodes", nodes},
                         {"median_ms", m.median_ms},
                         {"peak_mib", peak},
                         {"runs", m.runs}});
      table.AddRow({shape.name, std::to_string(nodes), Fixed(m.median_ms, 2), Fixed(peak, 1),
                    std::to_string(m.runs)});
    }
  }
  if (!any) {
    err << "sluice bench: no benchmark matches (names: kai-allocate, kai-reclaim-large, "
           "mixed-cycle)\n";
    return 2;
  }
  if (options.json) {
    out << results.dump(2) << "\n";
  } else {
    table.Print(out);
  }
  return 0;
}

void AddBenchCommand(CLI::App& app) {
  auto options = std::make_shared<BenchCommandOptions>();
  CLI::App* bench = app.add_subcommand(
      "bench", "Time one full scheduling cycle on the benchmark shapes of BENCHMARKS.md");
  bench->footer(
      "Shapes: kai-allocate (KAI-Scheduler's Allocate: N nodes x 8 GPUs, 5N one-GPU jobs),\n"
      "kai-reclaim-large (KAI's reclaim of a very large job), mixed-cycle (10 running and\n"
      "10 pending workloads per node over 50 projects). Each size runs in its own process;\n"
      "MEDIAN MS is the median of the timed cycles, PEAK MIB that process's peak resident\n"
      "memory (snapshot included). Sizes slower than 10 s a cycle are timed once.\n\n"
      "Examples:\n  sluice bench --max-nodes 1000\n  sluice bench --filter reclaim --json");
  bench->add_option("--filter", options->filter, "Only shapes whose name contains this");
  bench->add_option("--max-nodes", options->max_nodes, "Skip sizes above this many nodes")
      ->check(CLI::Range(1, 1'000'000));
  bench->add_option("--repetitions", options->repetitions, "Cycles timed per size (default 5)")
      ->check(CLI::Range(1, 1000));
  bench->add_flag("--json", options->json,
                  "Print a list of {name, nodes, median_ms, peak_mib, runs}");
  bench->callback([options]() {
    const int code = RunBenchCommand(*options, std::cout, std::cerr);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace sluice
