// The weighted pick: exact intervals with injected values, and one
// statistical check with a fixed seed.
#include "route/weighted_pick.h"

#include <cmath>

#include <gtest/gtest.h>

namespace laneproxy::route {
namespace {

config::route_rule rule_with(std::initializer_list<std::uint32_t> weights) {
  config::route_rule rule;
  for (auto w : weights) {
    config::route_target t;
    t.subset = "v" + std::to_string(rule.targets.size() + 1);
    t.weight = w;
    rule.total_weight += w;
    rule.targets.push_back(t);
  }
  return rule;
}

TEST(WeightedPick, CumulativeIntervalsInConfigOrder) {
  const auto rule = rule_with({60, 30, 10});
  EXPECT_EQ(pick_target(rule, 0), 0u);
  EXPECT_EQ(pick_target(rule, 59), 0u);
  EXPECT_EQ(pick_target(rule, 60), 1u);
  EXPECT_EQ(pick_target(rule, 89), 1u);
  EXPECT_EQ(pick_target(rule, 90), 2u);
  EXPECT_EQ(pick_target(rule, 99), 2u);
  EXPECT_EQ(pick_target(rule, 100), 0u);  // value modulo the sum
  EXPECT_EQ(pick_target(rule, 100 * 1000 + 95), 2u);
}

TEST(WeightedPick, ZeroWeightIsNeverPicked) {
  const auto rule = rule_with({0, 100, 0});
  for (std::uint64_t v = 0; v < 1000; ++v) EXPECT_EQ(pick_target(rule, v), 1u);
}

TEST(WeightedPick, RelativeWeights) {
  const auto rule = rule_with({3, 1});
  EXPECT_EQ(pick_target(rule, 2), 0u);
  EXPECT_EQ(pick_target(rule, 3), 1u);
  EXPECT_EQ(pick_target(rule, ~std::uint64_t{0}), (~std::uint64_t{0} % 4) < 3 ? 0u : 1u);
}

TEST(WeightedPick, SingleTarget) {
  EXPECT_EQ(pick_target(rule_with({0}), 12345), 0u);
}

// 100,000 picks at 60:30:10 with a fixed seed: each lane's count lies within
// 5 standard deviations of its binomial mean (a bound a fair pick fails with
// probability < 1e-6, and a biased one of 1 % fails surely).
TEST(WeightedPick, SplitFollowsWeightsStatistically) {
  const auto rule = rule_with({60, 30, 10});
  default_random_source random(20261127);
  constexpr int n = 100000;
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < n; ++i) ++counts[pick_target(rule, random.next())];
  const double shares[3] = {0.6, 0.3, 0.1};
  for (int i = 0; i < 3; ++i) {
    const double mean = n * shares[i];
    const double sd = std::sqrt(n * shares[i] * (1 - shares[i]));
    EXPECT_LT(std::abs(counts[i] - mean), 5 * sd) << "lane " << i << " got " << counts[i];
  }
}

}  // namespace
}  // namespace laneproxy::route
