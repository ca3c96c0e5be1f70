#include "config/resource_decoder.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "config/ascii.h"
#include "config/bootstrap.h"
#include "config/field_rules.h"

namespace laneproxy::config {

namespace {

constexpr std::string_view istio_networking = "networking.istio.io/";
constexpr std::string_view asm_group = "istio.alibabacloud.com/";
constexpr std::string_view gateway_api = "gateway.networking.k8s.io/";

// A Kubernetes Gateway API Gateway: its name only, so that VirtualServices
// that bind to it resolve (laneproxy serves no Gateway API listeners).
void decode_k8s_gateway(const yaml_field&, object_meta meta, mesh_documents& out) {
  out.k8s_gateways.push_back(meta.ns + "/" + meta.name);
}

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
    {"Pod", "", {"v1"}, true, decode_pod},
    {"Sidecar", istio_networking, {"v1alpha3", "v1beta1", "v1"}, true, decode_sidecar},
    {"ServiceEntry", istio_networking, {"v1alpha3", "v1beta1", "v1"}, true, decode_service_entry},
    {"Gateway", gateway_api, {"v1", "v1beta1"}, true, decode_k8s_gateway},
    {"ASMSwimLaneGroup", asm_group, {"v1"}, false, decode_lane_group},
    {"ASMSwimLane", asm_group, {"v1"}, false, decode_lane},
};

const kind_entry* find_kind(const std::string& kind, const std::string& api_version) {
  for (const auto& k : kinds) {
    if (k.kind != kind) continue;
    // `Gateway` exists in both networking.istio.io and gateway.networking.k8s.io.
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
    const yaml_field root(doc.root, "", doc.file, diag, doc.first_line);
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
    if (entry->group == gateway_api) {  // only its name is read
      entry->decode(spec, std::move(meta), out);
      continue;
    }
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
    f.error("destination is required [IST0101]");
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
    // A destination may use a wildcard label ("*-foo.a"), not be "*".
    if (*host != "*" && is_valid_host(*host, true)) {
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
  if (istio && f["port"].expect_map()) {
    f["port"].check_keys({"number"});
    if (!f["port"]["number"].present()) f["port"].error_at("number", "port needs a number");
  }
  d.port = static_cast<std::uint32_t>(port.integer(1, 65535).value_or(0));
  return d;
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
    port.app_protocol = p["appProtocol"].string().value_or("");
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
  // The address a captured call to the Service is sent to (its original
  // destination): an IP literal, or None for a headless Service.
  const auto add_ip = [&](const yaml_field& f) {
    const auto ip = f.string();
    if (!ip) return;
    if (*ip != "None" && !parse_socket_address(*ip + ":0") &&
        !parse_socket_address("[" + *ip + "]:0")) {
      f.error("expected an IP literal or None, got \"" + *ip + "\"");
      return;
    }
    if (std::find(svc.cluster_ips.begin(), svc.cluster_ips.end(), *ip) == svc.cluster_ips.end()) {
      svc.cluster_ips.push_back(*ip);
    }
  };
  if (spec["clusterIP"].present()) add_ip(spec["clusterIP"]);
  spec["clusterIPs"].for_each(add_ip);
  out.services.push_back(std::move(svc));
}

namespace {
// A pod spec's containers: name, image, command, args, env and ports.
void decode_containers(const yaml_field& pod_spec, deployment& d) {
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
}
}  // namespace

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
  decode_containers(tmpl["spec"], d);
  out.deployments.push_back(std::move(d));
}

// A ServiceEntry's endpoints: the address, and a port per port name (the
// entry's port number, or its targetPort, where none is given).
void decode_entry_endpoints(const yaml_field& list, service_entry& se) {
  list.for_each([&](const yaml_field& e) {
    if (!e.expect_map()) return;
    e.check_keys({"address", "ports", "labels", "network", "locality", "weight", "serviceAccount"});
    service_entry::endpoint ep;
    ep.address = e["address"].string().value_or("");
    if (ep.address.empty()) e.error_at("address", "address is required");
    e["ports"].for_each_entry([&](const std::string& name, const yaml_field& port) {
      if (auto n = port.integer(1, 65535)) ep.ports[name] = static_cast<std::uint32_t>(*n);
    });
    for (const auto* key : {"labels", "network", "locality", "weight", "serviceAccount"}) {
      not_applied(e[key], "every endpoint of a ServiceEntry gets an even share");
    }
    se.endpoints.push_back(std::move(ep));
  });
}

void decode_service_entry(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  service_entry se;
  se.meta = std::move(meta);
  spec.check_keys({"hosts", "addresses", "ports", "location", "resolution", "endpoints",
                   "workloadSelector", "exportTo", "subjectAltNames"});
  if (!spec["hosts"].present()) spec.error_at("hosts", "hosts is required");
  spec["hosts"].for_each([&](const yaml_field& h) {
    if (auto host = h.string()) {
      if (!is_valid_host(*host, true)) h.error("invalid host \"" + *host + "\"");
      se.hosts.push_back(*host);
    }
  });
  std::set<std::string> names;
  spec["ports"].for_each([&](const yaml_field& p) {
    if (!p.expect_map()) return;
    p.check_keys({"number", "protocol", "name", "targetPort"});
    if (!p["number"].present()) p.error_at("number", "number is required");
    service_port port;
    port.port = static_cast<std::uint32_t>(p["number"].integer(1, 65535).value_or(0));
    port.target_port = static_cast<std::uint32_t>(p["targetPort"].integer(1, 65535).value_or(0));
    port.app_protocol = ascii_lower(p["protocol"].string().value_or(""));
    const auto name = p["name"].string().value_or("");
    if (name.empty()) p.error_at("name", "port name is required");
    if (!name.empty() && !names.insert(name).second) {
      p["name"].error("duplicate port name \"" + name + "\"");
    }
    port.name = name;
    se.ports.push_back(std::move(port));
  });
  se.resolution = spec["resolution"].string().value_or("NONE");
  decode_entry_endpoints(spec["endpoints"], se);
  for (auto [key, allowed] : {std::pair{"location", "MESH_EXTERNAL MESH_INTERNAL"},
                              std::pair{"resolution", "NONE STATIC DNS DNS_ROUND_ROBIN"}}) {
    const auto v = spec[key].string();
    if (v && (v->empty() || std::string(" ").append(allowed).append(" ").find(" " + *v + " ") ==
                                std::string::npos)) {
      spec[key].error("invalid value \"" + *v + "\" (one of " + allowed + ")");
    }
  }
  se.export_to = decode_export_to(spec["exportTo"], se.meta.ns, export_owner::service_entry);
  out.service_entries.push_back(std::move(se));
}

void decode_pod(const yaml_field& spec, object_meta meta, mesh_documents& out) {
  // A bare Pod is a workload of one replica, labelled by its metadata.
  deployment d;
  d.pod_labels = meta.labels;
  d.meta = std::move(meta);
  d.replicas = 1;
  decode_containers(spec, d);
  out.deployments.push_back(std::move(d));
}

}  // namespace laneproxy::config
