// End-to-end tests of the local executor through a real server and the real
// CLI: commands run as the submitting user on the GPUs of their placement,
// their output reaches `sluice logs`, evictions stop them with SIGTERM and
// then SIGKILL, multi-pod workloads get ranks, and a server killed with
// SIGKILL finds its pods still running when it comes back.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/testing/server_process.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::CommandResult;
using testing::ServerProcess;

template <class F>
bool Eventually(F f, int seconds = 60) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return f();
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/sluice-exec-test-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    server_ = std::make_unique<ServerProcess>(dir_);
    std::string error;
    ASSERT_TRUE(server_->Start(&error, {"--grace-period", "1"})) << error;
    Ok("project create p --gpu-quota 4");
    Ok("project create q --gpu-quota 4");
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string Ok(const std::string& args) {
    CommandResult r = server_->Cli(args);
    EXPECT_EQ(r.status, 0) << "sluice " << args << "\n" << r.out;
    return r.out;
  }
  json Describe(const std::string& project, const std::string& name) {
    CommandResult r = server_->Cli("describe " + name + " -p " + project + " --json");
    return r.status == 0 ? json::parse(r.out, nullptr, false) : json();
  }
  std::string Phase(const std::string& project, const std::string& name) {
    json w = Describe(project, name);
    return w.is_object() ? w["status"]["phase"].get<std::string>() : "";
  }
  std::string Logs(const std::string& project, const std::string& name, int pod = 0) {
    return server_->Cli("logs " + name + " -p " + project + " --pod " + std::to_string(pod)).out;
  }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ExecutorTest, OutputReachesLogsAndExitCodesSetThePhase) {
  Ok("submit ok -p p -- sh -c 'echo hello from $SLUICE_WORKLOAD; echo to stderr >&2'");
  Ok("submit bad -p p -- sh -c 'exit 3'");
  Ok("submit missing -p p -- /no/such/program");
  ASSERT_TRUE(Eventually([&] { return Phase("p", "ok") == "Succeeded"; }));
  std::string logs = Logs("p", "ok");
  EXPECT_NE(logs.find("hello from ok"), std::string::npos) << logs;
  EXPECT_NE(logs.find("to stderr"), std::string::npos) << logs;
  ASSERT_TRUE(Eventually([&] { return Phase("p", "bad") == "Failed"; }));
  EXPECT_EQ(Describe("p", "bad")["status"]["message"], "exited with code 3");
  ASSERT_TRUE(Eventually([&] { return Phase("p", "missing") == "Failed"; }));
  EXPECT_NE(Logs("p", "missing").find("cannot run /no/such/program"), std::string::npos);
  // Follow mode ends when the workload does.
  Ok("submit ticker -p p -- sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.2; done'");
  CommandResult follow = server_->Cli("logs ticker -p p -f");
  EXPECT_EQ(follow.status, 0);
  EXPECT_NE(follow.out.find("tick 3"), std::string::npos) << follow.out;
}

