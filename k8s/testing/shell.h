// Running a shell command and reading a file, for the Kubernetes tests that
// drive real programs (sluice, helm, curl). Pure helpers, thread-compatible.
#ifndef SLUICE_K8S_TESTING_SHELL_H_
#define SLUICE_K8S_TESTING_SHELL_H_

#include <string>

namespace sluice::k8s::testing {

struct ShellOutput {
  int code = -1;     // the exit status; -1 when it did not exit normally
  std::string text;  // stdout and stderr together
};

// Runs `command` with /bin/sh, its stderr joined to its stdout.
ShellOutput RunShell(const std::string& command);

// The whole file, or "" when it cannot be read.
std::string ReadTextFile(const std::string& path);

}  // namespace sluice::k8s::testing

#endif  // SLUICE_K8S_TESTING_SHELL_H_
