// A fake libnvidia-ml.so.1 for machines without an NVIDIA GPU: it answers
// the NVML calls sluice makes from a description in environment variables,
// read again on every call so a test can change the machine under it.
//
//   SLUICE_FAKE_NVML_DEVICES    "NAME:MEMORY_MIB[:UTIL%[:USED_MIB]],..."
//   SLUICE_FAKE_NVML_PROCESSES  "INDEX:PID:USED_MIB,..." (PID "self": the caller)
//   SLUICE_FAKE_NVML_PROCESSES_FILE  a file holding the same list (read on
//                               every call, so a test can change it while a
//                               server that loaded the fake runs)
//   SLUICE_FAKE_NVML_PROCESS_UTIL "INDEX:PID:SM%[:TIMESTAMP_US],...": per-process
//                               utilisation samples (timestamp 1 when left out)
//   SLUICE_FAKE_NVML_PROCESS_UTIL_FILE  a file holding the same list
//   SLUICE_FAKE_NVML_MIG        "INDEX,..." devices in MIG mode
//   SLUICE_FAKE_NVML_MIG_INSTANCES "INDEX:MEMORY_MIB,..." one MIG instance each
//                               (MIG devices only; see SLUICE_FAKE_NVML_MIG_LAYOUT
//                               below for GPU and compute instances)
//   SLUICE_FAKE_NVML_INIT_ERROR an NVML error code nvmlInit returns (9: driver not loaded)
//   SLUICE_FAKE_NVML_FAIL       "CALL,..." calls that return NVML_ERROR_UNKNOWN (999)
//
// The ABI (types, struct layouts, error codes) follows NVML's public header.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/mig.h"

namespace {

struct Device {
  std::string name;
  unsigned long long memory_bytes = 0;  // NOLINT(google-runtime-int)
  unsigned int util = 0;
  unsigned long long used_bytes = 0;  // NOLINT(google-runtime-int)
};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::vector<Device> Devices() {
  std::vector<Device> out;
  for (const std::string& d : Split(Env("SLUICE_FAKE_NVML_DEVICES"), ',')) {
    std::vector<std::string> f = Split(d, ':');
    Device dev;
    dev.name = f.empty() ? "Fake GPU" : f[0];
    dev.memory_bytes = (f.size() > 1 ? std::strtoull(f[1].c_str(), nullptr, 10) : 0) << 20;
    dev.util = f.size() > 2 ? static_cast<unsigned int>(std::atoi(f[2].c_str())) : 0;
    dev.used_bytes = (f.size() > 3 ? std::strtoull(f[3].c_str(), nullptr, 10) : 0) << 20;
    out.push_back(dev);
  }
  return out;
}

bool Fails(const char* call) {
  for (const std::string& c : Split(Env("SLUICE_FAKE_NVML_FAIL"), ',')) {
    if (c == call) return true;
  }
  return false;
}

bool initialized = false;

// A handle points at the device's slot in this array (never null); a MIG
// instance's handle at its slot in the second (device * 8 + instance).
char handles[1024];
char mig_handles[1024 * 8];

struct MigSlot {
  unsigned int device;
  unsigned long long memory_bytes;  // NOLINT(google-runtime-int)
};
std::vector<MigSlot> MigInstances() {
  std::vector<MigSlot> out;
  for (const std::string& m : Split(Env("SLUICE_FAKE_NVML_MIG_INSTANCES"), ',')) {
    std::vector<std::string> f = Split(m, ':');
    if (f.size() != 2) continue;
    out.push_back({static_cast<unsigned int>(std::atoi(f[0].c_str())),
                   std::strtoull(f[1].c_str(), nullptr, 10) << 20});
  }
  return out;
}
bool IsMig(void* device) {
  char* p = static_cast<char*>(device);
  return p >= mig_handles && p < mig_handles + sizeof mig_handles;
}
// The n-th instance (in list order) of `device`, or null.
const MigSlot* MigOf(const std::vector<MigSlot>& all, unsigned int device, unsigned int n) {
  for (const MigSlot& s : all) {
    if (s.device != device) continue;
    if (n == 0) return &s;
    --n;
  }
  return nullptr;
}
uintptr_t IndexOf(void* device) {
  return static_cast<uintptr_t>(static_cast<char*>(device) - handles);
}

// Checks the handle against the devices now: one that disappeared is lost.
int Lookup(void* device, Device* out) {
  if (!initialized) return 1;  // NVML_ERROR_UNINITIALIZED
  std::vector<Device> devices = Devices();
  const uintptr_t i = IndexOf(device);
  if (i >= devices.size()) return 15;  // NVML_ERROR_GPU_IS_LOST
  *out = devices[i];
  return 0;
}

struct Memory {
  unsigned long long total, free, used;  // NOLINT(google-runtime-int)
};
struct Utilization {
  unsigned int gpu, memory;
};
struct MemoryV2 {
  unsigned int version;
  unsigned long long total, reserved, free, used;  // NOLINT(google-runtime-int)
};
struct ProcessUtilization {
  unsigned int pid;
  unsigned long long timestamp;  // NOLINT(google-runtime-int)
  unsigned int sm, memory, encoder, decoder;
};

// A list from the variable `name`, or from the file `name`_FILE names.
std::string ListFrom(const std::string& name) {
  std::string list = Env(name.c_str());
  if (std::string file = Env((name + "_FILE").c_str()); !file.empty()) {
    std::ifstream in(file);
    std::getline(in, list);
  }
  return list;
}

struct ProcessInfo {
  unsigned int pid;
  unsigned long long used;  // NOLINT(google-runtime-int)
  unsigned int gpu_instance, compute_instance;
};

}  // namespace

