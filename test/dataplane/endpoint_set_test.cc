// Endpoint selection and outlier detection without a network: fixed seeds,
// an explicit clock, and the counters a request would move.
#include "dataplane/endpoint_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

namespace laneproxy::dataplane {
namespace {

using namespace std::chrono_literals;
using config::lb_algorithm;

// Within 4.5 standard deviations of the binomial mean.
bool near_share(int count, int n, double p) {
  return std::abs(count - n * p) <= 4.5 * std::sqrt(n * p * (1 - p));
}

std::vector<config::socket_address> addresses(int n, int first_port = 9001) {
  std::vector<config::socket_address> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(*config::parse_socket_address("127.0.0.1:" + std::to_string(first_port + i)));
  }
  return out;
}

config::traffic_policy balanced(lb_algorithm a) {
  config::traffic_policy p;
  p.load_balancer = config::load_balancer_policy{a, std::nullopt};
  return p;
}

config::traffic_policy hashed(bool maglev) {
  config::traffic_policy p;
  config::hash_policy h;
  h.from = config::hash_policy::source::header;
  h.name = "x-user";
  h.maglev = maglev;
  p.load_balancer = config::load_balancer_policy{lb_algorithm::round_robin, h};
  return p;
}

config::traffic_policy ejecting(std::uint32_t consecutive_5xx) {
  config::traffic_policy p = balanced(lb_algorithm::round_robin);
  config::outlier_policy od;
  od.consecutive_5xx = consecutive_5xx;
  od.interval = 1s;
  od.base_ejection = 10s;
  od.max_ejection_percent = 100;
  p.outlier = od;
  return p;
}

// Picks `n` times and counts the ports picked.
std::map<unsigned, int> spread(const endpoint_set& set, int n, route::random_source& r,
                               steady_clock::time_point now = steady_clock::now()) {
  std::map<unsigned, int> out;
  for (int i = 0; i < n; ++i) {
    const auto* e = set.pick({&r, std::nullopt, nullptr, now});
    ++out[e ? e->port : 0];
  }
  return out;
}

TEST(EndpointSet, RoundRobinTakesTurns) {
  const endpoint_set set(addresses(3), balanced(lb_algorithm::round_robin), "svc", nullptr);
  route::default_random_source r(1);
  EXPECT_EQ(spread(set, 300, r), (std::map<unsigned, int>{{9001, 100}, {9002, 100}, {9003, 100}}));
}

TEST(EndpointSet, RandomAndLeastRequestSpreadEvenlyWhenIdle) {
  for (const auto a : {lb_algorithm::random, lb_algorithm::least_request}) {
    const endpoint_set set(addresses(4), balanced(a), "svc", nullptr);
    route::default_random_source r(7);
    const auto counts = spread(set, 4000, r);
    ASSERT_EQ(counts.size(), 4u);
    for (const auto& [port, n] : counts) {
      EXPECT_TRUE(near_share(n, 4000, 0.25)) << port << ": " << n;
    }
  }
}

TEST(EndpointSet, LeastRequestIsIstiosDefaultAndAvoidsTheBusyEndpoint) {
  const endpoint_set set(addresses(2), config::traffic_policy{}, "svc", nullptr);
  ASSERT_TRUE(set.counts_active());
  set.state(set.all()[0]).active = 5;  // five requests in flight there
  route::default_random_source r(3);
  // Two choices out of two: the idle endpoint always wins.
  EXPECT_EQ(spread(set, 200, r), (std::map<unsigned, int>{{9002, 200}}));
}

TEST(EndpointSet, LeastRequestOfTwoAmongManyPrefersTheIdleOnes) {
  const endpoint_set set(addresses(4), config::traffic_policy{}, "svc", nullptr);
  set.state(set.all()[0]).active = 3;
  route::default_random_source r(5);
  const auto counts = spread(set, 4000, r);
  // The busy endpoint wins only when drawn twice, which two distinct
  // draws never are: it gets nothing.
  EXPECT_EQ(counts.count(9001), 0u);
  for (unsigned port : {9002u, 9003u, 9004u}) {
    EXPECT_TRUE(near_share(counts.at(port), 4000, 1.0 / 3)) << port;
  }
}

TEST(EndpointSet, ConsistentHashKeepsAKeyOnOneEndpointAndMovesFewWhenOneIsAdded) {
  for (const bool maglev : {false, true}) {
    const endpoint_set three(addresses(3), hashed(maglev), "svc", nullptr);
    const endpoint_set four(addresses(4), hashed(maglev), "svc", nullptr);
    route::default_random_source r(11);
    int moved = 0;
    std::map<unsigned, int> per_endpoint;
    constexpr int keys = 3000;
    for (int k = 0; k < keys; ++k) {
      const auto h = hash_key("user-" + std::to_string(k));
      const auto* a = three.pick({&r, h, nullptr, {}});
      EXPECT_EQ(three.pick({&r, h, nullptr, {}}), a);  // the same key, the same endpoint
      ++per_endpoint[a->port];
      if (four.pick({&r, h, nullptr, {}})->port != a->port) ++moved;
    }
    // Ideal: a quarter of the keys move to the new endpoint, no others.
    EXPECT_GT(moved, keys / 8) << "maglev " << maglev;
    EXPECT_LT(moved, keys * 3 / 8) << "maglev " << maglev;
    for (const auto& [port, n] : per_endpoint) {
      EXPECT_GT(n, keys / 5) << "maglev " << maglev << " port " << port;
    }
  }
}

TEST(EndpointSet, ConsecutiveFailuresEjectUntilTheIntervalAfterTheEjectionTime) {
  const endpoint_set set(addresses(2), ejecting(3), "svc", nullptr);
  const auto t0 = set.cluster().started;
  const auto& bad = set.all()[0];
  route::default_random_source r(1);
  EXPECT_FALSE(set.record(bad, endpoint_outcome::response, 500, t0 + 100ms));
  EXPECT_FALSE(set.record(bad, endpoint_outcome::response, 502, t0 + 200ms));
  // A success in between starts the count again.
  EXPECT_FALSE(set.record(bad, endpoint_outcome::response, 200, t0 + 300ms));
  EXPECT_FALSE(set.record(bad, endpoint_outcome::response, 500, t0 + 400ms));
  EXPECT_FALSE(set.record(bad, endpoint_outcome::connect_failed, 0, t0 + 500ms));
  EXPECT_TRUE(set.record(bad, endpoint_outcome::timed_out, 0, t0 + 600ms));  // as a 504
  EXPECT_EQ(spread(set, 10, r, t0 + 700ms), (std::map<unsigned, int>{{9002, 10}}));
  // 10 s after t0 + 600ms, at the next 1 s tick: t0 + 11s.
  EXPECT_EQ(set.ejected_count(t0 + 10999ms), 1u);
  EXPECT_EQ(set.ejected_count(t0 + 11s), 0u);
  // Ejected again soon after: twice the base ejection time.
  for (int i = 0; i < 3; ++i) set.record(bad, endpoint_outcome::response, 503, t0 + 12s);
  EXPECT_EQ(set.ejected_count(t0 + 31s), 1u);
  EXPECT_EQ(set.ejected_count(t0 + 32s), 0u);
  EXPECT_EQ(set.cluster().ejections_total.load(), 2u);
}

TEST(EndpointSet, MaxEjectionPercentKeepsEndpointsAndOneMayAlwaysGo) {
  auto policy = ejecting(1);
  policy.outlier->max_ejection_percent = 10;
  const endpoint_set set(addresses(3), policy, "svc", nullptr);
  const auto now = set.cluster().started + 1s;
  EXPECT_TRUE(set.record(set.all()[0], endpoint_outcome::response, 500, now));
  EXPECT_FALSE(set.record(set.all()[1], endpoint_outcome::response, 500, now));
  EXPECT_EQ(set.ejected_count(now), 1u);
}

TEST(EndpointSet, AllEjectedPicksNothingUnlessBelowMinHealthPercent) {
  auto policy = ejecting(1);
  const endpoint_set set(addresses(2), policy, "svc", nullptr);
  const auto now = set.cluster().started + 1s;
  route::default_random_source r(1);
  set.record(set.all()[0], endpoint_outcome::response, 500, now);
  set.record(set.all()[1], endpoint_outcome::response, 500, now);
  EXPECT_FALSE(set.has_healthy(now));
  EXPECT_EQ(set.pick({&r, std::nullopt, nullptr, now}), nullptr);

  policy.outlier->min_health_percent = 50;  // panic: health is ignored
  const endpoint_set panicking(addresses(2), policy, "svc", nullptr);
  panicking.record(panicking.all()[0], endpoint_outcome::response, 500, now);
  panicking.record(panicking.all()[1], endpoint_outcome::response, 500, now);
  EXPECT_TRUE(panicking.has_healthy(now));
  EXPECT_NE(panicking.pick({&r, std::nullopt, nullptr, now}), nullptr);
}

TEST(EndpointSet, GatewayErrorsAndLocalOriginFailuresCountOnTheirOwn) {
  auto policy = ejecting(0);
  policy.outlier->consecutive_gateway = 2;
  const endpoint_set gateway(addresses(2), policy, "svc", nullptr);
  const auto now = gateway.cluster().started + 1s;
  const auto& e = gateway.all()[0];
  EXPECT_FALSE(gateway.record(e, endpoint_outcome::response, 502, now));
  EXPECT_FALSE(gateway.record(e, endpoint_outcome::response, 500, now));  // not a gateway error
  EXPECT_FALSE(gateway.record(e, endpoint_outcome::response, 503, now));
  EXPECT_TRUE(gateway.record(e, endpoint_outcome::response, 504, now));

  policy = ejecting(2);
  policy.outlier->split_local_origin = true;
  policy.outlier->consecutive_local_origin = 2;
  const endpoint_set split(addresses(2), policy, "svc", nullptr);
  const auto& f = split.all()[0];
  EXPECT_FALSE(split.record(f, endpoint_outcome::connect_failed, 0, now));
  EXPECT_FALSE(split.record(f, endpoint_outcome::response, 500, now));  // resets local failures
  EXPECT_FALSE(split.record(f, endpoint_outcome::reset, 0, now));
  EXPECT_TRUE(split.record(f, endpoint_outcome::timed_out, 0, now));
}

TEST(EndpointSet, ARetryAvoidsTheLastEndpointAndTheStateOutlivesAReload) {
  endpoint_registry registry;
  const endpoint_set before(addresses(2), ejecting(1), "svc/v1", &registry);
  route::default_random_source r(1);
  for (int i = 0; i < 20; ++i) {
    const auto* e = before.pick({&r, std::nullopt, &before.all()[1], {}});
    EXPECT_EQ(e, &before.all()[0]);
  }
  const auto now = before.cluster().started + 1s;
  before.record(before.all()[1], endpoint_outcome::response, 500, now);
  const endpoint_set after(addresses(3), ejecting(1), "svc/v1", &registry);
  EXPECT_EQ(after.ejected_count(now), 1u);
  EXPECT_EQ(&after.cluster(), &before.cluster());
}

// Slow start: a new endpoint's weight is max(10%, age / window).
TEST(EndpointSetWarmup, ANewEndpointRampsUpOverTheWindow) {
  auto policy = balanced(lb_algorithm::round_robin);
  policy.load_balancer->warmup = config::warmup_policy{100s};
  const endpoint_set set(addresses(2), policy, "svc", nullptr);
  const auto t0 = steady_clock::now();
  set.state(set.all()[0]).joined = t0 - 1h;  // an old hand
  set.state(set.all()[1]).joined = t0;       // just added
  route::default_random_source r(9);
  // At 5 s: 10% against 100% (a share of 1/11); at 50 s 50% (1/3); then even.
  for (const auto& [age, share] : {std::pair{5s, 1.0 / 11}, {50s, 1.0 / 3}, {200s, 0.5}}) {
    const auto counts = spread(set, 6000, r, t0 + age);
    EXPECT_TRUE(near_share(counts.count(9002) ? counts.at(9002) : 0, 6000, share))
        << age.count() << " s: " << counts.at(9002);
  }
}

}  // namespace
}  // namespace laneproxy::dataplane
