#include "vgpu/config.h"

#include <unistd.h>

#include <cctype>
#include <charconv>

namespace sluice::vgpu {
namespace {

// The suffix's power of 1024, or -1 when it is not one.
int SuffixShift(std::string_view s) {
  if (s.empty() || s == "B") return 0;
  const char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  std::string_view rest = s.substr(1);
  if (!rest.empty() && rest != "i" && rest != "B" && rest != "iB") return -1;
  switch (unit) {
    case 'K':
      return 10;
    case 'M':
      return 20;
    case 'G':
      return 30;
    case 'T':
      return 40;
    default:
      return -1;
  }
}

std::string DefaultUsagePath(const std::function<const char*(const char*)>& env) {
  const char* runtime = env("XDG_RUNTIME_DIR");
  std::string dir = runtime != nullptr && runtime[0] != '\0' ? runtime : "/tmp";
  const char* workload = env("SLUICE_WORKLOAD_ID");
  return dir + "/sluice-vgpu-" + std::to_string(getuid()) + "-" +
         (workload != nullptr && workload[0] != '\0' ? workload : "default");
}

}  // namespace

bool VgpuConfig::limits_memory() const {
  for (uint64_t l : memory_limit) {
    if (l != kUnlimited) return true;
  }
  return false;
}

std::optional<uint64_t> ParseBytes(std::string_view text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr == text.data()) return std::nullopt;
  const int shift = SuffixShift(std::string_view(ptr, static_cast<size_t>(end - ptr)));
  if (shift < 0) return std::nullopt;
  if (shift > 0 && value > (UINT64_MAX >> shift)) return std::nullopt;
  return value << shift;
}

VgpuConfig ReadConfig(const std::function<const char*(const char*)>& env) {
  VgpuConfig c;
  c.memory_limit.fill(kUnlimited);
  auto bytes = [&](const std::string& name, uint64_t* out) {
    const char* v = env(name.c_str());
    if (v == nullptr || v[0] == '\0') return;
    if (std::optional<uint64_t> b = ParseBytes(v)) {
      *out = *b;
    } else {
      c.problems += name + "=" + v + " is not a size (bytes, or with K/M/G/T); ignored\n";
    }
  };
  uint64_t all = kUnlimited;
  bytes("SLUICE_GPU_MEMORY_LIMIT", &all);
  for (int i = 0; i < kMaxDevices; ++i) {
    c.memory_limit[i] = all;
    bytes("SLUICE_GPU_MEMORY_LIMIT_" + std::to_string(i), &c.memory_limit[i]);
  }
  if (const char* share = env("SLUICE_GPU_COMPUTE_SHARE"); share != nullptr && share[0] != '\0') {
    int pct = 0;
    std::string_view s(share);
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), pct);
    if (ec != std::errc() || ptr != s.data() + s.size() || pct < 1 || pct > 100) {
      c.problems += std::string("SLUICE_GPU_COMPUTE_SHARE=") + share +
                    " is not a percentage from 1 to 100; ignored\n";
    } else if (pct < 100) {
      c.compute_share = pct;
    }
  }
  bytes("SLUICE_VGPU_CONTEXT_BYTES", &c.context_bytes);
  const char* context = env("SLUICE_VGPU_CONTEXT_BYTES");
  c.measure_context = context == nullptr || !ParseBytes(context).has_value();
  const char* dir = env("SLUICE_VGPU_DIR");
  c.usage_path =
      dir != nullptr && dir[0] != '\0' ? std::string(dir) + "/usage" : DefaultUsagePath(env);
  return c;
}

}  // namespace sluice::vgpu
