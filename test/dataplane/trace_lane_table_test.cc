#include "dataplane/trace_lane_table.h"

#include <gtest/gtest.h>

namespace laneproxy::dataplane {
namespace {

using namespace std::chrono_literals;
const auto t0 = trace_lane_table::clock::time_point{} + 1h;

TEST(TraceLaneTable, RemembersUntilTheEntryExpires) {
  trace_lane_table table(100, 10s);
  table.remember("trace-1", "s2", t0);
  EXPECT_EQ(table.lookup("trace-1", t0 + 9s), "s2");
  EXPECT_EQ(table.lookup("trace-1", t0 + 10s), std::nullopt);
  EXPECT_EQ(table.lookup("trace-2", t0), std::nullopt);
}

TEST(TraceLaneTable, DifferentTracesNeverMix) {
  trace_lane_table table(100, 10s);
  table.remember("a", "s1", t0);
  table.remember("b", "s2", t0);
  table.remember("a", "s3", t0 + 1s);  // the same trace seen again moves
  EXPECT_EQ(table.lookup("a", t0 + 2s), "s3");
  EXPECT_EQ(table.lookup("b", t0 + 2s), "s2");
}

TEST(TraceLaneTable, StaysWithinItsCapacity) {
  trace_lane_table table(64, 1h);
  for (int i = 0; i < 10000; ++i) table.remember("t" + std::to_string(i), "s1", t0);
  // 16 shards of ceil(64 / 16) entries each.
  EXPECT_LE(table.size(), 64u);
  EXPECT_EQ(table.lookup("t9999", t0), "s1");  // the newest survive
  EXPECT_EQ(table.lookup("t0", t0), std::nullopt);
}

TEST(TraceLaneTable, ExpiredEntriesMakeRoomFirst) {
  trace_lane_table table(16, 1s);  // one entry per shard
  table.remember("old", "s1", t0);
  table.remember("old", "s1", t0);
  table.remember("new", "s2", t0 + 2s);
  EXPECT_EQ(table.lookup("new", t0 + 2s), "s2");
  EXPECT_EQ(table.lookup("old", t0 + 2s), std::nullopt);
}

}  // namespace
}  // namespace laneproxy::dataplane
