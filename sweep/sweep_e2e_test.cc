// Sweeps end to end: a real `sluice server` with the local executor runs
// each trial as a Python process (sweep/testdata/quadratic.py, a noisy
// quadratic reported per step through the sluice Python package) on
// simulated GPUs.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/testing/api_checks.h"
#include "server/testing/server_process.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::Expect;
using testing::ServerProcess;

std::string TestDir() {
  return "/tmp/sluice-sweep-test-" + std::to_string(getpid()) + "-" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

std::string Source(const std::string& rel) {
  return (std::filesystem::current_path() / rel).string();
}

// The sweep spec of these tests, in YAML, with `extra` lines appended.
std::string SpecYaml(const std::string& name, int trials, int parallelism, const std::string& early,
                     int steps, double step_seconds) {
  return "name: " + name +
         "\n"
         "method: bayes\n"
         "seed: 7\n"
         "metric: {name: loss, goal: minimize}\n"
         "parameters:\n"
         "  x: {distribution: uniform, min: -1, max: 1}\n"
         "  lr: {distribution: loguniform, min: 1e-4, max: 1}\n"
         "budget: {maxTrials: " +
         std::to_string(trials) + ", maxFailures: 2, parallelism: " + std::to_string(parallelism) +
         "}\n"
         "earlyStopping: " +
         early +
         "\n"
         "trial:\n"
         "  command: [\"python3\", \"" +
         Source("sweep/testdata/quadratic.py") +
         "\", \"${x}\", \"${lr}\"]\n"
         "  gpu: 0.25\n"
         "  gracePeriod: 2s\n"
         "  env:\n"
         "    PYTHONPATH: \"" +
         Source("python") +
         "\"\n"
         "    STEPS: \"" +
         std::to_string(steps) +
         "\"\n"
         "    STEP_SECONDS: \"" +
         std::to_string(step_seconds) + "\"\n";
}

class SweepTest : public ::testing::Test {
 protected:
  void Begin(const std::string& gpus) {
    server_ = std::make_unique<ServerProcess>(TestDir(), gpus);
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    token_ = server_->AdminToken();
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) std::filesystem::remove_all(TestDir());
  }
  ApiClient Admin() const { return server_->Http(token_); }

  std::string WriteSpec(const std::string& text) {
    const std::string path = TestDir() + "/sweep.yaml";
    std::ofstream(path) << text;
    return path;
  }

  json Sweep(const std::string& project, const std::string& name) {
    return Expect(Admin(), 200, "GET", "/api/v1/projects/" + project + "/sweeps/" + name);
  }

  // The trials pending or running now, by the label the controller puts on them.
  int InFlight(const std::string& project, const std::string& sweep) {
    Result<HttpResult> r = Admin().Call("GET", "/api/v1/workloads?active=true&project=" + project);
    if (!r.ok() || r->status != 200) return -1;
    int n = 0;
    for (const json& w : r->json["items"]) {
      if (w["spec"].value("labels", json::object()).value("sluice.io/sweep", "") == sweep) ++n;
    }
    return n;
  }

  // Polls until the sweep has ended (or `seconds` pass), tracking the most
  // trials seen in flight at once; returns the sweep.
  json WaitForEnd(const std::string& project, const std::string& name, int seconds,
                  int* most_in_flight) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    json s;
    while (std::chrono::steady_clock::now() < deadline) {
      const int n = InFlight(project, name);
      if (most_in_flight != nullptr) *most_in_flight = std::max(*most_in_flight, n);
      s = Sweep(project, name);
      if (s.is_object() && s["state"] != "Running") return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
    ADD_FAILURE() << "the sweep did not end within " << seconds << " s:\n"
                  << s.dump(2) << "\n"
                  << server_->Log();
    return s;
  }

  std::unique_ptr<ServerProcess> server_;
  std::string token_;
};

