#include "dataplane/trace_lane_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

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

// Random remembers, refreshes and lookups while time moves on, against a
// plain map with expiry. The capacity never binds here, so the table must
// answer exactly as the map does, while expired entries leave it all along
// (every eviction deletes from the open-addressing index).
TEST(TraceLaneTable, AnswersLikeAMapWithExpiryUnderChurn) {
  trace_lane_table table(16 * 4096, 5s);
  std::map<std::string, std::pair<std::string, trace_lane_table::clock::time_point>> model;
  std::mt19937_64 random(7);
  auto now = t0;
  const std::string long_prefix(60, 'x');  // some ids too long to keep inline
  for (int step = 0; step < 60000; ++step) {
    now += std::chrono::milliseconds(random() % 3);
    const auto n = random() % 3000;
    const auto id = (n % 5 == 0 ? long_prefix : std::string("id-")) + std::to_string(n);
    if (random() % 2 == 0) {
      const std::string lane = "s" + std::to_string(random() % 4);
      table.remember(id, lane, now);
      model[id] = {lane, now + 5s};
    } else {
      const auto it = model.find(id);
      const auto want = it != model.end() && it->second.second > now
                            ? std::optional<std::string>(it->second.first)
                            : std::nullopt;
      ASSERT_EQ(table.lookup(id, now), want) << "step " << step << " id " << id;
    }
  }
  EXPECT_EQ(table.evictions(), 0u);  // expiry only: nothing live was dropped
}

TEST(TraceLaneTable, CountsEvictionsOfLiveEntriesOnly) {
  trace_lane_table table(16, 1h);  // one entry per shard
  for (int i = 0; i < 1000; ++i) table.remember("t" + std::to_string(i), "s1", t0);
  EXPECT_LE(table.size(), 16u);
  EXPECT_EQ(table.evictions(), 1000u - table.size());
}

}  // namespace
}  // namespace laneproxy::dataplane
