// `laneproxy local`: what to run for a mesh folder. Every Deployment becomes
// a pod (its app plus a laneproxy sidecar) on its own loopback address, and
// one laneproxy plays the gateway. Pure: computes names, addresses,
// environments and bootstrap texts; starting processes is the supervisor's.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/mesh_snapshot.h"

namespace laneproxy::local {

struct local_options {
  std::uint16_t gateway_port = 8080;
  std::uint16_t admin_port = 15000;
  std::string pod_base = "127.0.1.1";  // the first pod's address; later pods count up
  std::string gateway;                 // "namespace/name"; "" picks the only one
  std::string access_log;              // every proxy's accessLog; "" leaves the default
  std::string app_command;             // the default app (laneproxy-mock)
  std::map<std::string, std::vector<std::string>> commands;  // Deployment name -> argv
};

// The fixed ports of a pod, as in a mesh.
inline constexpr std::uint16_t inbound_port = 15006;
inline constexpr std::uint16_t outbound_port = 15001;
inline constexpr std::uint16_t pod_admin_port = 15000;

struct pod_plan {
  std::string name;  // the Deployment's name ("mocka-v1"); namespace default when unique
  std::string key;   // "name.namespace"
  std::string lane;  // "" when in no lane
  std::string ip;
  std::uint16_t app_port = 8000;
  std::vector<std::string> argv;                         // the app
  std::vector<std::pair<std::string, std::string>> env;  // added to the app's environment
  std::string sidecar_bootstrap;                         // YAML, mesh path left as MESH_DIR
  std::string address() const { return ip + ":" + std::to_string(app_port); }
  bool same_app(const pod_plan& o) const { return argv == o.argv && env == o.env && ip == o.ip; }
};

struct local_plan {
  std::string version;  // the mesh's
  std::vector<pod_plan> pods;
  std::string gateway;            // "namespace/name" served
  std::string gateway_bootstrap;  // YAML, mesh path left as MESH_DIR
};

// Plans `mesh`. `addresses` maps pod keys to the IPs they had in the previous
// plan, so that a pod keeps its address across edits; new pods take the next
// free one. Problems (no Gateway to serve, out of addresses) go to `diag`.
std::optional<local_plan> plan_local(const config::mesh_snapshot& mesh,
                                     const local_options& options,
                                     const std::map<std::string, std::string>& addresses,
                                     config::diagnostics& diag);

// The placeholder in bootstrap texts that the supervisor replaces with the
// folder it copied the mesh to.
inline constexpr std::string_view mesh_dir_placeholder = "MESH_DIR";

}  // namespace laneproxy::local

namespace laneproxy::local {

// Reads an overlay file that runs some Deployments as the user's own
// commands instead of the sample app:
//   pods:
//     mocka-v1:
//       command: [python3, app.py]
// Problems are reported with file, line and field.
std::map<std::string, std::vector<std::string>> load_overlay(const std::string& file,
                                                             config::diagnostics& diag);

}  // namespace laneproxy::local