// 24 trials, 4 at a time at a quarter GPU each: the sweep finishes, finds the
// optimum within the tolerance, never has more than 4 in flight, and ASHA
// stops at least a third of the trials early.
TEST_F(SweepTest, TwentyFourTrialsFindTheOptimumFourAtATimeAndAshaStopsAThird) {
  Begin("sim:2xH100-80GB");
  Expect(Admin(), 201, "POST", "/api/v1/projects", {{"name", "vision"}, {"gpu", {{"quota", 2}}}});
  const std::string spec =
      WriteSpec(SpecYaml("lr-search", 24, 4,
                         "{type: asha, minSteps: 2, reductionFactor: 3, maxSteps: 18}", 18, 0.005));
  testing::CommandResult r = server_->Cli("sweep submit -p vision -f " + spec);
  ASSERT_EQ(r.status, 0) << r.out;
  int most = 0;
  json s = WaitForEnd("vision", "lr-search", 180, &most);
  ASSERT_EQ(s["state"], "Succeeded") << s.dump(2);
  EXPECT_LE(most, 4);
  EXPECT_GE(most, 2) << "the trials never overlapped";
  EXPECT_LE(s["status"]["peakInFlight"].get<int>(), 4);
  ASSERT_EQ(s["trials"].size(), 24u);
  int early = 0;
  for (const json& t : s["trials"]) {
    const std::string state = t["state"];
    EXPECT_TRUE(state == "Succeeded" || state == "EarlyStopped") << t.dump(2);
    if (state == "EarlyStopped") {
      ++early;
      EXPECT_LT(t["steps"].get<int>(), 18) << t.dump(2);
    } else {
      EXPECT_EQ(t["steps"].get<int>(), 18) << t.dump(2);
    }
    EXPECT_FALSE(t["best"].is_null());
  }
  EXPECT_GE(early, 8) << "ASHA stopped " << early << " of 24 trials";
  std::cout << "24 trials: " << early << " stopped early by ASHA, at most " << most
            << " in flight, best " << s["best"].dump() << "\n";
  // The optimum is x = 0.3, lr = 1e-2; the tolerance: |x - 0.3| <= 0.3 and
  // lr within a factor of 10^0.6 (4x) of 1e-2.
  const json& best = s["best"];
  ASSERT_FALSE(best.is_null());
  const double x = best["parameters"]["x"].get<double>();
  const double lr = best["parameters"]["lr"].get<double>();
  EXPECT_NEAR(x, 0.3, 0.3) << best.dump();
  EXPECT_NEAR(std::log10(lr), -2, 0.6) << best.dump();
  EXPECT_LT(best["value"].get<double>(), 0.3) << best.dump();
  // Every trial was an ordinary workload of the project, labelled with the sweep.
  json w = Expect(Admin(), 200, "GET", "/api/v1/projects/vision/workloads/lr-search-0");
  EXPECT_EQ(w["spec"]["labels"]["sluice.io/sweep"], "lr-search");
  EXPECT_EQ(w["spec"]["gpu"], 0.25);
  EXPECT_FALSE(w.contains("privateEnv"));
  EXPECT_EQ(w["spec"]["env"].count("SLUICE_REPORT_TOKEN"), 0u);
  // describe: the trials table, the best trial and the budget left.
  r = server_->Cli("sweep describe lr-search -p vision");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Best:        trial " + std::to_string(best["trial"].get<int>())),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Budget left: 0 trials"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("EarlyStopped"), std::string::npos) << r.out;
  r = server_->Cli("sweep describe lr-search -p vision --json");
  ASSERT_EQ(r.status, 0) << r.out;
  json d = json::parse(r.out);
  EXPECT_EQ(d["state"], "Succeeded");
  EXPECT_EQ(d["trials"][0]["parameters"].size(), 2u);
  EXPECT_TRUE(d["best"].contains("value"));
  r = server_->Cli("sweep list");
  EXPECT_NE(r.out.find("lr-search"), std::string::npos) << r.out;
}

// A second project's reclaim preempts the trials, which borrowed idle GPUs;
// no new trial starts while there is no room; once the GPU is free again the
// sweep resumes the same trials (with SLUICE_RESTART_COUNT) and finishes.
TEST_F(SweepTest, ReclaimPreemptsTrialsAndTheSweepResumesThem) {
  Begin("sim:1xH100-80GB");
  Expect(Admin(), 201, "POST", "/api/v1/projects", {{"name", "research"}, {"gpu", {{"quota", 0}}}});
  Expect(Admin(), 201, "POST", "/api/v1/projects", {{"name", "prod"}, {"gpu", {{"quota", 1}}}});
  const std::string spec = WriteSpec(SpecYaml("borrow", 8, 4, "none", 60, 0.05));
  testing::CommandResult r = server_->Cli("sweep submit -p research -f " + spec);
  ASSERT_EQ(r.status, 0) << r.out;
  auto running = [&] {
    int n = 0;
    const json s = Sweep("research", "borrow");
    for (const json& t : s["trials"]) n += t["state"] == "Running";
    return n;
  };
  ASSERT_TRUE(testing::Eventually([&] { return running() == 4; })) << Sweep("research", "borrow");
  // Trials have reported a few steps before the reclaim.
  ASSERT_TRUE(testing::Eventually([&] {
    const json s = Sweep("research", "borrow");
    for (const json& t : s["trials"]) {
      if (t["steps"].get<int>() < 2) return false;
    }
    return true;
  }));
  Expect(Admin(), 201, "POST", "/api/v1/projects/prod/workloads",
         {{"name", "serve"}, {"gpu", 1}, {"command", json::array({"sleep", "3600"})}});
  ASSERT_TRUE(testing::Eventually([&] {
    json w = Expect(Admin(), 200, "GET", "/api/v1/projects/prod/workloads/serve");
    return w["status"]["phase"] == "Running";
  })) << server_->Log();
  json s = Sweep("research", "borrow");
  EXPECT_EQ(s["status"]["trialsCreated"], 4) << s.dump(2);
  int preempted = 0;
  for (const json& t : s["trials"]) {
    if (t["restarts"].get<int>() >= 1) {
      ++preempted;
      EXPECT_EQ(t["state"], "Pending") << t.dump(2);
    }
  }
  EXPECT_EQ(preempted, 4) << s.dump(2);
  // No room: nothing new starts, and the sweep says why.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  s = Sweep("research", "borrow");
  EXPECT_EQ(s["status"]["trialsCreated"], 4);
  EXPECT_EQ(s["status"]["inFlight"], 4);
  // Running: it is stopped, then removed (202).
  Expect(Admin(), 202, "DELETE", "/api/v1/projects/prod/workloads/serve");
  int most = 0;
  s = WaitForEnd("research", "borrow", 120, &most);
  ASSERT_EQ(s["state"], "Succeeded") << s.dump(2);
  EXPECT_LE(most, 4);
  ASSERT_EQ(s["trials"].size(), 8u);
  int resumed = 0;
  for (const json& t : s["trials"]) {
    EXPECT_EQ(t["state"], "Succeeded") << t.dump(2);
    EXPECT_EQ(t["steps"], 60) << t.dump(2);
    if (t["restarts"].get<int>() < 1) continue;
    ++resumed;
    // The resumed process saw SLUICE_RESTART_COUNT=1, with the same parameters.
    const json& last = t["history"].back();
    EXPECT_EQ(last["metrics"]["restarts"], 1) << t.dump(2);
    json w = Expect(Admin(), 200, "GET",
                    "/api/v1/projects/research/workloads/" + t["workload"].get<std::string>());
    EXPECT_EQ(w["status"]["evictions"], 1);
  }
  EXPECT_EQ(resumed, 4);
}

