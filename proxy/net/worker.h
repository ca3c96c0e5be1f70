// The concurrency model, in one place.
//
// A proxy runs N workers (`--concurrency`, default one per core). Each
// worker is one thread running its own io_context; a connection, both its
// downstream and upstream sockets, lives on one worker from accept to close,
// so a request never crosses threads and per-worker state (upstream pool,
// random source, cached config) needs no lock. The acceptors run on worker 0
// and hand each new connection to the workers in turn.
//
// What workers share is in shared_state: the config source (lock-free
// reads), the permissive trace table (sharded locks), the admin handler and
// counters (atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "dataplane/config_source.h"
#include "dataplane/router.h"
#include "dataplane/trace_lane_table.h"
#include "metrics/access_log.h"
#include "metrics/proxy_metrics.h"
#include "net/deadline_sweep.h"
#include "net/h2_upstream.h"
#include "net/io_ring.h"
#include "net/upstream_pool.h"
#include "route/lane_selector.h"
#include "route/weighted_pick.h"

namespace laneproxy::net {

struct admin_response {
  unsigned status = 200;
  std::string content_type = "text/plain";
  std::string body;
};
// Answers a request to an admin, health or stats listener (its role, the
// method, the origin-form target). Called on worker threads: thread-safe.
using admin_handler =
    std::function<admin_response(dataplane::listener_role, std::string_view, std::string_view)>;

struct shared_state {
  explicit shared_state(std::shared_ptr<const dataplane::proxy_config> initial)
      : configs(initial),
        traces(initial->limits().trace_entries, initial->limits().trace_ttl),
        lane_changes(initial->limits().trace_entries, initial->limits().trace_ttl) {}

  dataplane::config_source configs;
  dataplane::trace_lane_table traces;
  // Trace ids whose chain left its lane below this sidecar (see
  // config::lane_changed_header); looked up only once one was noted.
  dataplane::trace_lane_table lane_changes;
  std::atomic<bool> any_lane_change{false};
  admin_handler admin;
  metrics::proxy_metrics* metrics = nullptr;  // nullptr: no metrics
  metrics::access_log_format access_log = metrics::access_log_format::off;
  std::unique_ptr<metrics::access_log_sink> access_log_sink;  // set when the log is on
  std::atomic<std::int64_t> open_connections{0};
  std::atomic<std::int64_t> active_requests{0};  // header read, response not yet done
  std::atomic<bool> draining{false};             // answer with Connection: close, accept no more
};

class worker {
 public:
  worker(shared_state& shared, std::uint64_t seed)
      : shared_(shared),
        pool_(shared.configs.load()->limits().idle_connections_per_endpoint,
              shared.configs.load()->timeouts().idle),
        random_(seed),
        access_log_(shared.access_log, shared.access_log_sink.get()) {
    if (shared.metrics) metrics_.emplace(*shared.metrics);
    ring_ = io_ring::open(context_, configured_io_backend(), ring_refused_);
    on_ring_ = ring_ != nullptr;
  }
  // Sessions still suspended in the ring's or the context's handlers are
  // destroyed first, while the pool, metrics and deadlines they use are all
  // still here.
  ~worker() {
    ring_.reset();
    context_.shutdown();
  }
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  asio::io_context& context() { return context_; }
  // The worker's io_uring, or nullptr: its sockets use epoll. The thread
  // that runs the context binds it (io_ring::thread_binding).
  io_ring* ring() const { return ring_.get(); }
  // Destroys the ring (see ~io_ring), on the thread that ran the context
  // once it has stopped: only the ring's submitting thread can drain it.
  void close_ring() { ring_.reset(); }
  // Whether the worker was set up with a ring (true after close_ring() too).
  bool on_ring() const { return on_ring_; }
  // Why io_uring was asked for and not set up; empty otherwise.
  const std::string& ring_refused() const { return ring_refused_; }
  deadline_sweep& deadlines() { return deadlines_; }
  shared_state& shared() { return shared_; }
  upstream_pool& pool() { return pool_; }
  h2_upstreams& h2() { return h2_; }
  route::random_source& random() { return random_; }
  route::smooth_state& smooth() { return smooth_; }
  // This worker's series cache, or nullptr when metrics are off.
  metrics::request_metrics* metrics() { return metrics_ ? &*metrics_ : nullptr; }
  metrics::access_log& access_log() { return access_log_; }
  // Mirrored requests this worker has in flight (net/mirror.h bounds them).
  unsigned& mirrors_in_flight() { return mirrors_in_flight_; }

  // The live config, refreshed only when a new one was published; then the
  // pool lets go of connections to endpoints the new config no longer has.
  const std::shared_ptr<const dataplane::proxy_config>& config() {
    const auto g = shared_.configs.generation();
    if (!config_ || g != generation_) {
      const bool changed = config_ != nullptr;
      config_ = shared_.configs.load();
      generation_ = g;
      if (changed) {
        std::vector<tcp::endpoint> keep;
        for (const auto& a : config_->endpoint_addresses()) keep.push_back(endpoint_of(a));
        pool_.retain(keep);
        smooth_.clear();  // the old rules' scores mean nothing to the new ones
      }
    }
    return config_;
  }

 private:
  // An io_context whose handlers can be destroyed before the worker's other
  // members are.
  struct context_type : asio::io_context {
    using asio::execution_context::shutdown;
    using asio::io_context::io_context;
  };

  shared_state& shared_;
  // One thread runs the context and uses its sockets (proxy_server hands
  // accepted descriptors over rather than sharing sockets): the reactor's
  // per-socket locks are skipped. Posting to it from other threads is safe.
  context_type context_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  deadline_sweep deadlines_{context_};
  std::unique_ptr<io_ring> ring_;
  std::string ring_refused_;
  bool on_ring_ = false;
  upstream_pool pool_;
  h2_upstreams h2_{context_};
  route::default_random_source random_;
  route::smooth_state smooth_;
  std::optional<metrics::request_metrics> metrics_;
  metrics::access_log access_log_;
  std::shared_ptr<const dataplane::proxy_config> config_;
  std::uint64_t generation_ = 0;
  unsigned mirrors_in_flight_ = 0;
};

}  // namespace laneproxy::net
