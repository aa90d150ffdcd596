// `sluice bench`: runs the scheduler benchmarks of BENCHMARKS.md section 3
// (KAI-Scheduler's allocate and reclaim-of-a-very-large-job shapes, and the
// mixed scale shape) and prints the median time of one full scheduling
// cycle and the peak memory for each shape and size.
#ifndef SLUICE_CLI_BENCH_COMMAND_H_
#define SLUICE_CLI_BENCH_COMMAND_H_

#include <cstdint>
#include <ostream>
#include <string>

namespace CLI {
class App;
}

namespace sluice {

struct BenchCommandOptions {
  std::string filter;       // substring of the shape name; empty: all
  int32_t max_nodes = 0;    // 0: every size
  int32_t repetitions = 5;  // cycles timed per size
  bool json = false;
};

void AddBenchCommand(CLI::App& app);
int RunBenchCommand(const BenchCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace sluice

#endif  // SLUICE_CLI_BENCH_COMMAND_H_
