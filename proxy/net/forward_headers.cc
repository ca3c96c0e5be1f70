#include "net/forward_headers.h"

#include <algorithm>

#include <boost/beast/http/status.hpp>

#include "config/ascii.h"
#include "config/peer_identity.h"

namespace laneproxy::net {

namespace {
// A header operation that sets or adds a framing header: the framing the
// parser read must replace what it wrote.
bool names_framing(const config::header_operations& ops) {
  const auto framing_name = [](const auto& entry) {
    return config::ascii_iequals(entry.first, "content-length") ||
           config::ascii_iequals(entry.first, "transfer-encoding");
  };
  return std::any_of(ops.set.begin(), ops.set.end(), framing_name) ||
         std::any_of(ops.add.begin(), ops.add.end(), framing_name);
}
}  // namespace

void rewrite_request(request_parser& parser, const dataplane::route_decision& d,
                     route::random_source& random, std::string& out, std::string_view upgrade,
                     std::string_view peer) {
  auto& req = parser.get();
  const auto length = parser.content_length();
  const std::string codings = parser.has_transfer_encoding() ? transfer_codings(req) : "";
  strip_hop_by_hop(req);
  req.erase(http::field::expect);  // answered by the proxy, not the upstream
  req.version(11);
  if (!d.rewritten_target.empty()) {
    req.set("x-envoy-original-path", req.target());
    req.target(d.rewritten_target);
  }
  if (!d.rewritten_authority.empty()) req.set(http::field::host, d.rewritten_authority);
  if (d.stamp_lane && !d.lane_header.empty()) req.set(d.lane_header, d.lane);
  if (req.count("x-request-id") == 0) req.set("x-request-id", make_request_id(random).view());
  if (req.count("x-forwarded-proto") == 0) req.set("x-forwarded-proto", "http");
  if (peer.empty()) {
    req.erase(config::peer_header);
  } else {
    req.set(config::peer_header, peer);
  }
  // The route's operations come after the proxy's own headers, as Envoy's
  // router applies them: a `remove` can take any of those away.
  if (d.rule) apply_header_operations(d.rule->actions.request_headers, req);
  if (d.target) apply_header_operations(d.target->request_headers, req);
  if ((d.rule && names_framing(d.rule->actions.request_headers)) ||
      (d.target && names_framing(d.target->request_headers))) {
    req.erase(http::field::content_length);
    req.erase(http::field::transfer_encoding);
  }
  if (!upgrade.empty()) {
    req.set(http::field::upgrade, upgrade);
    req.set(http::field::connection, "upgrade");
  }
  set_framing(req,
              parser.chunked() ? framing::chunked
              : length         ? framing::content_length
                               : framing::none,
              length.value_or(0), codings);
  serialize_head(req, out);
}

response_plan rewrite_response(response_parser& parser, const dataplane::route_decision& d,
                               unsigned version, bool head, bool keep_alive,
                               std::chrono::milliseconds upstream_time, std::string& out,
                               const dataplane::header_pairs& extra) {
  auto& res = parser.get();
  const unsigned status = res.result_int();
  const auto length = parser.content_length();
  const std::string codings = parser.has_transfer_encoding() ? transfer_codings(res) : "";
  strip_hop_by_hop(res);
  res.set("x-envoy-upstream-service-time", std::to_string(upstream_time.count()));
  // The router's own cookie comes before the route's header operations.
  if (!d.set_cookie.empty()) res.insert(http::field::set_cookie, d.set_cookie);
  if (d.rule) apply_header_operations(d.rule->actions.response_headers, res);
  if (d.target) apply_header_operations(d.target->response_headers, res);
  // CORS headers come from a filter after the router's: the route's
  // operations do not reach them.
  for (const auto& [name, value] : extra) res.set(name, value);
  res.version(version);
  if ((d.rule && names_framing(d.rule->actions.response_headers)) ||
      (d.target && names_framing(d.target->response_headers))) {
    res.erase(http::field::content_length);
    res.erase(http::field::transfer_encoding);
  }
  response_plan plan{false, keep_alive};
  framing f = framing::content_length;
  if (status < 200 || status == 204) {
    f = framing::none;
  } else if (bodiless(status, head)) {
    f = length ? framing::content_length : parser.chunked() ? framing::chunked : framing::none;
  } else if (parser.chunked() || parser.need_eof()) {
    f = version >= 11 ? framing::chunked : framing::none;
    plan.chunk_down = version >= 11;
    plan.keep_alive = keep_alive && version >= 11;
  }
  set_framing(res, f, length.value_or(0), codings);
  set_connection(res, version, plan.keep_alive);
  serialize_head(res, version, out);
  return plan;
}

void rewrite_upgrade_response(response_parser& parser, const dataplane::route_decision& d,
                              std::string& out) {
  auto& res = parser.get();
  const std::string upgrade(res[http::field::upgrade]);
  strip_hop_by_hop(res);
  if (d.rule) apply_header_operations(d.rule->actions.response_headers, res);
  if (d.target) apply_header_operations(d.target->response_headers, res);
  res.erase(http::field::content_length);
  res.erase(http::field::transfer_encoding);
  res.set(http::field::connection, "upgrade");
  res.set(http::field::upgrade, upgrade);
  serialize_head(res, 11, out);
}

void local_reply_head(unsigned status, unsigned version, bool keep_alive,
                      std::string_view content_type, std::size_t body_size, std::string& out,
                      std::string_view location, const dataplane::header_pairs& extra) {
  out.assign(version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
  out += std::to_string(status);
  out += ' ';
  out += http::obsolete_reason(static_cast<http::status>(status));
  out += "\r\nServer: laneproxy\r\n";
  if (!location.empty()) {
    out += "Location: ";
    out += location;
    out += "\r\n";
  }
  for (const auto& [name, value] : extra) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (status >= 200 && status != 204) {
    if (body_size > 0) {
      out += "Content-Type: ";
      out += content_type;
      out += "\r\n";
    }
    out += "Content-Length: ";
    out += std::to_string(body_size);
    out += "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version < 11) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

void grpc_local_reply_head(unsigned code, std::string_view message, unsigned version,
                           bool keep_alive, std::string& out) {
  out.assign(version >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n");
  out += "Server: laneproxy\r\ncontent-type: application/grpc\r\ngrpc-status: ";
  out += std::to_string(code);
  out += "\r\ngrpc-message: ";
  for (const char c : message) {
    // Percent-encoded outside printable ASCII, and '%' itself (gRPC's rule).
    if (c < 0x20 || c > 0x7e || c == '%') {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += '%';
      out += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += hex[static_cast<unsigned char>(c) & 0xf];
    } else {
      out += c;
    }
  }
  out += "\r\nContent-Length: 0\r\n";
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version < 11) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

bool well_formed(const request_parser& p) {
  const auto& req = p.get();
  if (p.has_transfer_encoding() && (!p.chunked() || req.version() < 11)) return false;
  return req.version() >= 11 ? p.host_count() == 1 : p.host_count() <= 1;
}

}  // namespace laneproxy::net
