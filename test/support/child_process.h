// Runs a real executable for integration tests: arguments, extra
// environment, stdout and stderr captured, stopped (SIGTERM, then SIGKILL)
// when the object goes away.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace laneproxy::testing {

class child_process {
 public:
  child_process(std::vector<std::string> argv,
                std::vector<std::pair<std::string, std::string>> env = {});
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Reads output until a line containing `needle` arrives; returns that
  // line, or "" after `timeout` or when the process ended without it.
  std::string wait_for_line(std::string_view needle,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Everything the process printed so far (stdout and stderr interleaved).
  std::string output();
  // Sends `signal` and waits up to `timeout`; returns the exit status, or -1
  // when it had to be killed.
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // For a failure message: each of the process's threads (name, state,
  // kernel wait channel), and their stacks when gdb is installed.
  std::string describe_threads() const;
  // Peak resident memory (VmHWM) in KiB while running.
  long peak_rss_kib() const;
  pid_t pid() const { return pid_; }

 private:
  void read_available(std::chrono::milliseconds wait);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string output_;
  std::size_t scanned_ = 0;
  bool exited_ = false;
  int status_ = 0;
};

}  // namespace laneproxy::testing
