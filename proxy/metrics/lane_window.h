// A lane's recent traffic at the gateway, for the live lane page: requests,
// errors (5xx) and latency over the last 10 seconds and 5 minutes.
//
// One per (route, lane) and worker: a ring of one-second slots, each
// counting requests, errors and a latency histogram of power-of-two
// microsecond buckets. One thread writes (the worker: plain loads and
// stores, no lock and no locked instruction on the request path); any
// thread reads, and may see a slot mid-update, which a page of recent
// shares can bear. Percentiles are read off the buckets (a bucket's upper
// bound, so within a factor of two: enough to tell a slow lane from a
// healthy one). Time is given by the caller (the request's end), so tests
// are exact.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace laneproxy::metrics {

class lane_window {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr std::size_t slots = 300;   // seconds kept
  static constexpr std::size_t buckets = 26;  // below 2^b us for b < 26 (67 s), then above

  struct totals {
    std::uint64_t requests = 0, errors = 0;
    std::array<std::uint64_t, buckets + 1> latency{};
  };
  struct summary {
    std::uint64_t requests = 0, errors = 0;
    double p50_ms = 0, p99_ms = 0;  // 0 without requests
  };

  // The writer's side.
  void record(time_point end, std::chrono::microseconds latency, bool error);
  // Adds the last `seconds` (at most `slots`) before `now`, the current
  // second included, to `out`.
  void add_to(totals& out, time_point now, std::size_t seconds) const;
  static summary summarize(const totals& t);
  summary over(time_point now, std::size_t seconds) const {
    totals t;
    add_to(t, now, seconds);
    return summarize(t);
  }

 private:
  struct slot {
    std::atomic<std::int64_t> second{-1};  // which second it counts; -1: none yet
    std::atomic<std::uint32_t> requests{0}, errors{0};
    std::array<std::atomic<std::uint32_t>, buckets + 1> latency{};
  };
  std::array<slot, slots> ring_;
};

}  // namespace laneproxy::metrics
