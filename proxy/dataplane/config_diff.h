// What a reload changed, in one line for the log: routes, weights, lanes,
// endpoints. Compares two proxy_configs; no I/O.
#pragma once

#include <string>

#include "dataplane/proxy_config.h"

namespace laneproxy::dataplane {

// "routes 3; weights mock: v1 50 v2 50 -> v1 60 v2 30 v3 10; lanes +v3;
// endpoints +3 -0", or "no change to routes, lanes or endpoints". `before`
// may be null (the first load).
std::string describe_changes(const proxy_config* before, const proxy_config& after);

}  // namespace laneproxy::dataplane
