#include "core/mig.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace sluice {
namespace {

// Allowed starts as bit masks of memory slots.
constexpr uint8_t kStarts0To6 = 0x7F;      // 0,1,2,3,4,5,6
constexpr uint8_t kStartsEven = 0x55;      // 0,2,4,6
constexpr uint8_t kStarts0To4Even = 0x15;  // 0,2,4
constexpr uint8_t kStarts0And4 = 0x11;     // 0,4
constexpr uint8_t kStart0 = 0x01;          // 0

// Every MIG-capable model of NVIDIA's guide shares one geometry (8 memory
// slots, 7 compute slices); only the memory of each profile differs. `gb`
// lists the memory of 1g (one slot), 1g (two slots), 2g, 3g, 4g and 7g, in
// the profile names' gigabytes.
struct Geometry {
  std::array<std::string_view, 7> names;  // 1g, 1g+me, 1g (2 slots), 2g, 3g, 4g, 7g
  std::array<int64_t, 7> gb;
};

constexpr MigProfile Profile(std::string_view name, int32_t compute, int32_t slots, int64_t gb,
                             uint8_t starts, int32_t max_count) {
  return MigProfile{name, compute, slots, gb * 1024, starts, max_count, 0};
}

// The profile rows of one model, in the guide's order.
constexpr std::array<MigProfile, 7> Rows(const Geometry& g) {
  return {Profile(g.names[0], 1, 1, g.gb[0], kStarts0To6, 7),
          Profile(g.names[1], 1, 1, g.gb[1], kStarts0To6, 1),
          Profile(g.names[2], 1, 2, g.gb[2], kStartsEven, 4),
          Profile(g.names[3], 2, 2, g.gb[3], kStarts0To4Even, 3),
          Profile(g.names[4], 3, 4, g.gb[4], kStarts0And4, 2),
          Profile(g.names[5], 4, 4, g.gb[5], kStart0, 1),
          Profile(g.names[6], 7, 8, g.gb[6], kStart0, 1)};
}

// NVIDIA MIG user guide, "Supported MIG Profiles" (A100, H100, H200, B200).
std::array<MigProfile, 7> a100_40 =
    Rows({{"1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"},
          {5, 5, 10, 10, 20, 20, 40}});
std::array<MigProfile, 7> a100_80 =
    Rows({{"1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"},
          {10, 10, 20, 20, 40, 40, 80}});
std::array<MigProfile, 7> h100_80 =
    Rows({{"1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"},
          {10, 10, 20, 20, 40, 40, 80}});
std::array<MigProfile, 7> h100_94 =
    Rows({{"1g.12gb", "1g.12gb+me", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"},
          {12, 12, 24, 24, 47, 47, 94}});
std::array<MigProfile, 7> h200_141 =
    Rows({{"1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"},
          {18, 18, 35, 35, 71, 71, 141}});
std::array<MigProfile, 7> b200_180 =
    Rows({{"1g.23gb", "1g.23gb+me", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"},
          {23, 23, 45, 45, 90, 90, 180}});

// Profile names in order of first appearance; ids are positions + 1.
struct Registry {
  std::vector<std::string_view> names;
  std::array<MigModel, 6> models;

  Registry()
      : models{{{"A100-40GB", a100_40},
                {"A100-80GB", a100_80},
                {"H100-80GB", h100_80},
                {"H100-94GB", h100_94},
                {"H200-141GB", h200_141},
                {"B200-180GB", b200_180}}} {
    for (auto* rows : {&a100_40, &a100_80, &h100_80, &h100_94, &h200_141, &b200_180}) {
      for (MigProfile& p : *rows) {
        auto it = std::find(names.begin(), names.end(), p.name);
        if (it == names.end()) {
          names.push_back(p.name);
          it = names.end() - 1;
        }
        p.id = static_cast<int32_t>(it - names.begin()) + 1;
      }
    }
  }
};

const Registry& Table() {
  static const Registry registry;
  return registry;
}

bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

}  // namespace

const MigProfile* MigModel::Find(int32_t id) const {
  for (const MigProfile& p : profiles) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

const MigModel* FindMigModel(std::string_view gpu_model) {
  const Registry& t = Table();
  for (const MigModel& m : t.models) {
    if (m.model == gpu_model) return &m;
  }
  // NVML's names, as discovery turns them into models: "A100-SXM4-80GB",
  // "A100-PCIE-40GB", "H100-80GB-HBM3", "H100-NVL" (94GB), "H200".
  auto model = [&](std::string_view name) -> const MigModel* {
    for (const MigModel& m : t.models) {
      if (m.model == name) return &m;
    }
    return nullptr;
  };
  if (Contains(gpu_model, "A100")) {
    if (Contains(gpu_model, "80GB")) return model("A100-80GB");
    if (Contains(gpu_model, "40GB")) return model("A100-40GB");
  }
  if (Contains(gpu_model, "GH200")) return nullptr;
  if (Contains(gpu_model, "H100")) {
    if (Contains(gpu_model, "94GB") || Contains(gpu_model, "NVL")) return model("H100-94GB");
    if (Contains(gpu_model, "80GB")) return model("H100-80GB");
  }
  if (Contains(gpu_model, "H200")) return model("H200-141GB");
  if (Contains(gpu_model, "B200")) return model("B200-180GB");
  return nullptr;
}

std::span<const MigModel> MigModels() { return Table().models; }

int32_t MigProfileId(std::string_view name) {
  const std::vector<std::string_view>& names = Table().names;
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? 0 : static_cast<int32_t>(it - names.begin()) + 1;
}

std::string_view MigProfileName(int32_t id) {
  const std::vector<std::string_view>& names = Table().names;
  if (id <= 0 || id > static_cast<int32_t>(names.size())) return "";
  return names[static_cast<size_t>(id - 1)];
}

int32_t MigProfileCompute(int32_t id) {
  const std::string_view name = MigProfileName(id);
  int32_t n = 0;
  std::from_chars(name.data(), name.data() + name.size(), n);
  return n;
}

int64_t MigMilli(int32_t compute) {
  if (compute >= kMigComputeSlices) return 1000;
  return int64_t{compute} * 1000 / kMigComputeSlices;
}

std::string FormatMigPlacement(const MigPlacement& p) {
  return std::string(MigProfileName(p.profile)) + "@" + std::to_string(p.start);
}

MigPlacement ParseMigPlacement(std::string_view text) {
  MigPlacement p{0, -1};
  const size_t at = text.find('@');
  p.profile = MigProfileId(text.substr(0, at));
  if (at != std::string_view::npos) {
    const std::string_view start = text.substr(at + 1);
    int32_t s = -1;
    auto [end, ec] = std::from_chars(start.data(), start.data() + start.size(), s);
    if (ec != std::errc() || end != start.data() + start.size() || start.empty()) {
      p.profile = 0;
    } else {
      p.start = s;
    }
  }
  return p;
}

std::string MigLayoutError(const MigModel& model, std::span<const MigPlacement> instances) {
  uint32_t used = 0;
  int32_t compute = 0;
  for (const MigPlacement& i : instances) {
    const MigProfile* p = model.Find(i.profile);
    if (p == nullptr) {
      return std::string(model.model) + " has no MIG profile " +
             std::string(MigProfileName(i.profile));
    }
    if (i.start < 0 || i.start >= kMigMemorySlots || (p->starts & (1U << i.start)) == 0) {
      std::string allowed;
      for (int32_t s = 0; s < kMigMemorySlots; ++s) {
        if ((p->starts & (1U << s)) != 0)
          allowed += (allowed.empty() ? "" : ", ") + std::to_string(s);
      }
      return std::string(p->name) + " cannot start at memory slot " + std::to_string(i.start) +
             " on " + std::string(model.model) + " (allowed: " + allowed + ")";
    }
    const uint32_t mask = MigSlotMask(*p, i.start);
    if ((used & mask) != 0) {
      return FormatMigPlacement(i) + " overlaps another instance's memory slots";
    }
    used |= mask;
    compute += p->compute;
    const auto same = std::count_if(instances.begin(), instances.end(),
                                    [&](const MigPlacement& o) { return o.profile == i.profile; });
    if (same > p->max_count) {
      return "at most " + std::to_string(p->max_count) + " " + std::string(p->name) +
             " instance(s) fit one device";
    }
  }
  if (compute > kMigComputeSlices) {
    return "the instances take " + std::to_string(compute) + " compute slices; a device has " +
           std::to_string(kMigComputeSlices);
  }
  return "";
}

int32_t MigLowestFreeStart(const MigModel& model, std::span<const MigPlacement> instances,
                           const MigProfile& profile) {
  uint32_t used = 0;
  int32_t compute = 0;
  int32_t same = 0;
  for (const MigPlacement& i : instances) {
    const MigProfile* p = model.Find(i.profile);
    if (p == nullptr) continue;
    used |= MigSlotMask(*p, i.start);
    compute += p->compute;
    same += i.profile == profile.id ? 1 : 0;
  }
  if (compute + profile.compute > kMigComputeSlices || same >= profile.max_count) return -1;
  for (int32_t s = 0; s < kMigMemorySlots; ++s) {
    if ((profile.starts & (1U << s)) != 0 && (used & MigSlotMask(profile, s)) == 0) return s;
  }
  return -1;
}

}  // namespace sluice
