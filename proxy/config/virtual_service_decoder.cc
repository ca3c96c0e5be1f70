// VirtualService: the fields of an http rule, checked as Istio's webhook does.
#include <algorithm>
#include <charconv>
#include <set>

#include <re2/re2.h>

#include "config/ascii.h"
#include "config/field_rules.h"
#include "config/resource_decoder.h"

namespace laneproxy::config {

namespace {

using header_conditions = std::map<std::string, std::optional<string_match>>;

header_conditions decode_header_conditions(const yaml_field& f, bool query) {
  header_conditions out;
  f.for_each_entry([&](const std::string& name, const yaml_field& value) {
    if (!query && !is_header_name(name)) {
      value.error("invalid header name \"" + name + "\"");
      return;
    }
    if (query && name.empty()) {
      value.error("query parameter name must not be empty");
      return;
    }
    bool presence = false;
    auto m = decode_string_match(value, &presence);
    if (query && m && m->type == string_match::kind::prefix) {
      value.error("prefix is not supported for query parameter matches (use exact or regex)");
    }
    // HTTP header names are case-insensitive: store them as Envoy sees them.
    if (m || presence) out[query ? name : ascii_lower(name)] = m;
  });
  return out;
}

header_operations decode_header_operations(const yaml_field& f) {
  header_operations ops;
  if (!f.expect_map()) return ops;
  f.check_keys({"set", "add", "remove"});
  auto names = [&](const yaml_field& m, label_map& into) {
    into = m.string_map();
    for (const auto& [k, v] : into) {
      if (!is_header_name(k)) m[k].error("invalid header name \"" + k + "\"");
    }
  };
  names(f["set"], ops.set);
  names(f["add"], ops.add);
  f["remove"].for_each([&](const yaml_field& h) {
    if (auto name = h.string()) {
      if (!is_header_name(*name)) h.error("invalid header name \"" + *name + "\"");
      ops.remove.push_back(*name);
    }
  });
  return ops;
}

void decode_headers_block(const yaml_field& f, header_operations& request,
                          header_operations& response) {
  if (!f.expect_map()) return;
  f.check_keys({"request", "response"});
  request = decode_header_operations(f["request"]);
  response = decode_header_operations(f["response"]);
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

const std::set<std::string_view>& retry_policies() {
  static const std::set<std::string_view> policies = {"5xx",
                                                      "gateway-error",
                                                      "reset",
                                                      "reset-before-request",
                                                      "connect-failure",
                                                      "envoy-ratelimited",
                                                      "retriable-4xx",
                                                      "refused-stream",
                                                      "retriable-status-codes",
                                                      "retriable-headers",
                                                      "http3-post-connect-failure",
                                                      "cancelled",
                                                      "deadline-exceeded",
                                                      "internal",
                                                      "resource-exhausted",
                                                      "unavailable"};
  return policies;
}

void decode_retries(const yaml_field& f, http_route& rule) {
  if (!f.expect_map()) return;
  f.check_keys({"attempts", "perTryTimeout", "retryOn", "retryRemoteLocalities",
                "retryIgnorePreviousHosts", "backoff"});
  http_retry r;
  r.attempts = f["attempts"].integer(0, INT32_MAX).value_or(0);
  r.per_try_timeout = decode_min_duration(f["perTryTimeout"], false);
  r.backoff = decode_min_duration(f["backoff"], false);
  if (auto on = f["retryOn"].string()) {
    r.retry_on = *on;
    std::size_t start = 0;
    while (start <= on->size()) {
      auto comma = on->find(',', start);
      if (comma == std::string::npos) comma = on->size();
      std::string item = on->substr(start, comma - start);
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      while (!item.empty() && item.back() == ' ') item.pop_back();
      int status = 0;
      const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), status);
      const bool is_status = ec == std::errc() && p == item.data() + item.size();
      if (is_status ? (status < 100 || status > 599) : !retry_policies().count(item)) {
        f["retryOn"].error("invalid retry policy \"" + item + "\"");
      } else if (item == "reset-before-request" || item == "envoy-ratelimited") {
        // (The HTTP/2 and gRPC conditions cannot occur over HTTP/1.1, in
        // Envoy either; retriable-headers needs route settings Istio never
        // sets.)
        not_applied(f["retryOn"], "retry condition " + item);
      }
      start = comma + 1;
    }
  }
  rule.actions.retries = r;
}

// A percentage (checked) as a share per million: `absent` when there is
// none (a fault: 0, a mirror: all), 0 when invalid.
std::uint32_t per_million(const yaml_field& percentage, std::uint32_t absent = 0) {
  if (!percentage.present()) return absent;
  const auto v = check_percent(percentage);
  return v ? static_cast<std::uint32_t>(*v * 10000 + 0.5) : 0;
}

void decode_fault(const yaml_field& f, http_route& rule) {
  if (!f.expect_map()) return;
  f.check_keys({"delay", "abort"});
  const auto delay = f["delay"];
  const auto abort = f["abort"];
  if (!delay.present() && !abort.present()) f.error("fault needs delay or abort");
  if (delay.expect_map()) {
    delay.check_keys({"fixedDelay", "percentage", "percent", "exponentialDelay"});
    if (!delay["fixedDelay"].present() && !delay["exponentialDelay"].present()) {
      delay.error_at("fixedDelay", "fixedDelay is required");
    }
    const auto fixed = decode_min_duration(delay["fixedDelay"], false);
    const auto percent = delay["percent"].integer(0, 100);
    not_applied(delay["exponentialDelay"]);
    http_fault::delay_spec d;
    d.fixed = fixed.value_or(std::chrono::nanoseconds(0));
    // The deprecated integer `percent` counts when `percentage` is absent.
    d.per_million = delay["percentage"].present()
                        ? per_million(delay["percentage"])
                        : static_cast<std::uint32_t>(percent.value_or(0) * 10000);
    if (fixed) {
      if (!rule.actions.fault) rule.actions.fault.emplace();
      rule.actions.fault->delay = d;
    }
  }
  if (abort.expect_map()) {
    abort.check_keys({"httpStatus", "grpcStatus", "http2Error", "percentage"});
    int kinds = 0;
    for (auto k : {"httpStatus", "grpcStatus", "http2Error"}) kinds += abort[k].present() ? 1 : 0;
    if (kinds != 1) abort.error("exactly one of httpStatus, grpcStatus or http2Error is required");
    const auto status = abort["httpStatus"].integer(0, 999);
    if (status && (*status < 200 || *status > 599)) {
      abort["httpStatus"].error("httpStatus " + std::to_string(*status) +
                                " is not within [200, 599]");
    }
    const auto share = per_million(abort["percentage"]);
    not_applied(abort["grpcStatus"], "gRPC needs HTTP/2");
    not_applied(abort["http2Error"], "laneproxy speaks HTTP/1.1");
    if (status) {
      if (!rule.actions.fault) rule.actions.fault.emplace();
      rule.actions.fault->abort = http_fault::abort_spec{static_cast<int>(*status), share};
    }
  }
}

bool is_http_method(std::string_view m) {
  static const std::set<std::string_view> methods = {
      "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  return methods.count(m) > 0;
}

void decode_cors(const yaml_field& f, http_route& rule) {
  if (!f.expect_map()) return;
  f.check_keys({"allowOrigin", "allowOrigins", "allowMethods", "allowHeaders", "exposeHeaders",
                "maxAge", "allowCredentials", "unmatchedPreflights"});
  http_cors cors;
  f["allowOrigin"].for_each([&](const yaml_field& o) {
    if (auto v = o.string()) cors.allow_origins.push_back({string_match::kind::exact, *v});
  });
  f["allowOrigins"].for_each([&](const yaml_field& o) {
    if (auto m = decode_string_match(o)) cors.allow_origins.push_back(*m);
  });
  f["allowMethods"].for_each([&](const yaml_field& m) {
    if (auto v = m.string()) {
      if (!is_http_method(*v)) m.error("invalid method \"" + *v + "\"");
      cors.allow_methods.push_back(*v);
    }
  });
  for (auto [k, into] : {std::pair{"allowHeaders", &cors.allow_headers},
                         std::pair{"exposeHeaders", &cors.expose_headers}}) {
    f[k].for_each([into = into](const yaml_field& h) {
      if (auto v = h.string()) {
        if (*v != "*" && !is_header_name(*v)) h.error("invalid header name \"" + *v + "\"");
        into->push_back(*v);
      }
    });
  }
  if (auto age = decode_min_duration(f["maxAge"], false)) {
    if (age->count() % 1'000'000'000 != 0) {
      f["maxAge"].error("maxAge must be whole seconds");
    } else {
      cors.max_age = std::chrono::duration_cast<std::chrono::seconds>(*age);
    }
  }
  cors.allow_credentials = f["allowCredentials"].boolean().value_or(false);
  const auto unmatched = f["unmatchedPreflights"].string();
  if (unmatched && *unmatched != "UNSPECIFIED" && *unmatched != "FORWARD" &&
      *unmatched != "IGNORE") {
    f["unmatchedPreflights"].error("invalid value \"" + *unmatched +
                                   "\" (one of UNSPECIFIED, FORWARD, IGNORE)");
  }
  cors.ignore_unmatched_preflights = unmatched && *unmatched == "IGNORE";
  rule.actions.cors = std::move(cors);
}

void decode_mirrors(const yaml_field& f, http_route& rule) {
  if (f["mirror"].present() && f["mirrors"].present()) {
    f.error("only one of mirror or mirrors may be set");
  }
  if (f["mirror"].present()) {
    http_mirror m{decode_destination(f["mirror"]), per_million(f["mirrorPercentage"], 1'000'000)};
    // The deprecated integer forms, when mirrorPercentage is absent.
    for (auto k : {"mirror_percent", "mirrorPercent"}) {
      if (auto p = f[k].integer(0, 100); p && !f["mirrorPercentage"].present()) {
        m.per_million = static_cast<std::uint32_t>(*p * 10000);
      }
    }
    rule.actions.mirrors.push_back(std::move(m));
  }
  f["mirrors"].for_each([&](const yaml_field& m) {
    if (!m.expect_map()) return;
    m.check_keys({"destination", "percentage"});
    rule.actions.mirrors.push_back(
        {decode_destination(m["destination"]), per_million(m["percentage"], 1'000'000)});
  });
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
    redirect.check_keys({"uri", "authority", "port", "derivePort", "scheme", "redirectCode"});
    http_redirect r;
    r.uri = redirect["uri"].string().value_or("");
    r.authority = redirect["authority"].string().value_or("");
    r.scheme = redirect["scheme"].string().value_or("");
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
      if (*s < 200 || *s > 599) {
        direct["status"].error("status " + std::to_string(*s) + " is not within [200, 599]");
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
  rule.actions.timeout = decode_min_duration(f["timeout"], true);
  decode_retries(f["retries"], rule);
  decode_fault(f["fault"], rule);
  decode_mirrors(f, rule);
  decode_cors(f["corsPolicy"], rule);
  decode_headers_block(f["headers"], rule.actions.request_headers, rule.actions.response_headers);
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
    if (f[key].present()) into = decode_string_match(f[key]);
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
    if (auto s = g.string()) m.gateways.push_back(*s);
  });
  m.source_namespace = f["sourceNamespace"].string().value_or("");
  not_applied(f["statPrefix"]);
  return m;
}

void decode_virtual_service(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  virtual_service vs;
  vs.meta = std::move(meta);
  spec.check_keys({"hosts", "gateways", "http", "tcp", "tls", "exportTo"});
  spec["hosts"].for_each([&](const yaml_field& h) {
    if (auto host = h.string()) {
      if (!is_valid_host(*host, true) && !is_ipv4(*host)) h.error("invalid host \"" + *host + "\"");
      vs.hosts.push_back(*host);
    }
  });
  vs.gateways_where = spec["gateways"].mark();
  spec["gateways"].for_each([&](const yaml_field& g) {
    const auto name = g.string();
    if (!name) return;
    const auto slash = name->find('/');
    const bool ok = *name == "mesh" || (slash == std::string::npos
                                            ? is_dns1123_subdomain(*name)
                                            : is_dns1123_label(name->substr(0, slash)) &&
                                                  is_dns1123_subdomain(name->substr(slash + 1)));
    if (!ok) g.error("invalid gateway name \"" + *name + "\"");
    vs.gateways.push_back(*name);
  });
  const bool bound_to_mesh =
      vs.gateways.empty() ||
      std::find(vs.gateways.begin(), vs.gateways.end(), "mesh") != vs.gateways.end();
  if (vs.hosts.empty() && !spec["hosts"].present()) {
    if (!vs.gateways.empty()) {
      spec.error_at("hosts", "virtual service must have at least one host");
    }
  }
  if (bound_to_mesh && std::count(vs.hosts.begin(), vs.hosts.end(), "*") > 0) {
    spec.error_at("hosts",
                  "wildcard host * is not allowed for virtual services bound to the mesh gateway");
  }
  const bool has_http = spec["http"].present();
  if (!has_http && !spec["tcp"].present() && !spec["tls"].present()) {
    spec.error_at("http", "http, tcp or tls must be provided");
  }
  spec["http"].for_each([&](const yaml_field& r) { vs.http.push_back(decode_http_route(r)); });
  for (auto k : {"tcp", "tls", "exportTo"}) not_applied(spec[k]);
  out.virtual_services.push_back(std::move(vs));
}

}  // namespace laneproxy::config
