#include "net/body_pump.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "net/io_ring.h"

namespace laneproxy::net {

body_pump::body_pump(asio::io_context& context, deadline_sweep& deadlines, callback on_expiry,
                     callback on_end)
    : context_(context),
      deadline_(deadlines, on_expiry.run, on_expiry.ctx),
      done_(context),
      on_end_(on_end) {}

void body_pump::start(request_parser& p, socket_type& from, io_buffer& from_buf, socket_type& to,
                      std::string_view head, std::chrono::milliseconds idle,
                      coarse_clock::time_point cap, std::uint64_t& bytes) {
  state_ = state::running;
  stop_ = false;
  from_ = &from;
  to_ = &to;
  done_.expires_at(asio::steady_timer::time_point::max());
  const relay_leg leg{from, from_buf, to, deadline_, chunk_.get(), idle, cap, &stop_};
  asio::co_spawn(context_, run(p, leg, head, bytes), asio::detached);
}

task<void> body_pump::run(request_parser& p, relay_leg leg, std::string_view head,
                          std::uint64_t& bytes) {
  relay_result r = relay_result::bad_message;
  try {
    r = co_await relay_body(p, p.chunked(), head, leg, bytes);
  } catch (const std::exception&) {
    // (Out of memory: the body cannot go on; the upstream gets no more.)
  }
  const bool timed_out = deadline_.expired();
  deadline_.disarm();
  if (stop_) {
    state_ = state::stopped;
  } else if (r == relay_result::done) {
    state_ = state::done;
  } else if (r == relay_result::write_failed) {
    state_ = state::write_failed;
  } else {
    state_ = timed_out                        ? state::timed_out
             : r == relay_result::bad_message ? state::bad_request
                                              : state::client_gone;
    close_io(*to_);
  }
  if (!stop_) on_end_.run(on_end_.ctx);
  done_.cancel();
}

task<void> body_pump::stop() {
  if (state_ != state::running) co_return;
  stop_ = true;
  cancel_io(*from_);
  cancel_io(*to_);
  while (state_ == state::running) co_await done_.async_wait(nothrow);
}

}  // namespace laneproxy::net
