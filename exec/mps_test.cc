// MPS sharing and MIG instances as a pod sees them: the MPS control daemon's
// command sequence (through a fake nvidia-cuda-mps-control on PATH, since the
// real one needs a GPU driver) and the environment each pod gets.
#include "exec/mps.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "exec/local_executor.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

bool Has(const std::vector<std::string>& env, const std::string& kv) {
  return std::find(env.begin(), env.end(), kv) != env.end();
}

bool HasKey(const std::vector<std::string>& env, const std::string& key) {
  return std::any_of(env.begin(), env.end(),
                     [&](const std::string& e) { return e.starts_with(key + "="); });
}

class MpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-mps-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "bin");
    // Records each call: its arguments, the device and pipe directory it was
    // given, and what came on stdin.
    const fs::path control = dir_ / "bin" / "nvidia-cuda-mps-control";
    std::ofstream(control)
        << "#!/bin/sh\n"
           "in=$(cat)\n"
           "echo \"args=$* dev=$CUDA_VISIBLE_DEVICES pipe=$CUDA_MPS_PIPE_DIRECTORY "
           "log=$CUDA_MPS_LOG_DIRECTORY stdin=$in\" >> \"$MPS_CALLS\"\n";
    fs::permissions(control, fs::perms::owner_all);
    old_path_ = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
    setenv("PATH", ((dir_ / "bin").string() + ":" + old_path_).c_str(), 1);
    setenv("MPS_CALLS", (dir_ / "calls").c_str(), 1);
  }
  void TearDown() override {
    setenv("PATH", old_path_.c_str(), 1);
    unsetenv("MPS_CALLS");
    fs::remove_all(dir_);
  }
  std::vector<std::string> Calls() const {
    std::ifstream in(dir_ / "calls");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  fs::path dir_;
  std::string old_path_;
};

TEST_F(MpsTest, OneDaemonPerDeviceStartedAndToldToQuit) {
  const std::string mps = (dir_ / "mps").string();
  {
    MpsDaemons daemons(mps);
    ASSERT_TRUE(daemons.Start(0, "GPU-aaa").ok());
    ASSERT_TRUE(daemons.Start(2, "GPU-ccc").ok());
    EXPECT_TRUE(daemons.Start(0, "GPU-aaa").ok());  // already running: nothing more
    EXPECT_TRUE(fs::is_directory(mps + "/gpu-0/pipe"));
    EXPECT_TRUE(fs::is_directory(mps + "/gpu-2/log"));
    ASSERT_TRUE(daemons.Stop(0).ok());
    EXPECT_FALSE(daemons.running(0));
    EXPECT_TRUE(daemons.running(2));
  }  // the destructor stops the one left
  const std::vector<std::string> want = {
      "args=-d dev=GPU-aaa pipe=" + mps + "/gpu-0/pipe log=" + mps + "/gpu-0/log stdin=",
      "args=-d dev=GPU-ccc pipe=" + mps + "/gpu-2/pipe log=" + mps + "/gpu-2/log stdin=",
      "args= dev=GPU-aaa pipe=" + mps + "/gpu-0/pipe log=" + mps + "/gpu-0/log stdin=quit",
      "args= dev=GPU-ccc pipe=" + mps + "/gpu-2/pipe log=" + mps + "/gpu-2/log stdin=quit"};
  EXPECT_EQ(Calls(), want);
}

TEST_F(MpsTest, AControlProgramThatIsMissingOrFailsIsReported) {
  MpsDaemons missing((dir_ / "mps").string(), "/nonexistent/nvidia-cuda-mps-control");
  Status s = missing.Start(0, "GPU-aaa");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not found on PATH"), std::string::npos) << s.message();
  EXPECT_FALSE(missing.running(0));
  const fs::path failing = dir_ / "bin" / "failing-control";
  std::ofstream(failing) << "#!/bin/sh\nexit 3\n";
  fs::permissions(failing, fs::perms::owner_all);
  MpsDaemons bad((dir_ / "mps").string(), failing.string());
  s = bad.Start(1, "GPU-bbb");
  EXPECT_NE(s.message().find("with exit code 3"), std::string::npos) << s.message();
}

