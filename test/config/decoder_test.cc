// VirtualService fields, checked as Istio's validating webhook checks them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include "config/field_rules.h"
#include "config/yaml_field.h"
#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using testing::compile_yaml;
using testing::compiled_mesh;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A VirtualService for host mocka (namespace default) whose `http:` list is
// `http`; spec.http starts on line 8 of vs.yaml.
compiled_mesh vs(const std::string& http, const std::string& versions_csv = "v1,v2") {
  std::vector<std::string> versions;
  for (std::size_t s = 0, e; s < versions_csv.size(); s = e + 1) {
    e = versions_csv.find(',', s);
    if (e == std::string::npos) e = versions_csv.size();
    versions.push_back(versions_csv.substr(s, e - s));
  }
  return compile_yaml(
      {{"apps.yaml", testing::mock_apps(versions)},
       {"dr.yaml",
        "apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata:\n  name: mocka\n"
        "spec:\n  host: mocka\n  subsets:\n  - name: v1\n    labels: {version: v1}\n"
        "  - name: v2\n    labels: {version: v2}\n"},
       {"vs.yaml",
        "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: mocka\n"
        "spec:\n  hosts: [mocka]\n  http:\n" +
            http}});
}

constexpr const char* two_way = R"(  - route:
    - destination: {host: mocka, subset: v1}
      weight: 90
    - destination: {host: mocka, subset: v2}
      weight: 10
)";

TEST(VirtualServiceRules, ValidSplitHasNoDiagnostics) {
  const auto m = vs(two_way);
  EXPECT_THAT(m.messages(), IsEmpty());
  const auto& rules = m.snap().mesh_routes.at("mocka.default");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].total_weight, 100u);
  EXPECT_EQ(rules[0].name, "default/mocka.http[0]");
  EXPECT_EQ(rules[0].origin, "vs.yaml:8");
}

TEST(VirtualServiceRules, NegativeWeight) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka, subset: v1}
      weight: 50
    - destination: {host: mocka, subset: v2}
      weight: -1
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("vs.yaml:12:15: error: spec.http[0].route[1].weight: weight -1 < 0"));
}

TEST(VirtualServiceRules, WeightOfTheWrongType) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka, subset: v1}
      weight: fifty
)");
  EXPECT_THAT(m.errors(), ElementsAre("vs.yaml:10:15: error: spec.http[0].route[0].weight: "
                                      "expected an integer, got \"fifty\""));
}

TEST(VirtualServiceRules, WeightsThatDoNotAddUpTo100AreAWarning) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka, subset: v1}
      weight: 3
    - destination: {host: mocka, subset: v2}
      weight: 1
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(m.warnings(),
              ElementsAre("vs.yaml:9:5: warning: spec.http[0].route: weights add up to 4, not 100: "
                          "shares are weight/4 (Istio >= 1.15; older Istio and the ASM guide "
                          "require 100)"));
  EXPECT_EQ(m.snap().mesh_routes.at("mocka.default")[0].total_weight, 4u);
}

TEST(VirtualServiceRules, AllZeroWeightsAreInvalid) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka, subset: v1}
      weight: 0
    - destination: {host: mocka, subset: v2}
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("vs.yaml:9:5: error: spec.http[0].route: weights add up to 0: at least "
                          "one of 2 destinations needs a weight > 0"));
}

TEST(VirtualServiceRules, OneDestinationTakesEverythingWhateverItsWeight) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka, subset: v1}
      weight: 0
)");
  EXPECT_THAT(m.messages(), IsEmpty());
  EXPECT_EQ(m.snap().mesh_routes.at("mocka.default")[0].targets[0].weight, 1u);
}

TEST(VirtualServiceRules, ZeroWeightLaneGetsNothingButIsValid) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka, subset: v1}
      weight: 100
    - destination: {host: mocka, subset: v2}
      weight: 0
)");
  EXPECT_THAT(m.messages(), IsEmpty());
}

TEST(VirtualServiceRules, RuleNeedsAnAction) {
  const auto m = vs("  - name: nothing\n");
  EXPECT_THAT(m.errors(), ElementsAre("vs.yaml:8:5: error: spec.http[0]: one of route, redirect, "
                                      "directResponse or delegate is required"));
}

