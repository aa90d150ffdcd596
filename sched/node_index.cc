#include "sched/node_index.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

namespace sluice {

NodeIndex::NodeIndex(const Snapshot& snapshot, ClusterState* state)
    : snapshot_(snapshot),
      state_(state),
      binpack_(snapshot.strategy == PlacementStrategy::kBinpack) {
  // MIG mode and repartitioning set nodes apart: a MIG request matches a
  // class only by them, so a class must not mix them.
  using Signature = std::tuple<const std::string&, int64_t, const Labels&, size_t, bool>;
  std::map<Signature, int32_t> ids;
  // Classes that differ only in their labels form a group.
  using GroupSignature = std::tuple<const std::string&, int64_t, size_t, bool>;
  std::map<GroupSignature, int32_t> group_ids;
  class_of_.resize(snapshot.nodes.size());
  current_.resize(snapshot.nodes.size());
  slots_.resize(snapshot.nodes.size());
  in_shared_.assign(snapshot.nodes.size(), false);
  current_releasing_.resize(snapshot.nodes.size());
  in_releasing_.assign(snapshot.nodes.size(), false);
  changed_.assign(snapshot.nodes.size(), 0);
  for (size_t i = 0; i < snapshot.nodes.size(); ++i) {
    const Node& n = snapshot.nodes[i];
    auto [it, added] = ids.emplace(
        Signature(n.gpu_model, n.gpu_memory_mib, n.labels, n.mig.empty() ? 0 : 1, n.mig_dynamic),
        static_cast<int32_t>(classes_.size()));
    if (added) {
      classes_.push_back(NodeClass{&n, {}, {}, {}, {}, 0, {}});
      auto [g, new_group] = group_ids.emplace(
          GroupSignature(n.gpu_model, n.gpu_memory_mib, n.mig.empty() ? 0 : 1, n.mig_dynamic),
          static_cast<int32_t>(groups_.size()));
      if (new_group) groups_.push_back(NodeClass{&n, {}, {}, {}, {}, 0, {}});
      group_of_class_.push_back(g->second);
      classes_in_group_.resize(groups_.size(), 0);
      ++classes_in_group_[static_cast<size_t>(g->second)];
    }
    class_of_[i] = it->second;
    classes_[static_cast<size_t>(it->second)].nodes.emplace_back(static_cast<int32_t>(i));
  }
  // A group of one class is that class: only groups of several keep sets
  // of their own.
  for (size_t c = 0; c < classes_.size(); ++c) {
    const size_t g = static_cast<size_t>(group_of_class_[c]);
    if (all_groups_.size() <= g) all_groups_.resize(g + 1, nullptr);
    if (all_groups_[g] == nullptr) {
      all_groups_[g] = classes_in_group_[g] > 1 ? &groups_[g] : &classes_[c];
    }
  }
  for (size_t i = 0; i < snapshot.nodes.size(); ++i) Insert(NodeId(static_cast<int32_t>(i)));
  state_->AddObserver(this);
}

NodeIndex::~NodeIndex() { state_->RemoveObserver(this); }

NodeIndex::Entry NodeIndex::KeyOf(NodeId n) const {
  const int64_t sign = binpack_ ? 1 : -1;
  return Entry{sign * state_->free_gpu(n), sign * state_->free_cpu(n),
               sign * state_->free_memory(n), n.value()};
}

void NodeIndex::Insert(NodeId n) {
  const size_t i = n.index();
  const Entry e = KeyOf(n);
  current_[i] = e;
  in_shared_[i] = state_->shared_devices(n) > 0;
  in_releasing_[i] = state_->has_releasing(n);
  if (in_releasing_[i]) {
    const int64_t sign = binpack_ ? 1 : -1;
    current_releasing_[i] =
        Entry{sign * state_->free_gpu_pipelined(n), sign * state_->free_cpu_pipelined(n),
              sign * state_->free_memory_pipelined(n), n.value()};
  }
  const std::array<NodeClass*, 2> sets = SetsOf(n);
  for (size_t k = 0; k < sets.size(); ++k) {
    NodeClass* c = sets[k];
    if (c == nullptr) continue;
    Slots& slot = slots_[i][k];
    slot.all = c->all.insert(e).first;
    if (in_shared_[i]) slot.shared = c->shared.insert(e).first;
    c->free_gpu += state_->free_gpu(n);
    if (in_releasing_[i]) slot.releasing = c->releasing.insert(current_releasing_[i]).first;
  }
}

namespace {

// Gives the set node at `at` the key `key` and puts it back in order; the
// node's memory is reused.
template <typename Set>
typename Set::iterator Rekey(Set& set, typename Set::iterator at,
                             const typename Set::value_type& key) {
  auto node = set.extract(at);
  node.value() = key;
  return set.insert(std::move(node)).position;
}

// Brings one optional membership (the shared or the releasing set) from
// (was, old key) to (now, new key).
template <typename Set>
void Update(Set& set, typename Set::iterator& at, bool was, bool now,
            const typename Set::value_type& old_key, const typename Set::value_type& new_key) {
  if (was && now) {
    if (!(old_key == new_key)) at = Rekey(set, at, new_key);
  } else if (was) {
    set.erase(at);
  } else if (now) {
    at = set.insert(new_key).first;
  }
}

}  // namespace

void NodeIndex::Move(NodeId n, const Entry& key, bool shared, bool releasing,
                     const Entry& releasing_key) {
  const size_t i = n.index();
  const Entry old = current_[i];
  const std::array<NodeClass*, 2> sets = SetsOf(n);
  for (size_t k = 0; k < sets.size(); ++k) {
    NodeClass* c = sets[k];
    if (c == nullptr) continue;
    Slots& slot = slots_[i][k];
    if (!(old == key)) slot.all = Rekey(c->all, slot.all, key);
    Update(c->shared, slot.shared, in_shared_[i], shared, old, key);
    Update(c->releasing, slot.releasing, in_releasing_[i], releasing, current_releasing_[i],
           releasing_key);
    c->free_gpu += binpack_ ? key.k1 - old.k1 : old.k1 - key.k1;
  }
  current_[i] = key;
  in_shared_[i] = shared;
  in_releasing_[i] = releasing;
  if (releasing) current_releasing_[i] = releasing_key;
}

void NodeIndex::NodeChanged(NodeId n) {
  // Applied when the index is next read: a node often changes and changes
  // back (a bind rolled back, evictions undone) before then.
  const size_t i = n.index();
  if (changed_[i] == 0) {
    changed_[i] = 1;
    changed_list_.push_back(n.value());
  }
}

void NodeIndex::Flush() const {
  // The sets are a view of the cluster state, brought up to date on read.
  if (!changed_list_.empty()) const_cast<NodeIndex*>(this)->ApplyChanges();
}

void NodeIndex::ApplyChanges() {
  for (int32_t v : changed_list_) {
    changed_[static_cast<size_t>(v)] = 0;
    Apply(NodeId(v));
  }
  changed_list_.clear();
}

void NodeIndex::Apply(NodeId n) {
  // Many changes leave the keys as they were (an eviction moves GPU from
  // held to releasing, which an ordinary placement sees as taken either
  // way): then the sets need no update.
  const size_t i = n.index();
  const int64_t sign = binpack_ ? 1 : -1;
  const Entry key = KeyOf(n);
  const bool shared = state_->shared_devices(n) > 0;
  const bool releasing = state_->has_releasing(n);
  Entry releasing_key{};
  if (releasing) {
    releasing_key =
        Entry{sign * state_->free_gpu_pipelined(n), sign * state_->free_cpu_pipelined(n),
              sign * state_->free_memory_pipelined(n), n.value()};
  }
  const bool same = key == current_[i] && shared == in_shared_[i] &&
                    releasing == in_releasing_[i] &&
                    (!releasing || current_releasing_[i] == releasing_key);
  if (!same) Move(n, key, shared, releasing, releasing_key);
  // The state groups wait longer still, until a fragmentation-scored
  // search reads them: Flush also runs for ClassFreeGpu and pipelined
  // searches, which never look at the groups (this saves 2% of the
  // 10,000-node cycle over updating them here).
  if (grouped_ && stale_[i] == 0) {
    stale_[i] = 1;
    stale_list_.push_back(n.value());
  }
}

void NodeIndex::FlushStates() const {
  for (int32_t v : stale_list_) {
    const NodeId n(v);
    const size_t i = n.index();
    stale_[i] = 0;
    StateKey& was = state_of_[i];
    StateKey& now = scratch_state_;
    StateOf(n, &now);
    if (now == was) continue;
    for (const NodeClass* c : {&classes_[static_cast<size_t>(class_of_[i])], MergedGroupOf(n)}) {
      if (c == nullptr) continue;
      auto it = c->states.find(was);
      auto member = it->second.extract(n.value());
      if (it->second.empty()) c->states.erase(it);
      c->states[now].insert(std::move(member));
    }
    was.swap(now);
  }
  stale_list_.clear();
}

void NodeIndex::StateOf(NodeId n, StateKey* key) const {
  key->clear();
  key->push_back(state_->free_gpu(n));
  key->push_back(state_->free_cpu(n));
  key->push_back(state_->free_memory(n));
  const int32_t gpus = state_->gpus(n);
  for (int32_t d = 0; d < gpus; ++d) key->push_back(state_->device_used(n, d));
  std::sort(key->begin() + 3, key->end());
}

void NodeIndex::GroupByState() const {
  state_of_.resize(snapshot_.nodes.size());
  stale_.assign(snapshot_.nodes.size(), 0);
  for (size_t i = 0; i < snapshot_.nodes.size(); ++i) {
    const NodeId n(static_cast<int32_t>(i));
    StateOf(n, &state_of_[i]);
    for (const NodeClass* c : {&classes_[static_cast<size_t>(class_of_[i])], MergedGroupOf(n)}) {
      if (c != nullptr) c->states[state_of_[i]].insert(n.value());
    }
  }
  grouped_ = true;
}

std::optional<PodPlacer::Choice> NodeIndex::BestByState(const Workload& w, const NodeClass& c,
                                                        int64_t need_gpu,
                                                        const PodPlacer& placer) const {
  std::optional<PodPlacer::Choice> best;
  // States are ordered by free GPU first: skip those with too little.
  auto from = need_gpu > 0 ? c.states.lower_bound(StateKey{need_gpu}) : c.states.begin();
  for (auto it = from; it != c.states.end(); ++it) {
    const NodeId n(*it->second.begin());
    std::optional<PodPlacer::Choice> s = placer.Evaluate(w, n);
    if (s && (!best || s->score < best->score)) best = std::move(s);
  }
  return best;
}

const std::vector<const NodeIndex::NodeClass*>& NodeIndex::Targets(
    const Workload& w, std::span<const int32_t> classes) const {
  targets_.clear();
  // A workload that asks nothing of labels scores alike on every class of
  // a group: when all of a group's classes are asked for, search the group.
  if (w.node_selector.empty() && w.topology.empty() && groups_.size() < classes_.size()) {
    if (classes.size() == classes_.size()) return all_groups_;  // every class: every group
    group_hits_.assign(groups_.size(), 0);
    for (int32_t ci : classes)
      ++group_hits_[static_cast<size_t>(group_of_class_[static_cast<size_t>(ci)])];
    for (int32_t ci : classes) {
      const size_t g = static_cast<size_t>(group_of_class_[static_cast<size_t>(ci)]);
      if (group_hits_[g] == classes_in_group_[g]) {
        targets_.push_back(all_groups_[g]);
        group_hits_[g] = -1;  // once
      } else if (group_hits_[g] > 0) {
        targets_.push_back(&classes_[static_cast<size_t>(ci)]);
      }
    }
    return targets_;
  }
  for (int32_t ci : classes) targets_.push_back(&classes_[static_cast<size_t>(ci)]);
  return targets_;
}

int64_t NodeIndex::MaxFreeGpu(const NodeClass& c) const {
  if (c.all.empty()) return 0;
  return binpack_ ? c.all.rbegin()->k1 : -c.all.begin()->k1;
}

int32_t NodeIndex::MatchListOf(const Workload& w) const {
  const std::vector<Workload>& all = snapshot_.workloads;
  const bool ours = !all.empty() && &w >= all.data() && &w < all.data() + all.size();
  const size_t wi = ours ? static_cast<size_t>(&w - all.data()) : 0;
  if (ours) {
    if (match_of_.empty()) match_of_.assign(all.size(), -1);
    if (match_of_[wi] >= 0) return match_of_[wi];
  }
  const PodRequest& r = w.request;
  MatchKey key{w.gpu_models,  w.node_selector, w.topology,      r.mig_profile,
               r.gpu_devices, r.gpu_milli,     r.gpu_memory_mib};
  auto [it, added] = match_ids_.emplace(std::move(key), static_cast<int32_t>(match_lists_.size()));
  if (added) {
    std::vector<int32_t> out;
    for (size_t c = 0; c < classes_.size(); ++c) {
      if (NodeFilter::MatchesClass(w, *classes_[c].representative)) {
        out.push_back(static_cast<int32_t>(c));
      }
    }
    match_lists_.push_back(std::move(out));
  }
  if (ours) match_of_[wi] = it->second;
  return it->second;
}

const std::string* NodeIndex::ClassLabel(int32_t c, const std::string& key) const {
  return FindLabel(classes_[static_cast<size_t>(c)].representative->labels, key);
}

std::optional<PodPlacer::Choice> NodeIndex::FirstFit(const Workload& w, const std::set<Entry>& set,
                                                     std::set<Entry>::const_iterator from,
                                                     int64_t need_gpu, const PodPlacer& placer,
                                                     int32_t max_idle_taken) const {
  for (auto it = from; it != set.end(); ++it) {
    // Spread walks the most free first: once a node has too little free GPU,
    // all that follow have less.
    // (Free GPU can be negative where pipelined pods wait on releasing ones;
    // a pod without GPUs does not care.)
    if (!binpack_ && need_gpu > 0 && -it->k1 < need_gpu) break;
    const NodeId n(it->node);
    std::optional<PodPlacer::Choice> s = placer.Evaluate(w, n);
    if (s && s->score.idle_devices_taken <= max_idle_taken) return s;
  }
  return std::nullopt;
}

std::optional<PodPlacement> NodeIndex::FindBest(const Workload& w, std::span<const int32_t> classes,
                                                const PodPlacer& placer) const {
  Flush();
  // Each candidate is evaluated once, devices and score together.
  std::optional<PodPlacer::Choice> best;
  auto consider = [&](std::optional<PodPlacer::Choice> c) {
    if (c && (!best || c->score < best->score)) best = std::move(c);
  };
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  for (const NodeClass* target : Targets(w, classes)) {
    const NodeClass& c = *target;
    const PodRequest& r = w.request;
    const int64_t milli = r.MilliOn(c.representative->gpu_memory_mib);
    const int64_t need_gpu = milli * r.gpu_devices;
    // A GPU-memory request can amount to a whole device on small GPUs.
    const bool fractional = r.gpu_devices > 0 && milli < 1000;
    // No node of the class has that much GPU free (many classes, e.g. one
    // per rack, are skipped here at once).
    if (need_gpu > 0 && MaxFreeGpu(c) < need_gpu) continue;
    if (placer.scores_fragmentation()) {
      if (!grouped_) GroupByState();
      FlushStates();
      consider(BestByState(w, c, need_gpu, placer));
      continue;
    }
    // binpack starts at the first node with enough free GPU; spread at the top.
    auto start = [&](const std::set<Entry>& set) {
      return binpack_ && need_gpu > 0 ? set.lower_bound(Entry{need_gpu, kMin, kMin, -1})
                                      : set.begin();
    };
    if (binpack_ && fractional && r.gpu_devices > 1) {
      // Several fractional devices: the idle devices taken can be anything
      // from 0 to gpu_devices, so score every candidate of the class.
      for (auto it = start(c.all); it != c.all.end(); ++it) {
        consider(placer.Evaluate(w, NodeId(it->node)));
      }
      continue;
    }
    if (binpack_ && fractional) {
      // Nodes where the fraction fits a device already shared come first.
      if (auto shared = FirstFit(w, c.shared, start(c.shared), need_gpu, placer, 0)) {
        consider(std::move(shared));
        continue;
      }
    }
    consider(
        FirstFit(w, c.all, start(c.all), need_gpu, placer, std::numeric_limits<int32_t>::max()));
  }
  if (!best) return std::nullopt;
  return std::move(best->placement);
}

std::optional<NodeId> NodeIndex::FindBestReleasing(const Workload& w,
                                                   std::span<const int32_t> classes,
                                                   const PodPlacer& placer) const {
  Flush();
  std::optional<PlacementScore> best;
  NodeId best_node;
  constexpr int64_t kLowest = std::numeric_limits<int64_t>::min();
  for (const NodeClass* target : Targets(w, classes)) {
    const NodeClass& c = *target;
    if (c.releasing.empty()) continue;
    int64_t need = 0;
    if (w.request.gpu_devices > 0) {
      const int64_t milli = w.request.MilliOn(c.representative->gpu_memory_mib);
      if (milli == 0) continue;
      need = milli * w.request.gpu_devices;
    }
    // Nodes in set order score in that order; the first that fits is the
    // class's best. Under binpack those with less free GPU than the pod
    // needs come first and cannot fit; under spread they come last.
    auto it =
        binpack_ ? c.releasing.lower_bound(Entry{need, kLowest, kLowest, 0}) : c.releasing.begin();
    for (; it != c.releasing.end(); ++it) {
      if (!binpack_ && it->k1 > -need) break;
      const NodeId n(it->node);
      if (std::optional<PlacementScore> s = placer.ScoreReleasing(w, n)) {
        if (!best || *s < *best) {
          best = s;
          best_node = n;
        }
        break;
      }
    }
  }
  if (!best) return std::nullopt;
  return best_node;
}

}  // namespace sluice
