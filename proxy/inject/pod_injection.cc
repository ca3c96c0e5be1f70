#include "inject/pod_injection.h"

#include <initializer_list>
#include <string_view>

#include "inject/yaml_out.h"

namespace laneproxy::inject {

namespace {

constexpr std::string_view mesh_volume = "laneproxy-mesh", bootstrap_volume = "laneproxy-bootstrap",
                           podinfo_volume = "laneproxy-podinfo";
constexpr std::string_view mesh_dir = "/etc/laneproxy/mesh",
                           bootstrap_dir = "/etc/laneproxy/bootstrap",
                           podinfo_dir = "/etc/laneproxy/pod";

std::string port_text(std::uint16_t port) {
  return std::to_string(port);
}

// The endpointNames block every bootstrap ends with: a trailing dot, so a
// pod's resolver asks for the name itself and not its search domains first.
std::string endpoint_names_yaml(const inject_options& o) {
  std::string suffix = ".{namespace}.svc.";
  suffix += o.cluster_domain;
  suffix += ".:";
  suffix += port_text(inbound_port);
  std::string out = "endpointNames:\n  subset: \"";
  out += lane_service_name("{service}", "{subset}");
  out += suffix;
  out += "\"\n  service: \"";
  out += endpoints_service_name("{service}");
  out += suffix;
  out += "\"\n";
  return out;
}

std::string common_head(const std::string& what) {
  std::string out = "# ";
  out += what;
  out +=
      " (laneproxy inject). Endpoints are named after the mesh:\n"
      "# each lane's pods are its headless Service, found by DNS.\n"
      "mesh: ";
  out += mesh_dir;
  out += "\nadmin: 127.0.0.1:" + port_text(admin_port);
  out += "\nhealth: 0.0.0.0:" + port_text(health_port);
  out += "\nstats: 0.0.0.0:" + port_text(stats_port);
  out += "\n";
  return out;
}

YAML::Node mount(std::string_view volume, std::string_view path) {
  YAML::Node m;
  m["name"] = std::string(volume);
  m["mountPath"] = std::string(path);
  m["readOnly"] = true;
  return m;
}

YAML::Node ready_probe(int period, int failures) {
  YAML::Node p;
  p["httpGet"]["path"] = "/healthz/ready";
  p["httpGet"]["port"] = static_cast<int>(health_port);
  p["periodSeconds"] = period;
  p["failureThreshold"] = failures;
  return p;
}

YAML::Node container_port(std::string_view name, std::uint16_t port) {
  YAML::Node p;
  p["name"] = std::string(name);
  p["containerPort"] = static_cast<int>(port);
  return p;
}

YAML::Node resources(std::string_view cpu, std::string_view memory, std::string_view cpu_limit,
                     std::string_view memory_limit) {
  YAML::Node r;
  r["requests"]["cpu"] = std::string(cpu);
  r["requests"]["memory"] = std::string(memory);
  r["limits"]["cpu"] = quoted_scalar(cpu_limit);
  r["limits"]["memory"] = std::string(memory_limit);
  return r;
}

YAML::Node container_head(std::string_view name, const inject_options& o) {
  YAML::Node c;
  c["name"] = std::string(name);
  c["image"] = o.image;
  c["imagePullPolicy"] = o.pull_policy;
  return c;
}

// A container as `uid`, with no privilege to gain, nothing writable and no
// capability but those `added`.
YAML::Node security_context(std::uint32_t uid, std::initializer_list<const char*> added) {
  YAML::Node sc;
  sc["runAsUser"] = uid;
  sc["runAsGroup"] = uid;
  sc["runAsNonRoot"] = uid != 0;
  sc["allowPrivilegeEscalation"] = false;
  sc["readOnlyRootFilesystem"] = true;
  for (const char* cap : added) sc["capabilities"]["add"].push_back(cap);
  sc["capabilities"]["drop"].push_back("ALL");
  return sc;
}

// laneproxy itself, as Istio runs its proxy: uid 1337 (the capture rules
// let its own traffic pass), nothing writable, no capability.
YAML::Node proxy_container(const inject_options& o) {
  auto c = container_head("laneproxy", o);
  c["args"].push_back("run");
  c["args"].push_back("--config");
  c["args"].push_back(std::string(bootstrap_dir) + "/bootstrap.yaml");
  c["ports"].push_back(container_port("http-envoy-prom", stats_port));
  c["ports"].push_back(container_port("health", health_port));
  c["startupProbe"] = ready_probe(1, 600);
  c["readinessProbe"] = ready_probe(5, 3);
  c["resources"] = resources("100m", "128Mi", "2", "1Gi");
  c["securityContext"] = security_context(proxy_uid, {});
  c["volumeMounts"].push_back(mount(mesh_volume, mesh_dir));
  c["volumeMounts"].push_back(mount(bootstrap_volume, bootstrap_dir));
  return c;
}

// istio-init's part: root with NET_ADMIN for the NAT rules, the pod's
// annotations (traffic.sidecar.istio.io/*) read through the downward API.
YAML::Node capture_container(const inject_options& o) {
  auto c = container_head("laneproxy-capture", o);
  for (const char* a : {"capture", "install", "--annotations"}) c["args"].push_back(a);
  c["args"].push_back(std::string(podinfo_dir) + "/annotations");
  c["resources"] = resources("10m", "16Mi", "100m", "64Mi");
  c["securityContext"] = security_context(0, {"NET_ADMIN", "NET_RAW"});
  c["volumeMounts"].push_back(mount(podinfo_volume, podinfo_dir));
  return c;
}

YAML::Node config_map_volume(std::string_view name, const std::string& map) {
  YAML::Node v;
  v["name"] = std::string(name);
  v["configMap"]["name"] = map;
  return v;
}

YAML::Node podinfo_volume_node() {
  YAML::Node v;
  v["name"] = std::string(podinfo_volume);
  YAML::Node item;
  item["path"] = "annotations";
  item["fieldRef"]["fieldPath"] = "metadata.annotations";
  v["downwardAPI"]["items"].push_back(item);
  return v;
}

bool has_named(const YAML::Node& list, std::string_view name) {
  if (!list || !list.IsSequence()) return false;
  for (const auto& item : list) {
    if (item.IsMap() && item["name"] && item["name"].Scalar() == name) return true;
  }
  return false;
}

// Prometheus finds the proxy as it finds Istio's (the annotations Istio's
// injector sets); an app's own scrape annotations are left as they are.
void add_scrape_annotations(YAML::Node metadata) {
  auto annotations = metadata["annotations"];
  if (annotations["prometheus.io/scrape"] || annotations["prometheus.io/port"]) return;
  annotations["prometheus.io/scrape"] = quoted_scalar("true");
  annotations["prometheus.io/port"] = quoted_scalar(port_text(stats_port));
  annotations["prometheus.io/path"] = "/stats/prometheus";
}

// Without capture, an app reaches the mesh only through HTTP_PROXY: the
// sidecar's outbound listener routes by Host. An app that sets its own
// HTTP_PROXY keeps it.
void send_calls_through_the_proxy(YAML::Node container) {
  for (const auto& e : container["env"]) {
    if (e["name"] && e["name"].as<std::string>("") == "HTTP_PROXY") return;
  }
  YAML::Node e;
  e["name"] = "HTTP_PROXY";
  e["value"] = "http://127.0.0.1:" + port_text(outbound_port);
  container["env"].push_back(e);
}

}  // namespace

std::string lane_service_name(const std::string& service, const std::string& subset) {
  return service + "-" + subset;
}

std::string endpoints_service_name(const std::string& service) {
  return service + "-endpoints";
}

std::string sidecar_bootstrap(const config::workload_info& w, std::uint16_t app_port,
                              const inject_options& o) {
  std::string out = common_head("The sidecar of " + w.name);
  out += "sidecar:\n  workload: " + w.name + "\n  namespace: " + w.ns;
  out += "\n  inbound: 0.0.0.0:" + port_text(inbound_port);
  out += "\n  app: 127.0.0.1:" + port_text(app_port);
  out += "\n  outbound: 127.0.0.1:" + port_text(outbound_port) + "\n";
  return out + endpoint_names_yaml(o);
}

std::string gateway_bootstrap(const std::string& gateway, std::uint16_t listen_port,
                              const inject_options& o) {
  std::string out = common_head("The gateway " + gateway);
  out += "gateway:\n  name: " + gateway + "\n  listen: 0.0.0.0:" + port_text(listen_port) + "\n";
  return out + endpoint_names_yaml(o);
}

std::string inject_pod(YAML::Node pod_template, const std::string& bootstrap_map,
                       const inject_options& o) {
  if (!pod_template.IsMap() || !pod_template["spec"].IsMap()) {
    return "spec.template.spec must be a mapping";
  }
  auto spec = pod_template["spec"];
  for (const char* list : {"containers", "initContainers"}) {
    for (const char* name : {"laneproxy", "laneproxy-capture"}) {
      if (has_named(spec[list], name)) {
        return std::string("spec.template.spec.") + list + " already has a container \"" + name +
               "\" (is this output of laneproxy inject?)";
      }
    }
  }
  for (const auto name : {mesh_volume, bootstrap_volume, podinfo_volume}) {
    if (has_named(spec["volumes"], name)) {
      return "spec.template.spec.volumes already has a volume \"" + std::string(name) + "\"";
    }
  }
  // The capture runs first, then the proxy starts, then the user's own init
  // containers and the app: every one of them already has the mesh.
  YAML::Node init;
  if (o.capture) init.push_back(capture_container(o));
  init.push_back(proxy_container(o));
  init[init.size() - 1]["restartPolicy"] = "Always";
  if (spec["initContainers"]) {
    for (const auto& c : spec["initContainers"]) init.push_back(c);
  }
  spec["initContainers"] = init;
  spec["volumes"].push_back(config_map_volume(mesh_volume, std::string(mesh_volume)));
  spec["volumes"].push_back(config_map_volume(bootstrap_volume, bootstrap_map));
  if (o.capture) {
    spec["volumes"].push_back(podinfo_volume_node());
  } else {
    for (auto c : spec["containers"]) send_calls_through_the_proxy(c);
  }
  add_scrape_annotations(pod_template["metadata"]);
  return "";
}

YAML::Node gateway_pod_template(const std::string& bootstrap_map, std::uint16_t listen_port,
                                const YAML::Node& labels, const inject_options& o) {
  YAML::Node pod;
  pod["metadata"]["labels"] = YAML::Clone(labels);
  add_scrape_annotations(pod["metadata"]);
  auto spec = pod["spec"];
  auto proxy = proxy_container(o);
  YAML::Node ports;
  ports.push_back(container_port("http", listen_port));
  for (const auto& p : proxy["ports"]) ports.push_back(p);
  proxy["ports"] = ports;
  spec["containers"].push_back(proxy);
  spec["volumes"].push_back(config_map_volume(mesh_volume, std::string(mesh_volume)));
  spec["volumes"].push_back(config_map_volume(bootstrap_volume, bootstrap_map));
  return pod;
}

}  // namespace laneproxy::inject
