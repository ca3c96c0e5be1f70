// Everything one proxy process routes by, for one mesh version: the
// compiled mesh, the route tables of its listeners, the endpoints of each
// service per subset (lane), and the sidecar's own workload and lane.
//
// Built once per mesh snapshot (the config side has parsed and checked the
// YAML; nothing here reads files) and then shared read-only by every worker
// as `std::shared_ptr<const proxy_config>`. What changes per request (the
// endpoint sets' counters and ejections) is atomic, and lives in an
// endpoint_registry that hands it to the next config version.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/bootstrap.h"
#include "config/mesh_snapshot.h"
#include "config/peer_identity.h"
#include "dataplane/endpoint_set.h"
#include "route/route_table.h"

namespace laneproxy::dataplane {

struct service_view {
  const config::service_info* info = nullptr;
  const config::lane_group_info* group = nullptr;  // nullptr: the service is in no lane group
  std::unordered_map<std::string, endpoint_set> by_subset;
  endpoint_set all;                                 // every endpoint, for routes without a subset
  std::vector<config::route_rule> own_rules;        // the rules as this proxy applies them
  std::unique_ptr<route::route_table> mesh_routes;  // over own_rules, if any

  // The endpoints of `subset` ("" means all); nullptr when none are known.
  const endpoint_set* endpoints(std::string_view subset) const;
};

// The sidecar's own workload, when this process is a sidecar.
struct sidecar_identity {
  std::string workload;  // "name.namespace"
  std::string ns;
  std::string lane;                                // "" when its labels match no lane
  const config::lane_group_info* group = nullptr;  // the group of `lane`
  config::socket_address app;
};

class proxy_config {
 public:
  // Precondition: `boot` went through resolve_bootstrap against `mesh`
  // without errors. `registry` (may be null: state of its own) keeps the
  // endpoints' state across config versions.
  proxy_config(std::shared_ptr<const config::mesh_snapshot> mesh, const config::bootstrap& boot,
               endpoint_registry* registry = nullptr);
  proxy_config(const proxy_config&) = delete;
  proxy_config& operator=(const proxy_config&) = delete;

  const config::mesh_snapshot& mesh() const { return *mesh_; }
  const std::shared_ptr<const config::mesh_snapshot>& mesh_ptr() const { return mesh_; }
  // The routes of the gateway listener; nullptr when this process is no gateway.
  const route::route_table* gateway_routes() const { return gateway_routes_.get(); }
  const std::optional<sidecar_identity>& sidecar() const { return sidecar_; }

  const service_view* service(std::string_view key) const;
  // Resolves a host as the sidecar's namespace sees it ("default" for a gateway).
  const service_view* resolve(std::string_view host) const;

  // The service a captured connection's original destination belongs to:
  // one of its ClusterIPs on one of its ports, or one of its endpoints.
  const service_view* service_at(const config::socket_address& destination) const;
  // Whether `port` is an HTTP port of a mesh service (config::speaks_http):
  // captured calls to it are HTTP, to any other port plain TCP.
  bool mesh_port(std::uint16_t port) const { return mesh_ports_.contains(port); }
  // Captured calls the mesh does not know go to their original destination.
  bool allow_any() const { return allow_any_; }

  // Every upstream address this config may send to: the services'
  // endpoints and the sidecar's app.
  std::vector<config::socket_address> endpoint_addresses() const;
  std::set<std::string> endpoint_texts() const;  // the same as "IP:PORT"
  // Each endpoint set ("service" and "service/subset") with its endpoints:
  // two configs with the same addresses may still place them differently.
  std::map<std::string, std::vector<std::string>> endpoint_sets() const;

  // The split of weighted routes whose VirtualService does not choose one.
  config::split_mode default_split() const { return default_split_; }
  // The port of the Gateway server the gateway listener plays (the one of
  // the listener's own port when a server has it, else the first HTTP one;
  // 0 without a gateway): what a match's `port` names at a gateway.
  std::uint32_t gateway_server_port() const { return gateway_server_port_; }

  // The endpoints the bootstrap's health check probes, each with the state
  // its endpoint sets read; empty without a health check.
  struct health_target {
    config::socket_address address;
    std::shared_ptr<address_health> health;
  };
  const std::vector<health_target>& health_targets() const { return health_targets_; }
  const std::optional<config::active_health_check>& health_check() const { return health_check_; }

  // The lane guard of `rule` (one of this config's), nullptr without one.
  lane_guard* guard(const config::route_rule& rule) const;

  // Whether an upstream is spoken to in HTTP/2: the protocol of its
  // endpoint `set`, or the sidecar app's when null, for a client that spoke
  // HTTP/2 or not.
  bool upstream_http2(const endpoint_set* set, bool client_http2) const {
    return set ? set->http2(client_http2) : app_http2_;
  }

  const config::proxy_timeouts& timeouts() const { return timeouts_; }
  const config::proxy_limits& limits() const { return limits_; }

  // Who this proxy speaks for (its sidecar's workload, else the gateway's),
  // and that as the peer header's value it stamps on what it sends.
  const config::peer_identity& identity() const { return identity_; }
  std::string_view peer_stamp() const { return peer_stamp_; }

 private:
  std::shared_ptr<const config::mesh_snapshot> mesh_;
  std::unique_ptr<route::route_table> gateway_routes_;
  std::optional<sidecar_identity> sidecar_;
  std::unordered_map<std::string, service_view> services_;
  std::string home_ns_ = "default";
  std::unordered_map<std::string, const service_view*> by_address_;  // "IP:PORT"
  std::set<std::uint16_t> mesh_ports_;
  bool allow_any_ = true;
  void index_addresses();
  config::split_mode default_split_ = config::split_mode::random;
  std::uint32_t gateway_server_port_ = 0;
  bool app_http2_ = false;
  config::proxy_timeouts timeouts_;
  config::proxy_limits limits_;
  config::peer_identity identity_;
  std::string peer_stamp_;
  std::unordered_map<const config::route_rule*, std::shared_ptr<lane_guard>> guards_;
  void add_guards(const std::vector<config::route_rule>& rules, endpoint_registry* registry);
  void add_health(endpoint_registry* registry);
  std::optional<config::active_health_check> health_check_;
  std::vector<health_target> health_targets_;
};

}  // namespace laneproxy::dataplane
