#include "net/http_headers.h"

#include <cstdio>
#include <vector>

#include "config/ascii.h"

namespace laneproxy::net {

void strip_hop_by_hop(http::fields& fields) {
  // Names listed in Connection are hop-by-hop too; copy them before erasing
  // because the list lives in the container.
  std::vector<std::string> listed;
  const auto range = fields.equal_range(http::field::connection);
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view v = it->value();
    while (!v.empty()) {
      const auto comma = v.find(',');
      auto token = v.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
        token.remove_prefix(1);
      }
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (!token.empty()) listed.emplace_back(token);
      v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
  }
  for (const auto& name : listed) fields.erase(name);
  fields.erase(http::field::connection);
  fields.erase(http::field::keep_alive);
  fields.erase("proxy-connection");
  fields.erase(http::field::te);
  fields.erase(http::field::trailer);
  fields.erase(http::field::transfer_encoding);
  fields.erase(http::field::upgrade);
}

void apply_header_operations(const config::header_operations& ops, http::fields& fields) {
  for (const auto& name : ops.remove) fields.erase(name);
  for (const auto& [name, value] : ops.set) fields.set(name, value);
  for (const auto& [name, value] : ops.add) fields.insert(name, value);
}

std::optional<absolute_target> split_absolute_form(std::string_view target) {
  constexpr std::string_view scheme = "http://";
  if (target.size() < scheme.size() ||
      !config::ascii_iequals(target.substr(0, scheme.size()), scheme)) {
    return std::nullopt;
  }
  target.remove_prefix(scheme.size());
  const auto end = target.find_first_of("/?#");
  absolute_target out;
  out.authority = std::string(target.substr(0, end));
  if (out.authority.empty() || out.authority.find('@') != std::string::npos) return std::nullopt;
  std::string_view rest = end == std::string_view::npos ? "" : target.substr(end);
  rest = rest.substr(0, rest.find('#'));
  out.path = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  return out;
}

std::string make_request_id(route::random_source& random) {
  const auto hi = random.next();
  const auto lo = random.next();
  // Version 4 (random) and variant 10xx, as RFC 4122 lays them out.
  const auto time_hi = static_cast<unsigned>((hi & 0x0fff) | 0x4000);
  const auto clock = static_cast<unsigned>(((lo >> 48) & 0x3fff) | 0x8000);
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), time_hi, clock,
                static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return buf;
}

std::optional<std::string_view> header_reader::get(const void* ctx, std::string_view name) {
  const auto& self = *static_cast<const header_reader*>(ctx);
  const auto range = self.fields_.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  if (std::next(range.first) == range.second) return range.first->value();
  std::string all;
  for (auto it = range.first; it != range.second; ++it) {
    if (!all.empty()) all += ", ";
    all += it->value();
  }
  return self.joined_.emplace_front(std::move(all));
}

}  // namespace laneproxy::net
