// ASMSwimLaneGroup and ASMSwimLane (istio.alibabacloud.com/v1, cluster-scoped).
#include "config/field_rules.h"
#include "config/resource_decoder.h"

namespace laneproxy::config {

namespace {

std::vector<lane_service_ref> decode_service_refs(const yaml_field& f) {
  std::vector<lane_service_ref> out;
  f.for_each([&](const yaml_field& s) {
    if (!s.expect_map()) return;
    s.check_keys({"name", "namespace", "cluster", "trafficPolicyPatch", "httpRoutePatch"});
    lane_service_ref ref;
    ref.where = s.mark();
    ref.path = s.path();
    ref.name = s["name"].require_string().value_or("");
    ref.ns = s["namespace"].string().value_or("default");
    out.push_back(std::move(ref));
  });
  return out;
}

std::vector<std::string> decode_hosts(const yaml_field& f) {
  std::vector<std::string> hosts;
  f.for_each([&](const yaml_field& h) {
    if (auto host = h.string()) {
      if (!is_valid_host(*host, true)) h.error("invalid host \"" + *host + "\"");
      hosts.push_back(*host);
    }
  });
  return hosts;
}

}  // namespace

void decode_lane_group(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  lane_group g;
  g.meta = std::move(meta);
  spec.check_keys({"services", "ingress", "isPermissive", "permissiveModeConfiguration",
                   "defaultTrafficPolicyPatch", "defaultHttpRoutePatch", "autoUpdate"});
  if (!spec["services"].present()) spec.error_at("services", "services is required");
  g.services = decode_service_refs(spec["services"]);

  const auto ingress = spec["ingress"];
  if (ingress.expect_map()) {
    ingress.check_keys({"gateway", "ingressRouting"});
    const auto gw = ingress["gateway"];
    g.gateway_where = gw.mark();
    if (gw.expect_map()) {
      gw.check_keys({"name", "namespace", "type"});
      g.gateway_name = gw["name"].require_string().value_or("");
      g.gateway_namespace = gw["namespace"].string().value_or("istio-system");
      g.gateway_type = gw["type"].string().value_or("ASM");
      if (g.gateway_type != "ASM" && g.gateway_type != "ingress") {
        gw["type"].error("invalid value \"" + g.gateway_type + "\" (one of ASM, ingress)");
      }
    }
    const auto routing = ingress["ingressRouting"];
    if (routing.expect_map()) {
      routing.check_keys({"ingressRoutingStrategy", "weightedRoutingRule"});
      g.routing_strategy = routing["ingressRoutingStrategy"].string().value_or("");
      if (g.routing_strategy == "rule-based") g.routing_strategy = "rule_based";
      if (!g.routing_strategy.empty() && g.routing_strategy != "weighted" &&
          g.routing_strategy != "rule_based") {
        routing["ingressRoutingStrategy"].error("invalid value \"" + g.routing_strategy +
                                                "\" (one of weighted, rule_based)");
      }
      const auto rule = routing["weightedRoutingRule"];
      if (g.routing_strategy == "weighted" && !rule.present()) {
        routing.error_at("weightedRoutingRule",
                         "weightedRoutingRule is required for the weighted strategy");
      }
      if (rule.expect_map()) {
        rule.check_keys({"hosts", "requestMatches"});
        g.weighted_hosts = decode_hosts(rule["hosts"]);
        rule["requestMatches"].for_each(
            [&](const yaml_field& m) { g.weighted_matches.push_back(decode_http_match(m)); });
      }
    }
  }

  g.permissive = spec["isPermissive"].boolean().value_or(false);
  const auto pm = spec["permissiveModeConfiguration"];
  if (g.permissive && !pm.present()) {
    spec.error_at("permissiveModeConfiguration",
                  "permissiveModeConfiguration is required when isPermissive is true");
  }
  if (pm.expect_map()) {
    pm.check_keys({"fallbackTarget", "serviceLevelFallbackTarget", "traceHeader", "routeHeader"});
    g.fallback_target = pm["fallbackTarget"].string().value_or("");
    g.fallback_where = pm["fallbackTarget"].mark();
    if (g.permissive) {
      g.route_header = pm["routeHeader"].require_string().value_or("");
      g.trace_header = pm["traceHeader"].require_string().value_or("");
    } else {
      g.route_header = pm["routeHeader"].string().value_or("");
      g.trace_header = pm["traceHeader"].string().value_or("");
    }
    for (const auto* h : {&g.route_header, &g.trace_header}) {
      if (!h->empty() && !is_header_name(*h)) {
        pm[h == &g.route_header ? "routeHeader" : "traceHeader"].error("invalid header name \"" +
                                                                       *h + "\"");
      }
    }
    pm["serviceLevelFallbackTarget"].for_each_entry(
        [&](const std::string& key, const yaml_field& v) {
          auto lane_name = v.string();
          if (!lane_name) return;
          // Keys are namespaced names ("default/mocka"); a bare name means "default".
          const std::string full = key.find('/') == std::string::npos ? "default/" + key : key;
          g.service_fallback[full] = *lane_name;
          g.service_fallback_where[full] = v.mark();
        });
  }
  out.lane_groups.push_back(std::move(g));
}

void decode_lane(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  lane l;
  l.meta = std::move(meta);
  spec.check_keys({"labelSelector", "services", "ingressRules", "ingressWeight"});
  if (!l.meta.name.empty() && !is_dns1123_label(l.meta.name)) {
    diagnostics& diag = spec.diag();
    diag.error(l.meta.where, "metadata.name",
               "lane name \"" + l.meta.name + "\" is not a valid subset name (RFC 1123 label)");
  }
  const auto group = l.meta.labels.find("swimlane-group");
  if (group == l.meta.labels.end() || group->second.empty()) {
    spec.diag().error(l.meta.where, "metadata.labels.swimlane-group",
                      "swimlane-group label is required: it names the lane's group");
  } else {
    l.group = group->second;
  }
  l.selector = decode_labels(spec["labelSelector"]);
  if (l.selector.empty()) {
    spec.error_at("labelSelector", "labelSelector is required: it selects the lane's workloads");
  }
  l.services = decode_service_refs(spec["services"]);
  spec["ingressRules"].for_each([&](const yaml_field& r) {
    if (!r.expect_map()) return;
    r.check_keys({"name", "online", "hosts", "match", "route"});
    lane_ingress_rule rule;
    rule.name = r["name"].string().value_or("");
    rule.online = r["online"].boolean().value_or(false);
    rule.hosts = decode_hosts(r["hosts"]);
    rule.match = decode_http_match(r["match"]);
    const auto route = r["route"];
    if (!route.present()) r.error_at("route", "route is required");
    if (route.expect_map()) {
      route.check_keys({"destination"});
      rule.dest = decode_destination(route["destination"], destination_form::asm_lane);
    }
    l.ingress_rules.push_back(std::move(rule));
  });
  const auto weight = spec["ingressWeight"];
  if (weight.expect_map()) {
    weight.check_keys({"destination", "weight"});
    weighted_destination wd;
    wd.dest = decode_destination(weight["destination"], destination_form::asm_lane);
    wd.weight_given = weight["weight"].present();
    wd.weight = weight["weight"].integer(0, INT32_MAX).value_or(0);
    l.ingress_weight = wd;
  }
  out.lanes.push_back(std::move(l));
}

}  // namespace laneproxy::config
