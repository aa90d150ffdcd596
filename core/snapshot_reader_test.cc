#include "core/snapshot_reader.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

constexpr const char* kIssueExample = R"(now: 2026-01-01T12:00:00Z
placement: binpack
nodes:
  - name: node-1
    gpus: 8
    gpuMemory: 80Gi
    gpuModel: H100-80GB
    cpu: 64
    memory: 512Gi
    labels: {rack: r1}
  - name: node-2
    gpus: 8
    gpuMemory: 80Gi
    gpuModel: H100-80GB
    cpu: "64000m"
    memory: 512Gi
queues:
  - name: dept-a
    gpu: {quota: 8, limit: -1, overQuotaWeight: 1}
  - name: team-1
    parent: dept-a
    priority: 100
    gpu: {quota: 4, limit: 12, overQuotaWeight: 2}
    cpu: {quota: -1}
    reclaimMinRuntime: 5m
    preemptMinRuntime: 0s
workloads:
  - name: train-1
    queue: team-1
    priorityClass: train
    preemptible: true
    pods: 4
    minAvailable: 4
    gpu: 1
    cpu: 8
    memory: 64Gi
    gpuModel: [H100-80GB]
    nodeSelector: {rack: r1}
    topology: rack
    submitted: 2026-01-01T11:00:00Z
    state: pending
  - name: nb
    queue: team-1
    priorityClass: build
    gpu: 0.5
    state: running
    started: 2026-01-01T11:05:00Z
    placement: [{node: node-2, gpus: [3], fraction: 0.5}]
  - name: mem
    queue: team-1
    gpuMemory: 20Gi
    gpuDevices: 2
)";

