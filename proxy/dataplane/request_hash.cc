#include "dataplane/request_hash.h"

#include <cstdio>

#include "dataplane/endpoint_hash.h"

namespace laneproxy::dataplane {

namespace {

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string make_cookie(const config::hash_policy& h, std::string_view value) {
  std::string out =
      h.name + "=\"" + std::string(value) + "\"; Max-Age=" + std::to_string(h.cookie_ttl.count());
  if (!h.cookie_path.empty()) out += "; Path=" + h.cookie_path;
  for (const auto& [name, attr] : h.cookie_attributes) {
    out += "; " + name;
    if (!attr.empty()) out += "=" + attr;
  }
  return out + "; HttpOnly";
}

}  // namespace

std::optional<std::string_view> cookie_value(std::string_view cookies, std::string_view name) {
  while (!cookies.empty()) {
    const auto semi = cookies.find(';');
    auto pair = trim_spaces(cookies.substr(0, semi));
    cookies = semi == std::string_view::npos ? std::string_view{} : cookies.substr(semi + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    auto value = pair.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  return std::nullopt;
}

std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> request_hash(const config::hash_policy& h,
                                          const route::request_view& req, std::string& set_cookie) {
  using source = config::hash_policy::source;
  switch (h.from) {
    case source::none:
      return std::nullopt;
    case source::header:
      if (auto v = req.header(h.name)) return hash_key(*v);
      return std::nullopt;
    case source::query_parameter:
      if (auto v = query_value(req.query(), h.name)) return hash_key(*v);
      return std::nullopt;
    case source::source_ip:
      if (const auto ip = req.source_ip_hash(); ip != 0) return ip;
      return std::nullopt;
    case source::cookie:
      break;
  }
  if (auto cookies = req.header("cookie")) {
    if (auto v = cookie_value(*cookies, h.name)) return hash_key(*v);
  }
  if (h.cookie_ttl.count() <= 0) return std::nullopt;
  char value[17];
  std::snprintf(value, sizeof value, "%016llx",
                static_cast<unsigned long long>(req.connection_hash()));
  set_cookie = make_cookie(h, value);
  return hash_key(value);
}

}  // namespace laneproxy::dataplane
