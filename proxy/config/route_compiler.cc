#include "config/route_compiler.h"

#include <algorithm>

#include "config/ascii.h"
#include "config/delegate_merge.h"
#include "config/field_rules.h"
#include "config/guard_spec.h"

namespace laneproxy::config {

namespace {

// `ns`: the VirtualService's namespace, for gateway names without one.
route_match compile_match(const http_match& m, const std::string& ns = "") {
  route_match out;
  for (const auto& g : m.gateways) {
    out.gateways.push_back(g == "mesh" ? g : qualified_gateway(g, ns));
  }
  out.source_labels = m.source_labels;
  out.source_namespace = m.source_namespace;
  if (m.uri) out.uri.emplace(*m.uri, m.ignore_uri_case);
  if (m.method) out.method.emplace(*m.method);
  if (m.authority) out.authority.emplace(*m.authority);
  if (m.scheme) out.scheme.emplace(*m.scheme);
  for (const auto& [name, match] : m.headers) {
    header_condition c{name, {}, false};
    if (match) c.matcher.emplace(*match);
    out.headers.push_back(std::move(c));
  }
  for (const auto& [name, match] : m.without_headers) {
    header_condition c{name, {}, true};
    if (match) c.matcher.emplace(*match);
    out.headers.push_back(std::move(c));
  }
  for (const auto& [name, match] : m.query_params) {
    query_condition c{name, {}};
    if (match) c.matcher.emplace(*match);
    out.query.push_back(std::move(c));
  }
  out.port = m.port;
  return out;
}

class route_builder {
 public:
  route_builder(mesh_snapshot& snap, const std::vector<service_entry>& entries, diagnostics& diag)
      : snap_(snap), entries_(entries), diag_(diag) {}

  void set_k8s_gateways(std::vector<std::string> keys) { k8s_gateways_ = std::move(keys); }

  // The ServiceEntry that gives `host` to namespace `ns`, if one does.
  const service_entry* entry_for(const std::string& host, const std::string& ns) const {
    const auto visible = [&](const service_entry& e) {
      if (e.export_to.empty()) return true;
      return std::any_of(e.export_to.begin(), e.export_to.end(), [&](const std::string& x) {
        return x == "*" || x == ns || (x == "." && e.meta.ns == ns);
      });
    };
    const auto covers = [&](const std::string& h) { return host_covers(h, host); };
    for (const auto& e : entries_) {
      if (visible(e) && std::any_of(e.hosts.begin(), e.hosts.end(), covers)) return &e;
    }
    return nullptr;
  }

  // Resolves `d` from namespace `ns`; reports what is not found. Returns
  // false when the destination cannot be routed to.
  bool resolve(const destination& d, const std::string& ns, route_target& out) {
    if (d.host.empty()) return false;
    const service_info* svc = snap_.resolve_host(d.host, ns);
    if (!svc) {
      if (const auto* e = entry_for(d.host, ns)) {
        diag_.warning(d.host_where, d.path + ".host",
                      "not applied by laneproxy: \"" + d.host +
                          "\" falls under a wildcard host of "
                          "ServiceEntry " +
                          e->meta.ns + "/" + e->meta.name +
                          ", which has no endpoints laneproxy could route to");
      } else {
        diag_.error(d.host_where, d.path + ".host",
                    "referenced host not found: \"" + d.host + "\" [IST0101]");
      }
      return false;
    }
    out.service = svc->key();
    out.port = d.port;
    bool ok = true;
    if (!d.subset.empty()) {
      if (d.subset[0] == '$') {
        out.request_lane_subset = true;
      } else if (!svc->subsets.count(d.subset)) {
        diag_.error(d.subset_where, d.path + ".subset",
                    "referenced subset not found: \"" + d.subset + "\" of host \"" + d.host +
                        "\" (no DestinationRule subset or lane of that name) [IST0101]");
        ok = false;
      } else {
        out.subset = d.subset;
      }
    }
    if (d.port == 0 && svc->ports.size() > 1) {
      std::string ports;
      for (const auto& p : svc->ports)
        ports += (ports.empty() ? "" : ", ") + std::to_string(p.port);
      diag_.error(d.where, d.path,
                  "service \"" + svc->key() + "\" has several ports (" + ports +
                      "): the destination needs port.number [IST0112]");
      ok = false;
    } else if (d.port != 0 &&
               std::none_of(svc->ports.begin(), svc->ports.end(),
                            [&](const service_port& p) { return p.port == d.port; })) {
      diag_.error(d.port_where, d.path + ".port.number",
                  "referenced port not found: " + std::to_string(d.port) + " on service \"" +
                      svc->key() + "\" [IST0101]");
      ok = false;
    }
    return ok;
  }

