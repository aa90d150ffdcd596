// The `sluice` command.
#include <CLI/CLI.hpp>

#include "cli/plan_command.h"

int main(int argc, char** argv) {
  CLI::App app(
      "sluice: GPU orchestration with quotas, fair-share queueing and fractional GPUs.\n"
      "Run `sluice COMMAND --help` for the options of one command.",
      "sluice");
  app.set_version_flag("--version", "sluice 0.1.0");
  app.require_subcommand(1);
  sluice::AddPlanCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
