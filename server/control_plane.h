// The standalone server's state and the operations of its API.
//
// ControlPlane owns every department, project, workload and token in
// memory, writes each change through to the Store, and replies to a
// mutating request only once the change is durable. It runs the scheduler
// core on a snapshot of itself after changes (debounced) and periodically,
// and applies the decisions through the Executor. It is single-threaded: all
// calls, store completions and executor callbacks arrive on one strand
// (`post` queues work there), so it needs no locks.
#ifndef SLUICE_SERVER_CONTROL_PLANE_H_
#define SLUICE_SERVER_CONTROL_PLANE_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sched/scheduler.h"
#include "server/auth.h"
#include "server/codec.h"
#include "server/executor.h"
#include "server/metrics.h"
#include "server/objects.h"
#include "server/sweeps.h"
#include "server/workspace_idle.h"
#include "store/store.h"

namespace sluice {

// What an API operation answers: an HTTP status and a JSON body (errors
// are {"error": {"code", "message"}}), or plain text (metrics).
struct ApiResponse {
  int status = 200;
  Json body;
  std::string text;  // sent instead of body when not empty
  std::string content_type = "application/json";
  std::string cache_control;                                 // sent as Cache-Control when not empty
  std::vector<std::pair<std::string, std::string>> headers;  // more headers to send

  static ApiResponse Error(int status, std::string message);
  static ApiResponse FromStatus(const Status& s);  // InvalidArgument 400, NotFound 404, ...
};
using Reply = std::function<void(ApiResponse)>;

// A MIG instance of a device, as NVML lists it.
struct MigSlice {
  std::string uuid;
  int64_t memory_mib = 0;
};

struct ControlPlaneOptions {
  // The nodes; the MIG layouts of their devices change as the scheduler
  // repartitions them.
  std::vector<Node> nodes;
  // The MIG instances of each node's devices in MIG mode (by node, then
  // device index), shown in the nodes view.
  std::map<std::string, std::vector<std::vector<MigSlice>>> mig;
  std::function<Time()> now;
  // Queues a callback on the control plane's thread.
  std::function<void(std::function<void()>)> post;
  // Arms a one-shot timer on that thread.
  std::function<void(std::chrono::milliseconds, std::function<void()>)> after;
  std::chrono::milliseconds debounce{2};
  std::chrono::milliseconds period{1000};
  bool time_based_fair_share = false;
  int64_t time_based_k_milli = 1000;
  // Half-life of the recorded GPU usage that feeds time-based fair share.
  Duration usage_half_life{7LL * 24 * 3600 * 1000};
  // Runs a scheduling cycle's pure computation (RunCycle) elsewhere, so the
  // API keeps answering while it runs; null runs it inline. Results come
  // back through `post`.
  std::function<void(std::function<void()>)> offload;
  // How often the usage history records an interval, and how long it keeps
  // intervals before summing them into hours.
  std::chrono::milliseconds sample_period{60'000};
  Duration sample_retention{30LL * 24 * 3600 * 1000};
  // Called when a change could not be made durable: the server must stop so
  // that it restarts from what is on disk.
  std::function<void(const Status&)> fatal;

  // Workspaces (workspaces.cc, docs/workspaces.md).
  std::string workspace_root;  // their working directories: ROOT/PROJECT/NAME
  std::string jupyter;         // the jupyter-lab program; empty: JupyterLab workspaces refused
  std::string public_url;      // how people reach this server ("http://host:8080")
  std::chrono::milliseconds cull_period{60'000};
  // A free TCP port on 127.0.0.1 for a JupyterLab about to start.
  std::function<int32_t()> free_port;
  // Asks a running JupyterLab how active it is; the server does this over
  // HTTP (its /api/status and /api/kernels). The callback gets nullopt when
  // it did not answer, and runs on the control plane's thread. Null: no
  // probing (GPU use and proxy traffic alone say whether it is active).
  std::function<void(const JupyterProbe&, std::function<void(std::optional<JupyterActivity>)>)>
      probe_jupyter;
};

// Where the proxy sends /ws/PROJECT/NAME/...: 127.0.0.1:port, presenting
// `token` to JupyterLab; `strip_prefix` for commands, which serve at "/".
struct WorkspaceUpstream {
  int32_t port = 0;
  std::string token;
  bool jupyter = true;
  bool strip_prefix = false;
};

// One change to a workload, for watchers.
struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED
  const WorkloadRecord* workload;
};

class ControlPlane {
 public:
  ControlPlane(Store* store, Executor* executor, Metrics* metrics, ControlPlaneOptions options);

