// Integration tests, through a real `sluice server`, of what the web UI
// needs from it: the UI's files at `/` (without auth, while the API keeps
// asking for a token), the usage time series, the chargeback report (JSON
// and CSV, idle allocations) and its price setting, with each caller seeing
// only what they may.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "server/testing/api_checks.h"
#include "server/testing/server_process.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::ErrorOf;
using testing::Eventually;
using testing::Expect;
using testing::ExpectText;
using testing::ServerProcess;

std::string TestDir() {
  return "/tmp/sluice-usage-test-" + std::to_string(getpid()) + "-" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

// A server that records an interval every 100 ms, on `gpus`, with `extra` args.
class UsageTest : public ::testing::Test {
 protected:
  void Start(const std::string& gpus, std::vector<std::string> extra = {}) {
    server_ = std::make_unique<ServerProcess>(TestDir(), gpus);
    extra.insert(extra.end(), {"--sample-ms", "100", "--executor", "sim"});
    std::string error;
    ASSERT_TRUE(server_->Start(&error, extra)) << error;
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) std::filesystem::remove_all(TestDir());
  }
  ApiClient Admin() const { return server_->Http(server_->AdminToken()); }
  std::string TokenFor(const std::string& user) {
    return Expect(Admin(), 201, "POST", "/api/v1/tokens", {{"user", user}})["token"];
  }
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(UsageTest, ServesTheWebUiAtTheRootWithoutATokenButNotTheApi) {
  const std::string web = TestDir() + "-web";
  std::filesystem::create_directories(web + "/assets");
  std::ofstream(web + "/index.html") << "<!doctype html><title>sluice</title>";
  std::ofstream(web + "/assets/app-1234.js") << "console.log('sluice')";
  Start("sim:2xH100-80GB", {"--web-dir", web});
  const ApiClient anonymous = server_->Http("");
  EXPECT_EQ(ExpectText(anonymous, 200, "GET", "/"), "<!doctype html><title>sluice</title>");
  // The app's own routes load the app.
  EXPECT_EQ(ExpectText(anonymous, 200, "GET", "/workloads/vision/train"),
            "<!doctype html><title>sluice</title>");
  EXPECT_EQ(ExpectText(anonymous, 200, "GET", "/assets/app-1234.js"), "console.log('sluice')");
  Expect(anonymous, 404, "GET", "/assets/missing.js");
  Expect(anonymous, 404, "GET", "/%2e%2e/index.html");
  Expect(anonymous, 404, "GET", "/assets/..%2f..%2fetc%2fpasswd");
  // Every data endpoint still wants a token.
  Expect(anonymous, 401, "GET", "/api/v1/workloads");
  Expect(anonymous, 401, "GET", "/api/v1/usage");
  Expect(anonymous, 401, "GET", "/api/v1/chargeback");
  std::filesystem::remove_all(web);
}

TEST_F(UsageTest, SeriesAndChargebackFollowWhatIsAllocated) {
  Start("sim:4xH100-80GB");
  const ApiClient admin = Admin();
  Expect(admin, 201, "POST", "/api/v1/departments",
         {{"name", "research"}, {"gpu", {{"quota", 4}}}});
  Expect(admin, 201, "POST", "/api/v1/projects",
         {{"name", "vision"}, {"department", "research"}, {"gpu", {{"quota", 2}}}});
  Expect(admin, 201, "POST", "/api/v1/projects", {{"name", "nlp"}, {"gpu", {{"quota", 2}}}});
  Expect(admin, 200, "POST", "/api/v1/projects/vision/members",
         {{"user", "alice"}, {"role", "member"}});
  const ApiClient alice = server_->Http(TokenFor("alice"));
  const json sleep = json::array({"sleep", "3600"});
  Expect(admin, 201, "POST", "/api/v1/projects/vision/workloads",
         {{"name", "train"}, {"gpu", 2}, {"command", sleep}});
  Expect(admin, 201, "POST", "/api/v1/projects/nlp/workloads",
         {{"name", "half"}, {"gpu", 0.5}, {"command", sleep}});
  // A workload that cannot fit waits, and counts as pending demand.
  Expect(admin, 201, "POST", "/api/v1/projects/nlp/workloads",
         {{"name", "huge"}, {"gpu", 4}, {"command", sleep}});

  const std::string series = "/api/v1/usage?scope=projects&step=1s";
  json vision;
  ASSERT_TRUE(Eventually([&] {
    json r = Expect(admin, 200, "GET", series);
    for (const json& s : r["series"]) {
      if (s["name"] == "project/vision" && s["points"].size() >= 3) vision = s;
    }
    return !vision.is_null() && vision["points"].back()["allocated"] == 2;
  })) << vision.dump();
  // Simulated GPUs are not measured: use is unknown, not zero.
  EXPECT_TRUE(vision["points"].back()["used"].is_null());

  json cluster = Expect(admin, 200, "GET", "/api/v1/usage?step=1s");
  ASSERT_EQ(cluster["scope"], "cluster");
  ASSERT_FALSE(cluster["series"].empty());
  EXPECT_EQ(cluster["series"][0]["points"].back()["allocated"], 2.5);
  EXPECT_EQ(cluster["series"][0]["points"].back()["pending"], 4);
  // The queues view has every resource's quota, fair share and allocation.
  json queues = Expect(admin, 200, "GET", "/api/v1/queues")["items"];
  ASSERT_EQ(queues[1]["name"], "vision");
  EXPECT_EQ(queues[1]["resources"]["gpu"]["quota"], 2);
  EXPECT_EQ(queues[1]["resources"]["gpu"]["allocated"], 2);
  EXPECT_EQ(queues[1]["resources"]["cpu"]["quota"], -1);
  EXPECT_EQ(queues[1]["resources"]["cpu"]["allocated"], 0);
  EXPECT_EQ(queues[1]["resources"]["memory"]["allocated"], "0Mi");
  EXPECT_EQ(queues[0]["resources"]["gpu"]["allocated"], 2);  // research: vision's
  json gpus = Expect(admin, 200, "GET", "/api/v1/usage?scope=gpus&step=1s");
  EXPECT_EQ(gpus["series"].size(), 4u);

  // alice sees her project's series only.
  json mine = Expect(alice, 200, "GET", series);
  for (const json& s : mine["series"]) EXPECT_EQ(s["name"], "project/vision");
  EXPECT_NE(ErrorOf(Expect(alice, 403, "GET", "/api/v1/usage?scope=projects&project=nlp"))
                .find("not a member"),
            std::string::npos);

  // The report: a price set by an admin, the rows adding up, CSV alike.
  EXPECT_NE(ErrorOf(Expect(alice, 403, "PATCH", "/api/v1/settings", {{"gpuHourPrice", 1}}))
                .find("only admins"),
            std::string::npos);
  Expect(admin, 200, "PATCH", "/api/v1/settings", {{"gpuHourPrice", 3.5}, {"currency", "EUR"}});
  EXPECT_EQ(Expect(alice, 200, "GET", "/api/v1/settings")["gpuHourPrice"], 3.5);
  json report = Expect(admin, 200, "GET", "/api/v1/chargeback");
  ASSERT_EQ(report["departments"].size(), 2u) << report.dump();
  EXPECT_EQ(report["departments"][0]["name"], "research");
  EXPECT_TRUE(report["departments"][1]["name"].is_null());  // nlp has no department
  double sum = 0;
  for (const json& d : report["departments"]) sum += d["allocatedGpuHours"].get<double>();
  const double total = report["total"]["allocatedGpuHours"];
  EXPECT_NEAR(sum, total, 1e-9);
  const json& v = report["departments"][0]["projects"][0];
  EXPECT_EQ(v["name"], "vision");
  // vision held 2 GPUs and nlp 0.5 for the same intervals.
  const double nlp = report["departments"][1]["projects"][0]["allocatedGpuHours"];
  EXPECT_NEAR(v["allocatedGpuHours"].get<double>(), 4 * nlp, 1e-9);
  EXPECT_NEAR(report["total"]["cost"].get<double>(), std::round(total * 3.5 * 100) / 100, 1e-9);
  EXPECT_EQ(report["currency"], "EUR");

  const std::string csv = ExpectText(admin, 200, "GET", "/api/v1/chargeback?format=csv");
  EXPECT_EQ(csv.rfind("level,department,project,allocated_gpu_hours,", 0), 0u) << csv;
  EXPECT_NE(csv.find("project,research,vision,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("department,research,,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\ntotal,,,"), std::string::npos) << csv;

  EXPECT_NE(ErrorOf(Expect(alice, 403, "GET", "/api/v1/chargeback")).find("only admins"),
            std::string::npos);
}

// The submit form validates through ?dryRun=true: the server's own
// messages, and nothing kept.
TEST_F(UsageTest, ADryRunSubmissionChecksEverythingAndKeepsNothing) {
  Start("sim:1xH100-80GB");
  const ApiClient admin = Admin();
  Expect(admin, 201, "POST", "/api/v1/projects", {{"name", "p"}, {"gpu", {{"quota", 1}}}});
  const std::string target = "/api/v1/projects/p/workloads?dryRun=true";
  json ok = Expect(admin, 200, "POST", target,
                   {{"name", "w"}, {"gpu", 0.25}, {"command", json::array({"true"})}});
  EXPECT_EQ(ok["valid"], true);
  EXPECT_TRUE(ok["warnings"].empty());
  EXPECT_TRUE(Expect(admin, 200, "GET", "/api/v1/projects/p/workloads")["items"].empty());
  json big = Expect(admin, 200, "POST", target,
                    {{"name", "w"}, {"gpu", 8}, {"command", json::array({"true"})}});
  EXPECT_EQ(big["warnings"].size(), 1u);
  EXPECT_NE(ErrorOf(Expect(admin, 400, "POST", target,
                           {{"name", "w"}, {"gpu", 1.5}, {"command", json::array({"true"})}}))
                .find("body.gpu:"),
            std::string::npos);
}

TEST_F(UsageTest, BadQueriesAreRefusedWithTheFieldAtFault) {
  Start("sim:1xH100-80GB");
  const ApiClient admin = Admin();
  EXPECT_NE(ErrorOf(Expect(admin, 400, "GET", "/api/v1/usage?from=yesterday")).find("from:"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Expect(admin, 400, "GET",
                           "/api/v1/usage?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z"))
                .find("before"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Expect(admin, 400, "GET", "/api/v1/usage?step=10ms")).find("step:"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Expect(admin, 400, "GET", "/api/v1/usage?scope=racks")).find("scope:"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Expect(admin, 400, "GET",
                           "/api/v1/usage?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z&"
                           "step=1s"))
                .find("10000 steps"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(Expect(admin, 400, "GET", "/api/v1/chargeback?idleMinutes=0")).find("idleMinutes:"),
      std::string::npos);
  EXPECT_NE(ErrorOf(Expect(admin, 400, "GET", "/api/v1/chargeback?format=xml")).find("format:"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Expect(admin, 400, "PATCH", "/api/v1/settings", {{"gpuHourPrice", -1}}))
                .find("gpuHourPrice:"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Expect(admin, 400, "PATCH", "/api/v1/settings", {{"colour", "red"}}))
                .find("unknown field"),
            std::string::npos);
  Expect(admin, 405, "POST", "/api/v1/usage");
}

// The nodes view draws the GPU map: each device's shares, and the MIG
// instances of devices in MIG mode.
TEST_F(UsageTest, NodesShowEachDevicesSharesAndMigInstances) {
  setenv("LD_LIBRARY_PATH", FAKE_NVML_DIR, 1);
  setenv("SLUICE_FAKE_NVML_DEVICES",
         "NVIDIA H100 80GB HBM3:81559:20:0,NVIDIA H100 80GB HBM3:81559:0:0", 1);
  setenv("SLUICE_FAKE_NVML_MIG", "1", 1);
  setenv("SLUICE_FAKE_NVML_MIG_INSTANCES", "1:40192,1:20096", 1);
  Start("auto", {"--telemetry-ms", "100"});
  for (const char* v : {"LD_LIBRARY_PATH", "SLUICE_FAKE_NVML_DEVICES", "SLUICE_FAKE_NVML_MIG",
                        "SLUICE_FAKE_NVML_MIG_INSTANCES"}) {
    unsetenv(v);
  }
  const ApiClient admin = Admin();
  Expect(admin, 201, "POST", "/api/v1/projects", {{"name", "p"}, {"gpu", {{"quota", 1}}}});
  for (const char* name : {"a", "b", "c", "d"}) {
    Expect(admin, 201, "POST", "/api/v1/projects/p/workloads",
           {{"name", name}, {"gpu", 0.25}, {"command", json::array({"sleep", "3600"})}});
  }
  json gpus;
  ASSERT_TRUE(Eventually([&] {
    gpus = Expect(admin, 200, "GET", "/api/v1/nodes")["items"][0]["gpus"];
    return gpus[0]["shares"].size() == 4;
  })) << gpus.dump();
  for (const json& share : gpus[0]["shares"]) EXPECT_EQ(share["gpuFraction"], 0.25);
  EXPECT_EQ(gpus[0]["shares"][0]["workload"], "p/a");
  EXPECT_TRUE(gpus[0]["mig"].empty());
  ASSERT_EQ(gpus[1]["mig"].size(), 2u) << gpus.dump();
  EXPECT_EQ(gpus[1]["mig"][0]["memory"], "40192Mi");
  EXPECT_TRUE(gpus[1]["shares"].empty());
}

// On measured GPUs (the fake NVML) that do nothing, an allocation is
// flagged idle; history survives a restart.
TEST_F(UsageTest, IdleAllocationsAreFlaggedAndHistorySurvivesARestart) {
  setenv("LD_LIBRARY_PATH", FAKE_NVML_DIR, 1);
  setenv("SLUICE_FAKE_NVML_DEVICES", "NVIDIA H100 80GB HBM3:81559:1:0", 1);
  Start("auto", {"--telemetry-ms", "100"});
  unsetenv("LD_LIBRARY_PATH");
  const ApiClient admin = Admin();
  Expect(admin, 201, "POST", "/api/v1/projects", {{"name", "idle"}, {"gpu", {{"quota", 1}}}});
  Expect(admin, 201, "POST", "/api/v1/projects/idle/workloads",
         {{"name", "w"}, {"gpu", 1}, {"command", json::array({"sleep", "3600"})}});
  json report;
  ASSERT_TRUE(Eventually([&] {
    report = Expect(admin, 200, "GET", "/api/v1/chargeback?idleMinutes=1");
    return !report["idle"].empty() && report["total"]["usedGpuHours"].is_number();
  })) << report.dump();
  EXPECT_EQ(report["idle"][0]["project"], "idle");
  // 1% used of what is allocated.
  EXPECT_NEAR(report["total"]["efficiency"].get<double>(), 0.01, 0.002);
  const double before = report["total"]["allocatedGpuHours"];

  std::string error;
  server_->Kill(SIGTERM);
  setenv("LD_LIBRARY_PATH", FAKE_NVML_DIR, 1);
  ASSERT_TRUE(server_->Start(&error, {"--sample-ms", "100", "--executor", "sim"})) << error;
  unsetenv("LD_LIBRARY_PATH");
  unsetenv("SLUICE_FAKE_NVML_DEVICES");
  json again = Expect(Admin(), 200, "GET", "/api/v1/chargeback");
  EXPECT_GE(again["total"]["allocatedGpuHours"].get<double>(), before);
}

}  // namespace
}  // namespace sluice
