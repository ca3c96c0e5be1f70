#include "net/cluster_gate.h"

#include <algorithm>

#include <boost/asio/post.hpp>

namespace laneproxy::net {

namespace {

// A waiter outlives its coroutine when the slot is handed over just as it
// gives up: the hand-over then runs on a timer nobody waits for.
struct waiting_request {
  explicit waiting_request(asio::io_context& c) : timer(c) {}
  asio::steady_timer timer;
  bool granted = false;
};

constexpr auto relaxed = std::memory_order_relaxed;

}  // namespace

gate_result cluster_gate::try_acquire(const dataplane::endpoint_set& set) {
  const auto* limits = set.limits();
  if (!limits || (!limits->max_requests && !limits->max_connections)) return gate_result::taken;
  const auto& cluster = set.cluster_ptr();
  if (limits->max_requests) {
    if (cluster->requests.fetch_add(1, relaxed) >= *limits->max_requests) {
      cluster->requests.fetch_sub(1, relaxed);
      return gate_result::overflow;
    }
    request_ = true;
  }
  cluster_ = cluster;
  if (!limits->max_connections) return gate_result::taken;
  std::lock_guard lock(cluster->mutex);
  if (cluster->waiting.empty() && cluster->busy.load(relaxed) < *limits->max_connections) {
    cluster->busy.fetch_add(1, relaxed);
    connection_ = true;
    return gate_result::taken;
  }
  return gate_result::must_wait;
}

task<gate_result> cluster_gate::wait(const dataplane::endpoint_set& set,
                                     std::chrono::milliseconds timeout) {
  const auto& limits = *set.limits();
  auto cluster = set.cluster_ptr();
  auto waiter = std::make_shared<waiting_request>(context_);
  std::uint64_t id = 0;
  {
    std::lock_guard lock(cluster->mutex);
    if (cluster->waiting.empty() && cluster->busy.load(relaxed) < *limits.max_connections) {
      cluster->busy.fetch_add(1, relaxed);  // freed since try_acquire
      connection_ = true;
      co_return gate_result::taken;
    }
    if (cluster->waiting.size() >= limits.max_pending.value_or(UINT32_MAX)) {
      co_return gate_result::overflow;
    }
    id = cluster->next_waiter++;
    cluster->waiting.push_back({id, [waiter] {
                                  asio::post(waiter->timer.get_executor(), [waiter] {
                                    waiter->granted = true;
                                    waiter->timer.cancel();
                                  });
                                }});
  }
  // Leaves the queue however the wait ends, the frame's destruction
  // included; true when the request was still in it (not handed a slot).
  struct queued {
    dataplane::cluster_state& cluster;
    std::uint64_t id;
    bool left = false;
    bool leave() {
      left = true;
      std::lock_guard lock(cluster.mutex);
      const auto it = std::find_if(cluster.waiting.begin(), cluster.waiting.end(),
                                   [this](const auto& w) { return w.id == id; });
      if (it == cluster.waiting.end()) return false;
      cluster.waiting.erase(it);
      return true;
    }
    ~queued() {
      if (!left) leave();
    }
  } in_queue{*cluster, id};
  waiter->timer.expires_after(timeout);
  co_await waiter->timer.async_wait(nothrow);
  // Not granted and still queued: timed out. Handed over just as the time
  // ran out: the slot is this request's.
  if (!waiter->granted && in_queue.leave()) co_return gate_result::timed_out;
  in_queue.left = true;
  connection_ = true;
  co_return gate_result::taken;
}

void cluster_gate::count_at(const dataplane::endpoint_set& set, const config::socket_address& e) {
  if (!set.counts_active()) return;
  if (active_) active_->active.fetch_sub(1, relaxed);
  active_ = set.state_ptr(e);
  active_->active.fetch_add(1, relaxed);
}

bool cluster_gate::take_retry(const dataplane::endpoint_set& set) {
  const auto* limits = set.limits();
  if (!limits || !limits->max_retries) return true;
  auto cluster = set.cluster_ptr();
  if (cluster->retries.fetch_add(1, relaxed) >= *limits->max_retries) {
    cluster->retries.fetch_sub(1, relaxed);
    return false;
  }
  cluster_ = std::move(cluster);  // the request's own cluster, whatever it holds of it
  ++retries_;
  return true;
}

void cluster_gate::release() {
  if (active_) {
    active_->active.fetch_sub(1, relaxed);
    active_.reset();
  }
  if (!cluster_) return;
  if (request_) cluster_->requests.fetch_sub(1, relaxed);
  if (retries_ != 0) cluster_->retries.fetch_sub(retries_, relaxed);
  if (connection_) release_connection();
  request_ = connection_ = false;
  retries_ = 0;
  cluster_.reset();
}

// The slot goes to the first waiter when there is one, else back.
void cluster_gate::release_connection() {
  std::function<void()> wake;
  {
    std::lock_guard lock(cluster_->mutex);
    if (cluster_->waiting.empty()) {
      cluster_->busy.fetch_sub(1, relaxed);
      return;
    }
    wake = std::move(cluster_->waiting.front().wake);
    cluster_->waiting.pop_front();
  }
  wake();
}

}  // namespace laneproxy::net