  route_rule compile_rule(const http_route& r, const virtual_service& vs, std::size_t index) {
    route_rule rule;
    rule.name = r.name.empty()
                    ? vs.meta.ns + "/" + vs.meta.name + ".http[" + std::to_string(index) + "]"
                    : r.name;
    rule.origin = r.where.file + ":" + std::to_string(r.where.line);
    rule.hosts = vs.hosts;
    for (const auto& m : r.match) rule.matches.push_back(compile_match(m, vs.meta.ns));
    const std::string& ns = r.resolve_ns.empty() ? vs.meta.ns : r.resolve_ns;
    for (const auto& wd : r.route) {
      route_target t;
      if (!resolve(wd.dest, ns, t)) continue;
      // One destination takes every request whatever its weight (Istio).
      t.weight = r.route.size() == 1 ? 1 : static_cast<std::uint32_t>(wd.weight);
      t.request_headers = wd.request_headers;
      t.response_headers = wd.response_headers;
      rule.total_weight += t.weight;
      rule.targets.push_back(std::move(t));
    }
    rule.actions = r.actions;
    rule.retry = compile_retries(r.actions.retries);
    for (const auto& m : r.actions.mirrors) {
      route_rule::mirror_target t;
      t.per_million = m.per_million;
      if (resolve(m.dest, ns, t.target)) rule.mirrors.push_back(std::move(t));
    }
    if (r.actions.cors) {
      for (const auto& o : r.actions.cors->allow_origins) rule.cors_origins.emplace_back(o);
    }
    if (r.actions.rewrite && !r.actions.rewrite->regex.empty()) {
      rule.uri_regex_rewrite = std::make_shared<const RE2>(r.actions.rewrite->regex);
    }
    compile_split(vs, rule);
    return rule;
  }

  // laneproxy.io/guard on `meta` (a VirtualService or lane group), for a
  // weighted rule.
  void compile_guard(const object_meta& meta, route_rule& rule) {
    const auto it = meta.annotations.find("laneproxy.io/guard");
    if (it == meta.annotations.end()) return;
    const std::string path = "metadata.annotations.laneproxy.io/guard";
    std::string error;
    rule.guard = parse_guard(it->second, error);
    if (!rule.guard) {
      diag_.error(meta.where, path, error + ", got \"" + it->second + "\"");
      return;
    }
    const auto weighted = std::count_if(rule.targets.begin(), rule.targets.end(),
                                        [](const route_target& t) { return t.weight > 0; });
    if (weighted < 2) {
      diag_.warning(meta.where, path,
                    "rule \"" + rule.name +
                        "\" has fewer than two destinations with a weight: the guard has no "
                        "other lane to move weight to, and leaves it alone");
      rule.guard.reset();
    }
  }

