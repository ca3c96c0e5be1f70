// The request body's relay to the upstream, run beside the response's
// relay: full duplex, so that an upstream may answer (a 413, say) or stream
// its answer (an echo) before the request body has ended.
//
// A body that fails (malformed, too slow, the client gone) closes the
// upstream socket, so that the upstream never takes a cut body for a whole
// request; the session sees the failure as an error on that socket and
// answers or closes. One pump per session, on the session's worker thread;
// the session must not go away while a pump runs (stop() waits).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <boost/asio/steady_timer.hpp>

#include "net/deadline_sweep.h"
#include "net/io_buffer.h"
#include "net/message_parser.h"
#include "net/relay.h"

namespace laneproxy::net {

class body_pump {
 public:
  enum class state {
    none,  // not started (no body)
    running,
    done,          // the whole body reached the upstream
    write_failed,  // the upstream stopped reading (its answer may still come)
    client_gone,   // the client closed or reset mid-body
    bad_request,   // the body's framing is malformed or over a limit
    timed_out,     // too slow: the idle timeout, or the whole request's
    stopped,       // stop() ended it first
  };

  struct callback {
    void (*run)(void*);
    void* ctx;
  };

  // `on_expiry` runs when the pump's deadline passes (the session cancels
  // its sockets); `on_end` when the pump ends by itself.
  body_pump(asio::io_context& context, deadline_sweep& deadlines, callback on_expiry,
            callback on_end);

  // Relays the rest of `p`'s body from `from` to `to` (`head`, the
  // serialized request header, first), counting body bytes in `bytes`.
  // Every wait ends within `idle`, and all of them by `cap`.
  void start(request_parser& p, socket_type& from, io_buffer& from_buf, socket_type& to,
             std::string_view head, std::chrono::milliseconds idle, coarse_clock::time_point cap,
             std::uint64_t& bytes);

  // Ends a running pump (cancelling `from` and `to`) and waits until it has.
  task<void> stop();

  state current() const { return state_; }
  bool running() const { return state_ == state::running; }
  void reset() { state_ = state::none; }
  void release_memory() { chunk_.release(); }

 private:
  task<void> run(request_parser& p, relay_leg leg, std::string_view head, std::uint64_t& bytes);

  state state_ = state::none;
  bool stop_ = false;
  socket_type* from_ = nullptr;
  socket_type* to_ = nullptr;
  asio::io_context& context_;
  deadline_sweep::entry deadline_;
  asio::steady_timer done_;  // cancelled when the pump ends
  block chunk_;              // the body passes through it
  callback on_end_;
};

}  // namespace laneproxy::net
