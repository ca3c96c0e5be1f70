// VirtualService: the fields of an http rule, checked as Istio's webhook does.
#include <algorithm>
#include <charconv>
#include <set>

#include <re2/re2.h>

#include "config/ascii.h"
#include "config/field_rules.h"
#include "config/resource_decoder.h"
#include "config/route_action_decoder.h"
#include "config/rule_reachability.h"
#include "config/stream_route_decoder.h"

namespace laneproxy::config {

namespace {

using header_conditions = std::map<std::string, std::optional<string_match>>;

header_conditions decode_header_conditions(const yaml_field& f, bool query) {
  header_conditions out;
  f.for_each_entry([&](const std::string& name, const yaml_field& value) {
    constexpr std::string_view claims = "@request.auth.claims.";
    if (!query && name.rfind(claims, 0) == 0 && name.size() > claims.size()) {
      // JWT claim routing: needs RequestAuthentication, which laneproxy does not read.
      not_applied(value, "JWT claims are not read (the match never holds)");
      out[name] = std::nullopt;
      return;
    }
    if (!query && !is_header_name(name)) {
      value.error("invalid header name \"" + name + "\"");
      return;
    }
    if (query && name.empty()) {
      value.error("query parameter name must not be empty");
      return;
    }
    bool presence = false;
    // A regex of "*" is read as presence (Istio's spelling of "any value").
    const bool any = !query && value["regex"].string().value_or("") == "*";
    auto m = any ? std::nullopt : decode_string_match(value, &presence, false);
    presence = presence || any;
    // HTTP header names are case-insensitive: store them as Envoy sees them.
    if (m || presence) out[query ? name : ascii_lower(name)] = m;
  });
  return out;
}

void check_redirect_code(const yaml_field& f, http_redirect& r) {
  if (auto code = f.integer(0, 999)) {
    if (*code < 300 || *code > 399) {
      f.error("redirectCode " + std::to_string(*code) + " is not a 3xx code");
    } else {
      r.code = static_cast<int>(*code);
    }
  }
}

// Returns false when a weight was invalid (already reported).
bool decode_route_destinations(const yaml_field& f, http_route& rule) {
  bool weights_ok = true;
  f.for_each([&](const yaml_field& r) {
    if (!r.expect_map()) return;
    r.check_keys({"destination", "weight", "headers"});
    weighted_destination wd;
    wd.dest = decode_destination(r["destination"]);
    if (r["weight"].present()) {
      wd.weight_given = true;
      const auto weight = r["weight"].integer(0, INT32_MAX);
      weights_ok = weights_ok && weight.has_value();
      wd.weight = weight.value_or(0);
    }
    decode_headers_block(r["headers"], wd.request_headers, wd.response_headers);
    rule.route.push_back(std::move(wd));
  });
  return weights_ok;
}

// Weights are relative since Istio 1.15: any non-negative integers whose sum
// is > 0 when there are several destinations. A sum other than 100 is still
// worth a warning: the ASM guide and older Istio require exactly 100.
void check_weights(const yaml_field& f, const http_route& rule) {
  if (rule.route.size() < 2) return;
  std::int64_t sum = 0;
  bool any_given = false;
  for (const auto& d : rule.route) {
    sum += d.weight;
    any_given = any_given || d.weight_given;
  }
  if (sum == 0) {
    f.error("weights add up to 0: at least one of " + std::to_string(rule.route.size()) +
            " destinations needs a weight > 0");
  } else if (any_given && sum != 100) {
    f.warning("weights " + weight_sum_warning(static_cast<std::uint64_t>(sum)));
  }
}

void check_distinct_hosts(const yaml_field& f, const std::vector<std::string>& hosts) {
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    for (std::size_t j = i + 1; j < hosts.size(); ++j) {
      if (hosts_meet(hosts[i], hosts[j])) {
        f.error("hosts \"" + hosts[i] + "\" and \"" + hosts[j] + "\" overlap");
      }
    }
  }
}

// "mesh", "name" or "namespace/name"; a dotted name without a namespace is
// Istio's legacy form (a warning where the VirtualService names it).
bool check_gateway_name(const yaml_field& g, const std::string& name, bool warn_legacy) {
  const auto slash = name.find('/');
  const bool ok = name == "mesh" ||
                  (slash == std::string::npos ? is_dns1123_subdomain(name)
                                              : is_dns1123_label(name.substr(0, slash)) &&
                                                    is_dns1123_subdomain(name.substr(slash + 1)));
  if (!ok) {
    g.error("invalid gateway name \"" + name + "\"");
  } else if (warn_legacy && slash == std::string::npos && name.find('.') != std::string::npos) {
    g.warning("gateway \"" + name + "\" in the legacy FQDN form: write NAMESPACE/NAME");
  }
  return ok;
}

// A redirect's prefixRewrite replaces the matched prefix: it needs prefix
// uri matches (or none on the uri), and not uri beside it.
void check_prefix_rewrite(const yaml_field& redirect, const http_route& rule) {
  const auto f = redirect["prefixRewrite"];
  if (!f.present()) return;
  if (redirect["uri"].present()) redirect.error("only one of uri or prefixRewrite may be set");
  for (const auto& m : rule.match) {
    if (m.uri && m.uri->type != string_match::kind::prefix) {
      f.error("prefixRewrite needs prefix uri matches");
      break;
    }
  }
  not_applied(f, "the redirect keeps the request's path");
}

// What one rule may not say together, as Istio refuses it.
void check_combinations(const yaml_field& f, const http_route& rule) {
  const auto& a = rule.actions;
  if (a.redirect && a.fault) f.error("redirect cannot be combined with fault");
  if (a.direct_response && (a.rewrite || a.fault || !a.mirrors.empty())) {
    f.error("directResponse cannot be combined with rewrite, fault or mirrors");
  }
  const auto& set = a.request_headers.set;
  const auto& add = a.request_headers.add;
  const bool host_op = set.count("host") || set.count("Host") || set.count(":authority") ||
                       add.count("host") || add.count("Host") || add.count(":authority");
  if (a.rewrite && !a.rewrite->authority.empty() && host_op) {
    f.error("rewrite.authority cannot be combined with a Host header operation");
  }
  if (f["mirrorPercent"].present() || f["mirror_percent"].present()) {
    f.warning("mirrorPercent is deprecated: use mirrorPercentage");
  }
}

http_route decode_http_route(const yaml_field& f) {
  http_route rule;
  rule.where = f.mark();
  rule.path = f.path();
  if (!f.expect_map()) return rule;
  f.check_keys({"name", "match", "route", "redirect", "directResponse", "delegate", "rewrite",
                "timeout", "retries", "fault", "mirror", "mirrors", "mirrorPercentage",
                "mirror_percent", "mirrorPercent", "corsPolicy", "headers"});
  rule.name = f["name"].string().value_or("");
  f["match"].for_each([&](const yaml_field& m) { rule.match.push_back(decode_http_match(m)); });
  const bool weights_ok = decode_route_destinations(f["route"], rule);

  const bool has_route = f["route"].present();
  const bool has_redirect = f["redirect"].present();
  const bool has_direct = f["directResponse"].present();
  const bool has_delegate = f["delegate"].present();
  const int actions = int(has_route) + int(has_redirect) + int(has_direct) + int(has_delegate);
  if (actions == 0) {
    f.error("one of route, redirect, directResponse or delegate is required");
  } else if (actions > 1) {
    f.error("only one of route, redirect, directResponse or delegate may be set");
  }
  if (has_route && rule.route.empty() && f["route"].is_sequence()) {
    f.error_at("route", "route needs at least one destination");
  }
  if (weights_ok) check_weights(f["route"], rule);

  const auto redirect = f["redirect"];
  if (redirect.expect_map()) {
    redirect.check_keys(
        {"uri", "authority", "port", "derivePort", "scheme", "redirectCode", "prefixRewrite"});
    if (!has_fields(redirect))
      redirect.error("redirect must say where: uri, authority, port or scheme");
    http_redirect r;
    r.uri = redirect["uri"].string().value_or("");
    r.authority = redirect["authority"].string().value_or("");
    r.scheme = redirect["scheme"].string().value_or("");
    if (!r.scheme.empty() && r.scheme != "http" && r.scheme != "https") {
      redirect["scheme"].error("scheme must be http or https, not \"" + r.scheme + "\"");
    }
    check_prefix_rewrite(redirect, rule);
    r.port = static_cast<std::uint32_t>(redirect["port"].integer(1, 65535).value_or(0));
    if (auto derive = redirect["derivePort"].string()) {
      if (*derive == "FROM_PROTOCOL_DEFAULT") {
        r.derive_port = http_redirect::derive::protocol_default;
      } else if (*derive == "FROM_REQUEST_PORT") {
        r.derive_port = http_redirect::derive::request_port;
      } else {
        redirect["derivePort"].error("invalid value \"" + *derive +
                                     "\" (one of FROM_PROTOCOL_DEFAULT, FROM_REQUEST_PORT)");
      }
    }
    if (r.port != 0 && r.derive_port != http_redirect::derive::none) {
      redirect.error("only one of port or derivePort may be set");
    }
    check_redirect_code(redirect["redirectCode"], r);
    rule.actions.redirect = r;
  }
  const auto direct = f["directResponse"];
  if (direct.expect_map()) {
    direct.check_keys({"status", "body"});
    http_direct_response d;
    if (!direct["status"].present()) direct.error_at("status", "status is required");
    if (auto s = direct["status"].integer(0, 999)) {
      if (*s < 200 || *s > 600) {
        direct["status"].error("status " + std::to_string(*s) + " is not within [200, 600]");
      }
      d.status = static_cast<int>(*s);
    }
    const auto body = direct["body"];
    if (body.expect_map()) {
      body.check_keys({"string", "bytes"});
      if (body["string"].present() && body["bytes"].present()) {
        body.error("only one of string or bytes may be set");
      }
      d.body = body["string"].string().value_or("");
      if (auto bytes = body["bytes"].string()) {
        auto decoded = decode_base64(*bytes);
        if (!decoded) body["bytes"].error("bytes is not valid base64");
        d.body = decoded.value_or("");
      }
    }
    rule.actions.direct_response = d;
  }
  const auto delegate = f["delegate"];
  if (delegate.expect_map()) {
    delegate.check_keys({"name", "namespace"});
    if (auto name = delegate["name"].require_string()) {
      rule.delegate =
          delegate_ref{*name, delegate["namespace"].string().value_or(""), delegate.mark()};
    }
  }
  const auto rewrite = f["rewrite"];
  if (rewrite.expect_map()) {
    rewrite.check_keys({"uri", "authority", "uriRegexRewrite"});
    if (has_redirect) f.error("rewrite cannot be combined with redirect");
    if (rewrite["uri"].present() && rewrite["uriRegexRewrite"].present()) {
      rewrite.error("only one of uri or uriRegexRewrite may be set");
    }
    if (!rewrite["uri"].present() && !rewrite["authority"].present() &&
        !rewrite["uriRegexRewrite"].present()) {
      rewrite.error("rewrite needs uri, uriRegexRewrite or authority");
    }
    const auto regex_rewrite = rewrite["uriRegexRewrite"];
    if (regex_rewrite.expect_map()) {
      regex_rewrite.check_keys({"match", "rewrite"});
      if (auto re = regex_rewrite["match"].require_string()) {
        RE2::Options options;
        options.set_log_errors(false);
        const RE2 compiled(*re, options);
        if (!compiled.ok()) {
          regex_rewrite["match"].error("invalid regex \"" + *re + "\": " + compiled.error());
        }
      }
      regex_rewrite["rewrite"].require_string();
    }
    rule.actions.rewrite = http_rewrite{rewrite["uri"].string().value_or(""),
                                        rewrite["authority"].string().value_or(""),
                                        regex_rewrite["match"].string().value_or(""),
                                        regex_rewrite["rewrite"].string().value_or("")};
  }
  rule.actions.timeout = decode_min_duration(f["timeout"], false);
  decode_retries(f["retries"], rule);
  decode_fault(f["fault"], rule);
  decode_mirrors(f, rule);
  decode_cors(f["corsPolicy"], rule);
  decode_headers_block(f["headers"], rule.actions.request_headers, rule.actions.response_headers);
  check_combinations(f, rule);
  return rule;
}

}  // namespace

