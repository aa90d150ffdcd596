// ControlPlane on a paused clock: the test owns the event loop and the
// time, so scheduling after changes, periodic cycles and usage-based fair
// share are checked without sleeping. The store is a real SQLite file.
#include "server/control_plane.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "store/sqlite_store.h"

namespace sluice {
namespace {

using nlohmann::json;

// A single-threaded loop with a manual clock. Store completions arrive from
// the writer thread through Post, which is the only thread-safe call.
class ManualLoop {
 public:
  void Post(std::function<void()> f) {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(f));
    cv_.notify_all();
  }
  void After(std::chrono::milliseconds d, std::function<void()> f) {
    timers_.push_back({now_.ms + d.count(), std::move(f)});
  }
  Time Now() const { return now_; }

  // Runs posted tasks until `done` holds (waiting for the store's thread
  // when nothing is queued), failing after 10 s of real time.
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (!cv_.wait_until(lock, deadline, [this] { return !tasks_.empty(); })) return false;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
    return true;
  }
  // Drains what is queued now without waiting.
  void RunPending() {
    while (true) {
      std::function<void()> task;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  // Moves the clock forward, firing due timers in time order.
  void Advance(std::chrono::milliseconds d) {
    const int64_t end = now_.ms + d.count();
    while (true) {
      RunPending();
      auto next = std::min_element(timers_.begin(), timers_.end(),
                                   [](const Timer& a, const Timer& b) { return a.at < b.at; });
      if (next == timers_.end() || next->at > end) break;
      now_.ms = std::max(now_.ms, next->at);
      std::function<void()> f = std::move(next->f);
      timers_.erase(next);
      f();
    }
    now_.ms = end;
    RunPending();
  }

 private:
  struct Timer {
    int64_t at;
    std::function<void()> f;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<Timer> timers_;
  Time now_{1'800'000'000'000};
};

class ControlPlaneTest : public ::testing::Test {
 protected:
  void Start(bool time_based) {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-cp-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto store = SqliteStore::Open((dir_ / "sluice.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    executor_ = std::make_unique<SimulatedExecutor>([this](auto f) { loop_.Post(std::move(f)); });
    ControlPlaneOptions o;
    o.nodes = {Node{"node-1", 8, 81920, "H100-80GB", kUnlimited, kUnlimited, {}}};
    o.now = [this] { return loop_.Now(); };
    o.post = [this](std::function<void()> f) { loop_.Post(std::move(f)); };
    o.after = [this](std::chrono::milliseconds d, std::function<void()> f) {
      loop_.After(d, std::move(f));
    };
    o.time_based_fair_share = time_based;
    o.fatal = [](const Status& s) { FAIL() << s.ToString(); };
    if (configure_) configure_(o);
    cp_ = std::make_unique<ControlPlane>(store_.get(), executor_.get(), &metrics_, o);
    ASSERT_TRUE(cp_->Load().ok());
  }
  void TearDown() override {
    cp_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Calls an asynchronous operation and runs the loop until it replies.
  ApiResponse Call(const std::function<void(const Reply&)>& op) {
    std::optional<ApiResponse> out;
    op([&](ApiResponse r) { out = std::move(r); });
    EXPECT_TRUE(loop_.RunUntil([&] { return out.has_value(); }));
    return out.value_or(ApiResponse::Error(599, "no reply"));
  }
  void Project(const std::string& name) {
    ApiResponse r = Call([&](const Reply& reply) {
      cp_->CreateProject(admin_, json{{"name", name}, {"gpu", {{"quota", 0}}}}, reply);
    });
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void Submit(const std::string& project, const std::string& name) {
    ApiResponse r = Call([&](const Reply& reply) {
      cp_->Submit(admin_, project, json{{"name", name}, {"gpu", 1}, {"command", {"sleep", "1"}}},
                  reply);
    });
    ASSERT_EQ(r.status, 201) << r.body;
  }
  Json Queue(const std::string& name) {
    ApiResponse queues = cp_->ListQueues(admin_);
    for (const Json& q : queues.body["items"]) {
      if (q["name"] == name) return q;
    }
    return nullptr;
  }

  ManualLoop loop_;
  std::function<void(ControlPlaneOptions&)> configure_;
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<SimulatedExecutor> executor_;
  Metrics metrics_;
  std::unique_ptr<ControlPlane> cp_;
  Caller admin_{"admin", 0, true};
};

TEST_F(ControlPlaneTest, ChangesScheduleOneCycleAfterTheDebounce) {
  Start(false);
  // The start-up cycle (2 ms) and the first periodic one (1 s).
  loop_.Advance(std::chrono::milliseconds(1005));
  const int64_t before = metrics_.cycles;
  Project("p");
  Submit("p", "a");
  Submit("p", "b");
  loop_.Advance(std::chrono::milliseconds(1));
  EXPECT_EQ(metrics_.cycles, before);  // not yet: 2 ms debounce
  loop_.Advance(std::chrono::milliseconds(1));
  EXPECT_EQ(metrics_.cycles, before + 1);  // one cycle for all three changes
  EXPECT_EQ(cp_->GetWorkload(admin_, "p", "b").body["status"]["phase"], "Running");
  // Nothing more happens until the periodic cycle, a second later.
  loop_.Advance(std::chrono::milliseconds(900));
  EXPECT_EQ(metrics_.cycles, before + 1);
  loop_.Advance(std::chrono::milliseconds(100));
  EXPECT_EQ(metrics_.cycles, before + 2);
}

TEST_F(ControlPlaneTest, TimeBasedFairShareIsFedByRecordedUsage) {
  Start(true);
  Project("heavy");
  Project("light");
  for (int i = 0; i < 8; ++i) Submit("heavy", "h" + std::to_string(i));
  // heavy holds all 8 GPUs for ten hours while light is idle.
  for (int h = 0; h < 10; ++h) loop_.Advance(std::chrono::hours(1));
  // 8 GPUs for 10 h, decaying with a 7-day half-life as it accrues:
  // 8 (1 - e^(-10 ln2/168)) / (ln2/168) = 78.37 GPU-hours.
  EXPECT_NEAR(Queue("heavy")["gpuHours"].get<double>(), 78.37, 0.05);
  EXPECT_EQ(Queue("light")["gpuHours"], 0.0);
  for (int i = 0; i < 8; ++i) Submit("light", "l" + std::to_string(i));
  for (int i = 0; i < 5; ++i) loop_.Advance(std::chrono::seconds(1));
  // Equal weights, but heavy's past use moves the over-quota share to light:
  // w' = max(0, 1/2 + (1/2 - 1)) = 0 for heavy, 1 for light.
  EXPECT_EQ(Queue("light")["fairShare"]["gpu"], 8);
  EXPECT_EQ(Queue("heavy")["fairShare"]["gpu"], 0);
  // Reclaim brings the GPUs over.
  EXPECT_EQ(Queue("light")["allocatedGpu"], 8)
      << cp_->GetWorkload(admin_, "light", "l7").body.dump(2) << Queue("light").dump(2)
      << Queue("heavy").dump(2);
}

TEST_F(ControlPlaneTest, WithoutTimeBasedFairShareUsageDoesNotMatter) {
  Start(false);
  Project("heavy");
  Project("light");
  for (int i = 0; i < 8; ++i) Submit("heavy", "h" + std::to_string(i));
  for (int h = 0; h < 10; ++h) loop_.Advance(std::chrono::hours(1));
  for (int i = 0; i < 8; ++i) Submit("light", "l" + std::to_string(i));
  for (int i = 0; i < 5; ++i) loop_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Queue("light")["fairShare"]["gpu"], 4);
  EXPECT_EQ(Queue("heavy")["fairShare"]["gpu"], 4);
  EXPECT_EQ(Queue("light")["allocatedGpu"], 4);
}

// Workspaces on the paused clock, with a fake JupyterLab: what each
// answers about itself is whatever `activity` says.
TEST_F(ControlPlaneTest, IdleWorkspacesAreSuspendedAndBusyOnesSpared) {
  std::map<std::string, JupyterActivity> activity;  // by base URL
  configure_ = [&](ControlPlaneOptions& o) {
    o.workspace_root = (dir_ / "workspaces").string();
    o.jupyter = "/usr/bin/jupyter-lab-fake";
    o.public_url = "http://sluice.test:8080";
    o.cull_period = std::chrono::minutes(1);
    o.free_port = [] { return 41000; };
    o.probe_jupyter = [&](const JupyterProbe& p,
                          std::function<void(std::optional<JupyterActivity>)> done) {
      auto it = activity.find(p.base_url);
      done(it == activity.end() ? std::nullopt : std::optional(it->second));
    };
  };
  Start(false);
  ApiResponse project = Call([&](const Reply& reply) {
    cp_->CreateProject(admin_, json{{"name", "p"}, {"gpu", {{"quota", 2}}}}, reply);
  });
  ASSERT_EQ(project.status, 201);
  EXPECT_EQ(project.body["workspaces"]["idleTimeout"], "2h");  // the default
  for (const char* name : {"idle", "busy"}) {
    ApiResponse r = Call([&](const Reply& reply) {
      cp_->CreateWorkspace(admin_, "p", json{{"name", name}, {"jupyter", true}, {"gpu", 0.25}},
                           reply);
    });
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.body["url"], std::string("http://sluice.test:8080/ws/p/") + name + "/");
  }
  // "training" holds a whole GPU that a script started from its terminal
  // keeps at 60%, while JupyterLab itself has seen nothing for hours.
  ApiResponse training = Call([&](const Reply& reply) {
    cp_->CreateWorkspace(admin_, "p", json{{"name", "training"}, {"gpu", 1}}, reply);
  });
  ASSERT_EQ(training.status, 201) << training.body;
  loop_.Advance(std::chrono::milliseconds(10));
  const Time started = loop_.Now();
  EXPECT_EQ(cp_->GetWorkspace(admin_, "p", "idle").body["phase"], "Running");
  const Json placed = cp_->GetWorkspace(admin_, "p", "training").body["placement"];
  ASSERT_EQ(placed.size(), 1);
  std::vector<int32_t> utilization(8, 0);
  utilization[placed[0]["gpus"][0].get<size_t>()] = 60;
  cp_->SetUtilization("node-1", utilization);
  activity["/ws/p/training/"] = JupyterActivity{started, 0};
  // A workspace is a build-class workload that is never preempted, running
  // JupyterLab in its own directory; its token is never shown.
  Json w = cp_->GetWorkload(admin_, "p", "idle").body;
  EXPECT_EQ(w["spec"]["priorityClass"], "build");
  EXPECT_EQ(w["spec"]["preemptible"], false);
  EXPECT_EQ(w["spec"]["command"][0], "/usr/bin/jupyter-lab-fake");
  EXPECT_EQ(w["spec"]["workingDir"], (dir_ / "workspaces/p/idle").string());
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "workspaces/p/idle"));
  EXPECT_EQ(w.dump().find("slc_"), std::string::npos) << w.dump(2);
  // JupyterLab last saw activity at the start; "busy" has a kernel running
  // a long cell (busy, silent since).
  activity["/ws/p/idle/"] = JupyterActivity{started, 0};
  activity["/ws/p/busy/"] = JupyterActivity{started, 1};
  loop_.Advance(std::chrono::minutes(119));
  EXPECT_EQ(cp_->GetWorkspace(admin_, "p", "idle").body["phase"], "Running");
  EXPECT_EQ(cp_->GetWorkspace(admin_, "p", "idle").body["idle"]["idle"], true);
  loop_.Advance(std::chrono::minutes(2));
  loop_.RunUntil(
      [&] { return cp_->GetWorkspace(admin_, "p", "idle").body["phase"] == "Suspended"; });
  Json idle = cp_->GetWorkspace(admin_, "p", "idle").body;
  EXPECT_EQ(idle["phase"], "Suspended");
  EXPECT_EQ(idle["allocatedGpu"], 0);
  EXPECT_NE(idle["message"].get<std::string>().find("idle for 2h"), std::string::npos)
      << idle["message"];
  EXPECT_EQ(cp_->GetWorkspace(admin_, "p", "busy").body["phase"], "Running");
  EXPECT_EQ(cp_->GetWorkspace(admin_, "p", "training").body["phase"], "Running");
  // The events say why; suspended, it is kept (files too) and starts again.
  // (The events are written on the store's thread.)
  std::string kinds;
  for (int i = 0; i < 500 && kinds.find("Suspended ") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const ApiResponse events = cp_->ListEvents(admin_, "p", "idle", 100);
    kinds.clear();
    for (const Json& e : events.body["items"]) kinds += e["kind"].get<std::string>() + " ";
  }
  EXPECT_NE(kinds.find("Suspending "), std::string::npos) << kinds;
  EXPECT_NE(kinds.find("Suspended "), std::string::npos) << kinds;
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "workspaces/p/idle"));
  ApiResponse again =
      Call([&](const Reply& reply) { cp_->StartWorkspace(admin_, "p", "idle", reply); });
  EXPECT_EQ(again.status, 202) << again.body;
  loop_.Advance(std::chrono::milliseconds(10));
  EXPECT_EQ(cp_->GetWorkspace(admin_, "p", "idle").body["phase"], "Running");
  // Culling off for the project: never suspended, however idle.
  ApiResponse off = Call([&](const Reply& reply) {
    cp_->UpdateProject(admin_, "p", json{{"workspaces", {{"idleTimeout", "0s"}}}}, reply);
  });
  ASSERT_EQ(off.status, 200) << off.body;
  activity["/ws/p/idle/"] = JupyterActivity{loop_.Now(), 0};
  loop_.Advance(std::chrono::hours(5));
  EXPECT_EQ(cp_->GetWorkspace(admin_, "p", "idle").body["phase"], "Running");
  // Deleting it removes its directory.
  ApiResponse gone =
      Call([&](const Reply& reply) { cp_->DeleteWorkspace(admin_, "p", "idle", reply); });
  EXPECT_LT(gone.status, 300) << gone.body;
  loop_.RunUntil([&] { return cp_->GetWorkspace(admin_, "p", "idle").status == 404; });
  EXPECT_FALSE(std::filesystem::exists(dir_ / "workspaces/p/idle"));
}

TEST_F(ControlPlaneTest, WorkspaceRequestsAreCheckedLikeSubmissions) {
  configure_ = [&](ControlPlaneOptions& o) { o.workspace_root = (dir_ / "ws").string(); };
  Start(false);
  Project("p");
  // No JupyterLab on this server: said so.
  ApiResponse r = Call([&](const Reply& reply) {
    cp_->CreateWorkspace(admin_, "p", json{{"name", "nb"}}, reply);
  });
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.dump().find("scripts/setup.sh"), std::string::npos) << r.body;
  // A command needs its port; JupyterLab must not be given one.
  r = Call([&](const Reply& reply) {
    cp_->CreateWorkspace(admin_, "p", json{{"name", "tb"}, {"command", {"tensorboard"}}}, reply);
  });
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.dump().find("body.port"), std::string::npos) << r.body;
  r = Call([&](const Reply& reply) {
    cp_->CreateWorkspace(admin_, "p",
                         json{{"name", "tb"}, {"command", {"tensorboard"}}, {"port", 6006}}, reply);
  });
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.body["kind"], "command");
  EXPECT_EQ(r.body["port"], 6006);
  // A submission cannot make itself a workspace.
  r = Call([&](const Reply& reply) {
    cp_->Submit(admin_, "p",
                json{{"name", "x"}, {"command", {"true"}}, {"workspace", {{"kind", "jupyter"}}}},
                reply);
  });
  EXPECT_EQ(r.status, 400);
  // A viewer may look but not create.
  Caller viewer{"val", -1, false};
  ApiResponse added = Call([&](const Reply& reply) {
    cp_->SetMember(admin_, "p", json{{"user", "val"}, {"role", "viewer"}}, reply);
  });
  ASSERT_EQ(added.status, 200);
  r = Call([&](const Reply& reply) {
    cp_->CreateWorkspace(viewer, "p", json{{"name", "v"}, {"command", {"true"}}, {"port", 1}},
                         reply);
  });
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(cp_->ListWorkspaces(viewer, "p").body["items"].size(), 1);
  WorkspaceUpstream up;
  EXPECT_EQ(cp_->WorkspaceUpstreamFor(viewer, "p", "tb", &up).status, 403);
  EXPECT_EQ(cp_->OpenWorkspace(Caller{"stranger", -1, false}, "p", "tb").status, 403);
}

}  // namespace
}  // namespace sluice
