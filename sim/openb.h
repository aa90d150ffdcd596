// The Alibaba openb GPU-sharing trace (cluster-trace-gpu-v2023) and its
// "inflation replay", the method of the FGD paper (USENIX ATC'23) that
// BENCHMARKS.md section 1 spells out:
//   1. take every pod of the trace, then append copies of pods drawn at
//      random (with replacement) while the total GPU asked for stays within
//      `tune` x the cluster's GPU (stopping at the first copy that would
//      pass it);
//   2. shuffle the list with the same seeded generator;
//   3. submit the pods one at a time, none ever leaving; a pod that does not
//      fit anywhere is dropped;
//   4. after each pod, record the GPU asked for so far and the GPU
//      allocated, both as a share of the cluster's GPU.
// Each placement policy is an OpenbPolicy; `sluice` is the scheduler core's
// own placement (sched/online_placer.h), the others are the baselines of
// the paper, written here. Everything is deterministic for a given seed.
#ifndef SLUICE_SIM_OPENB_H_
#define SLUICE_SIM_OPENB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "sched/fragmentation.h"

namespace sluice::sim {

struct OpenbNode {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int32_t gpus = 0;
  std::string model;
};

struct OpenbPod {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int32_t num_gpu = 0;
  int64_t gpu_milli = 0;                // per device; 1000 for whole devices
  std::vector<std::string> gpu_models;  // gpu_spec; empty = any

  int64_t gpu_demand() const { return num_gpu * gpu_milli; }
};

// Readers of the trace's CSV files; every bad field is reported with its
// file, line and column.
Result<std::vector<OpenbNode>> ReadOpenbNodes(const std::string& path);
Result<std::vector<OpenbPod>> ReadOpenbPods(const std::string& path);
// The same from text (tests).
Result<std::vector<OpenbNode>> ParseOpenbNodes(std::string_view text);
Result<std::vector<OpenbPod>> ParseOpenbPods(std::string_view text);

// A seeded generator whose draws are the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n);

 private:
  std::mt19937_64 engine_;
};

// Steps 1 and 2: the inflated, shuffled arrival order.
std::vector<OpenbPod> InflatedArrivals(const std::vector<OpenbPod>& pods, int64_t cluster_gpu_milli,
                                       int32_t tune_percent, Rng& rng);

// Free resources of the simulated cluster.
struct OpenbNodeState {
  int64_t free_cpu = 0;
  int64_t free_memory = 0;
  std::vector<int64_t> device_free;  // milli-GPU per device
};

// Where a pod goes: a node and its devices (none for CPU-only pods).
struct OpenbChoice {
  int32_t node = -1;
  std::vector<int32_t> devices;
};

// True when `pod` could go on node `i` now (model, CPU, memory, devices).
bool OpenbFits(const OpenbNode& node, const OpenbNodeState& state, const OpenbPod& pod);

// A placement policy of the replay. One object serves one run (one seed).
class OpenbPolicy {
 public:
  virtual ~OpenbPolicy() = default;
  // Called once before the first pod, with the arrival list.
  virtual void Start(const std::vector<OpenbNode>& nodes,
                     const std::vector<OpenbPod>& arrivals) = 0;
  // Where arrival `i` goes, or nullopt to drop it. `state` is the current
  // free state; the replay applies the choice after checking that it fits.
  virtual std::optional<OpenbChoice> Choose(size_t i, const std::vector<OpenbNodeState>& state,
                                            Rng& rng) = 0;
};

// The policies by name: random, dotprod, gpupacking, bestfit, fgd, sluice.
// `mix` is the trace's request mix (fgd and sluice measure fragmentation
// against it). Returns nullptr for an unknown name.
std::unique_ptr<OpenbPolicy> MakeOpenbPolicy(const std::string& name, const RequestMix& mix);
const std::vector<std::string>& OpenbPolicyNames();

// The request mix of a trace, as the FGD paper takes it: the pod shapes of
// the original (uninflated) list, the most frequent covering 95% of pods.
// `with_memory` keeps the pods' memory in the shapes (sluice's measure).
RequestMix OpenbMix(const std::vector<OpenbPod>& pods, bool with_memory);

struct OpenbRun {
  // Allocation ratio (percent of the cluster's GPU) after each 1% of arrived
  // demand, index k for k% (up to tune_percent).
  std::vector<double> alloc_at;
  double alloc100 = 0;   // at 100% arrived demand
  double alloc_end = 0;  // at the end (tune_percent arrived)
  double frag_end = 0;   // idle GPU that the mix cannot use, percent of all GPU
  int64_t placed = 0, dropped = 0;
};

// One replay of one policy with one seed.
Result<OpenbRun> ReplayOpenb(const std::vector<OpenbNode>& nodes, const std::vector<OpenbPod>& pods,
                             const std::string& policy, uint64_t seed, int32_t tune_percent);

}  // namespace sluice::sim

#endif  // SLUICE_SIM_OPENB_H_
