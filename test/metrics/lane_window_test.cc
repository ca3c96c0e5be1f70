// A gateway lane's recent traffic on an explicit clock.
#include "metrics/lane_window.h"

#include <gtest/gtest.h>

namespace laneproxy::metrics {
namespace {

using namespace std::chrono_literals;

const lane_window::time_point t0{std::chrono::hours(1000)};

TEST(LaneWindow, CountsTheLastSecondsOnly) {
  lane_window w;
  for (int i = 0; i < 10; ++i) w.record(t0, 100us, i < 2);
  for (int i = 0; i < 5; ++i) w.record(t0 + 20s, 10ms, false);
  const auto recent = w.over(t0 + 20s, 10);
  EXPECT_EQ(recent.requests, 5u);
  EXPECT_EQ(recent.errors, 0u);
  const auto all = w.over(t0 + 20s, 300);
  EXPECT_EQ(all.requests, 15u);
  EXPECT_EQ(all.errors, 2u);
  // Ten seconds on, the burst at t0 + 20 s has left the short window.
  EXPECT_EQ(w.over(t0 + 30s, 10).requests, 0u);
  EXPECT_EQ(w.over(t0 + 29s, 10).requests, 5u);
}

TEST(LaneWindow, PercentilesAreTheirBucketsUpperBounds) {
  lane_window w;
  for (int i = 0; i < 98; ++i) w.record(t0, 100us, false);  // below 128 us
  for (int i = 0; i < 2; ++i) w.record(t0, 10ms, false);    // below 16,384 us
  const auto s = w.over(t0, 10);
  EXPECT_DOUBLE_EQ(s.p50_ms, 0.128);
  EXPECT_DOUBLE_EQ(s.p99_ms, 16.384);
  EXPECT_DOUBLE_EQ(lane_window().over(t0, 10).p99_ms, 0);
}

TEST(LaneWindow, ASlotIsReusedAfterTheRingComesRound) {
  lane_window w;
  w.record(t0, 1ms, true);
  w.record(t0 + 300s, 1ms, false);  // the same slot, five minutes on
  const auto s = w.over(t0 + 300s, 300);
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.errors, 0u);
  // A time before the window's start is no part of it.
  EXPECT_EQ(w.over(t0 + 299s, 300).requests, 0u);
}

}  // namespace
}  // namespace laneproxy::metrics
