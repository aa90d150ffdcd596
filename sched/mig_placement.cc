#include "sched/mig_placement.h"

namespace sluice {
namespace {

// Whether one more instance of `q` could go on `m` if the instances in
// `busy` (slots, compute) were all that stood there; free instances of `q`
// that survive count too.
bool Fits(const MigDeviceState& m, const MigProfile& q, uint32_t busy_slots, int32_t busy_compute,
          uint32_t destroyed_slots) {
  for (const MigInstanceState& i : m.instances) {
    if (i.free() && i.placement.profile == q.id &&
        (MigSlotMask(q, i.placement.start) & (busy_slots | destroyed_slots)) == 0) {
      return true;
    }
  }
  if (!m.repartitionable || busy_compute + q.compute > kMigComputeSlices) return false;
  for (int32_t s = 0; s < kMigMemorySlots; ++s) {
    if ((q.starts & (1U << s)) != 0 && (MigSlotMask(q, s) & busy_slots) == 0) return true;
  }
  return false;
}

int64_t Room(const MigDeviceState& m, std::span<const MigDemand> pending, uint32_t busy_slots,
             int32_t busy_compute, uint32_t destroyed_slots) {
  int64_t room = 0;
  for (const MigDemand& d : pending) {
    const MigProfile* q = m.model->Find(d.profile);
    if (q != nullptr && Fits(m, *q, busy_slots, busy_compute, destroyed_slots)) {
      room += d.pods * q->compute;
    }
  }
  return room;
}

}  // namespace

std::optional<MigCandidate> BestMigInstance(std::span<const MigDeviceState> devices,
                                            int32_t profile, std::span<const MigDemand> pending,
                                            bool binpack, bool pipelined) {
  std::optional<MigCandidate> best;
  auto consider = [&](const MigCandidate& c) {
    if (!best || c.Key() < best->Key()) best = c;
  };
  for (const MigDeviceState& m : devices) {
    const MigProfile* p = m.model == nullptr ? nullptr : m.model->Find(profile);
    if (p == nullptr) continue;
    const uint32_t busy = m.BusySlots();
    const int32_t compute = m.BusyCompute();
    const int32_t left = kMigComputeSlices - compute - p->compute;
    const int32_t packing = binpack ? left : -left;
    // An instance that exists: free, or (pipelined) with its pod exiting.
    for (const MigInstanceState& i : m.instances) {
      if (i.placement.profile != profile || i.held != 0) continue;
      if (i.releasing != 0 && !pipelined) continue;
      MigCandidate c;
      c.gpu = m.gpu;
      c.start = i.placement.start;
      c.releasing = i.releasing != 0;
      c.packing = packing;
      consider(c);
    }
    // A pipelined pod waits on an instance that exists; it never makes one.
    if (!m.repartitionable || left < 0 || pipelined) continue;
    const int64_t before = Room(m, pending, busy, compute, 0);
    for (int32_t s = 0; s < kMigMemorySlots; ++s) {
      const uint32_t mask = MigSlotMask(*p, s);
      if ((p->starts & (1U << s)) == 0 || (mask & busy) != 0) continue;
      if (m.Find(profile, s) != nullptr) continue;  // exists: taken above if free
      MigCandidate c;
      c.gpu = m.gpu;
      c.start = s;
      c.repartition = true;
      c.packing = packing;
      uint32_t destroyed_slots = 0;
      int32_t kept_compute = p->compute;
      int32_t kept_same = 1;
      for (const MigInstanceState& i : m.instances) {
        const MigProfile* q = m.model->Find(i.placement.profile);
        if (q == nullptr) continue;
        if ((MigSlotMask(*q, i.placement.start) & mask) != 0) {
          ++c.destroyed;
          destroyed_slots |= MigSlotMask(*q, i.placement.start);
        } else {
          kept_compute += q->compute;
          kept_same += q->id == profile ? 1 : 0;
        }
      }
      if (kept_compute > kMigComputeSlices || kept_same > p->max_count) continue;
      c.room_lost = before - Room(m, pending, busy | mask, compute + p->compute, destroyed_slots);
      consider(c);
    }
  }
  return best;
}

}  // namespace sluice
