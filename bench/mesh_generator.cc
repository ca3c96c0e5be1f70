#include "mesh_generator.h"

namespace laneproxy::bench {

namespace {

std::string shared_part(int services, int lanes) {
  std::string out =
      "apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata:\n  name: ingressgateway\n"
      "  namespace: istio-system\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n"
      "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
  out +=
      "---\napiVersion: istio.alibabacloud.com/v1\nkind: ASMSwimLaneGroup\nmetadata:\n  name: "
      "bench\n"
      "spec:\n  ingress:\n    gateway: {name: ingressgateway, namespace: istio-system, type: ASM}\n"
      "  services:\n";
  for (int s = 0; s < services; ++s) {
    out += "  - {name: svc" + std::to_string(s) + ", namespace: default}\n";
  }
  for (int l = 0; l < lanes; ++l) {
    const std::string v = "v" + std::to_string(l + 1);
    out +=
        "---\napiVersion: istio.alibabacloud.com/v1\nkind: ASMSwimLane\nmetadata:\n  name: " + v +
        "\n  labels: {swimlane-group: bench}\nspec:\n  labelSelector: {version: " + v + "}\n";
  }
  return out;
}

std::string service_part(int s, int lanes, int weight_shift) {
  const std::string name = "svc" + std::to_string(s);
  std::string out = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
                    "\nspec:\n  selector: {app: " + name +
                    "}\n  ports:\n  - {name: http, port: 8000}\n";
  for (int l = 0; l < lanes; ++l) {
    const std::string v = "v" + std::to_string(l + 1);
    out += "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "-" + v +
           "\nspec:\n  selector:\n    matchLabels: {app: " + name + ", version: " + v +
           "}\n  template:\n    metadata:\n      labels: {app: " + name + ", version: " + v +
           "}\n    spec:\n      containers:\n      - name: app\n        image: app\n"
           "        env:\n        - {name: app, value: " +
           name + "}\n        - {name: version, value: " + v +
           "}\n        ports:\n        - containerPort: 8000\n";
  }
  out += "---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: " +
         name + "\n  namespace: istio-system\nspec:\n  gateways: [ingressgateway]\n  hosts: [\"" +
         name + ".example.com\"]\n  http:\n  - match:\n    - uri: {prefix: /" + name +
         "}\n    route:\n";
  for (int l = 0; l < lanes; ++l) {
    int weight = l == 0 ? 100 - 10 * (lanes - 1) : 10;
    if (l == 0) weight -= weight_shift;
    if (l == 1) weight += weight_shift;
    out += "    - destination: {host: " + name + ".default.svc.cluster.local, subset: v" +
           std::to_string(l + 1) + "}\n      weight: " + std::to_string(weight) + "\n";
  }
  return out;
}

}  // namespace

std::string generate_mesh(int services, int lanes) {
  std::string out = shared_part(services, lanes);
  out.reserve(static_cast<std::size_t>(services) * (900 + 700 * lanes));
  for (int s = 0; s < services; ++s) out += service_part(s, lanes, 0);
  return out;
}

std::vector<std::pair<std::string, std::string>> generate_mesh_files(int services, int lanes,
                                                                     int weight_shift) {
  std::vector<std::pair<std::string, std::string>> files = {
      {"mesh.yaml", shared_part(services, lanes)}};
  for (int s = 0; s < services; ++s) {
    files.emplace_back("svc" + std::to_string(s) + ".yaml",
                       service_part(s, lanes, weight_shift).substr(4));  // no leading "---\n"
  }
  return files;
}

}  // namespace laneproxy::bench
