#include "metrics/lane_window.h"

#include <bit>

namespace laneproxy::metrics {

namespace {
constexpr auto relaxed = std::memory_order_relaxed;

std::int64_t second_of(lane_window::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// One writer: a plain add, no locked instruction.
void bump(std::atomic<std::uint32_t>& a) {
  a.store(a.load(relaxed) + 1, relaxed);
}
}  // namespace

void lane_window::record(time_point end, std::chrono::microseconds latency, bool error) {
  const auto second = second_of(end);
  const auto us = static_cast<std::uint64_t>(latency.count() > 0 ? latency.count() : 0);
  // Bucket b holds latencies below 2^b us.
  const auto bucket = std::min<std::size_t>(static_cast<std::size_t>(std::bit_width(us)), buckets);
  auto& s = ring_[static_cast<std::size_t>(second) % slots];
  if (s.second.load(relaxed) != second) {
    s.requests.store(0, relaxed);
    s.errors.store(0, relaxed);
    for (auto& b : s.latency) b.store(0, relaxed);
    s.second.store(second, relaxed);
  }
  bump(s.requests);
  if (error) bump(s.errors);
  bump(s.latency[bucket]);
}

void lane_window::add_to(totals& out, time_point now, std::size_t seconds) const {
  seconds = std::min(seconds, slots);
  const auto last = second_of(now);
  for (const auto& s : ring_) {
    const auto second = s.second.load(relaxed);
    if (second < 0 || second > last || last - second >= static_cast<std::int64_t>(seconds))
      continue;
    out.requests += s.requests.load(relaxed);
    out.errors += s.errors.load(relaxed);
    for (std::size_t b = 0; b <= buckets; ++b) out.latency[b] += s.latency[b].load(relaxed);
  }
}

lane_window::summary lane_window::summarize(const totals& t) {
  summary out{t.requests, t.errors, 0, 0};
  if (t.requests == 0) return out;
  const auto percentile = [&](double p) {
    const auto rank = static_cast<std::uint64_t>(p * static_cast<double>(t.requests - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b <= buckets; ++b) {
      seen += t.latency[b];
      if (seen >= rank) return static_cast<double>(std::uint64_t{1} << b) / 1000.0;
    }
    return static_cast<double>(std::uint64_t{1} << buckets) / 1000.0;
  };
  out.p50_ms = percentile(0.50);
  out.p99_ms = percentile(0.99);
  return out;
}

}  // namespace laneproxy::metrics
