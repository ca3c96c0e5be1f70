#include "dataplane/redirect.h"

#include <string_view>

namespace laneproxy::dataplane {

namespace {
bool default_port(std::string_view scheme, std::string_view port) {
  return (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
}
}  // namespace

std::string redirect_location(const config::http_redirect& r, const route::request_view& req) {
  using derive = config::http_redirect::derive;
  const std::string_view scheme = r.scheme.empty() ? req.scheme : std::string_view(r.scheme);
  const auto [req_host, req_port] = route::split_authority(req.authority);
  const auto [new_host, new_port] = route::split_authority(r.authority);
  const std::string_view host = r.authority.empty() ? req_host : new_host;

  std::string port;
  if (r.port != 0) {
    port = std::to_string(r.port);
  } else if (r.derive_port == derive::request_port) {
    port = req_port.empty() ? std::to_string(req.port) : std::string(req_port);
  } else if (r.derive_port == derive::none) {
    port = std::string(r.authority.empty() ? req_port : new_port);
  }

  std::string out(scheme);
  out += "://";
  out += host;
  if (!port.empty() && !default_port(scheme, port)) {
    out += ':';
    out += port;
  }
  if (r.uri.empty()) {
    out += req.target;
  } else {
    out += r.uri;
    if (r.uri.find('?') == std::string::npos && !req.query().empty()) {
      out += '?';
      out += req.query();
    }
  }
  return out;
}

}  // namespace laneproxy::dataplane
