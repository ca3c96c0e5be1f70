// laneproxy inject on the guide's folder, on its add-v3 step and on the
// upstream Argo CD sample: what each pod gets, the lane Services the
// bootstraps' names find, the mesh ConfigMap's exact texts, and output that
// depends on nothing but the input.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <yaml-cpp/yaml.h>

#include "config/dns_endpoints.h"
#include "config/source_loader.h"
#include "inject/injector.h"
#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

namespace fs = std::filesystem;
const fs::path repo = LANEPROXY_SOURCE_DIR;

using file_map = std::map<std::string, std::string>;

std::vector<config::source_file> sources_of(const std::vector<std::string>& paths) {
  config::diagnostics diag;
  auto out = config::read_sources(paths, diag);
  EXPECT_FALSE(diag.has_errors());
  return out;
}

// The files inject writes, by path; empty (and `diag` says why) on failure.
file_map inject_files(const std::vector<config::source_file>& sources, config::diagnostics& diag) {
  file_map out;
  if (const auto files = inject::inject(sources, {}, diag)) {
    for (const auto& f : *files) out[f.path] = f.text;
  }
  return out;
}

file_map inject_ok(const std::vector<config::source_file>& sources) {
  config::diagnostics diag;
  auto out = inject_files(sources, diag);
  for (const auto& d : diag.sorted()) ADD_FAILURE() << config::format(d);
  EXPECT_FALSE(out.empty());
  return out;
}

// The guide's folder with its add-v3 step: the route file replaced, the
// lane and the workloads added.
std::vector<config::source_file> guide_with_v3() {
  auto sources = sources_of({(repo / "config/swimlane").string()});
  for (auto& s : sources) {
    if (fs::path(s.name).filename() == "mock-route.yaml") {
      s.text = read_text(repo / "config/swimlane-v3/mock-route.yaml");
    }
  }
  for (const auto* f : {"lane-v3.yaml", "mock-v3.yaml"}) {
    sources.push_back(
        {(repo / "config/swimlane-v3" / f).string(), read_text(repo / "config/swimlane-v3" / f)});
  }
  return sources;
}

std::vector<YAML::Node> documents(const std::string& text) {
  return YAML::LoadAll(text);
}

YAML::Node named(const YAML::Node& list, const std::string& name) {
  for (const auto& c : list) {
    if (c["name"].as<std::string>() == name) return c;
  }
  return YAML::Node();
}

std::map<std::string, std::string> string_map(const YAML::Node& n) {
  std::map<std::string, std::string> out;
  for (const auto& kv : n) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  return out;
}

// A bootstrap written by inject, bound to `mesh` with its named endpoints
// added, as a proxy's load does.
config::bootstrap bound(const std::string& text, const config::mesh_snapshot& mesh) {
  config::diagnostics diag;
  auto boot = config::parse_bootstrap("/etc/laneproxy/bootstrap/bootstrap.yaml", text, diag);
  EXPECT_TRUE(boot);
  if (!boot) return {};
  config::resolve_bootstrap(*boot, mesh, diag);
  config::add_named_endpoints(*boot, mesh, diag);
  for (const auto& d : diag.sorted()) ADD_FAILURE() << config::format(d);
  return *boot;
}

