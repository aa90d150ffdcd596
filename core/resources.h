// Resources: an amount of each schedulable resource, as fixed-point integers.
//
// GPU in milli-GPU (1000 = one device), CPU in millicores, memory in MiB.
// kUnlimited stands for "no bound" (a node that does not track CPU, a queue
// without a limit once resolved); it is far below the int64 range so that
// sums of a few million of them cannot overflow.
#ifndef SLUICE_CORE_RESOURCES_H_
#define SLUICE_CORE_RESOURCES_H_

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice {

enum class Resource : uint8_t { kGpu = 0, kCpu = 1, kMemory = 2 };
inline constexpr int kNumResources = 3;
inline constexpr std::array<Resource, kNumResources> kAllResources = {
    Resource::kGpu, Resource::kCpu, Resource::kMemory};
inline constexpr int64_t kUnlimited = int64_t{1} << 50;

constexpr std::string_view ResourceName(Resource r) {
  switch (r) {
    case Resource::kGpu:
      return "gpu";
    case Resource::kCpu:
      return "cpu";
    case Resource::kMemory:
      return "memory";
  }
  return "?";
}

struct Resources {
  std::array<int64_t, kNumResources> v{};

  constexpr int64_t& operator[](Resource r) { return v[static_cast<size_t>(r)]; }
  constexpr int64_t operator[](Resource r) const { return v[static_cast<size_t>(r)]; }

  constexpr Resources& operator+=(const Resources& o) {
    for (int i = 0; i < kNumResources; ++i) v[i] += o.v[i];
    return *this;
  }
  constexpr Resources& operator-=(const Resources& o) {
    for (int i = 0; i < kNumResources; ++i) v[i] -= o.v[i];
    return *this;
  }
  friend constexpr Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend constexpr Resources operator-(Resources a, const Resources& b) { return a -= b; }
  friend constexpr Resources operator*(Resources a, int64_t k) {
    for (int i = 0; i < kNumResources; ++i) a.v[i] *= k;
    return a;
  }
  constexpr bool operator==(const Resources&) const = default;
  // True when every component is <= the other's.
  constexpr bool FitsIn(const Resources& o) const {
    for (int i = 0; i < kNumResources; ++i) {
      if (v[i] > o.v[i]) return false;
    }
    return true;
  }
};

}  // namespace sluice

#endif  // SLUICE_CORE_RESOURCES_H_
