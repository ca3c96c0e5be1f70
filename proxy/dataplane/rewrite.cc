#include "dataplane/rewrite.h"

#include "route/route_table.h"

namespace laneproxy::dataplane {

namespace {
// The prefix of the first of the rule's matches that accepts the request,
// when that match is on a uri prefix.
std::optional<std::string_view> matched_prefix(const config::route_rule& rule,
                                               const route::request_view& req) {
  for (const auto& m : rule.matches) {
    if (!route::match_accepts(m, req)) continue;
    if (m.uri && m.uri->spec().type == config::string_match::kind::prefix) {
      return m.uri->spec().value;
    }
    return std::nullopt;
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> rewritten_target(const config::route_rule& rule,
                                            const route::request_view& req) {
  if (!rule.actions.rewrite) return std::nullopt;
  const auto& rw = *rule.actions.rewrite;
  const std::string_view path = req.path();
  std::string out;
  if (!rw.uri.empty()) {
    const auto prefix = matched_prefix(rule, req);
    out = rw.uri;
    if (prefix && prefix->size() <= path.size()) out += path.substr(prefix->size());
  } else if (rule.uri_regex_rewrite && rule.uri_regex_rewrite->ok()) {
    out = std::string(path);
    RE2::GlobalReplace(&out, *rule.uri_regex_rewrite, rw.regex_substitution);
  } else {
    return std::nullopt;
  }
  if (const auto query = req.query(); !query.empty()) {
    out += '?';
    out += query;
  }
  return out;
}

}  // namespace laneproxy::dataplane