TEST(Inject, EachDeploymentGetsCaptureAndLaneproxyAsANativeSidecar) {
  const auto mesh = load_mesh_folder((repo / "config/swimlane").string());
  const auto files = inject_ok(sources_of({(repo / "config/swimlane").string()}));
  ASSERT_EQ(mesh->workloads.size(), 6u);
  for (const auto& [key, w] : mesh->workloads) {
    SCOPED_TRACE(w.name);
    const auto file = files.find(w.ns + "/" + w.name + ".deployment.yaml");
    ASSERT_NE(file, files.end());
    const auto docs = documents(file->second);
    ASSERT_EQ(docs.size(), 2u);
    const auto& map = docs[0];
    const auto& d = docs[1];
    EXPECT_EQ(map["kind"].as<std::string>(), "ConfigMap");
    EXPECT_EQ(map["metadata"]["name"].as<std::string>(), "laneproxy-" + w.name);
    const auto boot = bound(map["data"]["bootstrap.yaml"].as<std::string>(), *mesh);
    ASSERT_TRUE(boot.sidecar);
    EXPECT_EQ(boot.sidecar->workload, w.name);
    EXPECT_EQ(boot.sidecar->app.text(), "127.0.0.1:8000");
    EXPECT_EQ(boot.sidecar->inbound.text(), "0.0.0.0:15006");
    EXPECT_EQ(boot.sidecar->outbound->text(), "127.0.0.1:15001");

    const auto pod = d["spec"]["template"]["spec"];
    ASSERT_EQ(pod["initContainers"].size(), 2u);
    const auto capture = pod["initContainers"][0];
    EXPECT_EQ(capture["name"].as<std::string>(), "laneproxy-capture");
    EXPECT_EQ(capture["args"][1].as<std::string>(), "install");
    EXPECT_EQ(capture["securityContext"]["capabilities"]["add"][0].as<std::string>(), "NET_ADMIN");
    const auto proxy = pod["initContainers"][1];
    EXPECT_EQ(proxy["name"].as<std::string>(), "laneproxy");
    EXPECT_EQ(proxy["restartPolicy"].as<std::string>(), "Always");
    EXPECT_EQ(proxy["securityContext"]["runAsUser"].as<int>(), 1337);
    EXPECT_EQ(proxy["startupProbe"]["httpGet"]["port"].as<int>(), 15021);
    EXPECT_EQ(named(pod["volumes"], "laneproxy-bootstrap")["configMap"]["name"].as<std::string>(),
              "laneproxy-" + w.name);
    EXPECT_EQ(named(pod["volumes"], "laneproxy-mesh")["configMap"]["name"].as<std::string>(),
              "laneproxy-mesh");
    // The app is left as written: no HTTP_PROXY, capture sends its calls.
    const auto app = named(pod["containers"], "app");
    ASSERT_TRUE(app.IsMap());
    for (const auto& e : app["env"]) EXPECT_NE(e["name"].as<std::string>(), "HTTP_PROXY");
    EXPECT_EQ(
        d["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"].as<std::string>(),
        "15090");
  }
}

// Every name a sidecar's or the gateway's bootstrap spells is a headless
// Service inject wrote, selecting the Service's pods of that lane.
TEST(Inject, EveryEndpointNameIsAHeadlessLaneService) {
  const auto mesh = load_mesh_folder((repo / "config/swimlane").string());
  const auto files = inject_ok(sources_of({(repo / "config/swimlane").string()}));
  std::map<std::string, YAML::Node> headless;  // DNS name -> Service
  for (const auto& [path, text] : files) {
    for (const auto& doc : documents(text)) {
      if (doc["kind"].as<std::string>() != "Service" || !doc["spec"]["clusterIP"]) continue;
      const auto name = doc["metadata"]["name"].as<std::string>() + "." +
                        doc["metadata"]["namespace"].as<std::string>() + ".svc.cluster.local.";
      headless[name] = doc;
    }
  }
  EXPECT_EQ(headless.size(), 6u);  // three services, two lanes each
  for (const auto* file :
       {"default/mockb-v2.deployment.yaml", "istio-system/laneproxy-ingressgateway.gateway.yaml"}) {
    SCOPED_TRACE(file);
    const auto boot =
        bound(documents(files.at(file))[0]["data"]["bootstrap.yaml"].as<std::string>(), *mesh);
    std::size_t names = 0;
    for (const auto& e : boot.endpoints) {
      const auto& svc = mesh->services.at(e.service);
      for (const auto& [subset, list] : e.by_subset) {
        ASSERT_EQ(list.size(), 1u);
        const auto s = headless.find(list.front().host);
        ASSERT_NE(s, headless.end()) << list.front().host;
        EXPECT_EQ(list.front().port, 15006);
        EXPECT_EQ(s->second["spec"]["clusterIP"].as<std::string>(), "None");
        EXPECT_EQ(s->second["spec"]["ports"][0]["targetPort"].as<int>(), 15006);
        auto want = svc.subsets.at(subset).labels;
        want.insert(svc.selector.begin(), svc.selector.end());
        EXPECT_EQ(string_map(s->second["spec"]["selector"]),
                  (std::map<std::string, std::string>(want.begin(), want.end())));
        ++names;
      }
    }
    EXPECT_EQ(names, headless.size());
  }
  const auto gw = documents(files.at("istio-system/laneproxy-ingressgateway.gateway.yaml"));
  ASSERT_EQ(gw.size(), 3u);
  EXPECT_EQ(gw[2]["spec"]["ports"][0]["port"].as<int>(), 80);
  EXPECT_EQ(gw[2]["spec"]["ports"][0]["targetPort"].as<int>(), 8080);
  EXPECT_EQ(string_map(gw[1]["spec"]["template"]["metadata"]["labels"]),
            (std::map<std::string, std::string>{{"istio", "ingressgateway"}}));
}

