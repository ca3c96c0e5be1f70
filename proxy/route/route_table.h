// Route lookup for one listener: virtual hosts by domain, then the first
// rule whose matches accept the request (Envoy's and Istio's semantics).
//
// Domain precedence: an exact host, then the longest `*.suffix`, then `*`.
// The rules of every VirtualService naming a domain share that domain's
// virtual host, in configuration order. Immutable after construction and
// safe to share across threads; it points into the rules it was built from,
// which must outlive it (both live in one published snapshot).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/mesh_snapshot.h"
#include "route/request_view.h"

namespace laneproxy::route {

// True when every condition of `m` holds for `req`.
bool match_accepts(const config::route_match& m, const request_view& req);
// True when `rule` has no matches or any of them accepts `req`.
bool rule_accepts(const config::route_rule& rule, const request_view& req);

class route_table {
 public:
  explicit route_table(const std::vector<config::route_rule>& rules);

  // The first accepting rule of the request's virtual host; nullptr when
  // none (the caller answers 404, response flag NR).
  const config::route_rule* match(const request_view& req) const;

  std::size_t virtual_hosts() const { return exact_.size() + suffix_.size() + 1; }

 private:
  using rule_list = std::vector<const config::route_rule*>;
  // Lets the domain map be searched with a string_view: no allocation per request.
  struct domain_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  const rule_list* find_virtual_host(std::string_view authority) const;

  std::unordered_map<std::string, rule_list, domain_hash, std::equal_to<>> exact_;  // lower case
  std::vector<std::pair<std::string, rule_list>> suffix_;  // ".suffix", longest first
  rule_list any_;
  bool has_any_ = false;
};

}  // namespace laneproxy::route
