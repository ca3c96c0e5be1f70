// Routing decisions per role, without sockets: strict and permissive lanes,
// fallbacks, lane headers and baggage, local replies.
#include "dataplane/router.h"
#include "dataplane/cors.h"

#include <gtest/gtest.h>

#include "config/dns_endpoints.h"
#include "support/mesh_fixture.h"

namespace laneproxy::dataplane {
namespace {

using namespace std::chrono_literals;
using testing::compile_yaml;
using testing::mock_apps;
using testing::mock_gateway;
using testing::mock_lanes;

// Returns the same value every time: the test decides the weighted pick.
class fixed_random final : public route::random_source {
 public:
  explicit fixed_random(std::uint64_t v) : value(v) {}
  std::uint64_t next() override { return value; }
  std::uint64_t value;
};

const auto now = trace_lane_table::clock::time_point{} + 1h;

config::socket_address at(std::uint16_t port) {
  return {"127.0.0.1", port, {}};
}

// Pod k of service s in lane l listens on 127.0.0.1:PORT with PORT =
// 10000 + 100 * service + lane number, so an endpoint says where it is.
config::service_endpoints lane_endpoints(const std::string& svc, int index,
                                         const std::vector<std::string>& lanes) {
  config::service_endpoints e;
  e.host = svc;
  e.service = svc + ".default";
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    const auto lane = lanes[i];
    const int number = lane.back() - '0';
    e.by_subset[lane] = {at(static_cast<std::uint16_t>(10000 + 100 * index + number))};
  }
  return e;
}

struct harness {
  testing::compiled_mesh mesh;
  config::bootstrap boot;
  std::unique_ptr<proxy_config> config;
  trace_lane_table traces{1000, 60s};
  fixed_random random{0};

