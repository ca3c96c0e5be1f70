// Route lookup for one listener: virtual hosts by domain, then the first
// rule whose matches accept the request (Envoy's and Istio's semantics).
//
// Domain precedence: an exact host, then the longest `*.suffix`, then `*`.
// The rules of every VirtualService naming a domain share that domain's
// virtual host, in configuration order. Immutable after construction and
// safe to share across threads; it points into the rules it was built from,
// which must outlive it (both live in one published snapshot).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
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
  // Movable, not copyable: the slots point into the table's own storage.
  route_table(route_table&&) = default;
  route_table& operator=(route_table&&) = default;
  route_table(const route_table&) = delete;
  route_table& operator=(const route_table&) = delete;

  // The first accepting rule of the request's virtual host; nullptr when
  // none (the caller answers 404, response flag NR).
  const config::route_rule* match(const request_view& req) const;

  std::size_t virtual_hosts() const { return hosts_.size() + suffix_.size() + 1; }

 private:
  using rule_list = std::vector<const config::route_rule*>;
  const rule_list* find_virtual_host(std::string_view authority) const;
  const rule_list* find_exact(std::string_view host) const;

  // Exact domains (lower case) in an open-addressing table at most half
  // full: a lookup reads one slot (hash, key, rules) and the key's bytes,
  // where a node-based map chases a bucket, a node and then the key.
  struct host_slot {
    std::uint64_t hash = 0;
    std::string_view host;
    const rule_list* rules = nullptr;  // nullptr: empty slot
  };
  std::vector<std::string> hosts_;
  std::vector<rule_list> host_rules_;                      // parallel to hosts_
  std::vector<host_slot> slots_;                           // a power of two in size
  std::vector<std::pair<std::string, rule_list>> suffix_;  // ".suffix", longest first
  rule_list any_;
  bool has_any_ = false;
};

}  // namespace laneproxy::route
