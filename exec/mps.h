// MpsDaemons: NVIDIA's MPS control daemon, one per device that shares its
// fractions by MPS (`--gpu-sharing mps`).
//
// Start runs `nvidia-cuda-mps-control -d` with CUDA_VISIBLE_DEVICES naming
// the device and a pipe and log directory of its own (DIR/gpu-N/pipe and
// DIR/gpu-N/log); Stop writes `quit` to `nvidia-cuda-mps-control` with the
// same environment. A pod on that device reaches its daemon through the
// same two directories (ClientEnvironment), and gets its share as
// CUDA_MPS_ACTIVE_THREAD_PERCENTAGE and CUDA_MPS_PINNED_DEVICE_MEM_LIMIT
// (see LocalExecutor::PodEnvironment) instead of the interception library.
// The control program is looked up on PATH. Not thread-safe.
#ifndef SLUICE_EXEC_MPS_H_
#define SLUICE_EXEC_MPS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice {

class MpsDaemons {
 public:
  explicit MpsDaemons(std::string dir, std::string control = "nvidia-cuda-mps-control")
      : dir_(std::move(dir)), control_(std::move(control)) {}
  ~MpsDaemons();
  MpsDaemons(const MpsDaemons&) = delete;
  MpsDaemons& operator=(const MpsDaemons&) = delete;

  // Starts the daemon of device `gpu` (CUDA_VISIBLE_DEVICES=`uuid`).
  Status Start(int32_t gpu, const std::string& uuid);
  // Asks it to quit.
  Status Stop(int32_t gpu);
  bool running(int32_t gpu) const { return uuids_.count(gpu) != 0; }
  // CUDA_MPS_PIPE_DIRECTORY and CUDA_MPS_LOG_DIRECTORY of device `gpu`.
  std::vector<std::string> ClientEnvironment(int32_t gpu) const {
    return ClientEnvironment(dir_, gpu);
  }
  // The same for daemons kept under `dir`.
  static std::vector<std::string> ClientEnvironment(const std::string& dir, int32_t gpu);

 private:
  static std::string Dir(const std::string& dir, int32_t gpu) {
    return dir + "/gpu-" + std::to_string(gpu);
  }
  std::string Dir(int32_t gpu) const { return Dir(dir_, gpu); }
  // Runs the control program with `args`, writing `input` to its stdin.
  Status Run(int32_t gpu, const std::vector<std::string>& args, const std::string& input);

  std::string dir_;
  std::string control_;
  std::map<int32_t, std::string> uuids_;
};

// The MPS variables of a pod holding `gpu_milli` of each of `devices`
// devices of `device_memory_mib` (0: unknown, then no memory limit):
// CUDA_MPS_ACTIVE_THREAD_PERCENTAGE (its share of the SMs) and
// CUDA_MPS_PINNED_DEVICE_MEM_LIMIT ("0=20480M,1=20480M", one entry per
// device as the pod sees them).
std::vector<std::string> MpsPodEnvironment(int64_t gpu_milli, size_t devices,
                                           int64_t device_memory_mib);

}  // namespace sluice

#endif  // SLUICE_EXEC_MPS_H_
