// docker/k8s: the Deployments with laneproxy as a native sidecar, the lane
// Services, the gateway, the ConfigMaps kustomize generates and the Argo CD
// Application, checked against config/ and the bootstrap files.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <yaml-cpp/yaml.h>

#include "support/container_model.h"
#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

namespace fs = std::filesystem;
const fs::path repo = LANEPROXY_SOURCE_DIR;
const fs::path k8s = repo / "docker/k8s";

// Every document of the manifests in `file`, by "Kind/name".
std::map<std::string, YAML::Node> objects(const fs::path& file) {
  std::map<std::string, YAML::Node> out;
  for (const auto& doc : YAML::LoadAllFromFile(file.string())) {
    if (!doc.IsMap()) continue;
    out[doc["kind"].as<std::string>() + "/" + doc["metadata"]["name"].as<std::string>()] = doc;
  }
  return out;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& f : fs::directory_iterator(dir)) out.insert(f.path().filename().string());
  return out;
}

const config::mesh_snapshot& mesh() {
  static const auto snap = load_mesh_folder((k8s / "mesh").string());
  return *snap;
}

config::bootstrap load_boot(const std::string& name) {
  return load_bound_bootstrap((k8s / "bootstrap" / name).string(), mesh());
}

// The container named `name` in a list of containers.
YAML::Node container(const YAML::Node& list, const std::string& name) {
  for (const auto& c : list) {
    if (c["name"].as<std::string>() == name) return c;
  }
  return YAML::Node();
}

std::map<std::string, std::string> env_of(const YAML::Node& c) {
  std::map<std::string, std::string> out;
  for (const auto& e : c["env"]) out[e["name"].as<std::string>()] = e["value"].as<std::string>();
  return out;
}

// The pod spec mounts both ConfigMaps where the bootstraps expect them.
void expect_config_mounts(const YAML::Node& pod, const YAML::Node& proxy) {
  std::map<std::string, std::string> volumes, mounts;
  for (const auto& v : pod["volumes"]) {
    volumes[v["name"].as<std::string>()] = v["configMap"]["name"].as<std::string>();
  }
  for (const auto& m : proxy["volumeMounts"]) {
    mounts[m["mountPath"].as<std::string>()] = volumes[m["name"].as<std::string>()];
    EXPECT_TRUE(m["readOnly"].as<bool>(false));
    EXPECT_FALSE(m["subPath"]) << "a subPath mount never sees ConfigMap updates";
  }
  EXPECT_EQ(mounts, (std::map<std::string, std::string>{
                        {"/etc/laneproxy/mesh", "laneproxy-mesh"},
                        {"/etc/laneproxy/bootstrap", "laneproxy-bootstrap"}}));
}

void expect_health_probes(const YAML::Node& proxy, const config::bootstrap& boot) {
  for (const char* probe : {"startupProbe", "readinessProbe"}) {
    const auto get = proxy[probe]["httpGet"];
    ASSERT_TRUE(get) << probe;
    EXPECT_EQ(get["path"].as<std::string>(), "/healthz/ready");
    EXPECT_EQ(get["port"].as<unsigned>(), boot.health->port);
  }
  EXPECT_EQ(boot.health->ip, "0.0.0.0");  // a kubelet probes the pod's IP
  EXPECT_EQ(boot.admin->ip, "127.0.0.1");
}

TEST(Kubernetes, TheMeshConfigMapCarriesTheSampleAndKustomizeListsEveryFile) {
  for (const auto& name : names_in(repo / "config/swimlane")) {
    EXPECT_EQ(read_text(k8s / "mesh" / name), read_text(repo / "config/swimlane" / name)) << name;
  }
  EXPECT_EQ(names_in(k8s / "mesh"), names_in(repo / "config/swimlane"));
  const auto kustomization = YAML::LoadFile((k8s / "kustomization.yaml").string());
  EXPECT_TRUE(kustomization["generatorOptions"]["disableNameSuffixHash"].as<bool>());
  std::map<std::string, std::set<std::string>> generated;
  for (const auto& g : kustomization["configMapGenerator"]) {
    for (const auto& f : g["files"]) {
      generated[g["name"].as<std::string>()].insert(fs::path(f.as<std::string>()).filename());
    }
  }
  EXPECT_EQ(generated["laneproxy-mesh"], names_in(k8s / "mesh"));
  EXPECT_EQ(generated["laneproxy-bootstrap"], names_in(k8s / "bootstrap"));
  std::set<std::string> resources;
  for (const auto& r : kustomization["resources"]) resources.insert(r.as<std::string>());
  EXPECT_EQ(resources, (std::set<std::string>{"apps.yaml", "gateway.yaml", "lanes.yaml"}));
}