TEST(VirtualServiceRules, RouteAndRedirectTogether) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka}
    redirect: {uri: /x}
)");
  EXPECT_THAT(m.errors(), ElementsAre("vs.yaml:8:5: error: spec.http[0]: only one of route, "
                                      "redirect, directResponse or delegate may be set"));
}

TEST(VirtualServiceRules, StringMatchNeedsExactlyOneKind) {
  const auto m = vs(R"(  - match:
    - uri: {exact: /a, prefix: /b}
    - uri: {}
    route:
    - destination: {host: mocka}
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("vs.yaml:9:12: error: spec.http[0].match[0].uri: only one of exact, "
                          "prefix or regex may be set",
                          "vs.yaml:10:12: error: spec.http[0].match[1].uri: one of exact, prefix "
                          "or regex is required"));
}

TEST(VirtualServiceRules, RegexIsCheckedByRe2) {
  const auto m = vs(R"(  - match:
    - uri: {regex: "/v(1"}
    route:
    - destination: {host: mocka}
)");
  const RE2 re("/v(1", RE2::Quiet);
  EXPECT_THAT(m.errors(), ElementsAre("vs.yaml:9:20: error: spec.http[0].match[0].uri.regex: "
                                      "invalid regex \"/v(1\": " +
                                      re.error()));
}

TEST(VirtualServiceRules, HeaderAndQueryMatches) {
  const auto m = vs(R"(  - match:
    - headers:
        "bad header": {exact: x}
        X-User: {}
      queryParams:
        id: {prefix: "1"}
      withoutHeaders:
        x-debug: {exact: "1"}
      port: 70000
      ignoreUriCase: maybe
    route:
    - destination: {host: mocka}
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("vs.yaml:10:23: error: spec.http[0].match[0].headers.bad header: invalid "
                  "header name \"bad header\"",
                  "vs.yaml:16:13: error: spec.http[0].match[0].port: port 70000 > 65535",
                  "vs.yaml:17:22: error: spec.http[0].match[0].ignoreUriCase: expected true "
                  "or false, got \"maybe\""));
}

TEST(VirtualServiceRules, HeaderPresenceAndLowerCasedNames) {
  const auto m = vs(R"(  - match:
    - headers:
        X-User: {}
    route:
    - destination: {host: mocka}
)");
  ASSERT_THAT(m.errors(), IsEmpty());
  const auto& match = m.snap().mesh_routes.at("mocka.default")[0].matches.at(0);
  ASSERT_EQ(match.headers.size(), 1u);
  EXPECT_EQ(match.headers[0].name, "x-user");
  EXPECT_FALSE(match.headers[0].matcher.has_value());
}

TEST(VirtualServiceRules, RedirectDirectResponseAndRewrite) {
  const auto m = vs(R"(  - match: [{uri: {prefix: /r}}]
    redirect: {uri: /x, redirectCode: 200, derivePort: SOMETIMES}
    rewrite: {uri: /y}
  - match: [{uri: {prefix: /d}}]
    directResponse:
      status: 700
      body: {string: hi, bytes: aGk=}
  - match: [{uri: {prefix: /w}}]
    rewrite: {}
    route:
    - destination: {host: mocka}
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("vs.yaml:8:5: error: spec.http[0]: rewrite cannot be combined with redirect",
                  "vs.yaml:9:39: error: spec.http[0].redirect.redirectCode: redirectCode 200 "
                  "is not a 3xx code",
                  "vs.yaml:9:56: error: spec.http[0].redirect.derivePort: invalid value "
                  "\"SOMETIMES\" (one of FROM_PROTOCOL_DEFAULT, FROM_REQUEST_PORT)",
                  "vs.yaml:13:15: error: spec.http[1].directResponse.status: status 700 is "
                  "not within [200, 600]",
                  "vs.yaml:14:13: error: spec.http[1].directResponse.body: only one of "
                  "string or bytes may be set",
                  "vs.yaml:16:14: error: spec.http[2].rewrite: rewrite needs uri, "
                  "uriRegexRewrite or authority"));
}

