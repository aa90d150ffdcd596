// `sluice plan`: run scheduling cycles on a snapshot file and print the
// outcome as tables or as one JSON object.
#ifndef SLUICE_CLI_PLAN_COMMAND_H_
#define SLUICE_CLI_PLAN_COMMAND_H_

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "sched/scheduler.h"

namespace CLI {
class App;
}

namespace sluice {

struct PlanCommandOptions {
  std::string file;
  bool json = false;
  bool settle = false;
  int32_t cycles = 0;  // 0: 1 without --settle, 100 with it
};

// Registers `plan` on `app`; the callback runs it and exits with its code.
void AddPlanCommand(CLI::App& app);

// Runs the command; returns the process exit code (0 ok, 1 bad snapshot).
int RunPlanCommand(const PlanCommandOptions& options, std::ostream& out, std::ostream& err);

// The --json document of a plan result.
nlohmann::ordered_json PlanToJson(const PlanResult& plan);

}  // namespace sluice

#endif  // SLUICE_CLI_PLAN_COMMAND_H_