// ---- MIG GPU and compute instances ---------------------------------------
//
//   SLUICE_FAKE_NVML_MIG_LAYOUT  "INDEX:PROFILE@START,..." the GPU instances
//                                (each with one compute instance taking all its
//                                slices) that devices in MIG mode start with;
//                                with it, MIG device handles list these
//   SLUICE_FAKE_NVML_MIG_IN_USE  "INDEX:START,..." instances that run work: NVML
//                                refuses to destroy them (NVML_ERROR_IN_USE)
//
// Profiles, placements and counts follow NVIDIA's MIG user guide (the same
// table sluice schedules with, core/mig.h); profile ids are those nvidia-smi
// shows on A100 and H100 (19 = 1g, 15 = 1g with two memory slots, 14 = 2g,
// 9 = 3g, 5 = 4g, 0 = 7g, 20 = 1g+me). The layout is read once after
// nvmlInit and then kept in this process, as the driver keeps it.
namespace {

constexpr int kMigDevices = 128;
constexpr int kErrorInUse = 19;
constexpr int kErrorInsufficientResources = 23;
constexpr int kErrorNotSupported = 3;
constexpr int kErrorInvalidArgument = 2;

// NVML_GPU_INSTANCE_PROFILE_* -> (row of sluice's table, profile id).
struct ProfileSlot {
  size_t row;
  unsigned int nvml;
  unsigned int id;
};
constexpr ProfileSlot kProfiles[] = {{0, 0, 19}, {1, 7, 20}, {2, 9, 15}, {3, 1, 14},
                                     {4, 2, 9},  {5, 3, 5},  {6, 4, 0}};

struct FakeGi {
  unsigned int id = 0;  // 1..7, the lowest free one
  size_t row = 0;
  unsigned int start = 0;
  bool has_ci = false;
};
struct FakeMigDevice {
  std::vector<FakeGi> gis;
};
bool mig_loaded = false;
FakeMigDevice mig_state[kMigDevices];
char gi_handles[kMigDevices * 8];
char ci_handles[kMigDevices * 8];

struct GiInfo {
  void* device;
  unsigned int id, profile_id;
  unsigned int start, size;
};
struct GiProfileInfo {
  unsigned int id, p2p, slice_count, instance_count, sm_count, ce, dec, enc, jpeg, ofa;
  unsigned long long memory_mb;  // NOLINT(google-runtime-int)
};
struct CiProfileInfo {
  unsigned int id, slice_count, instance_count, sm_count, ce, dec, enc, jpeg, ofa;
};
struct CiInfo {
  void* device;
  void* gpu_instance;
  unsigned int id, profile_id;
  unsigned int start, size;
};
struct Placement {
  unsigned int start, size;
};

const sluice::MigModel* ModelOf(size_t device) {
  std::vector<Device> devices = Devices();
  if (device >= devices.size()) return nullptr;
  std::string model = devices[device].name;
  if (model.rfind("NVIDIA ", 0) == 0) model = model.substr(7);
  for (char& c : model) c = c == ' ' ? '-' : c;
  return sluice::FindMigModel(model);
}

bool InMigMode(size_t device) {
  for (const std::string& i : Split(Env("SLUICE_FAKE_NVML_MIG"), ',')) {
    if (static_cast<size_t>(std::atoi(i.c_str())) == device) return true;
  }
  return false;
}

bool LayoutMode() { return !Env("SLUICE_FAKE_NVML_MIG_LAYOUT").empty(); }

const ProfileSlot* SlotOfRow(size_t row) {
  for (const ProfileSlot& s : kProfiles) {
    if (s.row == row) return &s;
  }
  return nullptr;
}

unsigned int FreeGiId(const FakeMigDevice& d) {
  for (unsigned int id = 1; id <= 7; ++id) {
    bool used = false;
    for (const FakeGi& g : d.gis) used = used || g.id == id;
    if (!used) return id;
  }
  return 0;
}

// Whether a `row` instance fits at `start` next to the device's instances.
int CanPlace(size_t device, size_t row, unsigned int start) {
  const sluice::MigModel* model = ModelOf(device);
  if (model == nullptr || row >= model->profiles.size()) return kErrorNotSupported;
  std::vector<sluice::MigPlacement> layout;
  for (const FakeGi& g : mig_state[device].gis) {
    layout.push_back({model->profiles[g.row].id, static_cast<int32_t>(g.start)});
  }
  layout.push_back({model->profiles[row].id, static_cast<int32_t>(start)});
  if (!sluice::MigLayoutError(*model, layout).empty()) {
    // A start the profile never takes is a bad argument; a taken one is a
    // lack of resources, as the driver says.
    const bool allowed = start < 8 && (model->profiles[row].starts & (1U << start)) != 0;
    return allowed ? kErrorInsufficientResources : kErrorInvalidArgument;
  }
  return 0;
}

void LoadMig() {
  if (mig_loaded) return;
  mig_loaded = true;
  for (FakeMigDevice& d : mig_state) d.gis.clear();
  for (const std::string& item : Split(Env("SLUICE_FAKE_NVML_MIG_LAYOUT"), ',')) {
    const size_t colon = item.find(':');
    if (colon == std::string::npos) continue;
    const auto device = static_cast<size_t>(std::atoi(item.substr(0, colon).c_str()));
    const sluice::MigModel* model = ModelOf(device);
    if (device >= kMigDevices || model == nullptr) continue;
    sluice::MigPlacement p = sluice::ParseMigPlacement(item.substr(colon + 1));
    for (size_t row = 0; row < model->profiles.size(); ++row) {
      if (model->profiles[row].id != p.profile) continue;
      if (p.start < 0) {
        std::vector<sluice::MigPlacement> layout;
        for (const FakeGi& g : mig_state[device].gis) {
          layout.push_back({model->profiles[g.row].id, static_cast<int32_t>(g.start)});
        }
        p.start = sluice::MigLowestFreeStart(*model, layout, model->profiles[row]);
      }
      if (p.start < 0 || CanPlace(device, row, static_cast<unsigned int>(p.start)) != 0) break;
      mig_state[device].gis.push_back(
          {FreeGiId(mig_state[device]), row, static_cast<unsigned int>(p.start), true});
    }
  }
}

bool InUse(size_t device, unsigned int start) {
  for (const std::string& item : Split(Env("SLUICE_FAKE_NVML_MIG_IN_USE"), ',')) {
    std::vector<std::string> f = Split(item, ':');
    if (f.size() == 2 && static_cast<size_t>(std::atoi(f[0].c_str())) == device &&
        static_cast<unsigned int>(std::atoi(f[1].c_str())) == start) {
      return true;
    }
  }
  return false;
}

// The GI a handle points at, or null.
FakeGi* GiOf(void* handle, char* base, size_t* device) {
  char* p = static_cast<char*>(handle);
  if (p < base || p >= base + static_cast<ptrdiff_t>(kMigDevices) * 8) return nullptr;
  const auto slot = static_cast<size_t>(p - base);
  *device = slot / 8;
  for (FakeGi& g : mig_state[*device].gis) {
    if (g.id == slot % 8) return &g;
  }
  return nullptr;
}

// Device checks shared by the GPU-instance calls.
int MigDeviceOf(void* device, size_t* index) {
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  *index = IndexOf(device);
  if (*index >= kMigDevices || !InMigMode(*index)) return kErrorNotSupported;
  LoadMig();
  return 0;
}

}  // namespace

