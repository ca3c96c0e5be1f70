#include "dataplane/cors.h"

#include <algorithm>

namespace laneproxy::dataplane {

namespace {
std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ',';
    out += i;
  }
  return out;
}
}  // namespace

cors_result apply_cors(const config::route_rule& rule, std::string_view method,
                       std::string_view origin, std::string_view requested_method) {
  cors_result r;
  if (!rule.actions.cors || origin.empty()) return r;
  const auto& cors = *rule.actions.cors;
  const bool allowed =
      std::any_of(rule.cors_origins.begin(), rule.cors_origins.end(),
                  [&](const config::string_matcher& m) { return m.matches(origin); });
  const bool preflight = method == "OPTIONS" && !requested_method.empty();
  if (preflight && !allowed) {
    r.action = cors.ignore_unmatched_preflights ? cors_action::answer : cors_action::forward;
    return r;
  }
  r.action = preflight ? cors_action::answer : cors_action::forward;
  if (!allowed) return r;
  r.headers.emplace_back("access-control-allow-origin", std::string(origin));
  if (cors.allow_credentials) r.headers.emplace_back("access-control-allow-credentials", "true");
  if (preflight) {
    if (!cors.allow_methods.empty()) {
      r.headers.emplace_back("access-control-allow-methods", joined(cors.allow_methods));
    }
    if (!cors.allow_headers.empty()) {
      r.headers.emplace_back("access-control-allow-headers", joined(cors.allow_headers));
    }
    if (cors.max_age) {
      r.headers.emplace_back("access-control-max-age", std::to_string(cors.max_age->count()));
    }
  } else if (!cors.expose_headers.empty()) {
    r.headers.emplace_back("access-control-expose-headers", joined(cors.expose_headers));
  }
  return r;
}

}  // namespace laneproxy::dataplane
