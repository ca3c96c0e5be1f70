#include "net/deadline_sweep.h"

#include <chrono>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

namespace laneproxy::net {
namespace {

using namespace std::chrono_literals;
using time_point = deadline_sweep::time_point;

// Counts the expiries of one entry.
struct counter {
  static void bump(void* self) { ++static_cast<counter*>(self)->fired; }
  int fired = 0;
};

TEST(DeadlineSweep, FiresOnceAtTheDeadlineAndNeverBefore) {
  boost::asio::io_context context;
  deadline_sweep sweep(context);
  counter a, b;
  deadline_sweep::entry ea(sweep, &counter::bump, &a), eb(sweep, &counter::bump, &b);
  const time_point t0{std::chrono::seconds(100)};
  ea.arm_at(t0 + 10ms);
  eb.arm_at(t0 + 30ms);

  EXPECT_EQ(sweep.expire(t0 + 9ms), 0u);
  EXPECT_FALSE(ea.expired());
  EXPECT_EQ(sweep.expire(t0 + 10ms), 1u);
  EXPECT_EQ(a.fired, 1);
  EXPECT_TRUE(ea.expired());
  EXPECT_EQ(b.fired, 0);
  // Fired entries are unarmed: later sweeps leave them alone.
  EXPECT_EQ(sweep.expire(t0 + 1h), 1u);
  EXPECT_EQ(a.fired, 1);
  EXPECT_EQ(b.fired, 1);
}

TEST(DeadlineSweep, RearmingClearsExpiryAndDisarmingStopsIt) {
  boost::asio::io_context context;
  deadline_sweep sweep(context);
  counter a;
  deadline_sweep::entry e(sweep, &counter::bump, &a);
  const time_point t0{std::chrono::seconds(100)};
  e.arm_at(t0 + 5ms);
  EXPECT_EQ(sweep.expire(t0 + 5ms), 1u);
  EXPECT_TRUE(e.expired());
  // Each read or write re-arms: a connection that keeps moving never expires.
  e.arm_at(t0 + 20ms);
  EXPECT_FALSE(e.expired());
  e.arm_at(t0 + 40ms);
  EXPECT_EQ(sweep.expire(t0 + 30ms), 0u);
  e.disarm();
  EXPECT_EQ(sweep.expire(t0 + 1h), 0u);
  EXPECT_EQ(a.fired, 1);
}

TEST(DeadlineSweep, EntriesLeaveWhenDestroyedAndMayOutliveTheSweep) {
  boost::asio::io_context context;
  auto sweep = std::make_unique<deadline_sweep>(context);
  counter c;
  std::vector<std::unique_ptr<deadline_sweep::entry>> entries;
  for (int i = 0; i < 5; ++i) {
    entries.push_back(std::make_unique<deadline_sweep::entry>(*sweep, &counter::bump, &c));
    entries.back()->arm_at(time_point{std::chrono::seconds(i)});
  }
  EXPECT_EQ(sweep->size(), 5u);
  entries.erase(entries.begin() + 1);  // middle, first and last unlink alike
  entries.erase(entries.begin());
  entries.pop_back();
  EXPECT_EQ(sweep->size(), 2u);
  EXPECT_EQ(sweep->expire(time_point{std::chrono::seconds(10)}), 2u);
  EXPECT_EQ(c.fired, 2);
  sweep.reset();  // a worker shutting down: its sessions go after it
  entries.clear();
}

TEST(DeadlineSweep, TheTimerWakesForTheEarliestDeadlineThenLetsTheContextRest) {
  boost::asio::io_context context;
  deadline_sweep sweep(context, 1ms);
  counter soon, later, never;
  deadline_sweep::entry a(sweep, &counter::bump, &soon), b(sweep, &counter::bump, &later),
      c(sweep, &counter::bump, &never);
  const auto start = std::chrono::steady_clock::now();
  b.arm(60ms);
  a.arm(20ms);  // earlier than the wake-up already set: moves it forward
  c.arm(40ms);
  c.disarm();
  while (soon.fired == 0 && context.run_one_for(10s) > 0) {
  }
  EXPECT_EQ(later.fired, 0);  // woken for `a` alone, not at b's deadline
  // run() returns once nothing is armed: the sweep holds no work of its own.
  context.run_for(10s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(soon.fired, 1);
  EXPECT_EQ(later.fired, 1);
  EXPECT_EQ(never.fired, 0);
  EXPECT_TRUE(context.stopped());
  // Never early by more than the coarse clock's tick (at most 4 ms).
  EXPECT_GE(elapsed, 56ms);
}

}  // namespace
}  // namespace laneproxy::net
