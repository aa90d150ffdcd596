// Runs the real `sluice` binary as a user would and checks its output and
// exit status.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "server/testing/server_process.h"

namespace sluice {
namespace {

using Outcome = testing::CommandResult;

Outcome Sluice(const std::string& args) {
  return testing::Run(std::string(SLUICE_BINARY) + " " + args);
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(CliTest, HelpNamesTheCommands) {
  Outcome r = Sluice("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("plan"), std::string::npos) << r.out;
  Outcome p = Sluice("plan --help");
  EXPECT_EQ(p.status, 0);
  EXPECT_NE(p.out.find("--settle"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("--json"), std::string::npos) << p.out;
}

TEST(CliTest, EveryExampleRuns) {
  int examples = 0;
  for (const auto& e : std::filesystem::directory_iterator("examples")) {
    if (e.path().extension() != ".yaml" && e.path().extension() != ".json") continue;
    ++examples;
    Outcome tables = Sluice("plan -f " + e.path().string());
    EXPECT_EQ(tables.status, 0) << e.path() << "\n" << tables.out;
    EXPECT_NE(tables.out.find("Fair share"), std::string::npos) << tables.out;
    Outcome json = Sluice("plan --settle --json -f " + e.path().string());
    ASSERT_EQ(json.status, 0) << e.path() << "\n" << json.out;
    nlohmann::json doc = nlohmann::json::parse(json.out);
    for (const char* key : {"cycles", "fairShare", "placements", "evicted", "pending"}) {
      EXPECT_TRUE(doc.contains(key)) << key;
    }
  }
  EXPECT_GE(examples, 3);
}

TEST(CliTest, JsonAndYamlOfOneSnapshotPlanAlike) {
  const std::string yaml = WriteTemp("sluice_cli_same.yaml", R"(now: 2026-01-01T12:00:00Z
nodes: [{name: n1, gpus: 4, gpuMemory: 40Gi}]
queues: [{name: a, gpu: {quota: 2}}, {name: b, gpu: {quota: 2}}]
workloads:
  - {name: x, queue: a, gpu: 2}
  - {name: y, queue: b, gpu: 0.5, pods: 2}
  - {name: z, queue: b, gpu: 4}
)");
  const std::string json = WriteTemp("sluice_cli_same.json", R"({
  "now": "2026-01-01T12:00:00Z",
  "nodes": [{"name": "n1", "gpus": 4, "gpuMemory": "40Gi"}],
  "queues": [{"name": "a", "gpu": {"quota": 2}}, {"name": "b", "gpu": {"quota": 2}}],
  "workloads": [
    {"name": "x", "queue": "a", "gpu": 2},
    {"name": "y", "queue": "b", "gpu": 0.5, "pods": 2},
    {"name": "z", "queue": "b", "gpu": 4}
  ]
})");
  Outcome a = Sluice("plan --json -f " + yaml);
  Outcome b = Sluice("plan --json -f " + json);
  ASSERT_EQ(a.status, 0) << a.out;
  EXPECT_EQ(a.out, b.out);
  nlohmann::json doc = nlohmann::json::parse(a.out);
  EXPECT_EQ(doc["cycles"], 1);
  EXPECT_EQ(doc["fairShare"]["a"]["gpu"], 2);
  EXPECT_EQ(doc["placements"]["y"].size(), 2u);
  EXPECT_EQ(doc["pending"]["z"]["position"], 1);
  EXPECT_NE(doc["pending"]["z"]["reason"].get<std::string>().find("4 whole GPUs"),
            std::string::npos);
}

TEST(CliTest, BadSnapshotExitsOneWithLocatedErrors) {
  const std::string path = WriteTemp("sluice_cli_bad.yaml", R"(now: 2026-01-01T12:00:00Z
queues: [{name: q}]
workloads:
  - name: w
    queue: q
    gpu: 1.5
    podz: 2
)");
  Outcome r = Sluice("plan -f " + path);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find(path + ":6:10: workloads[0] \"w\".gpu: expected a whole number of GPUs"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(path + ":7:5: workloads[0] \"w\": unknown field \"podz\"; did you mean "
                              "\"pods\"?"),
            std::string::npos)
      << r.out;
}

TEST(CliTest, BenchPrintsMediansAndPeakMemory) {
  Outcome r = Sluice("bench --filter kai --max-nodes 100 --repetitions 1 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc.size(), 2u) << r.out;
  EXPECT_EQ(doc[0]["name"], "kai-allocate");
  EXPECT_EQ(doc[1]["name"], "kai-reclaim-large");
  for (const auto& row : doc) {
    EXPECT_EQ(row["nodes"], 100);
    EXPECT_GT(row["median_ms"].get<double>(), 0.0);
    EXPECT_GT(row["peak_mib"].get<double>(), 0.0);
  }
  Outcome none = Sluice("bench --filter nothing-like-this");
  EXPECT_EQ(none.status, 2) << none.out;
  EXPECT_NE(none.out.find("no benchmark matches"), std::string::npos) << none.out;
}

// A small openb trace through the real binary: every policy, JSON in the
// documented shape, the curve file and the gnuplot chart; then bad input.
TEST(CliTest, SimOpenbComparesPoliciesAndDrawsTheCurve) {
  const std::string nodes =
      WriteTemp("sluice_sim_nodes.csv",
                "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,4,T4\nn1,64000,262144,8,G2\n");
  const std::string pods = WriteTemp(
      "sluice_sim_pods.csv",
      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,4000,8192,1,1000,\n"
      "p1,2000,4096,1,500,\np2,2000,4096,1,250,T4\np3,8000,16384,2,1000,\np4,1000,1024,0,0,\n");
  const std::string curve = (std::filesystem::temp_directory_path() / "sluice_sim.csv").string();
  const std::string png = (std::filesystem::temp_directory_path() / "sluice_sim.png").string();
  std::filesystem::remove(png);
  Outcome r = Sluice("sim openb --nodes " + nodes + " --pods " + pods +
                     " --seeds 1-3 --json --curve " + curve + " --plot " + png);
  ASSERT_EQ(r.status, 0) << r.out;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["policies"].size(), 6U) << r.out;
  for (const char* p : {"random", "dotprod", "gpupacking", "bestfit", "fgd", "sluice"}) {
    for (const char* k : {"alloc100", "alloc130", "frag130"}) {
      const nlohmann::json& v = doc["policies"][p][k];
      EXPECT_LE(v["min"].get<double>(), v["mean"].get<double>()) << p << k;
      EXPECT_LE(v["mean"].get<double>(), v["max"].get<double>()) << p << k;
      EXPECT_LE(v["max"].get<double>(), 100.0) << p << k;
    }
  }
  std::ifstream c(curve);
  std::string header;
  std::getline(c, header);
  EXPECT_EQ(header, "policy_index,arrived_pct,alloc_mean_pct,alloc_min_pct,alloc_max_pct,policy");
  int rows = 0;
  for (std::string line; std::getline(c, line);) ++rows;
  EXPECT_EQ(rows, 6 * 130);
  ASSERT_TRUE(std::filesystem::exists(png));
  std::ifstream image(png, std::ios::binary);
  char magic[4] = {};
  image.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");

  Outcome table = Sluice("sim openb --nodes " + nodes + " --pods " + pods + " --seeds 7");
  ASSERT_EQ(table.status, 0) << table.out;
  EXPECT_NE(table.out.find("ALLOC@130% MEAN"), std::string::npos) << table.out;

  const std::string bad = WriteTemp("sluice_sim_bad.csv",
                                    "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,x,500\n");
  Outcome e = Sluice("sim openb --nodes " + nodes + " --pods " + bad);
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.out.find(bad + ":2: column \"num_gpu\": expected a non-negative integer"),
            std::string::npos)
      << e.out;
  EXPECT_EQ(Sluice("sim openb --nodes " + nodes + " --pods " + pods + " --policy best").status, 2);
  EXPECT_EQ(Sluice("sim openb --nodes " + nodes + " --pods " + pods + " --seeds 9-1").status, 2);
  EXPECT_EQ(Sluice("sim openb --nodes /nonexistent.csv --pods " + pods).status, 1);
}

TEST(CliTest, SimPhillyComparesPoliciesPerTenant) {
  const std::string jobs =
      WriteTemp("sluice_sim_jobs.csv",
                "job_id,tenant,submit_s,gpus,duration_s,model\na1,a,0,1,3600,m\na2,a,0,1,3600,m\n"
                "b1,b,100,1,3600,m\nb2,b,100,1,3600,m\n");
  Outcome r = Sluice("sim philly --jobs " + jobs + " --nodes 1 --gpus-per-node 2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["jobs"], 4);
  EXPECT_EQ(doc["policies"]["fifo"]["preemptions"], 0);
  EXPECT_EQ(doc["policies"]["sluice"]["preemptions"], 1);
  EXPECT_DOUBLE_EQ(doc["policies"]["sluice"]["quotaShortfallGpuHours"].get<double>(), 0.0);
  EXPECT_GT(doc["policies"]["quota"]["tenants"]["b"]["quotaShortfallGpuHours"].get<double>(), 0.9);
  EXPECT_EQ(doc["policies"]["sluice"]["tenants"]["a"]["quotaGpus"], 1.0);
  Outcome table = Sluice("sim philly --jobs " + jobs + " --nodes 1 --gpus-per-node 2");
  ASSERT_EQ(table.status, 0) << table.out;
  EXPECT_NE(table.out.find("QUOTA SHORTFALL GPU-H"), std::string::npos) << table.out;
  EXPECT_EQ(Sluice("sim philly --jobs " + jobs + " --nodes 1 --gpus-per-node 1").status, 0);
  EXPECT_EQ(Sluice("sim philly --jobs " + jobs + " --policy lifo").status, 2);
  const std::string bad = WriteTemp("sluice_sim_jobs_bad.csv", "job_id,tenant,submit_s,gpus\n");
  Outcome e = Sluice("sim philly --jobs " + bad);
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.out.find("missing column \"duration_s\""), std::string::npos) << e.out;
}

TEST(CliTest, BadCommandLineExitsTwo) {
  EXPECT_EQ(Sluice("plan").status, 2);
  EXPECT_EQ(Sluice("plan -f /nonexistent.yaml").status, 2);
  EXPECT_EQ(Sluice("plan -f examples/lab.yaml --cycles 0").status, 2);
  EXPECT_EQ(Sluice("frobnicate").status, 2);
  EXPECT_EQ(Sluice("").status, 2);
}

}  // namespace
}  // namespace sluice
