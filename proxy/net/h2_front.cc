#include "net/h2_front.h"

#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "config/ascii.h"
#include "net/forward_headers.h"
#include "net/h2_translation.h"
#include "net/message_parser.h"
#include "net/proxy_session.h"

namespace laneproxy::net {

namespace {

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
  bool tunnel = false;     // a WebSocket's extended CONNECT: DATA are its bytes
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
      error_code ignored;
      if (b->tunnel) b->pipe.shutdown(socket_type::shutdown_send, ignored);
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
      // Reset by the client mid-body: the session sees the body cut short
      // (a tunnel: both ways end, and so does the relay's read).
      error_code ignored;
      b->pipe.shutdown(b->tunnel ? socket_type::shutdown_both : socket_type::shutdown_send,
                       ignored);
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

// A tunnel after its 101: the stream's DATA into the pipe, the pipe's
// bytes (those read with the 101 first) as DATA, until both have ended.
// The session bounds it by the idle timeout: it closes the pipe.
task<void> relay_tunnel(std::shared_ptr<bridge> b, io_buffer& buf, worker& w) {
  auto& s = *b->stream;
  auto& c = *b->conn;
  asio::co_spawn(w.context(), send_request_body(b), asio::detached);
  for (;;) {
    if (!buf.empty()) {
      c.send(s, std::string_view(static_cast<const char*>(buf.data().data()), buf.size()));
      buf.consume(buf.size());
      co_await c.wait_room(s);
      if (s.closed || !c.alive()) co_return;
    }
    const auto ec = co_await read_more(b->pipe, buf);
    if (ec == asio::error::eof) break;
    if (ec) {
      c.reset(s, NGHTTP2_CONNECT_ERROR);
      co_return;
    }
  }
  c.end(s);
  // The upstream's side ended; a client that leaves its own open holds a
  // stream slot: it has the idle timeout to end it.
  asio::steady_timer timer(w.context(), w.config()->timeouts().idle);
  timer.async_wait([&s, &c](error_code ec) {
    if (!ec && !s.closed && c.alive()) c.reset(s, NGHTTP2_NO_ERROR);
  });
  while (!s.closed && c.alive()) co_await s.changed();
}

// The session's response, from the pipe to the stream; true when it came
// whole and the session keeps its connection.
task<bool> relay_response(std::shared_ptr<bridge> b, worker& w) {
  auto& s = *b->stream;
  auto& c = *b->conn;
  header_arena arena;
  io_buffer buf(b->header_limit + 4096);
  std::optional<response_parser> rp;
  unsigned status = 0;
  const auto switched = [&] { return b->tunnel && status == 101; };
  for (int interim = 0; interim < 16 && status < 200 && !switched(); ++interim) {
    rp.emplace(arena, b->header_limit);
    if (b->head_request) rp->skip(true);
    if (co_await read_header(*rp, b->pipe, buf)) {
      c.reset(s, NGHTTP2_INTERNAL_ERROR);
      co_return false;
    }
    status = rp->get().result_int();
  }
  if (switched()) {
    c.respond(s, h2_tunnel_head(fields_of(rp->get())), false);
    co_await relay_tunnel(b, buf, w);
    co_return false;
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
  bool body_follows = !s->in_ended || !s->in.empty();
  const auto connect = extended_connect_of(s->head);
  if (connect == extended_connect::unsupported) {
    c->respond(*s, {{":status", "501"}}, true);
    co_return;
  }
  if (connect == extended_connect::websocket) {
    auto& random = w.random();
    const auto first = random.next();
    h1_websocket_head(s->head, websocket_key(first, random.next()), head);
    body_follows = false;  // its DATA flow once the upstream switched
  } else if (!h1_request_head(s->head, body_follows, head, chunked)) {
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
                                           h2_value(s->head, ":method") == "HEAD", !body_follows,
                                           connect == extended_connect::websocket});
  auto [ec, n] = co_await asio::async_write(b->pipe, asio::buffer(head), nothrow);
  if (ec) {
    c->reset(*s, NGHTTP2_INTERNAL_ERROR);
    co_return;
  }
  if (body_follows) {
    asio::co_spawn(w.context(), send_request_body(b), asio::detached);
  }
  const bool keep = co_await relay_response(b, w);
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

}  // namespace laneproxy::net