  // Loads everything from the store and adopts running workloads. Must be
  // called once, before anything else.
  Status Load();
  // Creates the first admin token when there is none; returns its secret
  // (empty when tokens already exist).
  Result<std::string> EnsureAdminToken();

  // Resolves a bearer token to its caller.
  std::optional<Caller> Authenticate(const std::string& secret) const;

  // Departments.
  void CreateDepartment(const Caller& c, const nlohmann::json& body, const Reply& reply);
  void UpdateDepartment(const Caller& c, const std::string& name, const nlohmann::json& body,
                        const Reply& reply);
  void DeleteDepartment(const Caller& c, const std::string& name, const Reply& reply);
  ApiResponse ListDepartments(const Caller& c) const;
  ApiResponse GetDepartment(const Caller& c, const std::string& name) const;

  // Projects and members.
  void CreateProject(const Caller& c, const nlohmann::json& body, const Reply& reply);
  void UpdateProject(const Caller& c, const std::string& name, const nlohmann::json& body,
                     const Reply& reply);
  void DeleteProject(const Caller& c, const std::string& name, const Reply& reply);
  void SetMember(const Caller& c, const std::string& project, const nlohmann::json& body,
                 const Reply& reply);
  void RemoveMember(const Caller& c, const std::string& project, const std::string& user,
                    const Reply& reply);
  ApiResponse ListProjects(const Caller& c) const;
  ApiResponse GetProject(const Caller& c, const std::string& name) const;

  // Workloads.
  // With `dry_run`, checks everything a submission would (permissions,
  // fields, the name) and replies 200 {"valid": true, "warnings"} without
  // keeping anything: the UI's form validates through it as people type.
  void Submit(const Caller& c, const std::string& project, const nlohmann::json& body,
              const Reply& reply, bool dry_run = false);
  void DeleteWorkload(const Caller& c, const std::string& project, const std::string& name,
                      const Reply& reply);
  ApiResponse GetWorkload(const Caller& c, const std::string& project,
                          const std::string& name) const;
  // `project` empty: every project the caller may see.
  ApiResponse ListWorkloads(const Caller& c, const std::string& project, bool include_ended) const;

  // The log file of pod `pod` of a workload the caller may see; sets
  // `path` and `id`, or returns the refusal.
  ApiResponse LogFile(const Caller& c, const std::string& project, const std::string& name,
                      int32_t pod, std::string* path, int64_t* id) const;
  // True while the workload exists and has not ended.
  bool IsActive(int64_t id) const;

  // Nodes, queues (fair share), events, tokens, whoami.
  ApiResponse ListNodes(const Caller& c) const;
  ApiResponse ListQueues(const Caller& c) const;
  ApiResponse ListEvents(const Caller& c, const std::string& project, const std::string& workload,
                         int limit) const;
  void CreateToken(const Caller& c, const nlohmann::json& body, const Reply& reply);
  void DeleteToken(const Caller& c, const std::string& id, const Reply& reply);
  ApiResponse ListTokens(const Caller& c) const;
  ApiResponse WhoAmI(const Caller& c) const;

  // Workload watchers: `send` gets each change the caller may see (first an
  // ADDED for every current one) and returns false once the watcher is gone.
  using WatchSink = std::function<bool(const std::string& type, const Json& workload)>;
  ApiResponse Watch(const Caller& c, const std::string& project, WatchSink send);