  harness(const std::string& yaml, const std::string& sidecar_workload,
          std::map<std::string, std::vector<std::string>> lanes_of) {
    mesh = compile_yaml(yaml);
    EXPECT_TRUE(mesh.errors().empty()) << ::testing::PrintToString(mesh.errors());
    int index = 0;
    for (const auto& [svc, lanes] : lanes_of)
      boot.endpoints.push_back(lane_endpoints(svc, index++, lanes));
    boot.gateway = config::gateway_listener{"istio-system/ingressgateway", at(0), {}};
    if (!sidecar_workload.empty()) {
      config::sidecar_listeners s;
      s.workload = sidecar_workload;
      s.ns = "default";
      s.inbound = at(0);
      s.app = at(9999);
      boot.sidecar = s;
    }
    config::diagnostics diag;
    config::resolve_bootstrap(boot, mesh.snap(), diag);
    EXPECT_FALSE(diag.has_errors());
    config = std::make_unique<proxy_config>(mesh.result.snapshot, boot);
  }
  router make_router() { return router(*config, &traces, random); }
};

route::request_view request(const route::header_list& headers, std::string_view authority,
                            std::string_view target = "/") {
  route::request_view r;
  r.method = "GET";
  r.target = target;
  r.authority = authority;
  headers.attach(r);
  return r;
}

const std::string permissive_group =
    "  isPermissive: true\n  permissiveModeConfiguration:\n    routeHeader: x-asm-prefer-tag\n"
    "    traceHeader: x-request-id\n    fallbackTarget: s1\n";

std::string permissive_mesh() {
  std::string yaml = mock_apps({"v1"}) + mock_gateway();
  // Lanes s1, s2, s3 selecting versions v1, v2, v3.
  yaml += mock_lanes({}, permissive_group);
  for (const std::string v : {"1", "2", "3"}) {
    yaml += "---\napiVersion: istio.alibabacloud.com/v1\nkind: ASMSwimLane\nmetadata:\n  name: s" +
            v + "\n  labels:\n    swimlane-group: mock\nspec:\n  labelSelector:\n    version: v" +
            v + "\n";
  }
  return yaml;
}

TEST(Router, StrictOutboundUsesTheSidecarsOwnLane) {
  harness h(mock_apps({"v1", "v2"}) + mock_lanes({"v1", "v2"}) + mock_gateway(), "mocka-v2",
            {{"mockb", {"v1", "v2"}}});
  route::header_list none;
  // The app forwards nothing; a lane header naming v1 does not move a strict sidecar.
  route::header_list v1{{{"x-asm-prefer-tag", "v1"}}};
  for (const auto* headers : {&none, &v1}) {
    const auto d = h.make_router().outbound(request(*headers, "mockb:8000"), now);
    ASSERT_EQ(d.flag, response_flag::none);
    EXPECT_EQ(d.endpoint->port, 10002);
    EXPECT_EQ(d.lane, "v2");
    EXPECT_TRUE(d.stamp_lane);
    EXPECT_EQ(d.lane_header, "x-asm-prefer-tag");
  }
}

TEST(Router, StrictLaneWithoutTheServiceAnswersNoHealthyUpstream) {
  harness h(mock_apps({"v1", "v2"}) + mock_lanes({"v1", "v2"}) + mock_gateway(), "mocka-v2",
            {{"mockb", {"v1"}}});
  const auto d = h.make_router().outbound(request({}, "mockb"), now);
  EXPECT_EQ(d.flag, response_flag::no_healthy_upstream);
}

TEST(Router, OutboundResolvesIstioHostNamesAndRefusesOthers) {
  harness h(mock_apps({"v1"}) + mock_lanes({"v1"}) + mock_gateway(), "mocka-v1",
            {{"mockb", {"v1"}}});
  auto r = h.make_router();
  for (const auto* host : {"mockb", "mockb:8000", "mockb.default", "mockb.default.svc",
                           "mockb.default.svc.cluster.local:8000"}) {
    EXPECT_EQ(r.outbound(request({}, host), now).flag, response_flag::none) << host;
  }
  for (const auto* host : {"example.com", "127.0.0.1:10101", "mockb.other"}) {
    EXPECT_EQ(r.outbound(request({}, host), now).flag, response_flag::no_route) << host;
  }
}

// A connection the pod's NAT rules redirected carries its original
// destination: a Host the mesh does not know is routed by it (a ClusterIP
// or an endpoint of a service, in the sidecar's lane), else passed through
// (ALLOW_ANY) or answered 502 (REGISTRY_ONLY).
TEST(Router, ACapturedCallIsRoutedByItsOriginalDestination) {
  auto yaml = mock_apps({"v1", "v2"}) + mock_lanes({"v1", "v2"}) + mock_gateway();
  const std::string mockb = "  name: mockb\nspec:\n";
  yaml.replace(yaml.find(mockb), mockb.size(), mockb + "  clusterIP: 10.96.0.20\n");
  harness h(yaml, "mocka-v2", {{"mockb", {"v1", "v2"}}});
  auto r = h.make_router();
  const auto cluster_ip = *config::parse_socket_address("10.96.0.20:8000");
  const auto pod = *config::parse_socket_address("127.0.0.1:10001");  // mockb's v1 pod
  const auto outside = *config::parse_socket_address("198.18.5.5:8000");
  for (const auto* original : {&cluster_ip, &pod}) {
    const auto d = r.outbound(request({}, "10.96.0.20:8000"), now, original);
    ASSERT_EQ(d.flag, response_flag::none);
    EXPECT_EQ(d.service, "mockb.default");
    EXPECT_EQ(d.lane, "v2");  // the sidecar's own, whichever pod was called
    EXPECT_EQ(d.endpoint->port, 10002);
    EXPECT_FALSE(d.passthrough);
  }
  // The Host decides when the mesh knows it, as Istio's virtual hosts do.
  EXPECT_EQ(r.outbound(request({}, "mockc:8000"), now, &cluster_ip).flag,
            response_flag::no_healthy_upstream);

  const auto d = r.outbound(request({}, "example.com"), now, &outside);
  EXPECT_TRUE(d.passthrough);
  EXPECT_EQ(d.endpoint, &outside);
  EXPECT_TRUE(d.service.empty());
  EXPECT_EQ(r.outbound(request({}, "example.com"), now).flag, response_flag::no_route);

  h.boot.allow_any = false;
  const proxy_config registry_only(h.mesh.result.snapshot, h.boot);
  const auto refused = router(registry_only, &h.traces, h.random)
                           .outbound(request({}, "example.com"), now, &outside);
  ASSERT_TRUE(refused.direct);
  EXPECT_EQ(refused.direct->status, 502u);
  EXPECT_FALSE(refused.passthrough);
  EXPECT_TRUE(registry_only.mesh_port(8000));
  EXPECT_FALSE(registry_only.mesh_port(9000));
}

// A ServiceEntry's host is a service: its STATIC endpoints serve calls by
// Host; resolution NONE goes where a captured call was sent.
TEST(Router, AServiceEntryHostIsRoutedToItsEndpoints) {
  const std::string entries = R"(---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: default}
spec:
  hosts: [api.payments.example]
  ports: [{number: 443, name: http, protocol: HTTP, targetPort: 8443}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}, {address: 127.0.0.2, ports: {http: 9443}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: anything, namespace: default}
spec:
  hosts: [cdn.example]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
)";
  harness h(mock_apps({"v1"}) + mock_lanes({"v1"}) + mock_gateway() + entries, "mocka-v1",
            {{"mockb", {"v1"}}});
  config::add_entry_endpoints(h.boot, h.mesh.snap());
  const proxy_config config(h.mesh.result.snapshot, h.boot);
  const router r(config, &h.traces, h.random);
  const auto d = r.outbound(request({}, "API.payments.example:443"), now);
  ASSERT_EQ(d.flag, response_flag::none);
  EXPECT_EQ(d.service, "api.payments.example.default");
  EXPECT_EQ(d.endpoint->text(), "127.0.0.1:8443");
  EXPECT_EQ(config.service("api.payments.example.default")->all.all().back().text(),
            "127.0.0.2:9443");
  EXPECT_TRUE(config.mesh_port(443));

