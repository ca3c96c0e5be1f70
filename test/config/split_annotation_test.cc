// `laneproxy.io/split` and `laneproxy.io/split-key` on a VirtualService.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using testing::compile_yaml;

std::string mesh_with(const std::string& annotations, const std::string& dr_extra = "") {
  return testing::mock_apps({"v1", "v2"}) + testing::mock_gateway() +
         "---\napiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\n"
         "metadata: {name: mocka}\nspec:\n  host: mocka\n" +
         dr_extra +
         "  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: "
         "v2}}\n---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n"
         "metadata:\n  name: front\n  namespace: istio-system\n" +
         annotations +
         "spec:\n  hosts: ['*']\n  gateways: [ingressgateway]\n  http:\n  - route:\n"
         "    - {destination: {host: mocka.default.svc.cluster.local, subset: v1}, weight: 50}\n"
         "    - {destination: {host: mocka.default.svc.cluster.local, subset: v2}, weight: 50}\n";
}

const route_rule& the_rule(const testing::compiled_mesh& m) {
  return m.snap().gateways.at("istio-system/ingressgateway").rules.at(0);
}

TEST(SplitAnnotation, ModesAndKeys) {
  const auto none = compile_yaml(mesh_with(""));
  EXPECT_FALSE(the_rule(none).split.has_value());

  const auto smooth = compile_yaml(mesh_with("  annotations: {laneproxy.io/split: smooth}\n"));
  EXPECT_EQ(the_rule(smooth).split, split_mode::smooth);

  const auto sticky = compile_yaml(mesh_with(
      "  annotations: {laneproxy.io/split: sticky, laneproxy.io/split-key: header:X-User}\n"));
  EXPECT_EQ(the_rule(sticky).split, split_mode::sticky);
  EXPECT_EQ(the_rule(sticky).sticky_header, "x-user");

  // Without a key of its own, the DestinationRule's consistentHash.
  const auto from_dr = compile_yaml(mesh_with(
      "  annotations: {laneproxy.io/split: sticky}\n",
      "  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        httpCookie: {name: "
      "user, ttl: 0s}\n"));
  EXPECT_TRUE(from_dr.errors().empty()) << ::testing::PrintToString(from_dr.errors());
  EXPECT_EQ(the_rule(from_dr).sticky_cookie, "user");
}

TEST(SplitAnnotation, ErrorsNameTheAnnotation) {
  const auto bad = compile_yaml(
      mesh_with("  annotations: {laneproxy.io/split: fair, laneproxy.io/split-key: query:u}\n"));
  EXPECT_THAT(bad.errors(),
              ::testing::ElementsAre(
                  ::testing::HasSubstr("error: metadata.annotations.laneproxy.io/split: expected "
                                       "random, smooth or sticky, got \"fair\""),
                  ::testing::HasSubstr("error: metadata.annotations.laneproxy.io/split-key: "
                                       "expected header:NAME or cookie:NAME, got \"query:u\"")));
  const auto keyless = compile_yaml(mesh_with("  annotations: {laneproxy.io/split: sticky}\n"));
  EXPECT_THAT(keyless.errors(),
              ::testing::ElementsAre(::testing::HasSubstr(
                  "a sticky split needs laneproxy.io/split-key (header:NAME or cookie:NAME) or a "
                  "DestinationRule with consistentHash on a header or cookie")));
}

}  // namespace
}  // namespace laneproxy::config
