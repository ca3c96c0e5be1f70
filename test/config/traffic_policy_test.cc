// A DestinationRule's trafficPolicy as the data plane receives it: every
// block decoded, Istio's merge of top level, port level and subset, and
// what laneproxy reports as not applied.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string rule = testing::mock_apps({"v1", "v2"}) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mocka}
spec:
  host: mocka.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 250ms, tcpKeepalive: {time: 30s, interval: 5s, probes: 3}}
      http: {http1MaxPendingRequests: 2, maxRequestsPerConnection: 100, maxRetries: 4, idleTimeout: 30s}
    outlierDetection: {consecutiveGatewayErrors: 3, interval: 5s, baseEjectionTime: 1m, maxEjectionPercent: 50, minHealthPercent: 20}
    portLevelSettings:
    - port: {number: 8000}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {consistentHash: {httpQueryParameterName: user, maglev: {tableSize: 1009}}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      outlierDetection: {splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 7}
      portLevelSettings:
      - port: {number: 8000}
        connectionPool: {http: {http2MaxRequests: 9}}
)";

TEST(TrafficPolicyDecoding, EveryBlockAppliedIsDecoded) {
  const auto m = testing::compile_yaml(rule);
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(m.warnings(), IsEmpty());
  const auto& svc = m.snap().services.at("mocka.default");
  // The service's one port is 8000: its port-level entry replaces every
  // block of the top level, so only its RANDOM is left.
  const auto all = svc.policy_for("");
  EXPECT_EQ(all.load_balancer->simple, lb_algorithm::random);
  EXPECT_FALSE(all.connection_pool);
  EXPECT_FALSE(all.outlier);
  const auto top = resolve_policy(svc.policy, nullptr, 0);  // no port: the top level alone
  const auto& pool = *top.connection_pool;
  EXPECT_EQ(pool.max_connections, 10u);
  EXPECT_EQ(pool.connect_timeout, 250ms);
  EXPECT_EQ(pool.keepalive->time, 30s);
  EXPECT_EQ(pool.keepalive->interval, 5s);
  EXPECT_EQ(pool.keepalive->probes, 3u);
  EXPECT_EQ(pool.max_pending, 2u);
  EXPECT_EQ(pool.max_requests_per_connection, 100u);
  EXPECT_EQ(pool.max_retries, 4u);
  EXPECT_EQ(pool.idle_timeout, 30s);
  const auto& od = *top.outlier;
  EXPECT_EQ(od.consecutive_gateway, 3u);
  EXPECT_EQ(od.consecutive_5xx, 5u);  // Envoy's default, as Istio leaves it
  EXPECT_EQ(od.interval, 5s);
  EXPECT_EQ(od.base_ejection, 60s);
  EXPECT_EQ(od.max_ejection_percent, 50u);
  EXPECT_EQ(od.min_health_percent, 20u);

  // v1: the subset's load balancer over the port level's.
  const auto v1 = svc.policy_for("v1");
  const auto& hash = *v1.load_balancer->hash;
  EXPECT_EQ(hash.from, hash_policy::source::query_parameter);
  EXPECT_EQ(hash.name, "user");
  EXPECT_TRUE(hash.maglev);
  EXPECT_EQ(hash.table_size, 1009u);
  // v2: its own port-level entry stands alone, outlier detection included.
  const auto v2 = svc.policy_for("v2");
  EXPECT_EQ(v2.connection_pool->max_requests, 9u);
  EXPECT_FALSE(v2.load_balancer);
  EXPECT_FALSE(v2.outlier);
  const auto v2_no_port = resolve_policy(svc.policy, &svc.subsets.at("v2").policy, 0);
  EXPECT_TRUE(v2_no_port.outlier->split_local_origin);
  EXPECT_EQ(v2_no_port.outlier->consecutive_local_origin, 7u);
}

TEST(TrafficPolicyDecoding, WhatCannotApplyIsSaid) {
  const auto m = testing::compile_yaml(testing::mock_apps({"v1"}) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mocka}
spec:
  host: mocka.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: PASSTHROUGH}
    connectionPool:
      tcp: {idleTimeout: 1h}
      http: {h2UpgradePolicy: UPGRADE, maxConcurrentStreams: 10}
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(
      m.warnings(),
      ElementsAre(HasSubstr("loadBalancer.simple: not applied by laneproxy: it forwards to the "
                            "address the app dialled"),
                  HasSubstr("tcp.idleTimeout: not applied by laneproxy"),
                  HasSubstr("http.maxConcurrentStreams: not applied by laneproxy")));
}

TEST(TrafficPolicyDecoding, WarmupRampsRoundRobinAndLeastRequestOnly) {
  const auto m = testing::compile_yaml(testing::mock_apps({"v1", "v2"}) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mocka}
spec:
  host: mocka.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: {warmup: {duration: 60s, minimumPercent: 20, aggression: 2}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: RANDOM, warmupDurationSecs: 30s}}
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(m.warnings(), ElementsAre(HasSubstr("warmupDurationSecs: not applied by laneproxy: "
                                                  "slow start applies to ROUND_ROBIN and "
                                                  "LEAST_REQUEST only")));
  const auto& svc = m.snap().services.at("mocka.default");
  const auto w = svc.policy_for("v2").load_balancer->warmup.value();
  EXPECT_EQ(w.duration, 60s);
  EXPECT_DOUBLE_EQ(w.minimum, 0.2);
  EXPECT_DOUBLE_EQ(w.aggression, 2.0);
  EXPECT_FALSE(svc.policy_for("v1").load_balancer->warmup);
}

TEST(TrafficPolicyDecoding, PortLevelSettingsOfAServiceWithSeveralPortsAreNotApplied) {
  const auto m = testing::compile_yaml(R"(apiVersion: v1
kind: Service
metadata: {name: two}
spec:
  selector: {app: two}
  ports: [{port: 80, name: http}, {port: 81, name: admin}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: two}
spec:
  host: two
  trafficPolicy:
    portLevelSettings:
    - port: {number: 81}
      loadBalancer: {simple: RANDOM}
)");
  EXPECT_THAT(m.warnings(), ElementsAre(HasSubstr("trafficPolicy.portLevelSettings: not applied "
                                                  "by laneproxy: \"two.default\" has several "
                                                  "ports")));
}

}  // namespace
}  // namespace laneproxy::config
