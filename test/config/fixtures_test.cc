// The real upstream sample YAML (shared/fixtures/asm-labs) loads and compiles.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/mesh_compiler.h"
#include "config/resource_decoder.h"
#include "config/source_loader.h"
#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using testing::fixtures_dir;

std::size_t objects_in(const std::string& relative) {
  diagnostics diag;
  const auto sources = read_sources({fixtures_dir() + "/" + relative}, diag);
  EXPECT_EQ(sources.size(), 1u);
  std::size_t count = 0;
  for (const auto& s : sources) count += split_documents(s, diag).size();
  EXPECT_FALSE(diag.has_errors()) << relative;
  return count;
}

TEST(Fixtures, FolderIsThere) {
  ASSERT_TRUE(std::filesystem::is_directory(fixtures_dir()))
      << fixtures_dir() << " is missing: the shared fixtures must sit beside the repository";
}

TEST(Fixtures, EveryFileLoadsWithItsObjectCount) {
  EXPECT_EQ(objects_in("argo-cd-swimlane/mock-v1.yaml"), 6u);
  EXPECT_EQ(objects_in("argo-cd-swimlane/mock-v2.yaml"), 3u);
  EXPECT_EQ(objects_in("argo-cd-swimlane/mock-route.yaml"), 2u);
  EXPECT_EQ(objects_in("argo-cd-swimlane/swimlanegroup.yaml"), 1u);
  EXPECT_EQ(objects_in("argo-cd-swimlane/swimlanes.yaml"), 2u);
  EXPECT_EQ(objects_in("end-to-end-canary-deployment/v1/application-v1.yaml"), 6u);
  EXPECT_EQ(objects_in("end-to-end-canary-deployment/v1/istio-routes.yaml"), 7u);
  EXPECT_EQ(objects_in("end-to-end-canary-deployment/v2/application-v2.yaml"), 3u);
  EXPECT_EQ(objects_in("end-to-end-canary-deployment/v3/application-v3.yaml"), 3u);
  EXPECT_EQ(objects_in("fulllink-gray/v1/istio-routes.yaml"), 5u);
  EXPECT_EQ(objects_in("slow-start-mode/v1/istio-routes.yaml"), 5u);
}

struct loaded {
  diagnostics diag;
  load_result result;
};

loaded load_folder(const std::string& relative) {
  loaded out;
  out.result = load_mesh(read_sources({fixtures_dir() + "/" + relative}, out.diag), out.diag);
  return out;
}

TEST(Fixtures, ArgoCdSwimlaneCompilesCleanly) {
  const auto l = load_folder("argo-cd-swimlane");
  ASSERT_TRUE(l.result.snapshot);
  EXPECT_EQ(l.diag.items().size(), 0u);
  const auto& snap = *l.result.snapshot;
  EXPECT_EQ(l.result.objects, 14u);
  EXPECT_EQ(snap.services.size(), 3u);
  EXPECT_EQ(snap.workloads.size(), 6u);
  ASSERT_EQ(snap.lane_groups.count("mock"), 1u);
  const auto& group = snap.lane_groups.at("mock");
  EXPECT_FALSE(group.permissive);
  EXPECT_EQ(group.gateway, "istio-system/ingressgateway");
  EXPECT_EQ(group.lanes, (std::vector<std::string>{"v1", "v2"}));
  EXPECT_EQ(snap.workloads.at("mockb-v2.default").lane, "v2");
  EXPECT_EQ(snap.workloads.at("mockb-v2.default").services,
            (std::vector<std::string>{"mockb.default"}));

  // The VirtualService's subsets v1/v2 have no DestinationRule: they are lanes.
  const auto& mocka = snap.services.at("mocka.default");
  ASSERT_EQ(mocka.subsets.count("v2"), 1u);
  EXPECT_TRUE(mocka.subsets.at("v2").from_lane);
  EXPECT_EQ(mocka.subsets.at("v2").workloads, (std::vector<std::string>{"mocka-v2"}));

  const auto& gw = snap.gateways.at("istio-system/ingressgateway");
  ASSERT_EQ(gw.rules.size(), 1u);
  const auto& rule = gw.rules[0];
  ASSERT_EQ(rule.targets.size(), 2u);
  EXPECT_EQ(rule.targets[0].service, "mocka.default");
  EXPECT_EQ(rule.targets[0].subset, "v1");
  EXPECT_EQ(rule.targets[0].weight, 50u);
  EXPECT_EQ(rule.targets[1].subset, "v2");
  EXPECT_EQ(rule.total_weight, 100u);
  ASSERT_EQ(rule.matches.size(), 1u);
  EXPECT_TRUE(rule.matches[0].uri->matches("/mock"));
  EXPECT_FALSE(rule.matches[0].uri->matches("/mock/x"));
}