extern "C" {

int nvmlDeviceGetGpuInstanceProfileInfo(void* device, unsigned int profile, GiProfileInfo* info) {
  size_t index = 0;
  if (int rc = MigDeviceOf(device, &index); rc != 0) return rc;
  if (Fails("nvmlDeviceGetGpuInstanceProfileInfo")) return 999;
  const sluice::MigModel* model = ModelOf(index);
  for (const ProfileSlot& s : kProfiles) {
    if (s.nvml != profile || model == nullptr || s.row >= model->profiles.size()) continue;
    const sluice::MigProfile& p = model->profiles[s.row];
    *info = {s.id,
             0,
             static_cast<unsigned int>(p.compute),
             static_cast<unsigned int>(p.max_count),
             static_cast<unsigned int>(p.compute * 16),
             1,
             0,
             0,
             0,
             0,
             static_cast<unsigned long long>(p.memory_mib)};  // NOLINT(google-runtime-int)
    return 0;
  }
  return kErrorNotSupported;
}

int nvmlDeviceGetGpuInstances(void* device, unsigned int profile_id, void** out,
                              unsigned int* count) {
  size_t index = 0;
  if (int rc = MigDeviceOf(device, &index); rc != 0) return rc;
  unsigned int n = 0;
  for (const FakeGi& g : mig_state[index].gis) {
    const ProfileSlot* s = SlotOfRow(g.row);
    if (s == nullptr || s->id != profile_id) continue;
    if (n < *count) out[n] = &gi_handles[index * 8 + g.id];
    ++n;
  }
  const bool fits = n <= *count;
  *count = n;
  return fits ? 0 : 7;
}

int nvmlGpuInstanceGetInfo(void* gi, GiInfo* info) {
  size_t device = 0;
  FakeGi* g = GiOf(gi, gi_handles, &device);
  if (g == nullptr) return kErrorInvalidArgument;
  const sluice::MigModel* model = ModelOf(device);
  *info = {&handles[device], g->id, SlotOfRow(g->row)->id, g->start,
           static_cast<unsigned int>(model->profiles[g->row].slots)};
  return 0;
}

int nvmlDeviceCreateGpuInstanceWithPlacement(void* device, unsigned int profile_id,
                                             const Placement* placement, void** gi) {
  size_t index = 0;
  if (int rc = MigDeviceOf(device, &index); rc != 0) return rc;
  if (Fails("nvmlDeviceCreateGpuInstanceWithPlacement")) return 999;
  const ProfileSlot* slot = nullptr;
  for (const ProfileSlot& s : kProfiles) slot = s.id == profile_id ? &s : slot;
  if (slot == nullptr || placement == nullptr) return kErrorInvalidArgument;
  if (int rc = CanPlace(index, slot->row, placement->start); rc != 0) return rc;
  FakeGi g{FreeGiId(mig_state[index]), slot->row, placement->start, false};
  mig_state[index].gis.push_back(g);
  *gi = &gi_handles[index * 8 + g.id];
  return 0;
}

int nvmlGpuInstanceDestroy(void* gi) {
  size_t device = 0;
  FakeGi* g = GiOf(gi, gi_handles, &device);
  if (g == nullptr) return kErrorInvalidArgument;
  if (Fails("nvmlGpuInstanceDestroy")) return 999;
  // The driver refuses while a compute instance is left, or work runs.
  if (g->has_ci || InUse(device, g->start)) return kErrorInUse;
  std::erase_if(mig_state[device].gis, [&](const FakeGi& o) { return o.id == g->id; });
  return 0;
}

int nvmlGpuInstanceGetComputeInstanceProfileInfo(void* gi, unsigned int profile,
                                                 unsigned int eng_profile, CiProfileInfo* info) {
  size_t device = 0;
  FakeGi* g = GiOf(gi, gi_handles, &device);
  if (g == nullptr) return kErrorInvalidArgument;
  const sluice::MigModel* model = ModelOf(device);
  const auto slices = static_cast<unsigned int>(model->profiles[g->row].compute);
  // NVML_COMPUTE_INSTANCE_PROFILE_N_SLICE: 0..4 = 1, 2, 3, 4, 7 slices.
  constexpr unsigned int kSlices[] = {1, 2, 3, 4, 7};
  if (profile >= 5 || eng_profile != 0 || kSlices[profile] > slices) return kErrorNotSupported;
  *info = {profile, kSlices[profile], slices / kSlices[profile], kSlices[profile] * 16, 0, 0, 0, 0,
           0};
  return 0;
}

int nvmlGpuInstanceCreateComputeInstance(void* gi, unsigned int profile_id, void** ci) {
  size_t device = 0;
  FakeGi* g = GiOf(gi, gi_handles, &device);
  if (g == nullptr) return kErrorInvalidArgument;
  if (Fails("nvmlGpuInstanceCreateComputeInstance")) return 999;
  if (g->has_ci) return kErrorInsufficientResources;
  (void)profile_id;
  g->has_ci = true;
  *ci = &ci_handles[device * 8 + g->id];
  return 0;
}

int nvmlGpuInstanceGetComputeInstances(void* gi, unsigned int profile_id, void** out,
                                       unsigned int* count) {
  size_t device = 0;
  FakeGi* g = GiOf(gi, gi_handles, &device);
  if (g == nullptr) return kErrorInvalidArgument;
  (void)profile_id;
  const unsigned int n = g->has_ci ? 1 : 0;
  if (n > 0 && *count > 0) out[0] = &ci_handles[device * 8 + g->id];
  const bool fits = n <= *count;
  *count = n;
  return fits ? 0 : 7;
}

int nvmlComputeInstanceDestroy(void* ci) {
  size_t device = 0;
  FakeGi* g = GiOf(ci, ci_handles, &device);
  if (g == nullptr || !g->has_ci) return kErrorInvalidArgument;
  if (Fails("nvmlComputeInstanceDestroy")) return 999;
  if (InUse(device, g->start)) return kErrorInUse;
  g->has_ci = false;
  return 0;
}

int nvmlDeviceGetGpuInstanceId(void* mig, unsigned int* id) {
  size_t device = 0;
  FakeGi* g = GiOf(mig, mig_handles, &device);
  if (g == nullptr) return kErrorInvalidArgument;
  *id = g->id;
  return 0;
}

int nvmlDeviceGetComputeInstanceId(void* mig, unsigned int* id) {
  size_t device = 0;
  if (GiOf(mig, mig_handles, &device) == nullptr) return kErrorInvalidArgument;
  *id = 0;
  return 0;
}

}  // extern "C"