// The server is killed mid-sweep; started again, it picks the sweep up from
// SQLite and finishes it with every trial accounted for.
TEST_F(SweepTest, ASweepSurvivesAServerRestart) {
  Begin("sim:1xH100-80GB");
  Expect(Admin(), 201, "POST", "/api/v1/projects", {{"name", "vision"}, {"gpu", {{"quota", 1}}}});
  const std::string spec = WriteSpec(SpecYaml("restart", 8, 2, "none", 10, 0.05));
  ASSERT_EQ(server_->Cli("sweep submit -p vision -f " + spec).status, 0);
  ASSERT_TRUE(testing::Eventually(
      [&] { return Sweep("vision", "restart")["status"]["trialsCreated"].get<int>() >= 3; }));
  server_->Kill(SIGKILL);
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  json s = WaitForEnd("vision", "restart", 120, nullptr);
  ASSERT_EQ(s["state"], "Succeeded") << s.dump(2);
  ASSERT_EQ(s["trials"].size(), 8u);
  for (const json& t : s["trials"]) EXPECT_EQ(t["state"], "Succeeded") << t.dump(2);
  EXPECT_LE(s["status"]["peakInFlight"].get<int>(), 2);
}

TEST_F(SweepTest, ABadSpecIsRefusedWithTheFieldAndTheReason) {
  Begin("sim:1xH100-80GB");
  const std::string spec = WriteSpec(
      "name: bad\n"
      "method: bayes\n"
      "metric: {name: loss, goal: lowest}\n"
      "parameters:\n"
      "  lr: {distribution: loguniform, min: 0, max: 1}\n"
      "  opt: {distribution: gaussian}\n"
      "budget: {maxTrials: 10, parallelism: 0}\n"
      "trial:\n"
      "  command: [\"python3\", \"train.py\", \"${lr}\", \"${momentum}\"]\n");
  testing::CommandResult r = server_->Cli("sweep submit -p vision -f " + spec);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("sweep.yaml:3:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sweep.metric.goal: expected minimize or maximize"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("sweep.parameters.lr.min: must be above 0 for loguniform"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("sweep.parameters.opt.distribution: expected uniform, loguniform or int"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("sweep.yaml:7:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sweep.budget.parallelism: expected a whole number from 1"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("${momentum} names no parameter"), std::string::npos) << r.out;
  // The server refuses the same spec as JSON the same way.
  Expect(Admin(), 201, "POST", "/api/v1/projects", {{"name", "vision"}});
  json bad = Expect(Admin(), 400, "POST", "/api/v1/projects/vision/sweeps",
                    {{"name", "bad"},
                     {"metric", {{"name", "loss"}}},
                     {"parameters", {{"x", {{"values", json::array()}}}}},
                     {"trial", {{"command", json::array({"true"})}}}});
  EXPECT_NE(testing::ErrorOf(bad).find("sweep.parameters.x.values: expected a non-empty list"),
            std::string::npos)
      << bad;
  // A grid over a real range needs points.
  bad = Expect(Admin(), 400, "POST", "/api/v1/projects/vision/sweeps",
               {{"name", "grid"},
                {"method", "grid"},
                {"metric", "loss"},
                {"parameters", {{"x", {{"distribution", "uniform"}, {"min", 0}, {"max", 1}}}}},
                {"trial", {{"command", json::array({"true"})}}}});
  EXPECT_NE(testing::ErrorOf(bad).find("sweep.parameters.x: grid search needs"), std::string::npos)
      << bad;
}

}  // namespace
}  // namespace sluice
