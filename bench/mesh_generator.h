// Generated meshes for benchmarks: `services` Services, each with one
// Deployment per lane, one lane group holding every service, and a gateway
// VirtualService per service splitting its traffic across the lanes.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace laneproxy::bench {

std::string generate_mesh(int services, int lanes);

// The same mesh as a GitOps folder holds it: "mesh.yaml" (the Gateway, the
// lane group and the lanes) and one "svcN.yaml" per service (its Service,
// Deployments and VirtualService). `weight_shift` moves that much weight
// from the first lane to the second in every route.
std::vector<std::pair<std::string, std::string>> generate_mesh_files(int services, int lanes,
                                                                     int weight_shift = 0);

}  // namespace laneproxy::bench