TEST_F(ExecutorTest, RunsAsTheSubmittingUserOnItsOwnGpus) {
  // A user of this machine, created for the test.
  ASSERT_EQ(
      testing::Run("id sluice-e2e >/dev/null 2>&1 || useradd --no-create-home sluice-e2e").status,
      0);
  Ok("project add-member p sluice-e2e");
  // The user may not reach the build tree (a checkout under /root): it runs
  // a copy of the CLI from the test's own directory.
  const std::string cli = dir_ + "/sluice-cli";
  std::filesystem::copy_file(SLUICE_BINARY, cli, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(
      dir_, std::filesystem::perms::others_exec | std::filesystem::perms::others_read,
      std::filesystem::perm_options::add);
  CommandResult r = testing::Run(
      "cd /tmp && runuser -u sluice-e2e -- env SLUICE_SOCKET=" + server_->socket() + " " + cli +
      " submit who -p p --gpu 2 --workdir /tmp -- sh -c "
      "'echo user=$(id -un) uid=$(id -u) dir=$(pwd) "
      "gpus=$CUDA_VISIBLE_DEVICES'");
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(Eventually([&] { return Phase("p", "who") == "Succeeded"; })) << Logs("p", "who");
  json w = Describe("p", "who");
  EXPECT_EQ(w["user"], "sluice-e2e");
  std::string logs = Logs("p", "who");
  EXPECT_NE(logs.find("user=sluice-e2e"), std::string::npos) << logs;
  EXPECT_NE(logs.find("dir=/tmp"), std::string::npos) << logs;
  // The events say where it ran; CUDA_VISIBLE_DEVICES names exactly those devices.
  std::string placed;
  for (const json& e : w["events"]) {
    if (e["kind"] == "Scheduled") placed = e["message"];
  }
  ASSERT_EQ(placed, "bound to sim-0 GPU 0,1");
  EXPECT_NE(logs.find("gpus=GPU-sim-0-0,GPU-sim-0-1"), std::string::npos) << logs;
}

TEST_F(ExecutorTest, FourQuarterGpusShareOneDevice) {
  for (int i = 0; i < 4; ++i) {
    Ok("submit f" + std::to_string(i) +
       " -p p --gpu 0.25 -- sh -c 'echo $CUDA_VISIBLE_DEVICES "
       "$SLUICE_GPU_FRACTION $SLUICE_GPU_MEMORY_LIMIT_MIB $SLUICE_GPU_MEMORY_LIMIT "
       "$SLUICE_GPU_COMPUTE_SHARE ${LD_PRELOAD##*/} ${SLUICE_VGPU_DIR##*/}; sleep 3600'");
  }
  for (int i = 0; i < 4; ++i) {
    const std::string name = "f" + std::to_string(i);
    ASSERT_TRUE(Eventually([&] { return Logs("p", name).find("GPU-") != std::string::npos; }));
    // Each pod's fraction is enforced by the interception library, with a
    // usage region of its own.
    EXPECT_EQ(Logs("p", name),
              "GPU-sim-0-0 0.25 20480 21474836480 25 libsluice-vgpu.so vgpu-pod-0\n");
  }
}

// A quarter of an 80 GiB device behaves like a 20 GiB one: the probe (linked
// against the fake libcuda, whose device here has 80 GiB) fills it to the
// limit, is refused past it, and sees the limit as the device's memory. (The
// fake NVML is there for the compute share's loop, which finds no samples.)
TEST_F(ExecutorTest, AFractionsMemoryLimitIsEnforcedInThePod) {
  Ok(std::string("submit quarter -p p --gpu 0.25 --env SLUICE_FAKE_CUDA_DEVICES=81920 ") +
     "--env SLUICE_VGPU_CONTEXT_BYTES=0 --env LD_LIBRARY_PATH=" + FAKE_NVML_DIR + " -- " +
     VGPU_PROBE + " ctx alloc 20000 alloc 1000 meminfo");
  ASSERT_TRUE(Eventually([&] { return Phase("p", "quarter") == "Succeeded"; }));
  EXPECT_EQ(Logs("p", "quarter"), "ctx 0\nalloc 0\nalloc 2\nmeminfo 0 480 20480\n");
}

TEST_F(ExecutorTest, EvictionSendsTermThenKillAfterTheGracePeriod) {
  // r (no quota) fills all 8 GPUs with a job that ignores SIGTERM.
  Ok("project create r --gpu-quota 0");
  Ok("submit stubborn -p r --gpu 8 --grace-period 700ms -- sh -c 'trap \"echo got TERM\" TERM; "
     "echo started; "
     "while true; do sleep 0.1; done'");
  ASSERT_TRUE(
      Eventually([&] { return Logs("r", "stubborn").find("started") != std::string::npos; }));
  // q asks for its quota: reclaim evicts stubborn.
  Ok("submit claim -p q --gpu 4 -- sleep 3600");
  ASSERT_TRUE(Eventually([&] { return Phase("q", "claim") == "Running"; }));
  EXPECT_NE(Logs("r", "stubborn").find("got TERM"), std::string::npos);
  json w = Describe("r", "stubborn");
  EXPECT_EQ(w["spec"]["gracePeriod"], "700ms");
  EXPECT_EQ(w["status"]["phase"], "Pending");
  EXPECT_EQ(w["status"]["evictions"], 1);
  std::string requeued;
  for (const json& e : w["events"]) {
    if (e["kind"] == "Requeued") requeued = e["message"];
  }
  EXPECT_NE(requeued.find("killed by signal 9"), std::string::npos) << w["events"].dump(2);
}

TEST_F(ExecutorTest, FailedRunsRetryUpToTheLimitAndInferenceAlwaysRestarts) {
  Ok("submit flaky -p p --max-retries 2 -- sh -c 'echo run $SLUICE_WORKLOAD; exit 1'");
  ASSERT_TRUE(Eventually([&] { return Phase("p", "flaky") == "Failed"; }));
  json w = Describe("p", "flaky");
  EXPECT_EQ(w["status"]["retries"], 2);
  int retrying = 0;
  for (const json& e : w["events"]) retrying += e["kind"] == "Retrying";
  EXPECT_EQ(retrying, 2);
  // An inference service that crashes comes back.
  Ok("submit svc -p p --inference -- sh -c 'sleep 0.2; exit 7'");
  ASSERT_TRUE(Eventually([&] { return Describe("p", "svc")["status"]["retries"] >= 3; }));
  EXPECT_NE(Describe("p", "svc")["status"]["phase"], "Failed");
  Ok("delete svc -p p");
}

TEST_F(ExecutorTest, AStopRightAfterTheStartIsNotLost) {
  // Deleted as soon as it is bound: the SIGTERM may come before the pod's
  // command has started; it must still end it, not wait for the 60 s grace.
  for (int i = 0; i < 5; ++i) {
    const std::string name = "quick" + std::to_string(i);
    Ok("submit " + name + " -p p --gpu 1 --grace-period 60s -- sleep 3600");
    ASSERT_TRUE(Eventually([&] { return Phase("p", name) == "Running"; }));
    Ok("delete " + name + " -p p");
    ASSERT_TRUE(
        Eventually([&] { return server_->Cli("describe " + name + " -p p").status != 0; }, 10))
        << name;
  }
}

TEST_F(ExecutorTest, PodsOfAGangGetRanks) {
  Ok("submit gang -p p --gpu 1 --pods 4 -- sh -c 'echo rank=$RANK/$WORLD_SIZE "
     "local=$LOCAL_RANK master=$MASTER_ADDR:$MASTER_PORT'");
  ASSERT_TRUE(Eventually([&] { return Phase("p", "gang") == "Succeeded"; }));
  for (int pod = 0; pod < 4; ++pod) {
    std::string logs = Logs("p", "gang", pod);
    EXPECT_NE(logs.find("rank=" + std::to_string(pod) + "/4 local=" + std::to_string(pod) +
                        " master=127.0.0.1:"),
              std::string::npos)
        << logs;
  }
}

TEST_F(ExecutorTest, PodsSurviveAServerKilledWithSigkillAndStayTracked) {
  Ok("submit long -p p --gpu 1 -- sh -c 'echo $$ > /tmp/sluice-e2e-long-" +
     std::to_string(getpid()) + ".pid; sleep 3600'");
  const std::string pid_file = "/tmp/sluice-e2e-long-" + std::to_string(getpid()) + ".pid";
  ASSERT_TRUE(Eventually([&] {
    return std::filesystem::exists(pid_file) && std::filesystem::file_size(pid_file) > 0;
  }));
  std::ifstream in(pid_file);
  int pid = 0;
  in >> pid;
  ASSERT_GT(pid, 0);
  server_->Kill(SIGKILL);
  EXPECT_EQ(kill(pid, 0), 0) << "the pod died with the server";
  std::string error;
  ASSERT_TRUE(server_->Start(&error, {"--grace-period", "1"})) << error;
  EXPECT_EQ(Phase("p", "long"), "Running");
  // Still tracked: deleting it stops the very same process.
  Ok("delete long -p p");
  ASSERT_TRUE(Eventually([&] { return kill(pid, 0) != 0; }));
  ASSERT_TRUE(Eventually([&] { return server_->Cli("describe long -p p").status != 0; }));
  std::filesystem::remove(pid_file);
}

TEST_F(ExecutorTest, PodsThatVanishWhileTheServerIsDownFailWithAReason) {
  Ok("submit gone -p p --gpu 1 -- sleep 3600");
  ASSERT_TRUE(Eventually([&] { return Phase("p", "gone") == "Running"; }));
  server_->Kill(SIGKILL);
  server_->KillPods();  // its processes die while nobody watches
  std::string error;
  ASSERT_TRUE(server_->Start(&error, {"--grace-period", "1"})) << error;
  ASSERT_TRUE(Eventually([&] { return Phase("p", "gone") == "Failed"; }));
  EXPECT_EQ(Describe("p", "gone")["status"]["message"],
            "its processes vanished while the server was down");
  // Its GPU is free again.
  Ok("submit next -p p --gpu 8 -- sleep 3600");
  ASSERT_TRUE(Eventually([&] { return Phase("p", "next") == "Running"; }));
}

TEST_F(ExecutorTest, AMemoryHungryPodIsKilledByItsCgroupLimit) {
  // 300 MB held in a shell variable, against a 64Mi limit.
  Ok("submit hungry -p p --memory 64Mi -- sh -c 'x=$(head -c 300000000 /dev/zero | tr \"\\0\" a); "
     "echo survived ${#x}'");
  const std::string isolation = Describe("p", "hungry")["status"]["isolation"];
  if (isolation.rfind("cgroup v", 0) != 0) {
    // A machine where root cannot create cgroups (this project's CI machine
    // can): the documented fallback holds instead. The pod is only a process
    // group, says so, and nothing limits its memory.
    EXPECT_EQ(isolation, "process group (no cgroups on this machine)");
    ASSERT_TRUE(Eventually([&] { return Phase("p", "hungry") == "Succeeded"; }, 60));
    EXPECT_NE(Logs("p", "hungry").find("survived 300000000"), std::string::npos);
    return;
  }
  ASSERT_TRUE(Eventually([&] { return Phase("p", "hungry") == "Failed"; }, 60))
      << Logs("p", "hungry");
  json w = Describe("p", "hungry");
  EXPECT_NE(w["status"]["message"].get<std::string>().find("out-of-memory killer"),
            std::string::npos)
      << w.dump(2) << Logs("p", "hungry");
  EXPECT_EQ(Logs("p", "hungry").find("survived"), std::string::npos);
}

// The server on "this machine's GPUs" through NVML: the fake libnvidia-ml
// stands in for the driver.
TEST(NvmlServerTest, DiscoversGpusAndMeasuresTheirUse) {
  const std::string dir = "/tmp/sluice-nvml-test-" + std::to_string(getpid());
  setenv("LD_LIBRARY_PATH", FAKE_NVML_DIR, 1);
  setenv("SLUICE_FAKE_NVML_DEVICES",
         "NVIDIA H100 80GB HBM3:81559:37:1024,NVIDIA H100 80GB HBM3:81559:0:0", 1);
  ServerProcess server(dir, "auto");
  const std::string procs = dir + "/gpu-processes";
  setenv("SLUICE_FAKE_NVML_PROCESSES_FILE", procs.c_str(), 1);
  std::string error;
  const bool started = server.Start(&error, {"--telemetry-ms", "100"});
  unsetenv("LD_LIBRARY_PATH");
  ASSERT_TRUE(started) << error;
  EXPECT_NE(server.Log().find("2 GPUs (discovered through NVML)"), std::string::npos)
      << server.Log();
  ASSERT_EQ(server.Cli("project create p --gpu-quota 2").status, 0);
  CommandResult r =
      server.Cli("submit w -p p --gpu 1 -- sh -c 'echo $CUDA_VISIBLE_DEVICES; echo $$ > " + dir +
                 "/pid; sleep 3600'");
  ASSERT_EQ(r.status, 0) << r.out;
  json list;
  ASSERT_TRUE(Eventually([&] {
    list = json::parse(server.Cli("list -p p --json").out, nullptr, false);
    return list.is_array() && !list.empty() && list[0]["usedGpu"].is_number();
  }));
  EXPECT_DOUBLE_EQ(list[0]["usedGpu"].get<double>(), 0.37);
  ASSERT_TRUE(Eventually([&] {
    return std::filesystem::exists(dir + "/pid") && std::filesystem::file_size(dir + "/pid") > 0;
  }));
  EXPECT_EQ(server.Cli("logs w -p p").out, "GPU-fa4e0000-0000-4000-8000-000000000000\n");
  // NVML lists the pod's process on device 0 with 2 GiB: the workload uses 2Gi.
  EXPECT_EQ(list[0]["usedGpuMemory"], "0Mi");
  std::ifstream pid_in(dir + "/pid");
  int pid = 0;
  pid_in >> pid;
  ASSERT_GT(pid, 0);
  std::ofstream(procs) << "0:" << pid << ":2048,0:1:512\n";
  ASSERT_TRUE(Eventually([&] {
    list = json::parse(server.Cli("list -p p --json").out, nullptr, false);
    return list.is_array() && !list.empty() && list[0]["usedGpuMemory"] == "2Gi";
  })) << list.dump(2);
  json nodes = json::parse(server.Cli("top nodes --json").out);
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]["gpuModel"], "H100-80GB-HBM3");
  EXPECT_EQ(nodes[0]["gpus"][0]["memory"], "81559Mi");
  EXPECT_DOUBLE_EQ(nodes[0]["gpus"][0]["utilization"].get<double>(), 0.37);
  EXPECT_DOUBLE_EQ(nodes[0]["gpus"][1]["utilization"].get<double>(), 0.0);
  Result<HttpResult> m = server.Http(server.AdminToken()).Call("GET", "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->body.find("sluice_gpu_utilization{node=\"" + nodes[0]["name"].get<std::string>() +
                         "\",gpu=\"0\",model=\"H100-80GB-HBM3\"} 0.37"),
            std::string::npos)
      << m->body;
  server.Kill(SIGTERM);
  server.KillPods();
  // Without a driver the server says so and simulates.
  ServerProcess no_driver(dir + "-none", "auto");
  ASSERT_TRUE(no_driver.Start(&error)) << error;
  EXPECT_NE(
      no_driver.Log().find("simulated: sim:8xH100-80GB, because cannot load libnvidia-ml.so.1"),
      std::string::npos)
      << no_driver.Log();
  unsetenv("SLUICE_FAKE_NVML_DEVICES");
  unsetenv("SLUICE_FAKE_NVML_PROCESSES_FILE");
  if (!::testing::Test::HasFailure()) {
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(dir + "-none");
  }
}

