// `laneproxy capture install|remove`: transparent capture in the current
// network namespace (a pod's, from an init container with NET_ADMIN), the
// part Istio's istio-init plays. See capture_rules.h for the rules.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace laneproxy::cli {

// install replaces any rules of an earlier install; remove takes them out.
// --dry-run prints the iptables-restore input instead. Returns 0 on
// success, 1 when iptables failed, 2 on bad usage.
int capture_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace laneproxy::cli