http_match decode_http_match(const yaml_field& f) {
  http_match m;
  m.where = f.mark();
  if (!f.expect_map()) return m;
  f.check_keys({"name", "uri", "scheme", "method", "authority", "headers", "port", "sourceLabels",
                "gateways", "queryParams", "ignoreUriCase", "withoutHeaders", "sourceNamespace",
                "statPrefix"});
  m.name = f["name"].string().value_or("");
  auto one = [&](const char* key, std::optional<string_match>& into) {
    const bool uri = std::string_view(key) == "uri";
    if (f[key].present()) into = decode_string_match(f[key], nullptr, uri);
  };
  one("uri", m.uri);
  one("scheme", m.scheme);
  one("method", m.method);
  one("authority", m.authority);
  m.headers = decode_header_conditions(f["headers"], false);
  m.without_headers = decode_header_conditions(f["withoutHeaders"], false);
  m.query_params = decode_header_conditions(f["queryParams"], true);
  m.ignore_uri_case = f["ignoreUriCase"].boolean().value_or(false);
  m.port = static_cast<std::uint32_t>(f["port"].integer(1, 65535).value_or(0));
  m.source_labels = decode_labels(f["sourceLabels"]);
  f["gateways"].for_each([&](const yaml_field& g) {
    if (auto s = g.string(); s && check_gateway_name(g, *s, false)) m.gateways.push_back(*s);
  });
  m.source_namespace = f["sourceNamespace"].string().value_or("");
  if (!m.source_namespace.empty() && !is_dns1123_label(m.source_namespace)) {
    f["sourceNamespace"].error("invalid namespace \"" + m.source_namespace + "\"");
  }
  not_applied(f["statPrefix"]);
  return m;
}

