#include "support/http_fixture.h"

#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace laneproxy::testing {

namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

template <class Map>
std::string first_of(const Map& m, const std::string& name) {
  const auto it = m.find(name);
  return it == m.end() ? std::string{} : it->second;
}
}  // namespace

std::string seen_request::header(const std::string& name) const {
  return first_of(headers, name);
}
std::string http_reply::header(const std::string& name) const {
  return first_of(headers, name);
}

struct fake_upstream::impl {
  std::string name;
  handler on_request;
  asio::io_context ctx{1};
  tcp::acceptor acceptor{ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::thread thread;
  mutable std::mutex mutex;
  std::vector<seen_request> seen;
  std::size_t connections = 0;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(nothrow);
      if (ec) co_return;
      {
        std::lock_guard lock(mutex);
        ++connections;
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(ctx, serve(beast::tcp_stream(std::move(socket))), asio::detached);
    }
  }

  asio::awaitable<void> serve(beast::tcp_stream stream) {
    beast::flat_buffer buf;
    std::vector<char> chunk(64 * 1024);
    for (;;) {
      http::request_parser<http::buffer_body> p;
      p.body_limit(boost::none);
      p.header_limit(1u << 20);
      auto [ec, n] = co_await http::async_read_header(stream, buf, p, nothrow);
      if (ec) co_return;
      seen_request r;
      r.method = std::string(p.get().method_string());
      r.target = std::string(p.get().target());
      for (const auto& f : p.get()) r.headers.emplace(lower(f.name_string()), f.value());
      while (!p.is_done()) {
        p.get().body().data = chunk.data();
        p.get().body().size = chunk.size();
        auto [bec, bn] = co_await http::async_read(stream, buf, p, nothrow);
        if (bec && bec != http::error::need_buffer) co_return;
        const auto got = chunk.size() - p.get().body().size;
        r.body_bytes += got;
        if (r.body.size() + got < (1u << 20)) r.body.append(chunk.data(), got);
      }
      const bool keep_alive = p.get().keep_alive();
      const bool head = p.get().method() == http::verb::head;
      planned_response plan;
      if (on_request) {
        plan = on_request(r);
      } else {
        plan.body = name;
      }
      {
        std::lock_guard lock(mutex);
        seen.push_back(std::move(r));
      }
      if (plan.delay.count() > 0) {
        asio::steady_timer t(ctx, plan.delay);
        co_await t.async_wait(nothrow);
      }
      if (plan.close_without_reply) co_return;
      if (!co_await respond(stream, plan, keep_alive, head, chunk)) co_return;
      if (!keep_alive) co_return;
    }
  }

  asio::awaitable<bool> respond(beast::tcp_stream& stream, const planned_response& plan,
                                bool keep_alive, bool head, std::vector<char>& chunk) {
    http::response<http::buffer_body> res{static_cast<http::status>(plan.status), 11};
    for (const auto& [k, v] : plan.headers) res.insert(k, v);
    res.keep_alive(keep_alive);
    std::uint64_t left = plan.generated_bytes ? plan.generated_bytes : plan.body.size();
    if (plan.chunked) {
      res.chunked(true);
    } else {
      res.content_length(left);
    }
    if (head) left = 0;
    http::serializer<false, http::buffer_body> sr(res);
    auto [hec, hn] = co_await http::async_write_header(stream, sr, nothrow);
    if (hec) co_return false;
    if (plan.body_delay.count() > 0) {
      asio::steady_timer t(stream.get_executor(), plan.body_delay);
      co_await t.async_wait(nothrow);
    }
    std::fill(chunk.begin(), chunk.end(), 'x');
    std::size_t offset = 0;
    do {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
      res.body().data =
          plan.generated_bytes ? chunk.data() : const_cast<char*>(plan.body.data()) + offset;
      res.body().size = n;
      left -= n;
      offset += n;
      res.body().more = left > 0;
      auto [wec, wn] = co_await http::async_write(stream, sr, nothrow);
      if (wec && wec != http::error::need_buffer) co_return false;
    } while (left > 0);
    co_return true;
  }
};

fake_upstream::fake_upstream(std::string name, handler h) : impl_(std::make_unique<impl>()) {
  impl_->name = std::move(name);
  impl_->on_request = std::move(h);
  asio::co_spawn(impl_->ctx, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->ctx.run(); });
}

fake_upstream::~fake_upstream() {
  impl_->ctx.stop();
  impl_->thread.join();
}

std::uint16_t fake_upstream::port() const {
  return impl_->acceptor.local_endpoint().port();
}

std::size_t fake_upstream::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections;
}

std::vector<seen_request> fake_upstream::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->seen;
}

struct http_client::impl {
  asio::io_context ctx{1};
  tcp::socket socket{ctx};
  beast::flat_buffer buf;

  // Runs queued operations until they finish or `timeout` passes (then the
  // socket is closed and the operation fails).
  void run(std::chrono::milliseconds timeout) {
    ctx.restart();
    ctx.run_for(timeout);
    if (!ctx.stopped()) {
      boost::system::error_code ignored;
      socket.close(ignored);
      ctx.run();
    }
  }

  http_reply read_reply(bool head, std::chrono::milliseconds timeout) {
    http_reply out;
    auto p = std::make_shared<http::response_parser<http::string_body>>();
    p->body_limit(std::uint64_t{512} << 20);
    if (head) p->skip(true);
    http::async_read(socket, buf, *p, [&, p](boost::system::error_code ec, std::size_t) {
      if (ec) return;
      out.status = p->get().result_int();
      for (const auto& f : p->get()) out.headers.emplace(lower(f.name_string()), f.value());
      out.body = std::move(p->get().body());
    });
    run(timeout);
    return out;
  }
};

http_client::http_client(std::uint16_t port) : impl_(std::make_unique<impl>()) {
  impl_->socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  impl_->socket.set_option(tcp::no_delay(true));
}

http_client::http_client(const std::string& address) : impl_(std::make_unique<impl>()) {
  const auto colon = address.rfind(':');
  impl_->socket.connect(
      tcp::endpoint(asio::ip::make_address(address.substr(0, colon)),
                    static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)))));
  impl_->socket.set_option(tcp::no_delay(true));
}

http_client::~http_client() = default;

http_reply http_client::get(const std::string& target, const header_pairs& headers) {
  return request("GET", target, headers);
}

http_reply http_client::request(const std::string& method, const std::string& target,
                                const header_pairs& headers, const std::string& body) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
  boost::system::error_code ec;
  http::write(impl_->socket, req, ec);
  if (ec) return {};
  return impl_->read_reply(method == "HEAD", std::chrono::seconds(120));
}

http_reply http_client::raw(const std::string& bytes, std::chrono::milliseconds timeout) {
  send(bytes);
  return impl_->read_reply(false, timeout);
}

void http_client::send(const std::string& bytes) {
  boost::system::error_code ec;
  asio::write(impl_->socket, asio::buffer(bytes), ec);
}

bool http_client::closed_within(std::chrono::milliseconds timeout) {
  bool closed = false;
  char byte;
  impl_->socket.async_read_some(asio::buffer(&byte, 1),
                                [&](boost::system::error_code ec, std::size_t) { closed = !!ec; });
  impl_->run(timeout);
  return closed && impl_->socket.is_open();
}

}  // namespace laneproxy::testing
