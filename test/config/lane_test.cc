// ASM lane groups and lanes: membership, modes, fallbacks and lane ingress.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using testing::compile_yaml;
using testing::compiled_mesh;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

compiled_mesh lanes(const std::vector<std::string>& app_versions, const std::string& lanes_yaml) {
  return compile_yaml({{"apps.yaml", testing::mock_apps(app_versions)},
                       {"gw.yaml", testing::mock_gateway()},
                       {"lanes.yaml", lanes_yaml}});
}

constexpr const char* permissive = R"(  isPermissive: true
  permissiveModeConfiguration:
    routeHeader: X-ASM-Prefer-Tag
    traceHeader: my-trace-id
    fallbackTarget: v1
    serviceLevelFallbackTarget:
      default/mockc: v2
)";

TEST(Lanes, StrictGroupMembership) {
  const auto m = lanes({"v1", "v2"}, testing::mock_lanes({"v1", "v2"}));
  EXPECT_THAT(m.messages(), IsEmpty());
  const auto& snap = m.snap();
  const auto& group = snap.lane_groups.at("mock");
  EXPECT_FALSE(group.permissive);
  EXPECT_EQ(group.route_header, "x-asm-prefer-tag");
  EXPECT_EQ(group.services,
            (std::vector<std::string>{"mocka.default", "mockb.default", "mockc.default"}));
  EXPECT_EQ(snap.lanes.at("v2").members.at("mockc.default"),
            (std::vector<std::string>{"mockc-v2"}));
  EXPECT_EQ(snap.workloads.at("mocka-v1.default").lane, "v1");
  EXPECT_EQ(snap.services.at("mockb.default").lane_group, "mock");
  EXPECT_EQ(snap.group_of(snap.services.at("mockb.default")), &group);
}

TEST(Lanes, PermissiveSettings) {
  const auto m = lanes({"v1", "v2"}, testing::mock_lanes({"v1", "v2"}, permissive));
  EXPECT_THAT(m.messages(), IsEmpty());
  const auto& group = m.snap().lane_groups.at("mock");
  EXPECT_TRUE(group.permissive);
  EXPECT_EQ(group.route_header, "x-asm-prefer-tag");
  EXPECT_EQ(group.trace_header, "my-trace-id");
  EXPECT_EQ(group.fallback_target, "v1");
  EXPECT_EQ(group.service_fallback.at("mockc.default"), "v2");
}

TEST(Lanes, StrictLaneLackingAGroupServiceIsAWarning) {
  // v3 exists for mocka only.
  auto apps = testing::mock_apps({"v1"});
  const auto m = compile_yaml({{"apps.yaml", apps},
                               {"gw.yaml", testing::mock_gateway()},
                               {"lanes.yaml", testing::mock_lanes({"v1", "v3"})}});
  EXPECT_THAT(m.errors(), IsEmpty());
  ASSERT_EQ(m.warnings().size(), 3u);
  EXPECT_EQ(
      m.warnings()[0],
      "lanes.yaml:31:7: warning: spec.labelSelector: lane \"v3\" has no Deployment of service "
      "\"default/mocka\": in strict mode its requests to mocka get 503 no healthy upstream");
}

TEST(Lanes, PermissiveLanesMayBePartial) {
  const auto m = lanes({"v1"}, testing::mock_lanes({"v1", "v3"}, permissive));
  EXPECT_THAT(m.warnings(), IsEmpty());
  // The group's service-level fallback names lane v2, which does not exist.
  EXPECT_THAT(
      m.errors(),
      ElementsAre("lanes.yaml:25:22: error: "
                  "spec.permissiveModeConfiguration.serviceLevelFallbackTarget.default/mockc: "
                  "fallback lane not found: \"v2\" is no lane of group \"mock\""));
}

