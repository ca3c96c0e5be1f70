// `laneproxy run --config FILE [--concurrency N]`: one proxy process.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace laneproxy::cli {

// Runs until SIGINT or SIGTERM. Prints one line per listener,
// "laneproxy: ROLE listening on IP:PORT", then "laneproxy: ready" (tests and
// scripts wait for it). Exit status: 0 after a clean stop, 1 when the
// bootstrap or mesh is invalid or a listener cannot bind, 2 on usage errors.
int run_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace laneproxy::cli
