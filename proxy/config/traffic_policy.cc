#include "config/traffic_policy.h"

namespace laneproxy::config {

namespace {

// A port-level entry stands alone: what it leaves unset is the default,
// not the level above.
void apply_port(const policy_with_ports& level, std::uint32_t port, traffic_policy& out) {
  if (port == 0) return;
  for (const auto& p : level.ports) {
    if (p.port == port) {
      out = p.policy;
      return;
    }
  }
}

}  // namespace

traffic_policy resolve_policy(const policy_with_ports& top, const policy_with_ports* subset,
                              std::uint32_t port) {
  traffic_policy out = top.policy;
  apply_port(top, port, out);
  if (!subset) return out;
  const auto& s = subset->policy;
  if (s.load_balancer) out.load_balancer = s.load_balancer;
  if (s.connection_pool) out.connection_pool = s.connection_pool;
  if (s.outlier) out.outlier = s.outlier;
  apply_port(*subset, port, out);
  return out;
}

}  // namespace laneproxy::config
