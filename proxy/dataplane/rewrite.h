// A VirtualService `rewrite`'s path, as Envoy applies it under Istio. Pure.
#pragma once

#include <optional>
#include <string>

#include "config/mesh_snapshot.h"
#include "route/request_view.h"

namespace laneproxy::dataplane {

// The request target (path and query) after `rule`'s rewrite, or nullopt
// when the rule rewrites no path. `uri` replaces the matched prefix when the
// request matched the rule through a `uri: {prefix: ...}` match, and the
// whole path otherwise; `uriRegexRewrite` replaces every match of its regex
// in the path (RE2, `\1` for a group). The query is kept either way.
// Precondition: `rule` accepts `req`.
std::optional<std::string> rewritten_target(const config::route_rule& rule,
                                            const route::request_view& req);

}  // namespace laneproxy::dataplane
