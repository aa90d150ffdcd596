// `sluice sim openb` and `sluice sim philly`: trace replays that compare
// placement and scheduling policies (see sim/openb.h and sim/philly.h).
#ifndef SLUICE_CLI_SIM_COMMAND_H_
#define SLUICE_CLI_SIM_COMMAND_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sluice {

struct OpenbCommandOptions {
  std::string nodes;
  std::string pods;
  std::vector<std::string> policies;  // empty: all
  double tune = 1.3;
  std::string seeds = "42-51";
  bool json = false;
  std::string curve;    // CSV output path
  std::string plot;     // PNG output path
  int32_t threads = 0;  // 0: one per core
};

int RunOpenbCommand(const OpenbCommandOptions& options, std::ostream& out, std::ostream& err);

struct PhillyCommandOptions {
  std::string jobs;
  int32_t nodes = 48;
  int32_t gpus_per_node = 8;
  int64_t reclaim_min_runtime_s = 0;
  std::vector<std::string> policies;  // empty: all
  bool json = false;
};

int RunPhillyCommand(const PhillyCommandOptions& options, std::ostream& out, std::ostream& err);

void AddSimCommand(CLI::App& app);

}  // namespace sluice

#endif  // SLUICE_CLI_SIM_COMMAND_H_
