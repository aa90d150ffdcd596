// Where the server's decisions turn into running work.
//
// The control plane calls Start when the scheduler binds pods and Stop when
// it evicts or a user deletes a workload; the executor reports each
// workload's end through the exit callback, on the control plane's thread.
// The local process executor (the executor issue) implements this; until
// then SimulatedExecutor holds placements without running anything.
#ifndef SLUICE_SERVER_EXECUTOR_H_
#define SLUICE_SERVER_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/mig.h"
#include "server/objects.h"

namespace sluice {

class Executor {
 public:
  // `stopped` is true when the workload ended because Stop asked it to;
  // `exit_code` is 0 for success; `message` says how it ended in words.
  using ExitCallback = std::function<void(int64_t workload_id, int exit_code, bool stopped,
                                          const std::string& message)>;

  virtual ~Executor() = default;
  virtual void SetExitCallback(ExitCallback cb) = 0;
  // Runs the pods `new_pods` of `w` (all of w.placement after a first bind,
  // or the pods added to an elastic workload).
  virtual void Start(const WorkloadRecord& w, const std::vector<PlacedPod>& new_pods) = 0;
  // Moves a running workload (consolidation): stops its pods and starts
  // them again at w.placement, without an exit callback.
  virtual void Restart(const WorkloadRecord& w) = 0;
  // Asks every pod of the workload to stop; the callback follows.
  virtual void Stop(int64_t workload_id) = 0;
  // After a server restart: takes over a workload that was running, or
  // reports through the callback that it ended meanwhile.
  virtual void Adopt(const WorkloadRecord& w) = 0;
  // The log file of one pod, or "" when this executor keeps none.
  virtual std::string LogPath(int64_t workload_id, int32_t pod) const = 0;
  // The workload a process belongs to (any process of its pods), or -1.
  virtual int64_t WorkloadOfProcess(int pid) const = 0;
  // How pods are isolated, for `sluice describe`.
  virtual std::string Isolation() const = 0;
  // Carries out a MIG repartition decision on device `gpu` of `node`
  // (destroy, then create), before the binds that use the new instances.
  virtual Status Repartition(const std::string& node, int32_t gpu,
                             const std::vector<MigPlacement>& destroy,
                             const std::vector<MigPlacement>& create) = 0;
};

// Runs nothing: a started workload holds its GPUs until it is stopped, and
// stops at once. `post` queues a callback on the control plane's thread.
class SimulatedExecutor final : public Executor {
 public:
  explicit SimulatedExecutor(std::function<void(std::function<void()>)> post)
      : post_(std::move(post)) {}
  void SetExitCallback(ExitCallback cb) override { exit_ = std::move(cb); }
  void Start(const WorkloadRecord&, const std::vector<PlacedPod>&) override {}
  void Restart(const WorkloadRecord&) override {}
  void Stop(int64_t workload_id) override {
    post_([this, workload_id] {
      if (exit_) exit_(workload_id, 143, true, "stopped");
    });
  }
  void Adopt(const WorkloadRecord&) override {}
  std::string LogPath(int64_t, int32_t) const override { return ""; }
  int64_t WorkloadOfProcess(int) const override { return -1; }
  std::string Isolation() const override { return "none (simulated: nothing runs)"; }
  Status Repartition(const std::string&, int32_t, const std::vector<MigPlacement>&,
                     const std::vector<MigPlacement>&) override {
    return Status::OK();  // nothing to lay out
  }

 private:
  std::function<void(std::function<void()>)> post_;
  ExitCallback exit_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_EXECUTOR_H_
