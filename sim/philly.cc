#include "sim/philly.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/int128.h"
#include "sched/scheduler.h"
#include "sim/csv.h"

namespace sluice::sim {

namespace {

Result<std::vector<PhillyJob>> JobsFrom(const Result<CsvTable>& table) {
  if (!table.ok()) return table.status();
  const CsvTable& t = *table;
  std::vector<PhillyJob> jobs;
  for (size_t i = 0; i < t.rows(); ++i) {
    PhillyJob j;
    j.id = std::string(t.Field(i, "job_id"));
    j.tenant = std::string(t.Field(i, "tenant"));
    if (j.tenant.empty())
      return Status::InvalidArgument(t.Where(i) + ": column \"tenant\" is empty");
    Result<int64_t> submit = t.Integer(i, "submit_s");
    Result<int64_t> gpus = t.Integer(i, "gpus");
    Result<int64_t> duration = t.Integer(i, "duration_s");
    for (const Result<int64_t>* r : {&submit, &gpus, &duration}) {
      if (!r->ok()) return r->status();
    }
    if (*gpus < 1 || *gpus > 4096) {
      return Status::InvalidArgument(t.Where(i) + ": column \"gpus\": expected 1 to 4096, got " +
                                     std::to_string(*gpus));
    }
    j.submit_s = *submit;
    j.gpus = static_cast<int32_t>(*gpus);
    j.duration_s = std::max<int64_t>(1, *duration);
    jobs.push_back(std::move(j));
  }
  if (jobs.empty()) return Status::InvalidArgument("the job list has no jobs");
  return jobs;
}

const std::vector<std::string> kJobColumns = {"job_id", "tenant", "submit_s", "gpus", "duration_s"};

// A job of g GPUs as pods of whole GPUs on nodes of `per_node`: the largest
// pod size that divides g and fits a node.
std::pair<int32_t, int32_t> PodsOf(int32_t gpus, int32_t per_node) {
  for (int32_t size = std::min(gpus, per_node); size >= 1; --size) {
    if (gpus % size == 0) return {gpus / size, size};
  }
  return {gpus, 1};
}

struct JobState {
  int32_t tenant = 0;
  int32_t pods = 1, per_pod = 1;
  int64_t saved = 0;      // progress kept at the last checkpoint, seconds
  int64_t requeued = -1;  // when it was last preempted; -1 if never
  bool running = false;
  int64_t run_start = 0;
  int64_t first_start = -1;
  int64_t end = -1;
  std::vector<PodPlacement> placement;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

double Mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// The replay's state and its event loop.
class PhillyReplay {
 public:
  PhillyReplay(const std::vector<PhillyJob>& jobs, const std::string& policy,
               const PhillyOptions& options)
      : jobs_(jobs), policy_(policy), options_(options), state_(jobs.size()) {}

  PhillyRun Run();

 private:
  void BuildCluster();
  void Account(int64_t until);
  void Start(size_t j, std::vector<PodPlacement> pods, int64_t now);
  void Stop(size_t j, int64_t now);
  bool Cycle(int64_t now);

