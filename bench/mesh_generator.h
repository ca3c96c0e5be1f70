// Generated meshes for benchmarks: `services` Services, each with one
// Deployment per lane, one lane group holding every service, and a gateway
// VirtualService per service splitting its traffic across the lanes.
#pragma once

#include <string>

namespace laneproxy::bench {

std::string generate_mesh(int services, int lanes);

}  // namespace laneproxy::bench
