// Gateway, DestinationRule, Service, Deployment and metadata rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using testing::compile_yaml;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(GatewayRules, ServersPortsHostsAndTls) {
  const auto m = compile_yaml(R"(apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 443, name: http, protocol: HTTPS}
    hosts: ["bad ns/x.example.com", "Bad_Host"]
  - port: {number: 0, name: other, protocol: QUIC}
  - hosts: [a.com]
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("mesh.yaml:8:5: error: spec.servers[1].tls: tls is required for protocol "
                  "HTTPS",
                  "mesh.yaml:8:31: error: spec.servers[1].port.name: port names in servers "
                  "must be unique: duplicate \"http\"",
                  "mesh.yaml:9:13: error: spec.servers[1].hosts[0]: invalid namespace "
                  "\"bad ns\" in host \"bad ns/x.example.com\"",
                  "mesh.yaml:9:37: error: spec.servers[1].hosts[1]: invalid host "
                  "\"Bad_Host\" (a fully qualified name, *.suffix or *)",
                  "mesh.yaml:10:5: error: spec.servers[2].hosts: hosts is required: at least "
                  "one host",
                  "mesh.yaml:10:20: error: spec.servers[2].port.number: number 0 < 1",
                  "mesh.yaml:10:46: error: spec.servers[2].port.protocol: invalid protocol "
                  "\"QUIC\" (HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TLS, TCP, UDP, MONGO, REDIS, "
                  "MYSQL)",
                  "mesh.yaml:11:5: error: spec.servers[3].port: port is required"));
}

TEST(GatewayRules, NeedsAServer) {
  const auto m = compile_yaml(
      "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\n"
      "spec:\n  selector: {istio: ingressgateway}\n");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("mesh.yaml:5:3: error: spec.servers: gateway must have at least one server"));
}

TEST(DestinationRuleRules, SubsetsAndTrafficPolicy) {
  const auto m = compile_yaml(testing::mock_apps({"v1"}) + R"(---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: mocka}
spec:
  host: mocka
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      consistentHash: {httpHeaderName: x-user, useSourceIp: true}
    connectionPool:
      tcp: {maxConnections: -1, connectTimeout: fast}
      http: {h2UpgradePolicy: SOMETIMES}
    outlierDetection: {maxEjectionPercent: 150, interval: 0s}
    portLevelSettings:
    - loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v1
    labels: {version: v1}
  - name: Canary
    labels: {version: "not valid!"}
)");
  const std::string f = "mesh.yaml:";
  EXPECT_THAT(
      m.errors(),
      ElementsAre(f + "124:7: error: spec.trafficPolicy.loadBalancer: only one of simple or "
                      "consistentHash may be set",
                  f + "125:23: error: spec.trafficPolicy.loadBalancer.consistentHash: only "
                      "one of httpHeaderName, httpCookie, useSourceIp or "
                      "httpQueryParameterName may be set",
                  f + "127:29: error: spec.trafficPolicy.connectionPool.tcp.maxConnections: "
                      "maxConnections -1 < 0",
                  f + "127:49: error: spec.trafficPolicy.connectionPool.tcp.connectTimeout: "
                      "invalid duration \"fast\" (expected e.g. \"1.5s\", \"100ms\", \"1m\")",
                  f + "128:31: error: spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: "
                      "invalid value \"SOMETIMES\" (one of DEFAULT, DO_NOT_UPGRADE, UPGRADE)",
                  f + "129:44: error: spec.trafficPolicy.outlierDetection.maxEjectionPercent: "
                      "maxEjectionPercent 150 > 100",
                  f + "129:59: error: spec.trafficPolicy.outlierDetection.interval: interval "
                      "\"0s\" < 1ms",
                  f + "131:7: error: spec.trafficPolicy.portLevelSettings[0].port: port is "
                      "required",
                  f + "135:11: error: spec.subsets[1].name: duplicate subset name \"v1\"",
                  f + "138:23: error: spec.subsets[2].labels.version: invalid label value "
                      "\"not valid!\""));
}

