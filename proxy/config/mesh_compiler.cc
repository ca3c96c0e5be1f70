#include "config/mesh_compiler.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "config/ascii.h"
#include "config/mesh_analyzers.h"
#include "config/resource_decoder.h"
#include "config/route_compiler.h"

namespace laneproxy::config {

bool selects(const label_map& selector, const label_map& labels) {
  for (const auto& [k, v] : selector) {
    const auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

std::string host_to_service_key(std::string_view host, std::string_view from_ns) {
  std::string h(host);
  if (const auto colon = h.rfind(':'); colon != std::string::npos) h.resize(colon);
  h = ascii_lower(h);
  if (!h.empty() && h.back() == '.') h.pop_back();
  for (std::string_view suffix : {".svc.cluster.local", ".svc"}) {
    if (h.size() > suffix.size() &&
        h.compare(h.size() - suffix.size(), suffix.size(), suffix) == 0) {
      h.resize(h.size() - suffix.size());
      break;
    }
  }
  if (h.empty()) return {};
  const auto dot = h.find('.');
  if (dot == std::string::npos) return h + "." + std::string(from_ns);
  if (h.find('.', dot + 1) == std::string::npos) return h;
  return {};
}

bool service_info::visible_from(std::string_view from) const {
  if (export_to.empty()) return true;
  return std::any_of(export_to.begin(), export_to.end(), [&](const std::string& x) {
    return x == "*" || x == from || (x == "." && ns == from);
  });
}

std::string mesh_snapshot::service_key(std::string_view host, std::string_view from_ns) const {
  if (!external_hosts.empty()) {
    std::string h(host);
    if (const auto colon = h.rfind(':'); colon != std::string::npos) h.resize(colon);
    h = ascii_lower(h);
    if (!h.empty() && h.back() == '.') h.pop_back();
    if (const auto it = external_hosts.find(h); it != external_hosts.end()) {
      for (const auto& key : it->second) {
        if (services.at(key).visible_from(from_ns)) return key;
      }
    }
  }
  return host_to_service_key(host, from_ns);
}

std::uint16_t app_port_of(const workload_info& w, const mesh_snapshot& mesh) {
  for (const auto& c : w.containers) {
    if (!c.ports.empty()) return static_cast<std::uint16_t>(c.ports.front());
  }
  for (const auto& key : w.services) {
    const auto it = mesh.services.find(key);
    if (it == mesh.services.end() || it->second.ports.empty()) continue;
    const auto& p = it->second.ports.front();
    return static_cast<std::uint16_t>(p.target_port ? p.target_port : p.port);
  }
  return 8000;
}

const service_info* mesh_snapshot::resolve_host(std::string_view host,
                                                std::string_view from_ns) const {
  const auto it = services.find(service_key(host, from_ns));
  return it == services.end() ? nullptr : &it->second;
}

traffic_policy service_info::policy_for(std::string_view subset) const {
  const std::uint32_t port = ports.size() == 1 ? ports.front().port : 0;
  const subset_def* sub = nullptr;
  if (!subset.empty()) {
    if (const auto it = subsets.find(std::string(subset)); it != subsets.end()) sub = &it->second;
  }
  return resolve_policy(policy, sub ? &sub->policy : nullptr, port);
}

bool speaks_http2(const service_port& port) {
  const std::string name = ascii_lower(port.name);
  // "grpc-web" names a protocol of its own (HTTP/1.1), not grpc with a suffix.
  const std::string protocol = !port.app_protocol.empty()     ? ascii_lower(port.app_protocol)
                               : name.starts_with("grpc-web") ? "grpc-web"
                                                              : name.substr(0, name.find('-'));
  return protocol == "grpc" || protocol == "http2" || protocol == "h2c" ||
         protocol == "kubernetes.io/h2c";
}

bool serves_plain_http(const gateway_server& server) {
  return server.protocol == "HTTP" || server.protocol == "HTTP2" || server.protocol == "GRPC";
}

bool speaks_http(const service_port& port) {
  const std::string name = ascii_lower(port.name);
  const std::string protocol =
      !port.app_protocol.empty() ? ascii_lower(port.app_protocol) : name.substr(0, name.find('-'));
  for (const char* other : {"tcp", "tls", "https", "mongo", "mysql", "redis"}) {
    if (protocol == other) return false;
  }
  return true;
}

bool service_info::http2_at(std::uint32_t endpoint_port) const {
  for (const auto& p : ports) {
    if ((p.target_port ? p.target_port : p.port) == endpoint_port) return speaks_http2(p);
  }
  return ports.size() == 1 && speaks_http2(ports.front());
}

const lane_group_info* mesh_snapshot::group_of(const service_info& svc) const {
  if (svc.lane_group.empty()) return nullptr;
  const auto it = lane_groups.find(svc.lane_group);
  return it == lane_groups.end() ? nullptr : &it->second;
}

std::string content_hash(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {

std::string where_text(const source_mark& m) {
  return m.file + ":" + std::to_string(m.line);
}

// Kubernetes rejects a second object of the same kind, namespace and name.
void check_duplicates(const mesh_documents& docs, diagnostics& diag) {
  std::map<std::string, source_mark> seen;
  auto check = [&](const object_meta& m) {
    const std::string key = m.kind + " " + (m.ns.empty() ? "" : m.ns + "/") + m.name;
    if (m.name.empty()) return;
    const auto [it, fresh] = seen.emplace(key, m.where);
    if (!fresh) {
      diag.error(m.where, "metadata.name",
                 "duplicate " + key + " (first defined at " + where_text(it->second) + ")");
    }
  };
  for (const auto& o : docs.virtual_services) check(o.meta);
  for (const auto& o : docs.destination_rules) check(o.meta);
  for (const auto& o : docs.gateways) check(o.meta);
  for (const auto& o : docs.services) check(o.meta);
  for (const auto& o : docs.deployments) check(o.meta);
  for (const auto& o : docs.lane_groups) check(o.meta);
  for (const auto& o : docs.lanes) check(o.meta);
}

void add_services_and_workloads(const mesh_documents& docs, mesh_snapshot& snap) {
  for (const auto& s : docs.services) {
    service_info info;
    info.name = s.meta.name;
    info.ns = s.meta.ns;
    info.ports = s.ports;
    for (const auto& ip : s.cluster_ips) {
      if (ip != "None") info.cluster_ips.push_back(ip);
    }
    info.selector = s.selector;
    snap.services.emplace(info.key(), std::move(info));
  }
  // Services indexed by namespace and one of their selector labels, so that
  // matching pods to Services stays linear in a mesh of thousands of each.
  std::map<std::string, std::vector<service_info*>> by_label;  // "ns\0key\0value"
  for (auto& [key, svc] : snap.services) {
    // A Service without a selector has hand-managed endpoints: it selects no pod.
    if (svc.selector.empty()) continue;
    const auto& [k, v] = *svc.selector.begin();
    by_label[svc.ns + '\0' + k + '\0' + v].push_back(&svc);
  }
  for (const auto& d : docs.deployments) {
    workload_info w;
    w.name = d.meta.name;
    w.ns = d.meta.ns;
    w.labels = d.pod_labels;
    w.replicas = d.replicas;
    w.containers = d.containers;
    for (const auto& [k, v] : w.labels) {
      const auto it = by_label.find(w.ns + '\0' + k + '\0' + v);
      if (it == by_label.end()) continue;
      for (service_info* svc : it->second) {
        if (selects(svc->selector, w.labels)) {
          w.services.push_back(svc->key());
          svc->workloads.push_back(w.name);
        }
      }
    }
    std::sort(w.services.begin(), w.services.end());
    snap.workloads.emplace(w.name + "." + w.ns, std::move(w));
  }
}

void add_gateways(const mesh_documents& docs, mesh_snapshot& snap) {
  for (const auto& g : docs.gateways) {
    gateway_info info;
    info.name = g.meta.name;
    info.ns = g.meta.ns;
    info.selector = g.selector;
    info.servers = g.servers;
    snap.gateways.emplace(g.meta.ns + "/" + g.meta.name, std::move(info));
  }
}

void add_lane_groups(const mesh_documents& docs, mesh_snapshot& snap, diagnostics& diag) {
  for (const auto& g : docs.lane_groups) {
    lane_group_info info;
    info.name = g.meta.name;
    info.permissive = g.permissive;
    info.route_header = ascii_lower(g.route_header.empty() ? "x-asm-prefer-tag" : g.route_header);
    info.trace_header = ascii_lower(g.trace_header);
    info.fallback_target = g.fallback_target;
    for (const auto& ref : g.services) {
      const std::string key = ref.name + "." + ref.ns;
      auto it = snap.services.find(key);
      if (it == snap.services.end()) {
        diag.error(ref.where, ref.path,
                   "referenced service not found: \"" + ref.ns + "/" + ref.name + "\"");
        continue;
      }
      if (!it->second.lane_group.empty() && it->second.lane_group != info.name) {
        diag.error(ref.where, ref.path,
                   "service \"" + ref.ns + "/" + ref.name + "\" is already in lane group \"" +
                       it->second.lane_group + "\"");
        continue;
      }
      it->second.lane_group = info.name;
      info.services.push_back(key);
    }
    if (g.gateway_type == "ASM" && !g.gateway_name.empty()) {
      const std::string key = g.gateway_namespace + "/" + g.gateway_name;
      if (snap.gateways.count(key) == 0) {
        diag.error(g.gateway_where, "spec.ingress.gateway",
                   "referenced gateway not found: \"" + key + "\"");
      } else {
        info.gateway = key;
      }
    }
    for (const auto& [svc, lane_name] : g.service_fallback) {
      const auto slash = svc.find('/');
      const std::string key = svc.substr(slash + 1) + "." + svc.substr(0, slash);
      if (std::find(info.services.begin(), info.services.end(), key) == info.services.end()) {
        diag.error(g.service_fallback_where.at(svc),
                   "spec.permissiveModeConfiguration.serviceLevelFallbackTarget." + svc,
                   "service \"" + svc + "\" not found in lane group \"" + info.name + "\"");
        continue;
      }
      info.service_fallback[key] = lane_name;
    }
    snap.lane_groups.emplace(info.name, std::move(info));
  }
}

void add_lanes(const mesh_documents& docs, mesh_snapshot& snap, diagnostics& diag) {
  for (const auto& l : docs.lanes) {
    if (l.group.empty()) continue;
    auto group = snap.lane_groups.find(l.group);
    if (group == snap.lane_groups.end()) {
      diag.error(l.meta.where, "metadata.labels.swimlane-group",
                 "referenced lane group not found: \"" + l.group + "\"");
      continue;
    }
    lane_info info;
    info.name = l.meta.name;
    info.group = l.group;
    info.selector = l.selector;
    for (const auto& key : group->second.services) {
      auto& svc = snap.services.at(key);
      for (const auto& wname : svc.workloads) {
        auto& w = snap.workloads.at(wname + "." + svc.ns);
        if (!l.selector.empty() && selects(l.selector, w.labels)) {
          info.members[key].push_back(wname);
          if (!w.lane.empty() && w.lane != info.name) {
            diag.warning(l.meta.where, "spec.labelSelector",
                         "Deployment \"" + w.ns + "/" + w.name + "\" is in lanes \"" + w.lane +
                             "\" and \"" + info.name + "\": it serves lane \"" + w.lane + "\"");
          } else {
            w.lane = info.name;
          }
        }
      }
      if (!info.members.count(key) && !group->second.permissive) {
        diag.warning(l.meta.where, "spec.labelSelector",
                     "lane \"" + info.name + "\" has no Deployment of service \"" + svc.ns + "/" +
                         svc.name + "\": in strict mode its requests to " + svc.name +
                         " get 503 no healthy upstream");
      }
    }
    for (const auto& ref : l.services) {
      const std::string key = ref.name + "." + ref.ns;
      if (std::find(group->second.services.begin(), group->second.services.end(), key) ==
          group->second.services.end()) {
        diag.error(ref.where, ref.path,
                   "service \"" + ref.ns + "/" + ref.name + "\" not found in lane group \"" +
                       l.group + "\"");
      }
    }
    group->second.lanes.push_back(info.name);
    snap.lanes.emplace(info.name, std::move(info));
  }
  // Fallback lanes must exist in their group (checked once lanes are known).
  for (const auto& g : docs.lane_groups) {
    const auto it = snap.lane_groups.find(g.meta.name);
    if (it == snap.lane_groups.end()) continue;
    const auto& lanes = it->second.lanes;
    auto known = [&](const std::string& name) {
      return std::find(lanes.begin(), lanes.end(), name) != lanes.end();
    };
    if (!g.fallback_target.empty() && !known(g.fallback_target)) {
      diag.error(g.fallback_where, "spec.permissiveModeConfiguration.fallbackTarget",
                 "fallback lane not found: \"" + g.fallback_target + "\" is no lane of group \"" +
                     g.meta.name + "\"");
    }
    for (const auto& [svc, lane_name] : g.service_fallback) {
      if (!known(lane_name)) {
        diag.error(g.service_fallback_where.at(svc),
                   "spec.permissiveModeConfiguration.serviceLevelFallbackTarget." + svc,
                   "fallback lane not found: \"" + lane_name + "\" is no lane of group \"" +
                       g.meta.name + "\"");
      }
    }
  }
}

// laneproxy keeps one set of endpoints per subset whatever the port, so a
// port-level policy applies only to a service of one port.
void warn_port_levels(const policy_with_ports& p, const service_info& svc, diagnostics& diag) {
  if (svc.ports.size() < 2) return;
  for (const auto& where : p.port_marks) {
    diag.warning(where, "trafficPolicy.portLevelSettings",
                 "not applied by laneproxy: \"" + svc.key() +
                     "\" has several ports, and laneproxy keeps one endpoint set for all of them");
  }
}

// Each ServiceEntry host but a wildcard is a service to route to, as in
// Istio: its ports, and endpoints from its resolution (STATIC: the entry's
// addresses; DNS: those, else the host itself, resolved as DNS-named
// endpoints are; NONE: the call's original destination, when captured).
// laneproxy keeps one endpoint set per service: the first port's.
void add_service_entries(const mesh_documents& docs, mesh_snapshot& snap, diagnostics& diag) {
  for (const auto& se : docs.service_entries) {
    if (se.ports.size() > 1) {
      diag.warning(se.meta.where, "spec.ports",
                   "not applied by laneproxy: ServiceEntry " + se.meta.ns + "/" + se.meta.name +
                       " is routed on its first port (" + std::to_string(se.ports.front().port) +
                       ") only: laneproxy keeps one endpoint set per service");
    }
    for (const auto& host : se.hosts) {
      if (host.empty() || host.front() == '*') continue;
      service_info info;
      info.name = ascii_lower(host);
      info.ns = se.meta.ns;
      info.ports = se.ports;
      info.external = true;
      info.resolution = se.resolution;
      info.export_to = se.export_to;
      if (!se.ports.empty()) {
        const auto& port = se.ports.front();
        const auto number = port.target_port ? port.target_port : port.port;
        const bool dns = se.resolution == "DNS" || se.resolution == "DNS_ROUND_ROBIN";
        for (const auto& e : se.endpoints) {
          const auto named = e.ports.find(port.name);
          const auto p = named != e.ports.end() ? named->second : number;
          const bool v6 = e.address.find(':') != std::string::npos;
          info.entry_endpoints.push_back((v6 ? "[" + e.address + "]" : e.address) + ":" +
                                         std::to_string(p));
        }
        if (dns && se.endpoints.empty()) {
          info.entry_endpoints.push_back(info.name + ":" + std::to_string(number));
        }
        if (se.resolution == "NONE") info.entry_endpoints.clear();
      }
      const auto key = info.key();
      if (snap.services.emplace(key, std::move(info)).second) {
        snap.external_hosts[ascii_lower(host)].push_back(key);
      }
    }
  }
}

void add_subsets(const mesh_documents& docs, mesh_snapshot& snap, diagnostics& diag) {
  for (const auto& dr : docs.destination_rules) {
    if (dr.host.empty()) continue;
    const auto found = snap.services.find(snap.service_key(dr.host, dr.meta.ns));
    service_info* svc = found == snap.services.end() ? nullptr : &found->second;
    if (!svc) {
      if (dr.host.find('*') == std::string::npos) {
        diag.warning(dr.host_where, "spec.host",
                     "referenced host not found: \"" + dr.host +
                         "\" (no Service of that name: the DestinationRule has no effect)");
      }
      continue;
    }
    if (!dr.hash_header.empty()) svc->hash_header = dr.hash_header;
    if (!dr.hash_cookie.empty()) svc->hash_cookie = dr.hash_cookie;
    svc->policy = dr.policy;
    warn_port_levels(dr.policy, *svc, diag);
    for (std::size_t i = 0; i < dr.subsets.size(); ++i) {
      const auto& s = dr.subsets[i];
      if (s.name.empty()) continue;
      warn_port_levels(s.policy, *svc, diag);
      subset_def def{s.name, s.labels, false, {}, s.policy};
      for (const auto& w : svc->workloads) {
        if (selects(s.labels, snap.workloads.at(w + "." + svc->ns).labels)) {
          def.workloads.push_back(w);
        }
      }
      if (def.workloads.empty()) {
        diag.warning(s.where, "spec.subsets[" + std::to_string(i) + "]",
                     "subset \"" + s.name + "\" of \"" + svc->key() +
                         "\" selects no Deployment or Pod [IST0173]");
      }
      svc->subsets[s.name] = std::move(def);
    }
  }
  // A lane is a subset of every service of its group, unless a DestinationRule
  // already defines a subset of that name (the DestinationRule's labels win).
  for (const auto& [lane_name, lane] : snap.lanes) {
    const auto& group = snap.lane_groups.at(lane.group);
    for (const auto& key : group.services) {
      auto& svc = snap.services.at(key);
      if (svc.subsets.count(lane_name)) continue;
      subset_def def{lane_name, lane.selector, true, {}, {}};
      if (auto m = lane.members.find(key); m != lane.members.end()) def.workloads = m->second;
      svc.subsets.emplace(lane_name, std::move(def));
    }
  }
}

}  // namespace

std::shared_ptr<const mesh_snapshot> compile_mesh(const mesh_documents& docs, diagnostics& diag) {
  auto snap = std::make_shared<mesh_snapshot>();
  snap->objects = docs.objects;
  check_duplicates(docs, diag);
  add_services_and_workloads(docs, *snap);
  add_service_entries(docs, *snap, diag);
  add_gateways(docs, *snap);
  add_lane_groups(docs, *snap, diag);
  add_lanes(docs, *snap, diag);
  add_subsets(docs, *snap, diag);
  compile_routes(docs, *snap, diag);
  analyze_mesh(docs, *snap, diag);
  if (diag.has_errors()) return nullptr;
  return snap;
}

namespace {
template <class T>
void append_all(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

void merge(mesh_documents& to, const mesh_documents& from) {
  append_all(to.virtual_services, from.virtual_services);
  append_all(to.service_entries, from.service_entries);
  append_all(to.k8s_gateways, from.k8s_gateways);
  append_all(to.destination_rules, from.destination_rules);
  append_all(to.gateways, from.gateways);
  append_all(to.services, from.services);
  append_all(to.deployments, from.deployments);
  append_all(to.lane_groups, from.lane_groups);
  append_all(to.lanes, from.lanes);
  to.objects += from.objects;
  to.skipped += from.skipped;
}

decode_cache::entry decode_source(const source_file& s) {
  decode_cache::entry e;
  diagnostics d;
  e.docs = decode_documents(split_documents(s, d), d);
  e.diags = d.items();
  return e;
}
}  // namespace

const decode_cache::entry& decode_cache::get(const source_file& source) {
  const std::string key = source.name + '\0' + content_hash(source.text);
  auto it = entries_.find(key);
  if (it == entries_.end())
    it = entries_.emplace(key, std::pair{decode_source(source), true}).first;
  it->second.second = true;
  return it->second.first;
}

void decode_cache::prune() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.second) {
      it->second.second = false;
      ++it;
    } else {
      it = entries_.erase(it);
    }
  }
}

load_result load_mesh(const std::vector<source_file>& sources, diagnostics& diag,
                      decode_cache* cache) {
  mesh_documents decoded;
  std::vector<source_digest> digests;
  std::string all;
  for (const auto& s : sources) {
    // Decoding is per document, so decoding file by file and merging is the
    // same as decoding everything at once; cross-file checks are the
    // compiler's.
    const auto fresh = cache ? decode_cache::entry{} : decode_source(s);
    const auto& e = cache ? cache->get(s) : fresh;
    for (const auto& d : e.diags) diag.append(d);
    merge(decoded, e.docs);
    digests.push_back({s.name, content_hash(s.text)});
    // The version names the content, not where it lives: the same files
    // copied elsewhere (laneproxy local's children) keep the same version.
    all += digests.back().hash + '\0';
  }
  if (cache) cache->prune();
  load_result result{nullptr, decoded.objects, decoded.skipped};
  auto compiled = compile_mesh(decoded, diag);
  if (!compiled) return result;
  // Still private to this function: finish it before anyone shares it.
  auto snap = std::const_pointer_cast<mesh_snapshot>(compiled);
  snap->sources = std::move(digests);
  snap->version = content_hash(all);
  result.snapshot = std::move(snap);
  return result;
}

}  // namespace laneproxy::config
