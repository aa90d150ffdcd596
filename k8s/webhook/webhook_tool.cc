// A test-only program shaped like `sluice k8s webhook`, so that the command
// is tested as a real process before it joins the sluice binary.
#include <CLI/CLI.hpp>

#include "k8s/webhook/webhook_command.h"

int main(int argc, char** argv) {
  CLI::App app("The webhook commands of sluice, for tests", "sluice");
  app.require_subcommand(1);
  CLI::App* k8s = app.add_subcommand("k8s", "Kubernetes components");
  k8s->require_subcommand(1);
  sluice::k8s::AddWebhookCommand(k8s);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return 0;
}
