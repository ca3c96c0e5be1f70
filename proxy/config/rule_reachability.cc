#include "config/rule_reachability.h"

#include <algorithm>

namespace laneproxy::config {

namespace {

bool same_conditions(const http_match& a, const http_match& b) {
  return a.uri == b.uri && a.scheme == b.scheme && a.method == b.method &&
         a.authority == b.authority && a.headers == b.headers && a.query_params == b.query_params &&
         a.without_headers == b.without_headers && a.ignore_uri_case == b.ignore_uri_case &&
         a.port == b.port && a.source_labels == b.source_labels &&
         a.source_namespace == b.source_namespace && a.gateways == b.gateways;
}

}  // namespace

// Istio's analyzer: a rule after a catch-all, or whose every match an
// earlier rule already has, never sees a request.
void check_reachability(const virtual_service& vs, diagnostics& diag) {
  for (std::size_t i = 0; i < vs.http.size(); ++i) {
    const auto& rule = vs.http[i];
    const auto earlier_end = vs.http.begin() + static_cast<std::ptrdiff_t>(i);
    const auto catch_all = std::find_if(vs.http.begin(), earlier_end, [](const http_route& r) {
      return r.match.empty() && !r.delegate;
    });
    if (catch_all != earlier_end) {
      diag.warning(rule.where, rule.path,
                   "rule is unreachable: " + catch_all->path +
                       " before it has no match and takes every request [IST0130]");
      continue;
    }
    // For each match, the earlier rule that already has the same one.
    std::vector<const http_route*> shadowed_by(rule.match.size(), nullptr);
    std::size_t shadowed = 0;
    for (std::size_t k = 0; k < rule.match.size(); ++k) {
      const auto it = std::find_if(vs.http.begin(), earlier_end, [&](const http_route& r) {
        return std::any_of(r.match.begin(), r.match.end(),
                           [&](const http_match& e) { return same_conditions(e, rule.match[k]); });
      });
      if (it != earlier_end) {
        shadowed_by[k] = &*it;
        ++shadowed;
      }
    }
    if (shadowed > 0 && shadowed == rule.match.size()) {
      diag.warning(rule.where, rule.path,
                   "rule is unreachable: " + shadowed_by[0]->path +
                       (shadowed == 1 ? " has the same match" : " and others have its matches") +
                       " [IST0130]");
      continue;
    }
    for (std::size_t k = 0; k < rule.match.size(); ++k) {
      if (!shadowed_by[k]) continue;
      diag.warning(
          rule.match[k].where, rule.path + ".match[" + std::to_string(k) + "]",
          "match is never used: " + shadowed_by[k]->path + " has the same match [IST0131]");
    }
  }
}

}  // namespace laneproxy::config