TEST(VirtualServiceRules, TimeoutsRetriesAndFaults) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka}
    timeout: 0.5ms
    retries: {attempts: -2, perTryTimeout: 10x, retryOn: "5xx,bogus,503"}
    fault:
      abort: {httpStatus: 99, percentage: {value: 150}}
  - match: [{uri: {prefix: /f}}]
    route:
    - destination: {host: mocka}
    fault: {}
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("vs.yaml:10:14: error: spec.http[0].timeout: timeout \"0.5ms\" < 1ms",
                  "vs.yaml:11:25: error: spec.http[0].retries.attempts: attempts -2 < 0",
                  "vs.yaml:11:44: error: spec.http[0].retries.perTryTimeout: invalid duration "
                  "\"10x\" (expected e.g. \"1.5s\", \"100ms\", \"1m\")",
                  "vs.yaml:11:58: error: spec.http[0].retries.retryOn: invalid retry policy "
                  "\"bogus\"",
                  "vs.yaml:13:27: error: spec.http[0].fault.abort.httpStatus: httpStatus 99 "
                  "is not within [200, 600]",
                  "vs.yaml:13:51: error: spec.http[0].fault.abort.percentage.value: "
                  "percentage 150 is not within [0, 100]",
                  "vs.yaml:17:12: error: spec.http[1].fault: fault needs delay or abort"));
}

// Istio accepts a delay without a value (it delays nothing) and an abort
// without a status (it aborts nothing).
TEST(VirtualServiceRules, AFaultWithoutAValueIsValidAndDoesNothing) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka}
    fault:
      delay: {percentage: {value: 10}}
      abort: {percentage: {value: 10}}
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  ASSERT_EQ(m.snap().mesh_routes.begin()->second.size(), 1u);
  EXPECT_FALSE(m.snap().mesh_routes.begin()->second[0].actions.fault);
}

TEST(VirtualServiceRules, MirrorsAndCors) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka}
    mirror: {host: mockb}
    mirrors:
    - destination: {host: mockc}
      percentage: {value: 101}
    corsPolicy:
      allowMethods: [GET, FETCH]
      allowHeaders: ["x ok"]
      maxAge: 1.5s
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("vs.yaml:8:5: error: spec.http[0]: only one of mirror or mirrors may be set",
                  "vs.yaml:13:27: error: spec.http[0].mirrors[0].percentage.value: percentage "
                  "101 is not within [0, 100]",
                  "vs.yaml:15:27: error: spec.http[0].corsPolicy.allowMethods[1]: invalid "
                  "method \"FETCH\"",
                  "vs.yaml:16:22: error: spec.http[0].corsPolicy.allowHeaders[0]: invalid "
                  "header name \"x ok\"",
                  "vs.yaml:17:15: error: spec.http[0].corsPolicy.maxAge: maxAge must be "
                  "whole seconds"));
}

// Nothing accepted is ignored silently: each field the data plane does not
// apply says so, by name.
TEST(VirtualServiceRules, FieldsNotAppliedAreWarningsNamingThem) {
  const auto m = vs(R"(  - match: [{uri: {prefix: /a}, statPrefix: shop}]
    route:
    - destination: {host: mocka}
    retries: {attempts: 3, backoff: 1s, retryOn: "5xx,envoy-ratelimited"}
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(m.warnings(),
              ElementsAre("vs.yaml:8:45: warning: spec.http[0].match[0].statPrefix: not applied by "
                          "laneproxy",
                          "vs.yaml:11:50: warning: spec.http[0].retries.retryOn: not applied by "
                          "laneproxy: retry condition envoy-ratelimited"));
  ASSERT_EQ(m.snap().mesh_routes.begin()->second.size(), 1u);
  const auto& retry = m.snap().mesh_routes.begin()->second[0].retry;
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->backoff_base, std::chrono::seconds(1));
}

