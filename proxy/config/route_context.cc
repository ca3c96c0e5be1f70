// Where a rule's matches apply: a match's `gateways`, `sourceLabels` and
// `sourceNamespace`, decided when a listener's table is built.
#include <algorithm>

#include "config/mesh_snapshot.h"

namespace laneproxy::config {

namespace {
bool has_source_conditions(const route_match& m) {
  return !m.source_labels.empty() || !m.source_namespace.empty();
}

template <class Keep>
std::optional<route_rule> keep_matches(const route_rule& rule, Keep keep) {
  if (rule.matches.empty()) return rule;
  route_rule out = rule;
  out.matches.clear();
  for (const auto& m : rule.matches) {
    if (keep(m)) out.matches.push_back(m);
  }
  if (out.matches.empty()) return std::nullopt;
  return out;
}
}  // namespace

std::optional<route_rule> rule_for_context(const route_rule& rule, std::string_view context) {
  const bool at_gateway = context != "mesh";
  return keep_matches(rule, [&](const route_match& m) {
    if (!m.gateways.empty() &&
        std::find(m.gateways.begin(), m.gateways.end(), context) == m.gateways.end()) {
      return false;
    }
    return !(at_gateway && has_source_conditions(m));
  });
}

std::vector<route_rule> rules_for_sidecar(const std::vector<route_rule>& rules,
                                          const label_map& labels, std::string_view ns) {
  std::vector<route_rule> out;
  for (const auto& rule : rules) {
    auto kept = keep_matches(rule, [&](const route_match& m) {
      return selects(m.source_labels, labels) &&
             (m.source_namespace.empty() || m.source_namespace == ns);
    });
    if (kept) out.push_back(std::move(*kept));
  }
  return out;
}

}  // namespace laneproxy::config