  const auto original = *config::parse_socket_address("198.18.9.9:80");
  const auto through = r.outbound(request({}, "cdn.example"), now, &original);
  EXPECT_TRUE(through.passthrough);
  EXPECT_EQ(through.endpoint, &original);
  // Uncaptured, resolution NONE has nowhere to go.
  EXPECT_EQ(r.outbound(request({}, "cdn.example"), now).flag, response_flag::no_healthy_upstream);
}

TEST(Router, PermissiveRemembersTheLaneByTraceIdAndFallsBack) {
  // The sidecar of mockb-v1 (lane s1) sees a request of lane s2 come in.
  harness h(permissive_mesh(), "mockb-v1",
            {{"mocka", {"s1", "s2"}}, {"mockb", {"s1", "s3"}}, {"mockc", {"s1", "s2"}}});
  auto r = h.make_router();
  route::header_list in{{{"x-asm-prefer-tag", "s2"}, {"x-request-id", "t-1"}}};
  EXPECT_EQ(r.inbound(request(in, "mockb"), now).lane, "s2");

  // The app calls mockc with only x-request-id: back to lane s2.
  route::header_list out{{{"x-request-id", "t-1"}}};
  auto d = r.outbound(request(out, "mockc"), now);
  EXPECT_EQ(d.endpoint->port, 10202);
  EXPECT_EQ(d.lane, "s2");
  EXPECT_TRUE(d.stamp_lane);
  EXPECT_FALSE(d.lane_fallback);

  // mockb has no s2 endpoints: the baseline serves, the request keeps s2.
  d = r.outbound(request(out, "mockb"), now);
  EXPECT_EQ(d.endpoint->port, 10101);
  EXPECT_EQ(d.serving_lane, "s1");
  EXPECT_EQ(d.lane, "s2");
  EXPECT_TRUE(d.lane_fallback);

  // Another trace id is not mixed up with t-1; an unknown one goes to s1.
  route::header_list other{{{"x-request-id", "t-2"}}};
  EXPECT_EQ(r.outbound(request(other, "mockc"), now).endpoint->port, 10201);
  EXPECT_EQ(r.outbound(request(out, "mockc"), now + 61s).endpoint->port, 10201);  // expired
}

TEST(Router, PermissiveLaneFromBaggageAndInvalidLaneHeaders) {
  harness h(permissive_mesh(), "mockb-v1", {{"mockc", {"s1", "s2"}}});
  auto r = h.make_router();
  route::header_list baggage{{{"baggage", "userId=7,x-asm-prefer-tag=s2;p=1"}}};
  EXPECT_EQ(r.outbound(request(baggage, "mockc"), now).endpoint->port, 10002);
  // A repeated header reaches the router joined with ", "; CR, LF and
  // unknown lanes are no lane names either: all count as absent.
  for (const auto* bad : {"s2, s3", "s2\r\nx: y", "nope"}) {
    route::header_list h2{{{"x-asm-prefer-tag", bad}}};
    EXPECT_EQ(r.outbound(request(h2, "mockc"), now).endpoint->port, 10001) << bad;
  }
}

