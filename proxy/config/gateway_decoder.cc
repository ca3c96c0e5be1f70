// Gateway: servers, ports, binds, hosts and server TLS, checked as Istio's
// webhook checks them. laneproxy serves plain HTTP on the listeners its
// bootstrap names: a server's `tls`, `bind` and `defaultEndpoint` are
// checked and reported as not applied.
#include <set>

#include "config/ascii.h"
#include "config/field_rules.h"
#include "config/resource_decoder.h"

namespace laneproxy::config {

namespace {

// Istio's protocol names, matched without regard to case.
bool is_protocol(std::string_view p) {
  static constexpr std::string_view known[] = {"HTTP",  "HTTPS", "GRPC",  "GRPC-WEB",
                                               "HTTP2", "MONGO", "MYSQL", "REDIS",
                                               "TCP",   "TLS",   "UDP",   "HTTP_PROXY"};
  for (auto k : known) {
    if (ascii_iequals(k, p)) return true;
  }
  return false;
}

// "unix:///absolute/path", "unix://@abstract", or an IP address.
void check_bind(const yaml_field& f, const yaml_field& number, std::uint32_t port) {
  const auto bind = f.string();
  if (!bind || bind->empty()) return;
  constexpr std::string_view unix_prefix = "unix://";
  if (bind->rfind(unix_prefix, 0) == 0) {
    const auto path = std::string_view(*bind).substr(unix_prefix.size());
    if (path.empty() || (path.front() != '/' && path.front() != '@')) {
      f.error("a unix bind needs an absolute path or an @abstract name: \"" + *bind + "\"");
    }
    if (port != 0) number.error("a server bound to a unix socket must have port number 0");
    return;
  }
  if (!is_ipv4(*bind) && bind->find(':') == std::string::npos) {
    f.error("bind must be an IP address or a unix socket, not \"" + *bind + "\"");
  }
}

void decode_server_port(const yaml_field& s, gateway_server& server,
                        std::set<std::string>& port_names) {
  const auto port = s["port"];
  if (!port.present()) {
    s.error_at("port", "port is required");
    return;
  }
  if (!port.expect_map()) return;
  server.port_where = port["number"].mark();
  server.path = s.path();
  port.check_keys({"number", "protocol", "name", "targetPort"});
  if (!port["number"].present()) port.error_at("number", "number is required");
  const auto unix_bind = s["bind"].string().value_or("").rfind("unix://", 0) == 0;
  server.port =
      static_cast<std::uint32_t>(port["number"].integer(unix_bind ? 0 : 1, 65535).value_or(0));
  if (auto proto = port["protocol"].require_string()) {
    server.protocol = ascii_upper(*proto);
    if (!is_protocol(*proto)) {
      port["protocol"].error("invalid protocol \"" + *proto +
                             "\" (HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TLS, TCP, UDP, MONGO, "
                             "REDIS, MYSQL)");
    }
  }
  if (port["targetPort"].present())
    port["targetPort"].error("targetPort has no effect on Gateways");
  const auto name = port["name"].string();
  if (!name || name->empty()) {
    port.error_at("name", "port name is required");
  } else {
    server.port_name = *name;
    if (!port_names.insert(*name).second) {
      port["name"].error("port names in servers must be unique: duplicate \"" + *name + "\"");
    }
  }
}

void decode_server_hosts(const yaml_field& s, gateway_server& server) {
  const auto hosts = s["hosts"];
  if (!hosts.present()) s.error_at("hosts", "hosts is required: at least one host");
  hosts.for_each([&](const yaml_field& h) {
    const auto host = h.string();
    if (!host) return;
    std::string_view name = *host;
    const auto slash = name.find('/');
    if (slash != std::string_view::npos) {
      const auto ns = name.substr(0, slash);
      if (ns != "*" && ns != "." && !is_dns1123_label(ns)) {
        h.error("invalid namespace \"" + std::string(ns) + "\" in host \"" + *host + "\"");
      }
      name.remove_prefix(slash + 1);
    }
    // A Gateway host is a full name (or a wildcard, or an IPv4 address).
    const bool full = name == "*" || (name.find('.') != std::string_view::npos &&
                                      (name.front() != '*' || name.substr(0, 2) == "*."));
    if (!full || (!is_ipv4(name) && !is_valid_host(name, true))) {
      h.error("invalid host \"" + *host + "\" (a fully qualified name, *.suffix or *)");
    }
    server.hosts.push_back(*host);
  });
}

void check_cipher_suites(const yaml_field& tls) {
  static const std::set<std::string_view> known = {"ECDHE-ECDSA-AES128-GCM-SHA256",
                                                   "ECDHE-RSA-AES128-GCM-SHA256",
                                                   "ECDHE-ECDSA-AES256-GCM-SHA384",
                                                   "ECDHE-RSA-AES256-GCM-SHA384",
                                                   "ECDHE-ECDSA-CHACHA20-POLY1305",
                                                   "ECDHE-RSA-CHACHA20-POLY1305",
                                                   "ECDHE-ECDSA-AES128-SHA",
                                                   "ECDHE-RSA-AES128-SHA",
                                                   "AES128-GCM-SHA256",
                                                   "AES256-GCM-SHA384",
                                                   "AES128-SHA",
                                                   "ECDHE-ECDSA-AES256-SHA",
                                                   "ECDHE-RSA-AES256-SHA",
                                                   "AES256-SHA"};
  std::set<std::string> seen;
  tls["cipherSuites"].for_each([&](const yaml_field& c) {
    const auto v = c.string().value_or("");
    // A leading "-" removes a suite from the default list.
    const auto name = !v.empty() && v.front() == '-' ? v.substr(1) : v;
    if (!known.count(name)) c.warning("unknown cipher suite \"" + v + "\"");
    if (!seen.insert(v).second) c.warning("cipher suite \"" + v + "\" is listed twice");
  });
  const auto min = tls["minProtocolVersion"].string().value_or("");
  if ((min == "TLSV1_0" || min == "TLSV1_1") && !tls["cipherSuites"].present()) {
    tls["minProtocolVersion"].warning(
        "TLS 1.0 and 1.1 need cipherSuites: the default ones are TLS 1.2 and later");
  }
}

// Which certificate sources a terminating server has, and how they mix.
void check_certificates(const yaml_field& tls, std::string_view mode) {
  const auto has = [&](const char* k) { return tls[k].present(); };
  const bool files = has("serverCertificate") && has("privateKey");
  const bool names = has("credentialName") || has("credentialNames");
  const bool list = has("tlsCertificates");
  if (has("credentialName") && has("credentialNames")) {
    tls.error("only one of credentialName or credentialNames may be set");
  }
  if (int(files) + int(names) + int(list) > 1) {
    tls.error(
        "only one of credentialName(s), serverCertificate/privateKey or tlsCertificates "
        "may be set");
  }
  // (With a credential, a stray certificate or key file is ignored.)
  if (!names && (has("serverCertificate") || has("privateKey"))) {
    if (!has("serverCertificate"))
      tls.error_at("serverCertificate", "serverCertificate is required");
    if (!has("privateKey")) tls.error_at("privateKey", "privateKey is required");
  }
  std::size_t certificates = 0;
  tls["tlsCertificates"].for_each([&](const yaml_field& c) {
    ++certificates;
    if (!c.expect_map()) return;
    for (auto k : {"serverCertificate", "privateKey"}) {
      if (!c[k].present()) c.error_at(k, std::string(k) + " is required");
    }
  });
  if (certificates > 2)
    tls["tlsCertificates"].warning("more than two tlsCertificates: Envoy uses two");
  if (!has("serverCertificate") && !has("privateKey") && !names && !list) {
    tls.error("mode " + std::string(mode) +
              " needs credentialName, serverCertificate and privateKey, or tlsCertificates");
  }
  if (mode != "SIMPLE" && !names && (files || list) && !has("caCertificates")) {
    tls.error_at("caCertificates", "caCertificates is required for mode " + std::string(mode));
  }
}

void decode_server_tls(const yaml_field& tls, std::string_view protocol) {
  if (!tls.expect_map()) return;
  tls.check_keys({"httpsRedirect", "mode", "serverCertificate", "privateKey", "caCertificates",
                  "caCrl", "credentialName", "credentialNames", "caCertCredentialName",
                  "tlsCertificates", "subjectAltNames", "verifyCertificateSpki",
                  "verifyCertificateHash", "minProtocolVersion", "maxProtocolVersion",
                  "cipherSuites"});
  const bool tls_protocol = protocol == "HTTPS" || protocol == "TLS";
  if (tls["httpsRedirect"].boolean().value_or(false) && protocol != "HTTP") {
    tls["httpsRedirect"].warning("httpsRedirect only applies to HTTP servers");
  }
  const auto mode = tls["mode"].string().value_or("PASSTHROUGH");
  static const std::set<std::string_view> modes = {
      "PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"};
  if (!modes.count(mode)) {
    tls["mode"].error("invalid value \"" + mode + "\"");
    return;
  }
  if (!tls_protocol && tls["mode"].present() && mode != "PASSTHROUGH") {
    tls.error("tls mode " + mode + " needs protocol HTTPS or TLS, not " + std::string(protocol));
    return;
  }
  check_cipher_suites(tls);
  if (mode == "PASSTHROUGH" || mode == "AUTO_PASSTHROUGH") {
    for (auto k : {"credentialName", "caCrl"}) {
      if (tls[k].present()) tls[k].warning(std::string(k) + " has no effect in mode " + mode);
    }
    if (!tls_protocol && tls["credentialName"].present()) {
      tls.warning("credentialName has no effect on a server that does not terminate TLS");
    }
    return;
  }
  if (mode == "ISTIO_MUTUAL") {
    for (auto k : {"serverCertificate", "privateKey", "caCertificates", "credentialName",
                   "credentialNames", "tlsCertificates"}) {
      if (tls[k].present()) tls[k].error(std::string(k) + " cannot be set with ISTIO_MUTUAL");
    }
    return;
  }
  check_certificates(tls, mode);
}

}  // namespace

void decode_gateway(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  gateway gw;
  gw.meta = std::move(meta);
  if (!is_dns1123_label(gw.meta.name)) {
    spec.diag().error(gw.meta.where, "metadata.name",
                      "a Gateway's name must be a DNS label (no dots): \"" + gw.meta.name + "\"");
  }
  spec.check_keys({"servers", "selector"});
  gw.selector = decode_labels(spec["selector"]);
  const auto servers = spec["servers"];
  std::set<std::string> port_names;
  bool any = false;
  servers.for_each([&](const yaml_field& s) {
    any = true;
    if (!s.expect_map()) return;
    s.check_keys({"port", "bind", "hosts", "tls", "name", "defaultEndpoint"});
    gateway_server server;
    decode_server_port(s, server, port_names);
    check_bind(s["bind"], s["port"]["number"], server.port);
    decode_server_hosts(s, server);
    if ((server.protocol == "HTTPS" || server.protocol == "TLS") && !s["tls"].present()) {
      s.error_at("tls", "tls is required for protocol " + server.protocol);
    }
    decode_server_tls(s["tls"], server.protocol);
    for (auto k : {"bind", "tls", "defaultEndpoint"}) not_applied(s[k]);
    gw.servers.push_back(std::move(server));
  });
  if (!any && (!servers.present() || servers.is_sequence())) {
    spec.error_at("servers", "gateway must have at least one server");
  }
  out.gateways.push_back(std::move(gw));
}

}  // namespace laneproxy::config
