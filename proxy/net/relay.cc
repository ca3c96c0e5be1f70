#include "net/relay.h"

#include "net/io_ring.h"

#include <algorithm>
#include <array>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>

namespace laneproxy::net {

bool write_now(socket_type& s, std::span<asio::const_buffer>& bufs) {
  error_code ec;
  std::size_t n = s.write_some(bufs, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) return true;
  if (ec) return false;
  while (!bufs.empty() && n >= bufs.front().size()) {
    n -= bufs.front().size();
    bufs = bufs.subspan(1);
  }
  if (!bufs.empty()) bufs.front() += n;
  return true;
}

task<bool> write_all(socket_type& s, std::span<asio::const_buffer> bufs,
                     deadline_sweep::entry& deadline, std::chrono::milliseconds timeout) {
  if (io_ring* ring = io_ring::current()) {
    // Queued with every other connection's writes of this turn of the loop,
    // and submitted with them in one system call.
    deadline.arm(timeout);
    auto [ec, n] = co_await ring->async_write(s.native_handle(), bufs, nothrow);
    co_return !ec;
  }
  // What the socket takes at once goes without a trip through the event
  // loop (the usual case for a header and a small body).
  if (!write_now(s, bufs)) co_return false;
  if (bufs.empty()) co_return true;
  deadline.arm(timeout);
  auto [ec, n] = co_await asio::async_write(s, bufs, nothrow);
  co_return !ec;
}

task<error_code> read_more(socket_type& from, io_buffer& buf) {
  const auto space = buf.prepare();
  if (space.size() == 0) co_return http::error::buffer_overflow;
  io_ring* ring = io_ring::current();
  auto [ec, n] = ring ? co_await ring->async_read_some(from.native_handle(), space, nothrow)
                      : co_await from.async_read_some(space, nothrow);
  buf.commit(n);
  co_return ec;
}

bool is_protocol_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_version).category() ||
         ec == boost::system::errc::not_enough_memory;
}

template <bool is_request>
task<error_code> read_header(message_parser<is_request>& p, socket_type& from, io_buffer& buf) {
  for (;;) {
    auto ec = parse_some(p, buf);
    if (ec != http::error::need_more) co_return ec;
    ec = co_await read_more(from, buf);
    if (ec) co_return ec;
  }
}

namespace {
// Decodes the next piece of body into leg.chunk, reading when nothing in
// the buffer can be parsed. `decoded` is the bytes decoded (0: framing
// only, or the message ended).
template <bool is_request>
task<relay_result> decode_some(message_parser<is_request>& p, const relay_leg& leg,
                               std::size_t& decoded) {
  for (;;) {
    switch (decode_body(p, leg.from_buf, leg.chunk, block_size, decoded)) {
      case body_step::decoded:
      case body_step::done:
        co_return relay_result::done;
      case body_step::bad:
        co_return relay_result::bad_message;
      case body_step::need_more:
        break;
    }
    if (leg.stop && *leg.stop) co_return relay_result::stopped;
    leg.deadline.arm_at(std::min(coarse_clock::now() + leg.idle, leg.cap));
    auto ec = co_await read_more(leg.from, leg.from_buf);
    if (ec == asio::error::eof && p.need_eof()) {
      p.put_eof(ec);
      decoded = 0;
      co_return ec ? relay_result::bad_message : relay_result::done;
    }
    if (ec == http::error::buffer_overflow) co_return relay_result::bad_message;
    if (ec) co_return relay_result::read_failed;
  }
}
}  // namespace