// The mesh ConfigMap holds each file's text exactly, in every namespace
// that runs a proxy; Istio and ASM resources go nowhere else.
TEST(Inject, TheMeshConfigMapHoldsEachFileExactly) {
  const auto sources = sources_of({(repo / "config/swimlane").string()});
  const auto files = inject_ok(sources);
  for (const auto* ns : {"default", "istio-system"}) {
    const auto map = YAML::Load(files.at(std::string(ns) + "/laneproxy-mesh.configmap.yaml"));
    ASSERT_EQ(map["data"].size(), sources.size());
    for (const auto& s : sources) {
      const auto key = fs::path(s.name).filename().string();
      EXPECT_EQ(map["data"][key].as<std::string>(), s.text) << ns << " " << key;
    }
  }
  for (const auto& [path, text] : files) {
    if (path.ends_with("laneproxy-mesh.configmap.yaml")) continue;
    EXPECT_EQ(text.find("istio.io/"), std::string::npos) << path;
    EXPECT_EQ(text.find("alibabacloud.com/"), std::string::npos) << path;
  }
  // Texts a literal block cannot hold stay exact too.
  std::vector<config::source_file> odd = sources;
  odd.front().text += "# trailing space \n\n";
  const auto again = inject_ok(odd);
  const auto map = YAML::Load(again.at("default/laneproxy-mesh.configmap.yaml"));
  EXPECT_EQ(map["data"][fs::path(odd.front().name).filename().string()].as<std::string>(),
            odd.front().text);
}

TEST(Inject, TheSameInputGivesTheSameFilesWhateverTheOrder) {
  auto sources = sources_of({(repo / "config/swimlane").string()});
  const auto first = inject_ok(sources);
  std::reverse(sources.begin(), sources.end());
  EXPECT_EQ(inject_ok(sources), first);
  const auto k = YAML::Load(first.at("kustomization.yaml"));
  std::set<std::string> listed;
  for (const auto& r : k["resources"]) listed.insert(r.as<std::string>());
  std::set<std::string> written;
  for (const auto& [path, text] : first) {
    if (path != "kustomization.yaml") written.insert(path);
  }
  EXPECT_EQ(listed, written);
}

