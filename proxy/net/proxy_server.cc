#include "net/proxy_server.h"

#include <cstdio>

#include <unistd.h>

#include <random>
#include <system_error>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/proxy_session.h"

namespace laneproxy::net {

struct proxy_server::listener {
  listener(asio::io_context& ctx, dataplane::listener_role r)
      : role(r), acceptor(ctx), retry(ctx) {}
  dataplane::listener_role role;
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // backs off after accept errors (out of descriptors)
  std::uint16_t port = 0;
};

proxy_server::proxy_server(unsigned concurrency,
                           std::shared_ptr<const dataplane::proxy_config> initial,
                           std::optional<std::uint64_t> seed, metrics::proxy_metrics* metrics,
                           metrics::access_log_format access_log)
    : shared_(std::move(initial)) {
  shared_.metrics = metrics;
  shared_.access_log = access_log;
  if (access_log != metrics::access_log_format::off) {
    shared_.access_log_sink = std::make_unique<metrics::access_log_sink>();
  }
  std::random_device os;
  for (unsigned i = 0; i < std::max(1u, concurrency); ++i) {
    const std::uint64_t s = seed ? *seed + i : (std::uint64_t{os()} << 32) | os();
    workers_.push_back(std::make_unique<worker>(shared_, s));
  }
}

proxy_server::~proxy_server() {
  for (auto& w : workers_) w->context().stop();
  join();
}

tcp::endpoint proxy_server::listen(dataplane::listener_role role,
                                   const config::socket_address& address) {
  auto l = std::make_unique<listener>(workers_.front()->context(), role);
  boost::system::error_code ec;
  const tcp::endpoint wanted(asio::ip::make_address(address.ip, ec), address.port);
  if (!ec) l->acceptor.open(wanted.protocol(), ec);
  if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) l->acceptor.bind(wanted, ec);
  if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + address.text());
  const auto bound = l->acceptor.local_endpoint();
  l->port = bound.port();
  listeners_.push_back(std::move(l));
  return bound;
}

void proxy_server::accept_next(listener& l) {
  auto& home = *workers_.front();
  l.acceptor.async_accept(
      home.context(), [this, &l, &home](boost::system::error_code ec, socket_type socket) {
        if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) return;
        if (ec) {
          l.retry.expires_after(std::chrono::milliseconds(50));
          l.retry.async_wait([this, &l](boost::system::error_code) {
            if (l.acceptor.is_open()) accept_next(l);
          });
          return;
        }
        const auto limit = shared_.configs.load()->limits().max_downstream_connections;
        if (shared_.open_connections.load(std::memory_order_relaxed) >= limit) {
          socket.close(ec);  // over the limit: refuse rather than queue
        } else {
          auto& target = *workers_[next_worker_++ % workers_.size()];
          if (&target == &home) {
            start_session(std::move(socket), target, l.role, l.port);
          } else {
            hand_over(std::move(socket), target, l.role, l.port);
          }
        }
        accept_next(l);
      });
}

namespace {
// A descriptor between two workers: closed unless a worker adopts it (the
// handler that carries it may be dropped when the target stops first).
class loose_fd {
 public:
  explicit loose_fd(int fd) : fd_(fd) {}
  loose_fd(loose_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  loose_fd& operator=(loose_fd&&) = delete;
  ~loose_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  void release() { fd_ = -1; }

 private:
  int fd_;
};
}  // namespace

void proxy_server::hand_over(socket_type socket, worker& target, dataplane::listener_role role,
                             std::uint16_t port) {
  // A worker's sockets are registered with its own reactor and used from its
  // own thread only (its io_context skips the reactor's per-socket locks):
  // the descriptor leaves this worker and is adopted on the target's thread.
  boost::system::error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  const int raw = socket.release(ec);
  if (ec) return;
  loose_fd fd(raw);
  asio::post(target.context(), [&target, protocol, fd = std::move(fd), role, port]() mutable {
    socket_type adopted(target.context());
    boost::system::error_code aec;
    adopted.assign(protocol, fd.get(), aec);
    if (aec) return;  // `fd` closes it
    fd.release();     // the socket owns it now
    start_session(std::move(adopted), target, role, port);
  });
}

namespace {
// Writes each worker's buffered access-log lines at least every 250 ms.
void flush_every(asio::steady_timer& timer, worker& w) {
  timer.expires_after(std::chrono::milliseconds(250));
  timer.async_wait([&timer, &w](boost::system::error_code ec) {
    if (ec) return;
    w.access_log().flush();
    flush_every(timer, w);
  });
}
}  // namespace

void proxy_server::start() {
  for (auto& l : listeners_) accept_next(*l);
  health_ = std::make_unique<health_checker>(workers_.front()->context(), shared_.configs);
  health_->start();
  if (shared_.access_log != metrics::access_log_format::off) {
    for (auto& w : workers_) {
      flush_timers_.push_back(std::make_unique<asio::steady_timer>(w->context()));
      flush_every(*flush_timers_.back(), *w);
    }
  }
  for (auto& w : workers_) {
    threads_.emplace_back([w = w.get()] {
      auto& ctx = w->context();
      auto guard = asio::make_work_guard(ctx);
      const io_ring::thread_binding binding(w->ring());
      // Sessions catch their own exceptions; this is the last line, so that
      // no handler's failure ever ends the process.
      for (;;) {
        try {
          ctx.run();
          break;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "laneproxy: worker: handler failed: %s\n", e.what());
        }
      }
      w->close_ring();
    });
  }
}

std::string proxy_server::io_description() const {
  const auto& w = *workers_.front();
  if (w.on_ring()) return "io_uring";
  return w.ring_refused().empty() ? "epoll" : "epoll (" + w.ring_refused() + ")";
}

void proxy_server::publish(std::shared_ptr<const dataplane::proxy_config> config) {
  shared_.configs.publish(std::move(config));
}

void proxy_server::shutdown(std::chrono::milliseconds drain) {
  shared_.draining.store(true);
  asio::post(workers_.front()->context(), [this] {
    for (auto& l : listeners_) {
      boost::system::error_code ignored;
      l->acceptor.close(ignored);
      l->retry.cancel();
    }
  });
  // Idle keep-alive connections do not hold the drain up: only requests do.
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (shared_.active_requests.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& w : workers_) w->context().stop();
}

void proxy_server::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  for (auto& w : workers_) w->access_log().flush();
}

}  // namespace laneproxy::net
