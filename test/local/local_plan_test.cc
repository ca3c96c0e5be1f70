// Planning `laneproxy local`: addresses, environments, bootstraps, the
// gateway served, and the overlay file.
#include "local/local_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::local {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

std::string mesh_yaml(const std::vector<std::string>& versions) {
  return testing::mock_apps(versions) + testing::mock_lanes(versions) + testing::mock_gateway();
}

TEST(LocalPlan, EveryDeploymentIsAPodOnItsOwnAddress) {
  const auto mesh = testing::compile_yaml(mesh_yaml({"v1", "v2"}));
  config::diagnostics diag;
  local_options options;
  options.app_command = "/bin/mock";
  const auto plan = plan_local(mesh.snap(), options, {}, diag);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->pods.size(), 6u);
  EXPECT_EQ(plan->gateway, "istio-system/ingressgateway");
  const auto& a1 = plan->pods.front();
  EXPECT_EQ(a1.name, "mocka-v1");
  EXPECT_EQ(a1.lane, "v1");
  EXPECT_EQ(a1.address(), "127.0.1.1:8000");
  EXPECT_EQ(plan->pods.back().address(), "127.0.1.6:8000");
  EXPECT_EQ(a1.argv, std::vector<std::string>{"/bin/mock"});
  EXPECT_THAT(a1.env, Contains(Pair("app", "mocka")));
  EXPECT_THAT(a1.env, Contains(Pair("upstream_url", "http://mockb:8000/")));
  EXPECT_THAT(a1.env, Contains(Pair("bind", "127.0.1.1:8000")));
  EXPECT_THAT(a1.env, Contains(Pair("HTTP_PROXY", "http://127.0.1.1:15001")));
  EXPECT_THAT(a1.sidecar_bootstrap, HasSubstr("  workload: mocka-v1\n"));
  EXPECT_THAT(a1.sidecar_bootstrap, HasSubstr("  inbound: 127.0.1.1:15006\n"));
  // mockb's lanes point at mockb's pods' inbound listeners.
  EXPECT_THAT(a1.sidecar_bootstrap,
              HasSubstr("  mockb.default:\n    v1:\n    - 127.0.1.3:15006\n    v2:\n"
                        "    - 127.0.1.4:15006\n"));
  EXPECT_THAT(plan->gateway_bootstrap, HasSubstr("  listen: 127.0.0.1:8080\n"));
  EXPECT_THAT(plan->gateway_bootstrap, HasSubstr("admin: 127.0.0.1:15000\n"));
  EXPECT_THAT(plan->gateway_bootstrap, Not(HasSubstr("accessLog")));  // the bootstrap's default
}

TEST(LocalPlan, AnAccessLogFormatGoesToEveryProxy) {
  const auto mesh = testing::compile_yaml(mesh_yaml({"v1", "v2"}));
  config::diagnostics diag;
  local_options options;
  options.access_log = "off";
  const auto plan = plan_local(mesh.snap(), options, {}, diag);
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->gateway_bootstrap, HasSubstr("\naccessLog: \"off\"\n"));
  for (const auto& pod : plan->pods) {
    EXPECT_THAT(pod.sidecar_bootstrap, HasSubstr("\naccessLog: \"off\"\n")) << pod.name;
  }
}

TEST(LocalPlan, PodsKeepTheirAddressesAcrossEdits) {
  const auto before = testing::compile_yaml(mesh_yaml({"v1", "v2"}));
  const auto after = testing::compile_yaml(mesh_yaml({"v1", "v3"}));
  config::diagnostics diag;
  const auto first = plan_local(before.snap(), {}, {}, diag);
  ASSERT_TRUE(first);
  std::map<std::string, std::string> addresses;
  for (const auto& p : first->pods) addresses[p.key] = p.ip;
  const auto second = plan_local(after.snap(), {}, addresses, diag);
  ASSERT_TRUE(second);
  std::set<std::string> ips;
  for (const auto& p : second->pods) {
    // Pods that stay keep their address; the v3 pods take free ones (the
    // v2 pods' addresses are free again: those pods are gone).
    if (addresses.contains(p.key)) {
      EXPECT_EQ(p.ip, addresses.at(p.key)) << p.name;
    }
    EXPECT_TRUE(ips.insert(p.ip).second) << p.ip << " given twice";
  }
  EXPECT_EQ(ips.size(), 6u);
}

TEST(LocalPlan, ReportsWhatItCannotServe) {
  const auto no_gateway = testing::compile_yaml(testing::mock_apps({"v1"}));
  config::diagnostics diag;
  EXPECT_FALSE(plan_local(no_gateway.snap(), {}, {}, diag));
  ASSERT_EQ(diag.items().size(), 1u);
  EXPECT_THAT(diag.items()[0].message, HasSubstr("no Gateway in the mesh"));

  const auto mesh = testing::compile_yaml(mesh_yaml({"v1"}));
  config::diagnostics diag2;
  local_options options;
  options.pod_base = "10.0.0.1";
  EXPECT_FALSE(plan_local(mesh.snap(), options, {}, diag2));
  EXPECT_THAT(diag2.items().at(0).message, HasSubstr("IPv4 loopback"));
}

TEST(LocalPlan, OverlayMapsDeploymentsToCommands) {
  testing::temp_dir dir;
  config::diagnostics diag;
  const auto commands =
      load_overlay(dir.write("overlay.yaml",
                             "pods:\n  mocka-v1:\n    command: [python3, app.py]\n"
                             "  mockb-v1:\n    cmd: [x]\n"),
                   diag);
  EXPECT_EQ(commands.at("mocka-v1"), (std::vector<std::string>{"python3", "app.py"}));
  std::vector<std::string> messages;
  for (const auto& d : diag.sorted()) messages.push_back(config::format(d));
  EXPECT_THAT(messages,
              ::testing::ElementsAre(
                  HasSubstr("overlay.yaml:5:5: warning: pods.mockb-v1.cmd: unknown field"),
                  HasSubstr("overlay.yaml:5:5: error: pods.mockb-v1.command: command is "
                            "required")));
}

}  // namespace
}  // namespace laneproxy::local
