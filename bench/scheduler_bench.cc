// Benchmarks of the scheduler core on KAI-Scheduler's shapes.
//
// Allocate on KAI-Scheduler's "Allocate" shape (BENCHMARKS.md section 3):
// one full scheduling cycle (fair share + allocate) placing 5N one-GPU jobs
// on N nodes x 8 GPUs. Run (medians of 5 repetitions):
//   ./build/bench/scheduler_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>

#include "bench/cluster_shapes.h"
#include "common/check.h"
#include "sched/scheduler.h"

namespace sluice::bench {
namespace {

void BM_KaiAllocate(benchmark::State& state) {
  const Snapshot snapshot = KaiAllocateShape(static_cast<int32_t>(state.range(0)));
  size_t binds = 0;
  for (auto _ : state) {
    CycleResult r = RunCycle(snapshot);
    binds = r.binds.size();
    benchmark::DoNotOptimize(r);
  }
  // 5N jobs on 8N GPUs: every job fits.
  SLUICE_CHECK(binds == snapshot.workloads.size());
  state.counters["nodes"] = static_cast<double>(state.range(0));
  state.counters["jobs"] = static_cast<double>(snapshot.workloads.size());
}
BENCHMARK(BM_KaiAllocate)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// Reclaim of a very large job (BENCHMARKS.md section 3): one full cycle in
// which reclaim empties N/10 whole nodes for a gang of N/10 8-GPU pods.
void BM_KaiReclaimLarge(benchmark::State& state) {
  const Snapshot snapshot = KaiReclaimLargeShape(static_cast<int32_t>(state.range(0)));
  size_t evictions = 0, placed = 0;
  for (auto _ : state) {
    CycleResult r = RunCycle(snapshot);
    evictions = r.evictions.size();
    placed = r.pipelined.size();
    benchmark::DoNotOptimize(r);
  }
  // The gang is pipelined onto N/10 nodes freed of their 8 jobs each.
  SLUICE_CHECK(placed == 1);
  SLUICE_CHECK(evictions == static_cast<size_t>(std::max<int64_t>(1, state.range(0) / 10) * 8));
  state.counters["nodes"] = static_cast<double>(state.range(0));
  state.counters["evictions"] = static_cast<double>(evictions);
}
BENCHMARK(BM_KaiReclaimLarge)
    ->Arg(100)
    ->Arg(500)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);

// The scale shape (BENCHMARKS.md section 3): one full cycle, fair share and
// every action, on N nodes with 10 running and 10 pending workloads a node.
void BM_MixedCycle(benchmark::State& state) {
  const Snapshot snapshot = MixedShape(static_cast<int32_t>(state.range(0)));
  size_t binds = 0, evictions = 0;
  for (auto _ : state) {
    CycleResult r = RunCycle(snapshot);
    binds = r.binds.size() + r.pipelined.size();
    evictions = r.evictions.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["nodes"] = static_cast<double>(state.range(0));
  state.counters["workloads"] = static_cast<double>(snapshot.workloads.size());
  state.counters["placed"] = static_cast<double>(binds);
  state.counters["evictions"] = static_cast<double>(evictions);
}
BENCHMARK(BM_MixedCycle)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::bench

BENCHMARK_MAIN();
