#include "config/resource_decoder.h"

#include <cctype>
#include <set>

#include "config/field_rules.h"

namespace laneproxy::config {

namespace {

constexpr std::string_view istio_networking = "networking.istio.io/";
constexpr std::string_view asm_group = "istio.alibabacloud.com/";

using decoder_fn = void (*)(const yaml_field&, object_meta, mesh_documents&);

struct kind_entry {
  std::string_view kind;
  std::string_view group;  // apiVersion prefix ("" for the core group)
  std::initializer_list<std::string_view> versions;
  bool namespaced;
  decoder_fn decode;
};

const kind_entry kinds[] = {
    {"VirtualService",
     istio_networking,
     {"v1alpha3", "v1beta1", "v1"},
     true,
     decode_virtual_service},
    {"DestinationRule",
     istio_networking,
     {"v1alpha3", "v1beta1", "v1"},
     true,
     decode_destination_rule},
    {"Gateway", istio_networking, {"v1alpha3", "v1beta1", "v1"}, true, decode_gateway},
    {"Service", "", {"v1"}, true, decode_service},
    {"Deployment", "apps/", {"v1"}, true, decode_deployment},
    {"ASMSwimLaneGroup", asm_group, {"v1"}, false, decode_lane_group},
    {"ASMSwimLane", asm_group, {"v1"}, false, decode_lane},
};

const kind_entry* find_kind(const std::string& kind, const std::string& api_version) {
  for (const auto& k : kinds) {
    if (k.kind != kind) continue;
    // `Gateway` also exists in gateway.networking.k8s.io, which laneproxy does
    // not read: only the Istio group's objects are this entry's.
    if (!k.group.empty() && api_version.rfind(k.group, 0) != 0) continue;
    if (k.group.empty() && api_version.find('/') != std::string::npos) continue;
    return &k;
  }
  return nullptr;
}

object_meta decode_meta(const yaml_field& root, const kind_entry& entry, const std::string& kind) {
  object_meta meta;
  meta.kind = kind;
  meta.where = root["kind"].mark();
  const auto m = root["metadata"];
  if (!m.present()) {
    m.error("metadata is required");
    return meta;
  }
  if (!m.expect_map()) return meta;
  if (auto name = m["name"].require_string()) {
    meta.name = *name;
    if (!is_dns1123_subdomain(*name)) {
      m["name"].error("invalid name \"" + *name +
                      "\" (lower-case letters, digits, '-' and '.'; at most 253 characters)");
    }
  }
  if (entry.namespaced) {
    meta.ns = m["namespace"].string().value_or("default");
    if (!is_dns1123_label(meta.ns)) {
      m["namespace"].error("invalid namespace \"" + meta.ns + "\"");
    }
  } else if (m["namespace"].present()) {
    m["namespace"].warning(kind + " is cluster-scoped: namespace ignored");
  }
  meta.labels = decode_labels(m["labels"]);
  meta.annotations = m["annotations"].string_map();
  return meta;
}

}  // namespace

mesh_documents decode_documents(const std::vector<yaml_document>& docs, diagnostics& diag) {
  mesh_documents out;
  for (const auto& doc : docs) {
    ++out.objects;
    const yaml_field root(doc.root, "", doc.file, diag);
    const auto kind = root["kind"].string();
    const auto api_version = root["apiVersion"].string();
    if (!kind || !api_version) {
      if (!kind) root.error_at("kind", "kind is required");
      if (!api_version) root.error_at("apiVersion", "apiVersion is required");
      continue;
    }
    const kind_entry* entry = find_kind(*kind, *api_version);
    if (!entry) {
      ++out.skipped;
      diag.note(root["kind"].mark(), "",
                "skipped " + *kind + " (" + *api_version + "): not a kind laneproxy reads");
      continue;
    }
    const auto version = api_version->substr(entry->group.size());
    bool known_version = false;
    for (auto v : entry->versions) known_version = known_version || v == version;
    if (!known_version) {
      root["apiVersion"].error("unsupported apiVersion \"" + *api_version + "\" for " + *kind);
      continue;
    }
    object_meta meta = decode_meta(root, *entry, *kind);
    const auto spec = root["spec"];
    if (!spec.present()) {
      root.error_at("spec", "spec is required");
      continue;
    }
    if (!spec.expect_map()) continue;
    entry->decode(spec, std::move(meta), out);
  }
  return out;
}

destination decode_destination(const yaml_field& f, destination_form form) {
  destination d;
  d.where = f.mark();
  d.path = f.path();
  if (!f.present()) {
    f.error("destination is required");
    return d;
  }
  if (!f.expect_map()) return d;
  const bool istio = form == destination_form::istio;
  if (istio) {
    f.check_keys({"host", "subset", "port"});
  } else {
    f.check_keys({"host", "portNum"});
  }
  const auto port = istio ? f["port"]["number"] : f["portNum"];
  d.host_where = f["host"].mark();
  d.subset_where = f["subset"].mark();
  d.port_where = port.mark();
  if (auto host = f["host"].require_string()) {
    // An invalid host stays empty: reported once here, not again as "not found".
    if (is_valid_host(*host, false)) {
      d.host = *host;
    } else {
      f["host"].error("invalid host \"" + *host + "\"");
    }
  }
  if (auto subset = f["subset"].string()) {
    d.subset = *subset;
    // `$name` is ASM's dynamic subset: the request's own lane (traffic label).
    const bool dynamic = !subset->empty() && (*subset)[0] == '$';
    if (!dynamic && !is_dns1123_label(*subset)) {
      f["subset"].error("invalid subset name \"" + *subset + "\"");
    }
  }
  if (istio && f["port"].expect_map()) f["port"].check_keys({"number"});
  d.port = static_cast<std::uint32_t>(port.integer(1, 65535).value_or(0));
  return d;
}

// ---- DestinationRule ------------------------------------------------------

namespace {

void check_enum(const yaml_field& f, std::initializer_list<std::string_view> allowed) {
  const auto v = f.string();
  if (!v) return;
  for (auto a : allowed) {
    if (a == *v) return;
  }
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  f.error("invalid value \"" + *v + "\" (one of " + list + ")");
}

void decode_load_balancer(const yaml_field& lb, destination_rule* dr) {
  if (!lb.expect_map()) return;
  lb.check_keys({"simple", "consistentHash", "localityLbSetting", "warmupDurationSecs", "warmup"});
  const auto simple = lb["simple"];
  const auto hash = lb["consistentHash"];
  if (simple.present() && hash.present()) {
    lb.error("only one of simple or consistentHash may be set");
  }
  check_enum(simple, {"UNSPECIFIED", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST",
                      "LEAST_CONN"});
  if (simple.string().value_or("ROUND_ROBIN") != "ROUND_ROBIN") {
    not_applied(simple, "endpoints are picked round robin");
  }
  decode_min_duration(lb["warmupDurationSecs"], false);
  for (auto k : {"localityLbSetting", "warmupDurationSecs", "warmup"}) not_applied(lb[k]);
  not_applied(hash,
              "endpoints are picked round robin (it keys only laneproxy.io/split: sticky lane "
              "picks)");
  if (hash.expect_map()) {
    hash.check_keys({"httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName",
                     "ringHash", "maglev", "minimumRingSize"});
    int keys = 0;
    for (auto k : {"httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"}) {
      keys += hash[k].present() ? 1 : 0;
    }
    if (keys != 1) {
      hash.error(
          "exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName is "
          "required");
    }
    if (auto h = hash["httpHeaderName"].string()) {
      if (!is_header_name(*h)) hash["httpHeaderName"].error("invalid header name \"" + *h + "\"");
      if (dr) dr->hash_header = *h;
    }
    const auto cookie = hash["httpCookie"];
    if (cookie.expect_map()) {
      cookie.check_keys({"name", "path", "ttl", "attributes"});
      if (auto name = cookie["name"].require_string(); name && dr) dr->hash_cookie = *name;
      cookie["ttl"].duration();
    }
    hash["useSourceIp"].boolean();
    hash["minimumRingSize"].integer(0, UINT32_MAX);
  }
}

void decode_traffic_policy(const yaml_field& tp, destination_rule* dr, bool port_level) {
  if (!tp.expect_map()) return;
  if (port_level) {
    tp.check_keys({"port", "loadBalancer", "connectionPool", "outlierDetection", "tls"});
    if (!tp["port"].present()) tp.error_at("port", "port is required");
    if (tp["port"].expect_map()) tp["port"]["number"].integer(1, 65535);
  } else {
    tp.check_keys({"loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings",
                   "tunnel", "proxyProtocol"});
  }
  decode_load_balancer(tp["loadBalancer"], dr);
  const auto pool = tp["connectionPool"];
  if (pool.expect_map()) {
    pool.check_keys({"tcp", "http"});
    const auto tcp = pool["tcp"];
    if (tcp.expect_map()) {
      tcp.check_keys({"maxConnections", "connectTimeout", "tcpKeepalive", "maxConnectionDuration",
                      "idleTimeout"});
      tcp["maxConnections"].integer(0, INT32_MAX);
      decode_min_duration(tcp["connectTimeout"], false);
      decode_min_duration(tcp["maxConnectionDuration"], false);
      decode_min_duration(tcp["idleTimeout"], false);
    }
    const auto http = pool["http"];
    if (http.expect_map()) {
      http.check_keys({"http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection",
                       "maxRetries", "idleTimeout", "h2UpgradePolicy", "useClientProtocol",
                       "maxConcurrentStreams"});
      for (auto k : {"http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection",
                     "maxRetries", "maxConcurrentStreams"}) {
        http[k].integer(0, INT32_MAX);
      }
      decode_min_duration(http["idleTimeout"], false);
      check_enum(http["h2UpgradePolicy"], {"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"});
      http["useClientProtocol"].boolean();
    }
  }
  const auto od = tp["outlierDetection"];
  if (od.expect_map()) {
    od.check_keys({"consecutiveErrors", "consecutive5xxErrors", "consecutiveGatewayErrors",
                   "consecutiveLocalOriginFailures", "splitExternalLocalOriginErrors", "interval",
                   "baseEjectionTime", "maxEjectionPercent", "minHealthPercent"});
    for (auto k : {"consecutiveErrors", "consecutive5xxErrors", "consecutiveGatewayErrors",
                   "consecutiveLocalOriginFailures"}) {
      od[k].integer(0, INT32_MAX);
    }
    od["splitExternalLocalOriginErrors"].boolean();
    decode_min_duration(od["interval"], false);
    decode_min_duration(od["baseEjectionTime"], false);
    od["maxEjectionPercent"].integer(0, 100);
    od["minHealthPercent"].integer(0, 100);
  }
  const auto tls = tp["tls"];
  if (tls.expect_map()) {
    check_enum(tls["mode"], {"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"});
  }
  for (auto k : {"connectionPool", "outlierDetection", "tls", "tunnel", "proxyProtocol"}) {
    not_applied(tp[k]);
  }
  if (!port_level) {
    std::set<std::int64_t> ports;
    tp["portLevelSettings"].for_each([&](const yaml_field& p) {
      decode_traffic_policy(p, nullptr, true);
      if (auto n = p["port"]["number"].integer(1, 65535); n && !ports.insert(*n).second) {
        p["port"]["number"].error("duplicate port " + std::to_string(*n));
      }
    });
  }
}

}  // namespace

void decode_destination_rule(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  destination_rule dr;
  dr.meta = std::move(meta);
  spec.check_keys({"host", "trafficPolicy", "subsets", "exportTo", "workloadSelector"});
  dr.host_where = spec["host"].mark();
  if (auto host = spec["host"].require_string()) {
    dr.host = *host;
    if (!is_valid_host(*host, true)) spec["host"].error("invalid host \"" + *host + "\"");
  }
  decode_traffic_policy(spec["trafficPolicy"], &dr, false);
  for (auto k : {"exportTo", "workloadSelector"}) not_applied(spec[k]);
  std::set<std::string> names;
  spec["subsets"].for_each([&](const yaml_field& s) {
    if (!s.expect_map()) return;
    s.check_keys({"name", "labels", "trafficPolicy"});
    subset sub;
    sub.where = s.mark();
    if (auto name = s["name"].require_string()) {
      sub.name = *name;
      if (!is_dns1123_label(*name)) s["name"].error("invalid subset name \"" + *name + "\"");
      if (!names.insert(*name).second) s["name"].error("duplicate subset name \"" + *name + "\"");
    }
    sub.labels = decode_labels(s["labels"]);
    decode_traffic_policy(s["trafficPolicy"], nullptr, false);
    dr.subsets.push_back(std::move(sub));
  });
  out.destination_rules.push_back(std::move(dr));
}

// ---- Gateway --------------------------------------------------------------

void decode_gateway(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  gateway gw;
  gw.meta = std::move(meta);
  spec.check_keys({"servers", "selector"});
  gw.selector = decode_labels(spec["selector"]);
  const auto servers = spec["servers"];
  std::set<std::string> port_names;
  bool any = false;
  servers.for_each([&](const yaml_field& s) {
    any = true;
    if (!s.expect_map()) return;
    s.check_keys({"port", "bind", "hosts", "tls", "name", "defaultEndpoint"});
    for (auto k : {"bind", "tls", "defaultEndpoint"}) not_applied(s[k]);
    gateway_server server;
    const auto port = s["port"];
    if (!port.present()) {
      s.error_at("port", "port is required");
    } else if (port.expect_map()) {
      port.check_keys({"number", "protocol", "name", "targetPort"});
      if (!port["number"].present()) port.error_at("number", "number is required");
      server.port = static_cast<std::uint32_t>(port["number"].integer(1, 65535).value_or(0));
      if (auto proto = port["protocol"].require_string()) {
        server.protocol = *proto;
        check_enum(port["protocol"],
                   {"HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS"});
        if ((*proto == "HTTPS" || *proto == "TLS") && !s["tls"].present()) {
          s.error_at("tls", "tls is required for protocol " + *proto);
        }
      }
      if (auto name = port["name"].string()) {
        server.port_name = *name;
        if (!port_names.insert(*name).second) {
          port["name"].error("port names in servers must be unique: duplicate \"" + *name + "\"");
        }
      }
    }
    const auto hosts = s["hosts"];
    if (!hosts.present()) s.error_at("hosts", "hosts is required: at least one host");
    hosts.for_each([&](const yaml_field& h) {
      const auto host = h.string();
      if (!host) return;
      std::string_view name = *host;
      const auto slash = name.find('/');
      if (slash != std::string_view::npos) {
        const auto ns = name.substr(0, slash);
        if (ns != "*" && ns != "." && ns != "~" && !is_dns1123_label(ns)) {
          h.error("invalid namespace \"" + std::string(ns) + "\" in host \"" + *host + "\"");
        }
        name.remove_prefix(slash + 1);
      }
      if (!is_valid_host(name, true)) h.error("invalid host \"" + *host + "\"");
      server.hosts.push_back(*host);
    });
    gw.servers.push_back(std::move(server));
  });
  if (!any && (!servers.present() || servers.is_sequence())) {
    spec.error_at("servers", "gateway must have at least one server");
  }
  out.gateways.push_back(std::move(gw));
}

// ---- Service and Deployment ----------------------------------------------

void decode_service(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  service svc;
  svc.meta = std::move(meta);
  svc.selector = decode_labels(spec["selector"]);
  std::set<std::string> names;
  std::size_t count = 0;
  spec["ports"].for_each([&](const yaml_field& p) { count += p.is_map() ? 1 : 0; });
  spec["ports"].for_each([&](const yaml_field& p) {
    if (!p.expect_map()) return;
    service_port port;
    if (!p["port"].present()) p.error_at("port", "port is required");
    port.port = static_cast<std::uint32_t>(p["port"].integer(1, 65535).value_or(0));
    port.name = p["name"].string().value_or("");
    if (count > 1 && port.name.empty()) {
      p.error_at("name", "name is required when a Service has several ports");
    }
    if (!port.name.empty() && !names.insert(port.name).second) {
      p["name"].error("duplicate port name \"" + port.name + "\"");
    }
    const auto target = p["targetPort"];
    if (target.present()) {
      const auto text = target.string();
      if (text && !text->empty() && std::isdigit(static_cast<unsigned char>((*text)[0]))) {
        port.target_port = static_cast<std::uint32_t>(target.integer(1, 65535).value_or(0));
      }
    }
    svc.ports.push_back(std::move(port));
  });
  out.services.push_back(std::move(svc));
}

void decode_deployment(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  deployment d;
  d.meta = std::move(meta);
  d.replicas = spec["replicas"].integer(0, INT32_MAX).value_or(1);
  const auto tmpl = spec["template"];
  if (!tmpl.present()) {
    spec.error_at("template", "template is required");
  } else if (tmpl.expect_map() && tmpl["metadata"].expect_map()) {
    d.pod_labels = decode_labels(tmpl["metadata"]["labels"]);
  }
  const auto selector = spec["selector"];
  if (!selector.present()) {
    spec.error_at("selector", "selector is required");
  } else if (selector.expect_map()) {
    for (const auto& [k, v] : selector["matchLabels"].string_map()) {
      const auto it = d.pod_labels.find(k);
      if (it == d.pod_labels.end() || it->second != v) {
        selector["matchLabels"][k].error("selector " + k + "=" + v +
                                         " does not match the template's labels");
      }
    }
  }
  const auto pod_spec = tmpl["spec"];
  pod_spec["containers"].for_each([&](const yaml_field& c) {
    if (!c.expect_map()) return;
    container ctr;
    ctr.name = c["name"].require_string().value_or("");
    ctr.image = c["image"].string().value_or("");
    c["command"].for_each(
        [&](const yaml_field& a) { ctr.command.push_back(a.string().value_or("")); });
    c["args"].for_each([&](const yaml_field& a) { ctr.args.push_back(a.string().value_or("")); });
    c["env"].for_each([&](const yaml_field& e) {
      if (!e.expect_map()) return;
      env_var var;
      var.name = e["name"].require_string().value_or("");
      var.value = e["value"].string().value_or("");
      ctr.env.push_back(std::move(var));
    });
    c["ports"].for_each([&](const yaml_field& p) {
      if (!p.expect_map()) return;
      if (!p["containerPort"].present()) p.error_at("containerPort", "containerPort is required");
      if (auto n = p["containerPort"].integer(1, 65535)) {
        ctr.ports.push_back(static_cast<std::uint32_t>(*n));
      }
    });
    d.containers.push_back(std::move(ctr));
  });
  out.deployments.push_back(std::move(d));
}

}  // namespace laneproxy::config
