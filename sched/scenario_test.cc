// Scenario tests: each file in sched/testdata/scenarios is a snapshot plus an
// `expect:` section with the outcome `sluice plan` must produce. The check
// goes through the same JSON document that `sluice plan --json` prints.
//
// expect keys (all optional):
//   settle: true | cycles: N          how to run (default: one cycle); a
//                                     settled run must then stay unchanged
//                                     for 10 more cycles
//   error: "text"                     the snapshot must be refused with it
//   fairShare: {queue: {gpu: 2.5, cpu: 8, memory: 1024}}   (GPUs, cores, MiB)
//   placements: {workload: [{node: n, gpus: [0], fraction: 0.5}]}  exact
//                                     (a MIG pod: {node, gpus, mig: 1g.10gb@3})
//   running: [workload, ...]          placed, anywhere
//   pending: {workload: {reason: "substring", position: 1}}
//   pendingCount: N                   how many workloads are left pending
//   evicted: [workload, ...]           every eviction, in order
//   evictions: [{workload: w, action: reclaim, for: r}, ...]   exact, in order
//   releasing: [workload, ...]         still exiting in the final state
//   cycles: N                         for settle: how many cycles ran
//   repartitions: [{node: n, gpu: 0, create: [3g.40gb@4], destroy: [], layout: [...]}]
//                                     every MIG repartition, exact, in order (keys
//                                     left out are not checked)
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/plan_command.h"
#include "common/quantity.h"
#include "core/snapshot_reader.h"
#include "sched/scheduler.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const char* const kScenarioDir = "sched/testdata/scenarios";

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(kScenarioDir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

int64_t Milli(const YAML::Node& n) {
  Result<int64_t> v = ParseMilli(n.Scalar());
  EXPECT_TRUE(v.ok()) << "bad number in expect: " << n.Scalar();
  return v.ok() ? *v : -1;
}

int64_t JsonMilli(const Json& j) {
  return static_cast<int64_t>(j.get<double>() * 1000.0 + (j.get<double>() >= 0 ? 0.5 : -0.5));
}

void CheckPlacements(const YAML::Node& expected, const Json& doc) {
  for (const auto& kv : expected) {
    const std::string name = kv.first.Scalar();
    ASSERT_TRUE(doc["placements"].contains(name)) << name << " is not running";
    const Json& got = doc["placements"][name];
    ASSERT_EQ(got.size(), kv.second.size()) << name << ": " << got.dump();
    for (size_t i = 0; i < kv.second.size(); ++i) {
      const YAML::Node& want = kv.second[i];
      EXPECT_EQ(got[i]["node"], want["node"].Scalar())
          << name << " pod " << i << ": " << got.dump();
      std::vector<int> gpus;
      for (const auto& g : want["gpus"]) gpus.push_back(g.as<int>());
      EXPECT_EQ(got[i]["gpus"].get<std::vector<int>>(), gpus)
          << name << " pod " << i << ": " << got.dump();
      if (want["fraction"]) {
        EXPECT_EQ(JsonMilli(got[i]["fraction"]), Milli(want["fraction"]))
            << name << " pod " << i << ": " << got.dump();
      }
      if (want["mig"]) {
        EXPECT_EQ(got[i].value("mig", ""), want["mig"].Scalar())
            << name << " pod " << i << ": " << got.dump();
      }
    }
  }
}

void CheckExpectations(const YAML::Node& expect, const PlanResult& plan) {
  const Json doc = PlanToJson(plan);
  SCOPED_TRACE("plan: " + doc.dump());
  static const std::vector<std::string> kKnown = {
      "settle",  "cycles",       "error",   "fairShare", "placements", "running",
      "pending", "pendingCount", "evicted", "evictions", "releasing",  "repartitions"};
  for (const auto& kv : expect) {
    ASSERT_NE(std::find(kKnown.begin(), kKnown.end(), kv.first.Scalar()), kKnown.end())
        << "unknown expect key " << kv.first.Scalar();
  }
  if (expect["fairShare"]) {
    for (const auto& q : expect["fairShare"]) {
      const std::string name = q.first.Scalar();
      ASSERT_TRUE(doc["fairShare"].contains(name)) << "no fair share for " << name;
      for (const auto& r : q.second) {
        const std::string res = r.first.Scalar();
        const Json& got = doc["fairShare"][name][res];
        if (res == "memory") {
          EXPECT_EQ(got.get<int64_t>(), r.second.as<int64_t>()) << name << " " << res;
        } else {
          EXPECT_EQ(JsonMilli(got), Milli(r.second)) << name << " " << res;
        }
      }
    }
  }
  if (expect["placements"]) CheckPlacements(expect["placements"], doc);
  for (const auto& w : expect["running"]) {
    EXPECT_TRUE(doc["placements"].contains(w.Scalar())) << w.Scalar() << " should be running";
  }
  for (const auto& kv : expect["pending"]) {
    const std::string name = kv.first.Scalar();
    ASSERT_TRUE(doc["pending"].contains(name)) << name << " should be pending";
    const Json& got = doc["pending"][name];
    if (kv.second["reason"]) {
      EXPECT_NE(got["reason"].get<std::string>().find(kv.second["reason"].Scalar()),
                std::string::npos)
          << name << "'s reason is \"" << got["reason"].get<std::string>() << "\"";
    }
    if (kv.second["position"]) {
      EXPECT_EQ(got["position"].get<int>(), kv.second["position"].as<int>()) << name;
    }
  }
  if (expect["pendingCount"]) {
    EXPECT_EQ(doc["pending"].size(), expect["pendingCount"].as<size_t>());
  }
  if (expect["evicted"]) {
    std::vector<std::string> want;
    for (const auto& w : expect["evicted"]) want.push_back(w.Scalar());
    EXPECT_EQ(doc["evicted"].get<std::vector<std::string>>(), want);
  }
  if (expect["evictions"]) {
    const Json& got = doc["evictions"];
    ASSERT_EQ(got.size(), expect["evictions"].size()) << got.dump();
    for (size_t i = 0; i < got.size(); ++i) {
      const YAML::Node& want = expect["evictions"][i];
      EXPECT_EQ(got[i]["workload"], want["workload"].Scalar()) << i;
      if (want["action"]) {
        EXPECT_EQ(got[i]["action"], want["action"].Scalar()) << i;
      }
      if (want["for"]) {
        EXPECT_EQ(got[i]["for"], want["for"].Scalar()) << i;
      }
    }
  }
  if (expect["releasing"]) {
    std::vector<std::string> want;
    for (const auto& w : expect["releasing"]) want.push_back(w.Scalar());
    EXPECT_EQ(doc["releasing"].get<std::vector<std::string>>(), want);
  }
  if (expect["cycles"]) {
    EXPECT_EQ(doc["cycles"].get<int>(), expect["cycles"].as<int>());
  }
  if (expect["repartitions"]) {
    const Json& got = doc["repartitions"];
    ASSERT_EQ(got.size(), expect["repartitions"].size()) << got.dump();
    for (size_t i = 0; i < got.size(); ++i) {
      const YAML::Node& want = expect["repartitions"][i];
      EXPECT_EQ(got[i]["node"], want["node"].Scalar()) << i;
      EXPECT_EQ(got[i]["gpu"].get<int>(), want["gpu"].as<int>()) << i;
      for (const char* key : {"create", "destroy", "layout"}) {
        if (!want[key]) continue;
        std::vector<std::string> list;
        for (const auto& m : want[key]) list.push_back(m.Scalar());
        EXPECT_EQ(got[i][key].get<std::vector<std::string>>(), list) << i << " " << key;
      }
    }
  }
}

class ScenarioTest : public testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, MatchesExpectedOutcome) {
  const std::string path = std::string(kScenarioDir) + "/" + GetParam();
  YAML::Node root = YAML::LoadFile(path);
  ASSERT_TRUE(root["expect"]) << path << " has no expect: section";
  YAML::Node expect = YAML::Clone(root["expect"]);
  root.remove("expect");
  Result<Snapshot> snapshot = ParseSnapshotNode(root, path);
  if (expect["error"]) {
    ASSERT_FALSE(snapshot.ok()) << path << " should have been refused";
    EXPECT_NE(snapshot.status().message().find(expect["error"].Scalar()), std::string::npos)
        << "error was:\n"
        << snapshot.status().message();
    return;
  }
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().message();
  PlanOptions options;
  options.settle = expect["settle"] && expect["settle"].as<bool>();
  options.max_cycles = options.settle ? 100 : 1;
  if (expect["cycles"] && !options.settle) options.max_cycles = expect["cycles"].as<int>();
  PlanResult plan = Plan(std::move(snapshot).value(), options);
  CheckExpectations(expect, plan);
  if (options.settle) {
    // Once settled, the state stays settled: no ping-pong.
    ASSERT_LT(plan.cycles, options.max_cycles) << "did not settle";
    for (int extra = 0; extra < 10; ++extra) {
      CycleResult r = RunCycle(plan.final_state);
      ASSERT_TRUE(r.binds.empty() && r.pipelined.empty() && r.evictions.empty())
          << "changed " << extra + 1 << " cycles after settling";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest, testing::ValuesIn(ScenarioFiles()),
                         [](const testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param.substr(0, param.param.size() - 5);
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace sluice
