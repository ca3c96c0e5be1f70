#include "dataplane/trace_lane_table.h"

#include <algorithm>

namespace laneproxy::dataplane {

trace_lane_table::trace_lane_table(std::size_t capacity, std::chrono::milliseconds ttl)
    : shard_capacity_(std::max<std::size_t>(1, (capacity + shard_count - 1) / shard_count)),
      ttl_(ttl) {}

trace_lane_table::shard& trace_lane_table::shard_of(std::string_view trace) const {
  return shards_[string_hash{}(trace) % shard_count];
}

void trace_lane_table::remember(std::string_view trace, std::string_view lane,
                                clock::time_point now) {
  auto& s = shard_of(trace);
  std::lock_guard lock(s.mutex);
  if (auto it = s.entries.find(trace); it != s.entries.end()) {
    it->second.lane.assign(lane);
    it->second.expires = now + ttl_;
    return;
  }
  // Evict from the front: expired entries first in practice, since every
  // entry lives for the same ttl; when the table is full, the oldest.
  while (!s.order.empty()) {
    auto front = s.entries.find(s.order.front());
    const bool stale = front == s.entries.end() || front->second.expires <= now;
    if (!stale && s.entries.size() < shard_capacity_) break;
    if (front != s.entries.end()) {
      if (!stale) evictions_.fetch_add(1, std::memory_order_relaxed);
      s.entries.erase(front);
    }
    s.order.pop_front();
  }
  s.entries.emplace(std::string(trace), entry{std::string(lane), now + ttl_});
  s.order.emplace_back(trace);
}

std::optional<std::string> trace_lane_table::lookup(std::string_view trace,
                                                    clock::time_point now) const {
  auto& s = shard_of(trace);
  std::lock_guard lock(s.mutex);
  const auto it = s.entries.find(trace);
  if (it == s.entries.end() || it->second.expires <= now) return std::nullopt;
  return it->second.lane;
}

std::size_t trace_lane_table::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.entries.size();
  }
  return n;
}

}  // namespace laneproxy::dataplane
