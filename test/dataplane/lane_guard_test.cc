// The lane guard's state machine on an explicit clock: a trip on the
// error rate, the weight moved to the other lanes, the half-open steps
// back, a relapse, and the cases where it must leave a lane alone.
#include "dataplane/lane_guard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace laneproxy::dataplane {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using clock = lane_guard::clock;

config::guard_spec five_percent() {
  std::string error;
  auto g = config::parse_guard("error-rate > 5% over 10s, min 20 requests", error);
  EXPECT_TRUE(g) << error;
  return *g;
}

// Feeds `n` responses to lane `i`, `errors` of them 5xx, all at `at`.
void feed(lane_guard& g, std::size_t i, int n, int errors, clock::time_point at) {
  for (int k = 0; k < n; ++k) g.record(i, k < errors, at);
}

TEST(GuardSpec, ParsesTheAnnotationAndRefusesWhatItCannotRead) {
  std::string error;
  const auto g = config::parse_guard("error-rate > 2.5% over 30s, min 100 requests", error);
  ASSERT_TRUE(g) << error;
  EXPECT_DOUBLE_EQ(g->max_error_rate, 0.025);
  EXPECT_EQ(g->window, 30s);
  EXPECT_EQ(g->min_requests, 100u);
  const auto defaults = config::parse_guard("error-rate > 1%", error);
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->window, 10s);
  EXPECT_EQ(defaults->min_requests, 20u);
  for (const auto* bad :
       {"", "error-rate 5%", "error-rate > 5", "error-rate > 100%", "error-rate > 5% over soon",
        "error-rate > 5%, min 0 requests", "error-rate > 5% over 10s and more"}) {
    EXPECT_FALSE(config::parse_guard(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(LaneGuard, TripsMovesTheWeightAndGivesItBackInSteps) {
  const auto t0 = clock::now();
  std::vector<std::string> events;
  lane_guard g(five_percent(), "front", {90, 10}, {"v1", "v2"}, t0, [&](const guard_event& e) {
    events.push_back(e.lane + " " + std::string(event_name(e.what)) + " " +
                     std::to_string(static_cast<int>(e.share * 100)));
  });
  EXPECT_EQ(g.pick(12345, t0), std::nullopt);  // nothing held back: the route's split picks
  feed(g, 0, 200, 0, t0 + 1s);
  feed(g, 1, 19, 19, t0 + 1s);  // below min requests: no verdict yet
  EXPECT_EQ(g.pick(0, t0 + 1s), std::nullopt);
  feed(g, 1, 1, 0, t0 + 1s);  // 19 of 20 failed
  for (std::uint64_t v = 0; v < 1000; ++v) EXPECT_EQ(g.pick(v, t0 + 2s), 0u);
  // After resting one window: a tenth of its weight, 90000 : 1000.
  EXPECT_EQ(g.pick(89999, t0 + 11s), 0u);
  EXPECT_EQ(g.pick(90000, t0 + 11s), 1u);
  EXPECT_EQ(g.pick(90999, t0 + 11s), 1u);
  EXPECT_EQ(g.pick(91000, t0 + 11s), 0u);
  feed(g, 1, 10, 0, t0 + 15s);
  EXPECT_EQ(g.pick(92000, t0 + 22s), 1u);  // a quarter now: 90000 : 2500
  feed(g, 1, 10, 0, t0 + 25s);
  EXPECT_EQ(g.pick(94000, t0 + 32s), 1u);  // half: 90000 : 5000
  feed(g, 1, 10, 0, t0 + 35s);
  EXPECT_EQ(g.pick(0, t0 + 42s), std::nullopt);  // all of it: recovered
  EXPECT_THAT(events, ElementsAre("v2 tripped 0", "v2 probing 10", "v2 probing 25", "v2 probing 50",
                                  "v2 recovered 100"));
  const auto s = g.snapshot(t0 + 42s);
  EXPECT_EQ(s[1].trips, 1u);
  EXPECT_EQ(s[1].state, lane_guard::phase::closed);
}

TEST(LaneGuard, AProbeThatFailsTripsAgain) {
  const auto t0 = clock::now();
  lane_guard g(five_percent(), "front", {50, 50}, {"v1", "v2"}, t0);
  feed(g, 1, 20, 5, t0 + 1s);
  EXPECT_EQ(g.snapshot(t0 + 1s)[1].state, lane_guard::phase::open);
  EXPECT_EQ(g.snapshot(t0 + 11s)[1].state, lane_guard::phase::probing);
  // A tenth of the traffic needs a tenth of the minimum: 2 requests.
  feed(g, 1, 2, 1, t0 + 12s);
  const auto s = g.snapshot(t0 + 12s);
  EXPECT_EQ(s[1].state, lane_guard::phase::open);
  EXPECT_EQ(s[1].trips, 2u);
}

TEST(LaneGuard, LeavesALaneAloneWhenNoOtherLaneWouldTakeItsWeight) {
  const auto t0 = clock::now();
  // The other lane is configured at 0: it must get nothing, ever.
  lane_guard g(five_percent(), "front", {0, 100}, {"v1", "v2"}, t0);
  feed(g, 1, 100, 100, t0 + 1s);
  EXPECT_EQ(g.snapshot(t0 + 1s)[1].state, lane_guard::phase::closed);
  EXPECT_EQ(g.pick(0, t0 + 1s), std::nullopt);
  // Two failing lanes of three: the last one standing keeps its weight.
  lane_guard three(five_percent(), "front", {40, 30, 30}, {"v1", "v2", "v3"}, t0);
  feed(three, 1, 50, 50, t0 + 1s);
  feed(three, 2, 50, 50, t0 + 1s);
  feed(three, 0, 50, 50, t0 + 1s);
  const auto s = three.snapshot(t0 + 1s);
  EXPECT_EQ(s[0].state, lane_guard::phase::closed);
  EXPECT_EQ(s[1].state, lane_guard::phase::open);
  EXPECT_EQ(s[2].state, lane_guard::phase::open);
  for (std::uint64_t v = 0; v < 100; ++v) EXPECT_EQ(three.pick(v, t0 + 2s), 0u);
}

TEST(LaneGuard, OldErrorsLeaveTheWindow) {
  const auto t0 = clock::now();
  lane_guard g(five_percent(), "front", {50, 50}, {"v1", "v2"}, t0);
  feed(g, 1, 15, 15, t0 + 1s);
  // Eleven seconds later those errors are out of the window.
  feed(g, 1, 15, 0, t0 + 12s);
  EXPECT_EQ(g.snapshot(t0 + 12s)[1].state, lane_guard::phase::closed);
  EXPECT_EQ(g.snapshot(t0 + 12s)[1].requests, 15u);
}

}  // namespace
}  // namespace laneproxy::dataplane
