#include "benchtool/load_runner.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "mock/grpc_mock.h"
#include "net/h2_connection.h"

#include "benchtool/split_stats.h"

namespace laneproxy::benchtool {

namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct run_state {
  run_state(const load_options& o, load_result& r) : options(o), result(r) {}
  const load_options& options;
  load_result& result;
  tcp::resolver::results_type endpoints;
  std::uint64_t started = 0;  // requests handed to connections
  clock_type::time_point deadline = clock_type::time_point::max();
  clock_type::time_point next_send;  // pacing
  std::chrono::nanoseconds interval{0};
  unsigned active = 0;  // connections still sending
  bool* done = nullptr;

  bool take() {
    if (clock_type::now() >= deadline) return false;
    if (options.requests > 0 && started >= options.requests) return false;
    ++started;
    return true;
  }

  // An answer: its status, the lane header's value, the body (for gRPC, its
  // message).
  void record(unsigned status, std::string_view lane, const std::string& body, double ms) {
    if (status != 200) {
      ++result.errors["status " + std::to_string(status)];
      return;
    }
    result.latencies_ms.push_back(ms);
    if (!options.lane_header.empty()) {
      ++result.lanes[std::string(lane)];
      return;
    }
    const auto hops = chain_versions(body);
    if (hops.empty()) {
      ++result.lanes["(no chain)"];
      return;
    }
    ++result.lanes[hops.front()];
    for (const auto& v : hops) {
      if (v != hops.front()) {
        ++result.isolation_violations;
        if (result.violation_examples.size() < 5) result.violation_examples.push_back(body);
        break;
      }
    }
  }
};

asio::awaitable<void> connection(run_state& st) {
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream stream(ex);
  beast::flat_buffer buf;
  bool connected = false;
  asio::steady_timer pace(ex);
  http::request<http::empty_body> req{http::verb::get, st.options.target, 11};
  req.set(http::field::host, st.options.host + ":" + std::to_string(st.options.port));
  req.set(http::field::user_agent, "laneproxy-bench");
  while (st.take()) {
    if (!st.options.vary_header.empty()) {
      req.set(st.options.vary_header, "user-" + std::to_string(st.started));
    }
    if (st.interval.count() > 0) {
      const auto at = st.next_send;
      st.next_send += st.interval;
      pace.expires_at(at);
      co_await pace.async_wait(nothrow);
    }
    if (!connected) {
      stream.expires_after(st.options.timeout);
      auto [ec, ep] = co_await stream.async_connect(st.endpoints, nothrow);
      if (ec) {
        ++st.result.errors["connect: " + ec.message()];
        continue;
      }
      stream.socket().set_option(tcp::no_delay(true), ec);
      connected = true;
    }
    const auto start = clock_type::now();
    stream.expires_after(st.options.timeout);
    auto [wec, wn] = co_await http::async_write(stream, req, nothrow);
    http::response<http::string_body> res;
    boost::system::error_code rec = wec;
    if (!wec) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(16u << 20);
      std::size_t rn = 0;
      std::tie(rec, rn) = co_await http::async_read(stream, buf, parser, nothrow);
      if (!rec) res = parser.release();
    }
    if (rec) {
      ++st.result.errors[rec == beast::error::timeout ? "timeout" : "io: " + rec.message()];
      stream.close();
      buf.clear();
      connected = false;
      continue;
    }
    st.record(res.result_int(), res[st.options.lane_header], res.body(),
              std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
    if (!res.keep_alive()) {
      stream.close();
      buf.clear();
      connected = false;
    }
  }
  if (--st.active == 0 && st.done) *st.done = true;
}

// One HTTP/2 connection's share of the load, a stream at a time: GETs, or
// gRPC unary calls.
net::task<void> h2_connection_loop(run_state& st) {
  auto ex = co_await asio::this_coro::executor;
  const bool grpc = st.options.protocol == load_protocol::grpc;
  const std::string authority = st.options.host + ":" + std::to_string(st.options.port);
  std::shared_ptr<net::h2_connection> c;
  asio::steady_timer pace(ex), limit(ex);
  while (st.take()) {
    if (st.interval.count() > 0) {
      const auto at = st.next_send;
      st.next_send += st.interval;
      pace.expires_at(at);
      co_await pace.async_wait(net::nothrow);
    }
    if (!c || !c->can_take_stream()) {
      if (c) c->shutdown();
      net::socket_type socket(ex);
      auto [ec] = co_await socket.async_connect(st.endpoints.begin()->endpoint(), net::nothrow);
      if (ec) {
        ++st.result.errors["connect: " + ec.message()];
        c.reset();
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      c = std::make_shared<net::h2_connection>(std::move(socket), net::h2_connection::side::client,
                                               net::h2_limits{});
      asio::co_spawn(
          ex, [c]() { return c->run(); }, asio::detached);
    }
    net::h2_fields head{{":method", grpc ? "POST" : "GET"},
                        {":scheme", "http"},
                        {":authority", authority},
                        {":path", st.options.target},
                        {"user-agent", "laneproxy-bench"}};
    if (grpc) {
      head.push_back({"content-type", "application/grpc"});
      head.push_back({"te", "trailers"});
    }
    if (!st.options.vary_header.empty()) {
      head.push_back({st.options.vary_header, "user-" + std::to_string(st.started)});
    }
    const auto start = clock_type::now();
    auto s = c->request(head, !grpc);
    if (!s) {
      ++st.result.errors["stream refused"];
      c.reset();
      continue;
    }
    if (grpc) {
      c->send(*s, mock::grpc_frame("laneproxy-bench"));
      c->end(*s);
    }
    auto timed_out = std::make_shared<bool>(false);
    limit.expires_after(st.options.timeout);
    limit.async_wait([c, timed_out](const boost::system::error_code& ec) {
      if (!ec) {
        *timed_out = true;
        c->shutdown_now();
      }
    });
    std::string body;
    while (!s->in_ended && !s->closed) {
      if (!s->in.empty()) {
        body += s->in;
        c->consumed(*s, s->in.size());
        s->in.clear();
        continue;
      }
      co_await s->changed();
    }
    body += s->in;
    limit.cancel();
    if (!s->in_ended) {
      ++st.result.errors[*timed_out ? "timeout" : "reset"];
      continue;
    }
    unsigned status = 0;
    for (const char ch : net::h2_value(s->head, ":status")) status = status * 10 + (ch - '0');
    if (grpc && status == 200) {
      auto code = net::h2_value(s->trailers, "grpc-status");
      if (code.empty()) code = net::h2_value(s->head, "grpc-status");
      if (code != "0") {
        ++st.result.errors["grpc-status " + std::string(code)];
        continue;
      }
      body = mock::grpc_first_message(body).value_or("");
    }
    st.record(status, net::h2_value(s->head, st.options.lane_header), body,
              std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
  }
  if (c) c->shutdown();
  if (--st.active == 0 && st.done) *st.done = true;
}

asio::awaitable<void> progress_bar(run_state& st, const bool& done) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex);
  while (!done) {
    t.expires_after(std::chrono::milliseconds(200));
    co_await t.async_wait(nothrow);
    const auto n = st.result.answered();
    if (st.options.requests > 0) {
      const int width = 40;
      const int filled = static_cast<int>(width * n / st.options.requests);
      std::fprintf(stderr, "\r[%s%s] %llu/%llu", std::string(filled, '=').c_str(),
                   std::string(width - filled, ' ').c_str(), static_cast<unsigned long long>(n),
                   static_cast<unsigned long long>(st.options.requests));
    } else {
      std::fprintf(stderr, "\r%llu requests", static_cast<unsigned long long>(n));
    }
  }
  std::fprintf(stderr, "\r%*s\r", 60, "");
}
}  // namespace

