#include "net/h2_upstream.h"

#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/status.hpp>

#include "config/ascii.h"
#include "net/forward_headers.h"
#include "net/h2_translation.h"
#include "net/message_parser.h"

namespace laneproxy::net {

namespace {

// One request's state, shared by its two halves.
struct carried {
  carried(std::shared_ptr<h2_connection> c, socket_type p, std::uint32_t limit)
      : conn(std::move(c)), pipe(std::move(p)), buf(limit + 4096), parser(arena, limit) {}
  std::shared_ptr<h2_connection> conn;
  std::shared_ptr<h2_stream> stream;
  socket_type pipe;
  header_arena arena;  // before the parser, which uses it
  io_buffer buf;
  request_parser parser;
};

// The request body from the pipe into the stream, then a watch on the
// pipe: the exchange closing it (a timeout, its client gone) resets the
// stream.
task<void> send_body(std::shared_ptr<carried> x, bool body) {
  auto& c = *x->conn;
  auto& s = *x->stream;
  block chunk;
  while (!x->parser.is_done()) {
    std::size_t n = 0;
    const auto step = decode_body(x->parser, x->buf, chunk.get(), block_size, n);
    if (n > 0) {
      c.send(s, std::string_view(chunk.get(), n));
      co_await c.wait_room(s);
      if (s.closed) co_return;
    }
    if (step == body_step::done) break;
    if (step == body_step::bad ||
        (step == body_step::need_more && co_await read_more(x->pipe, x->buf))) {
      c.reset(s, NGHTTP2_CANCEL);
      co_return;
    }
  }
  if (body) c.end(s, h2_fields_of_lines(x->parser.trailers()));
  chunk.release();
  while (!s.closed) {
    co_await x->pipe.async_wait(socket_type::wait_read, nothrow);
    if (s.closed) break;
    char byte;
    error_code rec;
    const auto n = x->pipe.read_some(asio::buffer(&byte, 1), rec);
    if (rec == asio::error::would_block) continue;
    (void)n;
    c.reset(s, NGHTTP2_CANCEL);  // closed, or bytes no request was to send
    break;
  }
}

std::string h1_response_head(const h2_stream& s, bool& chunked) {
  const auto status_text = h2_value(s.head, ":status");
  unsigned status = 0;
  for (const char ch : status_text) status = status * 10 + static_cast<unsigned>(ch - '0');
  std::string out = "HTTP/1.1 ";
  out += status_text;
  out += ' ';
  out += http::obsolete_reason(static_cast<http::status>(status));
  out += "\r\n";
  const bool empty = s.in_ended && s.in.empty();
  bool has_length = false;
  for (const auto& f : s.head) {
    if (f.name.empty() || f.name.front() == ':') continue;
    if (f.name == "content-length") {
      if (!empty) continue;  // the body is chunked
      has_length = true;
    }
    out += f.name + ": " + f.value + "\r\n";
  }
  chunked = !empty;
  if (chunked) {
    out += "transfer-encoding: chunked\r\n";
  } else if (!has_length && status >= 200 && status != 204 && status != 304) {
    // A response that ended with its header (gRPC's trailers-only form).
    out += "content-length: 0\r\n";
  }
  out += "\r\n";
  return out;
}

// The response from the stream back to the pipe, chunked, its trailers on
// the last chunk. A stream reset before or during it closes the pipe.
task<void> send_response(std::shared_ptr<carried> x) {
  auto& c = *x->conn;
  auto& s = *x->stream;
  while (!s.head_done && !s.closed) co_await s.changed();
  error_code ignored;
  if (!s.head_done) {
    x->pipe.close(ignored);
    co_return;
  }
  bool chunked = false;
  const auto head = h1_response_head(s, chunked);
  auto [ec, n] = co_await asio::async_write(x->pipe, asio::buffer(head), nothrow);
  if (ec) {
    c.reset(s, NGHTTP2_CANCEL);
    co_return;
  }
  static constexpr std::string_view crlf = "\r\n";
  while (chunked) {
    if (!s.in.empty()) {
      const std::string data = std::move(s.in);
      s.in.clear();
      char line[20];
      std::array<asio::const_buffer, 3> out{asio::buffer(line, chunk_size_line(data.size(), line)),
                                            asio::buffer(data), asio::buffer(crlf)};
      std::tie(ec, n) = co_await asio::async_write(x->pipe, out, nothrow);
      if (ec) {
        c.reset(s, NGHTTP2_CANCEL);
        co_return;
      }
      c.consumed(s, data.size());
      continue;
    }
    if (s.in_ended) {
      std::string last = "0\r\n";
      for (const auto& f : s.trailers) last += f.name + ": " + f.value + "\r\n";
      last += crlf;
      co_await asio::async_write(x->pipe, asio::buffer(last), nothrow);
      break;
    }
    if (s.closed) {
      x->pipe.close(ignored);  // reset mid-body: the exchange sees the body cut short
      co_return;
    }
    co_await s.changed();
  }
}

// Reads one request from the pipe and carries it over `c`.
task<void> carry(std::shared_ptr<h2_connection> c, socket_type pipe, std::uint32_t header_limit) {
  auto x = std::make_shared<carried>(std::move(c), std::move(pipe), header_limit);
  if (co_await read_header(x->parser, x->pipe, x->buf)) co_return;
  const bool body = !x->parser.is_done();
  auto head = h2_request_fields(x->parser.get());
  if (config::ascii_lower(x->parser.get()[http::field::content_type])
          .starts_with("application/grpc")) {
    head.push_back({"te", "trailers"});  // gRPC servers ask for it
  }
  x->stream = x->conn->request(head, !body);
  if (!x->stream) co_return;  // closing the pipe: a reset before any response
  asio::co_spawn(x->pipe.get_executor(), send_body(x, body), asio::detached);
  co_await send_response(x);
}

task<void> run_connection(std::shared_ptr<h2_connection> c) {
  co_await c->run();
}

}  // namespace

std::shared_ptr<h2_connection> h2_upstreams::usable(const tcp::endpoint& endpoint) {
  const auto it = connections_.find(endpoint);
  if (it == connections_.end()) return nullptr;
  auto& list = it->second;
  std::erase_if(list, [](const auto& c) { return !c->alive(); });
  for (const auto& c : list) {
    if (c->can_take_stream()) return c;
  }
  if (list.empty()) connections_.erase(it);
  return nullptr;
}

task<socket_type> h2_upstreams::open(const tcp::endpoint& endpoint,
                                     std::chrono::milliseconds connect_timeout,
                                     const h2_limits& limits) {
  auto c = usable(endpoint);
  if (!c) {
    auto sock = std::make_shared<socket_type>(context_);
    asio::steady_timer timer(context_);
    timer.expires_after(connect_timeout);
    timer.async_wait([sock](const error_code& ec) {
      error_code ignored;
      if (!ec) sock->close(ignored);
    });
    auto [ec] = co_await sock->async_connect(endpoint, nothrow);
    timer.cancel();
    if (ec || !sock->is_open()) co_return socket_type(context_);
    error_code ignored;
    sock->set_option(tcp::no_delay(true), ignored);
    c = std::make_shared<h2_connection>(std::move(*sock), h2_connection::side::client, limits);
    connections_[endpoint].push_back(c);
    asio::co_spawn(context_, run_connection(c), asio::detached);
  }
  socket_type mine(context_), theirs(context_);
  if (!socket_pair(mine, theirs)) co_return socket_type(context_);
  asio::co_spawn(context_, carry(c, std::move(mine), limits.max_header_bytes), asio::detached);
  co_return theirs;
}

std::size_t h2_upstreams::connections() const {
  std::size_t n = 0;
  for (const auto& [endpoint, list] : connections_) {
    for (const auto& c : list) n += c->alive() ? 1 : 0;
  }
  return n;
}

}  // namespace laneproxy::net
