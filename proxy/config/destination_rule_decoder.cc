// DestinationRule: host, subsets, exportTo, workloadSelector and the whole
// trafficPolicy, checked as Istio's webhook checks them. The subsets and
// the policy blocks the data plane applies (load balancing, connection
// limits, outlier detection) are decoded into traffic_policy; every other
// policy field is reported as not applied.
#include <algorithm>
#include <set>

#include "config/ascii.h"
#include "config/field_rules.h"
#include "config/policy_rules.h"
#include "config/resource_decoder.h"

namespace laneproxy::config {

namespace {

// A block that must say something when it is written at all.
bool check_not_empty(const yaml_field& f, std::string_view what) {
  if (!f.present() || !f.expect_map()) return false;
  if (has_fields(f)) return true;
  f.error(std::string(what) + " must have at least one field");
  return false;
}

bool is_prime(std::int64_t n) {
  if (n < 2) return false;
  for (std::int64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::optional<milliseconds> millis(const std::optional<std::chrono::nanoseconds>& d) {
  if (!d) return std::nullopt;
  return duration_cast<milliseconds>(*d);
}

void decode_cookie(const yaml_field& cookie, destination_rule* dr, hash_policy& out) {
  if (!cookie.expect_map()) return;
  cookie.check_keys({"name", "path", "ttl", "attributes"});
  out.from = hash_policy::source::cookie;
  if (auto name = cookie["name"].require_string()) {
    out.name = *name;
    if (dr) dr->hash_cookie = *name;
  }
  if (auto ttl = cookie["ttl"].duration()) {
    out.cookie_ttl = std::chrono::duration_cast<std::chrono::seconds>(*ttl);
  }
  out.cookie_path = cookie["path"].string().value_or("");
  std::set<std::string> names;
  cookie["attributes"].for_each([&](const yaml_field& a) {
    if (!a.expect_map()) return;
    a.check_keys({"name", "value"});
    const auto name = a["name"].string().value_or("");
    if (name.empty()) {
      a.error_at("name", "a cookie attribute needs a name");
    } else if (!names.insert(name).second) {
      a["name"].error("duplicate cookie attribute \"" + name + "\"");
    } else {
      out.cookie_attributes.emplace_back(name, a["value"].string().value_or(""));
    }
  });
}

std::optional<hash_policy> decode_consistent_hash(const yaml_field& hash, destination_rule* dr) {
  if (!hash.expect_map()) return std::nullopt;
  hash_policy out;
  hash.check_keys({"httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName",
                   "ringHash", "maglev", "minimumRingSize"});
  int keys = 0;
  for (auto k : {"httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"}) {
    keys += hash[k].present() ? 1 : 0;
  }
  if (keys > 1) {
    hash.error(
        "only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName "
        "may be set");
  }
  if (auto h = hash["httpHeaderName"].string()) {
    if (!is_header_name(*h)) hash["httpHeaderName"].error("invalid header name \"" + *h + "\"");
    if (dr) dr->hash_header = *h;
    out.from = hash_policy::source::header;
    out.name = ascii_lower(*h);
  }
  decode_cookie(hash["httpCookie"], dr, out);
  if (hash["useSourceIp"].boolean().value_or(false)) out.from = hash_policy::source::source_ip;
  if (auto q = hash["httpQueryParameterName"].string()) {
    out.from = hash_policy::source::query_parameter;
    out.name = *q;
  }
  if (hash["ringHash"].present() && hash["maglev"].present()) {
    hash.error("only one of ringHash or maglev may be set");
  }
  if (hash["minimumRingSize"].present()) {
    if (auto n = hash["minimumRingSize"].integer(0, UINT32_MAX); n && *n > 0)
      out.min_ring_size = *n;
    if (hash["ringHash"].present() || hash["maglev"].present()) {
      hash.error("minimumRingSize (deprecated) cannot be combined with ringHash or maglev");
    } else {
      hash["minimumRingSize"].warning(
          "minimumRingSize is deprecated: use ringHash.minimumRingSize");
    }
  }
  if (hash["ringHash"].expect_map()) {
    hash["ringHash"].check_keys({"minimumRingSize"});
    if (auto n = hash["ringHash"]["minimumRingSize"].integer(0, UINT32_MAX); n && *n > 0) {
      out.min_ring_size = *n;
    }
  }
  const auto maglev = hash["maglev"];
  if (maglev.expect_map()) {
    maglev.check_keys({"tableSize"});
    out.maglev = true;
    const auto size = maglev["tableSize"];
    if (!size.present()) {
      maglev.error_at("tableSize", "maglev needs a tableSize");
    } else if (auto n = size.integer(1, INT64_MAX)) {
      if (*n >= 5000011) {
        size.error("tableSize must be below 5000011");
      } else if (!is_prime(*n)) {
        size.error("tableSize " + std::to_string(*n) + " is not a prime number");
      } else {
        out.table_size = *n;
      }
    }
  }
  // Envoy bounds a ring to 8M entries.
  out.min_ring_size = std::min<std::uint64_t>(out.min_ring_size, 8u << 20);
  return out;
}

std::optional<warmup_policy> decode_warmup(const yaml_field& w) {
  if (!w.expect_map()) return std::nullopt;
  w.check_keys({"duration", "minimumPercent", "aggression"});
  if (!w["duration"].present()) w.error_at("duration", "warmup needs a duration");
  warmup_policy out;
  if (auto d = millis(decode_min_duration(w["duration"], false))) out.duration = *d;
  if (auto p = decode_number(w["minimumPercent"]); p && (*p < 0 || *p > 100)) {
    w["minimumPercent"].error("minimumPercent must be within [0, 100]");
  } else if (p) {
    out.minimum = *p / 100;
  }
  if (auto a = decode_number(w["aggression"]); a && *a < 1) {
    w["aggression"].error("aggression must be at least 1");
  } else if (a) {
    out.aggression = *a;
  }
  return out;
}

std::optional<load_balancer_policy> decode_load_balancer(const yaml_field& lb, destination_rule* dr,
                                                         bool has_outlier) {
  if (!lb.expect_map()) return std::nullopt;
  load_balancer_policy out;
  lb.check_keys({"simple", "consistentHash", "localityLbSetting", "zoneAwareLbSetting",
                 "warmupDurationSecs", "warmup"});
  const auto simple = lb["simple"];
  const auto hash = lb["consistentHash"];
  if (simple.present() && hash.present()) {
    lb.error("only one of simple or consistentHash may be set");
  }
  check_enum(simple, {"UNSPECIFIED", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST",
                      "LEAST_CONN"});
  const auto algorithm = simple.string().value_or("UNSPECIFIED");
  if (algorithm == "ROUND_ROBIN") out.simple = lb_algorithm::round_robin;
  if (algorithm == "RANDOM") out.simple = lb_algorithm::random;
  if (algorithm == "PASSTHROUGH") {
    // Valid for Istio, but there is no original destination to pass to.
    not_applied(simple,
                "it forwards to the address the app dialled, and laneproxy receives requests "
                "addressed to itself: endpoints are picked by LEAST_REQUEST");
  }
  out.hash = decode_consistent_hash(hash, dr);
  if (lb["localityLbSetting"].present() && lb["zoneAwareLbSetting"].present()) {
    lb.error("only one of localityLbSetting or zoneAwareLbSetting may be set");
  }
  decode_locality_lb(lb["localityLbSetting"], has_outlier);
  decode_zone_aware_lb(lb["zoneAwareLbSetting"], has_outlier);
  if (auto d = millis(decode_min_duration(lb["warmupDurationSecs"], false))) {
    out.warmup = warmup_policy{*d, 0.1, 1.0};
  }
  if (lb["warmupDurationSecs"].present() && lb["warmup"].present()) {
    lb.error("only one of warmupDurationSecs or warmup may be set");
  }
  if (auto w = decode_warmup(lb["warmup"])) out.warmup = w;
  if (out.warmup && (out.hash || out.simple == lb_algorithm::random)) {
    // Envoy ramps endpoints up under round robin and least request only.
    for (auto k : {"warmupDurationSecs", "warmup"}) {
      not_applied(lb[k], "slow start applies to ROUND_ROBIN and LEAST_REQUEST only");
    }
    out.warmup.reset();
  }
  not_applied(lb["localityLbSetting"], "laneproxy knows no localities");
  not_applied(lb["zoneAwareLbSetting"], "laneproxy knows no localities");
  return out;
}

std::optional<tcp_keepalive> decode_keepalive(const yaml_field& k, bool http2) {
  if (!k.expect_map()) return std::nullopt;
  if (http2) {
    k.check_keys({"interval", "timeout"});
    for (auto key : {"interval", "timeout"}) {
      if (!k[key].present()) k.error_at(key, std::string(key) + " is required");
    }
  } else {
    k.check_keys({"probes", "time", "interval"});
  }
  tcp_keepalive out;
  out.probes = static_cast<std::uint32_t>(k["probes"].integer(0, UINT32_MAX).value_or(0));
  const auto seconds = [&](const char* key) {
    const auto d = decode_min_duration(k[key], false);
    return std::chrono::duration_cast<std::chrono::seconds>(d.value_or(std::chrono::seconds(0)));
  };
  out.time = seconds("time");
  out.interval = seconds("interval");
  decode_min_duration(k["timeout"], false);
  return out;
}

// A limit where 0 means none, as Istio treats it.
std::optional<std::uint32_t> limit(const yaml_field& f) {
  const auto n = f.integer(0, INT32_MAX);
  if (!n || *n == 0) return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

std::optional<connection_pool_policy> decode_connection_pool(const yaml_field& pool) {
  if (!check_not_empty(pool, "connectionPool")) return std::nullopt;
  pool.check_keys({"tcp", "http"});
  connection_pool_policy out;
  const auto tcp = pool["tcp"];
  if (tcp.expect_map()) {
    tcp.check_keys({"maxConnections", "connectTimeout", "tcpKeepalive", "maxConnectionDuration",
                    "idleTimeout"});
    out.max_connections = limit(tcp["maxConnections"]);
    out.connect_timeout = millis(decode_min_duration(tcp["connectTimeout"], false));
    out.max_connection_duration = millis(decode_min_duration(tcp["maxConnectionDuration"], false));
    decode_min_duration(tcp["idleTimeout"], true);  // 0s turns the idle timeout off
    not_applied(tcp["idleTimeout"], "it bounds TCP proxying, and laneproxy proxies HTTP");
    out.keepalive = decode_keepalive(tcp["tcpKeepalive"], false);
  }
  const auto http = pool["http"];
  if (http.expect_map()) {
    http.check_keys({"http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection",
                     "maxRetries", "idleTimeout", "h2UpgradePolicy", "useClientProtocol",
                     "maxConcurrentStreams", "http2KeepAlive"});
    out.max_pending = limit(http["http1MaxPendingRequests"]);
    out.max_requests = limit(http["http2MaxRequests"]);
    out.max_requests_per_connection = limit(http["maxRequestsPerConnection"]);
    out.max_retries = limit(http["maxRetries"]);
    http["maxConcurrentStreams"].integer(0, INT32_MAX);
    out.idle_timeout = millis(decode_min_duration(http["idleTimeout"], false));
    check_enum(http["h2UpgradePolicy"], {"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"});
    if (http["useClientProtocol"].boolean().value_or(false) &&
        http["h2UpgradePolicy"].string().value_or("") == "UPGRADE") {
      http.error("h2UpgradePolicy UPGRADE cannot be combined with useClientProtocol");
    }
    decode_keepalive(http["http2KeepAlive"], true);
    if (const auto policy = http["h2UpgradePolicy"].string(); policy && *policy != "DEFAULT") {
      out.h2_upgrade = *policy == "UPGRADE";
    }
    out.use_client_protocol = http["useClientProtocol"].boolean().value_or(false);
    for (auto k : {"maxConcurrentStreams", "http2KeepAlive"}) {
      not_applied(http[k], "laneproxy's HTTP/2 upstream connections keep their own limits");
    }
  }
  return out;
}

std::optional<outlier_policy> decode_outlier_detection(const yaml_field& od) {
  if (!od.expect_map()) return std::nullopt;
  outlier_policy out;
  od.check_keys({"consecutiveErrors", "consecutive5xxErrors", "consecutiveGatewayErrors",
                 "consecutiveLocalOriginFailures", "splitExternalLocalOriginErrors", "interval",
                 "baseEjectionTime", "maxEjectionPercent", "minHealthPercent"});
  const auto count = [&](const char* k) {
    return static_cast<std::uint32_t>(od[k].integer(0, INT32_MAX).value_or(0));
  };
  if (od["consecutive5xxErrors"].present()) out.consecutive_5xx = count("consecutive5xxErrors");
  if (od["consecutiveGatewayErrors"].present()) {
    out.consecutive_gateway = count("consecutiveGatewayErrors");
  }
  if (const auto n = count("consecutiveErrors"); n > 0) {
    // Istio reads the old field as gateway errors only.
    out.consecutive_gateway = n;
    out.consecutive_5xx = 0;
  }
  if (od["consecutiveErrors"].present()) {
    od["consecutiveErrors"].warning(
        "consecutiveErrors is deprecated: use consecutive5xxErrors or consecutiveGatewayErrors");
  }
  const bool split = od["splitExternalLocalOriginErrors"].boolean().value_or(false);
  if (od["consecutiveLocalOriginFailures"].present() && !split) {
    od["consecutiveLocalOriginFailures"].error(
        "consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true");
  }
  out.split_local_origin = split;
  if (const auto n = count("consecutiveLocalOriginFailures"); n > 0) {
    out.consecutive_local_origin = n;
  }
  if (auto d = millis(decode_min_duration(od["interval"], false))) out.interval = *d;
  if (auto d = millis(decode_min_duration(od["baseEjectionTime"], false))) out.base_ejection = *d;
  if (auto n = od["maxEjectionPercent"].integer(0, 100); n && *n > 0) {
    out.max_ejection_percent = static_cast<std::uint32_t>(*n);
  }
  out.min_health_percent =
      static_cast<std::uint32_t>(od["minHealthPercent"].integer(0, 100).value_or(0));
  return out;
}

void decode_tunnel(const yaml_field& t) {
  if (!t.expect_map()) return;
  t.check_keys({"protocol", "targetHost", "targetPort"});
  check_enum(t["protocol"], {"CONNECT", "POST"});
  if (!t["targetHost"].present()) t.error_at("targetHost", "targetHost is required");
  if (!t["targetPort"].present()) t.error_at("targetPort", "targetPort is required");
  t["targetPort"].integer(1, 65535);
}

void decode_traffic_policy(const yaml_field& tp, destination_rule* dr, const std::string& ns,
                           bool port_level, policy_with_ports& out) {
  if (!check_not_empty(tp, port_level ? "a portLevelSettings entry" : "trafficPolicy")) return;
  if (port_level) {
    tp.check_keys({"port", "loadBalancer", "connectionPool", "outlierDetection", "tls"});
    if (!tp["port"].present()) tp.error_at("port", "port is required");
    if (tp["port"].expect_map()) tp["port"]["number"].integer(1, 65535);
    bool policy = false;
    for (auto k : {"loadBalancer", "connectionPool", "outlierDetection", "tls"}) {
      policy = policy || tp[k].present();
    }
    if (!policy) tp.error("a portLevelSettings entry needs a policy besides its port");
  } else {
    tp.check_keys({"loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings",
                   "tunnel", "proxyProtocol", "retryBudget"});
  }
  auto& policy = out.policy;
  policy.load_balancer = decode_load_balancer(tp["loadBalancer"], port_level ? nullptr : dr,
                                              tp["outlierDetection"].present());
  policy.connection_pool = decode_connection_pool(tp["connectionPool"]);
  policy.outlier = decode_outlier_detection(tp["outlierDetection"]);
  if (decode_client_tls(tp["tls"], ns, dr && dr->has_selector) && dr) {
    dr->unverified.push_back({tp["tls"].mark(), tp["tls"].path(), port_level});
  }
  decode_tunnel(tp["tunnel"]);
  if (tp["tunnel"].present() && tp["proxyProtocol"].present()) {
    tp.error("only one of tunnel or proxyProtocol may be set");
  }
  if (tp["proxyProtocol"].expect_map()) check_enum(tp["proxyProtocol"]["version"], {"V1", "V2"});
  for (auto k : {"tls", "tunnel", "proxyProtocol", "retryBudget"}) not_applied(tp[k]);
  if (port_level) return;
  std::set<std::int64_t> ports;
  tp["portLevelSettings"].for_each([&](const yaml_field& p) {
    policy_with_ports entry;
    decode_traffic_policy(p, dr, ns, true, entry);
    if (auto n = p["port"]["number"].integer(1, 65535)) {
      if (!ports.insert(*n).second)
        p["port"]["number"].error("duplicate port " + std::to_string(*n));
      out.ports.push_back({static_cast<std::uint32_t>(*n), std::move(entry.policy)});
      out.port_marks.push_back(p.mark());
    }
  });
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
  dr.has_selector = spec["workloadSelector"].present();
  decode_traffic_policy(spec["trafficPolicy"], &dr, dr.meta.ns, false, dr.policy);
  const auto selector = spec["workloadSelector"];
  if (selector.expect_map()) {
    selector.check_keys({"matchLabels"});
    if (!has_fields(selector["matchLabels"])) {
      selector.warning("an empty workloadSelector selects every workload of the namespace");
    }
    for (const auto& [k, v] : decode_labels(selector["matchLabels"])) {
      if (v.find('*') != std::string::npos) {
        selector["matchLabels"][k].error("a workloadSelector label value cannot hold a wildcard");
      }
    }
  }
  decode_export_to(
      spec["exportTo"], dr.meta.ns,
      selector.present() ? export_owner::destination_rule_with_selector : export_owner::other);
  for (auto k : {"exportTo", "workloadSelector"}) not_applied(spec[k]);
  std::set<std::string> names;
  spec["subsets"].for_each([&](const yaml_field& s) {
    if (!s.expect_map()) return;
    s.check_keys({"name", "labels", "trafficPolicy"});
    subset sub;
    sub.where = s.mark();
    if (auto name = s["name"].require_string()) {
      sub.name = *name;
      if (!is_dns1123_label(ascii_lower(*name))) {
        s["name"].error("invalid subset name \"" + *name + "\"");
      }
      if (!names.insert(*name).second) s["name"].error("duplicate subset name \"" + *name + "\"");
    }
    sub.labels = decode_labels(s["labels"]);
    decode_traffic_policy(s["trafficPolicy"], nullptr, dr.meta.ns, false, sub.policy);
    dr.subsets.push_back(std::move(sub));
  });
  out.destination_rules.push_back(std::move(dr));
}

}  // namespace laneproxy::config
