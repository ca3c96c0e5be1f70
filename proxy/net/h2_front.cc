#include "net/h2_front.h"

#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

#include "config/ascii.h"
#include "net/forward_headers.h"
#include "net/message_parser.h"
#include "net/proxy_session.h"

namespace laneproxy::net {

namespace {

bool connection_specific(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
         lower_name == "upgrade" || lower_name == "te" || lower_name == "trailer";
}

// What the streams of one HTTP/2 connection share: the sessions idle
// between two streams, each behind its socket pair. A stream takes one
// rather than starting a session of its own (a socket pair and a session
// per request would cost more than the request); a session that said it
// closes, or whose exchange did not end cleanly, is not kept.
struct front_state {
  static constexpr std::size_t max_idle = 16;
  std::vector<socket_type> idle;
  // An idle session's pipe, still open and quiet; else an invalid socket.
  std::optional<socket_type> take() {
    while (!idle.empty()) {
      socket_type s = std::move(idle.back());
      idle.pop_back();
      char byte;
      const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return s;
      // Closed (its idle timeout) or with bytes no request asked for.
    }
    return std::nullopt;
  }
};

// One stream on its way through a bridged session.
struct bridge {
  std::shared_ptr<h2_connection> conn;
  std::shared_ptr<h2_stream> stream;
  socket_type pipe;
  std::uint32_t header_limit;
  bool chunked = false;
  bool head_request = false;
  bool body_sent = false;  // the request went whole into the pipe
};

// The stream's DATA (then its trailers) into the pipe; credited back to
// the client as the session takes it.
task<void> send_request_body(std::shared_ptr<bridge> b) {
  auto& s = *b->stream;
  auto& c = *b->conn;
  static constexpr std::string_view crlf = "\r\n";
  for (;;) {
    if (!s.in.empty()) {
      const std::string data = std::move(s.in);
      s.in.clear();
      char line[20];
      std::array<asio::const_buffer, 3> out{asio::buffer(line, 0), asio::buffer(data),
                                            asio::buffer(crlf.data(), 0)};
      if (b->chunked) {
        out[0] = asio::buffer(line, chunk_size_line(data.size(), line));
        out[2] = asio::buffer(crlf);
      }
      auto [ec, n] = co_await asio::async_write(b->pipe, out, nothrow);
      if (ec) co_return;  // the session answered early and stopped reading
      c.consumed(s, data.size());
      continue;
    }
    if (s.in_ended) {
      if (b->chunked) {
        std::string last = "0\r\n";
        for (const auto& f : s.trailers) last += f.name + ": " + f.value + "\r\n";
        last += crlf;
        auto [ec, n] = co_await asio::async_write(b->pipe, asio::buffer(last), nothrow);
        if (ec) co_return;
      }
      b->body_sent = true;
      co_return;
    }
    if (s.closed || !c.alive()) {
      // Reset by the client mid-body: the session sees the body cut short.
      error_code ignored;
      b->pipe.shutdown(socket_type::shutdown_send, ignored);
      co_return;
    }
    co_await s.changed();
  }
}

h2_fields fields_of(const response_head& h) {
  h2_fields out;
  for (const auto& f : h) {
    out.push_back({config::ascii_lower(f.name_string()), std::string(f.value())});
  }
  return out;
}

// The session's response, from the pipe to the stream; true when it came
// whole and the session keeps its connection.
task<bool> relay_response(std::shared_ptr<bridge> b) {
  auto& s = *b->stream;
  auto& c = *b->conn;
  header_arena arena;
  io_buffer buf(b->header_limit + 4096);
  std::optional<response_parser> rp;
  unsigned status = 0;
  for (int interim = 0; interim < 16 && status < 200; ++interim) {
    rp.emplace(arena, b->header_limit);
    if (b->head_request) rp->skip(true);
    if (co_await read_header(*rp, b->pipe, buf)) {
      c.reset(s, NGHTTP2_INTERNAL_ERROR);
      co_return false;
    }
    status = rp->get().result_int();
  }
  if (status < 200) {
    c.reset(s, NGHTTP2_INTERNAL_ERROR);
    co_return false;
  }
  const bool end = bodiless(status, b->head_request) || rp->is_done();
  const bool keep = rp->keep_alive() && buf.empty();
  c.respond(s, h2_response_head(status, fields_of(rp->get())), end);
  if (end) co_return keep;
  block chunk;
  for (;;) {
    std::size_t n = 0;
    const auto step = decode_body(*rp, buf, chunk.get(), block_size, n);
    if (n > 0) {
      c.send(s, std::string_view(chunk.get(), n));
      co_await c.wait_room(s);
      if (s.closed || !c.alive()) co_return false;
    }
    if (step == body_step::done) {
      c.end(s, h2_fields_of_lines(rp->trailers()));
      co_return rp->keep_alive() && buf.empty();
    }
    if (step == body_step::bad) break;
    if (step == body_step::need_more && co_await read_more(b->pipe, buf)) break;
  }
  c.reset(s, NGHTTP2_INTERNAL_ERROR);  // the response was cut short
  co_return false;
}

task<void> serve_stream(std::shared_ptr<h2_connection> c, std::shared_ptr<h2_stream> s,
                        std::shared_ptr<front_state> front, worker& w,
                        dataplane::listener_role role, std::uint16_t port,
                        downstream_origin origin) {
  std::string head;
  bool chunked = false;
  // Decided once: the END_STREAM may come while the head is on its way.
  const bool body_follows = !s->in_ended || !s->in.empty();
  if (!h1_request_head(s->head, body_follows, head, chunked)) {
    c->respond(*s, {{":status", "400"}}, true);
    co_return;
  }
  auto pipe = front->take();
  if (!pipe) {
    socket_type theirs(w.context());
    pipe.emplace(w.context());
    if (!socket_pair(*pipe, theirs)) {
      c->reset(*s, NGHTTP2_REFUSED_STREAM);
      co_return;
    }
    start_session(std::move(theirs), w, role, port, &origin);
  }
  auto b = std::make_shared<bridge>(bridge{c, s, std::move(*pipe),
                                           w.config()->limits().max_response_header_bytes, chunked,
                                           h2_value(s->head, ":method") == "HEAD", !body_follows});
  auto [ec, n] = co_await asio::async_write(b->pipe, asio::buffer(head), nothrow);
  if (ec) {
    c->reset(*s, NGHTTP2_INTERNAL_ERROR);
    co_return;
  }
  if (body_follows) {
    asio::co_spawn(w.context(), send_request_body(b), asio::detached);
  }
  const bool keep = co_await relay_response(b);
  // Draining: the client is told to take its next requests elsewhere.
  if (w.shared().draining.load(std::memory_order_relaxed)) c->shutdown();
  // The session serves the next stream once both ways ended cleanly.
  if (keep && b->body_sent && c->alive() && front->idle.size() < front_state::max_idle) {
    front->idle.push_back(std::move(b->pipe));
  }
}

struct connection_count {
  explicit connection_count(worker& w) : w_(w) {
    w_.shared().open_connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~connection_count() { w_.shared().open_connections.fetch_sub(1, std::memory_order_relaxed); }
  worker& w_;
};

// An Upgrade's first request, stream 1 once the connection is HTTP/2.
struct upgraded_request {
  std::string settings;
  h2_fields request;
  bool head = false;
};

task<void> serve_h2(std::shared_ptr<h2_connection> c, worker& w, dataplane::listener_role role,
                    std::uint16_t port, std::string received,
                    std::optional<upgraded_request> upgrade) {
  const connection_count count(w);
  downstream_origin origin;
  error_code ignored;
  origin.remote = c->socket().remote_endpoint(ignored);
  origin.local = c->socket().local_endpoint(ignored);
  origin.http2 = true;
  // Raw: the connection holds this callback, and must not hold itself.
  auto* conn = c.get();
  auto front = std::make_shared<front_state>();
  c->on_request = [conn, front, &w, role, port, origin](std::shared_ptr<h2_stream> s) {
    asio::co_spawn(
        w.context(),
        serve_stream(conn->shared_from_this(), std::move(s), front, w, role, port, origin),
        asio::detached);
  };
  if (upgrade) {
    if (auto s = c->upgrade(upgrade->settings, upgrade->head, std::move(upgrade->request))) {
      c->on_request(std::move(s));
    }
  }
  co_await c->run(std::move(received));
  front->idle.clear();  // their sessions see the end and close
}

}  // namespace

bool h1_request_head(const h2_fields& head, bool body_follows, std::string& out, bool& chunked) {
  const auto method = h2_value(head, ":method");
  const auto path = h2_value(head, ":path");
  auto authority = h2_value(head, ":authority");
  if (authority.empty()) authority = h2_value(head, "host");
  if (method.empty() || method == "CONNECT" || path.empty() || authority.empty()) return false;
  out.assign(method);
  out += ' ';
  out += path;
  out += " HTTP/1.1\r\nHost: ";
  out += authority;
  out += "\r\n";
  std::string cookies;
  bool has_length = false;
  for (const auto& f : head) {
    if (f.name.empty() || f.name.front() == ':' || f.name == "host") continue;
    if (connection_specific(f.name)) continue;
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
  chunked = body_follows && !has_length;
  if (chunked) out += "transfer-encoding: chunked\r\n";
  out += "\r\n";
  return true;
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

namespace {
// An HTTP/2 server connection for `socket`, bounded by the live config.
std::shared_ptr<h2_connection> server_connection(socket_type socket, worker& w) {
  const auto config = w.config();
  h2_limits limits;
  limits.max_header_bytes = config->limits().max_request_header_bytes;
  limits.idle = config->timeouts().idle;
  return std::make_shared<h2_connection>(std::move(socket), h2_connection::side::server, limits);
}
}  // namespace

void start_h2_front(socket_type socket, worker& w, dataplane::listener_role role,
                    std::uint16_t port, std::string received) {
  asio::co_spawn(w.context(),
                 serve_h2(server_connection(std::move(socket), w), w, role, port,
                          std::move(received), std::nullopt),
                 asio::detached);
}

void start_h2_front_upgraded(socket_type socket, worker& w, dataplane::listener_role role,
                             std::uint16_t port, std::string received, std::string settings,
                             h2_fields request, bool head_request) {
  asio::co_spawn(
      w.context(),
      serve_h2(server_connection(std::move(socket), w), w, role, port, std::move(received),
               upgraded_request{std::move(settings), std::move(request), head_request}),
      asio::detached);
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