extern "C" {

int nvmlInit_v2() {
  if (Fails("nvmlInit_v2")) return 999;
  std::string code = Env("SLUICE_FAKE_NVML_INIT_ERROR");
  if (!code.empty()) return std::atoi(code.c_str());
  initialized = true;
  mig_loaded = false;  // the driver's layout, as the environment gives it now
  return 0;
}

int nvmlShutdown() {
  initialized = false;
  return 0;
}

const char* nvmlErrorString(int rc) {
  switch (rc) {
    case 0:
      return "Success";
    case 1:
      return "Uninitialized";
    case 2:
      return "Invalid Argument";
    case 9:
      return "Driver Not Loaded";
    case 3:
      return "Not Supported";
    case 6:
      return "Not Found";
    case 15:
      return "GPU is lost";
    case 19:
      return "In use by another client";
    case 23:
      return "Insufficient resources";
    default:
      return "Unknown Error";
  }
}

int nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialized) return 1;
  if (Fails("nvmlDeviceGetCount_v2")) return 999;
  *count = static_cast<unsigned int>(Devices().size());
  return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (!initialized) return 1;
  if (Fails("nvmlDeviceGetHandleByIndex_v2")) return 999;
  if (index >= Devices().size() || index >= sizeof handles) return 2;
  *device = &handles[index];
  return 0;
}