  // The split mode and sticky key from the VirtualService's annotations.
  void compile_split(const virtual_service& vs, route_rule& rule) {
    compile_guard(vs.meta, rule);
    const auto& a = vs.meta.annotations;
    const auto mode = a.find("laneproxy.io/split");
    const auto key = a.find("laneproxy.io/split-key");
    const std::string path = "metadata.annotations.laneproxy.io/";
    if (mode != a.end()) {
      if (mode->second == "random") {
        rule.split = split_mode::random;
      } else if (mode->second == "smooth") {
        rule.split = split_mode::smooth;
      } else if (mode->second == "sticky") {
        rule.split = split_mode::sticky;
      } else {
        diag_.error(vs.meta.where, path + "split",
                    "expected random, smooth or sticky, got \"" + mode->second + "\"");
      }
    }
    if (key != a.end()) {
      const auto colon = key->second.find(':');
      const auto kind = key->second.substr(0, colon);
      const auto name = colon == std::string::npos ? "" : key->second.substr(colon + 1);
      if ((kind != "header" && kind != "cookie") || name.empty()) {
        diag_.error(vs.meta.where, path + "split-key",
                    "expected header:NAME or cookie:NAME, got \"" + key->second + "\"");
      } else if (kind == "header") {
        rule.sticky_header = ascii_lower(name);
      } else {
        rule.sticky_cookie = name;
      }
    }
    if (rule.split != split_mode::sticky || !rule.sticky_header.empty() ||
        !rule.sticky_cookie.empty()) {
      return;
    }
    // No key of its own: the DestinationRule's consistentHash, as Istio's
    // session affinity would use.
    for (const auto& t : rule.targets) {
      const auto svc = snap_.services.find(t.service);
      if (svc == snap_.services.end()) continue;
      rule.sticky_header = svc->second.hash_header;
      rule.sticky_cookie = svc->second.hash_cookie;
      if (!rule.sticky_header.empty() || !rule.sticky_cookie.empty()) return;
    }
    diag_.error(vs.meta.where, path + "split",
                "a sticky split needs laneproxy.io/split-key (header:NAME or cookie:NAME) or a "
                "DestinationRule with consistentHash on a header or cookie");
  }

  void add_virtual_service(const virtual_service& vs) {
    std::vector<std::string> gateway_keys;
    bool mesh = vs.gateways.empty();
    for (std::size_t i = 0; i < vs.gateways.size(); ++i) {
      const auto& g = vs.gateways[i];
      if (g == "mesh") {
        mesh = true;
        continue;
      }
      const std::string key = qualified_gateway(g, vs.meta.ns);
      if (!snap_.gateways.count(key)) {
        const auto path = "spec.gateways[" + std::to_string(i) + "]";
        if (std::find(k8s_gateways_.begin(), k8s_gateways_.end(), key) != k8s_gateways_.end()) {
          diag_.warning(vs.gateways_where, path,
                        "not applied by laneproxy: \"" + key +
                            "\" is a Gateway API Gateway, which laneproxy does not serve");
          continue;
        }
        diag_.error(vs.gateways_where, path,
                    "referenced gateway not found: \"" + key + "\" [IST0101]");
        continue;
      }
      gateway_keys.push_back(key);
    }
    for (std::size_t i = 0; i < vs.http.size(); ++i) {
      const route_rule rule = compile_rule(vs.http[i], vs, i);
      for (const auto& key : gateway_keys) {
        if (auto r = rule_for_context(rule, key)) snap_.gateways.at(key).rules.push_back(*r);
      }
      if (!mesh) continue;
      const auto at_mesh = rule_for_context(rule, "mesh");
      if (!at_mesh) continue;
      for (const auto& host : vs.hosts) {
        if (const auto* svc = snap_.resolve_host(host, vs.meta.ns)) {
          snap_.mesh_routes[svc->key()].push_back(*at_mesh);
        }
      }
    }
  }