TEST(Router, GatewayStampsThePickedLaneAndFallsBackForTheFirstHop) {
  std::string yaml = permissive_mesh();
  yaml += R"(---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: front
spec:
  hosts: ['*']
  gateways: [istio-system/ingressgateway]
  http:
  - route:
    - destination: {host: mocka, subset: s1}
      weight: 60
    - destination: {host: mocka, subset: s3}
      weight: 40
)";
  harness h(yaml, "", {{"mocka", {"s1"}}});
  auto r = h.make_router();
  h.random.value = 59;  // [0, 60) picks s1
  auto d = r.gateway(request({}, "anything"));
  EXPECT_EQ(d.lane, "s1");
  EXPECT_EQ(d.endpoint->port, 10001);
  h.random.value = 60;  // [60, 100) picks s3; mocka has no s3: baseline, lane kept
  d = r.gateway(request({}, "anything"));
  ASSERT_EQ(d.flag, response_flag::none);
  EXPECT_EQ(d.lane, "s3");
  EXPECT_TRUE(d.stamp_lane);
  EXPECT_EQ(d.serving_lane, "s1");
  EXPECT_TRUE(d.lane_fallback);
  EXPECT_EQ(d.endpoint->port, 10001);
}

TEST(Router, UnknownSubsetAtRuntimeAnswersNoCluster) {
  // The compiler rejects a route to a subset that does not exist, so only a
  // snapshot edited after compiling can carry one; the router must still
  // answer NC rather than misroute.
  std::string yaml = mock_apps({"v1"}) + mock_gateway() + R"(---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: mocka}
spec:
  host: mocka
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: front}
spec:
  hosts: ['*']
  gateways: [istio-system/ingressgateway]
  http:
  - route: [{destination: {host: mocka, subset: v1}}]
)";
  auto compiled = compile_yaml(yaml);
  auto edited = std::make_shared<config::mesh_snapshot>(compiled.snap());
  edited->gateways.at("istio-system/ingressgateway").rules.at(0).targets.at(0).subset = "v9";
  config::bootstrap boot;
  boot.gateway = config::gateway_listener{"istio-system/ingressgateway", at(0), {}};
  const proxy_config cfg(edited, boot);
  fixed_random random(0);
  const router r(cfg, nullptr, random);
  EXPECT_EQ(r.gateway(request({}, "x")).flag, response_flag::no_cluster);
}

TEST(Router, SplitModesFromTheVirtualService) {
  std::string yaml = mock_apps({"v1", "v2"}) + mock_lanes({"v1", "v2"}) + mock_gateway();
  yaml += R"(---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: front
  annotations: {laneproxy.io/split: sticky, laneproxy.io/split-key: cookie:user}
spec:
  hosts: [sticky.example.com]
  gateways: [istio-system/ingressgateway]
  http:
  - route:
    - {destination: {host: mocka, subset: v1}, weight: 50}
    - {destination: {host: mocka, subset: v2}, weight: 50}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: smooth
  annotations: {laneproxy.io/split: smooth}
spec:
  hosts: [smooth.example.com]
  gateways: [istio-system/ingressgateway]
  http:
  - route:
    - {destination: {host: mocka, subset: v1}, weight: 3}
    - {destination: {host: mocka, subset: v2}, weight: 1}
)";
  harness h(yaml, "", {{"mocka", {"v1", "v2"}}});
  route::smooth_state smooth;
  const router r(*h.config, &h.traces, h.random, &smooth);
  // Sticky: one user, one lane, whatever the random source says.
  for (const auto* user : {"alice", "bob", "carol"}) {
    const std::string cookie = std::string("theme=dark; user=") + user;
    route::header_list headers{{{"cookie", cookie}}};
    const auto first = r.gateway(request(headers, "sticky.example.com")).lane;
    for (std::uint64_t v = 0; v < 20; ++v) {
      h.random.value = v;
      EXPECT_EQ(r.gateway(request(headers, "sticky.example.com")).lane, first) << user;
    }
  }
  // Smooth: 3:1 in every window of four.
  std::string lanes;
  for (int i = 0; i < 8; ++i) lanes += r.gateway(request({}, "smooth.example.com")).lane + " ";
  EXPECT_EQ(lanes, "v1 v1 v2 v1 v1 v1 v2 v1 ");
}

TEST(Router, LocalRepliesCarryEnvoysTexts) {
  EXPECT_EQ(reply_for(response_flag::no_route).status, 404u);
  EXPECT_EQ(reply_for(response_flag::no_healthy_upstream).body, "no healthy upstream");
  EXPECT_EQ(reply_for(response_flag::upstream_timeout).status, 504u);
  EXPECT_EQ(flag_code(response_flag::upstream_connect_failure), "UF");
}

}  // namespace
}  // namespace laneproxy::dataplane

