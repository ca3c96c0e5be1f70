// The two deterministic ways to split a weighted route, beside the random
// pick of weighted_pick.h. Pure functions of the route and their input.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/mesh_snapshot.h"

namespace laneproxy::route {

// Smooth weighted round robin (nginx's): each pick adds every target's
// weight to its running score, takes the highest, and subtracts the sum of
// weights from it. In every window of sum(weights) consecutive picks each
// target gets exactly its weight, spread out rather than in runs.
//
// The scores are state: one `smooth_state` per worker thread (no locks).
// With k workers each is exact over its own windows, so after any number
// of picks a target's total is within k * weight of its exact share (each
// worker has at most one unfinished window).
class smooth_state {
 public:
  // Index into rule.targets. Precondition: rule.targets is not empty.
  std::size_t pick(const config::route_rule& rule);
  // Forgets every route's scores (after a reload the rules are new objects).
  void clear() { scores_.clear(); }

 private:
  std::unordered_map<const config::route_rule*, std::vector<std::int64_t>> scores_;
};

// Weighted rendezvous hashing: the target with the lowest -ln(u) / weight,
// u a hash of (key, target) in (0, 1). The same key always picks the same
// target while the weights stay; when a weight changes, only the keys whose
// best target changes move, and a target at weight 0 gets none.
std::size_t pick_sticky(const config::route_rule& rule, std::string_view key);

}  // namespace laneproxy::route
