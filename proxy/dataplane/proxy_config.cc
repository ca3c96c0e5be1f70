#include "dataplane/proxy_config.h"

namespace laneproxy::dataplane {

namespace {
// DNS-named endpoints are expanded before a config is built
// (config::expand_dns); one that was not has no address to send to.
std::vector<config::socket_address> addresses_only(const std::vector<config::socket_address>& in) {
  std::vector<config::socket_address> out;
  for (const auto& a : in) {
    if (!a.ip.empty()) out.push_back(a);
  }
  return out;
}
}  // namespace

const endpoint_set* service_view::endpoints(std::string_view subset) const {
  if (subset.empty()) return all.empty() ? nullptr : &all;
  const auto it = by_subset.find(std::string(subset));
  return it == by_subset.end() || it->second.empty() ? nullptr : &it->second;
}

proxy_config::proxy_config(std::shared_ptr<const config::mesh_snapshot> mesh,
                           const config::bootstrap& boot, endpoint_registry* registry)
    : mesh_(std::move(mesh)),
      default_split_(boot.split),
      timeouts_(boot.timeouts),
      limits_(boot.limits) {
  allow_any_ = boot.allow_any;
  const auto& m = *mesh_;
  if (boot.gateway) {
    const auto gw = m.gateways.find(boot.gateway->gateway);
    static const std::vector<config::route_rule> no_rules;
    gateway_routes_ =
        std::make_unique<route::route_table>(gw == m.gateways.end() ? no_rules : gw->second.rules);
    if (gw != m.gateways.end()) {
      for (const auto& s : gw->second.servers) {
        if (s.port == boot.gateway->listen.port) gateway_server_port_ = s.port;
        if (config::serves_plain_http(s) && gateway_server_port_ == 0)
          gateway_server_port_ = s.port;
      }
      if (gateway_server_port_ == 0 && !gw->second.servers.empty()) {
        gateway_server_port_ = gw->second.servers.front().port;
      }
    }
  }

  if (boot.sidecar) {
    identity_ = config::workload_identity(boot.sidecar->workload, boot.sidecar->ns,
                                          boot.sidecar->labels, boot.cluster);
  } else if (boot.gateway) {
    // "namespace/name"; a Gateway the mesh lacks still has a name.
    const auto& name = boot.gateway->gateway;
    const auto gw = m.gateways.find(name);
    config::gateway_info unknown_gateway;
    const auto slash = name.find('/');
    unknown_gateway.ns = slash == std::string::npos ? "default" : name.substr(0, slash);
    unknown_gateway.name = slash == std::string::npos ? name : name.substr(slash + 1);
    identity_ = config::gateway_identity(gw != m.gateways.end() ? gw->second : unknown_gateway,
                                         boot.cluster);
  }
  peer_stamp_ = config::encode_peer(identity_);

  for (const auto& [key, info] : m.services) {
    auto& view = services_[key];
    view.info = &info;
    view.group = m.group_of(info);
    if (const auto r = m.mesh_routes.find(key); r != m.mesh_routes.end()) {
      // A sidecar keeps the matches its own pod's labels and namespace meet.
      view.own_rules = boot.sidecar ? config::rules_for_sidecar(r->second, boot.sidecar->labels,
                                                                boot.sidecar->ns)
                                    : r->second;
      view.mesh_routes = std::make_unique<route::route_table>(view.own_rules);
    }
  }
  for (const auto& e : boot.endpoints) {
    const auto it = services_.find(e.service);
    if (it == services_.end()) continue;  // resolve_bootstrap reported it
    auto& view = it->second;
    const auto key = view.info->key();
    std::vector<config::socket_address> all = view.all.all();
    for (const auto& [subset, written] : e.by_subset) {
      auto list = addresses_only(written);
      all.insert(all.end(), list.begin(), list.end());
      view.by_subset.emplace(subset, endpoint_set(std::move(list), view.info->policy_for(subset),
                                                  key + "/" + subset, registry));
    }
    const auto plain = addresses_only(e.plain);
    all.insert(all.end(), plain.begin(), plain.end());
    view.all = endpoint_set(std::move(all), view.info->policy_for(""), key, registry);
    const auto speak = [&](endpoint_set& set) {
      if (!set.empty()) set.speak_http2(view.info->http2_at(set.all().front().port));
    };
    speak(view.all);
    for (auto& [subset, set] : view.by_subset) speak(set);
  }

  index_addresses();
  if (boot.gateway) {
    if (const auto gw = m.gateways.find(boot.gateway->gateway); gw != m.gateways.end()) {
      add_guards(gw->second.rules, registry);
    }
  }
  health_check_ = boot.health_check;
  if (health_check_) add_health(registry);
  for (const auto& [key, view] : services_) add_guards(view.own_rules, registry);

  if (boot.sidecar) {
    const auto& s = *boot.sidecar;
    sidecar_identity id;
    id.workload = s.workload + "." + s.ns;
    id.ns = s.ns;
    id.app = s.app;
    // The lane whose selector matches the pod's labels, within a group that
    // holds one of the workload's services.
    for (const auto& [name, lane] : m.lanes) {
      if (lane.selector.empty() || !config::selects(lane.selector, s.labels)) continue;
      const auto g = m.lane_groups.find(lane.group);
      if (g == m.lane_groups.end()) continue;
      id.lane = name;
      id.group = &g->second;
      break;
    }
    home_ns_ = s.ns;
    // The app speaks what the port of one of its Services that it listens
    // on says.
    if (const auto w = m.workloads.find(id.workload); w != m.workloads.end()) {
      for (const auto& key : w->second.services) {
        const auto svc = m.services.find(key);
        if (svc != m.services.end() && svc->second.http2_at(s.app.port)) app_http2_ = true;
      }
    }
    sidecar_ = std::move(id);
  }
}

void proxy_config::add_guards(const std::vector<config::route_rule>& rules,
                              endpoint_registry* registry) {
  for (const auto& rule : rules) {
    if (!rule.guard) continue;
    std::vector<std::uint32_t> weights;
    std::vector<std::string> lanes;
    for (const auto& t : rule.targets) {
      weights.push_back(t.weight);
      lanes.push_back(t.subset.empty() ? t.service : t.subset);
    }
    guards_[&rule] = registry ? registry->guard(rule.name, *rule.guard, weights, lanes)
                              : std::make_shared<lane_guard>(*rule.guard, rule.name, weights, lanes,
                                                             steady_clock::now());
  }
}

// One health state per address, shared by every set that holds it.
void proxy_config::add_health(endpoint_registry* registry) {
  std::map<std::string, std::shared_ptr<address_health>> by_address;
  const auto of = [&](const config::socket_address& a) {
    auto& h = by_address[a.text()];
    if (!h) {
      h = registry ? registry->health(a.text()) : std::make_shared<address_health>();
      health_targets_.push_back({a, h});
    }
    return h;
  };
  const auto attach = [&](endpoint_set& set) {
    std::vector<std::shared_ptr<address_health>> health;
    for (const auto& a : set.all()) health.push_back(of(a));
    set.attach_health(std::move(health));
  };
  for (auto& [key, view] : services_) {
    attach(view.all);
    for (auto& [subset, set] : view.by_subset) attach(set);
  }
}

void proxy_config::index_addresses() {
  for (const auto& [key, view] : services_) {
    for (const auto& port : view.info->ports) {
      if (config::speaks_http(port)) mesh_ports_.insert(static_cast<std::uint16_t>(port.port));
      for (const auto& ip : view.info->cluster_ips) {
        const auto v6 = ip.find(':') != std::string::npos;
        const auto a = config::parse_socket_address((v6 ? "[" + ip + "]" : ip) + ":" +
                                                    std::to_string(port.port));
        if (a) by_address_.emplace(a->text(), &view);
      }
    }
    for (const auto& e : view.all.all()) by_address_.emplace(e.text(), &view);
  }
}

const service_view* proxy_config::service_at(const config::socket_address& destination) const {
  const auto it = by_address_.find(destination.text());
  return it == by_address_.end() ? nullptr : it->second;
}

lane_guard* proxy_config::guard(const config::route_rule& rule) const {
  const auto it = guards_.find(&rule);
  return it == guards_.end() ? nullptr : it->second.get();
}

const service_view* proxy_config::service(std::string_view key) const {
  const auto it = services_.find(std::string(key));
  return it == services_.end() ? nullptr : &it->second;
}

const service_view* proxy_config::resolve(std::string_view host) const {
  const auto* info = mesh_->resolve_host(host, home_ns_);
  return info ? service(info->key()) : nullptr;
}

}  // namespace laneproxy::dataplane

namespace laneproxy::dataplane {

std::vector<config::socket_address> proxy_config::endpoint_addresses() const {
  std::vector<config::socket_address> out;
  for (const auto& [key, view] : services_) {
    out.insert(out.end(), view.all.all().begin(), view.all.all().end());
  }
  if (sidecar_) out.push_back(sidecar_->app);
  return out;
}

std::set<std::string> proxy_config::endpoint_texts() const {
  std::set<std::string> out;
  for (const auto& a : endpoint_addresses()) out.insert(a.text());
  return out;
}

std::map<std::string, std::vector<std::string>> proxy_config::endpoint_sets() const {
  std::map<std::string, std::vector<std::string>> out;
  const auto add = [&out](const std::string& name, const endpoint_set& set) {
    auto& texts = out[name];
    for (const auto& a : set.all()) texts.push_back(a.text());
  };
  for (const auto& [key, view] : services_) {
    add(key, view.all);
    for (const auto& [subset, set] : view.by_subset) add(key + "/" + subset, set);
  }
  return out;
}

}  // namespace laneproxy::dataplane
