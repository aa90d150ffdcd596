// MIG (Multi-Instance GPU): the partitions a GPU model can be cut into.
//
// A GPU in MIG mode is divided into 8 memory slots and 7 compute slices.
// Each GPU instance profile ("1g.10gb", "3g.40gb") takes a number of memory
// slots starting at one of a few allowed positions, and a number of compute
// slices; the instances on one device may not share a memory slot nor take
// more than 7 compute slices together. The table below is written from
// NVIDIA's MIG user guide ("Supported MIG Profiles"): for every model, each
// profile's memory slots, compute slices, allowed start positions and the
// most instances of it one device holds.
//
// Profiles are known to the rest of sluice by a small integer id (1-based:
// 0 means "not MIG") that names the profile across models: 1g.10gb is one id
// whether it sits on an A100-80GB or an H100-80GB. The tables are constant
// and thread-safe.
#ifndef SLUICE_CORE_MIG_H_
#define SLUICE_CORE_MIG_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

inline constexpr int32_t kMigMemorySlots = 8;
inline constexpr int32_t kMigComputeSlices = 7;

struct MigProfile {
  std::string_view name;  // "3g.40gb"
  int32_t compute = 0;    // compute slices (the "3g")
  int32_t slots = 0;      // memory slots it takes, out of 8
  int64_t memory_mib = 0;
  uint8_t starts = 0;  // bit s set: the instance may start at memory slot s
  int32_t max_count = 0;
  int32_t id = 0;  // the profile id (see MigProfileId)
};

struct MigModel {
  std::string_view model;  // the gpuModel it applies to ("H100-80GB")
  std::span<const MigProfile> profiles;

  // The profile with id `id`, or nullptr when this model has none.
  const MigProfile* Find(int32_t id) const;
};

// The MIG table of a GPU model, or nullptr when sluice knows no MIG layout
// for it. Accepts the snapshot names (A100-40GB, A100-80GB, H100-80GB,
// H100-94GB, H200-141GB, B200-180GB) and the names NVML discovery produces
// ("A100-SXM4-80GB", "H100-80GB-HBM3").
const MigModel* FindMigModel(std::string_view gpu_model);

// Every model in the table (for documentation and tests).
std::span<const MigModel> MigModels();

// The id of profile `name` ("1g.10gb"), or 0 when no model has it.
int32_t MigProfileId(std::string_view name);
// The name of profile `id` ("" for 0).
std::string_view MigProfileName(int32_t id);
// The compute slices of profile `id` (the N of "Ng"); 0 for 0.
int32_t MigProfileCompute(int32_t id);

// What an instance of N compute slices counts as, in milli-GPU: N/7 of a
// GPU, rounded down so that a full device never counts above one GPU
// (7 x 1g = 0.994); a 7g is exactly 1.
int64_t MigMilli(int32_t compute);

// One instance on a device: a profile at a memory-slot start.
struct MigPlacement {
  int32_t profile = 0;  // profile id
  int32_t start = 0;
  auto operator<=>(const MigPlacement&) const = default;
};

// "3g.40gb@4"
std::string FormatMigPlacement(const MigPlacement& p);
// Parses "3g.40gb@4" (start given) or "3g.40gb" (start -1); profile 0 when
// the name is unknown.
MigPlacement ParseMigPlacement(std::string_view text);

// The memory slots an instance of `p` at `start` covers, as a bit mask.
inline uint32_t MigSlotMask(const MigProfile& p, int32_t start) {
  return ((1U << static_cast<uint32_t>(p.slots)) - 1U) << static_cast<uint32_t>(start);
}

// Why `instances` is not a valid layout of one `model` device ("" when it
// is): unknown profile, a start not allowed, overlapping slots, too many
// compute slices or instances of one profile.
std::string MigLayoutError(const MigModel& model, std::span<const MigPlacement> instances);

// The lowest start at which `profile` fits next to `instances` (the driver's
// choice when no position is asked for), or -1.
int32_t MigLowestFreeStart(const MigModel& model, std::span<const MigPlacement> instances,
                           const MigProfile& profile);

}  // namespace sluice

#endif  // SLUICE_CORE_MIG_H_
