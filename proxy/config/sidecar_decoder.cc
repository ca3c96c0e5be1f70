// Sidecar: checked as Istio's webhook checks it (egress hosts, ports,
// binds, capture modes, ingress endpoints, the outbound traffic policy).
// laneproxy's sidecars reach every service of the mesh: the object is
// reported as not applied.
#include "config/field_rules.h"
#include "config/resource_decoder.h"

namespace laneproxy::config {

namespace {

void decode_port(const yaml_field& p, bool required) {
  if (!p.present()) {
    if (required) p.error("port is required");
    return;
  }
  if (!p.expect_map()) return;
  p.check_keys({"number", "protocol", "name", "targetPort"});
  p["number"].integer(1, 65535);
}

// "namespace/host": the namespace "*", "." or "~" or a name; the host "*"
// or a (wildcard) DNS name.
void check_egress_host(const yaml_field& h) {
  const auto v = h.string();
  if (!v) return;
  const auto slash = v->find('/');
  if (slash == std::string::npos) {
    h.error("egress host \"" + *v + "\" must be NAMESPACE/HOST");
    return;
  }
  const auto ns = v->substr(0, slash);
  const auto host = v->substr(slash + 1);
  if (ns != "*" && ns != "." && ns != "~" && !is_dns1123_label(ns)) {
    h.error("invalid namespace \"" + ns + "\" in egress host \"" + *v + "\"");
  }
  if (!is_valid_host(host, true)) h.error("invalid host \"" + host + "\" in egress host");
}

}  // namespace

void decode_sidecar(const yaml_field& spec, object_meta meta, mesh_documents&) {
  (void)meta;
  spec.check_keys(
      {"workloadSelector", "ingress", "egress", "outboundTrafficPolicy", "inboundConnectionPool"});
  if (!has_fields(spec)) spec.error("a Sidecar must say something: egress, ingress or a policy");
  const auto selector = spec["workloadSelector"];
  if (selector.expect_map()) {
    selector.check_keys({"labels"});
    decode_labels(selector["labels"]);
  }
  spec["egress"].for_each([](const yaml_field& e) {
    if (!e.expect_map()) return;
    e.check_keys({"port", "bind", "captureMode", "hosts"});
    decode_port(e["port"], false);
    check_enum(e["captureMode"], {"DEFAULT", "IPTABLES", "NONE"});
    if (!e["hosts"].present()) e.error_at("hosts", "an egress listener needs hosts");
    e["hosts"].for_each(check_egress_host);
  });
  spec["ingress"].for_each([](const yaml_field& i) {
    if (!i.expect_map()) return;
    i.check_keys({"port", "bind", "captureMode", "defaultEndpoint", "tls", "connectionPool"});
    decode_port(i["port"], true);
    check_enum(i["captureMode"], {"DEFAULT", "IPTABLES", "NONE"});
  });
  const auto policy = spec["outboundTrafficPolicy"];
  if (policy.expect_map()) {
    policy.check_keys({"mode", "egressProxy"});
    check_enum(policy["mode"], {"REGISTRY_ONLY", "ALLOW_ANY"});
    if (policy["egressProxy"].present()) {
      policy["egressProxy"].warning("egressProxy is deprecated [IST0002]");
    }
  }
  not_applied(spec, "laneproxy sidecars reach every service of the mesh");
}

}  // namespace laneproxy::config
