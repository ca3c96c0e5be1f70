// Cross-resource checks and what the compiled snapshot holds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using testing::compile_yaml;
using testing::compiled_mesh;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// apps.yaml holds mocka/mockb/mockc v1+v2; vs.yaml holds `vs` (line 1 on).
compiled_mesh with_apps(const std::string& vs) {
  return compile_yaml({{"apps.yaml", testing::mock_apps({"v1", "v2"})},
                       {"gw.yaml", testing::mock_gateway()},
                       {"vs.yaml", vs}});
}

TEST(Compiler, ReferencedHostNotFound) {
  const auto m = with_apps(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a}
spec:
  hosts: [mocka]
  http:
  - route:
    - destination: {host: mocka-bogus}
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("vs.yaml:8:27: error: spec.http[0].route[0].destination.host: "
                          "referenced host not found: \"mocka-bogus\" [IST0101]"));
  EXPECT_FALSE(m.result.snapshot);
}

TEST(Compiler, ReferencedSubsetNotFound) {
  const auto m = with_apps(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a}
spec:
  hosts: [mocka]
  http:
  - route:
    - destination: {host: mocka, subset: v4}
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("vs.yaml:8:42: error: spec.http[0].route[0].destination.subset: referenced "
                  "subset not found: \"v4\" of host \"mocka\" (no DestinationRule subset or "
                  "lane of that name) [IST0101]"));
}

TEST(Compiler, ReferencedGatewayNotFound) {
  const auto m = with_apps(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [ingressgateway, default/ingressgateway, other/gw]
  http:
  - route:
    - destination: {host: mocka.default.svc.cluster.local}
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("vs.yaml:6:13: error: spec.gateways[1]: referenced gateway not found: "
                          "\"default/ingressgateway\" [IST0101]",
                          "vs.yaml:6:13: error: spec.gateways[2]: referenced gateway not found: "
                          "\"other/gw\" [IST0101]"));
}

TEST(Compiler, ShortHostsResolveInTheVirtualServicesNamespace) {
  const auto m = with_apps(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [ingressgateway]
  http:
  - route:
    - destination: {host: mocka}
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("vs.yaml:9:27: error: spec.http[0].route[0].destination.host: "
                          "referenced host not found: \"mocka\" [IST0101]"));
}

TEST(Compiler, HostNamesAsIstioResolvesThem) {
  const auto m = with_apps("");
  const auto& snap = m.snap();
  for (const char* host : {"mocka", "mocka.default", "mocka.default.svc",
                           "mocka.default.svc.cluster.local", "MockA.Default:8000"}) {
    const auto* svc = snap.resolve_host(host, "default");
    ASSERT_NE(svc, nullptr) << host;
    EXPECT_EQ(svc->key(), "mocka.default");
  }
  EXPECT_EQ(snap.resolve_host("mocka", "istio-system"), nullptr);
  EXPECT_NE(snap.resolve_host("mocka.default", "istio-system"), nullptr);
  EXPECT_EQ(snap.resolve_host("mocka.example.com", "default"), nullptr);
  EXPECT_EQ(snap.resolve_host("", "default"), nullptr);
}

TEST(Compiler, SeveralPortsNeedAPort) {
  const auto m = compile_yaml(R"(apiVersion: v1
kind: Service
metadata: {name: multi}
spec:
  selector: {app: multi}
  ports: [{port: 80, name: http}, {port: 9090, name: metrics}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: multi}
spec:
  hosts: [multi]
  http:
  - route:
    - destination: {host: multi}
  - match: [{uri: {prefix: /m}}]
    route:
    - destination: {host: multi, port: {number: 9091}}
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("mesh.yaml:15:20: error: spec.http[0].route[0].destination: service "
                  "\"multi.default\" has several ports (80, 9090): the destination needs "
                  "port.number [IST0112]",
                  "mesh.yaml:18:49: error: spec.http[1].route[0].destination.port.number: "
                  "referenced port not found: 9091 on service \"multi.default\" [IST0101]"));
}

