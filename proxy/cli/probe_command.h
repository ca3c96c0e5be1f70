// `laneproxy probe URL`: a health check through the binary itself, for
// container images that carry no curl.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace laneproxy::cli {

// URL is http://IP:PORT/PATH (healthy: a 2xx answer to GET) or tcp://IP:PORT
// (healthy: the port accepts). --timeout SECONDS (default 2) bounds it.
// Prints one line; returns 0 healthy, 1 unhealthy, 2 on bad usage.
int probe_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace laneproxy::cli