// The guide's "add v3": the diff is the new workloads, their lane Services
// and the changed weights (the mesh ConfigMaps), and the kustomization
// listing the new files. No other workload's bootstrap changes: endpoints
// are named after the mesh.
TEST(Inject, AddingV3ChangesOnlyTheNewWorkloadsTheirLanesAndTheWeights) {
  const auto before = inject_ok(sources_of({(repo / "config/swimlane").string()}));
  const auto after = inject_ok(guide_with_v3());
  std::set<std::string> added, changed, removed;
  for (const auto& [path, text] : after) {
    const auto old = before.find(path);
    if (old == before.end()) {
      added.insert(path);
    } else if (old->second != text) {
      changed.insert(path);
    }
  }
  for (const auto& [path, text] : before) {
    if (!after.contains(path)) removed.insert(path);
  }
  EXPECT_EQ(added, (std::set<std::string>{
                       "default/mocka-v3.deployment.yaml", "default/mocka-v3.service.yaml",
                       "default/mockb-v3.deployment.yaml", "default/mockb-v3.service.yaml",
                       "default/mockc-v3.deployment.yaml", "default/mockc-v3.service.yaml"}));
  EXPECT_EQ(changed, (std::set<std::string>{"default/laneproxy-mesh.configmap.yaml",
                                            "istio-system/laneproxy-mesh.configmap.yaml",
                                            "kustomization.yaml"}));
  EXPECT_TRUE(removed.empty());
  const auto map = YAML::Load(after.at("default/laneproxy-mesh.configmap.yaml"));
  EXPECT_EQ(map["data"]["mock-route.yaml"].as<std::string>(),
            read_text(repo / "config/swimlane-v3/mock-route.yaml"));
}

// The upstream Argo CD sample as it is: its Deployments, Services, lanes and
// route become the same objects as the guide's.
TEST(Inject, TheUpstreamArgoCdSampleInjects) {
  const auto files = inject_ok(sources_of({fixtures_dir() + "/argo-cd-swimlane"}));
  const auto guide = inject_ok(sources_of({(repo / "config/swimlane").string()}));
  std::set<std::string> paths, guide_paths;
  for (const auto& [path, text] : files) paths.insert(path);
  for (const auto& [path, text] : guide) guide_paths.insert(path);
  EXPECT_EQ(paths, guide_paths);
  const auto lane = YAML::Load(files.at("default/mockb-v2.service.yaml"));
  EXPECT_EQ(string_map(lane["spec"]["selector"]),
            (std::map<std::string, std::string>{{"app", "mockb"}, {"version", "v2"}}));
}

TEST(Inject, ADeploymentInjectedAlreadyIsRefusedWithItsFileAndLine) {
  const auto files = inject_ok(sources_of({(repo / "config/swimlane").string()}));
  std::vector<config::source_file> again;
  for (const auto& [path, text] : files) {
    if (path.ends_with(".deployment.yaml")) again.push_back({path, text});
  }
  for (const auto& s : sources_of({(repo / "config/swimlane").string()})) {
    if (!s.name.ends_with("mock-v1.yaml") && !s.name.ends_with("mock-v2.yaml")) again.push_back(s);
  }
  config::diagnostics diag;
  EXPECT_TRUE(inject_files(again, diag).empty());
  ASSERT_TRUE(diag.has_errors());
  std::string first;
  for (const auto& d : diag.sorted()) {
    if (d.level == config::severity::error && first.empty()) first = config::format(d);
  }
  EXPECT_NE(first.find("default/mocka-v1.deployment.yaml:"), std::string::npos) << first;
  EXPECT_NE(first.find("already has a container \"laneproxy"), std::string::npos) << first;
}

// Quoted scalars stay strings: an env value "8000" or "true" would be a
// number or a boolean that Kubernetes refuses in an env var.
TEST(Inject, QuotedScalarsStayQuoted) {
  auto yaml = mock_apps({"v1"}) + mock_gateway();
  const auto at = yaml.find("env:");
  ASSERT_NE(at, std::string::npos);
  yaml.insert(yaml.find('\n', at) + 1,
              "        - {name: PORT, value: \"8000\"}\n        - {name: DEBUG, value: 'true'}\n");
  const auto files = inject_ok({{"apps.yaml", yaml}});
  const auto text = files.at("default/mocka-v1.deployment.yaml");
  EXPECT_NE(text.find("value: \"8000\""), std::string::npos) << text;
  EXPECT_NE(text.find("value: \"true\""), std::string::npos) << text;
}

}  // namespace
}  // namespace laneproxy::testing