TEST(VirtualServiceRules, GrpcRetryConditionsApplyAndRefusedStreamSaysHow) {
  const auto m = vs(R"(  - match: [{uri: {prefix: /a}}]
    route:
    - destination: {host: mocka}
    retries: {attempts: 2, retryOn: "unavailable,deadline-exceeded,refused-stream"}
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(m.warnings(), ElementsAre(::testing::HasSubstr(
                                "retryOn: not applied by laneproxy: retry condition "
                                "refused-stream: a refused HTTP/2 stream is retried as a "
                                "reset")));
  const auto& retry = m.snap().mesh_routes.begin()->second[0].retry;
  ASSERT_TRUE(retry);
  EXPECT_THAT(retry->grpc_statuses, ElementsAre(14, 4));
  EXPECT_TRUE(retry->retries_status(200, 4));
  EXPECT_FALSE(retry->retries_status(200, 13));
  EXPECT_FALSE(retry->retries_status(200));
  // Istio's default: unavailable and cancelled.
  EXPECT_TRUE(config::retry_policy::istio_default().retries_status(200, 14));
  EXPECT_TRUE(config::retry_policy::istio_default().retries_status(200, 1));
}

TEST(VirtualServiceRules, FaultsAreReadAsSharesPerMillion) {
  const auto m = vs(R"(  - match: [{uri: {prefix: /new}}]
    route:
    - destination: {host: mocka}
    fault:
      delay: {fixedDelay: 1.5s, percentage: {value: 12.5}}
      abort: {httpStatus: 418, percentage: {value: 0.0001}}
  - match: [{uri: {prefix: /old}}]
    route:
    - destination: {host: mocka}
    fault:
      delay: {fixedDelay: 2s, percent: 30}
      abort: {grpcStatus: UNAVAILABLE}
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(m.warnings(), IsEmpty());
  const auto& rules = m.snap().mesh_routes.at("mocka.default");
  ASSERT_EQ(rules.size(), 2u);
  const auto& first = *rules[0].actions.fault;
  EXPECT_EQ(first.delay->fixed, std::chrono::milliseconds(1500));
  EXPECT_EQ(first.delay->per_million, 125000u);
  EXPECT_EQ(first.abort->http_status, 418);
  EXPECT_EQ(first.abort->per_million, 1u);
  const auto& second = *rules[1].actions.fault;
  EXPECT_EQ(second.delay->per_million, 300000u);  // the deprecated integer percent
  // A gRPC abort: HTTP 200 carrying the gRPC status, always when no share is set.
  ASSERT_TRUE(second.abort.has_value());
  EXPECT_EQ(second.abort->http_status, 200);
  EXPECT_EQ(second.abort->grpc_status, 14);  // UNAVAILABLE
}

TEST(VirtualServiceRules, DirectResponseBytesAreBase64Decoded) {
  const auto m = vs(R"(  - match: [{uri: {prefix: /b}}]
    directResponse: {status: 200, body: {bytes: aGVsbG8sIHdvcmxk}}
  - match: [{uri: {prefix: /c}}]
    directResponse: {status: 200, body: {bytes: "not base64!"}}
)");
  EXPECT_THAT(m.errors(), ElementsAre("vs.yaml:11:49: error: spec.http[1].directResponse.body."
                                      "bytes: bytes is not valid base64"));
  EXPECT_EQ(decode_base64("aGVsbG8sIHdvcmxk"), "hello, world");
  EXPECT_EQ(decode_base64("aGk="), "hi");
  EXPECT_EQ(decode_base64("aA=="), "h");
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_EQ(decode_base64("aGk"), std::nullopt);
  EXPECT_EQ(decode_base64("a=k="), std::nullopt);
  EXPECT_EQ(decode_base64("aG=k"), std::nullopt);
}

TEST(VirtualServiceRules, HeaderOperations) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka}
      headers:
        request:
          set: {"x ok": "1"}
    headers:
      response:
        remove: ["bad:name"]
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("vs.yaml:12:25: error: spec.http[0].route[0].headers.request.set.x ok: "
                          "invalid header name \"x ok\"",
                          "vs.yaml:15:18: error: spec.http[0].headers.response.remove[0]: invalid "
                          "header name \"bad:name\""));
}

TEST(VirtualServiceRules, DestinationFields) {
  const auto m = vs(R"(  - route:
    - destination: {host: "*", subset: V_1, port: {number: 0}}
      weight: 1
    - weight: 1
)");
  EXPECT_THAT(
      m.errors(),
      ElementsAre("vs.yaml:9:27: error: spec.http[0].route[0].destination.host: invalid host "
                  "\"*\"",
                  "vs.yaml:9:40: error: spec.http[0].route[0].destination.subset: invalid "
                  "subset name \"V_1\"",
                  "vs.yaml:9:60: error: spec.http[0].route[0].destination.port.number: "
                  "number 0 < 1",
                  "vs.yaml:11:7: error: spec.http[0].route[1].destination: destination is "
                  "required [IST0101]"));
}