TEST(Fixtures, EndToEndCanaryCompilesWithItsDynamicSubset) {
  const auto l = load_folder("end-to-end-canary-deployment");
  ASSERT_TRUE(l.result.snapshot);
  EXPECT_EQ(l.diag.items().size(), 0u);
  const auto& snap = *l.result.snapshot;
  EXPECT_EQ(snap.workloads.size(), 9u);
  const auto& gw = snap.gateways.at("default/test-gateway");
  EXPECT_EQ(gw.rules.size(), 3u);
  // vs-mockb routes `subset: $userdefinelabel1`: ASM's "the request's lane".
  ASSERT_EQ(snap.mesh_routes.at("mockb.default").size(), 1u);
  const auto& target = snap.mesh_routes.at("mockb.default")[0].targets.at(0);
  EXPECT_TRUE(target.request_lane_subset);
  EXPECT_EQ(snap.services.at("mocka.default").subsets.at("v3").workloads,
            (std::vector<std::string>{"mocka-v3"}));
}

TEST(Fixtures, EveryFolderIsValid) {
  for (const char* folder :
       {"argo-cd-swimlane", "end-to-end-canary-deployment", "end-to-end-canary-deployment/v1",
        "fulllink-gray", "slow-start-mode"}) {
    const auto l = load_folder(folder);
    EXPECT_TRUE(l.result.snapshot) << folder;
    EXPECT_EQ(l.diag.error_count(), 0u) << folder;
  }
}

TEST(Fixtures, V1AloneWarnsAboutEmptySubsets) {
  const auto l = load_folder("end-to-end-canary-deployment/v1");
  ASSERT_TRUE(l.result.snapshot);
  ASSERT_EQ(l.diag.warning_count(), 6u);
  EXPECT_EQ(
      format(l.diag.items()[0]),
      fixtures_dir() +
          "/end-to-end-canary-deployment/v1/istio-routes.yaml:94:5: warning: spec.subsets[1]: "
          "subset \"v2\" of \"mocka.default\" selects no Deployment or Pod [IST0173]");
}

}  // namespace
}  // namespace laneproxy::config

namespace laneproxy::config {
namespace {

loaded load_paths(const std::vector<std::string>& paths) {
  loaded out;
  out.result = load_mesh(read_sources(paths, out.diag), out.diag);
  return out;
}

std::string sample(const std::string& name) {
  return std::string(LANEPROXY_SOURCE_DIR) + "/config/" + name;
}

TEST(Samples, EveryProjectSampleIsCleanlyValid) {
  for (const char* folder : {"swimlane", "header-routing", "permissive", "no-lanes"}) {
    const auto l = load_paths({sample(folder)});
    EXPECT_TRUE(l.result.snapshot) << folder;
    EXPECT_EQ(l.diag.items().size(), 0u) << folder;
  }
}

TEST(Samples, PermissiveSampleCompilesToPartialLanes) {
  const auto l = load_paths({sample("permissive")});
  ASSERT_TRUE(l.result.snapshot);
  const auto& snap = *l.result.snapshot;
  const auto& group = snap.lane_groups.at("mock");
  EXPECT_TRUE(group.permissive);
  EXPECT_EQ(group.trace_header, "x-request-id");
  EXPECT_EQ(group.fallback_target, "s1");
  EXPECT_EQ(snap.lanes.at("s2").members.count("mockb.default"), 0u);
  EXPECT_EQ(snap.lanes.at("s3").members.at("mockb.default"),
            (std::vector<std::string>{"mockb-v3"}));
  const auto& rules = snap.gateways.at("istio-system/ingressgateway").rules;
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].total_weight, 100u);
  EXPECT_EQ(rules[0].targets.size(), 3u);
}

TEST(Samples, V3StepReplacesTheRouteAndAddsALane) {
  std::vector<std::string> paths;
  for (const char* f : {"services.yaml", "mock-v1.yaml", "mock-v2.yaml", "gateway.yaml",
                        "lane-group.yaml", "lanes.yaml"}) {
    paths.push_back(sample("swimlane/") + f);
  }
  paths.push_back(sample("swimlane-v3"));
  const auto l = load_paths(paths);
  ASSERT_TRUE(l.result.snapshot);
  EXPECT_EQ(l.diag.items().size(), 0u);
  const auto& rule = l.result.snapshot->gateways.at("istio-system/ingressgateway").rules.at(0);
  ASSERT_EQ(rule.targets.size(), 3u);
  EXPECT_EQ(rule.targets[2].subset, "v3");
  EXPECT_EQ(rule.targets[0].weight, 60u);
  EXPECT_EQ(l.result.snapshot->lane_groups.at("mock").lanes,
            (std::vector<std::string>{"v1", "v2", "v3"}));
}

}  // namespace
}  // namespace laneproxy::config
