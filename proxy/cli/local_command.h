// `laneproxy local DIR [--port N] [--admin-port M] [...]`: a mesh folder's
// lanes on this machine (see local/supervisor.h).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace laneproxy::cli {

int local_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace laneproxy::cli
