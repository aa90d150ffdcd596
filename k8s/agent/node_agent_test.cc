// The node agent's pieces against the fake NVML (gpu/fake/), real files for
// /proc and the library folder, and a real HTTP scrape of /metrics.
#include "k8s/agent/node_agent.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "k8s/agent/metrics_server.h"

namespace sluice::k8s {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class NodeAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"SLUICE_FAKE_NVML_DEVICES", "SLUICE_FAKE_NVML_PROCESSES",
                          "SLUICE_FAKE_NVML_MIG", "SLUICE_FAKE_NVML_MIG_INSTANCES",
                          "SLUICE_FAKE_NVML_INIT_ERROR", "SLUICE_FAKE_NVML_FAIL"}) {
      unsetenv(v);
    }
    setenv("SLUICE_FAKE_NVML_DEVICES",
           "NVIDIA H100 80GB HBM3:81559:37:1024,NVIDIA H100 80GB HBM3:81559:0:0", 1);
    dir_ = fs::temp_directory_path() /
           ("sluice-agent-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Nvml> LoadNvml() {
    auto nvml = Nvml::Load(FAKE_NVML);
    EXPECT_TRUE(nvml.ok()) << nvml.status().ToString();
    return nvml.ok() ? std::move(nvml).value() : nullptr;
  }

  void WriteFile(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }

  fs::path dir_;
};