std::string ErrorOf(const std::string& text) {
  Result<Snapshot> r = ParseSnapshot(text, "test.yaml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  return r.ok() ? "" : r.status().message();
}

TEST(SnapshotReaderTest, ReadsTheDocumentedSchema) {
  Result<Snapshot> r = ParseSnapshot(kIssueExample, "example.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Snapshot& s = *r;
  ASSERT_EQ(s.nodes.size(), 2u);
  EXPECT_EQ(s.nodes[0].gpu_memory_mib, 80 * 1024);
  EXPECT_EQ(s.nodes[1].cpu_milli, 64000);
  EXPECT_EQ(*FindLabel(s.nodes[0].labels, "rack"), "r1");
  ASSERT_EQ(s.queues.size(), 2u);
  EXPECT_EQ(s.queues[1].parent, QueueId(0));
  EXPECT_EQ(s.queues[1].resource(Resource::kGpu).quota, 4000);
  EXPECT_EQ(s.queues[1].resource(Resource::kGpu).limit, 12000);
  EXPECT_EQ(s.queues[1].resource(Resource::kGpu).weight_milli, 2000);
  EXPECT_EQ(s.queues[1].resource(Resource::kCpu).quota, -1);
  EXPECT_EQ(s.queues[1].reclaim_min_runtime->ms, 300'000);
  EXPECT_TRUE(s.queues[1].is_leaf());
  EXPECT_FALSE(s.queues[0].is_leaf());
  ASSERT_EQ(s.workloads.size(), 3u);
  const Workload& w = s.workloads[0];
  EXPECT_EQ(w.pods, 4);
  EXPECT_EQ(w.request.gpu_devices, 1);
  EXPECT_TRUE(w.request.whole_gpus());
  EXPECT_EQ(w.request.memory_mib, 64 * 1024);
  EXPECT_EQ(w.topology, "rack");
  const Workload& nb = s.workloads[1];
  EXPECT_TRUE(nb.running);
  EXPECT_FALSE(nb.preemptible);  // build is non-preemptible by default
  ASSERT_EQ(nb.placement.size(), 1u);
  EXPECT_EQ(nb.placement[0].gpu_milli, 500);
  EXPECT_EQ(s.workloads[2].request.gpu_devices, 2);
  EXPECT_EQ(s.workloads[2].request.MilliOn(80 * 1024), 250);
  EXPECT_EQ(s.workloads[2].submitted, s.now);
}

TEST(SnapshotReaderTest, JsonWithTabsReadsTheSame) {
  std::string json =
      "{\n\t\"now\": \"2026-01-01T12:00:00Z\",\n\t\"nodes\": [{\"name\": \"n\", \"gpus\": 2}],\n"
      "\t\"queues\": [{\"name\": \"q\", \"gpu\": {\"quota\": 1}}],\n"
      "\t\"workloads\": [{\"name\": \"w\", \"queue\": \"q\", \"gpu\": 0.5}]\n}\n";
  Result<Snapshot> r = ParseSnapshot(json, "s.json");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->workloads[0].request.gpu_milli, 500);
}

TEST(SnapshotReaderTest, UnknownFieldNamesLineAndSuggests) {
  std::string msg = ErrorOf(
      "now: 2026-01-01T12:00:00Z\nqueues: [{name: q}]\nworkloads:\n  - name: w\n    queue: q\n"
      "    gpuu: 1\n");
  EXPECT_NE(msg.find("test.yaml:6:5: workloads[0] \"w\": unknown field \"gpuu\"; did you mean "
                     "\"gpu\"?"),
            std::string::npos)
      << msg;
}

TEST(SnapshotReaderTest, FractionAboveOneIsRefused) {
  std::string msg = ErrorOf(
      "now: 2026-01-01T12:00:00Z\nqueues: [{name: q}]\nworkloads:\n  - name: w\n    queue: q\n"
      "    gpu: 1.5\n");
  EXPECT_NE(msg.find("test.yaml:6:10: workloads[0] \"w\".gpu: expected a whole number of GPUs"),
            std::string::npos)
      << msg;
}

TEST(SnapshotReaderTest, ReportsEveryProblem) {
  std::string msg = ErrorOf(R"(now: 2026-01-01T12:00:00Z
nodes:
  - {name: n1, gpus: 2, cpu: -4}
queues:
  - {name: a, parent: b}
  - {name: b, parent: a}
  - {name: c, parent: nope}
  - {name: d, gpu: {quota: 8, limit: 4}}
workloads:
  - {name: w1, queue: zz, pods: 2, minAvailable: 3}
  - {name: w2, queue: d, state: running, gpu: 1, placement: [{node: n1, gpus: [5]}]}
  - {name: w3, queue: d, state: running, gpu: 1, placement: [{node: n9, gpus: [0]}]}
  - {name: w1, queue: d, memory: 512}
)");
  for (const char* expected : {
           "test.yaml:3:30: nodes[0] \"n1\".cpu: expected CPU cores",
           "queues[0] \"a\".parent: the queue tree has a cycle: a -> b -> a",
           "queues[1] \"b\".parent: the queue tree has a cycle: b -> a -> b",
           "queues[2] \"c\".parent: unknown parent queue \"nope\"",
           "queues[3] \"d\".gpu.limit: the limit (4) is below the quota (8)",
           "workloads[0] \"w1\".minAvailable: minAvailable (3) is larger than pods (2)",
           "workloads[0] \"w1\".queue: unknown queue \"zz\"",
           "GPU index 5 does not exist on node \"n1\", which has 2 GPU(s) (0..1)",
           "workloads[2] \"w3\".placement[0].node: unknown node \"n9\"; did you mean \"n1\"?",
           "workloads[3] \"w1\".name: workload \"w1\" is listed twice",
           "did you mean \"512Mi\"",
       }) {
    EXPECT_NE(msg.find(expected), std::string::npos) << "missing: " << expected << "\n" << msg;
  }
}

TEST(SnapshotReaderTest, OverCommittedDeviceIsRefused) {
  std::string msg = ErrorOf(R"(now: 2026-01-01T12:00:00Z
nodes: [{name: n1, gpus: 1, gpuMemory: 40Gi}]
queues: [{name: q}]
workloads:
  - {name: a, queue: q, state: running, gpu: 0.75, placement: [{node: n1, gpus: [0]}]}
  - {name: b, queue: q, state: running, gpu: 0.5, placement: [{node: n1, gpus: [0]}]}
)");
  EXPECT_NE(msg.find("test.yaml:6:63: workloads[1] \"b\".placement[0].gpus: GPU 0 of node \"n1\" "
                     "is over-committed: a (0.75), b (0.5) add up to 1.25 GPUs"),
            std::string::npos)
      << msg;
}

TEST(SnapshotReaderTest, NodeCpuOverCommitIsRefused) {
  std::string msg = ErrorOf(R"(now: 2026-01-01T12:00:00Z
nodes: [{name: n1, gpus: 0, cpu: 4}]
queues: [{name: q}]
workloads:
  - {name: a, queue: q, state: running, cpu: 3, placement: [{node: n1}]}
  - {name: b, queue: q, state: running, cpu: 2, placement: [{node: n1}]}
)");
  EXPECT_NE(msg.find("node \"n1\" has 4 CPU cores; running pods placed there ask for 5"),
            std::string::npos)
      << msg;
}

TEST(SnapshotReaderTest, StructuralMistakes) {
  EXPECT_NE(ErrorOf("- just\n- a list\n").find("expected a mapping"), std::string::npos);
  EXPECT_NE(ErrorOf("nodes: []\n").find("missing field \"now\""), std::string::npos);
  EXPECT_NE(ErrorOf("now: 2026-01-01T12:00:00Z\nnodes: {a: 1}\n").find("expected a list"),
            std::string::npos);
  EXPECT_NE(ErrorOf("now: [1\n").find("test.yaml:"), std::string::npos);
  EXPECT_NE(ErrorOf("now: 2026-01-01T12:00:00Z\nqueues: [{name: d}, {name: p, parent: d}]\n"
                    "workloads: [{name: w, queue: d}]\n")
                .find("has child queues"),
            std::string::npos);
  EXPECT_NE(ErrorOf("now: 2026-01-01T12:00:00Z\nqueues: [{name: q}]\n"
                    "workloads: [{name: w, queue: q, state: running}]\n")
                .find("a running workload needs a placement"),
            std::string::npos);
  EXPECT_NE(ErrorOf("now: 2026-01-01T12:00:00Z\nqueues: [{name: q}]\n"
                    "workloads: [{name: w, queue: q, gpu: 2, gpuDevices: 2}]\n")
                .find("gpuDevices goes with a fraction"),
            std::string::npos);
  EXPECT_NE(ErrorOf("now: 2026-01-01T12:00:00Z\nqueues: [{name: q}]\n"
                    "workloads: [{name: w, queue: q, gpu: -1}]\n")
                .find("expected a GPU request >= 0"),
            std::string::npos);
  EXPECT_NE(ErrorOf("now: 2026-01-01T12:00:00Z\nqueues: [{name: q, gpu: {quota: -2}}]\n")
                .find("expected -1 (unlimited) or an amount of GPUs"),
            std::string::npos);
}

TEST(SnapshotReaderTest, MissingFileIsNotFound) {
  Result<Snapshot> r = ReadSnapshotFile("/nonexistent/snap.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace sluice
