// The local executor: runs each pod of a workload as a process tree on this
// machine, as the submitting user, under a pod shim (pod_shim.h).
//
// Per pod it keeps, under STATE_DIR/WORKLOAD_ID/: pod-N.json (the shim's pid
// and its start time in clock ticks since boot, so that a reused pid is
// never mistaken for it), pod-N.log (output, rotated) and pod-N.exit (how
// the command ended, written by the shim). A poll every quarter second
// reaps shims and notices ended pods; a workload ends when all its pods
// have. Stop sends SIGTERM to each pod's process group and SIGKILL after
// the grace period. After a server restart, Adopt finds the shims that still
// run and tracks them again; pods that vanished meanwhile end as failed.
// Single-threaded: every call and callback on the control plane's thread.
#ifndef SLUICE_EXEC_LOCAL_EXECUTOR_H_
#define SLUICE_EXEC_LOCAL_EXECUTOR_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "exec/cgroups.h"
#include "exec/mig_partitioner.h"
#include "exec/mps.h"
#include "exec/pod_shim.h"
#include "server/executor.h"

namespace sluice {

struct LocalExecutorOptions {
  std::string state_dir;    // DATA_DIR/pods
  std::string shim_binary;  // the sluice binary (runs `sluice pod-shim`)
  std::chrono::milliseconds grace{30'000};
  std::chrono::milliseconds poll{250};
  // The UUID of device `gpu` on `node`, for CUDA_VISIBLE_DEVICES.
  std::function<std::string(const std::string& node, int32_t gpu)> device_uuid;
  // Device memory in MiB of `node`'s GPUs (0 unknown), for fractional limits.
  std::function<int64_t(const std::string& node)> device_memory_mib;
  // libsluice-vgpu.so, preloaded into pods that hold a fraction of a GPU so
  // that the fraction is enforced; empty: fractions are only bookkeeping.
  std::string vgpu_library;
  // Where pods get their cgroups (mode kNone: process groups only).
  PodCgroups cgroups;
  // The UUID ("MIG-...") of MIG instance `mig` ("1g.10gb@3") of device
  // `gpu` on `node`, for a MIG pod's CUDA_VISIBLE_DEVICES.
  std::function<std::string(const std::string& node, int32_t gpu, const std::string& mig)> mig_uuid;
  // Devices whose fractions are shared by MPS (`--gpu-sharing mps`): the
  // executor runs an MPS control daemon for each (under STATE_DIR/mps), and
  // fractional pods there get MPS's limits instead of the interception
  // library.
  std::vector<int32_t> mps_gpus;
  // Lays a MIG device out anew (exec/mig_partitioner.h); `busy` when the
  // executor knows of a pod on it. Unset: MIG devices cannot be repartitioned.
  std::function<Status(const MigChange& change, bool busy)> repartition;
  std::string mps_control = "nvidia-cuda-mps-control";
  std::function<void(std::chrono::milliseconds, std::function<void()>)> after;
  std::function<void(std::function<void()>)> post;
};

class LocalExecutor final : public Executor {
 public:
  explicit LocalExecutor(LocalExecutorOptions options);
  ~LocalExecutor() override;

  void SetExitCallback(ExitCallback cb) override { exit_ = std::move(cb); }
  void Start(const WorkloadRecord& w, const std::vector<PlacedPod>& new_pods) override;
  void Restart(const WorkloadRecord& w) override;
  void Stop(int64_t workload_id) override;
  void Adopt(const WorkloadRecord& w) override;
  std::string LogPath(int64_t workload_id, int32_t pod) const override;
  std::string Isolation() const override;
  Status Repartition(const std::string& node, int32_t gpu, const std::vector<MigPlacement>& destroy,
                     const std::vector<MigPlacement>& create) override;
  // By session: every process of a pod stays in its shim's session.
  int64_t WorkloadOfProcess(int pid) const override;

  // The environment a pod gets (exposed for tests).
  static std::vector<std::string> PodEnvironment(const WorkloadRecord& w, int32_t pod,
                                                 const PlacedPod& placed,
                                                 const std::vector<PlacedPod>& all,
                                                 const LocalExecutorOptions& o);

 private:
  struct Pod {
    int32_t index = 0;
    int pid = -1;
    int64_t start_ticks = 0;
    bool done = false;
    PodExit exit;
    std::vector<int32_t> gpus;  // the devices it runs on
  };
  struct Tracked {
    std::vector<Pod> pods;
    int64_t memory_mib = 0;  // per pod, for the out-of-memory message
    std::chrono::milliseconds grace{0};
    bool stopping = false;
    std::string name;  // project/name, for messages
    // Which run this is: a workload started again (a workspace, an evicted
    // workload) keeps its id, and a stop's SIGKILL timer must not reach the
    // next run.
    int64_t run = 0;
  };

  std::string Dir(int64_t id) const;
  void Spawn(const WorkloadRecord& w, int32_t index, const PlacedPod& placed,
             const std::vector<PlacedPod>& all, Tracked* t);
  void Poll();
  void Finish(int64_t id, Tracked& t);

  LocalExecutorOptions opt_;
  ExitCallback exit_;
  std::map<int64_t, Tracked> tracked_;
  std::map<int, int> shim_status_;  // wait status of reaped shims, by pid
  std::unique_ptr<MpsDaemons> mps_;
  std::string mps_error_;  // why a daemon did not start
  int64_t next_run_ = 1;
};

// The fields of /proc/PID/stat from field 3 (state) on; empty when the
// process does not exist.
std::vector<std::string> ProcessStat(int pid);
// The start time of process `pid` in clock ticks since boot (field 22 of
// /proc/PID/stat), or -1 when it does not exist or is a zombie.
int64_t ProcessStartTicks(int pid);

}  // namespace sluice

#endif  // SLUICE_EXEC_LOCAL_EXECUTOR_H_
