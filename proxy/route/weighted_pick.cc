#include "route/weighted_pick.h"

#include <random>

namespace laneproxy::route {

std::size_t pick_target(const config::route_rule& rule, std::uint64_t value) {
  const auto& targets = rule.targets;
  if (targets.size() == 1 || rule.total_weight == 0) return 0;
  const std::uint64_t point = value % rule.total_weight;
  std::uint64_t end = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    end += targets[i].weight;
    if (point < end) return i;
  }
  return targets.size() - 1;  // unreachable while total_weight is the sum
}

default_random_source::default_random_source() {
  std::random_device device;
  state_ = (std::uint64_t{device()} << 32) ^ device();
}

}  // namespace laneproxy::route
