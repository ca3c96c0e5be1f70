// Route lookup: virtual hosts by domain, first match wins, every condition.
#include "route/route_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mesh_fixture.h"

namespace laneproxy::route {
namespace {

using testing::compile_yaml;

// Gateway rules from one VirtualService in istio-system bound to the guide's
// gateway; `http` is its `http:` list.
struct gateway_fixture {
  testing::compiled_mesh mesh;
  std::unique_ptr<route_table> table;

  explicit gateway_fixture(const std::string& http, const std::string& hosts = "[\"*\"]") {
    mesh = compile_yaml({{"apps.yaml", testing::mock_apps({"v1", "v2"})},
                         {"gw.yaml", testing::mock_gateway()},
                         {"lanes.yaml", testing::mock_lanes({"v1", "v2"})},
                         {"vs.yaml",
                          "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                          "metadata: {name: vs, namespace: istio-system}\nspec:\n"
                          "  gateways: [ingressgateway]\n  hosts: " +
                              hosts + "\n  http:\n" + http}});
    EXPECT_THAT(mesh.errors(), ::testing::IsEmpty());
    table =
        std::make_unique<route_table>(mesh.snap().gateways.at("istio-system/ingressgateway").rules);
  }

  std::string route(std::string_view target, const header_list& headers = {},
                    std::string_view method = "GET", std::string_view authority = "example.com") {
    request_view req{method, target, authority, "http", 80, nullptr, nullptr};
    headers.attach(req);
    const auto* rule = table->match(req);
    return rule ? rule->name : "NR";
  }
};

TEST(RouteTable, FirstMatchWins) {
  gateway_fixture f(R"(  - name: v2-by-header
    match:
    - uri: {exact: /mock}
      headers: {x-asm-prefer-tag: {exact: v2}}
    route: [{destination: {host: mocka.default.svc.cluster.local, subset: v2}}]
  - name: mock
    match: [{uri: {exact: /mock}}]
    route: [{destination: {host: mocka.default.svc.cluster.local, subset: v1}}]
  - name: shadowed
    match: [{uri: {exact: /mock}}]
    route: [{destination: {host: mocka.default.svc.cluster.local, subset: v2}}]
)");
  EXPECT_EQ(f.route("/mock", {{{"x-asm-prefer-tag", "v2"}}}), "v2-by-header");
  EXPECT_EQ(f.route("/mock", {{{"x-asm-prefer-tag", "v1"}}}), "mock");
  EXPECT_EQ(f.route("/mock"), "mock");
  EXPECT_EQ(f.route("/other"), "NR");
}

TEST(RouteTable, UriMatchesExcludeTheQuery) {
  gateway_fixture f(R"(  - name: exact
    match: [{uri: {exact: /mock}}]
    route: [{destination: {host: mocka.default}}]
  - name: prefix
    match: [{uri: {prefix: /api/}}]
    route: [{destination: {host: mocka.default}}]
  - name: regex
    match: [{uri: {regex: "/v[0-9]+/items"}}]
    route: [{destination: {host: mocka.default}}]
  - name: nocase
    match: [{uri: {exact: /Case}, ignoreUriCase: true}]
    route: [{destination: {host: mocka.default}}]
)");
  EXPECT_EQ(f.route("/mock?debug=1"), "exact");
  EXPECT_EQ(f.route("/mock/"), "NR");
  EXPECT_EQ(f.route("/api/x?y"), "prefix");
  EXPECT_EQ(f.route("/v12/items?page=2"), "regex");
  EXPECT_EQ(f.route("/v12/items/3"), "NR");
  EXPECT_EQ(f.route("/cASE"), "nocase");
}

TEST(RouteTable, HeaderConditions) {
  gateway_fixture f(R"(  - name: prefix
    match: [{headers: {x-user: {prefix: admin-}}}]
    route: [{destination: {host: mocka.default}}]
  - name: regex
    match: [{headers: {x-user: {regex: "[0-9]+"}}}]
    route: [{destination: {host: mocka.default}}]
  - name: present
    match: [{headers: {x-debug: {}}}]
    route: [{destination: {host: mocka.default}}]
  - name: not-canary
    match: [{withoutHeaders: {x-canary: {exact: "1"}}}]
    route: [{destination: {host: mocka.default}}]
)");
  EXPECT_EQ(f.route("/", {{{"x-user", "admin-7"}}}), "prefix");
  EXPECT_EQ(f.route("/", {{{"x-user", "42"}, {"x-canary", "1"}}}), "regex");
  EXPECT_EQ(f.route("/", {{{"x-debug", ""}, {"x-canary", "1"}}}), "present");
  // withoutHeaders: a missing header counts as "", which is not "1".
  EXPECT_EQ(f.route("/"), "not-canary");
  EXPECT_EQ(f.route("/", {{{"x-canary", "0"}}}), "not-canary");
  EXPECT_EQ(f.route("/", {{{"x-canary", "1"}}}), "NR");
}

TEST(RouteTable, MethodAuthorityAndQueryParams) {
  gateway_fixture f(R"(  - name: post
    match: [{method: {exact: POST}}]
    route: [{destination: {host: mocka.default}}]
  - name: authority
    match: [{authority: {prefix: api.}}]
    route: [{destination: {host: mocka.default}}]
  - name: query
    match: [{queryParams: {lane: {exact: v2}, debug: {}}}]
    route: [{destination: {host: mocka.default}}]
)");
  EXPECT_EQ(f.route("/", {}, "POST"), "post");
  EXPECT_EQ(f.route("/", {}, "GET", "api.example.com"), "authority");
  EXPECT_EQ(f.route("/x?debug&lane=v2"), "query");
  EXPECT_EQ(f.route("/x?lane=v2"), "NR");
  EXPECT_EQ(f.route("/x?debug=1&lane=v3"), "NR");
}

TEST(RouteTable, VirtualHostsByDomainPrecedence) {
  const auto mesh = compile_yaml({{"apps.yaml", testing::mock_apps({"v1"})},
                                  {"gw.yaml", testing::mock_gateway()},
                                  {"vs.yaml", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: any, namespace: istio-system}
spec:
  gateways: [ingressgateway]
  hosts: ["*"]
  http: [{name: any, route: [{destination: {host: mocka.default}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild, namespace: istio-system}
spec:
  gateways: [ingressgateway]
  hosts: ["*.example.com"]
  http:
  - name: wild
    match: [{uri: {prefix: /w}}]
    route: [{destination: {host: mocka.default}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild-api, namespace: istio-system}
spec:
  gateways: [ingressgateway]
  hosts: ["*.api.example.com"]
  http:
  - name: wild
    match: [{uri: {prefix: /w}}]
    route: [{destination: {host: mocka.default}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: exact, namespace: istio-system}
spec:
  gateways: [ingressgateway]
  hosts: [shop.example.com]
  http: [{name: exact, route: [{destination: {host: mocka.default}}]}]
)"}});
  ASSERT_THAT(mesh.errors(), ::testing::IsEmpty());
  const route_table table(mesh.snap().gateways.at("istio-system/ingressgateway").rules);
  auto route = [&](std::string_view authority, std::string_view target = "/w") {
    const request_view req{"GET", target, authority, "http", 80, nullptr, nullptr};
    const auto* rule = table.match(req);
    return rule ? rule->name : std::string("NR");
  };
  EXPECT_EQ(route("shop.example.com"), "exact");
  EXPECT_EQ(route("SHOP.example.com:8080"), "exact");
  EXPECT_EQ(route("a.example.com"), "wild");
  EXPECT_EQ(route("v1.api.example.com"), "wild");
  EXPECT_EQ(route("other.org"), "any");
  // A domain's virtual host is final: no fallback to "*" when its rules miss.
  EXPECT_EQ(route("a.example.com", "/x"), "NR");
  EXPECT_EQ(table.virtual_hosts(), 4u);
}

// Many exact hosts, some sharing a VirtualService: each finds its own rules,
// and a host that is not there (a near miss, a prefix) finds none, after a
// move of the table too.
TEST(RouteTable, ManyExactHostsEachFindTheirOwnRules) {
  std::string yaml;
  constexpr int n = 300;
  for (int i = 0; i < n; i += 2) {
    const auto a = "h" + std::to_string(i) + ".example.org";
    const auto b = "h" + std::to_string(i + 1) + ".example.org";
    yaml += "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs" +
            std::to_string(i) +
            ", namespace: istio-system}\nspec:\n  gateways: [ingressgateway]\n" + "  hosts: [" + a +
            ", " + b + "]\n  http: [{name: r" + std::to_string(i) +
            ", route: [{destination: {host: mocka.default}}]}]\n";
  }
  const auto mesh = compile_yaml({{"apps.yaml", testing::mock_apps({"v1"})},
                                  {"gw.yaml", testing::mock_gateway()},
                                  {"vs.yaml", yaml}});
  ASSERT_THAT(mesh.errors(), ::testing::IsEmpty());
  route_table built(mesh.snap().gateways.at("istio-system/ingressgateway").rules);
  const route_table table(std::move(built));
  EXPECT_EQ(table.virtual_hosts(), static_cast<std::size_t>(n) + 1);
  auto route = [&](const std::string& authority) {
    const request_view req{"GET", "/", authority, "http", 80, nullptr, nullptr};
    const auto* rule = table.match(req);
    return rule ? rule->name : std::string("NR");
  };
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(route("h" + std::to_string(i) + ".example.org"), "r" + std::to_string(i - i % 2));
  }
  EXPECT_EQ(route("h300.example.org"), "NR");
  EXPECT_EQ(route("h1.example.or"), "NR");
  EXPECT_EQ(route("h1.example.org.evil"), "NR");
  EXPECT_EQ(route(""), "NR");
}

}  // namespace
}  // namespace laneproxy::route
