// A string as a JSON string literal: quotes, backslashes and control
// characters escaped. For the small JSON documents the admin endpoints,
// the access log and the tools write by hand.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace laneproxy::config {

inline std::string json_quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

}  // namespace laneproxy::config
