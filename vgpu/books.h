// Books: what one process holds on each device, and the workload's limits.
//
// Every counted allocation is charged against the workload's limit (in the
// SharedUsage region) before the real call, refunded if the call fails, and
// recorded under its key (pointer, array, physical handle, context) so that
// the matching free gives back exactly what was charged. A free takes the
// record out before the real call and puts it back if that call fails, so a
// concurrent allocation that reuses the address is never confused with it.
// Without any memory limit the books are off and the hooks pass straight
// through. Thread-safe: the records are behind one mutex, taken only on
// allocation and release paths, never on launches.
#ifndef SLUICE_VGPU_BOOKS_H_
#define SLUICE_VGPU_BOOKS_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "vgpu/config.h"
#include "vgpu/cuda_types.h"
#include "vgpu/shared_usage.h"

namespace sluice::vgpu {

enum class Holding : uint8_t { kMemory, kArray, kMipmap, kPhysical, kContext, kPrimary };

class Books {
 public:
  struct Entry {
    bool found = false;
    int device = -1;
    uint64_t bytes = 0;
  };

  // `usage` null: counting off.
  Books(VgpuConfig config, std::unique_ptr<SharedUsage> usage)
      : config_(std::move(config)), usage_(std::move(usage)) {}

  bool counting() const { return usage_ != nullptr; }
  const VgpuConfig& config() const { return config_; }
  SharedUsage* usage() const { return usage_.get(); }
  uint64_t Limit(int device) const;
  // The workload's total on `device`, after clearing out dead processes.
  uint64_t Used(int device) const;

  // False when `bytes` more would take the workload past its limit.
  bool Charge(int device, uint64_t bytes);
  void Refund(int device, uint64_t bytes);
  // The driver took `actual` where `charged` was estimated (pitch, arrays).
  void Adjust(int device, uint64_t charged, uint64_t actual);
  void Record(Holding kind, uint64_t key, int device, uint64_t bytes);
  Entry Take(Holding kind, uint64_t key);
  void Restore(Holding kind, uint64_t key, const Entry& e);
  // In a forked child: nothing of the parent's is the child's.
  void AfterFork();

  // How often this process retained each device's primary context: its
  // footprint is charged at the first retain and refunded at the last
  // release. Callers hold the lock across the driver call.
  std::unique_lock<std::mutex> LockPrimary() { return std::unique_lock(primary_mu_); }
  int& primary_refs(int device) { return primary_refs_[device]; }

 private:
  VgpuConfig config_;
  std::unique_ptr<SharedUsage> usage_;
  std::mutex mu_;
  std::map<std::pair<Holding, uint64_t>, Entry> held_;  // guarded by mu_
  std::mutex primary_mu_;
  std::array<int, kMaxDevices> primary_refs_{};  // guarded by primary_mu_
};

// Charges, calls, and records or refunds: the shape of every allocation hook.
template <typename Call, typename Key>
CUresult Counted(Books& b, Holding kind, int device, uint64_t bytes, Call call, Key key) {
  if (!b.counting() || device < 0) return call();
  if (!b.Charge(device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  const CUresult rc = call();
  if (rc == CUDA_SUCCESS) {
    b.Record(kind, key(), device, bytes);
  } else {
    b.Refund(device, bytes);
  }
  return rc;
}

// Takes the record out, calls, and refunds or restores: every release hook.
template <typename Call>
CUresult Released(Books& b, Holding kind, uint64_t key, Call call) {
  if (!b.counting()) return call();
  const Books::Entry e = b.Take(kind, key);
  const CUresult rc = call();
  if (rc != CUDA_SUCCESS) {
    b.Restore(kind, key, e);
  } else if (e.found) {
    b.Refund(e.device, e.bytes);
  }
  return rc;
}

// Bytes of an array's elements: width x height x depth x channels x format.
uint64_t ArrayBytes(size_t width, size_t height, size_t depth, unsigned int format,
                    unsigned int channels);
// Bytes of a mipmapped array: its levels, each half the last in every
// dimension it has.
uint64_t MipmapBytes(const CUDA_ARRAY3D_DESCRIPTOR& d, unsigned int levels);

}  // namespace sluice::vgpu

#endif  // SLUICE_VGPU_BOOKS_H_