  // Measured utilisation of each device of `node` (0-100, -1 unknown), from
  // the GPU telemetry; feeds nodes, metrics and each workload's used GPU.
  void SetUtilization(const std::string& node, std::vector<int32_t> percent);
  // GPU memory in use by each workload's processes (MiB), from the same
  // telemetry; workloads not listed use none.
  void SetGpuMemoryUse(std::map<int64_t, int64_t> mib_by_workload);

  // Prometheus text.
  std::string MetricsText() const;

  // The usage history (usage_reports.cc): time series of GPUs allocated,
  // used and pending, per project, per GPU and for the cluster, kept in the
  // store; the chargeback report over them; the price it charges.
  using Query = std::map<std::string, std::string>;
  ApiResponse UsageSeries(const Caller& c, const Query& query) const;
  ApiResponse Chargeback(const Caller& c, const Query& query) const;
  ApiResponse GetSettings(const Caller& c) const;
  void UpdateSettings(const Caller& c, const nlohmann::json& body, const Reply& reply);
  // Records the interval since the last sample (the server does this every
  // sample_period).
  void RecordUsageSample();

  // Starts a scheduling cycle now, or right after the one in flight.
  void RunSchedulingCycle();

  // Hyperparameter sweeps (sweeps.cc). `action` is stop, resume or delete.
  void SubmitSweep(const Caller& c, const std::string& project, const nlohmann::json& body,
                   const Reply& reply);
  ApiResponse ListSweeps(const Caller& c, const std::string& project) const;
  ApiResponse GetSweep(const Caller& c, const std::string& project, const std::string& name) const;
  void ChangeSweep(const Caller& c, const std::string& project, const std::string& name,
                   const std::string& action, const Reply& reply);
  // A trial's metrics at one step, from the trial itself (its report token).
  void Report(const Caller& c, const nlohmann::json& body, const Reply& reply);
  // Where trials report to (the Unix socket, the HTTP URL; either may be
  // empty), given to each trial in SLUICE_REPORT_SOCKET and SLUICE_REPORT_URL.
  void SetReportEndpoints(std::string socket, std::string url);
  // Workspaces (workspaces.cc): workloads running JupyterLab or a web app,
  // reverse-proxied at /ws/PROJECT/NAME/. Stop suspends one (its GPU freed,
  // its files kept); start queues it again.
  void CreateWorkspace(const Caller& c, const std::string& project, const nlohmann::json& body,
                       const Reply& reply);
  ApiResponse ListWorkspaces(const Caller& c, const std::string& project) const;
  ApiResponse GetWorkspace(const Caller& c, const std::string& project,
                           const std::string& name) const;
  void StopWorkspace(const Caller& c, const std::string& project, const std::string& name,
                     const Reply& reply);
  void StartWorkspace(const Caller& c, const std::string& project, const std::string& name,
                      const Reply& reply);
  void DeleteWorkspace(const Caller& c, const std::string& project, const std::string& name,
                       const Reply& reply);
  // A URL that signs its opener in to the workspace's proxy once (a ticket
  // valid for two minutes), for a browser that holds no bearer token.
  ApiResponse OpenWorkspace(const Caller& c, const std::string& project, const std::string& name);
  // The proxy: for a caller allowed in (a member of the project or an
  // admin), where to send the request; otherwise the refusal (403, 404, or
  // 503 while it is not running). Counts as activity of the workspace.
  ApiResponse WorkspaceUpstreamFor(const Caller& c, const std::string& project,
                                   const std::string& name, WorkspaceUpstream* out);
  // Exchanges a ticket for a proxy session (the secret for its cookie).
  std::optional<std::string> RedeemWorkspaceTicket(const std::string& ticket);
  std::optional<Caller> WorkspaceSession(const std::string& secret) const;
  // One idle-culling pass (the server runs one every cull_period).
  void CullWorkspaces();
  // Once the HTTP port is known: where workspace links point.
  void SetPublicUrl(std::string url) { opt_.public_url = std::move(url); }