TEST(Compiler, UnreachableRulesAreWarnings) {
  const auto m = with_apps(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a}
spec:
  hosts: [mocka]
  http:
  - match: [{uri: {exact: /a}}, {uri: {exact: /b}}]
    route: [{destination: {host: mocka}}]
  - match: [{uri: {exact: /a}}]
    route: [{destination: {host: mocka}}]
  - match: [{uri: {exact: /b}}, {uri: {exact: /c}}]
    route: [{destination: {host: mocka}}]
  - route: [{destination: {host: mocka}}]
  - match: [{uri: {exact: /d}}]
    route: [{destination: {host: mocka}}]
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(
      m.warnings(),
      ElementsAre("vs.yaml:9:5: warning: spec.http[1]: rule is unreachable: spec.http[0] has "
                  "the same match [IST0130]",
                  "vs.yaml:11:13: warning: spec.http[2].match[0]: match is never used: "
                  "spec.http[0] has the same match [IST0131]",
                  "vs.yaml:14:5: warning: spec.http[4]: rule is unreachable: spec.http[3] "
                  "before it has no match and takes every request [IST0130]"));
}

TEST(Compiler, SubsetFromDestinationRuleWinsOverLane) {
  const auto m = compile_yaml({{"apps.yaml", testing::mock_apps({"v1", "v2"})},
                               {"gw.yaml", testing::mock_gateway()},
                               {"lanes.yaml", testing::mock_lanes({"v1", "v2"})},
                               {"dr.yaml", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mocka}
spec:
  host: mocka
  subsets:
  - name: v2
    labels: {app: mocka}
)"}});
  EXPECT_THAT(m.errors(), IsEmpty());
  const auto& subsets = m.snap().services.at("mocka.default").subsets;
  EXPECT_FALSE(subsets.at("v2").from_lane);
  EXPECT_EQ(subsets.at("v2").workloads, (std::vector<std::string>{"mocka-v1", "mocka-v2"}));
  EXPECT_TRUE(subsets.at("v1").from_lane);
  EXPECT_TRUE(m.snap().services.at("mockb.default").subsets.at("v2").from_lane);
}

TEST(Compiler, DestinationRuleForAnUnknownHostIsAWarning) {
  const auto m = compile_yaml(
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\n"
      "spec:\n  host: nowhere\n");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(
      m.warnings(),
      ElementsAre("mesh.yaml:5:9: warning: spec.host: referenced host not found: \"nowhere\" "
                  "(no Service of that name: the DestinationRule has no effect)"));
}

TEST(Compiler, WorkloadsBelongToTheServicesThatSelectThem) {
  const auto m = with_apps("");
  const auto& snap = m.snap();
  EXPECT_EQ(snap.services.at("mockc.default").workloads,
            (std::vector<std::string>{"mockc-v1", "mockc-v2"}));
  EXPECT_EQ(snap.workloads.at("mocka-v1.default").services,
            (std::vector<std::string>{"mocka.default"}));
  EXPECT_EQ(snap.workloads.at("mocka-v1.default").lane, "");
}

TEST(Compiler, GatewayRulesKeepDocumentOrder) {
  const auto m = with_apps(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [istio-system/ingressgateway]
  http:
  - match: [{headers: {x-asm-prefer-tag: {exact: v2}}}]
    route: [{destination: {host: mocka.default.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: second, namespace: istio-system}
spec:
  hosts: [example.com]
  gateways: [ingressgateway]
  http:
  - name: catch-all
    route: [{destination: {host: mockb.default}}]
)");
  EXPECT_THAT(m.messages(), IsEmpty());
  const auto& rules = m.snap().gateways.at("istio-system/ingressgateway").rules;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].name, "istio-system/first.http[0]");
  EXPECT_EQ(rules[1].name, "catch-all");
  EXPECT_EQ(rules[1].hosts, (std::vector<std::string>{"example.com"}));
  EXPECT_EQ(rules[1].targets[0].service, "mockb.default");
  EXPECT_TRUE(m.snap().mesh_routes.empty());
}

}  // namespace
}  // namespace laneproxy::config
