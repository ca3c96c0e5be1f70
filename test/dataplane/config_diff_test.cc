#include "dataplane/config_diff.h"

#include <gtest/gtest.h>

#include "support/mesh_fixture.h"

namespace laneproxy::dataplane {
namespace {

std::shared_ptr<const proxy_config> config_of(const std::vector<std::string>& lanes,
                                              const std::vector<int>& weights,
                                              const std::vector<std::string>& endpoints) {
  std::string yaml = testing::mock_apps(lanes) + testing::mock_lanes(lanes) +
                     testing::mock_gateway() +
                     "---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n"
                     "metadata: {name: mock, namespace: istio-system}\nspec:\n"
                     "  hosts: ['*']\n  gateways: [ingressgateway]\n  http:\n  - route:\n";
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    yaml += "    - destination: {host: mocka.default.svc.cluster.local, subset: " + lanes[i] +
            "}\n      weight: " + std::to_string(weights[i]) + "\n";
  }
  static std::vector<testing::compiled_mesh> keep;  // the snapshots outlive the test
  keep.push_back(testing::compile_yaml(yaml));
  config::bootstrap boot;
  config::service_endpoints e;
  e.service = "mocka.default";
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    e.by_subset[lanes[i]] = {{"127.0.0.1", static_cast<std::uint16_t>(9000 + i), {}}};
  }
  boot.endpoints.push_back(e);
  return std::make_shared<const proxy_config>(keep.back().result.snapshot, boot);
}

TEST(ConfigDiff, SaysWhatAReloadChanged) {
  const auto before = config_of({"v1", "v2"}, {50, 50}, {"a", "b"});
  const auto after = config_of({"v1", "v2", "v3"}, {60, 30, 10}, {"a", "b", "c"});
  EXPECT_EQ(describe_changes(before.get(), *after),
            "routes 1; weights istio-system/mock.http[0]: v1 50 v2 50 -> v1 60 v2 30 v3 10; "
            "lanes +v3; endpoints +1 -0");
  EXPECT_EQ(describe_changes(after.get(), *after), "routes 1");
  EXPECT_EQ(describe_changes(nullptr, *before),
            "routes 1; weights istio-system/mock.http[0]: v1 50 v2 50; lanes +v1 +v2; "
            "endpoints +2 -0");
}

}  // namespace
}  // namespace laneproxy::dataplane