  const std::vector<PhillyJob>& jobs_;
  const std::string policy_;
  const PhillyOptions options_;
  std::vector<JobState> state_;
  Snapshot base_;
  std::vector<int64_t> quota_;  // per tenant, milli-GPU
  std::vector<std::string> tenant_names_;
  std::vector<int64_t> held_, pending_;        // per tenant, milli-GPU
  std::vector<size_t> active_;                 // pending or running, in submit order
  std::set<std::pair<int64_t, size_t>> ends_;  // running jobs by end time
  std::vector<double> shortfall_;              // per tenant, milli-GPU seconds
  double held_seconds_ = 0;                    // milli-GPU seconds within the arrival window
  int64_t last_ = 0, window_end_ = 0;
  PhillyRun run_;
};

void PhillyReplay::BuildCluster() {
  for (int32_t i = 0; i < options_.nodes; ++i) {
    Node n;
    n.name = "node-" + std::to_string(i);
    n.gpus = options_.gpus_per_node;
    n.gpu_model = "V100";
    base_.nodes.push_back(std::move(n));
  }
  const std::vector<std::pair<std::string, int64_t>> quotas =
      PhillyQuotas(jobs_, options_.nodes * options_.gpus_per_node);
  std::map<std::string, int32_t> index;
  for (const auto& [name, milli] : quotas) {
    index[name] = static_cast<int32_t>(tenant_names_.size());
    tenant_names_.push_back(name);
    quota_.push_back(milli);
  }
  if (policy_ == "fifo") {
    Queue q;
    q.name = "all";
    for (QueueResource& r : q.resources) r.quota = -1;
    base_.queues.push_back(std::move(q));
  } else {
    for (size_t t = 0; t < quotas.size(); ++t) {
      Queue q;
      q.name = tenant_names_[t];
      for (QueueResource& r : q.resources) r.quota = -1;
      q.resources[static_cast<size_t>(Resource::kGpu)].quota = quota_[t];
      if (options_.reclaim_min_runtime_s > 0) {
        q.reclaim_min_runtime = Duration{options_.reclaim_min_runtime_s * 1000};
      }
      base_.queues.push_back(std::move(q));
    }
  }
  for (size_t j = 0; j < jobs_.size(); ++j) {
    state_[j].tenant = index[jobs_[j].tenant];
    std::tie(state_[j].pods, state_[j].per_pod) = PodsOf(jobs_[j].gpus, options_.gpus_per_node);
  }
  held_.assign(quota_.size(), 0);
  pending_.assign(quota_.size(), 0);
  shortfall_.assign(quota_.size(), 0);
}

void PhillyReplay::Account(int64_t until) {
  const auto dt = static_cast<double>(until - last_);
  if (dt <= 0) return;
  int64_t held = 0;
  for (size_t t = 0; t < quota_.size(); ++t) {
    held += held_[t];
    if (held_[t] + pending_[t] >= quota_[t] && held_[t] < quota_[t]) {
      shortfall_[t] += static_cast<double>(quota_[t] - held_[t]) * dt;
    }
  }
  const int64_t in_window = std::max<int64_t>(0, std::min(until, window_end_) - last_);
  held_seconds_ += static_cast<double>(held) * static_cast<double>(in_window);
  last_ = until;
}

void PhillyReplay::Start(size_t j, std::vector<PodPlacement> pods, int64_t now) {
  JobState& s = state_[j];
  s.running = true;
  s.run_start = now;
  if (s.first_start < 0) s.first_start = now;
  s.placement = std::move(pods);
  const int64_t gpu = int64_t{1000} * jobs_[j].gpus;
  pending_[static_cast<size_t>(s.tenant)] -= gpu;
  held_[static_cast<size_t>(s.tenant)] += gpu;
  ends_.emplace(now + jobs_[j].duration_s - s.saved, j);
}

void PhillyReplay::Stop(size_t j, int64_t now) {
  JobState& s = state_[j];
  ends_.erase({s.run_start + jobs_[j].duration_s - s.saved, j});
  // What ran since the last checkpoint is lost.
  const int64_t ran = now - s.run_start;
  s.saved = std::min(jobs_[j].duration_s - 1,
                     s.saved + ran / options_.checkpoint_s * options_.checkpoint_s);
  s.requeued = now;
  s.running = false;
  s.placement.clear();
  const int64_t gpu = int64_t{1000} * jobs_[j].gpus;
  held_[static_cast<size_t>(s.tenant)] -= gpu;
  pending_[static_cast<size_t>(s.tenant)] += gpu;
  ++run_.preemptions;
}

bool PhillyReplay::Cycle(int64_t now) {
  Snapshot snap = base_;
  snap.now = Time{now * 1000};
  snap.workloads.reserve(active_.size());
  for (size_t j : active_) {
    const JobState& s = state_[j];
    Workload w;
    w.name = jobs_[j].id;
    w.queue = QueueId(policy_ == "fifo" ? 0 : s.tenant);
    w.pods = s.pods;
    w.min_available = s.pods;
    w.request.gpu_devices = s.per_pod;
    w.request.gpu_milli = 1000;
    w.submitted = Time{jobs_[j].submit_s * 1000};
    if (s.requeued >= 0) w.requeued = Time{s.requeued * 1000};
    w.running = s.running;
    if (s.running) {
      w.started = Time{s.run_start * 1000};
      w.placement = s.placement;
    }
    snap.workloads.push_back(std::move(w));
  }
  CycleOptions options;
  options.take_back = policy_ == "sluice";
  const CycleResult r = RunCycle(snap, options);
  ++run_.cycles;
  for (const EvictionDecision& e : r.evictions) Stop(active_[e.workload.index()], now);
  for (const auto* list : {&r.binds, &r.pipelined}) {
    for (const BindDecision& b : *list) {
      const size_t j = active_[b.workload.index()];
      if (state_[j].running) continue;  // elastic growth; not in this replay
      Start(j, b.pods, now);
    }
  }
  return !r.binds.empty() || !r.evictions.empty() || !r.pipelined.empty();
}

PhillyRun PhillyReplay::Run() {
  run_.policy = policy_;
  BuildCluster();
  std::vector<size_t> order(jobs_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return jobs_[a].submit_s < jobs_[b].submit_s; });
  last_ = jobs_[order.front()].submit_s;
  window_end_ = jobs_[order.back()].submit_s;
  const int64_t window_start = last_;
  size_t next = 0;
  while (next < order.size() || !ends_.empty()) {
    int64_t now = next < order.size() ? jobs_[order[next]].submit_s : INT64_MAX;
    if (!ends_.empty()) now = std::min(now, ends_.begin()->first);
    Account(now);
    while (!ends_.empty() && ends_.begin()->first == now) {
      const size_t j = ends_.begin()->second;
      ends_.erase(ends_.begin());
      JobState& s = state_[j];
      s.running = false;
      s.end = now;
      held_[static_cast<size_t>(s.tenant)] -= int64_t{1000} * jobs_[j].gpus;
      std::erase(active_, j);
      ++run_.completed;
    }
    while (next < order.size() && jobs_[order[next]].submit_s == now) {
      const size_t j = order[next++];
      active_.push_back(j);
      pending_[static_cast<size_t>(state_[j].tenant)] += int64_t{1000} * jobs_[j].gpus;
    }
    // A cycle after every change; again while it changed something, since
    // evictions complete at once here and free room for more.
    bool any_pending = false;
    for (size_t t = 0; t < pending_.size(); ++t) any_pending = any_pending || pending_[t] > 0;
    for (int round = 0; any_pending && round < 3 && Cycle(now); ++round) {
    }
  }
  const double cluster = 1000.0 * options_.nodes * options_.gpus_per_node;
  const auto window = static_cast<double>(std::max<int64_t>(1, window_end_ - window_start));
  run_.utilization = 100.0 * held_seconds_ / (cluster * window);
  run_.makespan_h = static_cast<double>(last_ - window_start) / 3600.0;
  std::vector<double> jct, wait;
  std::vector<std::vector<double>> tenant_wait(quota_.size());
  for (size_t j = 0; j < jobs_.size(); ++j) {
    const JobState& s = state_[j];
    jct.push_back(static_cast<double>(s.end - jobs_[j].submit_s) / 3600.0);
    const double w = static_cast<double>(s.first_start - jobs_[j].submit_s) / 3600.0;
    wait.push_back(w);
    tenant_wait[static_cast<size_t>(s.tenant)].push_back(w);
  }
  run_.jct_mean_h = Mean(jct);
  run_.jct_p95_h = Percentile(jct, 0.95);
  run_.wait_mean_h = Mean(wait);
  run_.wait_p95_h = Percentile(wait, 0.95);
  for (size_t t = 0; t < quota_.size(); ++t) {
    TenantStats ts;
    ts.name = tenant_names_[t];
    ts.quota_milli = quota_[t];
    ts.jobs = static_cast<int64_t>(tenant_wait[t].size());
    ts.wait_mean_h = Mean(tenant_wait[t]);
    ts.wait_p95_h = Percentile(tenant_wait[t], 0.95);
    ts.shortfall_gpu_h = shortfall_[t] / 1000.0 / 3600.0;
    run_.shortfall_gpu_h += ts.shortfall_gpu_h;
    run_.tenants.push_back(std::move(ts));
  }
  return run_;
}

}  // namespace

Result<std::vector<PhillyJob>> ReadPhillyJobs(const std::string& path) {
  return JobsFrom(CsvTable::Read(path, kJobColumns));
}

Result<std::vector<PhillyJob>> ParsePhillyJobs(std::string_view text) {
  return JobsFrom(CsvTable::Parse(text, "jobs.csv", kJobColumns));
}

std::vector<std::pair<std::string, int64_t>> PhillyQuotas(const std::vector<PhillyJob>& jobs,
                                                          int32_t cluster_gpus) {
  std::vector<std::string> names;
  std::map<std::string, Int128> gpu_seconds;
  Int128 total = 0;
  for (const PhillyJob& j : jobs) {
    auto [it, added] = gpu_seconds.emplace(j.tenant, 0);
    if (added) names.push_back(j.tenant);
    const Int128 gs = static_cast<Int128>(j.gpus) * j.duration_s;
    it->second += gs;
    total += gs;
  }
  const int64_t capacity = int64_t{1000} * cluster_gpus;
  std::vector<std::pair<std::string, int64_t>> out;
  if (total == 0) return out;  // no jobs
  std::vector<std::pair<Int128, size_t>> remainders;
  int64_t given = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const Int128 share = gpu_seconds[names[i]] * capacity;
    out.emplace_back(names[i], static_cast<int64_t>(share / total));
    given += out.back().second;
    remainders.emplace_back(share % total, i);
  }
  // Largest remainders first (then first appearance) get the milli left.
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; given < capacity; ++k, ++given) ++out[remainders[k].second].second;
  return out;
}

const std::vector<std::string>& PhillyPolicyNames() {
  static const std::vector<std::string> kNames = {"fifo", "quota", "sluice"};
  return kNames;
}

Result<PhillyRun> ReplayPhilly(const std::vector<PhillyJob>& jobs, const std::string& policy,
                               const PhillyOptions& options) {
  const auto& names = PhillyPolicyNames();
  if (std::find(names.begin(), names.end(), policy) == names.end()) {
    return Status::InvalidArgument("unknown policy \"" + policy + "\" (fifo, quota, sluice)");
  }
  if (jobs.empty()) return Status::InvalidArgument("the job list has no jobs");
  if (options.nodes < 1 || options.gpus_per_node < 1) {
    return Status::InvalidArgument("the cluster needs at least one node with one GPU");
  }
  for (const PhillyJob& j : jobs) {
    if (j.gpus > options.nodes * options.gpus_per_node) {
      return Status::InvalidArgument("job " + j.id + " asks for " + std::to_string(j.gpus) +
                                     " GPUs, more than the cluster has");
    }
  }
  PhillyReplay replay(jobs, policy, options);
  return replay.Run();
}

}  // namespace sluice::sim
