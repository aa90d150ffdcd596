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
//   SLUICE_FAKE_NVML_INIT_ERROR an NVML error code nvmlInit returns (9: driver not loaded)
//   SLUICE_FAKE_NVML_FAIL       "CALL,..." calls that return NVML_ERROR_UNKNOWN (999)
//
// The ABI (types, struct layouts, error codes) follows NVML's public header.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

extern "C" {

int nvmlInit_v2() {
  if (Fails("nvmlInit_v2")) return 999;
  std::string code = Env("SLUICE_FAKE_NVML_INIT_ERROR");
  if (!code.empty()) return std::atoi(code.c_str());
  initialized = true;
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
    case 15:
      return "GPU is lost";
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
  std::vector<MigSlot> all = MigInstances();
  if (index >= 8 || MigOf(all, dev, index) == nullptr) return 6;  // NVML_ERROR_NOT_FOUND
  *mig = &mig_handles[dev * 8 + index];
  return 0;
}

}  // extern "C"
