// A cheap monotonic clock for deadlines and idle checks.
#pragma once

#include <chrono>
#include <ctime>

namespace laneproxy::net {

// CLOCK_MONOTONIC_COARSE: read without a system call or a TSC read, at the
// resolution of the kernel's tick (1-4 ms). Deadlines of seconds need no more.
struct coarse_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<coarse_clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
};

}  // namespace laneproxy::net