TEST(DestinationRuleRules, ConsistentHashFeedsStickyLanes) {
  const auto m = compile_yaml(testing::mock_apps({"v1"}) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mocka}
spec:
  host: mocka.default.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpCookie: {name: user, ttl: 0s}}
)");
  // Used for sticky lane picks and for picking endpoints.
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(m.warnings(), IsEmpty());
  const auto& svc = m.snap().services.at("mocka.default");
  EXPECT_EQ(svc.hash_cookie, "user");
  const auto hash = svc.policy_for("").load_balancer.value().hash.value();
  EXPECT_EQ(hash.from, config::hash_policy::source::cookie);
  EXPECT_EQ(hash.name, "user");
}

TEST(KubernetesRules, ServicePortsAndDeploymentSelector) {
  const auto m = compile_yaml(R"(apiVersion: v1
kind: Service
metadata: {name: two}
spec:
  selector: {app: two}
  ports:
  - port: 80
  - port: 70000
    name: b
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: two-v1}
spec:
  selector:
    matchLabels: {app: two, version: v2}
  template:
    metadata:
      labels: {app: two, version: v1}
    spec:
      containers:
      - name: app
        ports: [{containerPort: 0}]
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("mesh.yaml:7:5: error: spec.ports[0].name: name is required when a Service "
                  "has several ports",
                  "mesh.yaml:8:11: error: spec.ports[1].port: port 70000 > 65535",
                  "mesh.yaml:16:38: error: spec.selector.matchLabels.version: selector "
                  "version=v2 does not match the template's labels",
                  "mesh.yaml:23:33: error: spec.template.spec.containers[0].ports[0]."
                  "containerPort: containerPort 0 < 1"));
}

TEST(MetadataRules, NamesNamespacesAndDefaults) {
  const auto m = compile_yaml(R"(apiVersion: v1
kind: Service
metadata: {name: Mocka, namespace: "x_y"}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: ok}
---
kind: Service
metadata: {name: noversion}
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("mesh.yaml:3:18: error: metadata.name: invalid name \"Mocka\" (lower-case "
                  "letters, digits, '-' and '.'; at most 253 characters)",
                  "mesh.yaml:3:36: error: metadata.namespace: invalid namespace \"x_y\"",
                  "mesh.yaml:8:11: error: metadata.name: name is required",
                  "mesh.yaml:11:1: error: spec: spec is required",
                  "mesh.yaml:15:1: error: apiVersion: apiVersion is required"));
}

TEST(MetadataRules, MissingNamespaceIsDefault) {
  const auto m = compile_yaml(testing::mock_apps({"v1"}));
  EXPECT_THAT(m.messages(), IsEmpty());
  EXPECT_EQ(m.snap().services.count("mocka.default"), 1u);
  EXPECT_EQ(m.snap().workloads.at("mocka-v1.default").containers.at(0).env.size(), 3u);
}

TEST(MetadataRules, DuplicateObjects) {
  const auto m = compile_yaml({{"a.yaml", testing::mock_apps({"v1"})},
                               {"b.yaml",
                                "apiVersion: v1\nkind: Service\nmetadata:\n  name: mockb\n"
                                "spec: {ports: [{port: 80}]}\n"}});
  EXPECT_THAT(m.errors(), ElementsAre("b.yaml:2:7: error: metadata.name: duplicate Service "
                                      "default/mockb (first defined at a.yaml:42)"));
}

TEST(SidecarRules, EgressHostsPortsAndModes) {
  const auto m = testing::compile_yaml(R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: sc}
spec:
  egress:
  - hosts: [reviews, "bad_ns/x.com", "./*"]
    captureMode: SOMETIMES
  - port: {number: 70000}
  outboundTrafficPolicy: {mode: OPEN}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: empty}
spec: {}
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre(HasSubstr("egress[0].hosts[0]: egress host \"reviews\" must be NAMESPACE/HOST"),
                  HasSubstr("egress[0].hosts[1]: invalid namespace \"bad_ns\""),
                  HasSubstr("egress[0].captureMode: invalid value \"SOMETIMES\""),
                  HasSubstr("egress[1].hosts: an egress listener needs hosts"),
                  HasSubstr("egress[1].port.number: number 70000 > 65535"),
                  HasSubstr("outboundTrafficPolicy.mode: invalid value \"OPEN\""),
                  HasSubstr("a Sidecar must say something")));
  EXPECT_THAT(m.warnings(),
              ElementsAre(HasSubstr("5:3: warning: spec: not applied by laneproxy"),
                          HasSubstr("14:7: warning: spec: not applied by laneproxy")));
}

}  // namespace
}  // namespace laneproxy::config
