// Per-connection deadlines for one worker, kept by one timer.
//
// Every read and write of a connection has a deadline, and a proxy moves a
// request with four of them. Arming a deadline here is a coarse clock read
// and two stores: no timer is armed and cancelled around each operation. The
// worker's one timer wakes at the earliest deadline (up to `slack` late, so
// that deadlines close together are handled in one wake-up), calls the
// expiry of every entry whose deadline has passed, and sleeps until the
// next one. A deadline fires at most `slack` plus one coarse clock tick
// (a few ms) late, and never early by more than one tick.
//
// Used only from the worker's thread: no locks.
#pragma once

#include <chrono>
#include <cstddef>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/coarse_clock.h"

namespace laneproxy::net {

class deadline_sweep {
 public:
  using time_point = coarse_clock::time_point;

  // One connection's deadline. Unarmed when constructed; unlinks itself
  // when destroyed. `on_expiry(ctx)` runs on the worker's thread when an
  // armed deadline passes (the entry is unarmed and marked expired first).
  class entry {
   public:
    entry(deadline_sweep& sweep, void (*on_expiry)(void*), void* ctx);
    ~entry();
    entry(const entry&) = delete;
    entry& operator=(const entry&) = delete;

    // Expires `d` from now (coarse); clears expired().
    void arm(std::chrono::milliseconds d) { arm_at(coarse_clock::now() + d); }
    void arm_at(time_point at);
    void disarm() { at_ = time_point::max(); }
    // The last armed deadline passed before it was re-armed.
    bool expired() const { return expired_; }

   private:
    friend class deadline_sweep;
    deadline_sweep* sweep_;  // null once the sweep is gone (worker shutdown)
    void (*on_expiry_)(void*);
    void* ctx_;
    entry* prev_ = nullptr;
    entry* next_ = nullptr;
    time_point at_ = time_point::max();
    bool expired_ = false;
  };

  explicit deadline_sweep(boost::asio::io_context& context,
                          std::chrono::milliseconds slack = std::chrono::milliseconds(5));
  ~deadline_sweep();
  deadline_sweep(const deadline_sweep&) = delete;
  deadline_sweep& operator=(const deadline_sweep&) = delete;

  // Fires every entry whose deadline is at or before `now`; returns how many
  // fired. The timer calls it; tests call it with the time they choose.
  std::size_t expire(time_point now);

  std::size_t size() const { return size_; }

 private:
  void link(entry& e);
  void unlink(entry& e);
  // Makes the timer wake at `at` + slack unless it already wakes earlier.
  void wake_by(time_point at);
  void on_timer();

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds slack_;
  entry* head_ = nullptr;
  std::size_t size_ = 0;
  time_point next_wake_ = time_point::max();  // max: the timer is not set
};

inline void deadline_sweep::entry::arm_at(time_point at) {
  at_ = at;
  expired_ = false;
  if (at < sweep_->next_wake_) sweep_->wake_by(at);
}

}  // namespace laneproxy::net
