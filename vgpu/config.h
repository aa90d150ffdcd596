// What libsluice-vgpu enforces, read once from the environment the executor
// gives a fractional pod:
//
//   SLUICE_GPU_MEMORY_LIMIT      bytes, or with a K/M/G/T suffix (powers of
//                                1024; "Ki"/"KiB" spellings too): every device
//   SLUICE_GPU_MEMORY_LIMIT_<i>  the same for CUDA device ordinal i (wins)
//   SLUICE_GPU_COMPUTE_SHARE     percent of the device's SMs, 1..100; unset
//                                or 100: no throttling
//   SLUICE_VGPU_DIR              the workload's runtime dir, where the usage
//                                region all its processes share lives
//   SLUICE_VGPU_CONTEXT_BYTES    what a CUDA context costs on the device,
//                                counted against the limit; unset: measured
//                                through NVML where it can be, else 300 MiB
//
// A plain value type; the library builds one at its first CUDA call.
#ifndef SLUICE_VGPU_CONFIG_H_
#define SLUICE_VGPU_CONFIG_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::vgpu {

inline constexpr int kMaxDevices = 16;
inline constexpr uint64_t kUnlimited = UINT64_MAX;

struct VgpuConfig {
  std::array<uint64_t, kMaxDevices> memory_limit{};  // per CUDA ordinal; kUnlimited: none
  int compute_share = 0;                             // percent; 0: throttling off
  std::string usage_path;                            // the shared usage region's file
  uint64_t context_bytes = 300ULL << 20;
  bool measure_context = true;  // SLUICE_VGPU_CONTEXT_BYTES unset
  std::string problems;         // what was ignored, one line each, for stderr

  bool limits_memory() const;
};

// "1073741824", "1G", "512M", "2GiB", "64k" -> bytes; nullopt for anything
// else (negative, empty, an unknown suffix, overflow).
std::optional<uint64_t> ParseBytes(std::string_view text);

// Reads the variables through `env` (getenv in the library, a map in tests).
VgpuConfig ReadConfig(const std::function<const char*(const char*)>& env);

}  // namespace sluice::vgpu

#endif  // SLUICE_VGPU_CONFIG_H_
