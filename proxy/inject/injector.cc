#include "inject/injector.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "config/ascii.h"
#include "config/mesh_compiler.h"
#include "config/resources.h"
#include "inject/yaml_out.h"

namespace laneproxy::inject {

namespace {

// Istio's, ASM's and the Gateway API's resources configure the proxies:
// they travel in the mesh ConfigMap and are not applied to the cluster.
bool mesh_only(const std::string& api_version) {
  const auto group = api_version.substr(0, api_version.find('/'));
  return group.ends_with("istio.io") || group.ends_with("alibabacloud.com") ||
         group == "gateway.networking.k8s.io";
}

bool cluster_scoped(const std::string& kind) {
  static const std::set<std::string> kinds{
      "Namespace",        "ClusterRole",  "ClusterRoleBinding", "CustomResourceDefinition",
      "PersistentVolume", "StorageClass", "PriorityClass",      "IngressClass"};
  return kinds.contains(kind);
}

// A Service's name: a DNS-1035 label.
bool valid_service_name(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  if (name.front() < 'a' || name.front() > 'z' || name.back() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// Istio's gateways listen on an unprivileged port behind a privileged one.
std::uint16_t listen_port_for(std::uint32_t port) {
  return static_cast<std::uint16_t>(port < 1024 ? port + 8000 : port);
}

YAML::Node managed_labels() {
  YAML::Node labels;
  labels["app.kubernetes.io/managed-by"] = "laneproxy-inject";
  return labels;
}

YAML::Node labels_node(const config::label_map& labels) {
  YAML::Node out;
  for (const auto& [k, v] : labels) out[k] = quoted_scalar(v);
  return out;
}

YAML::Node object(const std::string& api_version, const std::string& kind, const std::string& name,
                  const std::string& ns, const YAML::Node& labels) {
  YAML::Node o;
  o["apiVersion"] = api_version;
  o["kind"] = kind;
  o["metadata"]["name"] = name;
  o["metadata"]["namespace"] = ns;
  o["metadata"]["labels"] = labels;
  return o;
}

class builder {
 public:
  builder(const config::mesh_snapshot& mesh, const inject_options& o, config::diagnostics& diag)
      : mesh_(mesh), options_(o), diag_(diag) {}

  void add_document(const config::yaml_document& doc);
  void add_lane_services();
  void add_gateways();
  void add_mesh_maps(const std::vector<config::source_file>& sources);
  std::vector<output_file> finish();

 private:
  void put(const std::string& path, std::string text, const config::source_mark& where);
  void add_deployment(YAML::Node d, const std::string& name, const std::string& ns,
                      const config::source_mark& where);
  void add_headless(const config::service_info& svc, const std::string& name,
                    const config::label_map& selector, const std::string& subset);
  bool take_service(const std::string& ns, const std::string& name, const std::string& what);

  const config::mesh_snapshot& mesh_;
  const inject_options& options_;
  config::diagnostics& diag_;
  std::map<std::string, std::string> files_;
  std::set<std::string> proxy_namespaces_;
  std::set<std::string> services_;  // "ns/name" of every Service written
};

void builder::put(const std::string& path, std::string text, const config::source_mark& where) {
  if (!files_.emplace(path, std::move(text)).second) {
    diag_.error(where, "metadata.name", "two objects would be written to " + path);
  }
}

bool builder::take_service(const std::string& ns, const std::string& name,
                           const std::string& what) {
  if (services_.insert(ns + "/" + name).second) return true;
  diag_.error({}, "",
              what + ": a Service \"" + name + "\" exists in namespace \"" + ns +
                  "\" already; rename one of them");
  return false;
}

void builder::add_document(const config::yaml_document& doc) {
  const auto& root = doc.root;
  const auto api = root["apiVersion"] ? root["apiVersion"].as<std::string>("") : "";
  const auto kind = root["kind"] ? root["kind"].as<std::string>("") : "";
  if (mesh_only(api)) return;
  const auto where = config::mark_of(doc.file, root["kind"] ? root["kind"] : root, doc.first_line);
  const auto meta = root["metadata"];
  const auto name = meta && meta["name"] ? meta["name"].as<std::string>("") : "";
  if (kind.empty() || name.empty()) {
    diag_.error(where, "metadata.name", "a Kubernetes object needs a kind and a metadata.name");
    return;
  }
  auto copy = YAML::Clone(root);
  const bool scoped = !cluster_scoped(kind);
  std::string ns = meta["namespace"] ? meta["namespace"].as<std::string>("") : "";
  if (scoped && ns.empty()) {
    ns = "default";
    copy["metadata"]["namespace"] = ns;  // as the mesh read it, whatever `kubectl -n` says
  }
  if (kind == "Deployment" && api == "apps/v1") return add_deployment(copy, name, ns, where);
  if (kind == "Service" && api == "v1") take_service(ns, name, "Service " + name);
  const auto dir = scoped ? ns : std::string("cluster");
  put(dir + "/" + name + "." + config::ascii_lower(kind) + ".yaml", to_yaml(copy), where);
}

void builder::add_deployment(YAML::Node d, const std::string& name, const std::string& ns,
                             const config::source_mark& where) {
  const auto w = mesh_.workloads.find(name + "." + ns);
  if (w == mesh_.workloads.end()) return;  // the compiler reported why
  const auto map_name = "laneproxy-" + name;
  if (const auto error = inject_pod(d["spec"]["template"], map_name, options_); !error.empty()) {
    diag_.error(where, "spec.template", error);
    return;
  }
  const auto boot = sidecar_bootstrap(w->second, config::app_port_of(w->second, mesh_), options_);
  proxy_namespaces_.insert(ns);
  put(ns + "/" + name + ".deployment.yaml",
      config_map_yaml(map_name, ns, {{"bootstrap.yaml", boot}}, managed_labels()) + "---\n" +
          to_yaml(d),
      where);
}

void builder::add_headless(const config::service_info& svc, const std::string& name,
                           const config::label_map& selector, const std::string& subset) {
  const auto what = "service " + svc.key() + (subset.empty() ? "" : ", lane " + subset);
  if (!valid_service_name(name)) {
    diag_.error({}, "",
                what + ": its headless Service would be \"" + name +
                    "\", which is no DNS label (lowercase letters, digits and '-', at most 63)");
    return;
  }
  if (!take_service(svc.ns, name, what)) return;
  auto labels = managed_labels();
  labels["laneproxy.io/service"] = svc.name;
  if (!subset.empty()) labels["laneproxy.io/subset"] = subset;
  auto s = object("v1", "Service", name, svc.ns, labels);
  s["spec"]["clusterIP"] = "None";
  s["spec"]["selector"] = labels_node(selector);
  YAML::Node port;
  port["name"] = "http-inbound";
  port["port"] = static_cast<int>(inbound_port);
  port["targetPort"] = static_cast<int>(inbound_port);
  s["spec"]["ports"].push_back(port);
  put(svc.ns + "/" + name + ".service.yaml", to_yaml(s), {});
}

// A lane's pods are the Service's selector plus the lane's labels.
void builder::add_lane_services() {
  for (const auto& [key, svc] : mesh_.services) {
    if (svc.external || svc.selector.empty()) continue;
    if (svc.subsets.empty()) {
      add_headless(svc, endpoints_service_name(svc.name), svc.selector, "");
      continue;
    }
    for (const auto& [subset, def] : svc.subsets) {
      auto selector = def.labels;
      selector.insert(svc.selector.begin(), svc.selector.end());
      add_headless(svc, lane_service_name(svc.name, subset), selector, subset);
    }
  }
}

void builder::add_gateways() {
  for (const auto& [key, gw] : mesh_.gateways) {
    std::vector<std::uint32_t> ports;
    for (const auto& s : gw.servers) {
      if (config::serves_plain_http(s) &&
          std::find(ports.begin(), ports.end(), s.port) == ports.end())
        ports.push_back(s.port);
    }
    if (ports.empty()) {
      diag_.warning({}, "", "Gateway " + key + " has no HTTP server: no laneproxy serves it");
      continue;
    }
    const auto name = "laneproxy-" + gw.name;
    const auto listen = listen_port_for(ports.front());
    auto pod_labels = gw.selector;
    if (pod_labels.empty()) pod_labels["app"] = name;
    const auto labels = labels_node(pod_labels);
    auto d = object("apps/v1", "Deployment", name, gw.ns, managed_labels());
    d["spec"]["replicas"] = 1;
    d["spec"]["selector"]["matchLabels"] = labels;
    d["spec"]["template"] = gateway_pod_template(name, listen, labels, options_);
    if (!take_service(gw.ns, name, "Gateway " + key)) continue;
    auto s = object("v1", "Service", name, gw.ns, managed_labels());
    s["spec"]["selector"] = labels;
    for (const auto p : ports) {
      YAML::Node port;
      port["name"] = "http-" + std::to_string(p);
      port["port"] = p;
      port["targetPort"] = static_cast<int>(listen);
      s["spec"]["ports"].push_back(port);
    }
    proxy_namespaces_.insert(gw.ns);
    put(gw.ns + "/" + name + ".gateway.yaml",
        config_map_yaml(name, gw.ns, {{"bootstrap.yaml", gateway_bootstrap(key, listen, options_)}},
                        managed_labels()) +
            "---\n" + to_yaml(d) + "---\n" + to_yaml(s),
        {});
  }
}

// The mesh files as they are, one key per file: every proxy compiles the
// same texts, so all of them name the same mesh version.
void builder::add_mesh_maps(const std::vector<config::source_file>& sources) {
  std::map<std::string, std::string> data;
  for (const auto& s : sources) {
    const auto key = std::filesystem::path(s.name).filename().string();
    if (!data.emplace(key, s.text).second) {
      diag_.error({s.name, 0, 0}, "",
                  "two mesh files are named " + key + ": a ConfigMap keys files by name");
    }
  }
  const std::vector<std::pair<std::string, std::string>> items(data.begin(), data.end());
  for (const auto& ns : proxy_namespaces_) {
    put(ns + "/laneproxy-mesh.configmap.yaml",
        config_map_yaml("laneproxy-mesh", ns, items, managed_labels()), {});
  }
}

std::vector<output_file> builder::finish() {
  std::string k =
      "# Written by laneproxy inject: apply with `kubectl apply -k .`, or let Argo CD\n"
      "# sync this folder.\n"
      "apiVersion: kustomize.config.k8s.io/v1beta1\n"
      "kind: Kustomization\n"
      "resources:\n";
  for (const auto& [path, text] : files_) k += "- " + path + "\n";
  files_["kustomization.yaml"] = std::move(k);
  std::vector<output_file> out;
  for (auto& [path, text] : files_) out.push_back({path, std::move(text)});
  return out;
}

}  // namespace

std::optional<std::vector<output_file>> inject(const std::vector<config::source_file>& sources,
                                               const inject_options& options,
                                               config::diagnostics& diag) {
  const auto loaded = config::load_mesh(sources, diag);
  if (!loaded.snapshot || diag.has_errors()) return std::nullopt;
  builder b(*loaded.snapshot, options, diag);
  for (const auto& source : sources) {
    config::diagnostics again;  // load_mesh reported these documents' problems
    for (const auto& doc : config::split_documents(source, again)) b.add_document(doc);
  }
  b.add_lane_services();
  b.add_gateways();
  b.add_mesh_maps(sources);
  if (diag.has_errors()) return std::nullopt;
  return b.finish();
}

std::string as_stream(const std::vector<output_file>& files) {
  std::string out;
  for (const auto& f : files) {
    if (f.path == "kustomization.yaml") continue;
    out += "---\n# " + f.path + "\n" + f.text;
  }
  return out;
}

}  // namespace laneproxy::inject
