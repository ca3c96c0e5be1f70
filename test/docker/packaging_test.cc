// docker/: the image, the compose demo and the Kubernetes manifests, checked
// against config/ and the bootstrap files with the proxy's own loaders.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "support/container_model.h"
#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

namespace fs = std::filesystem;
const fs::path repo = LANEPROXY_SOURCE_DIR;
const fs::path docker = repo / "docker";

// The Deployment (by name) whose pods carry app=SERVICE, version=SUBSET.
std::string workload_for(const std::map<std::string, app_spec>& apps, const std::string& service,
                         const std::string& subset) {
  const auto short_name = service.substr(0, service.find('.'));
  for (const auto& [name, a] : apps) {
    const auto app = a.labels.find("app");
    const auto version = a.labels.find("version");
    if (app != a.labels.end() && app->second == short_name && version != a.labels.end() &&
        version->second == subset) {
      return name;
    }
  }
  return "";
}

TEST(Dockerfile, BuildsWithTheProjectScriptsAndRunsTheBinaryAsANonRootUser) {
  const auto image = read_dockerfile(docker / "Dockerfile");
  const auto text = read_text(docker / "Dockerfile");
  ASSERT_EQ(image.from.size(), 2u);
  // Any Debian 12 image builds; docker/base_image.sh makes one without a registry.
  EXPECT_NE(text.find("ARG BASE=debian\n"), std::string::npos);
  EXPECT_EQ(image.from[0], "${BASE}:bookworm AS build");
  EXPECT_EQ(image.from[1], "scratch");
  EXPECT_EQ(image.user, "1337:1337");  // numeric, so runAsNonRoot can verify it
  EXPECT_EQ(image.entrypoint, std::vector<std::string>{"laneproxy"});
  EXPECT_EQ(image.cmd, (std::vector<std::string>{"run", "--config",
                                                 "/etc/laneproxy/bootstrap/bootstrap.yaml"}));
  EXPECT_EQ(image.healthcheck, (std::vector<std::string>{"laneproxy", "probe",
                                                         "http://127.0.0.1:15021/healthz/ready"}));
  const auto runs = image.run_lines;
  const auto has = [&](const std::string& wanted) {
    for (const auto& r : runs) {
      if (r.find(wanted) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("bash scripts/setup.sh build"));
  EXPECT_TRUE(has("bash scripts/build.sh /build -DCMAKE_BUILD_TYPE=Release"));
  EXPECT_TRUE(has("bash docker/rootfs.sh /out/bin /rootfs"));
  // The run stage is rootfs.sh's output and nothing else.
  EXPECT_NE(text.find("FROM scratch\nCOPY --from=build /rootfs/ /\n"), std::string::npos);
}

TEST(Compose, EveryDeploymentRunsAsAnAppWithItsSidecarInItsNetworkNamespace) {
  const auto compose = read_compose(docker / "compose.yaml");
  const auto image = read_dockerfile(docker / "Dockerfile");
  const auto mesh = load_mesh_folder((repo / "config/swimlane").string());
  ASSERT_TRUE(mesh);
  const auto apps = apps_of(*mesh);
  ASSERT_EQ(apps.size(), 6u);
  std::set<std::string> expected{"gateway"};
  for (const auto& [name, a] : apps) {
    SCOPED_TRACE(name);
    expected.insert(name);
    expected.insert(name + "-sidecar");
    const auto* app = compose.find(name);
    const auto* sidecar = compose.find(name + "-sidecar");
    ASSERT_TRUE(app && sidecar);
    EXPECT_EQ(app->argv(image), std::vector<std::string>{"laneproxy-mock"});
    EXPECT_EQ(app->environment, packaged_env(a));
    EXPECT_EQ(app->healthcheck,
              (std::vector<std::string>{"CMD", "laneproxy", "probe",
                                        "tcp://127.0.0.1:" + std::to_string(a.port)}));
    EXPECT_TRUE(app->volumes.empty());
    EXPECT_FALSE(app->ipv4_address.empty());

    EXPECT_EQ(sidecar->network_mode, "service:" + name);
    EXPECT_EQ(sidecar->argv(image),
              (std::vector<std::string>{"laneproxy", "run", "--config",
                                        "/etc/laneproxy/bootstrap/" + name + ".yaml"}));
    EXPECT_EQ(sidecar->healthcheck, (std::vector<std::string>{"CMD", "laneproxy", "probe",
                                                              "http://127.0.0.1:15021/"
                                                              "healthz/ready"}));
    EXPECT_EQ(sidecar->depends_on, (std::map<std::string, std::string>{{name, "service_healthy"}}));
    for (const auto* s : {app, sidecar}) {
      EXPECT_EQ(s->image, "laneproxy:local");
      EXPECT_EQ(s->pull_policy, "never");  // built locally, never looked for in a registry
      EXPECT_TRUE(s->ports.empty());
    }
  }
  std::set<std::string> actual;
  for (const auto& s : compose.services) actual.insert(s.name);
  EXPECT_EQ(actual, expected);
}

TEST(Compose, BootstrapsFitTheMeshTheMountsAndTheNetwork) {
  const auto compose = read_compose(docker / "compose.yaml");
  const auto image = read_dockerfile(docker / "Dockerfile");
  const auto apps = apps_of(*load_mesh_folder((repo / "config/swimlane").string()));
  ASSERT_EQ(compose.subnet, "198.18.53.0/24");
  for (const auto& s : compose.services) {
    if (s.volumes.empty()) continue;
    SCOPED_TRACE(s.name);
    // The container's file system as the mounts make it.
    temp_dir root;
    const auto argv = materialize(s, image, root.path());
    for (const auto& v : s.volumes) EXPECT_TRUE(v.read_only) << v.container;
    ASSERT_EQ(argv.size(), 4u);
    const auto mesh = load_mesh_folder((root.path() / "etc/laneproxy/mesh").string());
    ASSERT_TRUE(mesh);
    const auto boot = load_bound_bootstrap(argv[3], *mesh);
    ASSERT_TRUE(boot.health && boot.stats);
    EXPECT_EQ(boot.health->text(), "0.0.0.0:15021");
    EXPECT_EQ(boot.stats->text(), "0.0.0.0:15090");
    EXPECT_EQ(boot.admin->text(), "127.0.0.1:15000");  // never beyond the pod
    if (s.name == "gateway") {
      ASSERT_TRUE(boot.gateway);
      EXPECT_EQ(boot.gateway->listen.text(), "0.0.0.0:8080");
    } else {
      const auto workload = s.network_mode.substr(8);
      ASSERT_TRUE(boot.sidecar);
      EXPECT_EQ(boot.sidecar->workload, workload);
      EXPECT_EQ(boot.sidecar->inbound.text(), "0.0.0.0:15006");
      EXPECT_EQ(boot.sidecar->app.text(), "127.0.0.1:" + std::to_string(apps.at(workload).port));
      EXPECT_EQ(boot.sidecar->outbound->text(), "127.0.0.1:15001");
    }
    // Every endpoint is a lane's pod on the network, at its sidecar's inbound port.
    std::size_t lanes = 0;
    for (const auto& e : boot.endpoints) {
      for (const auto& [subset, addresses] : e.by_subset) {
        const auto workload = workload_for(apps, e.service, subset);
        ASSERT_FALSE(workload.empty()) << e.service << " " << subset;
        ASSERT_EQ(addresses.size(), 1u);
        EXPECT_EQ(addresses.front().text(), compose.find(workload)->ipv4_address + ":15006");
        ++lanes;
      }
    }
    EXPECT_EQ(lanes, apps.size());
  }
}

TEST(Compose, OnlyTheGatewayIsPublishedOnLoopbackOnceEverySidecarIsHealthy) {
  const auto compose = read_compose(docker / "compose.yaml");
  const auto* gw = compose.find("gateway");
  ASSERT_TRUE(gw);
  EXPECT_EQ(gw->ports, std::vector<std::string>{"127.0.0.1:8080:8080"});
  std::map<std::string, std::string> sidecars;
  for (const auto& s : compose.services) {
    if (s.name.ends_with("-sidecar")) sidecars[s.name] = "service_healthy";
    if (s.name != "gateway") {
      EXPECT_TRUE(s.ports.empty()) << s.name;
    }
  }
  EXPECT_EQ(gw->depends_on, sidecars);
  const auto order = compose.start_order();
  EXPECT_EQ(order.back()->name, "gateway");
}

}  // namespace
}  // namespace laneproxy::testing
