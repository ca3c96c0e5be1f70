// A running proxy: its workers, its listeners and what they share.
//
// Lifecycle: construct, listen() for each listener (binding happens here,
// so a port in use fails before anything starts), start(), and later
// shutdown() + join(). publish() swaps the live config at any time.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/bootstrap.h"
#include "dataplane/proxy_config.h"
#include "dataplane/router.h"
#include "net/health_checker.h"
#include "net/worker.h"

namespace laneproxy::net {

class proxy_server {
 public:
  // `concurrency` workers (at least one). Worker i's random source is seeded
  // with seed + i when a seed is given (reproducible splits), else from the OS.
  // `metrics` (may be null: none) must outlive the server.
  proxy_server(unsigned concurrency, std::shared_ptr<const dataplane::proxy_config> initial,
               std::optional<std::uint64_t> seed = std::nullopt,
               metrics::proxy_metrics* metrics = nullptr,
               metrics::access_log_format access_log = metrics::access_log_format::off);
  ~proxy_server();
  proxy_server(const proxy_server&) = delete;
  proxy_server& operator=(const proxy_server&) = delete;

  void set_admin(admin_handler handler) { shared_.admin = std::move(handler); }

  // Binds a listener; returns the bound endpoint (port 0 gets a free port).
  // Throws std::system_error naming the address when it cannot bind.
  tcp::endpoint listen(dataplane::listener_role role, const config::socket_address& address);

  void start();
  void publish(std::shared_ptr<const dataplane::proxy_config> config);

  // Stops accepting and answers further requests with Connection: close;
  // waits until no request is in flight or `drain` has passed, then stops
  // the workers. Thread-safe; call once.
  void shutdown(std::chrono::milliseconds drain);
  void join();

  shared_state& shared() { return shared_; }
  // The workers' socket I/O: "io_uring", "epoll", or "epoll (why io_uring
  // could not be set up)".
  std::string io_description() const;

 private:
  struct listener;
  void accept_next(listener& l);
  void hand_over(socket_type socket, worker& target, dataplane::listener_role role,
                 std::uint16_t port);

  shared_state shared_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::unique_ptr<listener>> listeners_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<asio::steady_timer>> flush_timers_;
  std::unique_ptr<health_checker> health_;
  std::size_t next_worker_ = 0;
};

}  // namespace laneproxy::net
