// Choosing a destination of a weighted route.
//
// The pick is a pure function of the targets and a 64-bit value, the way
// Envoy picks a weighted cluster: value modulo the weight sum, then walk the
// cumulative weights in configuration order. The value comes from an
// injectable random_source so that tests choose it exactly.
#pragma once

#include <cstdint>

#include "config/mesh_snapshot.h"

namespace laneproxy::route {

// Index into rule.targets. Precondition: rule.targets is not empty.
// A target of weight 0 is never picked while another has weight > 0.
std::size_t pick_target(const config::route_rule& rule, std::uint64_t value);

// A source of uniformly distributed 64-bit values. Not thread-safe: one per
// worker thread.
class random_source {
 public:
  virtual ~random_source() = default;
  virtual std::uint64_t next() = 0;
};

// The production source: SplitMix64 (one word of state, a few cycles per
// value, passes BigCrush), seeded from the OS unless a seed is given (tests
// and benchmarks pass one).
class default_random_source final : public random_source {
 public:
  default_random_source();
  explicit default_random_source(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() override {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

}  // namespace laneproxy::route
