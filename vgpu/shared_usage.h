// SharedUsage: how much device memory a workload's processes hold, per
// device, in one memory-mapped file under the workload's runtime dir.
//
// Each process owns one slot (its pid and start time, and what it holds per
// device); a device's usage is the sum over the slots. Reserving adds to the
// caller's own slot first and then checks the sum, so two processes racing
// for the last bytes can both be refused but never both admitted (every
// operation is a sequentially consistent atomic: no locks, nothing to be
// left held). A process that dies, however it dies, leaves only its slot
// behind; the next process that is refused, attaches, or reads the usage
// finds it dead (its pid gone, a zombie, or a different start time) and
// zeroes it, under a claim that names the reclaimer so that a reclaimer
// that dies is itself reclaimed. Thread-safe; one object per process.
#ifndef SLUICE_VGPU_SHARED_USAGE_H_
#define SLUICE_VGPU_SHARED_USAGE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vgpu/config.h"

namespace sluice::vgpu {

inline constexpr int kSlots = 256;

class SharedUsage {
 public:
  // Maps the region at `path`, creating it (and its directory) if needed.
  // When that fails (or the file holds another layout), `error` says why
  // and the usage is counted in a region of this process (and its forks)
  // only. Null only when not even that can be mapped.
  static std::unique_ptr<SharedUsage> Open(const std::string& path, std::string* error);
  ~SharedUsage();
  SharedUsage(const SharedUsage&) = delete;
  SharedUsage& operator=(const SharedUsage&) = delete;

  // Adds `bytes` on `device` for this process if the workload's total stays
  // within `limit`; false (and nothing added) otherwise.
  bool Reserve(int device, uint64_t bytes, uint64_t limit);
  // Gives back what Reserve took.
  void Release(int device, uint64_t bytes);
  // The workload's total on `device`, and this process's part of it.
  uint64_t Used(int device) const;
  uint64_t Mine(int device) const;
  // Zeroes the slots of processes that are gone; returns how many.
  int ReclaimDead();
  // In a forked child: the parent's memory is not the child's, so the child
  // takes a slot of its own, empty.
  void AfterFork();
  // Gives this process's slot back (at exit).
  void Leave();
  // The pids of the workload's live slots (for the compute throttle).
  std::vector<int> Pids() const;

 private:
  struct Slot {
    std::atomic<uint64_t> owner;  // 0 free, a pid, or kReclaiming | reclaimer's pid
    std::atomic<int64_t> start_ticks;
    std::atomic<uint64_t> used[kMaxDevices];
  };
  struct Region {
    std::atomic<uint64_t> magic;
    uint64_t reserved[7];
    Slot slots[kSlots];
  };

  explicit SharedUsage(Region* region) : region_(region) {}
  bool Claim();
  static bool OwnerDead(uint64_t owner, int64_t recorded_ticks);

  Region* region_;
  Slot* mine_ = nullptr;
};

// The start time of `pid` in clock ticks since boot; -1 when it does not
// exist or is a zombie.
int64_t StartTicks(int pid);

}  // namespace sluice::vgpu

#endif  // SLUICE_VGPU_SHARED_USAGE_H_
