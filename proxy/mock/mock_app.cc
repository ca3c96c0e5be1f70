#include "mock/mock_app.h"

#include <sys/socket.h>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <tuple>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "mock/grpc_mock.h"

namespace laneproxy::mock {

namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || v > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(v);
}

std::optional<unsigned> parse_percent(std::string_view text) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || v > 100) {
    return std::nullopt;
  }
  return v;
}

// Requests answered so far, for fail_percent (the app runs on one thread).
std::uint64_t next_request = 0;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Idle keep-alive connections to the next hop, as Go's net/http client (the
// guide's app) keeps them. The app runs on one thread, so one list serves.
std::vector<std::unique_ptr<beast::tcp_stream>> idle_upstreams;
constexpr std::size_t max_idle_upstreams = 64;

// A new connection to `hop`; nullptr when it cannot be made. An address
// literal is connected to without a lookup (getaddrinfo runs on a thread).
asio::awaitable<std::unique_ptr<beast::tcp_stream>> connect_to(const http_url& hop) {
  auto ex = co_await asio::this_coro::executor;
  auto stream = std::make_unique<beast::tcp_stream>(ex);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(hop.host, ec);
  if (!ec) {
    std::tie(ec) = co_await stream->async_connect(tcp::endpoint(address, hop.port), nothrow);
  } else {
    tcp::resolver resolver(ex);
    auto [rec, results] =
        co_await resolver.async_resolve(hop.host, std::to_string(hop.port), nothrow);
    if (rec) co_return nullptr;
    std::tie(ec, std::ignore) = co_await stream->async_connect(results, nothrow);
  }
  if (ec) co_return nullptr;
  stream->socket().set_option(tcp::no_delay(true), ec);
  co_return stream;
}

// One exchange on `stream`: the upstream's body and whether the connection
// may carry another; nullopt when it failed (`timed_out` says if by time).
asio::awaitable<std::optional<std::pair<std::string, bool>>> exchange(
    beast::tcp_stream& stream, const http::request<http::empty_body>& req, unsigned timeout_ms,
    bool& timed_out) {
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  auto [wec, wn] = co_await http::async_write(stream, req, nothrow);
  timed_out = wec == beast::error::timeout;
  if (wec) co_return std::nullopt;
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16u << 20);
  auto [ec, n] = co_await http::async_read(stream, buf, parser, nothrow);
  timed_out = ec == beast::error::timeout;
  if (ec) co_return std::nullopt;
  stream.expires_never();
  // Bytes after the response would be read as the next one's: not reused.
  const bool reusable = parser.keep_alive() && buf.size() == 0;
  co_return std::pair{parser.release().body(), reusable};
}

// Calls the upstream and returns its body, or "" when the call fails. A
// reused connection that fails is retried once on a new one (the peer may
// have closed it while idle), as Go's client retries a GET.
asio::awaitable<std::string> call_upstream(const mock_options& o, const http::fields& incoming) {
  const auto& url = *o.upstream;
  const http_url& hop = o.proxy ? *o.proxy : url;
  // Through a proxy the target is the absolute URL, as curl and Go send it.
  const std::string target = o.proxy ? "http://" + url.authority() + url.path : url.path;
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, url.authority());
  for (const auto& name : o.forward_headers) {
    const auto range = incoming.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) req.insert(name, it->value());
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<beast::tcp_stream> stream;
    const bool reused = attempt == 0 && !idle_upstreams.empty();
    if (reused) {
      stream = std::move(idle_upstreams.back());
      idle_upstreams.pop_back();
    } else {
      stream = co_await connect_to(hop);
      if (!stream) co_return std::string{};
    }
    bool timed_out = false;
    auto result = co_await exchange(*stream, req, o.upstream_timeout_ms, timed_out);
    if (!result) {
      if (reused && !timed_out) continue;
      co_return std::string{};
    }
    if (result->second && idle_upstreams.size() < max_idle_upstreams) {
      idle_upstreams.push_back(std::move(stream));
    }
    co_return std::move(result->first);
  }
  co_return std::string{};
}

// True when the connection opens with the HTTP/2 preface ("PRI"): a gRPC
// client. nullopt when it closed first.
asio::awaitable<std::optional<bool>> opens_http2(tcp::socket& socket) {
  asio::steady_timer pause(socket.get_executor());
  for (;;) {
    auto [wec] = co_await socket.async_wait(tcp::socket::wait_read, nothrow);
    if (wec) co_return std::nullopt;
    char first[3];
    const auto n = ::recv(socket.native_handle(), first, sizeof first, MSG_PEEK);
    if (n <= 0) co_return std::nullopt;
    if (n == 3 || first[0] != 'P') co_return std::string_view(first, n) == "PRI";
    // "P" alone could be POST, PUT or the preface: wait for more.
    pause.expires_after(std::chrono::milliseconds(1));
    co_await pause.async_wait(nothrow);
  }
}