TEST(Lanes, FallbackLaneNotFound) {
  const auto m = lanes({"v1"}, testing::mock_lanes({"v1"}, R"(  isPermissive: true
  permissiveModeConfiguration:
    routeHeader: x-asm-prefer-tag
    traceHeader: x-request-id
    fallbackTarget: base
)"));
  EXPECT_THAT(
      m.errors(),
      ElementsAre("lanes.yaml:23:21: error: spec.permissiveModeConfiguration.fallbackTarget: "
                  "fallback lane not found: \"base\" is no lane of group \"mock\""));
}

TEST(Lanes, PermissiveNeedsItsConfiguration) {
  const auto m = lanes({"v1"}, testing::mock_lanes({"v1"}, "  isPermissive: true\n"));
  EXPECT_THAT(m.errors(), ElementsAre("lanes.yaml:7:3: error: spec.permissiveModeConfiguration: "
                                      "permissiveModeConfiguration is required when isPermissive "
                                      "is true"));
}

TEST(Lanes, GroupReferences) {
  const auto m = lanes({"v1"}, R"(apiVersion: istio.alibabacloud.com/v1
kind: ASMSwimLaneGroup
metadata: {name: mock}
spec:
  ingress:
    gateway: {name: nogw, namespace: istio-system, type: ASM}
  services:
  - name: mocka
  - name: mockz
    namespace: default
---
apiVersion: istio.alibabacloud.com/v1
kind: ASMSwimLane
metadata:
  name: v1
  labels: {swimlane-group: other}
spec:
  labelSelector: {version: v1}
---
apiVersion: istio.alibabacloud.com/v1
kind: ASMSwimLane
metadata:
  name: Bad_Lane
spec: {}
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("lanes.yaml:6:14: error: spec.ingress.gateway: referenced gateway not found: "
                  "\"istio-system/nogw\"",
                  "lanes.yaml:9:5: error: spec.services[1]: referenced service not found: "
                  "\"default/mockz\"",
                  "lanes.yaml:13:7: error: metadata.labels.swimlane-group: referenced lane "
                  "group not found: \"other\"",
                  "lanes.yaml:21:7: error: metadata.name: lane name \"Bad_Lane\" is not a "
                  "valid subset name (RFC 1123 label)",
                  "lanes.yaml:21:7: error: metadata.labels.swimlane-group: swimlane-group "
                  "label is required: it names the lane's group",
                  "lanes.yaml:23:9: error: metadata.name: invalid name \"Bad_Lane\" "
                  "(lower-case letters, digits, '-' and '.'; at most 253 characters)",
                  "lanes.yaml:24:7: error: spec.labelSelector: labelSelector is required: it "
                  "selects the lane's workloads"));
}

TEST(Lanes, WeightedIngressBuildsOneSplitRule) {
  const auto m = lanes({"v1", "v2"}, R"(apiVersion: istio.alibabacloud.com/v1
kind: ASMSwimLaneGroup
metadata: {name: mock}
spec:
  ingress:
    gateway: {name: ingressgateway, namespace: istio-system, type: ASM}
    ingressRouting:
      ingressRoutingStrategy: weighted
      weightedRoutingRule:
        hosts: ["*"]
        requestMatches:
        - uri: {exact: /mock}
  services: [{name: mocka}, {name: mockb}, {name: mockc}]
---
apiVersion: istio.alibabacloud.com/v1
kind: ASMSwimLane
metadata: {name: v1, labels: {swimlane-group: mock}}
spec:
  labelSelector: {version: v1}
  ingressWeight:
    destination: {host: mocka.default.svc.cluster.local}
    weight: 60
---
apiVersion: istio.alibabacloud.com/v1
kind: ASMSwimLane
metadata: {name: v2, labels: {swimlane-group: mock}}
spec:
  labelSelector: {version: v2}
  ingressWeight:
    destination: {host: mocka.default.svc.cluster.local}
    weight: 30
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(
      m.warnings(),
      ElementsAre("lanes.yaml:2:7: warning: spec.ingress.ingressRouting: lane ingress weights "
                  "add up to 90, not 100: shares are weight/90 (Istio >= 1.15; older Istio "
                  "and the ASM guide require 100)"));
  const auto& rules = m.snap().gateways.at("istio-system/ingressgateway").rules;
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].name, "lane-group/mock");
  ASSERT_EQ(rules[0].targets.size(), 2u);
  EXPECT_EQ(rules[0].targets[0].subset, "v1");
  EXPECT_EQ(rules[0].targets[0].weight, 60u);
  EXPECT_EQ(rules[0].targets[1].subset, "v2");
  EXPECT_EQ(rules[0].total_weight, 90u);
  EXPECT_TRUE(rules[0].matches.at(0).uri->matches("/mock"));
}

TEST(Lanes, RuleBasedIngressReportsAnUnknownHost) {
  const auto m = lanes({"v1", "v2"}, testing::mock_lanes({}) + R"(---
apiVersion: istio.alibabacloud.com/v1
kind: ASMSwimLane
metadata: {name: v1, labels: {swimlane-group: mock}}
spec:
  labelSelector: {version: v1}
  ingressRules:
  - name: r1
    online: true
    hosts: ["*"]
    match: {uri: {exact: /mock}, headers: {x-asm-prefer-tag: {exact: v1}}}
    route: {destination: {host: mocka.default.svc.cluster.local}}
  - name: offline
    online: false
    match: {uri: {exact: /off}}
    route: {destination: {host: mocka.default.svc.cluster.local}}
---
apiVersion: istio.alibabacloud.com/v1
kind: ASMSwimLane
metadata: {name: v2, labels: {swimlane-group: mock}}
spec:
  labelSelector: {version: v2}
  ingressRules:
  - name: r2
    online: true
    match: {uri: {exact: /mock}}
    route: {destination: {host: mockz.default.svc.cluster.local}}
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("lanes.yaml:45:33: error: spec.ingressRules[0].route.destination.host: "
                  "referenced host not found: \"mockz.default.svc.cluster.local\" [IST0101]"));
}

TEST(Lanes, RuleBasedIngressRoutesOnlineRulesToTheLane) {
  const auto m = lanes({"v1", "v2"}, testing::mock_lanes({}) + R"(---
apiVersion: istio.alibabacloud.com/v1
kind: ASMSwimLane
metadata: {name: v2, labels: {swimlane-group: mock}}
spec:
  labelSelector: {version: v2}
  ingressRules:
  - name: r2
    online: true
    match: {uri: {exact: /mock}}
    route: {destination: {host: mocka.default.svc.cluster.local}}
  - name: draft
    online: false
    match: {uri: {exact: /draft}}
    route: {destination: {host: mocka.default.svc.cluster.local}}
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  const auto& rules = m.snap().gateways.at("istio-system/ingressgateway").rules;
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].name, "r2");
  EXPECT_EQ(rules[0].targets.at(0).subset, "v2");
  EXPECT_EQ(rules[0].targets.at(0).service, "mocka.default");
}

}  // namespace
}  // namespace laneproxy::config
