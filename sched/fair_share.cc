#include "sched/fair_share.h"

#include <algorithm>
#include <numeric>

#include "common/check.h"
#include "common/int128.h"

namespace sluice {
namespace {

// One child of the parent being divided, for one resource.
struct Claimant {
  size_t queue;       // index in the queue vector (also its age order)
  int64_t weight;     // the water-filling weight
  int64_t need;       // how much more it can use
  int64_t given = 0;  // handed out in this water-filling
};

// Splits up to `amount` among `claimants` in proportion to their weights,
// never giving one more than its need. Returns what was handed out.
int64_t WaterFill(std::vector<Claimant>& claimants, int64_t amount, int64_t unit,
                  const std::vector<Queue>& queues) {
  std::vector<Claimant*> active;
  for (Claimant& c : claimants) {
    if (c.weight > 0 && c.need > 0) active.push_back(&c);
  }
  int64_t left = amount;
  // Rounds: while some claimant needs no more than its proportional part,
  // satisfy it fully and divide the rest again among the others.
  while (left > 0 && !active.empty()) {
    Int128 total_weight = 0;
    for (Claimant* c : active) total_weight += c->weight;
    bool capped = false;
    for (size_t i = 0; i < active.size();) {
      Claimant* c = active[i];
      if (static_cast<Int128>(c->need) * total_weight <= static_cast<Int128>(left) * c->weight) {
        c->given += c->need;
        left -= c->need;
        c->need = 0;
        active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
        capped = true;
      } else {
        ++i;
      }
    }
    if (capped) continue;
    // Nobody is capped: everyone gets its proportional part, whole units
    // first, then the remaining units one at a time by largest remainder.
    struct Part {
      Claimant* c;
      Int128 remainder;  // scaled by total_weight
    };
    std::vector<Part> parts;
    int64_t handed = 0;
    for (Claimant* c : active) {
      Int128 exact = static_cast<Int128>(left) * c->weight;  // / total_weight
      int64_t units = static_cast<int64_t>(exact / (total_weight * unit));
      int64_t whole = units * unit;
      c->given += whole;
      c->need -= whole;
      handed += whole;
      parts.push_back({c, exact - static_cast<Int128>(whole) * total_weight});
    }
    left -= handed;
    std::sort(parts.begin(), parts.end(), [&](const Part& a, const Part& b) {
      if (a.remainder != b.remainder) return a.remainder > b.remainder;
      if (a.c->queue != b.c->queue) return a.c->queue < b.c->queue;
      return queues[a.c->queue].name < queues[b.c->queue].name;
    });
    bool progress = true;
    while (left > 0 && progress) {
      progress = false;
      for (Part& p : parts) {
        if (left == 0) break;
        int64_t give = std::min({unit, left, p.c->need});
        if (give <= 0) continue;
        p.c->given += give;
        p.c->need -= give;
        left -= give;
        progress = true;
      }
    }
    break;
  }
  return amount - left;
}

int64_t Capped(int64_t v, int64_t limit) { return limit < 0 ? v : std::min(v, limit); }

// Priorities of `children`, highest first, without repeats.
std::vector<int32_t> Tiers(const std::vector<Queue>& queues, const std::vector<size_t>& children) {
  std::vector<int32_t> tiers;
  for (size_t c : children) tiers.push_back(queues[c].priority);
  std::sort(tiers.begin(), tiers.end(), std::greater<>());
  tiers.erase(std::unique(tiers.begin(), tiers.end()), tiers.end());
  return tiers;
}

// Divides `capacity` of resource `r` among `children`, writing their shares.
void Divide(const std::vector<Queue>& queues, const std::vector<size_t>& children, Resource r,
            int64_t capacity, const std::vector<int64_t>& requestable,
            std::vector<int64_t>* share) {
  const int64_t unit = FairShareCalculator::Unit(r);
  int64_t left = capacity;
  const std::vector<int32_t> tiers = Tiers(queues, children);
  // Deserved phase.
  for (int32_t tier : tiers) {
    std::vector<Claimant> claim;
    int64_t total = 0;
    for (size_t c : children) {
      if (queues[c].priority != tier) continue;
      int64_t quota = queues[c].resource(r).quota;
      int64_t want = quota < 0 ? requestable[c] : std::min(quota, requestable[c]);
      claim.push_back({c, want, want});
      total += want;
    }
    if (total <= left) {
      for (Claimant& c : claim) (*share)[c.queue] += c.need;
      left -= total;
    } else {
      left -= WaterFill(claim, left, unit, queues);
      for (Claimant& c : claim) (*share)[c.queue] += c.given;
    }
  }
  // Over-quota phase.
  for (int32_t tier : tiers) {
    if (left <= 0) break;
    std::vector<Claimant> claim;
    for (size_t c : children) {
      if (queues[c].priority != tier) continue;
      claim.push_back({c, queues[c].resource(r).weight_milli, requestable[c] - (*share)[c]});
    }
    left -= WaterFill(claim, left, unit, queues);
    for (Claimant& c : claim) (*share)[c.queue] += c.given;
  }
}

}  // namespace

int64_t FairShareCalculator::Unit(Resource r) {
  switch (r) {
    case Resource::kGpu:  // one GPU
    case Resource::kCpu:  // one core
      return 1000;
    case Resource::kMemory:
      return 1024;
  }
  return 1;
}

std::vector<Resources> FairShareCalculator::Compute(const std::vector<Queue>& queues,
                                                    const std::vector<Resources>& request,
                                                    const Resources& capacity) {
  const size_t n = queues.size();
  SLUICE_CHECK(request.size() == n);
  // Children lists, and an order in which every child comes before its parent.
  std::vector<size_t> roots;
  std::vector<std::vector<size_t>> children(n);
  for (size_t q = 0; q < n; ++q) {
    if (queues[q].parent.valid()) {
      children[queues[q].parent.index()].push_back(q);
    } else {
      roots.push_back(q);
    }
  }
  std::vector<size_t> bottom_up(n);
  std::iota(bottom_up.begin(), bottom_up.end(), size_t{0});
  std::stable_sort(bottom_up.begin(), bottom_up.end(),
                   [&](size_t a, size_t b) { return queues[a].depth > queues[b].depth; });

  std::vector<Resources> share(n);
  for (Resource r : kAllResources) {
    // requestable(q) = min(limit, request of the subtree).
    std::vector<int64_t> requestable(n, 0);
    for (size_t q : bottom_up) {
      int64_t req = 0;
      if (children[q].empty()) {
        req = request[q][r];
      } else {
        for (size_t c : children[q]) req += requestable[c];
      }
      requestable[q] = Capped(req, queues[q].resource(r).limit);
    }
    std::vector<int64_t> s(n, 0);
    Divide(queues, roots, r, capacity[r], requestable, &s);
    // Top-down: parents come after children in bottom_up, so walk it backwards.
    for (auto it = bottom_up.rbegin(); it != bottom_up.rend(); ++it) {
      if (!children[*it].empty()) Divide(queues, children[*it], r, s[*it], requestable, &s);
    }
    for (size_t q = 0; q < n; ++q) share[q][r] = s[q];
  }
  return share;
}

}  // namespace sluice
