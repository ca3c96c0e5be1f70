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
//
// Each shard keeps its entries in a ring in insertion order (eviction takes
// the front) and finds them through an open-addressing index of ring
// positions (linear probing, at most half full, deletion by backward
// shift). An index slot carries 32 bits of the id's hash, so a probe
// touches an entry only when those match. Rings and indexes grow on demand
// up to the capacity and their records are reused, so a table that is not
// used costs no memory and a full one allocates nothing per request.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  static constexpr std::uint32_t empty = UINT32_MAX;
  // Trace ids up to this long are kept inside the record (a UUID is 36
  // characters), so that comparing one reads no memory elsewhere.
  static constexpr std::size_t inline_trace = 40;
  struct record {
    std::uint64_t hash = 0;
    clock::time_point expires;
    std::uint32_t trace_size = 0;
    std::array<char, inline_trace> short_trace;
    std::string long_trace, lane;  // assigned in place when a record is reused
    std::string_view trace() const {
      return trace_size <= inline_trace ? std::string_view(short_trace.data(), trace_size)
                                        : std::string_view(long_trace);
    }
    void set_trace(std::string_view t);
  };
  struct slot {
    std::uint32_t position = empty;  // in the ring
    std::uint32_t hash = 0;          // the low 32 bits of the id's hash
  };
  struct shard {
    mutable std::mutex mutex;
    std::vector<record> ring;  // grows up to the shard's capacity, then wraps
    std::size_t head = 0;      // the oldest live record
    std::size_t count = 0;     // live records: ring[head], ring[head + 1], ...
    std::vector<slot> index;   // a power of two in size, at least twice `count`
  };
  std::size_t find(const shard& s, std::uint64_t hash, std::string_view trace) const;
  void index_insert(shard& s, std::uint32_t position);
  void index_erase(shard& s, std::uint32_t position);
  void grow_index(shard& s);

  std::size_t shard_capacity_;
  std::chrono::milliseconds ttl_;
  mutable std::array<shard, shard_count> shards_;
  std::atomic<std::uint64_t> evictions_{0};
};

}  // namespace laneproxy::dataplane
