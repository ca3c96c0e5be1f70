#include "dataplane/endpoint_hash.h"

#include <algorithm>

namespace laneproxy::dataplane {

std::uint64_t hash_key(std::string_view text, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ull ^ (seed * 0x9e3779b97f4a7c15ull);
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

namespace {

// Maglev (Eisenbud et al., NSDI 2016): each endpoint walks its own
// permutation of the table (offset, skip) and takes the next free entry in
// turn, so every endpoint owns M/n entries, give or take one.
std::vector<std::uint32_t> build_maglev(const std::vector<std::string>& names, std::uint64_t m) {
  const auto n = names.size();
  std::vector<std::uint64_t> offset(n), skip(n), next(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    offset[i] = hash_key(names[i], 1) % m;
    skip[i] = hash_key(names[i], 2) % (m - 1) + 1;
  }
  constexpr auto free_entry = UINT32_MAX;
  std::vector<std::uint32_t> table(m, free_entry);
  for (std::uint64_t filled = 0;;) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t c = (offset[i] + next[i] * skip[i]) % m;
      while (table[c] != free_entry) c = (offset[i] + ++next[i] * skip[i]) % m;
      table[c] = static_cast<std::uint32_t>(i);
      ++next[i];
      if (++filled == m) return table;
    }
  }
}

}  // namespace

endpoint_hash::endpoint_hash(const std::vector<std::string>& names, bool maglev,
                             std::uint64_t table_size, std::uint64_t min_ring_size) {
  if (names.empty()) return;
  if (maglev) {
    maglev_ = build_maglev(names, std::max<std::uint64_t>(table_size, 2));
    return;
  }
  const auto per_endpoint =
      (std::max<std::uint64_t>(min_ring_size, 1) + names.size() - 1) / names.size();
  ring_.reserve(per_endpoint * names.size());
  for (std::uint32_t i = 0; i < names.size(); ++i) {
    for (std::uint64_t r = 0; r < per_endpoint; ++r) {
      ring_.emplace_back(hash_key(names[i] + "_" + std::to_string(r)), i);
    }
  }
  std::sort(ring_.begin(), ring_.end());
}

std::uint32_t endpoint_hash::lookup(std::uint64_t hash, std::uint32_t k) const {
  if (!maglev_.empty()) return maglev_[(hash + k) % maglev_.size()];
  // The first point at or after the hash, wrapping around.
  const auto it = std::lower_bound(ring_.begin(), ring_.end(),
                                   std::pair<std::uint64_t, std::uint32_t>{hash, 0});
  const auto at = static_cast<std::size_t>(it - ring_.begin());
  return ring_[(at + k) % ring_.size()].second;
}

}  // namespace laneproxy::dataplane