template <bool is_request>
task<relay_result> relay_body(message_parser<is_request>& p, bool chunked, std::string_view head,
                              const relay_leg& leg, std::uint64_t& body_bytes) {
  static constexpr std::string_view crlf = "\r\n", last_chunk = "0\r\n\r\n";
  std::string_view pending = head;
  bool terminated = !chunked;  // the last chunk is out (or none is needed)
  if (!p.is_done() && leg.from_buf.empty() && !pending.empty()) {
    std::array<asio::const_buffer, 1> out{asio::buffer(pending)};
    if (!co_await write_all(leg.to, out, leg.deadline, leg.idle)) {
      co_return relay_result::write_failed;
    }
    pending = {};
  }
  while (!p.is_done() || !pending.empty() || !terminated) {
    std::size_t n = 0;
    if (!p.is_done()) {
      const auto r = co_await decode_some(p, leg, n);
      if (r != relay_result::done) co_return r;
      body_bytes += n;
      if (n == 0 && !p.is_done()) continue;  // only framing was read
    }
    std::array<asio::const_buffer, 7> out;
    std::size_t count = 0;
    char size_line[20];
    if (!pending.empty()) out[count++] = asio::buffer(pending);
    if (n > 0 && chunked) out[count++] = asio::buffer(size_line, chunk_size_line(n, size_line));
    if (n > 0) out[count++] = asio::buffer(leg.chunk, n);
    if (n > 0 && chunked) out[count++] = asio::buffer(crlf);
    if (p.is_done() && !terminated) {
      // The last chunk carries the trailers read, if any.
      if (p.trailers().empty()) {
        out[count++] = asio::buffer(last_chunk);
      } else {
        out[count++] = asio::buffer(last_chunk.substr(0, 3));
        out[count++] = asio::buffer(p.trailers());
        out[count++] = asio::buffer(crlf);
      }
      terminated = true;
    }
    if (leg.stop && *leg.stop) co_return relay_result::stopped;
    if (!co_await write_all(leg.to, std::span(out.data(), count), leg.deadline, leg.idle)) {
      co_return relay_result::write_failed;
    }
    pending = {};
  }
  co_return relay_result::done;
}

task<relay_result> read_body(request_parser& p, const relay_leg& leg, std::string& out) {
  const auto length = p.content_length_remaining();
  if (!length) co_return relay_result::bad_message;
  out.resize(static_cast<std::size_t>(*length));
  std::size_t filled = 0;
  while (!p.is_done()) {
    std::size_t n = 0;
    switch (decode_body(p, leg.from_buf, out.data() + filled, out.size() - filled, n)) {
      case body_step::decoded:
      case body_step::done:
        filled += n;
        continue;
      case body_step::bad:
        co_return relay_result::bad_message;
      case body_step::need_more:
        break;
    }
    leg.deadline.arm_at(std::min(coarse_clock::now() + leg.idle, leg.cap));
    const auto ec = co_await read_more(leg.from, leg.from_buf);
    if (ec) co_return relay_result::read_failed;
  }
  out.resize(filled);
  co_return relay_result::done;
}

namespace {
task<void> tunnel_one_way(const tunnel_side& from, const tunnel_side& to,
                          deadline_sweep::entry& deadline, std::chrono::milliseconds idle) {
  error_code ignored;
  if (!from.buffer.empty()) {
    std::array<asio::const_buffer, 1> out{from.buffer.data()};
    from.bytes += from.buffer.size();
    if (!co_await write_all(to.socket, out, deadline, idle)) co_return;
    from.buffer.consume(from.buffer.size());
  }
  from.buffer.release();
  for (;;) {
    deadline.arm(idle);
    auto [wec] = co_await from.socket.async_wait(socket_type::wait_read, nothrow);
    if (wec) break;
    block chunk;  // held only while bytes flow
    error_code ec;
    const std::size_t n = from.socket.read_some(asio::buffer(chunk.get(), block_size), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec == asio::error::eof) {
      to.socket.shutdown(socket_type::shutdown_send, ignored);  // half-close, as TCP proxies do
      co_return;
    }
    if (ec) break;
    from.bytes += n;
    std::array<asio::const_buffer, 1> out{asio::buffer(chunk.get(), n)};
    if (!co_await write_all(to.socket, out, deadline, idle)) break;
  }
  // An error or the idle timeout: the other way ends too.
  cancel_io(from.socket);
  cancel_io(to.socket);
  to.socket.shutdown(socket_type::shutdown_both, ignored);
  from.socket.shutdown(socket_type::shutdown_both, ignored);
}
}  // namespace

task<void> tunnel(const tunnel_side& a, const tunnel_side& b, deadline_sweep::entry& deadline,
                  std::chrono::milliseconds idle) {
  using namespace asio::experimental::awaitable_operators;
  co_await (tunnel_one_way(a, b, deadline, idle) && tunnel_one_way(b, a, deadline, idle));
}

template task<error_code> read_header(message_parser<true>&, socket_type&, io_buffer&);
template task<error_code> read_header(message_parser<false>&, socket_type&, io_buffer&);
template task<relay_result> relay_body(message_parser<true>&, bool, std::string_view,
                                       const relay_leg&, std::uint64_t&);
template task<relay_result> relay_body(message_parser<false>&, bool, std::string_view,
                                       const relay_leg&, std::uint64_t&);

}  // namespace laneproxy::net
