#include "exec/pod_shim.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "exec/cgroups.h"

namespace sluice {
namespace {

// Appends to a log file and rotates it past a size: LOG -> LOG.1 -> LOG.2 ...
class RotatingLog {
 public:
  RotatingLog(std::string path, int64_t max_bytes, int keep)
      : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {
    Open();
  }
  ~RotatingLog() {
    if (fd_ >= 0) close(fd_);
  }
  RotatingLog(const RotatingLog&) = delete;
  RotatingLog& operator=(const RotatingLog&) = delete;

  void Write(const char* data, size_t n) {
    if (fd_ < 0) return;
    if (size_ + static_cast<int64_t>(n) > max_bytes_ && size_ > 0) Rotate();
    while (n > 0) {
      ssize_t w = write(fd_, data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return;
      }
      data += w;
      n -= static_cast<size_t>(w);
      size_ += w;
    }
  }

 private:
  void Open() {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct stat st {};
    size_ = fd_ >= 0 && fstat(fd_, &st) == 0 ? st.st_size : 0;
  }
  void Rotate() {
    close(fd_);
    for (int i = keep_ - 1; i >= 1; --i) {
      rename((path_ + "." + std::to_string(i)).c_str(),
             (path_ + "." + std::to_string(i + 1)).c_str());
    }
    if (keep_ >= 1) {
      rename(path_.c_str(), (path_ + ".1").c_str());
    } else {
      unlink(path_.c_str());
    }
    Open();
  }

  std::string path_;
  int64_t max_bytes_;
  int keep_;
  int fd_ = -1;
  int64_t size_ = 0;
};

void WriteExit(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string line = text + "\n";
  (void)!write(fd, line.data(), line.size());
  fsync(fd);
  close(fd);
  rename(tmp.c_str(), path.c_str());
}

// In the child: become the user, move to the working directory, run.
[[noreturn]] void ExecCommand(const ShimOptions& o, int out_fd) {
  dup2(out_fd, STDOUT_FILENO);
  dup2(out_fd, STDERR_FILENO);
  close(out_fd);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    close(null_fd);
  }
  auto fail = [](const std::string& what) {
    std::string msg = "sluice: " + what + ": " + std::strerror(errno) + "\n";
    (void)!write(STDERR_FILENO, msg.data(), msg.size());
    _exit(127);
  };
  if (o.uid >= 0 && static_cast<uid_t>(o.uid) != geteuid()) {
    std::array<char, 16384> buf{};
    passwd pw{};
    passwd* found = nullptr;
    if (getpwuid_r(static_cast<uid_t>(o.uid), &pw, buf.data(), buf.size(), &found) != 0 ||
        found == nullptr) {
      errno = ENOENT;
      fail("no user with uid " + std::to_string(o.uid));
    }
    if (initgroups(pw.pw_name, pw.pw_gid) != 0)
      fail("setting the groups of " + std::string(pw.pw_name));
    if (setgid(pw.pw_gid) != 0) fail("setgid");
    if (setuid(static_cast<uid_t>(o.uid)) != 0) fail("setuid " + std::to_string(o.uid));
  }
  if (!o.workdir.empty() && chdir(o.workdir.c_str()) != 0) fail("working directory " + o.workdir);
  std::vector<char*> argv;
  std::vector<std::string> args = o.command;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  fail("cannot run " + o.command[0]);
  _exit(127);  // not reached: fail does not return
}

// Set when a stop signal reached the shim: it forwards it to the command.
volatile sig_atomic_t stop_signal = 0;
void RecordStop(int sig) { stop_signal = sig; }

}  // namespace

int RunPodShim(const ShimOptions& o) {
  if (o.command.empty()) return 2;
  // The executor stops a pod by signalling this session's process group; the
  // command gets the signal and the shim stays to record how it ended.
  setsid();                // (the executor already made it a session leader)
  close_range(3, ~0U, 0);  // nothing of the server's may leak into the pod
  // A stop that arrives before the command runs must not be lost: it is
  // recorded, held back across the fork, and passed on.
  struct sigaction record {};
  record.sa_handler = RecordStop;
  sigemptyset(&record.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &record, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RotatingLog log(o.log_path, o.log_max_bytes, o.log_keep);
  if (Status s = JoinCgroups(o.cgroups); !s.ok()) {
    WriteExit(o.exit_path, "error " + s.message());
    return 1;
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    WriteExit(o.exit_path, std::string("error cannot create a pipe: ") + std::strerror(errno));
    return 1;
  }
  sigset_t stops;
  sigemptyset(&stops);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stops, sig);
  sigprocmask(SIG_BLOCK, &stops, nullptr);
  pid_t child = fork();
  if (child < 0) {
    WriteExit(o.exit_path, std::string("error cannot fork: ") + std::strerror(errno));
    return 1;
  }
  if (child == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    // A stop sent to the group during the fork is pending here too: with
    // the default action restored, it ends the child now.
    if (stop_signal != 0) raise(stop_signal);
    sigprocmask(SIG_UNBLOCK, &stops, nullptr);
    close(pipe_fds[0]);
    ExecCommand(o, pipe_fds[1]);
  }
  close(pipe_fds[1]);
  sigprocmask(SIG_UNBLOCK, &stops, nullptr);
  if (stop_signal != 0) kill(child, stop_signal);
  std::array<char, 65536> buf{};
  while (true) {
    ssize_t n = read(pipe_fds[0], buf.data(), buf.size());
    if (n > 0) {
      log.Write(buf.data(), static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // every writer closed: the command (and its children) ended or closed output
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    WriteExit(o.exit_path, "exit " + std::to_string(WEXITSTATUS(status)));
  } else if (WIFSIGNALED(status)) {
    WriteExit(o.exit_path, "signal " + std::to_string(WTERMSIG(status)));
  }
  return 0;
}

bool ReadPodExit(const std::string& path, PodExit* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::string kind;
  in >> kind;
  if (kind == "exit" || kind == "signal") {
    in >> out->code;
    out->exited = kind == "exit";
    return true;
  }
  if (kind == "error") {
    std::getline(in, out->error);
    if (!out->error.empty() && out->error[0] == ' ') out->error.erase(0, 1);
    out->exited = false;
    out->code = -1;
    return true;
  }
  return false;
}

}  // namespace sluice