asio::awaitable<void> serve(tcp::socket socket, const mock_options& o) {
  boost::system::error_code ec;
  const auto local = socket.local_endpoint(ec);
  const std::string ip = ec ? o.bind_ip : local.address().to_string();
  const auto http2 = co_await opens_http2(socket);
  if (!http2) co_return;
  if (*http2) {
    auto& ctx = static_cast<asio::io_context&>(socket.get_executor().context());
    net::socket_type s(ctx);
    s.assign(local.protocol(), socket.release(ec), ec);
    asio::co_spawn(ctx, serve_grpc(std::move(s), ip, o, next_request), asio::detached);
    co_return;
  }
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buf;
  for (;;) {
    // The sample reads whole requests; it has no use for large bodies.
    http::request_parser<http::string_body> parser;
    parser.body_limit(1u << 20);
    stream.expires_after(std::chrono::seconds(60));
    auto [rec, rn] = co_await http::async_read(stream, buf, parser, nothrow);
    if (rec) co_return;
    const auto req = parser.release();
    std::string body = "-> " + o.app + "(version: " + o.version + ", ip: " + ip + ")";
    const bool failing = o.fail_percent > 0 && fails(next_request++, o.fail_percent);
    if (!failing && o.upstream) body += co_await call_upstream(o, req);
    http::response<http::string_body> res{
        failing ? http::status::internal_server_error : http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(60));
    auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
    if (wec || !res.keep_alive()) co_return;
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, const mock_options& o) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(nothrow);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), o), asio::detached);
  }
}
}  // namespace

std::string http_url::authority() const {
  return port == 80 ? host : host + ":" + std::to_string(port);
}

std::optional<http_url> parse_http_url(const std::string& text) {
  constexpr std::string_view scheme = "http://";
  if (text.rfind(scheme, 0) != 0) return std::nullopt;
  std::string_view rest = std::string_view(text).substr(scheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  http_url url;
  url.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    auto port = parse_port(authority.substr(colon + 1));
    if (!port) return std::nullopt;
    url.port = *port;
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return std::nullopt;
  url.host = std::string(authority);
  return url;
}

mock_options options_from_environment(std::string& error) {
  mock_options o;
  if (auto v = env("app"); !v.empty()) o.app = v;
  if (auto v = env("version"); !v.empty()) o.version = v;
  if (auto v = env("upstream_url"); !v.empty()) {
    o.upstream = parse_http_url(v);
    if (!o.upstream) error = "upstream_url: expected http://host[:port][/path], got \"" + v + "\"";
  }
  auto proxy = env("HTTP_PROXY");
  if (proxy.empty()) proxy = env("http_proxy");
  if (!proxy.empty()) {
    o.proxy = parse_http_url(proxy);
    if (!o.proxy) error = "HTTP_PROXY: expected http://host:port, got \"" + proxy + "\"";
  }
  if (auto v = env("bind"); !v.empty()) {
    // Go's form: ":8000" (every address) or "IP:8000".
    const auto colon = v.rfind(':');
    const auto port = colon == std::string::npos ? std::nullopt : parse_port(v.substr(colon + 1));
    if (!port) {
      error = "bind: expected [IP]:PORT, got \"" + v + "\"";
    } else {
      o.bind_port = *port;
      if (colon > 0) o.bind_ip = v.substr(0, colon);
    }
  }
  if (auto v = env("fail_percent"); !v.empty()) {
    const auto p = parse_percent(v);
    if (!p) error = "fail_percent: expected 0 to 100, got \"" + v + "\"";
    o.fail_percent = p.value_or(0);
  }
  if (auto v = env("forward_headers"); !v.empty()) {
    std::string_view list = v;
    while (!list.empty()) {
      const auto comma = list.find(',');
      const auto name = list.substr(0, comma);
      if (!name.empty()) o.forward_headers.emplace_back(name);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
  }
  return o;
}

int run_mock(const mock_options& o) {
  asio::io_context ctx{1};
  tcp::acceptor acceptor(ctx);
  boost::system::error_code ec;
  const tcp::endpoint wanted(asio::ip::make_address(o.bind_ip, ec), o.bind_port);
  if (!ec) acceptor.open(wanted.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(wanted, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "laneproxy-mock: cannot listen on " << o.bind_ip << ":" << o.bind_port << ": "
              << ec.message() << "\n";
    return 1;
  }
  std::cout << "laneproxy-mock: " << o.app << " " << o.version << " listening on "
            << acceptor.local_endpoint() << std::endl;
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { ctx.stop(); });
  asio::co_spawn(ctx, accept_loop(acceptor, o), asio::detached);
  ctx.run();
  idle_upstreams.clear();  // their sockets belong to ctx: closed before it goes
  return 0;
}

}  // namespace laneproxy::mock