// MIG through the whole server: discovery reads the layout of GPU 1 (in MIG
// mode, one free 7g) through the fake NVML; two 3g workloads submitted
// together make the scheduler repartition it, the executor destroys the 7g
// and creates two 3g instances through NVML, and each pod sees its own
// instance as CUDA_VISIBLE_DEVICES; a whole-GPU workload runs on GPU 0.
TEST(NvmlServerTest, MigWorkloadsRunOnInstancesMadeForThem) {
  const std::string dir = "/tmp/sluice-mig-test-" + std::to_string(getpid());
  setenv("LD_LIBRARY_PATH", FAKE_NVML_DIR, 1);
  setenv("SLUICE_FAKE_NVML_DEVICES",
         "NVIDIA H100 80GB HBM3:81559:0:0,NVIDIA H100 80GB HBM3:81559:0:0", 1);
  setenv("SLUICE_FAKE_NVML_MIG", "1", 1);
  setenv("SLUICE_FAKE_NVML_MIG_LAYOUT", "1:7g.80gb", 1);
  ServerProcess server(dir, "auto");
  std::string error;
  const bool started = server.Start(&error, {"--mig-dynamic", "--debounce-ms", "500"});
  unsetenv("LD_LIBRARY_PATH");
  ASSERT_TRUE(started) << error;
  ASSERT_EQ(server.Cli("project create p --gpu-quota 2").status, 0);
  for (const char* name : {"a", "b"}) {
    CommandResult r = server.Cli(std::string("submit ") + name +
                                 " -p p --mig 3g.40gb -- sh -c 'echo $CUDA_VISIBLE_DEVICES "
                                 "$SLUICE_MIG_INSTANCE; sleep 3600'");
    ASSERT_EQ(r.status, 0) << r.out;
  }
  ASSERT_EQ(server
                .Cli("submit whole -p p --gpu 1 -- sh -c 'echo $CUDA_VISIBLE_DEVICES; sleep "
                     "3600'")
                .status,
            0);
  auto logs = [&](const char* name) {
    return server.Cli(std::string("logs ") + name + " -p p").out;
  };
  ASSERT_TRUE(Eventually([&] { return !logs("a").empty() && !logs("b").empty(); }))
      << server.Cli("list -p p").out << server.Log();
  const std::string a = logs("a"), b = logs("b");
  EXPECT_TRUE(a.starts_with("MIG-")) << a;
  EXPECT_TRUE(b.starts_with("MIG-")) << b;
  EXPECT_NE(a.substr(0, a.find(' ')), b.substr(0, b.find(' ')));
  EXPECT_NE(a.find("3g.40gb@"), std::string::npos) << a;
  json w = json::parse(server.Cli("describe a -p p --json").out, nullptr, false);
  ASSERT_TRUE(w.is_object());
  EXPECT_EQ(w["spec"]["mig"], "3g.40gb");
  EXPECT_EQ(w["status"]["placement"][0]["gpus"], json::array({1}));
  EXPECT_TRUE(w["status"]["placement"][0]["mig"].get<std::string>().starts_with("3g.40gb@"));
  ASSERT_TRUE(Eventually([&] { return !logs("whole").empty(); }));
  EXPECT_EQ(logs("whole"), "GPU-fa4e0000-0000-4000-8000-000000000000\n");
  server.Kill(SIGTERM);
  server.KillPods();
  for (const char* v :
       {"SLUICE_FAKE_NVML_DEVICES", "SLUICE_FAKE_NVML_MIG", "SLUICE_FAKE_NVML_MIG_LAYOUT"}) {
    unsetenv(v);
  }
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
