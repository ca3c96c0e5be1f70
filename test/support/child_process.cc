#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace laneproxy::testing {

child_process::child_process(std::vector<std::string> argv,
                             std::vector<std::pair<std::string, std::string>> env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  out_fd_ = fds[0];
  fcntl(out_fd_, F_SETFL, O_NONBLOCK);
}

child_process::~child_process() {
  stop(SIGTERM);
  if (out_fd_ >= 0) close(out_fd_);
}

void child_process::read_available(std::chrono::milliseconds wait) {
  pollfd p{out_fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) <= 0) return;
  char buf[4096];
  for (;;) {
    const auto n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    output_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string child_process::wait_for_line(std::string_view needle,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Look only at complete lines not yet returned.
    for (auto end = output_.find('\n', scanned_); end != std::string::npos;
         end = output_.find('\n', scanned_)) {
      std::string line = output_.substr(scanned_, end - scanned_);
      scanned_ = end + 1;
      if (line.find(needle) != std::string::npos) return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    if (!exited_ && waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
    if (exited_) {
      read_available(std::chrono::milliseconds(0));
      if (output_.find('\n', scanned_) == std::string::npos) return {};
      continue;
    }
    read_available(std::min(left, std::chrono::milliseconds(50)));
  }
}

std::string child_process::output() {
  read_available(std::chrono::milliseconds(0));
  return output_;
}

int child_process::stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  if (!exited_) {
    kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exited_ && std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        exited_ = true;
        break;
      }
      read_available(std::chrono::milliseconds(10));
    }
    if (!exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      exited_ = true;
      return -1;
    }
  }
  read_available(std::chrono::milliseconds(0));
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

namespace {
std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}
}  // namespace

std::string child_process::describe_threads() const {
  if (pid_ <= 0 || exited_) return "(not running)\n";
  const std::string proc = "/proc/" + std::to_string(pid_);
  std::string out = "exe: " + std::filesystem::read_symlink(proc + "/exe").string() + "\n";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(proc + "/task", ec)) {
    const auto dir = task.path().string();
    out += "  thread " + task.path().filename().string() + " " + first_line(dir + "/comm") +
           ": stat " + first_line(dir + "/stat") + "; wchan " + first_line(dir + "/wchan") + "\n";
  }
  if (std::filesystem::exists("/usr/bin/gdb")) {
    const std::string cmd = "/usr/bin/gdb -p " + std::to_string(pid_) +
                            " -batch -nx -ex 'thread apply all bt' 2>&1 | grep -E '^(#|Thread)'";
    if (FILE* f = popen(cmd.c_str(), "r")) {
      char buf[512];
      while (fgets(buf, sizeof buf, f)) out += buf;
      pclose(f);
    }
  }
  return out;
}

long child_process::peak_rss_kib() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 20, '\n');
  }
  return -1;
}

}  // namespace laneproxy::testing