namespace laneproxy::dataplane {
namespace {

// Exact in expectation and exact per value: a draw below the share (per
// million) injects, as Envoy's fault filter decides.
TEST(FaultDraws, InjectBelowTheirSharePerMillion) {
  config::http_fault f;
  f.delay = config::http_fault::delay_spec{std::chrono::milliseconds(250), 125000};
  f.abort = config::http_fault::abort_spec{418, 1, -1};
  const auto draw = [&](std::uint64_t value) {
    struct one_value final : route::random_source {
      std::uint64_t v;
      std::uint64_t next() override { return v; }
    } r;
    r.v = value;
    route_decision d;
    draw_faults(f, r, d);
    return std::pair{d.fault_delay.count(), d.fault_abort};
  };
  EXPECT_EQ(draw(0), (std::pair<long, unsigned>{250, 418}));
  EXPECT_EQ(draw(124999), (std::pair<long, unsigned>{250, 0}));
  EXPECT_EQ(draw(125000), (std::pair<long, unsigned>{0, 0}));
  EXPECT_EQ(draw(3'000'000), (std::pair<long, unsigned>{250, 418}));  // modulo a million
  EXPECT_EQ(draw(1'000'001), (std::pair<long, unsigned>{250, 0}));
}

}  // namespace
}  // namespace laneproxy::dataplane

namespace laneproxy::dataplane {
namespace {

TEST(RetryPolicy, IstiosDefaultAndWhatARouteSays) {
  const auto none = config::compile_retries(std::nullopt);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->retries, 2u);
  EXPECT_TRUE(none->retries_status(503));
  EXPECT_FALSE(none->retries_status(500));
  EXPECT_TRUE(none->retries_failure(config::retry_policy::failure::connect));
  EXPECT_FALSE(none->retries_failure(config::retry_policy::failure::reset));

  EXPECT_FALSE(config::compile_retries(config::http_retry{0, std::nullopt, ""}).has_value());

  const auto own = config::compile_retries(config::http_retry{
      4, std::chrono::milliseconds(300), "gateway-error, 409,reset,unavailable"});
  ASSERT_TRUE(own.has_value());
  EXPECT_EQ(own->retries, 4u);
  EXPECT_EQ(own->per_try_timeout, std::chrono::milliseconds(300));
  EXPECT_TRUE(own->retries_status(502));
  EXPECT_TRUE(own->retries_status(504));
  EXPECT_TRUE(own->retries_status(409));
  EXPECT_FALSE(own->retries_status(500));
  EXPECT_TRUE(own->retries_failure(config::retry_policy::failure::reset));
  EXPECT_TRUE(own->retries_failure(config::retry_policy::failure::per_try_timeout));
  EXPECT_TRUE(own->retries_failure(config::retry_policy::failure::connect));  // gateway-error

  // Attempts alone keep Istio's default conditions.
  const auto attempts_only = config::compile_retries(config::http_retry{5, std::nullopt, ""});
  EXPECT_TRUE(attempts_only->retries_status(503));
  EXPECT_EQ(attempts_only->retries, 5u);
}

TEST(RetryPolicy, BackoffIsJitteredAndExponentialUpTo250ms) {
  EXPECT_EQ(retry_backoff(1, 24).count(), 24);
  EXPECT_EQ(retry_backoff(1, 25).count(), 0);   // [0, 25)
  EXPECT_EQ(retry_backoff(2, 49).count(), 49);  // [0, 50)
  EXPECT_EQ(retry_backoff(3, 99).count(), 99);  // [0, 100)
  EXPECT_EQ(retry_backoff(4, 199).count(), 199);
  EXPECT_EQ(retry_backoff(5, 249).count(), 249);  // capped at 250
  EXPECT_EQ(retry_backoff(40, 250).count(), 0);
  // A route's own base (Istio's `backoff`): capped at ten times it.
  EXPECT_EQ(retry_backoff(1, 99, 100ms).count(), 99);
  EXPECT_EQ(retry_backoff(2, 199, 100ms).count(), 199);
  EXPECT_EQ(retry_backoff(20, 999, 100ms).count(), 999);
  EXPECT_EQ(retry_backoff(20, 1000, 100ms).count(), 0);
}

}  // namespace
}  // namespace laneproxy::dataplane

