// libsluice-vgpu end to end: the probe program (testing/vgpu_probe.cc),
// linked against the fake libcuda, runs under LD_PRELOAD in real processes
// that share a workload's runtime dir, and its output says what the driver
// calls returned. CUresult 2 is CUDA_ERROR_OUT_OF_MEMORY.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Env = std::map<std::string, std::string>;

// One probe process, its output read line by line.
class Probe {
 public:
  Probe(const Env& env, const std::vector<std::string>& args) {
    std::vector<std::string> argv_s{VGPU_PROBE};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<std::string> env_s;
    for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    for (auto& e : env_s) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(out[1]);
    out_ = fdopen(out[0], "r");
  }
  ~Probe() {
    if (pid_ > 0) Kill();
    if (out_ != nullptr) fclose(out_);
  }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // The next line, split into words; empty at the end of the output.
  std::vector<std::string> Line() {
    char buf[512];
    if (fgets(buf, sizeof buf, out_) == nullptr) return {};
    std::istringstream in(buf);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    return words;
  }
  // Every remaining line.
  std::vector<std::vector<std::string>> Rest() {
    std::vector<std::vector<std::string>> lines;
    for (auto l = Line(); !l.empty(); l = Line()) lines.push_back(l);
    return lines;
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  void Kill() {
    kill(pid_, SIGKILL);
    Wait();
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

class VgpuIntercept : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-vgpu-intercept-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    env_ = {{"PATH", "/usr/bin:/bin"},
            {"LD_PRELOAD", VGPU_LIBRARY},
            {"LD_LIBRARY_PATH", std::string(FAKE_CUDA_DIR) + ":" + FAKE_NVML_DIR},
            {"SLUICE_VGPU_DIR", dir_ + "/vgpu"},
            {"SLUICE_VGPU_CONTEXT_BYTES", "0"},
            {"SLUICE_GPU_MEMORY_LIMIT", "100M"},
            {"SLUICE_FAKE_CUDA_DEVICES", "1024"},
            {"SLUICE_FAKE_NVML_DEVICES", "Fake:1024"}};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs the probe to the end; its output, one string per line.
  std::vector<std::string> Run(const std::vector<std::string>& args, const Env& extra = {}) {
    Env env = env_;
    for (const auto& [k, v] : extra) env[k] = v;
    Probe p(env, args);
    std::vector<std::string> lines;
    for (const auto& words : p.Rest()) {
      std::string line;
      for (const auto& w : words) line += (line.empty() ? "" : " ") + w;
      lines.push_back(line);
    }
    EXPECT_EQ(p.Wait(), 0);
    return lines;
  }

  std::string dir_;
  Env env_;
};

using Lines = std::vector<std::string>;

TEST_F(VgpuIntercept, EveryAllocationPathStopsAtTheLimit) {
  for (const char* path : {"alloc", "managed", "async", "pool", "create", "array", "array3d",
                           "mipmap", "gp-alloc", "dlsym-alloc"}) {
    const std::string p = path;
    EXPECT_EQ(Run({"ctx", p, "60", p, "60", p, "40"}),
              (Lines{"ctx 0", p + " 0", p + " 2", p + " 0"}))
        << path;
  }
}

TEST_F(VgpuIntercept, PitchedAllocationsCountTheirPitch) {
  // 1000-byte rows are pitched to 1024: 100 rows of them is 100 KiB.
  EXPECT_EQ(Run({"ctx", "pitch", "1000", "102400", "meminfo", "pitch", "1000", "1"}),
            (Lines{"ctx 0", "pitch 0 1024", "meminfo 0 0 100", "pitch 2 0"}));
}

TEST_F(VgpuIntercept, FreeingGivesTheMemoryBack) {
  EXPECT_EQ(Run({"ctx", "alloc", "30", "array", "30", "create", "30", "free-all", "alloc", "100"}),
            (Lines{"ctx 0", "alloc 0", "array 0", "create 0", "free-all 0", "alloc 0"}));
}

TEST_F(VgpuIntercept, WhatTheDriverRefusesIsNotCharged) {
  EXPECT_EQ(Run({"ctx", "create", "60", "alloc", "60", "meminfo"},
                {{"SLUICE_FAKE_CUDA_FAIL", "cuMemCreate:999"}}),
            (Lines{"ctx 0", "create 999", "alloc 0", "meminfo 0 40 100"}));
  // A release the driver refuses keeps the charge.
  EXPECT_EQ(Run({"ctx", "alloc", "60", "free-all", "meminfo"},
                {{"SLUICE_FAKE_CUDA_FAIL", "cuMemFree_v2:1"}}),
            (Lines{"ctx 0", "alloc 0", "free-all 1", "meminfo 0 40 100"}));
}

TEST_F(VgpuIntercept, TheProgramSeesItsLimitAsTheDevicesMemory) {
  EXPECT_EQ(Run({"ctx", "alloc", "30", "meminfo", "totalmem", "nvml"}),
            (Lines{"ctx 0", "alloc 0", "meminfo 0 70 100", "totalmem 0 100", "nvml 0 100 30 70"}));
}

TEST_F(VgpuIntercept, PerDeviceLimitsWin) {
  EXPECT_EQ(Run({"ctx", "alloc", "150", "meminfo"}, {{"SLUICE_GPU_MEMORY_LIMIT_0", "200M"}}),
            (Lines{"ctx 0", "alloc 0", "meminfo 0 50 200"}));
}

TEST_F(VgpuIntercept, TheContextsFootprintCounts) {
  EXPECT_EQ(Run({"ctx", "meminfo", "alloc", "70", "alloc", "60"},
                {{"SLUICE_VGPU_CONTEXT_BYTES", "40M"}, {"SLUICE_FAKE_CUDA_CONTEXT_MIB", "40"}}),
            (Lines{"ctx 0", "meminfo 0 60 100", "alloc 2", "alloc 0"}));
  // A context that does not fit is refused like any allocation.
  EXPECT_EQ(Run({"ctx"}, {{"SLUICE_VGPU_CONTEXT_BYTES", "200M"}}), (Lines{"ctx 2"}));
}

TEST_F(VgpuIntercept, TheContextsFootprintIsMeasuredWhereNvmlCanSay) {
  // NVML says the process uses 40 MiB on the device once its context
  // exists: that replaces the 300 MiB estimate.
  const Env measured = {{"SLUICE_VGPU_CONTEXT_BYTES", ""},
                        {"SLUICE_FAKE_CUDA_CONTEXT_MIB", "40"},
                        {"SLUICE_FAKE_NVML_PROCESSES", "0:self:40"},
                        {"SLUICE_GPU_MEMORY_LIMIT", "400M"}};
  EXPECT_EQ(Run({"ctx", "meminfo"}, measured), (Lines{"ctx 0", "meminfo 0 360 400"}));
  // Without a figure from NVML, the estimate stands.
  Env estimated = measured;
  estimated.erase("SLUICE_FAKE_NVML_PROCESSES");
  EXPECT_EQ(Run({"ctx", "meminfo"}, estimated), (Lines{"ctx 0", "meminfo 0 100 400"}));
}

TEST_F(VgpuIntercept, WithoutALimitEverythingPassesThrough) {
  EXPECT_EQ(Run({"ctx", "alloc", "1000", "meminfo", "nvml", "alloc", "100"},
                {{"SLUICE_GPU_MEMORY_LIMIT", ""}}),
            (Lines{"ctx 0", "alloc 0", "meminfo 0 24 1024", "nvml 0 1024 0 1024",
                   "alloc 2"}));  // the device itself is full
}

TEST_F(VgpuIntercept, ProcessesOfOneWorkloadShareOneLimit) {
  Probe holder(env_, {"ctx", "alloc", "60", "hold"});
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(holder.Line().empty());
  EXPECT_EQ(Run({"ctx", "alloc", "60", "alloc", "40", "meminfo"}),
            (Lines{"ctx 0", "alloc 2", "alloc 0", "meminfo 0 0 100"}));
  // nvidia-smi's view from a process that never touched CUDA.
  EXPECT_EQ(Run({"nvml"}), (Lines{"nvml 0 100 60 40"}));
  // Another workload (another runtime dir) has a limit of its own.
  EXPECT_EQ(Run({"ctx", "alloc", "100"}, {{"SLUICE_VGPU_DIR", dir_ + "/other"}}),
            (Lines{"ctx 0", "alloc 0"}));
}

TEST_F(VgpuIntercept, ConcurrentProcessesNeverTogetherExceedTheLimit) {
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < 4; ++i)
    probes.push_back(std::make_unique<Probe>(env_, Lines{"ctx", "fill", "hold"}));
  int total = 0;
  for (auto& p : probes) {
    EXPECT_EQ(p->Line(), (Lines{"ctx", "0"}));
    std::vector<std::string> fill = p->Line();
    ASSERT_EQ(fill.size(), 3U);
    EXPECT_EQ(fill[1], "2");
    total += std::stoi(fill[2]);
  }
  EXPECT_LE(total, 100);
  EXPECT_GE(total, 100 - 4);  // racing for the last MiB can refuse both
}

TEST_F(VgpuIntercept, AProcessKilledInsideAnAllocationLeavesNothingHeld) {
  const std::string marker = dir_ + "/inside";
  Env env = env_;
  env["SLUICE_FAKE_CUDA_HANG"] = "cuMemAlloc_v2:" + marker;
  Probe victim(env, {"ctx", "alloc", "80"});
  ASSERT_EQ(victim.Line(), (Lines{"ctx", "0"}));
  // The fake creates the marker inside the driver call, after the library
  // charged the 80 MiB; then the process is killed there.
  struct stat st {};
  while (stat(marker.c_str(), &st) != 0) usleep(1000);
  EXPECT_EQ(Run({"ctx", "alloc", "30"}), (Lines{"ctx 0", "alloc 2"})) << "80 are charged";
  victim.Kill();
  EXPECT_EQ(Run({"ctx", "alloc", "100"}), (Lines{"ctx 0", "alloc 0"}));
}

TEST_F(VgpuIntercept, AForkedChildCountsOnItsOwnAndGivesBackAtExit) {
  EXPECT_EQ(
      Run({"ctx", "alloc", "60", "fork", "50", "fork", "30", "alloc", "40"}),
      (Lines{"ctx 0", "alloc 0", "fork-child 2", "fork 0", "fork-child 0", "fork 0", "alloc 0"}));
}

TEST_F(VgpuIntercept, GetProcAddressHandsOutTheHookForExactlyTheVersionAskedFor) {
  const Lines got =
      Run({"ctx", "gp", "cuMemAlloc",       "12000", "0", "gp", "cuMemAlloc",      "3020",
           "0",   "gp", "cuMemAlloc",       "2000",  "0", "gp", "cuCtxCreate",     "11040",
           "0",   "gp", "cuCtxCreate",      "12000", "0", "gp", "cuLaunchKernel",  "12000",
           "2",   "gp", "cuLaunchKernel",   "12000", "1", "gp", "cuMemAllocAsync", "11010",
           "0",   "gp", "cuDeviceGetCount", "12000", "0", "gp", "cuMemAlloc",      "12050",
           "0"});
  EXPECT_EQ(got, (Lines{"ctx 0", "gp 0 0 cuMemAlloc_v2 libsluice-vgpu.so",
                        "gp 0 0 cuMemAlloc_v2 libsluice-vgpu.so",
                        // the 32-bit ABI is not counted: the driver's own
                        "gp 0 0 cuMemAlloc libcuda.so.1", "gp 0 0 cuCtxCreate_v3 libsluice-vgpu.so",
                        "gp 0 0 cuCtxCreate_v3 libsluice-vgpu.so",
                        "gp 0 0 cuLaunchKernel_ptsz libsluice-vgpu.so",
                        "gp 0 0 cuLaunchKernel libsluice-vgpu.so", "gp 0 2 none none",
                        "gp 0 0 cuDeviceGetCount libcuda.so.1",
                        // newer than the driver (12.4): CUDA_ERROR_INVALID_VALUE, as it said
                        "gp 1 -1 none none"}));
  // The same questions without the library get the same variants.
  Env plain = env_;
  plain.erase("LD_PRELOAD");
  plain["SLUICE_FAKE_CUDA_DRIVER"] = "12080";
  Probe bare(plain,
             {"ctx", "gp", "cuCtxCreate", "12050", "0", "gp", "cuLaunchKernel", "12000", "2"});
  EXPECT_EQ(bare.Rest(),
            (std::vector<Lines>{{"ctx", "0"},
                                {"gp", "0", "0", "cuCtxCreate_v4", "libcuda.so.1"},
                                {"gp", "0", "0", "cuLaunchKernel_ptsz", "libcuda.so.1"}}));
}

TEST_F(VgpuIntercept, DlsymAnswersEverythingElseLikeGlibc) {
  const Lines args = {"next", "cuDeviceGetCount", "next", "malloc", "next", "no_such_symbol"};
  const Lines want = {"next cuDeviceGetCount libcuda.so.1", "next malloc libc.so.6",
                      "next no_such_symbol none"};
  EXPECT_EQ(Run(args), want);
  Env plain = env_;
  plain.erase("LD_PRELOAD");
  Probe bare(plain, args);
  std::vector<Lines> lines = bare.Rest();
  ASSERT_EQ(lines.size(), 3U);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i][0] + " " + lines[i][1] + " " + lines[i][2], want[i]);
  }
}

TEST_F(VgpuIntercept, LaunchesPassThroughWithOrWithoutAShare) {
  // Every kind of launch (kernel, cooperative, graph, ex) reaches the driver.
  EXPECT_EQ(Run({"ctx", "launch", "25"}), (Lines{"ctx 0", "launch 0 100"}));
  // With a share but no utilisation sample yet, nothing is held back.
  EXPECT_EQ(Run({"ctx", "launch", "25"}, {{"SLUICE_GPU_COMPUTE_SHARE", "30"}}),
            (Lines{"ctx 0", "launch 0 100"}));
}

TEST_F(VgpuIntercept, ProgramsThatNeverTouchCudaRunUnchanged) {
  Env env = env_;
  Probe shell(env, {});  // the probe with nothing to do
  EXPECT_TRUE(shell.Rest().empty());
  EXPECT_EQ(shell.Wait(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/vgpu/usage")) << "no region for a non-CUDA program";
}

}  // namespace
