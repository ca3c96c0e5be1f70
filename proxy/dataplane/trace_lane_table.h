// Permissive mode's memory: which lane a trace id (the value of the lane
// group's traceHeader, e.g. x-request-id) belongs to, learned when the
// request comes in and read when the app calls the next service with only
// that trace id.
//
// Bounded (oldest entries evicted first) and with expiry. Thread-safe: the
// inbound and outbound listeners run on different workers, so the table is
// split into shards, each behind its own mutex held for one hash lookup.
// This is the only lock a request can take, and only in permissive mode.
// Time is passed in, so tests decide it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace laneproxy::dataplane {

class trace_lane_table {
 public:
  using clock = std::chrono::steady_clock;

  trace_lane_table(std::size_t capacity, std::chrono::milliseconds ttl);

  // Remembers (or refreshes) `trace -> lane` until now + ttl.
  void remember(std::string_view trace, std::string_view lane, clock::time_point now);
  // The lane remembered for `trace`, if it has not expired.
  std::optional<std::string> lookup(std::string_view trace, clock::time_point now) const;

  std::size_t size() const;
  // Live entries dropped to stay within capacity, since the start.
  std::uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t shard_count = 16;
  struct entry {
    std::string lane;
    clock::time_point expires;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, entry, string_hash, std::equal_to<>> entries;
    std::deque<std::string> order;  // insertion order, for eviction
  };
  shard& shard_of(std::string_view trace) const;

  std::size_t shard_capacity_;
  std::chrono::milliseconds ttl_;
  mutable std::array<shard, shard_count> shards_;
  std::atomic<std::uint64_t> evictions_{0};
};

}  // namespace laneproxy::dataplane