  // ASM lane-group ingress: one weighted rule over the group's lanes, or one
  // rule per online lane ingress rule.
  void add_lane_ingress(const lane_group& g, const std::vector<const lane*>& lanes) {
    const auto group_it = snap_.lane_groups.find(g.meta.name);
    if (group_it == snap_.lane_groups.end() || group_it->second.gateway.empty()) return;
    auto& gw = snap_.gateways.at(group_it->second.gateway);
    const std::string origin = g.meta.where.file + ":" + std::to_string(g.meta.where.line);
    if (g.routing_strategy == "weighted") {
      route_rule rule;
      rule.name = "lane-group/" + g.meta.name;
      rule.origin = origin;
      rule.hosts = g.weighted_hosts.empty() ? std::vector<std::string>{"*"} : g.weighted_hosts;
      for (const auto& m : g.weighted_matches) rule.matches.push_back(compile_match(m));
      for (const lane* l : lanes) {
        if (!l->ingress_weight) continue;
        route_target t;
        const auto& dest = l->ingress_weight->dest;
        if (!resolve(dest, gw.ns, t) || !in_group(t.service, group_it->second, dest)) continue;
        t.subset = l->meta.name;
        t.weight = static_cast<std::uint32_t>(l->ingress_weight->weight);
        rule.total_weight += t.weight;
        rule.targets.push_back(std::move(t));
      }
      if (rule.targets.empty()) {
        diag_.error(g.meta.where, "spec.ingress.ingressRouting",
                    "weighted ingress needs lanes with spec.ingressWeight; lane group \"" +
                        g.meta.name + "\" has none");
        return;
      }
      if (rule.total_weight == 0) {
        diag_.error(g.meta.where, "spec.ingress.ingressRouting",
                    "lane ingress weights add up to 0: at least one lane needs a weight > 0");
      } else if (rule.targets.size() > 1 && rule.total_weight != 100) {
        diag_.warning(g.meta.where, "spec.ingress.ingressRouting",
                      "lane ingress weights " + weight_sum_warning(rule.total_weight));
      }
      compile_guard(g.meta, rule);
      gw.rules.push_back(std::move(rule));
    } else if (g.routing_strategy == "rule_based" || g.routing_strategy.empty()) {
      for (const lane* l : lanes) {
        for (const auto& r : l->ingress_rules) {
          if (!r.online) continue;
          route_target t;
          if (!resolve(r.dest, gw.ns, t) || !in_group(t.service, group_it->second, r.dest)) {
            continue;
          }
          t.subset = l->meta.name;
          t.weight = 1;
          route_rule rule;
          rule.name = r.name.empty() ? "lane/" + l->meta.name : r.name;
          rule.origin = l->meta.where.file + ":" + std::to_string(l->meta.where.line);
          rule.hosts = r.hosts.empty() ? std::vector<std::string>{"*"} : r.hosts;
          rule.matches.push_back(compile_match(r.match));
          rule.total_weight = 1;
          rule.targets.push_back(std::move(t));
          gw.rules.push_back(std::move(rule));
        }
      }
    }
  }

 private:
  bool in_group(const std::string& key, const lane_group_info& g, const destination& d) {
    if (std::find(g.services.begin(), g.services.end(), key) != g.services.end()) return true;
    diag_.error(d.host_where, d.path + ".host",
                "host \"" + d.host + "\" is not a service of lane group \"" + g.name + "\"");
    return false;
  }

  mesh_snapshot& snap_;
  const std::vector<service_entry>& entries_;
  std::vector<std::string> k8s_gateways_;
  diagnostics& diag_;
};

}  // namespace

void compile_routes(const mesh_documents& docs, mesh_snapshot& snap, diagnostics& diag) {
  route_builder builder(snap, docs.service_entries, diag);
  builder.set_k8s_gateways(docs.k8s_gateways);
  for (const auto& vs : docs.virtual_services) {
    // A delegate serves only through the roots that name it.
    if (is_delegate(vs)) continue;
    builder.add_virtual_service(merge_delegates(vs, docs.virtual_services, diag));
  }
  for (const auto& g : docs.lane_groups) {
    std::vector<const lane*> lanes;
    for (const auto& l : docs.lanes) {
      if (l.group == g.meta.name) lanes.push_back(&l);
    }
    builder.add_lane_ingress(g, lanes);
  }
}

}  // namespace laneproxy::config
