// The deterministic splits: smooth round robin is exact over every window;
// sticky keeps a key in its lane and moves only the keys a weight change
// must move.
#include "route/lane_selector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace laneproxy::route {
namespace {

config::route_rule rule_of(const std::vector<std::pair<std::string, std::uint32_t>>& weights) {
  config::route_rule r;
  for (const auto& [subset, w] : weights) {
    config::route_target t;
    t.service = "mocka.default";
    t.subset = subset;
    t.weight = w;
    r.targets.push_back(t);
    r.total_weight += w;
  }
  return r;
}

TEST(SmoothSplit, EveryWindowIsExact) {
  const auto rule = rule_of({{"v1", 60}, {"v2", 30}, {"v3", 10}});
  smooth_state state;
  for (int window = 0; window < 50; ++window) {
    std::map<std::size_t, int> counts;
    for (int i = 0; i < 100; ++i) ++counts[state.pick(rule)];
    EXPECT_EQ(counts[0], 60);
    EXPECT_EQ(counts[1], 30);
    EXPECT_EQ(counts[2], 10);
  }
}

TEST(SmoothSplit, SpreadsPicksRatherThanRunningThem) {
  // 5:1:1, nginx's example: a a b a c a a, not a a a a a b c.
  const auto rule = rule_of({{"a", 5}, {"b", 1}, {"c", 1}});
  smooth_state state;
  std::string order;
  for (int i = 0; i < 7; ++i) order += rule.targets[state.pick(rule)].subset;
  EXPECT_EQ(order, "aabacaa");
}

TEST(SmoothSplit, ZeroWeightNeverPickedAndStateIsPerRule) {
  const auto a = rule_of({{"v1", 0}, {"v2", 1}});
  const auto b = rule_of({{"v1", 1}, {"v2", 1}});
  smooth_state state;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(state.pick(a), 1u);
  EXPECT_EQ(state.pick(b), 0u);  // b's scores start fresh
  EXPECT_EQ(state.pick(b), 1u);
}

TEST(StickySplit, AKeyStaysInItsLane) {
  const auto rule = rule_of({{"v1", 50}, {"v2", 50}});
  for (int user = 0; user < 100; ++user) {
    const auto key = "user-" + std::to_string(user);
    const auto first = pick_sticky(rule, key);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(pick_sticky(rule, key), first);
  }
}

TEST(StickySplit, SharesFollowTheWeightsAndAChangeMovesOnlyWhatItMust) {
  const auto before = rule_of({{"v1", 80}, {"v2", 20}});
  const auto after = rule_of({{"v1", 70}, {"v2", 30}});
  constexpr int users = 20000;
  int to_v2 = 0, moved = 0, moved_back = 0;
  for (int user = 0; user < users; ++user) {
    const auto key = "user-" + std::to_string(user);
    const auto b = pick_sticky(before, key), a = pick_sticky(after, key);
    to_v2 += b == 1;
    if (a != b) ++moved;
    if (b == 1 && a == 0) ++moved_back;
  }
  // 20 % within 4.5 standard deviations.
  EXPECT_NEAR(to_v2, users * 0.2, 4.5 * std::sqrt(users * 0.2 * 0.8));
  // Only v1 users move, and about the 10 % that v2 gained.
  EXPECT_EQ(moved_back, 0);
  EXPECT_NEAR(moved, users * 0.1, 4.5 * std::sqrt(users * 0.1 * 0.9));
}

TEST(StickySplit, ZeroWeightGetsNoOne) {
  const auto rule = rule_of({{"v1", 1}, {"v2", 0}});
  for (int user = 0; user < 1000; ++user) {
    EXPECT_EQ(pick_sticky(rule, "user-" + std::to_string(user)), 0u);
  }
}

}  // namespace
}  // namespace laneproxy::route
