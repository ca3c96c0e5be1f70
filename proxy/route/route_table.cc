#include "route/route_table.h"

#include <algorithm>
#include <functional>
#include <map>

#include "config/ascii.h"

namespace laneproxy::route {

namespace {

// Finds `name` in a query string ("a=1&b=2"); a name without "=" has value "".
std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool header_accepts(const config::header_condition& c, const request_view& req) {
  const auto value = req.header(c.name);
  bool holds;
  if (!c.matcher) {
    holds = value.has_value();
  } else if (c.absent) {
    // withoutHeaders: a missing header counts as "".
    holds = c.matcher->matches(value.value_or(std::string_view{}));
  } else {
    holds = value && c.matcher->matches(*value);
  }
  return c.absent ? !holds : holds;
}

}  // namespace

bool match_accepts(const config::route_match& m, const request_view& req) {
  if (m.port != 0 && m.port != req.port) return false;
  if (m.uri && !m.uri->matches(req.path())) return false;
  if (m.method && !m.method->matches(req.method)) return false;
  if (m.authority && !m.authority->matches(req.authority)) return false;
  if (m.scheme && !m.scheme->matches(req.scheme)) return false;
  for (const auto& h : m.headers) {
    if (!header_accepts(h, req)) return false;
  }
  for (const auto& q : m.query) {
    const auto value = query_param(req.query(), q.name);
    if (!value || (q.matcher && !q.matcher->matches(*value))) return false;
  }
  return true;
}

bool rule_accepts(const config::route_rule& rule, const request_view& req) {
  if (rule.matches.empty()) return true;
  return std::any_of(rule.matches.begin(), rule.matches.end(),
                     [&](const config::route_match& m) { return match_accepts(m, req); });
}

route_table::route_table(const std::vector<config::route_rule>& rules) {
  std::map<std::string, rule_list> exact;
  for (const auto& rule : rules) {
    for (const auto& host : rule.hosts) {
      if (host == "*") {
        any_.push_back(&rule);
        has_any_ = true;
      } else if (host.size() > 1 && host[0] == '*') {
        const std::string suffix = config::ascii_lower(host.substr(1));  // ".example.com"
        auto it = std::find_if(suffix_.begin(), suffix_.end(),
                               [&](const auto& e) { return e.first == suffix; });
        if (it == suffix_.end()) it = suffix_.insert(suffix_.end(), {suffix, {}});
        it->second.push_back(&rule);
      } else {
        exact[config::ascii_lower(host)].push_back(&rule);
      }
    }
  }
  std::stable_sort(suffix_.begin(), suffix_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });

  hosts_.reserve(exact.size());
  host_rules_.reserve(exact.size());
  for (auto& [host, list] : exact) {
    hosts_.push_back(host);
    host_rules_.push_back(std::move(list));
  }
  if (hosts_.empty()) return;
  std::size_t size = 2;
  while (size < 2 * hosts_.size()) size *= 2;
  slots_.resize(size);
  for (std::size_t k = 0; k < hosts_.size(); ++k) {
    const std::uint64_t h = std::hash<std::string_view>{}(hosts_[k]);
    std::size_t i = h & (size - 1);
    while (slots_[i].rules) i = (i + 1) & (size - 1);
    slots_[i] = {h, hosts_[k], &host_rules_[k]};
  }
}

const route_table::rule_list* route_table::find_exact(std::string_view host) const {
  if (slots_.empty()) return nullptr;
  const std::uint64_t h = std::hash<std::string_view>{}(host);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const auto& s = slots_[i];
    if (!s.rules) return nullptr;  // at most half full: an empty slot always comes
    if (s.hash == h && s.host == host) return s.rules;
  }
}

const route_table::rule_list* route_table::find_virtual_host(std::string_view authority) const {
  const std::string_view raw = split_authority(authority).host;
  // DNS names are at most 253 characters: longer ones can only hit "*".
  char buf[256];
  if (raw.size() > sizeof buf) return has_any_ ? &any_ : nullptr;
  for (std::size_t i = 0; i < raw.size(); ++i) buf[i] = config::ascii_lower(raw[i]);
  const std::string_view host(buf, raw.size());
  if (const auto* list = find_exact(host)) return list;
  for (const auto& [suffix, list] : suffix_) {
    if (host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix) {
      return &list;
    }
  }
  return has_any_ ? &any_ : nullptr;
}

const config::route_rule* route_table::match(const request_view& req) const {
  const rule_list* vhost = find_virtual_host(req.authority);
  if (!vhost) return nullptr;
  for (const auto* rule : *vhost) {
    if (rule_accepts(*rule, req)) return rule;
  }
  return nullptr;
}

}  // namespace laneproxy::route
