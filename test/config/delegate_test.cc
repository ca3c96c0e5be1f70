// VirtualService delegation as Istio merges it: a root's delegating rule
// replaced by its delegate's rules, matches combined, actions inherited.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using testing::compile_yaml;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Services mocka and mockb; a root at the gateway delegating /api to
// delegate `api` in namespace `team`.
std::string mesh(const std::string& root_rules, const std::string& delegate_rules) {
  return testing::service_yaml("mocka") + testing::service_yaml("mockb") +
         testing::gateway_yaml("gw") + testing::front_routes_yaml("front", "gw") + root_rules +
         "---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n"
         "metadata: {name: api, namespace: team}\nspec:\n  http:\n" +
         delegate_rules;
}

TEST(Delegate, RulesAreMergedInTheRootsPlace) {
  const auto m = compile_yaml(mesh(R"(  - name: first
    match: [{uri: {exact: /first}}]
    route: [{destination: {host: mocka}}]
  - name: api
    match: [{uri: {prefix: /api}, headers: {x-team: {exact: blue}}}]
    timeout: 3s
    retries: {attempts: 5}
    delegate: {name: api, namespace: team}
  - name: last
    route: [{destination: {host: mocka}}]
)",
                                   R"(  - name: v1
    match: [{uri: {prefix: /api/v1}, headers: {x-user: {exact: alice}}}]
    timeout: 1s
    route: [{destination: {host: mockb.default.svc.cluster.local}}]
  - route: [{destination: {host: mocka.default.svc.cluster.local}}]
)"));
  ASSERT_THAT(m.errors(), IsEmpty());
  const auto& rules = m.snap().gateways.at("istio-system/gw").rules;
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].name, "first");
  EXPECT_EQ(rules[1].name, "api-v1");
  EXPECT_EQ(rules[2].name, "api");  // the delegate's rule has no name of its own
  EXPECT_EQ(rules[3].name, "last");

  // The delegate's match, with the root's header added.
  const auto& v1 = rules[1];
  ASSERT_EQ(v1.matches.size(), 1u);
  ASSERT_TRUE(v1.matches[0].uri);
  EXPECT_TRUE(v1.matches[0].uri->matches("/api/v1/x"));
  EXPECT_FALSE(v1.matches[0].uri->matches("/api/v2"));
  EXPECT_EQ(v1.matches[0].headers.size(), 2u);
  ASSERT_EQ(v1.targets.size(), 1u);
  EXPECT_EQ(v1.targets[0].service, "mockb.default");
  // Its own timeout; the root's retries, which it leaves unset.
  EXPECT_EQ(v1.actions.timeout, std::chrono::seconds(1));
  ASSERT_TRUE(v1.retry);
  EXPECT_EQ(v1.retry->retries, 5u);

  // A delegate rule without a match takes the root's.
  const auto& rest = rules[2];
  ASSERT_EQ(rest.matches.size(), 1u);
  EXPECT_TRUE(rest.matches[0].uri->matches("/api/v2"));
  EXPECT_EQ(rest.matches[0].headers.size(), 1u);
  EXPECT_EQ(rest.actions.timeout, std::chrono::seconds(3));
}

TEST(Delegate, DestinationsResolveInTheDelegatesNamespace) {
  const auto m = compile_yaml(mesh(R"(  - match: [{uri: {prefix: /api}}]
    delegate: {name: api, namespace: team}
)",
                                   R"(  - route: [{destination: {host: mocka}}]
)"));
  // "mocka" in namespace team: there is none (the services live in default).
  EXPECT_THAT(m.errors(), ElementsAre(HasSubstr("referenced host not found: \"mocka\"")));
}

TEST(Delegate, AMatchOutsideTheRootsIsDroppedWithAWarning) {
  const auto m = compile_yaml(mesh(R"(  - match: [{uri: {prefix: /api}}, {uri: {exact: /exact}}]
    delegate: {name: api, namespace: team}
)",
                                   R"(  - name: elsewhere
    match: [{uri: {prefix: /other}}]
    route: [{destination: {host: mocka.default.svc.cluster.local}}]
  - name: regex
    match: [{uri: {regex: "/api/.*"}}]
    route: [{destination: {host: mocka.default.svc.cluster.local}}]
  - name: inside
    match: [{uri: {exact: /exact}}, {uri: {prefix: /api/x}}]
    route: [{destination: {host: mocka.default.svc.cluster.local}}]
)"));
  ASSERT_THAT(m.errors(), IsEmpty());
  EXPECT_THAT(m.warnings(),
              ElementsAre(HasSubstr("spec.http[0]: rule is not used: no match of it lies within"),
                          HasSubstr("spec.http[1]: rule is not used")));
  const auto& rules = m.snap().gateways.at("istio-system/gw").rules;
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].name, "inside");
  // /exact sits inside the root's exact match; /api/x inside its prefix.
  EXPECT_EQ(rules[0].matches.size(), 2u);
}

TEST(Delegate, MissingHostedAndNestedDelegatesAreErrors) {
  const auto m = compile_yaml(mesh(R"(  - match: [{uri: {prefix: /a}}]
    delegate: {name: nowhere}
  - match: [{uri: {prefix: /b}}]
    delegate: {name: front}
  - match: [{uri: {prefix: /c}}]
    delegate: {name: api, namespace: team}
)",
                                   R"(  - match: [{uri: {prefix: /c/d}}]
    delegate: {name: api, namespace: team}
)"));
  EXPECT_THAT(
      m.errors(),
      ElementsAre(HasSubstr("spec.http[0].delegate: referenced virtual service not found: "
                            "\"default/nowhere\""),
                  HasSubstr("spec.http[1].delegate: virtual service \"default/front\" has hosts"),
                  HasSubstr("spec.http[0].delegate: a delegate cannot delegate again")));
}

TEST(Delegate, ADelegateAloneServesNothing) {
  const auto m =
      compile_yaml(mesh("  - route: [{destination: {host: mocka}}]\n",
                        "  - route: [{destination: {host: mockb.default.svc.cluster.local}}]\n"));
  ASSERT_THAT(m.errors(), IsEmpty());
  EXPECT_EQ(m.snap().gateways.at("istio-system/gw").rules.size(), 1u);
  EXPECT_TRUE(m.snap().mesh_routes.empty());
}

}  // namespace
}  // namespace laneproxy::config