TEST_F(MpsTest, AFractionOnAnMpsDeviceGetsMpsLimitsInsteadOfTheLibrary) {
  LocalExecutorOptions o;
  o.state_dir = "/var/lib/sluice/pods";
  o.vgpu_library = "/usr/lib/sluice/libsluice-vgpu.so";
  o.device_memory_mib = [](const std::string&) -> int64_t { return 81920; };
  o.mps_gpus = {0};
  WorkloadRecord w;
  w.id = 7;
  w.name = "nb";
  w.spec.pods = 1;
  const PlacedPod on_mps{"n1", {0}, 250, ""};
  std::vector<std::string> env = LocalExecutor::PodEnvironment(w, 0, on_mps, {on_mps}, o);
  EXPECT_TRUE(Has(env, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25"));
  EXPECT_TRUE(Has(env, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=20480M"));
  EXPECT_TRUE(Has(env, "CUDA_MPS_PIPE_DIRECTORY=/var/lib/sluice/pods/mps/gpu-0/pipe"));
  EXPECT_TRUE(Has(env, "SLUICE_GPU_FRACTION=0.25"));
  EXPECT_FALSE(HasKey(env, "LD_PRELOAD"));
  // A device that does not share by MPS keeps the interception library.
  const PlacedPod elsewhere{"n1", {1}, 250, ""};
  env = LocalExecutor::PodEnvironment(w, 0, elsewhere, {elsewhere}, o);
  EXPECT_TRUE(Has(env, "LD_PRELOAD=/usr/lib/sluice/libsluice-vgpu.so"));
  EXPECT_FALSE(HasKey(env, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"));
  // A whole GPU on the MPS device is not limited at all.
  const PlacedPod whole{"n1", {0}, 1000, ""};
  env = LocalExecutor::PodEnvironment(w, 0, whole, {whole}, o);
  EXPECT_FALSE(HasKey(env, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"));
  EXPECT_EQ(MpsPodEnvironment(5, 2, 0),
            std::vector<std::string>{"CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=1"});
  EXPECT_EQ(MpsPodEnvironment(500, 2, 1000)[1], "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=500M,1=500M");
}

TEST_F(MpsTest, AMigPodSeesItsInstanceOnly) {
  LocalExecutorOptions o;
  o.state_dir = "/var/lib/sluice/pods";
  o.vgpu_library = "/usr/lib/sluice/libsluice-vgpu.so";
  o.device_uuid = [](const std::string&, int32_t g) { return "GPU-" + std::to_string(g); };
  o.mig_uuid = [](const std::string& node, int32_t gpu, const std::string& mig) {
    return "MIG-" + node + "-" + std::to_string(gpu) + "-" + mig;
  };
  WorkloadRecord w;
  w.spec.pods = 1;
  const PlacedPod mig{"n1", {1}, 142, "1g.10gb@3"};
  std::vector<std::string> env = LocalExecutor::PodEnvironment(w, 0, mig, {mig}, o);
  EXPECT_TRUE(Has(env, "CUDA_VISIBLE_DEVICES=MIG-n1-1-1g.10gb@3"));
  EXPECT_TRUE(Has(env, "SLUICE_MIG_INSTANCE=1g.10gb@3"));
  EXPECT_FALSE(HasKey(env, "LD_PRELOAD"));  // the hardware isolates it
  EXPECT_FALSE(HasKey(env, "SLUICE_GPU_FRACTION"));
}

TEST_F(MpsTest, TheExecutorRunsTheDaemonsOfItsMpsDevicesAndSaysSo) {
  LocalExecutorOptions o;
  o.state_dir = (dir_ / "pods").string();
  o.device_uuid = [](const std::string&, int32_t g) { return "GPU-" + std::to_string(g); };
  o.mps_gpus = {1};
  o.after = [](std::chrono::milliseconds, std::function<void()>) {};
  o.post = [](std::function<void()>) {};
  {
    LocalExecutor executor(o);
    EXPECT_NE(executor.Isolation().find("MPS on GPU 1"), std::string::npos) << executor.Isolation();
    ASSERT_EQ(Calls().size(), 1u);
    EXPECT_TRUE(Calls()[0].starts_with("args=-d dev=GPU-1 ")) << Calls()[0];
  }
  ASSERT_EQ(Calls().size(), 2u);
  EXPECT_TRUE(Calls()[1].ends_with("stdin=quit")) << Calls()[1];
}

}  // namespace
}  // namespace sluice
