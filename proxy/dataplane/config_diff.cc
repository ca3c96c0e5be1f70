#include "dataplane/config_diff.h"

#include <map>
#include <set>
#include <vector>

namespace laneproxy::dataplane {

namespace {

// Each weighted rule the process serves, as "subset weight ..." by rule name.
std::map<std::string, std::string> weights_of(const proxy_config& c) {
  std::map<std::string, std::string> out;
  const auto add = [&](const std::vector<config::route_rule>& rules) {
    for (const auto& r : rules) {
      if (r.targets.size() < 2) continue;
      std::string w;
      for (const auto& t : r.targets) {
        if (!w.empty()) w += " ";
        w += (t.subset.empty() ? t.service : t.subset) + " " + std::to_string(t.weight);
      }
      out[r.name] = w;
    }
  };
  for (const auto& [key, gw] : c.mesh().gateways) add(gw.rules);
  for (const auto& [key, rules] : c.mesh().mesh_routes) add(rules);
  return out;
}

std::size_t route_count(const proxy_config& c) {
  std::size_t n = 0;
  for (const auto& [key, gw] : c.mesh().gateways) n += gw.rules.size();
  for (const auto& [key, rules] : c.mesh().mesh_routes) n += rules.size();
  return n;
}

std::set<std::string> lanes_of(const proxy_config& c) {
  std::set<std::string> out;
  for (const auto& [name, lane] : c.mesh().lanes) out.insert(name);
  return out;
}

template <class Set>
std::string set_delta(const Set& before, const Set& after, bool names) {
  std::string plus, minus;
  std::size_t added = 0, removed = 0;
  for (const auto& x : after) {
    if (!before.contains(x)) {
      ++added;
      if (names) plus += " +" + x;
    }
  }
  for (const auto& x : before) {
    if (!after.contains(x)) {
      ++removed;
      if (names) minus += " -" + x;
    }
  }
  if (names) return plus + minus;
  return added + removed == 0 ? "" : " +" + std::to_string(added) + " -" + std::to_string(removed);
}

}  // namespace

std::string describe_changes(const proxy_config* before, const proxy_config& after) {
  std::string out = "routes " + std::to_string(route_count(after));
  const auto w_after = weights_of(after);
  const auto w_before = before ? weights_of(*before) : std::map<std::string, std::string>{};
  for (const auto& [rule, w] : w_after) {
    const auto it = w_before.find(rule);
    if (it == w_before.end()) {
      out += "; weights " + rule + ": " + w;
    } else if (it->second != w) {
      out += "; weights " + rule + ": " + it->second + " -> " + w;
    }
  }
  const auto lanes =
      set_delta(before ? lanes_of(*before) : std::set<std::string>{}, lanes_of(after), true);
  if (!lanes.empty()) out += "; lanes" + lanes;
  const auto endpoints = set_delta(before ? before->endpoint_texts() : std::set<std::string>{},
                                   after.endpoint_texts(), false);
  if (!endpoints.empty()) out += "; endpoints" + endpoints;
  return out;
}

}  // namespace laneproxy::dataplane