int nvmlDeviceGetName(void* device, char* name, unsigned int length) {
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  if (Fails("nvmlDeviceGetName")) return 999;
  std::snprintf(name, length, "%s", d.name.c_str());
  return 0;
}

int nvmlDeviceGetUUID(void* device, char* uuid, unsigned int length) {
  if (IsMig(device)) {
    const auto slot = static_cast<unsigned int>(static_cast<char*>(device) - mig_handles);
    std::snprintf(uuid, length, "MIG-fa4e0000-0000-4000-8000-%06u%06u", slot / 8, slot % 8);
    return 0;
  }
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  std::snprintf(uuid, length, "GPU-fa4e0000-0000-4000-8000-%012u",
                static_cast<unsigned int>(IndexOf(device)));
  return 0;
}

int nvmlDeviceGetMemoryInfo(void* device, Memory* memory) {
  if (IsMig(device)) {
    const auto slot = static_cast<unsigned int>(static_cast<char*>(device) - mig_handles);
    if (LayoutMode()) {
      size_t index = 0;
      FakeGi* g = GiOf(device, mig_handles, &index);
      if (g == nullptr) return 15;
      const auto bytes = static_cast<unsigned long long>(  // NOLINT(google-runtime-int)
                             ModelOf(index)->profiles[g->row].memory_mib)
                         << 20;
      *memory = {bytes, bytes, 0};
      return 0;
    }
    std::vector<MigSlot> all = MigInstances();
    const MigSlot* s = MigOf(all, slot / 8, slot % 8);
    if (s == nullptr) return 15;
    *memory = {s->memory_bytes, s->memory_bytes, 0};
    return 0;
  }
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  if (Fails("nvmlDeviceGetMemoryInfo")) return 999;
  memory->total = d.memory_bytes;
  memory->used = d.used_bytes;
  memory->free = d.memory_bytes - d.used_bytes;
  return 0;
}