// A delegate (no hosts) serves through a root: it names no gateways, has
// only http rules, and does not delegate again.
void check_delegate_limits(const yaml_field& spec) {
  if (spec["gateways"].present())
    spec["gateways"].error("a delegate VirtualService names no gateways");
  for (auto k : {"tcp", "tls"}) {
    if (spec[k].present())
      spec[k].error(std::string("a delegate VirtualService has no ") + k + " rules");
  }
  if (!spec["http"].is_sequence()) return;
  spec["http"].for_each([](const yaml_field& r) {
    if (r["delegate"].present()) r["delegate"].error("a delegate cannot delegate again");
  });
}

void decode_virtual_service(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  virtual_service vs;
  vs.meta = std::move(meta);
  spec.check_keys({"hosts", "gateways", "http", "tcp", "tls", "exportTo"});
  spec["hosts"].for_each([&](const yaml_field& h) {
    if (auto host = h.string()) {
      if (!is_valid_host(*host, true) && !is_ipv4(*host) && !is_outbound_sni(*host))
        h.error("invalid host \"" + *host + "\"");
      vs.hosts.push_back(*host);
    }
  });
  check_distinct_hosts(spec["hosts"], vs.hosts);
  vs.gateways_where = spec["gateways"].mark();
  spec["gateways"].for_each([&](const yaml_field& g) {
    if (auto name = g.string(); name && check_gateway_name(g, *name, true)) {
      vs.gateways.push_back(*name);
    }
  });
  vs.export_to = decode_export_to(spec["exportTo"], vs.meta.ns, export_owner::other);
  const bool bound_to_mesh =
      vs.gateways.empty() ||
      std::find(vs.gateways.begin(), vs.gateways.end(), "mesh") != vs.gateways.end();
  if (vs.hosts.empty() && !spec["hosts"].present()) {
    if (!vs.gateways.empty()) {
      spec.error_at("hosts", "virtual service must have at least one host");
    }
  }
  if (spec["hosts"].is_sequence())
    spec["hosts"].for_each([&](const yaml_field& h) {
      if (bound_to_mesh && h.string().value_or("") == "*") {
        h.error("wildcard host * is not allowed for virtual services bound to the mesh gateway");
      }
    });
  if (!spec["hosts"].present() || (spec["hosts"].is_sequence() && vs.hosts.empty())) {
    check_delegate_limits(spec);
  }
  const bool has_http = spec["http"].present();
  if (!has_http && !spec["tcp"].present() && !spec["tls"].present()) {
    spec.error_at("http", "http, tcp or tls must be provided");
  }
  spec["http"].for_each([&](const yaml_field& r) { vs.http.push_back(decode_http_route(r)); });
  decode_stream_routes(spec, vs.hosts);
  for (auto k : {"tcp", "tls", "exportTo"}) not_applied(spec[k]);
  check_reachability(vs, spec.diag());
  out.virtual_services.push_back(std::move(vs));
}

}  // namespace laneproxy::config