TEST(LabelValueTest, SanitisesModelNames) {
  EXPECT_EQ(LabelValue("NVIDIA H100 80GB HBM3"), "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(LabelValue("NVIDIA A100-SXM4-80GB"), "NVIDIA-A100-SXM4-80GB");
  EXPECT_EQ(LabelValue("  Tesla (T4) "), "Tesla-T4");
  EXPECT_EQ(LabelValue("---"), "");
  EXPECT_EQ(LabelValue(std::string(100, 'a')).size(), 63u);
  EXPECT_EQ(LabelValue(std::string(62, 'a') + " b"), std::string(62, 'a'));
}

TEST_F(NodeAgentTest, PublishesDevicesAsLabelsAndAnnotations) {
  setenv("SLUICE_FAKE_NVML_MIG", "1", 1);
  setenv("SLUICE_FAKE_NVML_MIG_INSTANCES", "1:40192,1:20096", 1);
  auto nvml = LoadNvml();
  ASSERT_NE(nvml, nullptr);
  auto devices = nvml->Devices();
  ASSERT_TRUE(devices.ok());
  const json patch = NodeGpuPatch(*devices);
  const json& labels = patch["metadata"]["labels"];
  EXPECT_EQ(labels["sluice.dev/gpu-count"], "2");
  EXPECT_EQ(labels["sluice.dev/gpu-model"], "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(labels["sluice.dev/gpu-memory-mib"], "81559");
  const json& annotations = patch["metadata"]["annotations"];
  EXPECT_EQ(json::parse(annotations["sluice.dev/gpu-uuids"].get<std::string>()),
            json({"GPU-fa4e0000-0000-4000-8000-000000000000",
                  "GPU-fa4e0000-0000-4000-8000-000000000001"}));
  const json mig = json::parse(annotations["sluice.dev/mig-layout"].get<std::string>());
  ASSERT_TRUE(mig.contains("1")) << mig.dump();
  EXPECT_FALSE(mig.contains("0"));
  EXPECT_EQ(mig["1"]["uuid"], "GPU-fa4e0000-0000-4000-8000-000000000001");
  ASSERT_EQ(mig["1"]["instances"].size(), 2u);
  EXPECT_EQ(mig["1"]["instances"][0]["memoryMiB"], 40192);
  EXPECT_EQ(mig["1"]["instances"][1]["uuid"], "MIG-fa4e0000-0000-4000-8000-000001000001");
}

TEST_F(NodeAgentTest, NoMigAndNoGpusClearWhatNoLongerApplies) {
  auto nvml = LoadNvml();
  ASSERT_NE(nvml, nullptr);
  const json patch = NodeGpuPatch(*nvml->Devices());
  EXPECT_TRUE(patch["metadata"]["annotations"]["sluice.dev/mig-layout"].is_null());
  const json none = NodeGpuPatch({});
  EXPECT_EQ(none["metadata"]["labels"]["sluice.dev/gpu-count"], "0");
  EXPECT_TRUE(none["metadata"]["labels"]["sluice.dev/gpu-model"].is_null());
  EXPECT_TRUE(none["metadata"]["labels"]["sluice.dev/gpu-memory-mib"].is_null());
  EXPECT_EQ(none["metadata"]["annotations"]["sluice.dev/gpu-uuids"], "[]");
}

TEST(PodUidFromCgroupTest, ReadsBothCgroupDrivers) {
  EXPECT_EQ(PodUidFromCgroup("0::/kubepods.slice/kubepods-burstable.slice/"
                             "kubepods-burstable-pod0b5a2f4e_8c3d_4e1f_9a7b_1c2d3e4f5a6b.slice/"
                             "cri-containerd-abc.scope\n"),
            "0b5a2f4e-8c3d-4e1f-9a7b-1c2d3e4f5a6b");
  EXPECT_EQ(PodUidFromCgroup("12:memory:/user.slice\n"
                             "11:devices:/kubepods/besteffort/"
                             "pod0b5a2f4e-8c3d-4e1f-9a7b-1c2d3e4f5a6b/0123abcd\n"),
            "0b5a2f4e-8c3d-4e1f-9a7b-1c2d3e4f5a6b");
  EXPECT_EQ(PodUidFromCgroup("0::/kubepods/pod0b5a2f4e-8c3d-4e1f-9a7b-1c2d3e4f5a6b/x"),
            "0b5a2f4e-8c3d-4e1f-9a7b-1c2d3e4f5a6b");
  EXPECT_EQ(PodUidFromCgroup("0::/user.slice/user-1000.slice/session-2.scope\n"), std::nullopt);
  EXPECT_EQ(PodUidFromCgroup("0::/kubepods/podnot-a-uid/x"), std::nullopt);
  EXPECT_EQ(PodUidFromCgroup(""), std::nullopt);
  // A pod id outside the kubepods tree is not a pod.
  EXPECT_EQ(PodUidFromCgroup("0::/system.slice/pod0b5a2f4e-8c3d-4e1f-9a7b-1c2d3e4f5a6b"),
            std::nullopt);
}

TEST_F(NodeAgentTest, MetricsMapProcessesToPods) {
  setenv("SLUICE_FAKE_NVML_PROCESSES", "0:4242:1000,0:4243:24", 1);
  WriteFile(dir_ / "proc/4242/cgroup",
            "0::/kubepods/burstable/pod11111111-2222-3333-4444-555555555555/c1\n");
  WriteFile(dir_ / "proc/4243/cgroup", "0::/system.slice/sshd.service\n");
  NodeAgent agent({"gpu-node-1", (dir_ / "proc").string()}, LoadNvml(),
                  [](const json&) { return Status::OK(); });
  auto text = agent.Metrics();
  ASSERT_TRUE(text.ok()) << text.status().message();
  const std::string gpu0 =
      R"(node="gpu-node-1",gpu="0",uuid="GPU-fa4e0000-0000-4000-8000-000000000000")";
  for (const std::string& line :
       {std::string("# TYPE sluice_gpu_memory_used_bytes gauge"),
        "sluice_gpu_memory_total_bytes{" + gpu0 + R"(,model="NVIDIA H100 80GB HBM3"} 85520809984)",
        "sluice_gpu_memory_used_bytes{" + gpu0 + "} 1073741824",
        "sluice_gpu_utilization_percent{" + gpu0 + "} 37",
        "sluice_gpu_process_memory_used_bytes{" + gpu0 +
            R"(,pid="4242",pod_uid="11111111-2222-3333-4444-555555555555"} 1048576000)",
        "sluice_gpu_process_memory_used_bytes{" + gpu0 + R"(,pid="4243",pod_uid=""} 25165824)"}) {
    EXPECT_NE(text->find(line + "\n"), std::string::npos) << line << "\nin\n" << *text;
  }
}

TEST_F(NodeAgentTest, PublishesOnlyWhatChangedAndRetriesAfterAFailure) {
  std::vector<json> sent;
  bool fail = true;
  NodeAgent agent({"gpu-node-1", "/proc"}, LoadNvml(), [&](const json& patch) {
    if (fail) return Status::FailedPrecondition("the API server said 503");
    sent.push_back(patch);
    return Status::OK();
  });
  EXPECT_EQ(agent.Publish().message(), "the API server said 503");
  fail = false;
  EXPECT_TRUE(agent.Publish().ok());
  EXPECT_TRUE(agent.Publish().ok());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["metadata"]["labels"]["sluice.dev/gpu-count"], "2");
}

TEST_F(NodeAgentTest, NvmlFailuresAreErrors) {
  NodeAgent agent({"n", "/proc"}, LoadNvml(), [](const json&) { return Status::OK(); });
  setenv("SLUICE_FAKE_NVML_FAIL", "nvmlDeviceGetCount_v2", 1);
  EXPECT_FALSE(agent.Publish().ok());
  EXPECT_FALSE(agent.Metrics().ok());
}

TEST_F(NodeAgentTest, InstallsTheLibraryAtomicallyAndOnlyWhenItChanged) {
  WriteFile(dir_ / "build/libsluice-vgpu.so", "version 1");
  fs::create_directories(dir_ / "host");
  const std::string src = (dir_ / "build/libsluice-vgpu.so").string();
  auto first = InstallFileAtomically(src, (dir_ / "host").string());
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(*first);
  struct stat before {};
  ASSERT_EQ(stat((dir_ / "host/libsluice-vgpu.so").c_str(), &before), 0);
  EXPECT_EQ(before.st_mode & 0777, 0755u);
  EXPECT_FALSE(*InstallFileAtomically(src, (dir_ / "host").string()));
  WriteFile(dir_ / "build/libsluice-vgpu.so", "version 2");
  EXPECT_TRUE(*InstallFileAtomically(src, (dir_ / "host").string()));
  struct stat after {};
  ASSERT_EQ(stat((dir_ / "host/libsluice-vgpu.so").c_str(), &after), 0);
  // A new inode: processes that mapped version 1 keep it intact.
  EXPECT_NE(before.st_ino, after.st_ino);
  std::ifstream in(dir_ / "host/libsluice-vgpu.so");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "version 2");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "host"), fs::directory_iterator()), 1);

  EXPECT_EQ(InstallFileAtomically((dir_ / "missing.so").string(), (dir_ / "host").string())
                .status()
                .message(),
            "--vgpu-library " + (dir_ / "missing.so").string() + ": cannot read it");
  EXPECT_EQ(InstallFileAtomically(src, (dir_ / "nowhere").string()).status().code(),
            Status::Code::kFailedPrecondition);
}