namespace laneproxy::dataplane {
namespace {

// A VirtualService for mockb on the gateway and the mesh whose rules say,
// per match, where they apply and for which source pods.
std::string where_rules_apply() {
  return mock_apps({"v1", "v2"}) + mock_gateway() + testing::subsets_yaml("mockb", {"v1", "v2"}) +
         R"(---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: mockb}
spec:
  hosts: [mockb]
  gateways: [istio-system/ingressgateway, mesh]
  http:
  - name: mesh-only
    match: [{uri: {prefix: /m}, gateways: [mesh]}]
    route: [{destination: {host: mockb, subset: v2}}]
  - name: gateway-only
    match: [{uri: {prefix: /m}, gateways: [istio-system/ingressgateway]}]
    route: [{destination: {host: mockb, subset: v1}}]
  - name: from-v2-pods
    match: [{uri: {prefix: /s}, sourceLabels: {version: v2}}]
    route: [{destination: {host: mockb, subset: v2}}]
  - name: everyone-else
    route: [{destination: {host: mockb, subset: v1}}]
)";
}

TEST(Router, AMatchsGatewaysSayWhereItApplies) {
  harness h(where_rules_apply(), "mocka-v1", {{"mockb", {"v1", "v2"}}});
  const auto at_gateway = h.make_router().gateway(request({}, "mockb", "/m"));
  ASSERT_NE(at_gateway.rule, nullptr);
  EXPECT_EQ(at_gateway.rule->name, "gateway-only");
  const auto at_sidecar = h.make_router().outbound(request({}, "mockb", "/m"), now);
  ASSERT_NE(at_sidecar.rule, nullptr);
  EXPECT_EQ(at_sidecar.rule->name, "mesh-only");
}

TEST(Router, SourceLabelsMatchTheSidecarsOwnPodAndNeverAGateway) {
  harness v2(where_rules_apply(), "mocka-v2", {{"mockb", {"v1", "v2"}}});
  EXPECT_EQ(v2.make_router().outbound(request({}, "mockb", "/s"), now).rule->name, "from-v2-pods");
  harness v1(where_rules_apply(), "mocka-v1", {{"mockb", {"v1", "v2"}}});
  EXPECT_EQ(v1.make_router().outbound(request({}, "mockb", "/s"), now).rule->name, "everyone-else");
  EXPECT_EQ(v2.make_router().gateway(request({}, "mockb", "/s")).rule->name, "everyone-else");
}

}  // namespace
}  // namespace laneproxy::dataplane

namespace laneproxy::dataplane {
namespace {

TEST(Router, AMatchsPortIsTheGatewayServersOrTheServicePortCalled) {
  harness h(where_rules_apply(), "mocka-v1", {{"mockb", {"v1", "v2"}}});
  // mock_gateway() serves port 80; the gateway listener here is on port 0.
  EXPECT_EQ(match_port(*h.config, listener_role::gateway, 8080, "shop"), 80u);
  EXPECT_EQ(match_port(*h.config, listener_role::sidecar_outbound, 15001, "mockb:8000"), 8000u);
  EXPECT_EQ(match_port(*h.config, listener_role::sidecar_outbound, 15001, "mockb"), 80u);
  EXPECT_EQ(match_port(*h.config, listener_role::sidecar_outbound, 15001, "[::1]"), 80u);
  EXPECT_EQ(match_port(*h.config, listener_role::sidecar_inbound, 15006, "mocka:8000"), 15006u);
}

}  // namespace
}  // namespace laneproxy::dataplane

namespace laneproxy::dataplane {
namespace {

TEST(Cors, UnmatchedPreflightsAreForwardedOrIgnoredAsTheRuleSays) {
  config::route_rule rule;
  rule.actions.cors = config::http_cors{};
  rule.cors_origins.emplace_back(
      config::string_match{config::string_match::kind::exact, "https://a"});
  EXPECT_EQ(apply_cors(rule, "OPTIONS", "https://b", "GET").action, cors_action::forward);
  rule.actions.cors->ignore_unmatched_preflights = true;
  const auto ignored = apply_cors(rule, "OPTIONS", "https://b", "GET");
  EXPECT_EQ(ignored.action, cors_action::answer);
  EXPECT_TRUE(ignored.headers.empty());
  // Without Access-Control-Request-Method an OPTIONS is an ordinary request.
  EXPECT_EQ(apply_cors(rule, "OPTIONS", "https://a", "").action, cors_action::forward);
  // No Origin, no CORS.
  EXPECT_EQ(apply_cors(rule, "GET", "", "").action, cors_action::none);
}

}  // namespace
}  // namespace laneproxy::dataplane
