// Allocate on KAI-Scheduler's "Allocate" shape (BENCHMARKS.md section 3):
// one full scheduling cycle (fair share + allocate) placing 5N one-GPU jobs
// on N nodes x 8 GPUs. Run (medians of 5 repetitions):
//   ./build/bench/allocate_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

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

}  // namespace
}  // namespace sluice::bench

BENCHMARK_MAIN();
