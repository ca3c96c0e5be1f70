#include "dataplane/trace_lane_table.h"

#include <algorithm>
#include <functional>

namespace laneproxy::dataplane {

namespace {
std::uint64_t hash_of(std::string_view trace) {
  return std::hash<std::string_view>{}(trace);
}
// The shard from the top bits, the index slot from the bottom ones.
std::size_t shard_index(std::uint64_t hash) {
  return hash >> 60;
}
}  // namespace

void trace_lane_table::record::set_trace(std::string_view t) {
  trace_size = static_cast<std::uint32_t>(t.size());
  if (t.size() <= inline_trace) {
    std::copy(t.begin(), t.end(), short_trace.begin());
  } else {
    long_trace.assign(t);
  }
}

trace_lane_table::trace_lane_table(std::size_t capacity, std::chrono::milliseconds ttl)
    : shard_capacity_(std::max<std::size_t>(1, (capacity + shard_count - 1) / shard_count)),
      ttl_(ttl) {}

std::size_t trace_lane_table::find(const shard& s, std::uint64_t hash,
                                   std::string_view trace) const {
  if (s.index.empty()) return empty;
  const std::size_t mask = s.index.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const auto& at = s.index[i];
    if (at.position == empty) return empty;
    if (at.hash != static_cast<std::uint32_t>(hash)) continue;
    const auto& r = s.ring[at.position];
    if (r.hash == hash && r.trace() == trace) return at.position;
  }
}

void trace_lane_table::index_insert(shard& s, std::uint32_t position) {
  const std::size_t mask = s.index.size() - 1;
  const auto hash = s.ring[position].hash;
  std::size_t i = hash & mask;
  while (s.index[i].position != empty) i = (i + 1) & mask;
  s.index[i] = {position, static_cast<std::uint32_t>(hash)};
}

void trace_lane_table::index_erase(shard& s, std::uint32_t position) {
  const std::size_t mask = s.index.size() - 1;
  std::size_t i = s.ring[position].hash & mask;
  while (s.index[i].position != position) i = (i + 1) & mask;
  // Backward shift: move up each later entry of the run that may sit in the
  // hole (its home slot is not cyclically within (hole, its slot]).
  for (std::size_t j = (i + 1) & mask; s.index[j].position != empty; j = (j + 1) & mask) {
    const std::size_t home = s.index[j].hash & mask;
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    s.index[i] = s.index[j];
    i = j;
  }
  s.index[i] = slot{};
}

void trace_lane_table::grow_index(shard& s) {
  std::size_t size = 16;
  while (size < 2 * (s.count + 1)) size *= 2;
  if (size <= s.index.size()) return;
  s.index.assign(size, slot{});
  for (std::size_t k = 0; k < s.count; ++k) {
    index_insert(s, static_cast<std::uint32_t>((s.head + k) % shard_capacity_));
  }
}

void trace_lane_table::remember(std::string_view trace, std::string_view lane,
                                clock::time_point now) {
  const auto hash = hash_of(trace);
  auto& s = shards_[shard_index(hash)];
  std::lock_guard lock(s.mutex);
  if (const auto at = find(s, hash, trace); at != empty) {
    s.ring[at].lane.assign(lane);
    s.ring[at].expires = now + ttl_;
    return;
  }
  // Evict from the front: expired entries first in practice, since every
  // entry lives for the same ttl; when the shard is full, the oldest.
  while (s.count > 0) {
    const auto& front = s.ring[s.head];
    const bool stale = front.expires <= now;
    if (!stale && s.count < shard_capacity_) break;
    if (!stale) evictions_.fetch_add(1, std::memory_order_relaxed);
    index_erase(s, static_cast<std::uint32_t>(s.head));
    s.head = (s.head + 1) % shard_capacity_;
    --s.count;
  }
  const std::size_t tail = (s.head + s.count) % shard_capacity_;
  if (tail == s.ring.size()) s.ring.emplace_back();  // still growing
  auto& r = s.ring[tail];
  r.hash = hash;
  r.expires = now + ttl_;
  r.set_trace(trace);
  r.lane.assign(lane);
  ++s.count;
  if (2 * s.count > s.index.size()) {
    grow_index(s);  // inserts every live record, this one included
  } else {
    index_insert(s, static_cast<std::uint32_t>(tail));
  }
}

std::optional<std::string> trace_lane_table::lookup(std::string_view trace,
                                                    clock::time_point now) const {
  const auto hash = hash_of(trace);
  const auto& s = shards_[shard_index(hash)];
  std::lock_guard lock(s.mutex);
  const auto at = find(s, hash, trace);
  if (at == empty || s.ring[at].expires <= now) return std::nullopt;
  return s.ring[at].lane;
}

std::size_t trace_lane_table::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.count;
  }
  return n;
}

}  // namespace laneproxy::dataplane