std::uint64_t load_result::answered() const {
  std::uint64_t n = 0;
  for (const auto& [lane, c] : lanes) n += c;
  for (const auto& [what, c] : errors) n += c;
  return n;
}

bool parse_url(const std::string& url, load_options& o) {
  constexpr std::string_view scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return false;
  const auto rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  o.target = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    try {
      const int port = std::stoi(authority.substr(colon + 1));
      if (port < 1 || port > 65535) return false;
      o.port = static_cast<std::uint16_t>(port);
    } catch (const std::exception&) {
      return false;
    }
    authority = authority.substr(0, colon);
  }
  o.host = authority;
  return !o.host.empty();
}

load_result run_load(const load_options& options) {
  load_result result;
  asio::io_context ctx{1};
  run_state st{options, result};
  boost::system::error_code ec;
  tcp::resolver resolver(ctx);
  st.endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
  if (ec) {
    ++result.errors["resolve: " + ec.message()];
    return result;
  }
  const auto start = clock_type::now();
  if (options.duration) st.deadline = start + *options.duration;
  if (options.rate && *options.rate > 0) {
    st.interval = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / *options.rate));
    st.next_send = start;
  }
  bool done = false;
  for (unsigned i = 0; i < std::max(1u, options.connections); ++i) {
    if (options.protocol == load_protocol::http1) {
      asio::co_spawn(ctx, connection(st), asio::detached);
    } else {
      asio::co_spawn(ctx, h2_connection_loop(st), asio::detached);
    }
  }
  if (options.progress) asio::co_spawn(ctx, progress_bar(st, done), asio::detached);
  // The connections end by themselves; the last one tells the progress bar.
  st.active = std::max(1u, options.connections);
  st.done = &done;
  ctx.run();
  result.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  return result;
}

}  // namespace laneproxy::benchtool
