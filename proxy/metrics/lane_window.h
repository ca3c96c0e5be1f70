// A lane's recent traffic at the gateway, for the live lane page: requests,
// errors (5xx) and latency over the last 10 seconds and 5 minutes.
//
// One per (route, lane), shared by the workers: a ring of one-second slots
// under a mutex (a request takes it once, uncontended but for the page's
// read), each slot counting requests, errors and a latency histogram of
// power-of-two microsecond buckets. Percentiles are read off the buckets:
// a bucket's upper bound, so within a factor of two, which is what a page
// that tells a slow lane from a healthy one needs. Time is given by the
// caller (the request's end), so tests are exact.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace laneproxy::metrics {

class lane_window {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr std::size_t slots = 300;   // seconds kept
  static constexpr std::size_t buckets = 26;  // 1 us .. 2^25 us (33 s), then above

  struct summary {
    std::uint64_t requests = 0, errors = 0;
    double p50_ms = 0, p99_ms = 0;  // 0 without requests
  };

  void record(time_point end, std::chrono::microseconds latency, bool error);
  // The last `seconds` (at most `slots`) before `now`, the current second included.
  summary over(time_point now, std::size_t seconds) const;

 private:
  struct slot {
    std::int64_t second = -1;  // which second it counts; -1: none yet
    std::uint32_t requests = 0, errors = 0;
    std::array<std::uint32_t, buckets + 1> latency{};
  };
  static std::int64_t second_of(time_point t);
  mutable std::mutex mutex_;
  std::array<slot, slots> ring_;
};

}  // namespace laneproxy::metrics