TEST(Kubernetes, EachDeploymentRunsItsAppWithLaneproxyAsANativeSidecar) {
  const auto apps = objects(k8s / "apps.yaml");
  ASSERT_EQ(apps.size(), mesh().workloads.size());
  const auto specs = apps_of(mesh());
  for (const auto& [key, w] : mesh().workloads) {
    SCOPED_TRACE(w.name);
    const auto it = apps.find("Deployment/" + w.name);
    ASSERT_NE(it, apps.end());
    const auto& d = it->second;
    const auto pod = d["spec"]["template"]["spec"];
    std::map<std::string, std::string> labels;
    for (const auto& l : d["spec"]["template"]["metadata"]["labels"]) {
      labels[l.first.as<std::string>()] = l.second.as<std::string>();
    }
    EXPECT_EQ(labels, (std::map<std::string, std::string>(w.labels.begin(), w.labels.end())));

    const auto app = container(pod["containers"], "app");
    ASSERT_TRUE(app);
    EXPECT_EQ(yaml_strings(app["command"]), std::vector<std::string>{"laneproxy-mock"});
    const auto want = packaged_env(specs.at(w.name));
    EXPECT_EQ(env_of(app), want);

    const auto proxy = container(pod["initContainers"], "laneproxy");
    ASSERT_TRUE(proxy);
    EXPECT_EQ(proxy["restartPolicy"].as<std::string>(), "Always");  // a native sidecar
    EXPECT_EQ(yaml_strings(proxy["args"]),
              (std::vector<std::string>{"run", "--config",
                                        "/etc/laneproxy/bootstrap/" + w.name + ".yaml"}));
    const auto boot = load_boot(w.name + ".yaml");
    ASSERT_TRUE(boot.sidecar && boot.health);
    EXPECT_EQ(boot.sidecar->workload, w.name);
    EXPECT_EQ(boot.sidecar->app.text(), want.at("bind"));
    EXPECT_EQ("http://" + boot.sidecar->outbound->text(), want.at("HTTP_PROXY"));
    expect_health_probes(proxy, boot);
    expect_config_mounts(pod, proxy);
    EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
    EXPECT_EQ(pod["securityContext"]["runAsUser"].as<unsigned>(), 1337u);
  }
}

TEST(Kubernetes, EveryEndpointIsALaneServiceAtTheSidecarsInboundPort) {
  // Lane Services by ClusterIP.
  std::map<std::string, YAML::Node> by_ip;
  for (const auto& [name, s] : objects(k8s / "lanes.yaml")) {
    by_ip[s["spec"]["clusterIP"].as<std::string>()] = s;
  }
  for (const auto& file : names_in(k8s / "bootstrap")) {
    SCOPED_TRACE(file);
    const auto boot = load_boot(file);
    std::size_t lanes = 0;
    for (const auto& e : boot.endpoints) {
      const auto short_name = e.service.substr(0, e.service.find('.'));
      for (const auto& [subset, addresses] : e.by_subset) {
        ASSERT_EQ(addresses.size(), 1u);
        const auto& a = addresses.front();
        const auto found = by_ip.find(a.ip);
        ASSERT_NE(found, by_ip.end()) << a.text() << " is no lane Service's ClusterIP";
        const auto& s = found->second;
        EXPECT_EQ(s["spec"]["selector"]["app"].as<std::string>(), short_name);
        EXPECT_EQ(s["spec"]["selector"]["version"].as<std::string>(), subset);
        EXPECT_EQ(s["spec"]["ports"][0]["port"].as<unsigned>(), a.port);
        EXPECT_EQ(s["spec"]["ports"][0]["targetPort"].as<unsigned>(), 15006u);
        ++lanes;
      }
    }
    EXPECT_EQ(lanes, by_ip.size());
  }
}

TEST(Kubernetes, TheGatewayServesItsListenerBehindAServiceAndArgoSyncsTheFolder) {
  const auto gw = objects(k8s / "gateway.yaml");
  const auto d = gw.at("Deployment/laneproxy-gateway");
  const auto pod = d["spec"]["template"]["spec"];
  const auto proxy = container(pod["containers"], "laneproxy");
  ASSERT_TRUE(proxy);
  EXPECT_EQ(yaml_strings(proxy["args"]),
            (std::vector<std::string>{"run", "--config", "/etc/laneproxy/bootstrap/gateway.yaml"}));
  const auto boot = load_boot("gateway.yaml");
  ASSERT_TRUE(boot.gateway);
  EXPECT_EQ(boot.gateway->gateway, "istio-system/ingressgateway");
  expect_health_probes(proxy, boot);
  expect_config_mounts(pod, proxy);
  const auto svc = gw.at("Service/laneproxy-gateway");
  EXPECT_EQ(svc["spec"]["ports"][0]["targetPort"].as<unsigned>(), boot.gateway->listen.port);
  const auto annotations = d["spec"]["template"]["metadata"]["annotations"];
  EXPECT_EQ(annotations["prometheus.io/port"].as<unsigned>(), boot.stats->port);
  EXPECT_EQ(annotations["prometheus.io/path"].as<std::string>(), "/stats/prometheus");

  const auto app = YAML::LoadFile((k8s / "argocd-application.yaml").string());
  EXPECT_EQ(app["kind"].as<std::string>(), "Application");
  const auto path = app["spec"]["source"]["path"].as<std::string>();
  EXPECT_TRUE(fs::exists(repo / path / "kustomization.yaml")) << path;
}

}  // namespace
}  // namespace laneproxy::testing