TEST(VirtualServiceRules, DelegateNeedsAName) {
  const auto m = vs(R"(  - match: [{uri: {prefix: /d}}]
    delegate: {namespace: other}
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("vs.yaml:9:15: error: spec.http[0].delegate.name: name is required"));
}

TEST(VirtualServiceRules, MeshBoundWildcardHost) {
  const auto m = compile_yaml(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: all}
spec:
  hosts: ["*"]
  http:
  - directResponse: {status: 204}
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("mesh.yaml:5:11: error: spec.hosts[0]: wildcard host * is not "
                          "allowed for virtual services bound to the mesh gateway"));
}

TEST(VirtualServiceRules, NeedsHttpTcpOrTls) {
  const auto m = compile_yaml(R"(apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: empty}
spec:
  hosts: [mocka]
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("mesh.yaml:5:3: error: spec.http: http, tcp or tls must be provided"));
}

TEST(VirtualServiceRules, WrongTypesAreReportedNotThrown) {
  const auto m = compile_yaml(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: typed}
spec:
  hosts: mocka
  gateways: {a: b}
  http: "none"
)");
  EXPECT_THAT(m.errors(),
              ElementsAre("mesh.yaml:5:10: error: spec.hosts: expected a list, got \"mocka\"",
                          "mesh.yaml:6:13: error: spec.gateways: expected a list, got a mapping",
                          "mesh.yaml:7:9: error: spec.http: expected a list, got \"none\""));
}

TEST(VirtualServiceRules, UnknownFieldsAreWarnedAbout) {
  const auto m = vs(R"(  - route:
    - destination: {host: mocka}
      wieght: 10
)");
  EXPECT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(m.warnings(), ElementsAre("vs.yaml:10:7: warning: spec.http[0].route[0].wieght: "
                                        "unknown field \"wieght\" (ignored)"));
}

TEST(VirtualServiceRules, EveryApiVersionIsOneSchema) {
  for (const char* version : {"v1alpha3", "v1beta1", "v1"}) {
    const auto m = compile_yaml(
        testing::mock_apps({"v1"}) + "---\napiVersion: networking.istio.io/" + version +
        "\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [mocka]\n"
        "  http:\n  - route:\n    - destination: {host: mocka}\n");
    EXPECT_THAT(m.messages(), IsEmpty()) << version;
  }
  const auto m = compile_yaml(
      "apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: a}\nspec: {}\n");
  EXPECT_THAT(m.errors(), ElementsAre("mesh.yaml:1:13: error: apiVersion: unsupported apiVersion "
                                      "\"networking.istio.io/v2\" for VirtualService"));
}

TEST(DurationParsing, GoStyle) {
  using std::chrono::milliseconds;
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration("100ms"), milliseconds(100));
  EXPECT_EQ(parse_duration("1m30s"), milliseconds(90000));
  EXPECT_EQ(parse_duration("2h"), milliseconds(7200000));
  EXPECT_EQ(parse_duration("0"), milliseconds(0));
  EXPECT_FALSE(parse_duration("10"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("1d"));
}

}  // namespace
}  // namespace laneproxy::config

namespace laneproxy::config {
namespace {

// A wildcard SNI host lies within a broader wildcard host of the
// VirtualService (Istio: the SNI hosts are a subset of the hosts).
TEST(VirtualServiceRules, TlsSniHostsLieWithinTheHosts) {
  const auto m = testing::compile_yaml(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls}
spec:
  hosts: ["*.example.com"]
  gateways: [gw]
  tls:
  - match: [{sniHosts: ["*.shop.example.com", "a.example.com", "*.com"]}]
    route: [{destination: {host: shop.example.com}}]
)");
  EXPECT_THAT(m.errors(),
              ::testing::Contains(::testing::HasSubstr(
                  "sniHosts[2]: SNI host \"*.com\" is not within the VirtualService's hosts")));
  for (const auto& e : m.errors()) {
    EXPECT_THAT(e, ::testing::Not(::testing::HasSubstr("sniHosts[0]")));
    EXPECT_THAT(e, ::testing::Not(::testing::HasSubstr("sniHosts[1]")));
  }
}

TEST(VirtualServiceRules, ExportToThatIsNoListIsReportedOnce) {
  const auto m = testing::compile_yaml(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: one}
spec:
  hosts: [mocka]
  exportTo: "."
  http: [{directResponse: {status: 200}}]
)");
  EXPECT_THAT(m.errors(), ::testing::ElementsAre(
                              ::testing::HasSubstr("spec.exportTo: expected a list, got \".\"")));
}

}  // namespace
}  // namespace laneproxy::config

