#include "net/h2_translation.h"

#include <cstdint>

#include "config/ascii.h"

namespace laneproxy::net {

namespace {

bool connection_specific(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
         lower_name == "upgrade" || lower_name == "te" || lower_name == "trailer";
}

// "METHOD path HTTP/1.1\r\nHost: authority\r\n"; false without one of the three.
bool request_line(std::string_view method, const h2_fields& head, std::string& out) {
  const auto path = h2_value(head, ":path");
  auto authority = h2_value(head, ":authority");
  if (authority.empty()) authority = h2_value(head, "host");
  if (method.empty() || path.empty() || authority.empty()) return false;
  out.assign(method);
  out += ' ';
  out += path;
  out += " HTTP/1.1\r\nHost: ";
  out += authority;
  out += "\r\n";
  return true;
}

// The regular fields of `head` as header lines, Cookie fields joined, the
// hop-by-hop ones and those `skip` names dropped; true when one was
// Content-Length.
template <typename Skip>
bool append_fields(const h2_fields& head, std::string& out, Skip skip) {
  std::string cookies;
  bool has_length = false;
  for (const auto& f : head) {
    if (f.name.empty() || f.name.front() == ':' || f.name == "host") continue;
    if (connection_specific(f.name) || skip(f.name)) continue;
    if (f.name == "cookie") {
      if (!cookies.empty()) cookies += "; ";
      cookies += f.value;
      continue;
    }
    has_length = has_length || f.name == "content-length";
    out += f.name;
    out += ": ";
    out += f.value;
    out += "\r\n";
  }
  if (!cookies.empty()) out += "cookie: " + cookies + "\r\n";
  return has_length;
}

}  // namespace

bool h1_request_head(const h2_fields& head, bool body_follows, std::string& out, bool& chunked) {
  const auto method = h2_value(head, ":method");
  if (method == "CONNECT" || !request_line(method, head, out)) return false;
  const bool has_length = append_fields(head, out, [](std::string_view) { return false; });
  chunked = body_follows && !has_length;
  if (chunked) out += "transfer-encoding: chunked\r\n";
  out += "\r\n";
  return true;
}

extended_connect extended_connect_of(const h2_fields& head) {
  const auto protocol = h2_value(head, ":protocol");
  if (h2_value(head, ":method") != "CONNECT" || protocol.empty()) return extended_connect::none;
  if (!config::ascii_iequals(protocol, "websocket") || h2_value(head, ":path").empty() ||
      h2_value(head, ":authority").empty()) {
    return extended_connect::unsupported;
  }
  return extended_connect::websocket;
}

bool h1_websocket_head(const h2_fields& head, std::string_view key, std::string& out) {
  if (extended_connect_of(head) != extended_connect::websocket) return false;
  if (!request_line("GET", head, out)) return false;
  out += "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ";
  out += key;
  out += "\r\n";
  // A request body has no place in a handshake; a key is the proxy's own.
  append_fields(head, out, [](std::string_view name) {
    return name == "content-length" || name == "sec-websocket-key";
  });
  if (h2_value(head, "sec-websocket-version").empty()) out += "sec-websocket-version: 13\r\n";
  out += "\r\n";
  return true;
}

std::string websocket_key(std::uint64_t a, std::uint64_t b) {
  static constexpr std::string_view digits =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::uint8_t bytes[18] = {};  // 16, and two zeros to make six groups of three
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<std::uint8_t>(a >> (8 * i));
    bytes[8 + i] = static_cast<std::uint8_t>(b >> (8 * i));
  }
  std::string out;
  for (int i = 0; i < 18; i += 3) {
    const unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += digits[(v >> shift) & 63];
  }
  out.resize(22);
  out += "==";
  return out;
}

h2_fields h2_response_head(unsigned status, const h2_fields& head) {
  h2_fields out;
  out.reserve(head.size() + 1);
  out.push_back({":status", std::to_string(status)});
  for (const auto& f : head) {
    if (connection_specific(f.name)) continue;
    out.push_back(f);
  }
  return out;
}

h2_fields h2_tunnel_head(const h2_fields& upgrade_response) {
  auto out = h2_response_head(200, upgrade_response);
  std::erase_if(out, [](const h2_field& f) { return f.name == "sec-websocket-accept"; });
  return out;
}

h2_fields h2_fields_of_lines(std::string_view lines) {
  h2_fields out;
  while (!lines.empty()) {
    const auto eol = lines.find("\r\n");
    const auto line = lines.substr(0, eol);
    lines = eol == std::string_view::npos ? std::string_view{} : lines.substr(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    const auto name = config::ascii_lower(line.substr(0, colon));
    if (connection_specific(name)) continue;
    out.push_back({name, std::string(value)});
  }
  return out;
}

h2_fields h2_request_fields(const request_head& req) {
  h2_fields out{{":method", std::string(req.method_string())},
                {":scheme", "http"},
                {":authority", std::string(req[http::field::host])},
                {":path", std::string(req.target())}};
  for (const auto& f : req) {
    auto name = config::ascii_lower(f.name_string());
    if (name == "host" || name == "http2-settings" || connection_specific(name)) continue;
    out.push_back({std::move(name), std::string(f.value())});
  }
  return out;
}

std::optional<std::string> h2c_upgrade_settings(const request_head& req) {
  bool upgrade = false, settings_listed = false, h2c = false;
  const auto tokens = [](std::string_view list, auto fn) {
    while (!list.empty()) {
      const auto comma = list.find(',');
      auto token = list.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      fn(token);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
  };
  tokens(req[http::field::connection], [&](std::string_view t) {
    upgrade |= config::ascii_iequals(t, "upgrade");
    settings_listed |= config::ascii_iequals(t, "http2-settings");
  });
  tokens(req[http::field::upgrade],
         [&](std::string_view t) { h2c |= config::ascii_iequals(t, "h2c"); });
  if (!upgrade || !settings_listed || !h2c || req.count("http2-settings") != 1) return std::nullopt;
  // base64url without padding (RFC 7540 3.2.1).
  std::string out;
  unsigned bits = 0, value = 0;
  for (const char ch : req["http2-settings"]) {
    int v = ch >= 'A' && ch <= 'Z'   ? ch - 'A'
            : ch >= 'a' && ch <= 'z' ? ch - 'a' + 26
            : ch >= '0' && ch <= '9' ? ch - '0' + 52
            : ch == '-'              ? 62
            : ch == '_'              ? 63
                                     : -1;
    if (ch == '=') break;
    if (v < 0) return std::nullopt;
    value = (value << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xff);
    }
  }
  if (out.size() % 6 != 0) return std::nullopt;  // whole SETTINGS entries
  return out;
}

}  // namespace laneproxy::net
