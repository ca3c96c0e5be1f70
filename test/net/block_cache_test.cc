#include "net/block_cache.h"

#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace laneproxy::net {
namespace {

using namespace std::chrono_literals;
using clock_point = block_cache::clock::time_point;

// Takes `n` blocks, as `n` busy connections do.
std::vector<char*> take(block_cache& cache, int n) {
  std::vector<char*> out;
  for (int i = 0; i < n; ++i) out.push_back(cache.take());
  return out;
}
void give(block_cache& cache, const std::vector<char*>& blocks, clock_point now) {
  for (char* p : blocks) cache.give(p, now);
}

TEST(BlockCache, KeepsWhatALoadSwingingAtOnceAsksForAgain) {
  block_cache cache(64, 128, 1s);
  const clock_point t0{std::chrono::hours(1)};
  auto first = take(cache, 100);
  give(cache, first, t0);
  EXPECT_EQ(cache.size(), 100u);
  // The same swing again, within the period: every block is a cached one.
  const std::set<char*> cached(first.begin(), first.end());
  auto again = take(cache, 100);
  for (char* p : again) EXPECT_EQ(cached.count(p), 1u);
  EXPECT_EQ(cache.size(), 0u);
  give(cache, again, t0 + 10ms);
  EXPECT_EQ(cache.size(), 100u);
}

TEST(BlockCache, FreesEachPeriodWhatThePeriodNeverUsed) {
  block_cache cache(64, 128, 1s);
  clock_point now{std::chrono::hours(1)};
  give(cache, take(cache, 100), now);  // a period starts, with the cache empty
  now += 1100ms;
  give(cache, take(cache, 1), now);  // it ended having used them all: none is freed
  ASSERT_EQ(cache.size(), 100u);
  // A period whose load needs 30 at a time: 70 stayed unused throughout.
  for (int i = 0; i < 10; ++i) {
    now += 150ms;
    give(cache, take(cache, 30), now);
  }
  EXPECT_EQ(cache.size(), 30u);
  // The period the loop began used all 30 at times: none goes when it ends.
  // The next one had no load but the block taken as it ended: the 29 it
  // never used go.
  now += 2s;
  give(cache, take(cache, 1), now);
  EXPECT_EQ(cache.size(), 30u);
  now += 2s;
  give(cache, take(cache, 1), now);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(BlockCache, HoldsAtMostItsBound) {
  block_cache cache(64, 8, 1s);
  give(cache, take(cache, 20), clock_point{std::chrono::hours(1)});
  EXPECT_EQ(cache.size(), 8u);  // the other twelve were freed (ASan checks none leaks)
}

}  // namespace
}  // namespace laneproxy::net
