#include "vgpu/books.h"

#include <algorithm>
#include <new>

namespace sluice::vgpu {

uint64_t Books::Limit(int device) const {
  return device >= 0 && device < kMaxDevices ? config_.memory_limit[device] : kUnlimited;
}

uint64_t Books::Used(int device) const {
  if (!counting()) return 0;
  usage_->ReclaimDead();
  return usage_->Used(device);
}

bool Books::Charge(int device, uint64_t bytes) {
  return usage_->Reserve(device, bytes, Limit(device));
}

void Books::Refund(int device, uint64_t bytes) { usage_->Release(device, bytes); }

void Books::Adjust(int device, uint64_t charged, uint64_t actual) {
  if (actual > charged) {
    // The driver has already given it: it counts, even past the limit.
    usage_->Reserve(device, actual - charged, kUnlimited);
  } else {
    usage_->Release(device, charged - actual);
  }
}

void Books::Record(Holding kind, uint64_t key, int device, uint64_t bytes) {
  std::lock_guard lock(mu_);
  held_[{kind, key}] = Entry{true, device, bytes};
}

Books::Entry Books::Take(Holding kind, uint64_t key) {
  std::lock_guard lock(mu_);
  auto it = held_.find({kind, key});
  if (it == held_.end()) return {};
  Entry e = it->second;
  held_.erase(it);
  return e;
}

void Books::Restore(Holding kind, uint64_t key, const Entry& e) {
  if (!e.found) return;
  std::lock_guard lock(mu_);
  held_[{kind, key}] = e;
}

void Books::AfterFork() {
  // The child is single-threaded here: no other thread holds mu_'s copy...
  // unless one did at the fork, so the mutex is rebuilt, not locked.
  new (&mu_) std::mutex();
  new (&primary_mu_) std::mutex();
  held_.clear();
  primary_refs_.fill(0);
  if (usage_ != nullptr) usage_->AfterFork();
}

uint64_t ArrayBytes(size_t width, size_t height, size_t depth, unsigned int format,
                    unsigned int channels) {
  uint64_t element = 4;  // 32-bit formats, and the conservative guess for the rest
  switch (format) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8:
      element = 1;
      break;
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF:
      element = 2;
      break;
    default:
      break;
  }
  return static_cast<uint64_t>(width) * std::max<size_t>(height, 1) * std::max<size_t>(depth, 1) *
         element * std::max(channels, 1U);
}

uint64_t MipmapBytes(const CUDA_ARRAY3D_DESCRIPTOR& d, unsigned int levels) {
  uint64_t bytes = 0;
  size_t w = d.Width, h = d.Height, depth = d.Depth;
  for (unsigned int l = 0; l < std::max(levels, 1U); ++l) {
    bytes += ArrayBytes(w, h, depth, d.Format, d.NumChannels);
    w = std::max<size_t>(w / 2, 1);
    h = h == 0 ? 0 : std::max<size_t>(h / 2, 1);
    depth = depth == 0 ? 0 : std::max<size_t>(depth / 2, 1);
  }
  return bytes;
}

}  // namespace sluice::vgpu