std::string Fetch(const std::string& url, int* status) {
  const std::string cmd = "curl -s -w '\\n%{http_code}' " + url;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  std::string out;
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  pclose(pipe);
  const size_t nl = out.rfind('\n');
  *status = nl == std::string::npos ? 0 : std::atoi(out.c_str() + nl + 1);
  return nl == std::string::npos ? out : out.substr(0, nl);
}

TEST_F(NodeAgentTest, ServesMetricsOverHttp) {
  NodeAgent agent({"gpu-node-1", "/proc"}, LoadNvml(), [](const json&) { return Status::OK(); });
  auto server = MetricsServer::Start("127.0.0.1", 0, [&agent] { return agent.Metrics(); });
  ASSERT_TRUE(server.ok()) << server.status().message();
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  int status = 0;
  std::string body = Fetch(base + "/metrics", &status);
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("sluice_gpu_utilization_percent{node=\"gpu-node-1\",gpu=\"0\""),
            std::string::npos)
      << body;
  EXPECT_EQ(Fetch(base + "/healthz", &status), "ok\n");
  EXPECT_EQ(status, 200);
  Fetch(base + "/other", &status);
  EXPECT_EQ(status, 404);
  setenv("SLUICE_FAKE_NVML_FAIL", "nvmlDeviceGetCount_v2", 1);
  body = Fetch(base + "/metrics", &status);
  EXPECT_EQ(status, 503);
  EXPECT_EQ(body.rfind("cannot read the GPUs: ", 0), 0u) << body;
  (*server)->Stop();
}

}  // namespace
}  // namespace sluice::k8s
