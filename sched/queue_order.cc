#include "sched/queue_order.h"

#include "common/check.h"

namespace sluice {

bool QueueOrder::Key::operator<(const Key& o) const {
  if (over_fair_share != o.over_fair_share) return !over_fair_share;
  if (over_quota != o.over_quota) return !over_quota;
  if (neg_priority != o.neg_priority) return neg_priority < o.neg_priority;
  // Compare share_num/share_den with o's; a zero denominator is infinity.
  const bool inf = share_den == 0, o_inf = o.share_den == 0;
  if (inf != o_inf) return o_inf;
  if (!inf) {
    Int128 lhs = share_num * o.share_den, rhs = o.share_num * share_den;
    if (lhs != rhs) return lhs < rhs;
  }
  return age < o.age;
}

QueueOrder::QueueOrder(const Snapshot& snapshot, const ClusterState& state,
                       const std::vector<Resources>& fair_share,
                       std::vector<std::vector<WorkloadId>> candidates,
                       const std::vector<Resources>& demand)
    : snapshot_(snapshot),
      state_(state),
      fair_share_(fair_share),
      demand_(demand),
      candidates_(std::move(candidates)),
      next_(snapshot.queues.size(), 0),
      cache_(snapshot.queues.size()) {
  SLUICE_CHECK(candidates_.size() == snapshot.queues.size());
  for (size_t q = 0; q < snapshot.queues.size(); ++q) {
    if (!snapshot.queues[q].parent.valid()) roots_.emplace_back(static_cast<int32_t>(q));
  }
}

QueueOrder::Key QueueOrder::MakeKey(QueueId q, WorkloadId job) const {
  const Queue& queue = snapshot_.queue(q);
  const Resources after = state_.allocated(q) + demand_[job.index()];
  const Resources& fair = fair_share_[q.index()];
  Key k;
  k.neg_priority = -queue.priority;
  k.age = q.value();
  k.share_num = 0;
  k.share_den = 1;
  for (Resource r : kAllResources) {
    if (after[r] > fair[r]) k.over_fair_share = true;
    const int64_t quota = queue.resource(r).quota;
    if (quota >= 0 && after[r] > quota) k.over_quota = true;
    if (after[r] == 0) continue;
    // share = after / fair; keep the largest.
    if (fair[r] == 0) {
      k.share_num = 1;
      k.share_den = 0;
    } else if (k.share_den != 0 && Int128{after[r]} * k.share_den > k.share_num * fair[r]) {
      k.share_num = after[r];
      k.share_den = fair[r];
    }
  }
  return k;
}

const QueueOrder::Entry& QueueOrder::Refresh(QueueId q) {
  Entry& e = cache_[q.index()];
  if (!e.dirty) return e;
  e.dirty = false;
  e.job = WorkloadId::Invalid();
  const Queue& queue = snapshot_.queue(q);
  if (queue.is_leaf()) {
    const std::vector<WorkloadId>& c = candidates_[q.index()];
    if (next_[q.index()] < c.size()) e.job = c[next_[q.index()]];
  } else {
    const Entry* best = nullptr;
    for (QueueId child : queue.children) {
      const Entry& ce = Refresh(child);
      if (ce.job.valid() && (best == nullptr || ce.key < best->key)) best = &ce;
    }
    if (best != nullptr) e.job = best->job;
  }
  if (e.job.valid()) {
    e.key = MakeKey(q, e.job);
    e.allocated = state_.allocated(q);
  }
  return e;
}

WorkloadId QueueOrder::Next() {
  const Entry* best = nullptr;
  for (QueueId r : roots_) {
    const Entry& e = Refresh(r);
    if (e.job.valid() && (best == nullptr || e.key < best->key)) best = &e;
  }
  return best == nullptr ? WorkloadId::Invalid() : best->job;
}

void QueueOrder::Pop(WorkloadId w) {
  QueueId leaf = snapshot_.workload(w).queue;
  const std::vector<WorkloadId>& c = candidates_[leaf.index()];
  SLUICE_CHECK(next_[leaf.index()] < c.size() && c[next_[leaf.index()]] == w);
  ++next_[leaf.index()];
  // When the leaf's next candidate adds what this one did and no queue on
  // the path holds anything else since its key was made, every key is as
  // it was: the path's entries just move on to the next candidate.
  const size_t next = next_[leaf.index()];
  bool same = next < c.size() && demand_[c[next].index()] == demand_[w.index()];
  for (QueueId q = leaf; same && q.valid(); q = snapshot_.queue(q).parent) {
    const Entry& e = cache_[q.index()];
    same = !e.dirty && e.job == w && e.allocated == state_.allocated(q);
  }
  if (same) {
    for (QueueId q = leaf; q.valid(); q = snapshot_.queue(q).parent)
      cache_[q.index()].job = c[next];
    return;
  }
  for (QueueId q = leaf; q.valid(); q = snapshot_.queue(q).parent) cache_[q.index()].dirty = true;
}

}  // namespace sluice
