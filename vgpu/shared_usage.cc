#include "vgpu/shared_usage.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sluice::vgpu {
namespace {

constexpr uint64_t kMagic = 0x736c7569636501ULL;  // "sluice" and the layout's version
constexpr uint64_t kReclaiming = 1ULL << 63;

uint64_t Self() { return static_cast<uint64_t>(getpid()); }

// mkdir -p for the runtime dir (the executor usually made it already).
void MakeDirs(const std::string& file) {
  for (size_t at = file.find('/', 1); at != std::string::npos; at = file.find('/', at + 1)) {
    mkdir(file.substr(0, at).c_str(), 0700);
  }
}

void* MapFile(const std::string& path, size_t size, std::string* error) {
  MakeDirs(path);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  struct stat st {};
  // Growing a new file zero-fills it, and all zeroes is an empty region, so
  // processes that race to create it need no further agreement.
  if (fstat(fd, &st) != 0 ||
      (static_cast<size_t>(st.st_size) < size && ftruncate(fd, static_cast<off_t>(size)) != 0)) {
    *error = "cannot size " + path + ": " + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    *error = "cannot map " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  return p;
}

}  // namespace

int64_t StartTicks(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return -1;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields resume after the command name's last ')': state is field 3,
  // starttime field 22.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] == '\0' || p[2] == 'Z') return -1;
  p += 2;
  for (int field = 3; field < 22 && p != nullptr; ++field) {
    p = std::strchr(p, ' ');
    if (p != nullptr) ++p;
  }
  return p == nullptr ? -1 : std::strtoll(p, nullptr, 10);
}

std::unique_ptr<SharedUsage> SharedUsage::Open(const std::string& path, std::string* error) {
  auto* region = static_cast<Region*>(MapFile(path, sizeof(Region), error));
  uint64_t expected = 0;
  if (region != nullptr && !region->magic.compare_exchange_strong(expected, kMagic) &&
      expected != kMagic) {
    *error = path + " holds another layout (version " + std::to_string(expected & 0xff) + ")";
    munmap(region, sizeof(Region));
    region = nullptr;
  }
  if (region == nullptr) {
    // Shared with forks at least, so a fork's usage still counts.
    void* p =
        mmap(nullptr, sizeof(Region), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    region = static_cast<Region*>(p);
    region->magic.store(kMagic);
  }
  std::unique_ptr<SharedUsage> usage(new SharedUsage(region));
  if (!usage->Claim()) {
    *error = "no free slot in " + path + " (" + std::to_string(kSlots) + " processes)";
    return nullptr;
  }
  // Whoever died since the last look no longer counts, from the start.
  usage->ReclaimDead();
  return usage;
}

SharedUsage::~SharedUsage() {
  Leave();
  munmap(region_, sizeof(Region));
}

bool SharedUsage::Claim() {
  const int64_t ticks = StartTicks(getpid());
  for (int attempt = 0; attempt < 2; ++attempt) {
    // A slot with our pid and start time is ours from before an exec: the
    // driver freed that image's memory, so it starts empty again.
    for (Slot& s : region_->slots) {
      if (s.owner.load() == Self() && s.start_ticks.load() == ticks) {
        for (auto& u : s.used) u.store(0);
        mine_ = &s;
        return true;
      }
    }
    for (Slot& s : region_->slots) {
      uint64_t free_slot = 0;
      if (s.owner.compare_exchange_strong(free_slot, Self())) {
        s.start_ticks.store(ticks);
        mine_ = &s;
        return true;
      }
    }
    ReclaimDead();
  }
  return false;
}

void SharedUsage::AfterFork() {
  mine_ = nullptr;
  Claim();
}

void SharedUsage::Leave() {
  if (mine_ == nullptr) return;
  for (auto& u : mine_->used) u.store(0);
  mine_->start_ticks.store(0);
  mine_->owner.store(0);
  mine_ = nullptr;
}

bool SharedUsage::Reserve(int device, uint64_t bytes, uint64_t limit) {
  if (mine_ == nullptr || device < 0 || device >= kMaxDevices) return true;
  mine_->used[device].fetch_add(bytes);
  if (Used(device) <= limit) return true;
  // Refused: first make sure no dead process stands in the way.
  if (ReclaimDead() > 0 && Used(device) <= limit) return true;
  mine_->used[device].fetch_sub(bytes);
  return false;
}

void SharedUsage::Release(int device, uint64_t bytes) {
  if (mine_ == nullptr || device < 0 || device >= kMaxDevices) return;
  mine_->used[device].fetch_sub(bytes);
}

uint64_t SharedUsage::Used(int device) const {
  if (device < 0 || device >= kMaxDevices) return 0;
  uint64_t sum = 0;
  for (const Slot& s : region_->slots) sum += s.used[device].load();
  return sum;
}

uint64_t SharedUsage::Mine(int device) const {
  if (mine_ == nullptr || device < 0 || device >= kMaxDevices) return 0;
  return mine_->used[device].load();
}

bool SharedUsage::OwnerDead(uint64_t owner, int64_t recorded_ticks) {
  if (owner == 0) return false;
  const auto pid = static_cast<int>(owner & ~kReclaiming);
  if (owner & kReclaiming) return kill(pid, 0) != 0 && errno == ESRCH;
  const int64_t ticks = StartTicks(pid);
  // start_ticks is 0 for an instant after a claim: judge by the pid alone.
  return ticks < 0 || (recorded_ticks != 0 && ticks != recorded_ticks);
}

int SharedUsage::ReclaimDead() {
  int reclaimed = 0;
  for (Slot& s : region_->slots) {
    if (&s == mine_) continue;
    // The owner is read once: the claim below fails if anyone (a new
    // process, another reclaimer) took the slot since.
    uint64_t owner = s.owner.load();
    if (!OwnerDead(owner, s.start_ticks.load())) continue;
    if (!s.owner.compare_exchange_strong(owner, kReclaiming | Self())) continue;
    for (auto& u : s.used) u.store(0);
    s.start_ticks.store(0);
    s.owner.store(0);
    ++reclaimed;
  }
  return reclaimed;
}

std::vector<int> SharedUsage::Pids() const {
  std::vector<int> out;
  for (const Slot& s : region_->slots) {
    const uint64_t owner = s.owner.load();
    if (owner != 0 && (owner & kReclaiming) == 0) out.push_back(static_cast<int>(owner));
  }
  return out;
}

}  // namespace sluice::vgpu
