// Consistent hashing over a cluster's endpoints (loadBalancer.consistentHash):
// Envoy's ring hash and Maglev, built once per endpoint set.
//
// A request's key (a header, cookie, query parameter or source address) is
// hashed with hash_key; the table maps the hash to an endpoint index, so
// one key goes to one endpoint for as long as the endpoints stay, and a
// change of endpoints moves only a share of keys near 1/n. Each endpoint is
// placed by a stable hash of its "IP:PORT": every proxy replica (and every
// restart) builds the same table from the same endpoints.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace laneproxy::dataplane {

// A stable 64-bit hash of `text` (FNV-1a, then a SplitMix64 finalizer so
// that similar keys land far apart), with `seed` mixed in.
std::uint64_t hash_key(std::string_view text, std::uint64_t seed = 0);

class endpoint_hash {
 public:
  endpoint_hash() = default;
  // `names`: the endpoints' "IP:PORT", in index order. `maglev`: a Maglev
  // table of `table_size` entries (a prime), else a ring with at least
  // `min_ring_size` points (each endpoint ceil(min / n) of them).
  endpoint_hash(const std::vector<std::string>& names, bool maglev, std::uint64_t table_size,
                std::uint64_t min_ring_size);

  bool empty() const { return maglev_.empty() && ring_.empty(); }
  // The endpoint index for `hash`, and the `k`th one after it in the table
  // (k = 0, 1, ...), for when the first is not admitted. Precondition: !empty().
  std::uint32_t lookup(std::uint64_t hash, std::uint32_t k = 0) const;

 private:
  std::vector<std::pair<std::uint64_t, std::uint32_t>> ring_;  // (point, endpoint), sorted
  std::vector<std::uint32_t> maglev_;                          // table entry -> endpoint
};

}  // namespace laneproxy::dataplane