int nvmlDeviceGetHandleByUUID(const char* uuid, void** device) {
  if (!initialized) return 1;
  const std::string prefix = "GPU-fa4e0000-0000-4000-8000-";
  const std::string u = uuid == nullptr ? "" : uuid;
  if (u.size() != prefix.size() + 12 || u.compare(0, prefix.size(), prefix) != 0) return 6;
  const auto index = static_cast<size_t>(std::strtoul(u.c_str() + prefix.size(), nullptr, 10));
  if (index >= Devices().size()) return 6;  // NVML_ERROR_NOT_FOUND
  *device = &handles[index];
  return 0;
}

int nvmlDeviceGetIndex(void* device, unsigned int* index) {
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  *index = static_cast<unsigned int>(IndexOf(device));
  return 0;
}

int nvmlDeviceGetMemoryInfo_v2(void* device, MemoryV2* memory) {
  Memory m{};
  if (int rc = nvmlDeviceGetMemoryInfo(device, &m); rc != 0) return rc;
  memory->total = m.total;
  memory->reserved = 0;
  memory->free = m.free;
  memory->used = m.used;
  return 0;
}

// Like NVML: with no buffer it says how many samples there are
// (NVML_ERROR_INSUFFICIENT_SIZE); with none newer than last_seen,
// NVML_ERROR_NOT_FOUND.
int nvmlDeviceGetProcessUtilization(void* device, ProcessUtilization* samples, unsigned int* count,
                                    unsigned long long last_seen) {  // NOLINT(google-runtime-int)
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  std::vector<ProcessUtilization> found;
  for (const std::string& p : Split(ListFrom("SLUICE_FAKE_NVML_PROCESS_UTIL"), ',')) {
    std::vector<std::string> f = Split(p, ':');
    if (f.size() < 3 || static_cast<uintptr_t>(std::atoi(f[0].c_str())) != IndexOf(device))
      continue;
    const unsigned long long ts =  // NOLINT(google-runtime-int)
        f.size() > 3 ? std::strtoull(f[3].c_str(), nullptr, 10) : 1;
    if (ts <= last_seen) continue;
    found.push_back({static_cast<unsigned int>(std::atoi(f[1].c_str())), ts,
                     static_cast<unsigned int>(std::atoi(f[2].c_str())), 0, 0, 0});
  }
  if (found.empty()) {
    *count = 0;
    return 6;  // NVML_ERROR_NOT_FOUND
  }
  if (samples == nullptr || *count < found.size()) {
    *count = static_cast<unsigned int>(found.size());
    return 7;  // NVML_ERROR_INSUFFICIENT_SIZE
  }
  std::copy(found.begin(), found.end(), samples);
  *count = static_cast<unsigned int>(found.size());
  return 0;
}

