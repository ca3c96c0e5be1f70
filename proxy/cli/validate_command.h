// `laneproxy validate PATH...`: check mesh YAML the way the proxy loads it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace laneproxy::cli {

// Prints every diagnostic ("FILE:LINE:COL: error: MESSAGE"), then one summary
// line, to `out`; usage problems go to `err`.
// Returns 0 when valid (warnings allowed), 1 when invalid, 2 on bad usage.
int validate_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace laneproxy::cli
