// KubeEnv is a real Kubernetes API server for tests: the `kube-env` program
// (tests/kube-env/, built into .tools/bin/ by scripts/setup.sh), which runs
// an embedded etcd and the upstream kube-apiserver on 127.0.0.1 in one
// process, with RBAC on and no controllers. Start() runs it in a fresh
// temporary folder and returns once the server answers /readyz; destroying
// the KubeEnv stops the process and removes the folder.
//
// Two users can call the server: an admin (group system:masters) and
// "sluice-scheduler", which has no groups and so may do only what a test
// grants it through RBAC. A KubeEnv is not thread-safe to destroy while in
// use, but its accessors may be read from any thread. The process gets
// SIGTERM when the thread that called Start() exits, so start it from the
// test's main thread (or through Shared()).
#ifndef SLUICE_K8S_TESTING_KUBE_ENV_H_
#define SLUICE_K8S_TESTING_KUBE_ENV_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>

#include "common/status.h"

namespace sluice::k8s::testing {

class KubeEnv {
 public:
  // Starts a server and waits up to 60 s for it. Fails, with what to do,
  // when the binary is missing, and with the end of the server's log when
  // it does not become ready.
  static Result<std::unique_ptr<KubeEnv>> Start();

  // One server for the whole test program, started on first use and
  // stopped when the program exits. Starting one takes a few seconds, so
  // tests in one program should share it, each in namespaces of its own.
  static Result<KubeEnv*> Shared();

  // The binary Start() runs: $SLUICE_KUBE_ENV if set, else
  // <source tree>/.tools/bin/kube-env.
  static std::string BinaryPath();

  ~KubeEnv();  // SIGTERM, waits (SIGKILL after 10 s), removes dir()
  KubeEnv(const KubeEnv&) = delete;
  KubeEnv& operator=(const KubeEnv&) = delete;

  const std::string& server() const { return server_; }  // https://127.0.0.1:PORT
  const std::string& dir() const { return dir_; }
  std::string ca_file() const { return dir_ + "/ca.crt"; }
  const std::string& admin_token() const { return admin_token_; }
  const std::string& scheduler_token() const { return scheduler_token_; }
  std::string kubeconfig_path() const { return dir_ + "/kubeconfig"; }  // admin
  std::string scheduler_kubeconfig_path() const { return dir_ + "/scheduler.kubeconfig"; }
  pid_t pid() const { return pid_; }

  // The last `max_bytes` of the API server's log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  explicit KubeEnv(std::string dir) : dir_(std::move(dir)) {}
  static Result<std::unique_ptr<KubeEnv>> StartOnce(const std::string& binary);
  Status WaitReady();

  std::string dir_;
  pid_t pid_ = -1;
  std::string server_;
  std::string admin_token_;
  std::string scheduler_token_;
};

}  // namespace sluice::k8s::testing

#endif  // SLUICE_K8S_TESTING_KUBE_ENV_H_
