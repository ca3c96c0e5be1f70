#include "config/policy_rules.h"

#include <vector>

#include "config/field_rules.h"

namespace laneproxy::config {

namespace {

constexpr std::string_view region_label = "topology.kubernetes.io/region";
constexpr std::string_view zone_label = "topology.kubernetes.io/zone";
constexpr std::string_view subzone_label = "topology.istio.io/subzone";

std::vector<std::string_view> parts_of(std::string_view locality) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto slash = locality.find('/');
    parts.push_back(locality.substr(0, slash));
    if (slash == std::string_view::npos) return parts;
    locality.remove_prefix(slash + 1);
  }
}

// "region[/zone[/subzone]]", each part non-empty, "*" only as the last.
bool check_locality(const yaml_field& f, std::string_view locality) {
  const auto parts = parts_of(locality);
  bool ok = parts.size() <= 3;
  for (std::size_t i = 0; ok && i < parts.size(); ++i) {
    ok = !parts[i].empty() && (parts[i] != "*" || i + 1 == parts.size()) &&
         (parts[i] == "*" || parts[i].find('*') == std::string_view::npos);
  }
  if (!ok) {
    f.error("invalid locality \"" + std::string(locality) +
            "\" (region[/zone[/subzone]], * only as the last part)");
  }
  return ok;
}

// Whether `wide` covers `narrow` ("a" and "a/*" cover "a/b/c"; "*" all).
bool covers(std::string_view wide, std::string_view narrow) {
  const auto w = parts_of(wide), n = parts_of(narrow);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i] == "*") return true;
    if (i >= n.size() || w[i] != n[i]) return false;
  }
  return true;
}

void decode_distribute_targets(const yaml_field& to) {
  std::vector<std::string> seen;
  std::int64_t sum = 0;
  to.for_each_entry([&](const std::string& locality, const yaml_field& weight) {
    if (!check_locality(weight, locality)) return;
    for (const auto& s : seen) {
      if (covers(s, locality) || covers(locality, s)) {
        weight.error("locality \"" + locality + "\" overlaps \"" + s + "\"");
      }
    }
    seen.push_back(locality);
    if (auto w = weight.integer(0, INT64_MAX)) {
      if (*w == 0 || *w > 100) weight.error("a locality weight must be within [1, 100]");
      sum += *w;
    }
  });
  if (!seen.empty() && sum != 100) {
    to.error("locality weights add up to " + std::to_string(sum) + ", not 100");
  }
}

void decode_distribute(const yaml_field& f) {
  std::vector<std::string> froms;
  f.for_each([&](const yaml_field& d) {
    if (!d.expect_map()) return;
    d.check_keys({"from", "to"});
    if (auto from = d["from"].require_string(); from && check_locality(d["from"], *from)) {
      for (const auto& earlier : froms) {
        if (covers(earlier, *from)) {
          f.error("distribute from \"" + *from + "\" lies within the earlier \"" + earlier + "\"");
        }
      }
      froms.push_back(*from);
    }
    decode_distribute_targets(d["to"]);
  });
}

void decode_failover(const yaml_field& f) {
  f.for_each([&](const yaml_field& o) {
    if (!o.expect_map()) return;
    o.check_keys({"from", "to"});
    const auto from = o["from"].require_string();
    const auto to = o["to"].require_string();
    for (const auto& [key, value] : {std::pair{"from", from}, std::pair{"to", to}}) {
      if (value && (*value == "*" || value->find('/') != std::string::npos)) {
        o[key].error("failover " + std::string(key) + " must be a region, not \"" + *value + "\"");
      }
    }
    if (from && to && *from == *to) o.error("failover from a region to itself");
  });
}

void decode_lb_setting(const yaml_field& f, bool has_outlier, bool zone_aware) {
  if (!f.expect_map()) return;
  f.check_keys({"distribute", "failover", "failoverPriority", "enabled"});
  f["enabled"].boolean();
  if (f["distribute"].present() && f["failover"].present()) {
    f.error("only one of distribute or failover may be set");
  }
  decode_distribute(f["distribute"]);
  decode_failover(f["failover"]);
  const bool failover = f["failover"].present();
  f["failoverPriority"].for_each([&](const yaml_field& p) {
    const auto label = p.string().value_or("");
    const bool topology = label == region_label || label == zone_label || label == subzone_label;
    if ((failover && topology) || (zone_aware && label == region_label)) {
      p.error("failoverPriority cannot name \"" + label + "\" here");
    }
  });
  if ((failover || f["failoverPriority"].present()) && !has_outlier) {
    f.warning("failover needs outlierDetection at the same level to take effect");
  }
}

}  // namespace

void decode_locality_lb(const yaml_field& f, bool has_outlier) {
  decode_lb_setting(f, has_outlier, false);
}

void decode_zone_aware_lb(const yaml_field& f, bool has_outlier) {
  decode_lb_setting(f, has_outlier, true);
}

bool decode_client_tls(const yaml_field& f, const std::string& ns, bool has_selector) {
  if (!f.expect_map()) return false;
  f.check_keys({"mode", "clientCertificate", "privateKey", "caCertificates", "caCrl",
                "credentialName", "subjectAltNames", "sni", "insecureSkipVerify"});
  const auto mode = f["mode"].string().value_or("DISABLE");
  if (mode != "DISABLE" && mode != "SIMPLE" && mode != "MUTUAL" && mode != "ISTIO_MUTUAL") {
    f["mode"].error("invalid value \"" + mode +
                    "\" (one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL)");
    return false;
  }
  if (mode != "SIMPLE" && mode != "MUTUAL") return false;
  const auto has = [&](const char* k) { return f[k].present(); };
  const bool credential = has("credentialName");
  if (f["insecureSkipVerify"].boolean().value_or(false)) {
    for (auto k : {"caCertificates", "subjectAltNames"}) {
      if (has(k)) f.error(std::string("insecureSkipVerify cannot be combined with ") + k);
    }
    if (credential && mode == "SIMPLE") {
      f.error("insecureSkipVerify cannot be combined with credentialName");
    }
  }
  if (credential) {
    for (auto k : {"clientCertificate", "privateKey", "caCertificates"}) {
      if (has(k)) f.error(std::string("credentialName cannot be combined with ") + k);
    }
    if (mode == "MUTUAL" && has("caCrl")) f.error("credentialName cannot be combined with caCrl");
    const auto name = f["credentialName"].string().value_or("");
    constexpr std::string_view configmap = "configmap://";
    if (name.rfind(configmap, 0) == 0) {
      const auto rest = name.substr(configmap.size());
      const auto slash = rest.find('/');
      if (slash == std::string::npos || rest.substr(0, slash) != ns) {
        f["credentialName"].error("a configmap:// credential must be configmap://" + ns +
                                  "/NAME (the rule's own namespace)");
      }
    }
  } else if (mode == "MUTUAL") {
    for (auto k : {"clientCertificate", "privateKey"}) {
      if (!has(k)) f.error_at(k, std::string(k) + " is required for MUTUAL without credentialName");
    }
  }
  return !has("caCertificates") && !(credential && has_selector);
}

}  // namespace laneproxy::config
