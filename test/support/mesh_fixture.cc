#include "support/mesh_fixture.h"

#include "config/source_loader.h"

#include <gtest/gtest.h>

namespace laneproxy::testing {

namespace {
// In file, line and column order, as `laneproxy validate` prints them.
std::vector<std::string> filtered(const config::diagnostics& diag, bool errors, bool warnings) {
  std::vector<std::string> out;
  for (const auto& d : diag.sorted()) {
    const bool keep = (d.level == config::severity::error && errors) ||
                      (d.level == config::severity::warning && warnings) ||
                      (d.level == config::severity::note && errors && warnings);
    if (keep) out.push_back(config::format(d));
  }
  return out;
}
}  // namespace

std::vector<std::string> compiled_mesh::messages() const {
  return filtered(diag, true, true);
}
std::vector<std::string> compiled_mesh::errors() const {
  return filtered(diag, true, false);
}
std::vector<std::string> compiled_mesh::warnings() const {
  return filtered(diag, false, true);
}

const config::mesh_snapshot& compiled_mesh::snap() const {
  static const config::mesh_snapshot empty;
  EXPECT_TRUE(result.snapshot) << "mesh did not compile";
  return result.snapshot ? *result.snapshot : empty;
}

compiled_mesh compile_yaml(const std::vector<std::pair<std::string, std::string>>& files) {
  compiled_mesh out;
  std::vector<config::source_file> sources;
  for (const auto& [name, text] : files) sources.push_back({name, text});
  out.result = config::load_mesh(sources, out.diag);
  return out;
}

compiled_mesh compile_yaml(const std::string& text) {
  return compile_yaml({{"mesh.yaml", text}});
}

std::string mock_apps(const std::vector<std::string>& versions) {
  std::string out;
  const std::vector<std::pair<std::string, std::string>> chain = {
      {"mocka", "http://mockb:8000/"}, {"mockb", "http://mockc:8000/"}, {"mockc", ""}};
  for (const auto& [app, upstream] : chain) {
    out += "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: " + app +
           "\nspec:\n  ports:\n  - port: 8000\n    name: http\n  selector:\n    app: " + app + "\n";
    for (const auto& v : versions) {
      out += "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + app + "-" + v +
             "\nspec:\n  selector:\n    matchLabels:\n      app: " + app + "\n      version: " + v +
             "\n  template:\n    metadata:\n      labels:\n        app: " + app +
             "\n        version: " + v +
             "\n    spec:\n      containers:\n      - name: default\n        image: mock\n"
             "        env:\n        - name: app\n          value: " +
             app + "\n        - name: version\n          value: " + v + "\n";
      if (!upstream.empty()) {
        out += "        - name: upstream_url\n          value: \"" + upstream + "\"\n";
      }
      out += "        ports:\n        - containerPort: 8000\n";
    }
  }
  return out;
}

std::string mock_lanes(const std::vector<std::string>& versions, const std::string& group_extra) {
  std::string out =
      "---\napiVersion: istio.alibabacloud.com/v1\nkind: ASMSwimLaneGroup\nmetadata:\n  name: "
      "mock\n"
      "spec:\n  ingress:\n    gateway:\n      name: ingressgateway\n      namespace: istio-system\n"
      "      type: ASM\n  services:\n  - name: mocka\n    namespace: default\n"
      "  - name: mockb\n    namespace: default\n  - name: mockc\n    namespace: default\n" +
      group_extra;
  for (const auto& v : versions) {
    out +=
        "---\napiVersion: istio.alibabacloud.com/v1\nkind: ASMSwimLane\nmetadata:\n  name: " + v +
        "\n  labels:\n    swimlane-group: mock\nspec:\n  labelSelector:\n    version: " + v + "\n";
  }
  return out;
}

std::string mock_gateway() {
  return "---\napiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata:\n"
         "  name: ingressgateway\n  namespace: istio-system\nspec:\n  selector:\n"
         "    istio: ingressgateway\n  servers:\n  - port:\n      number: 80\n      name: http\n"
         "      protocol: HTTP\n    hosts:\n    - '*'\n";
}

std::string service_yaml(const std::string& app) {
  return "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + app +
         "}\nspec:\n  selector: {app: " + app + "}\n  ports: [{port: 8000, name: http}]\n";
}

std::string subsets_yaml(const std::string& app, const std::vector<std::string>& versions) {
  std::string out =
      "---\napiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\n"
      "metadata: {name: " +
      app + "}\nspec:\n  host: " + app + "\n  subsets:\n";
  for (const auto& v : versions) out += "  - {name: " + v + ", labels: {version: " + v + "}}\n";
  return out;
}

std::string front_routes_yaml(const std::string& name, const std::string& gateway) {
  return "---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: " +
         name + "}\nspec:\n  hosts: [\"*\"]\n  gateways: [istio-system/" + gateway + "]\n  http:\n";
}

std::string gateway_yaml(const std::string& name) {
  return "---\napiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: " + name +
         ", namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n"
         "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
}

std::string deployments_yaml(const std::string& app, const std::vector<std::string>& versions) {
  std::string out;
  for (const auto& v : versions) {
    out += "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + app + "-" + v +
           "}\nspec:\n  selector: {matchLabels: {app: " + app + ", version: " + v +
           "}}\n  template:\n    metadata: {labels: {app: " + app + ", version: " + v +
           "}}\n    spec: {containers: [{name: app, image: mock}]}\n";
  }
  return out;
}

std::string fixtures_dir() {
  return LANEPROXY_FIXTURES;
}

std::shared_ptr<const config::mesh_snapshot> load_mesh_folder(const std::string& dir) {
  config::diagnostics diag;
  const auto sources = config::read_sources({dir}, diag);
  auto result = config::load_mesh(sources, diag);
  for (const auto& d : diag.items()) {
    if (d.level == config::severity::error) ADD_FAILURE() << dir << ": " << d.message;
  }
  return result.snapshot;
}

config::bootstrap load_bound_bootstrap(const std::string& file, const config::mesh_snapshot& mesh) {
  config::diagnostics diag;
  auto boot = config::load_bootstrap(file, diag);
  if (boot) config::resolve_bootstrap(*boot, mesh, diag);
  for (const auto& d : diag.items()) ADD_FAILURE() << file << ": " << d.message;
  EXPECT_TRUE(boot.has_value()) << file;
  return boot ? *boot : config::bootstrap{};
}

}  // namespace laneproxy::testing
