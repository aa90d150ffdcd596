// The `sluice` command.
#include <CLI/CLI.hpp>

#include "cli/bench_command.h"
#include "cli/client_context.h"
#include "cli/plan_command.h"
#include "cli/sim_command.h"
#include "k8s/agent/node_agent_command.h"
#include "k8s/k8s_commands.h"
#include "k8s/webhook/webhook_command.h"

int main(int argc, char** argv) {
  CLI::App app(
      "sluice: GPU orchestration with quotas, fair-share queueing and fractional GPUs.\n"
      "Run `sluice COMMAND --help` for the options of one command.",
      "sluice");
  app.set_version_flag("--version", "sluice 0.1.0");
  app.require_subcommand(1);
  sluice::AddPlanCommand(app);
  sluice::AddBenchCommand(app);
  sluice::AddSimCommand(app);
  auto flags = sluice::AddClientFlags(app);
  app.fallthrough();
  sluice::AddWorkloadCommands(app, flags);
  sluice::AddAdminCommands(app, flags);
  sluice::AddSweepCommands(app, flags);
  sluice::AddWorkspaceCommands(app, flags);
  CLI::App* k8s = sluice::AddK8sCommands(app);
  sluice::k8s::AddWebhookCommand(k8s);
  sluice::k8s::AddNodeAgentCommand(k8s);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command failed; it has said why
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints what was wrong with the command line
    return 2;
  }
  return 0;
}
