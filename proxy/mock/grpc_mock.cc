#include "mock/grpc_mock.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace laneproxy::mock {

namespace {
using net::h2_connection;
using net::h2_fields;
using net::h2_stream;
using net::nothrow;
using net::task;

// Waits until the peer ended the stream (or it closed), crediting DATA
// back as it comes; false past `limit` bytes.
task<bool> read_whole(h2_connection& c, h2_stream& s, std::string& body, std::size_t limit) {
  for (;;) {
    if (!s.in.empty()) {
      const auto n = s.in.size();
      body += s.in;
      s.in.clear();
      c.consumed(s, n);
      if (body.size() > limit) co_return false;
      continue;
    }
    if (s.in_ended || s.closed) co_return s.in_ended;
    co_await s.changed();
  }
}

// Calls `path` on the upstream with `message`; its answer's message, or ""
// when the call fails.
task<std::string> call_upstream(const mock_options& o, const h2_fields& incoming,
                                std::string_view path, const std::string& message) {
  const auto& url = *o.upstream;
  const http_url& hop = o.proxy ? *o.proxy : url;
  auto ex = co_await boost::asio::this_coro::executor;
  boost::asio::ip::tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(hop.host, std::to_string(hop.port), nothrow);
  if (rec || results.empty()) co_return std::string{};
  net::socket_type socket(ex);
  auto [cec] = co_await socket.async_connect(results.begin()->endpoint(), nothrow);
  if (cec) co_return std::string{};
  auto c = std::make_shared<h2_connection>(std::move(socket), h2_connection::side::client,
                                           net::h2_limits{});
  boost::asio::co_spawn(
      ex, [c]() { return c->run(); }, boost::asio::detached);
  h2_fields head{{":method", "POST"},
                 {":scheme", "http"},
                 {":authority", url.authority()},
                 {":path", std::string(path)},
                 {"content-type", "application/grpc"},
                 {"te", "trailers"}};
  for (const auto& name : o.forward_headers) {
    for (const auto& f : incoming) {
      if (f.name == name) head.push_back(f);
    }
  }
  auto s = c->request(head, false);
  if (!s) co_return std::string{};
  c->send(*s, grpc_frame(message));
  c->end(*s);
  // The upstream timeout bounds the whole call.
  boost::asio::steady_timer timer(ex);
  timer.expires_after(std::chrono::milliseconds(o.upstream_timeout_ms));
  timer.async_wait([c](const net::error_code& ec) {
    if (!ec) c->shutdown_now();
  });
  std::string body;
  const bool whole = co_await read_whole(*c, *s, body, 16u << 20);
  timer.cancel();
  c->shutdown_now();
  const auto status = net::h2_value(s->trailers, "grpc-status");
  if (!whole || (status.empty() ? net::h2_value(s->head, "grpc-status") : status) != "0") {
    co_return std::string{};
  }
  co_return grpc_first_message(body).value_or("");
}

task<void> answer(std::shared_ptr<h2_connection> c, std::shared_ptr<h2_stream> s, std::string ip,
                  const mock_options& o, bool failing) {
  std::string body;
  if (!co_await read_whole(*c, *s, body, 1u << 20)) {
    c->reset(*s, NGHTTP2_REFUSED_STREAM);
    co_return;
  }
  const auto message = grpc_first_message(body);
  if (!message) {
    c->respond(*s,
               {{":status", "200"},
                {"content-type", "application/grpc"},
                {"grpc-status", "13"},
                {"grpc-message", "no whole message"}},
               true);
    co_return;
  }
  if (failing) {
    c->respond(*s,
               {{":status", "200"},
                {"content-type", "application/grpc"},
                {"grpc-status", "13"},
                {"grpc-message", "failing canary"}},
               true);
    co_return;
  }
  std::string text = "-> " + o.app + "(version: " + o.version + ", ip: " + ip + ")";
  if (o.upstream) {
    text += co_await call_upstream(o, s->head, net::h2_value(s->head, ":path"), *message);
  }
  c->respond(*s, {{":status", "200"}, {"content-type", "application/grpc"}}, false);
  c->send(*s, grpc_frame(text));
  c->end(*s, {{"grpc-status", "0"}});
}
}  // namespace

std::string grpc_frame(std::string_view message) {
  std::string out(5, '\0');
  const auto n = static_cast<std::uint32_t>(message.size());
  out[1] = static_cast<char>(n >> 24);
  out[2] = static_cast<char>(n >> 16);
  out[3] = static_cast<char>(n >> 8);
  out[4] = static_cast<char>(n);
  out += message;
  return out;
}

std::optional<std::string> grpc_first_message(std::string_view body) {
  if (body.size() < 5 || body[0] != 0) return std::nullopt;
  const auto b = [&](int i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(body[i]));
  };
  const std::uint32_t n = b(1) << 24 | b(2) << 16 | b(3) << 8 | b(4);
  if (body.size() - 5 < n) return std::nullopt;
  return std::string(body.substr(5, n));
}

task<void> serve_grpc(net::socket_type socket, std::string ip, const mock_options& o,
                      std::uint64_t& requests) {
  auto c = std::make_shared<h2_connection>(std::move(socket), h2_connection::side::server,
                                           net::h2_limits{});
  auto* conn = c.get();
  c->on_request = [conn, ip, &o, &requests](std::shared_ptr<h2_stream> s) {
    const bool failing = o.fail_percent > 0 && fails(requests++, o.fail_percent);
    boost::asio::co_spawn(conn->socket().get_executor(),
                          answer(conn->shared_from_this(), std::move(s), ip, o, failing),
                          boost::asio::detached);
  };
  co_await c->run();
}

}  // namespace laneproxy::mock
