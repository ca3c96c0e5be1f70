#include "metrics/lane_window.h"

#include <bit>

namespace laneproxy::metrics {

std::int64_t lane_window::second_of(time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

void lane_window::record(time_point end, std::chrono::microseconds latency, bool error) {
  const auto second = second_of(end);
  const auto us = static_cast<std::uint64_t>(latency.count() > 0 ? latency.count() : 0);
  // Bucket b holds latencies below 2^b us.
  const auto bucket = std::min<std::size_t>(std::bit_width(us), buckets);
  std::lock_guard lock(mutex_);
  auto& s = ring_[static_cast<std::size_t>(second) % slots];
  if (s.second != second) {
    s = slot{};
    s.second = second;
  }
  ++s.requests;
  if (error) ++s.errors;
  ++s.latency[bucket];
}

lane_window::summary lane_window::over(time_point now, std::size_t seconds) const {
  seconds = std::min(seconds, slots);
  const auto last = second_of(now);
  std::array<std::uint64_t, buckets + 1> latency{};
  summary out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : ring_) {
      if (s.second < 0 || s.second > last || last - s.second >= static_cast<std::int64_t>(seconds))
        continue;
      out.requests += s.requests;
      out.errors += s.errors;
      for (std::size_t b = 0; b <= buckets; ++b) latency[b] += s.latency[b];
    }
  }
  if (out.requests == 0) return out;
  const auto percentile = [&](double p) {
    const auto rank = static_cast<std::uint64_t>(p * static_cast<double>(out.requests - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b <= buckets; ++b) {
      seen += latency[b];
      if (seen >= rank) return static_cast<double>(std::uint64_t{1} << b) / 1000.0;
    }
    return static_cast<double>(std::uint64_t{1} << buckets) / 1000.0;
  };
  out.p50_ms = percentile(0.50);
  out.p99_ms = percentile(0.99);
  return out;
}

}  // namespace laneproxy::metrics