 private:
  struct QueueView;

  bool CanSee(const Caller& c, const std::string& project) const;
  bool CanSubmit(const Caller& c, const std::string& project) const;
  // Why `c` may not submit `what` ("workloads", "sweeps") to `project`: no
  // such project (404), not a member or a viewer (403); nullopt when it may.
  std::optional<ApiResponse> SubmitRefusal(const Caller& c, const std::string& project,
                                           const std::string& what) const;
  // Writes `batch`; then runs `then` on success, or replies 503 and stops.
  void Commit(std::vector<Mutation> batch, std::function<void()> then, const Reply& reply);
  void CommitInBackground(std::vector<Mutation> batch);
  Mutation PutWorkload(const WorkloadRecord& w) const;
  Mutation EventFor(const WorkloadRecord& w, std::string kind, std::string message) const;
  void Notify(const std::string& type, const WorkloadRecord& w);
  void RequestCycle();
  void SchedulePeriodic();
  // Submits a decoded workload (or refuses it), for Submit and CreateWorkspace.
  void SubmitDecoded(const Caller& c, const std::string& project, Result<Submission> decoded,
                     const Reply& reply, bool dry_run, std::string token = "");
  // Workspaces: the port and token a starting one gets, its view in the
  // API, suspending it, removing its files, the periodic cull.
  void PrepareWorkspaceLaunch(WorkloadRecord& w);
  Json ApiWorkspace(const WorkloadRecord& w) const;
  void Suspend(WorkloadRecord& w, const std::string& why, std::vector<Mutation>* batch);
  void RemoveWorkspaceFiles(const WorkloadRecord& w) const;
  void ScheduleCulling();
  void ObserveWorkspace(int64_t id, Time started, std::optional<JupyterActivity> seen);
  // The workspace `name` of `project` for a caller, or the refusal.
  const WorkloadRecord* FindWorkspace(const Caller& c, const std::string& project,
                                      const std::string& name, bool act,
                                      ApiResponse* refusal) const;
  void OnExit(int64_t id, int exit_code, bool stopped, const std::string& message);
  Snapshot BuildSnapshot(std::vector<int64_t>* workload_ids) const;
  void ApplyCycle(const Snapshot& s, const std::vector<int64_t>& ids, const CycleResult& r);
  void AccrueUsage(Time now);
  std::string NeverFitsWarning(const WorkloadSpec& spec) const;
  WorkloadRecord* FindWorkload(const std::string& project, const std::string& name);
  const WorkloadRecord* FindWorkload(const std::string& project, const std::string& name) const;

  Store* store_;
  std::string repartition_error_;  // the last MIG repartition that failed, for pending reasons
  Executor* executor_;
  Metrics* metrics_;
  ControlPlaneOptions opt_;

  std::vector<Department> departments_;  // in creation order
  std::vector<Project> projects_;
  std::map<int64_t, WorkloadRecord> workloads_;  // by id; ids grow with submission
  // project -> name -> id, for active and ended workloads.
  std::unordered_map<std::string, std::unordered_map<std::string, int64_t>> by_name_;
  std::vector<Token> tokens_;
  int64_t next_id_ = 1;

  // From the last cycle, for the queues view and metrics.
  std::vector<std::string> last_queue_names_;
  std::vector<Resources> last_fair_share_;
  std::vector<Resources> last_allocated_;
  // Decayed GPU usage per project, in milli GPU-hours, for time-based fair share.
  std::map<std::string, double> usage_;
  Time usage_updated_;

  std::map<std::string, std::vector<int32_t>> utilization_;  // by node, per device
  std::optional<std::map<int64_t, int64_t>> gpu_memory_use_;
  // Milli-GPU allocated per device (by node) when utilisation was sampled.
  std::map<std::string, std::vector<int64_t>> allocated_at_sample_;
  // A workload's measured GPU use: on each of its devices, the device's
  // utilisation times the workload's part of what is allocated there.
  std::optional<double> UsedGpu(const WorkloadRecord& w) const;
  Json ApiWorkload(const WorkloadRecord& w) const;
  Json UtilizationOf(const std::string& node, int32_t gpu) const;