namespace laneproxy::config {
namespace {

// A Service's ClusterIPs are what captured calls to it are addressed to.
TEST(ServiceRules, ClusterIpsAreIpLiteralsOrNone) {
  const auto service = [](const std::string& spec) {
    return "apiVersion: v1\nkind: Service\nmetadata:\n  name: mockb\nspec:\n" + spec +
           "  ports:\n  - port: 8000\n";
  };
  const auto ok = testing::compile_yaml(
      service("  clusterIP: 10.96.0.20\n  clusterIPs: [10.96.0.20, \"fd00::20\"]\n") + "---\n" +
      service("  clusterIP: None\n").replace(service("").find("mockb"), 5, "mockh"));
  ASSERT_TRUE(ok.errors().empty()) << ::testing::PrintToString(ok.errors());
  EXPECT_THAT(ok.snap().services.at("mockb.default").cluster_ips,
              ::testing::ElementsAre("10.96.0.20", "fd00::20"));
  EXPECT_TRUE(ok.snap().services.at("mockh.default").cluster_ips.empty());
  const auto bad = testing::compile_yaml(service("  clusterIP: 10.96.0.300\n"));
  EXPECT_THAT(bad.errors(),
              ::testing::ElementsAre("mesh.yaml:6:14: error: spec.clusterIP: expected "
                                     "an IP literal or None, got \"10.96.0.300\""));
}

}  // namespace
}  // namespace laneproxy::config

namespace laneproxy::config {
namespace {

// A ServiceEntry host is a service: endpoints by resolution, the first port
// routed, and what is not applied said so.
TEST(ServiceEntryRules, HostsBecomeServicesWithTheirEndpoints) {
  const auto mesh = testing::compile_yaml(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: apis, namespace: shop}
spec:
  hosts: [api.example.com, "*.cdn.example.com"]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 443, name: tls, protocol: TLS}
  resolution: DNS
  endpoints:
  - {address: a.backend.example, ports: {http: 8080}}
  - {address: b.backend.example, labels: {zone: x}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: named, namespace: shop}
spec:
  hosts: [only-a-name.example]
  ports: [{number: 8000, name: http, targetPort: 9000}]
  resolution: DNS
)");
  ASSERT_TRUE(mesh.errors().empty()) << ::testing::PrintToString(mesh.errors());
  EXPECT_THAT(
      mesh.warnings(),
      ElementsAre("mesh.yaml:2:7: warning: spec.ports: not applied by laneproxy: ServiceEntry "
                  "shop/apis is routed on its first port (80) only: laneproxy keeps one endpoint "
                  "set per service",
                  "mesh.yaml:12:42: warning: spec.endpoints[1].labels: not applied by laneproxy: "
                  "every endpoint of a ServiceEntry gets an even share"));
  const auto& snap = mesh.snap();
  const auto* api = snap.resolve_host("API.example.com:80", "default");
  ASSERT_NE(api, nullptr);
  EXPECT_TRUE(api->external);
  EXPECT_EQ(api->key(), "api.example.com.shop");
  EXPECT_THAT(api->entry_endpoints, ElementsAre("a.backend.example:8080", "b.backend.example:80"));
  EXPECT_EQ(snap.resolve_host("x.cdn.example.com", "shop"), nullptr);  // wildcards: no endpoints
  EXPECT_THAT(snap.resolve_host("only-a-name.example", "shop")->entry_endpoints,
              ElementsAre("only-a-name.example:9000"));
}

}  // namespace
}  // namespace laneproxy::config
