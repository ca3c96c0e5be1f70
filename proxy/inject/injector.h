// `laneproxy inject`: a GitOps folder of mesh YAML (the guide's Deployments,
// Services, Istio and ASM resources) turned into what a cluster without a
// mesh runs, as `istioctl kube-inject` does for Istio:
//   - each Deployment with laneproxy as a native sidecar and the capture
//     init container (pod_injection.h), and its bootstrap as a ConfigMap;
//   - one headless Service per service and lane (the Service's selector
//     plus the lane's labels), through which sidecars find a lane's pods;
//   - a laneproxy Deployment and Service per Istio Gateway;
//   - the mesh files as the laneproxy-mesh ConfigMap in each namespace
//     that runs a proxy (Istio and ASM resources go nowhere else);
//   - other Kubernetes objects unchanged, and a kustomization.yaml.
// Pure: text in, files out, the same files for the same input.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/source_loader.h"
#include "inject/pod_injection.h"

namespace laneproxy::inject {

struct output_file {
  std::string path;  // relative: "default/mocka-v1.deployment.yaml"
  std::string text;
};

// The files, sorted by path. nullopt when the mesh has errors or an object
// cannot be injected (every problem in `diag`, with file, line and field).
std::optional<std::vector<output_file>> inject(const std::vector<config::source_file>& sources,
                                               const inject_options& options,
                                               config::diagnostics& diag);

// Every object of `files` as one multi-document stream, kustomization.yaml
// left out: what an Argo CD plugin prints.
std::string as_stream(const std::vector<output_file>& files);

}  // namespace laneproxy::inject
