#include "config/bootstrap.h"

#include <arpa/inet.h>

#include <charconv>
#include <filesystem>

#include "config/dns_endpoints.h"
#include "config/source_loader.h"
#include "config/yaml_field.h"

namespace laneproxy::config {

std::string socket_address::text() const {
  if (ip.empty() && !host.empty()) return host + ":" + std::to_string(port);
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::optional<socket_address> parse_socket_address(std::string_view text) {
  std::string_view host, port;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  // inet_pton only reads the literal: the config side never resolves names.
  socket_address out;
  const std::string h(host);
  out.v6 = h.find(':') != std::string::npos;
  if (inet_pton(out.v6 ? AF_INET6 : AF_INET, h.c_str(), out.bytes.data()) != 1) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || port.empty() || value > 65535) {
    return std::nullopt;
  }
  out.ip = h;
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

std::optional<socket_address> parse_endpoint_address(std::string_view text) {
  if (auto literal = parse_socket_address(text)) return literal;
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || !valid_dns_name(text.substr(0, colon))) {
    return std::nullopt;
  }
  // The port's rules are the literal's: parse it through the same path.
  auto out = parse_socket_address("0.0.0.0" + std::string(text.substr(colon)));
  if (!out) return std::nullopt;
  socket_address named;
  named.port = out->port;
  named.host = std::string(text.substr(0, colon));
  return named;
}

namespace {

// A listener's address is an IP literal; an endpoint may be a DNS name.
std::optional<socket_address> decode_address(const yaml_field& f, bool endpoint = false) {
  const auto text = f.string();
  if (!text) return std::nullopt;
  auto addr = endpoint ? parse_endpoint_address(*text) : parse_socket_address(*text);
  if (!addr) {
    f.error(endpoint ? "expected IP:PORT or NAME:PORT (\"10.0.0.7:8000\", "
                       "\"mocka-v1.default.svc.cluster.local:8000\"), got \"" +
                           *text + "\""
                     : "expected IP:PORT with an IP literal (\"127.0.0.1:8080\", \"[::1]:8080\"), "
                       "got \"" +
                           *text + "\"");
    return std::nullopt;
  }
  if (endpoint && addr->port == 0) {
    f.error("port 0 is not an address to send to");
    return std::nullopt;
  }
  addr->where = f.mark();
  return addr;
}

std::optional<socket_address> require_address(const yaml_field& parent, std::string_view key) {
  const auto f = parent[key];
  if (!f.present()) {
    parent.error_at(key, std::string(key) + " is required");
    return std::nullopt;
  }
  return decode_address(f);
}

std::vector<socket_address> decode_address_list(const yaml_field& f) {
  std::vector<socket_address> out;
  std::size_t items = 0;
  f.for_each([&](const yaml_field& item) {
    ++items;
    if (auto a = decode_address(item, true)) out.push_back(std::move(*a));
  });
  if (items == 0 && f.is_sequence()) f.error("an endpoint list must not be empty");
  return out;
}

std::chrono::milliseconds millis(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

// f[key] into `out` when given, refused below `least`.
void decode_duration(const yaml_field& f, std::string_view key, std::chrono::milliseconds least,
                     std::chrono::milliseconds& out) {
  const auto d = f[key].duration();
  if (!d) return;
  if (*d < least) {
    f[key].error("must be at least " + std::to_string(least.count()) + "ms");
    return;
  }
  out = millis(*d);
}

void decode_dns(const yaml_field& f, dns_settings& out) {
  if (!f.expect_map()) return;
  f.check_keys({"servers", "refresh"});
  if (const auto servers = f["servers"]; servers.present()) {
    if (!servers.is_sequence()) {
      servers.error("expected a list of IP:PORT (a DNS server's address)");
    } else {
      servers.for_each([&](const yaml_field& item) {
        if (auto a = decode_address(item)) {
          if (a->port == 0) {
            item.error("port 0 is not a DNS server's port (53 is)");
          } else {
            out.servers.push_back(std::move(*a));
          }
        }
      });
    }
  }
  decode_duration(f, "refresh", std::chrono::milliseconds(100), out.refresh);
}

std::optional<active_health_check> decode_health_check(const yaml_field& f) {
  if (!f.expect_map()) return std::nullopt;
  f.check_keys({"interval", "timeout", "unhealthyThreshold", "healthyThreshold", "path", "port"});
  active_health_check h;
  decode_duration(f, "interval", std::chrono::milliseconds(10), h.interval);
  decode_duration(f, "timeout", std::chrono::milliseconds(10), h.timeout);
  h.unhealthy_threshold =
      static_cast<std::uint32_t>(f["unhealthyThreshold"].integer(1, 1000).value_or(2));
  h.healthy_threshold =
      static_cast<std::uint32_t>(f["healthyThreshold"].integer(1, 1000).value_or(1));
  h.port = static_cast<std::uint16_t>(f["port"].integer(1, 65535).value_or(0));
  if (auto p = f["path"].string()) {
    if (p->empty() || p->front() != '/' || p->find_first_of(" \r\n") != std::string::npos) {
      f["path"].error("a health check path starts with / and holds no space or line break");
    } else {
      h.path = *p;
    }
  }
  return h;
}

void decode_timeouts(const yaml_field& f, proxy_timeouts& t) {
  if (!f.expect_map()) return;
  f.check_keys({"connect", "requestHeaders", "request", "idle", "drain"});
  constexpr std::chrono::milliseconds least(1);
  decode_duration(f, "connect", least, t.connect);
  decode_duration(f, "requestHeaders", least, t.request_headers);
  decode_duration(f, "request", least, t.request);
  decode_duration(f, "idle", least, t.idle);
  decode_duration(f, "drain", least, t.drain);
}

void decode_limits(const yaml_field& f, proxy_limits& l) {
  if (!f.expect_map()) return;
  f.check_keys({"maxRequestHeadersKb", "maxResponseHeadersKb", "idleConnectionsPerEndpoint",
                "maxDownstreamConnections", "traceEntries", "traceTtl"});
  const auto kb = [&](std::string_view key, std::uint32_t& out) {
    if (auto v = f[key].integer(1, 8192)) out = static_cast<std::uint32_t>(*v * 1024);
  };
  const auto count = [&](std::string_view key, std::uint32_t& out, std::int64_t min) {
    if (auto v = f[key].integer(min, 10'000'000)) out = static_cast<std::uint32_t>(*v);
  };
  kb("maxRequestHeadersKb", l.max_request_header_bytes);
  kb("maxResponseHeadersKb", l.max_response_header_bytes);
  count("idleConnectionsPerEndpoint", l.idle_connections_per_endpoint, 0);
  count("maxDownstreamConnections", l.max_downstream_connections, 1);
  count("traceEntries", l.trace_entries, 1);
  if (auto d = f["traceTtl"].duration()) {
    if (*d < std::chrono::milliseconds(1)) {
      f["traceTtl"].error("must be at least 1ms");
    } else {
      l.trace_ttl = millis(*d);
    }
  }
}

std::optional<gateway_listener> decode_gateway(const yaml_field& f) {
  if (!f.expect_map()) return std::nullopt;
  f.check_keys({"name", "listen"});
  gateway_listener g;
  g.where = f.mark();
  g.gateway = f["name"].require_string().value_or("");
  auto listen = require_address(f, "listen");
  if (!listen || g.gateway.empty()) return std::nullopt;
  g.listen = *listen;
  return g;
}

std::optional<sidecar_listeners> decode_sidecar(const yaml_field& f) {
  if (!f.expect_map()) return std::nullopt;
  f.check_keys({"workload", "namespace", "labels", "inbound", "app", "outbound"});
  sidecar_listeners s;
  s.where = f.mark();
  s.workload = f["workload"].require_string().value_or("");
  s.ns = f["namespace"].string().value_or("default");
  s.labels = f["labels"].string_map();
  auto inbound = require_address(f, "inbound");
  auto app = require_address(f, "app");
  if (app && app->port == 0) {
    f["app"].error("port 0 is not an address to send to");
    app.reset();
  }
  if (f["outbound"].present()) {
    s.outbound = decode_address(f["outbound"]);
    if (!s.outbound) return std::nullopt;
  }
  if (!inbound || !app || s.workload.empty()) return std::nullopt;
  s.inbound = *inbound;
  s.app = *app;
  return s;
}

// A pattern must name a DNS host on a port once filled in, and use no
// placeholder but the three known ones.
void decode_name_pattern(const yaml_field& f, bool needs_subset, std::string& out) {
  const auto text = f.string();
  if (!text) return;
  const auto filled = fill_endpoint_name(*text, "svc", "lane", "ns");
  const auto address = parse_endpoint_address(filled);
  if (filled.find_first_of("{}") != std::string::npos || !address || address->host.empty()) {
    f.error(
        "expected a DNS name and a port, with {service}, {subset} and {namespace} "
        "standing for the mesh's names (\"{service}-{subset}.{namespace}.svc.cluster."
        "local:15006\"), got \"" +
        *text + "\"");
  } else if (needs_subset && text->find("{subset}") == std::string::npos) {
    f.error("must name {subset}: every lane needs a name of its own");
  } else {
    out = *text;
  }
}

void decode_endpoint_names(const yaml_field& f, endpoint_name_patterns& out) {
  if (!f.expect_map()) return;
  f.check_keys({"subset", "service"});
  decode_name_pattern(f["subset"], true, out.subset);
  decode_name_pattern(f["service"], false, out.service);
}

std::vector<service_endpoints> decode_endpoints(const yaml_field& f) {
  std::vector<service_endpoints> out;
  f.for_each_entry([&](const std::string& host, const yaml_field& value) {
    service_endpoints e;
    e.host = host;
    e.where = value.mark();
    if (value.is_sequence()) {
      e.plain = decode_address_list(value);
    } else if (value.is_map()) {
      value.for_each_entry([&](const std::string& subset, const yaml_field& list) {
        if (!list.is_sequence()) {
          list.error("expected a list of IP:PORT");
          return;
        }
        e.by_subset[subset] = decode_address_list(list);
      });
    } else {
      value.error("expected a list of IP:PORT, or a mapping of subset (lane) to such lists");
      return;
    }
    out.push_back(std::move(e));
  });
  return out;
}

}  // namespace

std::optional<bootstrap> parse_bootstrap(const std::string& file, const std::string& text,
                                         diagnostics& diag) {
  const auto errors_before = diag.error_count();
  const auto docs = split_documents(source_file{file, text}, diag);
  if (diag.error_count() > errors_before) return std::nullopt;
  if (docs.size() != 1) {
    diag.error({file, 0, 0}, "", "a bootstrap is one YAML document");
    return std::nullopt;
  }
  const yaml_field root(docs.front().root, "", file, diag, docs.front().first_line);
  root.check_keys({"mesh", "admin", "health", "stats", "concurrency", "gateway", "sidecar",
                   "endpoints", "timeouts", "limits", "watch", "metrics", "accessLog", "split",
                   "healthCheck", "cluster", "dns", "outboundTrafficPolicy", "endpointNames"});

  bootstrap boot;
  boot.file = file;
  const auto base = std::filesystem::path(file).parent_path();
  const auto add_mesh = [&](const std::string& p) {
    boot.mesh.push_back(std::filesystem::path(p).is_absolute() ? p : (base / p).string());
  };
  const auto mesh = root["mesh"];
  if (!mesh.present()) {
    root.error_at("mesh", "mesh is required (the folder of mesh YAML)");
  } else if (mesh.is_sequence()) {
    mesh.for_each([&](const yaml_field& item) {
      if (auto p = item.string()) add_mesh(*p);
    });
  } else if (auto p = mesh.string()) {
    add_mesh(*p);
  }
  if (root["admin"].present()) boot.admin = decode_address(root["admin"]);
  if (root["health"].present()) boot.health = decode_address(root["health"]);
  if (root["stats"].present()) boot.stats = decode_address(root["stats"]);
  if (auto c = root["concurrency"].integer(1, 256)) boot.concurrency = static_cast<unsigned>(*c);
  if (root["gateway"].present()) boot.gateway = decode_gateway(root["gateway"]);
  if (root["sidecar"].present()) boot.sidecar = decode_sidecar(root["sidecar"]);
  if (!root["gateway"].present() && !root["sidecar"].present()) {
    root.error("nothing to serve: give a gateway, a sidecar, or both");
  }
  boot.endpoints = decode_endpoints(root["endpoints"]);
  decode_endpoint_names(root["endpointNames"], boot.endpoint_names);
  decode_dns(root["dns"], boot.dns);
  if (const auto p = root["outboundTrafficPolicy"]; p.expect_map()) {
    p.check_keys({"mode"});
    if (const auto mode = p["mode"].string()) {
      if (*mode == "ALLOW_ANY" || *mode == "REGISTRY_ONLY") {
        boot.allow_any = *mode == "ALLOW_ANY";
      } else {
        p["mode"].error("expected ALLOW_ANY or REGISTRY_ONLY, got \"" + *mode + "\"");
      }
    }
  }
  decode_timeouts(root["timeouts"], boot.timeouts);
  boot.health_check = decode_health_check(root["healthCheck"]);
  decode_limits(root["limits"], boot.limits);
  if (auto m = root["metrics"].boolean()) boot.metrics = *m;
  if (auto c = root["cluster"].string()) {
    if (c->empty())
      root["cluster"].error("cluster may not be empty");
    else
      boot.cluster = *c;
  }
  if (auto split = root["split"].string()) {
    if (*split == "random") {
      boot.split = split_mode::random;
    } else if (*split == "smooth") {
      boot.split = split_mode::smooth;
    } else {
      // sticky needs a key per route: it is chosen by annotation only.
      root["split"].error("expected random or smooth, got \"" + *split + "\"");
    }
  }
  if (auto a = root["accessLog"].string()) {
    if (*a == "text" || *a == "json" || *a == "off") {
      boot.access_log = *a;
    } else {
      root["accessLog"].error("expected text, json or off, got \"" + *a + "\"");
    }
  }
  if (const auto w = root["watch"]; w.expect_map()) {
    w.check_keys({"debounce", "poll"});
    for (const auto& [key, out] :
         {std::pair{"debounce", &boot.watch.debounce}, std::pair{"poll", &boot.watch.poll}}) {
      if (const auto d = w[key].duration()) {
        if (*d < std::chrono::milliseconds(1)) {
          w[key].error("must be at least 1ms");
        } else {
          *out = millis(*d);
        }
      }
    }
  }
  if (diag.error_count() > errors_before) return std::nullopt;
  return boot;
}

std::string fill_endpoint_name(std::string_view pattern, std::string_view service,
                               std::string_view subset, std::string_view ns) {
  std::string out;
  while (!pattern.empty()) {
    bool replaced = false;
    for (const auto& [key, value] : {std::pair{std::string_view("{service}"), service},
                                     std::pair{std::string_view("{subset}"), subset},
                                     std::pair{std::string_view("{namespace}"), ns}}) {
      if (pattern.starts_with(key)) {
        out += value;
        pattern.remove_prefix(key.size());
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      out += pattern.front();
      pattern.remove_prefix(1);
    }
  }
  return out;
}

std::optional<bootstrap> load_bootstrap(const std::string& file, diagnostics& diag) {
  const auto sources = read_sources({file}, diag);
  if (sources.size() != 1) return std::nullopt;
  return parse_bootstrap(file, sources.front().text, diag);
}

void resolve_bootstrap(bootstrap& boot, const mesh_snapshot& mesh, diagnostics& diag) {
  if (boot.gateway) {
    auto& g = boot.gateway->gateway;
    if (g.find('/') == std::string::npos) {
      std::vector<std::string> found;
      for (const auto& [key, gw] : mesh.gateways) {
        if (gw.name == g) found.push_back(key);
      }
      if (found.size() == 1) g = found.front();
      if (found.size() > 1) {
        diag.error(boot.gateway->where, "gateway.name",
                   "Gateway \"" + g + "\" exists in several namespaces: write namespace/name");
      }
    }
    if (!mesh.gateways.contains(g)) {
      diag.error(boot.gateway->where, "gateway.name", "no Gateway \"" + g + "\" in the mesh");
    }
  }
  if (boot.sidecar) {
    auto& s = *boot.sidecar;
    const auto w = mesh.workloads.find(s.workload + "." + s.ns);
    if (w == mesh.workloads.end()) {
      diag.error(s.where, "sidecar.workload",
                 "no Deployment \"" + s.workload + "\" in namespace \"" + s.ns + "\"");
    } else if (s.labels.empty()) {
      s.labels = w->second.labels;
    }
  }
  for (auto& e : boot.endpoints) {
    const std::string path = "endpoints." + e.host;
    const auto* svc = mesh.resolve_host(e.host, "default");
    if (!svc) {
      diag.error(e.where, path, "no Service \"" + e.host + "\" in the mesh");
      continue;
    }
    e.service = svc->key();
    // A warning, not an error: with GitOps the subset may arrive in the
    // next commit, and the endpoints wait for it.
    for (const auto& [subset, list] : e.by_subset) {
      if (!svc->subsets.contains(subset)) {
        diag.warning(e.where, path + "." + subset,
                     "service " + e.service + " has no subset or lane \"" + subset +
                         "\" (yet): these endpoints serve nothing until it exists");
      }
    }
  }
}

}  // namespace laneproxy::config
