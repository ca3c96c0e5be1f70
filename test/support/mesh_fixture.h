// Compiling inline YAML in tests, and reading back exact diagnostics.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/bootstrap.h"
#include "config/diagnostics.h"
#include "config/mesh_compiler.h"

namespace laneproxy::testing {

struct compiled_mesh {
  config::diagnostics diag;
  config::load_result result;

  // Every diagnostic, formatted, in file/line/column order.
  std::vector<std::string> messages() const;
  // Only errors / only warnings, formatted.
  std::vector<std::string> errors() const;
  std::vector<std::string> warnings() const;
  const config::mesh_snapshot& snap() const;  // fails the test when invalid
};

// Compiles sources given as (file name, text) pairs.
compiled_mesh compile_yaml(const std::vector<std::pair<std::string, std::string>>& files);
compiled_mesh compile_yaml(const std::string& text);  // one file named "mesh.yaml"

// A Service + Deployments of the guide's chain (mocka, mockb, mockc) in
// namespace default for each version given, e.g. {"v1", "v2"}.
std::string mock_apps(const std::vector<std::string>& versions);
// ASMSwimLaneGroup "mock" (strict unless `group_extra` adds settings such as
// the permissive ones, indented for `spec:`) plus one ASMSwimLane per version.
std::string mock_lanes(const std::vector<std::string>& versions,
                       const std::string& group_extra = "");
// The guide's Gateway in istio-system.
std::string mock_gateway();

// Single documents (each starts with "---") for meshes written inline:
// Service `app` in namespace default (selector app=APP, port 8000); a
// DestinationRule on host `app` with one subset per version (version=V);
// Gateway `name` in istio-system (port 80, every host); and one Deployment
// `app-V` per version (labels app=APP, version=V).
std::string service_yaml(const std::string& app);
std::string subsets_yaml(const std::string& app, const std::vector<std::string>& versions);
std::string gateway_yaml(const std::string& name);
// The head of VirtualService `name` on every host at Gateway
// `istio-system/GATEWAY`, up to its `http:` key: the rules follow.
std::string front_routes_yaml(const std::string& name, const std::string& gateway);
std::string deployments_yaml(const std::string& app, const std::vector<std::string>& versions);

std::string fixtures_dir();

// The mesh in a folder of YAML files, as laneproxy loads it; the test fails
// on any error (and the result is then nullptr).
std::shared_ptr<const config::mesh_snapshot> load_mesh_folder(const std::string& dir);
// A bootstrap file loaded and bound to `mesh`; the test fails on any error
// or warning either step reports.
config::bootstrap load_bound_bootstrap(const std::string& file, const config::mesh_snapshot& mesh);

}  // namespace laneproxy::testing
