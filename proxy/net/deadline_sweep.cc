#include "net/deadline_sweep.h"

namespace laneproxy::net {

deadline_sweep::entry::entry(deadline_sweep& sweep, void (*on_expiry)(void*), void* ctx)
    : sweep_(&sweep), on_expiry_(on_expiry), ctx_(ctx) {
  sweep.link(*this);
}

deadline_sweep::entry::~entry() {
  if (sweep_) sweep_->unlink(*this);
}

deadline_sweep::deadline_sweep(boost::asio::io_context& context, std::chrono::milliseconds slack)
    : timer_(context), slack_(slack) {}

deadline_sweep::~deadline_sweep() {
  // Entries may outlive the sweep while their io_context is torn down.
  for (entry* e = head_; e;) {
    entry* next = e->next_;
    e->sweep_ = nullptr;
    e->prev_ = e->next_ = nullptr;
    e = next;
  }
}

void deadline_sweep::link(entry& e) {
  e.next_ = head_;
  if (head_) head_->prev_ = &e;
  head_ = &e;
  ++size_;
}

void deadline_sweep::unlink(entry& e) {
  if (e.prev_) e.prev_->next_ = e.next_;
  if (e.next_) e.next_->prev_ = e.prev_;
  if (head_ == &e) head_ = e.next_;
  e.prev_ = e.next_ = nullptr;
  --size_;
}

std::size_t deadline_sweep::expire(time_point now) {
  std::size_t fired = 0;
  for (entry* e = head_; e;) {
    entry* next = e->next_;  // an expiry may not unlink, but be safe
    if (e->at_ <= now) {
      e->at_ = time_point::max();
      e->expired_ = true;
      ++fired;
      e->on_expiry_(e->ctx_);
    }
    e = next;
  }
  return fired;
}

void deadline_sweep::wake_by(time_point at) {
  next_wake_ = at + slack_;
  const auto wait = next_wake_ - coarse_clock::now();
  timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_timer();
  });
}

void deadline_sweep::on_timer() {
  next_wake_ = time_point::max();
  expire(coarse_clock::now());
  auto earliest = time_point::max();
  for (const entry* e = head_; e; e = e->next_) earliest = std::min(earliest, e->at_);
  if (earliest != time_point::max()) wake_by(earliest);
}

}  // namespace laneproxy::net