  void ScheduleSampling();
  // Milli-GPU a pending workload asks for.
  int64_t PendingGpuMilli(const WorkloadRecord& w) const;
  Time last_sample_;
  Time last_compaction_;
  double gpu_hour_price_ = 0;
  std::string currency_ = "USD";

  bool cycle_requested_ = false;
  bool cycle_running_ = false;
  bool cycle_again_ = false;
  std::chrono::milliseconds last_cycle_{0};
  // Pending workloads per project and priority class at the last cycle plus
  // submissions since, for the queue position a submission is told.
  std::map<std::string, std::array<int32_t, 4>> pending_by_class_;
  Time usage_persisted_;

  struct Watcher {
    Caller caller;
    std::string project;
    WatchSink send;
  };
  std::vector<Watcher> watchers_;

  // ---- sweeps (sweeps.cc) ----
  struct SweepCapacity;
  Status LoadSweepObject(const StoredObject& o);
  void FinishLoadingSweeps();
  void ReconcileSweeps();
  void ReconcileSweep(SweepRecord& s, SweepCapacity* cap, std::vector<Mutation>* batch);
  // Why sweep `s` cannot start a trial needing `need` milli-GPU now, or "".
  std::string TrialRoom(const SweepRecord& s, int64_t need, SweepCapacity* cap) const;
  void StartTrial(SweepRecord& s, TrialRecord& t, std::vector<Mutation>* batch);
  void StopTrials(SweepRecord& s, TrialState as, const std::string& message,
                  std::vector<Mutation>* batch);
  // Stops a workload for good (it ends rather than queueing again).
  void EndWorkloadForSweep(WorkloadRecord& w, const std::string& message,
                           std::vector<Mutation>* batch);
  void SetReportEnv(Labels* env) const;
  // Why project `project` cannot be deleted for its sweeps ("" if it can),
  // and forgetting its sweeps when it is.
  std::string SweepBlockingDeletion(const std::string& project) const;
  void ForgetSweep(int64_t id, std::vector<Mutation>* batch);
  void ForgetSweepsOf(const std::string& project, std::vector<Mutation>* batch);
  SweepRecord* FindSweep(const std::string& project, const std::string& name);
  const SweepRecord* FindSweep(const std::string& project, const std::string& name) const;
  TrialRecord* FindTrial(int64_t code);
  sweep::Searcher* SearcherFor(const SweepRecord& s);
  Mutation PutSweep(const SweepRecord& s) const;
  Mutation PutTrial(const TrialRecord& t) const;
  Json ApiSweep(const SweepRecord& s, bool with_trials) const;
  Json ApiTrial(const SweepRecord& s, const TrialRecord& t, bool with_reports) const;

  std::map<int64_t, SweepRecord> sweeps_;                  // by id
  std::map<int64_t, std::vector<TrialRecord>> trials_;     // by sweep id, by index
  std::map<int64_t, int64_t> trial_of_workload_;           // workload id -> trial code
  std::unordered_map<std::string, int64_t> trial_tokens_;  // token hash -> trial code
  std::map<int64_t, std::unique_ptr<sweep::Searcher>> searchers_;
  int64_t next_sweep_id_ = 1;
  std::string report_socket_;
  std::string report_url_;
  bool reconciling_ = false;
  // Workspace proxy sign-in: one-use tickets and the sessions they start,
  // by the SHA-256 of their secret; they live only in memory.
  struct ProxyGrant {
    Caller caller;
    Time expires;
  };
  std::map<std::string, ProxyGrant> tickets_;
  std::map<std::string, ProxyGrant> proxy_sessions_;
  std::map<int64_t, Time> proxied_;  // the last proxied request, by workspace
  WorkspaceIdleTracker idle_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_CONTROL_PLANE_H_
