#include "config/mesh_analyzers.h"

#include <algorithm>
#include <set>

#include "config/ascii.h"
#include "config/field_rules.h"

namespace laneproxy::config {

namespace {

// A server host "ns/host" as the namespace part and the host part.
std::pair<std::string_view, std::string_view> split_server_host(std::string_view h) {
  const auto slash = h.find('/');
  if (slash == std::string_view::npos) return {"*", h};
  return {h.substr(0, slash), h.substr(slash + 1)};
}

// IST0132: a VirtualService bound to a Gateway none of whose servers
// serves any of its hosts (for the VirtualService's namespace).
void check_hosts_in_gateways(const mesh_documents& docs, const mesh_snapshot& snap,
                             diagnostics& diag) {
  for (const auto& vs : docs.virtual_services) {
    for (std::size_t i = 0; i < vs.gateways.size(); ++i) {
      if (vs.gateways[i] == "mesh") continue;
      const auto gw = snap.gateways.find(qualified_gateway(vs.gateways[i], vs.meta.ns));
      if (gw == snap.gateways.end()) continue;
      bool served = false;
      for (const auto& s : gw->second.servers) {
        for (const auto& sh : s.hosts) {
          const auto [ns, host] = split_server_host(sh);
          const bool visible =
              ns == "*" || (ns == "." ? gw->second.ns == vs.meta.ns : ns == vs.meta.ns);
          for (const auto& h : vs.hosts) served = served || (visible && hosts_meet(host, h));
        }
      }
      if (!served) {
        diag.warning(vs.gateways_where, "spec.gateways[" + std::to_string(i) + "]",
                     "no server of gateway \"" + gw->first +
                         "\" serves any of this VirtualService's hosts [IST0132]");
      }
    }
  }
}

// The workloads a gateway's selector picks.
std::vector<const workload_info*> selected(const gateway_info& g, const mesh_snapshot& snap) {
  std::vector<const workload_info*> out;
  if (g.selector.empty()) return out;
  for (const auto& [key, w] : snap.workloads) {
    if (selects(g.selector, w.labels)) out.push_back(&w);
  }
  return out;
}

// IST0162: a server port that no Service of the gateway's pods offers.
void check_gateway_ports(const mesh_snapshot& snap, diagnostics& diag) {
  for (const auto& [key, g] : snap.gateways) {
    const auto pods = selected(g, snap);
    if (pods.empty()) continue;  // the gateway's pods are not in the config
    std::set<std::uint32_t> offered;
    for (const auto* w : pods) {
      for (const auto& svc_key : w->services) {
        const auto svc = snap.services.find(svc_key);
        if (svc == snap.services.end()) continue;
        for (const auto& p : svc->second.ports) {
          offered.insert(p.port);
          if (p.target_port) offered.insert(p.target_port);
        }
      }
    }
    for (const auto& s : g.servers) {
      if (s.port == 0 || offered.count(s.port)) continue;
      diag.warning(s.port_where, s.path + ".port.number",
                   "port " + std::to_string(s.port) +
                       " is on no Service of the gateway's workloads [IST0162]");
    }
  }
}

// IST0145: two Gateways on the same workloads with a server on the same
// port for overlapping hosts.
void check_conflicting_gateways(const mesh_snapshot& snap, diagnostics& diag) {
  for (auto a = snap.gateways.begin(); a != snap.gateways.end(); ++a) {
    const auto pods_a = selected(a->second, snap);
    for (auto b = std::next(a); b != snap.gateways.end(); ++b) {
      const auto pods_b = selected(b->second, snap);
      const bool shared = std::any_of(pods_a.begin(), pods_a.end(), [&](const workload_info* w) {
        return std::find(pods_b.begin(), pods_b.end(), w) != pods_b.end();
      });
      if (!shared) continue;
      for (const auto& sa : a->second.servers) {
        for (const auto& sb : b->second.servers) {
          if (sa.port != sb.port) continue;
          for (const auto& ha : sa.hosts) {
            for (const auto& hb : sb.hosts) {
              if (!hosts_meet(split_server_host(ha).second, split_server_host(hb).second)) continue;
              diag.error(sb.port_where, sb.path,
                         "gateways \"" + a->first + "\" and \"" + b->first + "\" both serve port " +
                             std::to_string(sb.port) + " for \"" + hb +
                             "\" on the same workloads [IST0145]");
            }
          }
        }
      }
    }
  }
}

// A mesh-bound VirtualService's host as Istio names it: short names in
// the VirtualService's namespace.
std::string full_host(const std::string& host, const std::string& ns) {
  if (host.find('.') != std::string::npos || host.find('*') != std::string::npos) {
    return ascii_lower(host);
  }
  return ascii_lower(host) + "." + ns + ".svc.cluster.local";
}

// Whether two exportTo lists reach a namespace in common.
bool exports_meet(const std::vector<std::string>& a, const std::string& ns_a,
                  const std::vector<std::string>& b, const std::string& ns_b) {
  const auto expand = [](const std::vector<std::string>& e, const std::string& ns) {
    std::set<std::string> out;
    if (e.empty()) out.insert("*");
    for (const auto& x : e) out.insert(x == "." ? ns : x);
    return out;
  };
  const auto ea = expand(a, ns_a), eb = expand(b, ns_b);
  if (ea.count("*") || eb.count("*")) return !ea.count("~") && !eb.count("~");
  return std::any_of(ea.begin(), ea.end(), [&](const std::string& x) { return eb.count(x); });
}

// IST0109: two mesh VirtualServices for one host, seen from one namespace.
void check_conflicting_mesh_hosts(const mesh_documents& docs, diagnostics& diag) {
  struct claim {
    const virtual_service* vs;
    std::string host;
  };
  std::vector<claim> claims;
  for (const auto& vs : docs.virtual_services) {
    const bool mesh = vs.gateways.empty() || std::find(vs.gateways.begin(), vs.gateways.end(),
                                                       "mesh") != vs.gateways.end();
    if (!mesh) continue;
    for (const auto& h : vs.hosts) {
      const auto host = full_host(h, vs.meta.ns);
      for (const auto& c : claims) {
        if (c.host != host ||
            !exports_meet(c.vs->export_to, c.vs->meta.ns, vs.export_to, vs.meta.ns)) {
          continue;
        }
        diag.error(vs.meta.where, "spec.hosts",
                   "host \"" + host + "\" is also claimed for the mesh by VirtualService " +
                       c.vs->meta.ns + "/" + c.vs->meta.name + " [IST0109]");
      }
      claims.push_back({&vs, host});
    }
  }
}

// IST0128 / IST0129: TLS origination that does not verify the server.
void check_unverified_tls(const mesh_documents& docs, diagnostics& diag) {
  for (const auto& dr : docs.destination_rules) {
    for (const auto& t : dr.unverified) {
      diag.warning(t.where, t.path,
                   std::string("TLS origination without caCertificates: the server's identity "
                               "is not verified ") +
                       (t.port_level ? "[IST0129]" : "[IST0128]"));
    }
  }
}

}  // namespace

void analyze_mesh(const mesh_documents& docs, const mesh_snapshot& snap, diagnostics& diag) {
  check_hosts_in_gateways(docs, snap, diag);
  check_gateway_ports(snap, diag);
  check_conflicting_gateways(snap, diag);
  check_conflicting_mesh_hosts(docs, diag);
  check_unverified_tls(docs, diag);
}

}  // namespace laneproxy::config