int nvmlDeviceGetUtilizationRates(void* device, Utilization* util) {
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  if (Fails("nvmlDeviceGetUtilizationRates")) return 999;
  util->gpu = d.util;
  util->memory = 0;
  return 0;
}

int nvmlDeviceGetMigMode(void* device, unsigned int* current, unsigned int* pending) {
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  *current = 0;
  for (const std::string& i : Split(Env("SLUICE_FAKE_NVML_MIG"), ',')) {
    if (static_cast<uintptr_t>(std::atoi(i.c_str())) == IndexOf(device)) *current = 1;
  }
  *pending = *current;
  return 0;
}

int nvmlDeviceGetComputeRunningProcesses_v3(void* device, unsigned int* count, ProcessInfo* infos) {
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  unsigned int n = 0;
  for (const std::string& p : Split(ListFrom("SLUICE_FAKE_NVML_PROCESSES"), ',')) {
    std::vector<std::string> f = Split(p, ':');
    if (f.size() != 3 || static_cast<uintptr_t>(std::atoi(f[0].c_str())) != IndexOf(device))
      continue;
    if (n < *count) {
      infos[n] = {f[1] == "self" ? static_cast<unsigned int>(getpid())
                                 : static_cast<unsigned int>(std::atoi(f[1].c_str())),
                  std::strtoull(f[2].c_str(), nullptr, 10) << 20, 0, 0};
    }
    ++n;
  }
  const bool fits = n <= *count;
  *count = n;
  return fits ? 0 : 7;  // NVML_ERROR_INSUFFICIENT_SIZE
}

int nvmlDeviceGetMaxMigDeviceCount(void* device, unsigned int* count) {
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  *count = 7;
  return 0;
}

int nvmlDeviceGetMigDeviceHandleByIndex(void* device, unsigned int index, void** mig) {
  Device d;
  if (int rc = Lookup(device, &d); rc != 0) return rc;
  const auto dev = static_cast<unsigned int>(IndexOf(device));
  if (LayoutMode()) {
    // The compute instances of the device's GPU instances, in id order.
    size_t ignored = 0;
    if (int rc = MigDeviceOf(device, &ignored); rc != 0) return rc;
    std::vector<unsigned int> ids;
    for (const FakeGi& g : mig_state[dev].gis) {
      if (g.has_ci) ids.push_back(g.id);
    }
    std::sort(ids.begin(), ids.end());
    if (index >= ids.size()) return 6;  // NVML_ERROR_NOT_FOUND
    *mig = &mig_handles[dev * 8 + ids[index]];
    return 0;
  }
  std::vector<MigSlot> all = MigInstances();
  if (index >= 8 || MigOf(all, dev, index) == nullptr) return 6;  // NVML_ERROR_NOT_FOUND
  *mig = &mig_handles[dev * 8 + index];
  return 0;
}

}  // extern "C"
