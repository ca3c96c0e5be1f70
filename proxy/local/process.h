// A child process of `laneproxy local`: started with extra environment and
// its output appended to a log file, and stopped with it (the child also
// gets SIGTERM if the supervisor dies).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace laneproxy::local {

class process {
 public:
  process() = default;
  ~process() { stop(std::chrono::seconds(5)); }
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  // Starts argv[0] (a path) with `env` added to this process's environment.
  // Returns false (and logs why) when it cannot be started.
  bool start(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::string>>& env,
             const std::string& log_file);
  // True while it runs; once it has exited, exit_status() says how.
  bool running();
  int exit_status() const { return status_; }  // 128 + signal when killed
  void signal(int sig) const;
  // SIGTERM, then SIGKILL after `grace`; waits for the exit.
  void stop(std::chrono::milliseconds grace);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

}  // namespace laneproxy::local
