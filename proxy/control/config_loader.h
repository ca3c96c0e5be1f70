// Loading what one `laneproxy run` routes by: its bootstrap, the mesh it
// names, and the proxy_config built from both. Two steps, so that a reload
// can skip inputs whose content did not change before compiling anything.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/bootstrap.h"
#include "config/dns_endpoints.h"
#include "config/mesh_compiler.h"
#include "config/source_loader.h"
#include "dataplane/proxy_config.h"

namespace laneproxy::control {

struct config_inputs {
  std::optional<config::bootstrap> boot;  // nullopt when the bootstrap is broken
  std::vector<config::source_file> mesh;
  std::string hash;                   // of the bootstrap's and every mesh file's text
  std::vector<std::string> problems;  // formatted diagnostics from reading
  bool read_failed = false;
};

// Reads the bootstrap and the mesh files it names; compiles nothing.
config_inputs read_inputs(const std::string& bootstrap_file);

struct load_attempt {
  std::string hash;                                      // the inputs'
  std::string mesh_version;                              // "" when the mesh did not compile
  std::shared_ptr<const dataplane::proxy_config> proxy;  // nullptr when rejected
  std::optional<config::bootstrap> boot;  // nullopt when the bootstrap itself is broken
  std::vector<std::string> problems;      // formatted errors and warnings, file order
};

// Compiles inputs into a proxy_config, or reports why not. With a cache,
// files unchanged since the last call are not parsed again.
// `registry` (may be null) carries the endpoints' state to the new config.
// The bootstrap gains the endpoints of the mesh's ServiceEntries; then
// DNS-named endpoints take their addresses from what `resolve` answers for
// it (no resolve, or nullopt: they have none). The attempt's bootstrap
// keeps the names.
using names_resolver =
    std::function<std::optional<config::dns_answers>(const config::bootstrap& boot)>;
load_attempt compile_inputs(config_inputs inputs, config::decode_cache* cache = nullptr,
                            dataplane::endpoint_registry* registry = nullptr,
                            const names_resolver& resolve = {});

// The config `boot` (resolved against `mesh`, names unexpanded) makes with
// these answers: what a change of DNS answers alone publishes.
std::shared_ptr<const dataplane::proxy_config> build_config(
    std::shared_ptr<const config::mesh_snapshot> mesh, const config::bootstrap& boot,
    dataplane::endpoint_registry* registry, const config::dns_answers* answers);

}  // namespace laneproxy::control
