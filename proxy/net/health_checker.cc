#include "net/health_checker.h"

#include <array>
#include <cstdio>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>

namespace laneproxy::net {

namespace {

using namespace boost::asio::experimental::awaitable_operators;

// Waits `timeout` on `timer`, then closes `s`: whatever `s` was waiting
// for ends in error.
task<void> close_after(asio::steady_timer& timer, socket_type& s,
                       std::chrono::milliseconds timeout) {
  timer.expires_after(timeout);
  auto [ec] = co_await timer.async_wait(nothrow);
  if (!ec) {
    error_code ignored;
    s.close(ignored);
  }
}

// Connects, and with a path sends a GET and reads the status line; the
// result, or why it failed.
task<std::string> check_once(socket_type& s, const tcp::endpoint& to,
                             const config::active_health_check& check) {
  auto [ec] = co_await s.async_connect(to, nothrow);
  if (ec) co_return "connect: " + ec.message();
  if (check.path.empty()) co_return "";
  const std::string request = "GET " + check.path +
                              " HTTP/1.1\r\nHost: " + to.address().to_string() +
                              "\r\nUser-Agent: laneproxy-health-check\r\nConnection: close\r\n\r\n";
  auto [wec, written] = co_await asio::async_write(s, asio::buffer(request), nothrow);
  if (wec) co_return "write: " + wec.message();
  std::array<char, 64> head{};
  std::size_t got = 0;
  while (got < 13) {
    auto [rec, n] =
        co_await s.async_read_some(asio::buffer(head.data() + got, head.size() - got), nothrow);
    if (rec) co_return "read: " + rec.message();
    got += n;
  }
  // "HTTP/1.1 200 OK" or "HTTP/1.1 200\r\n": Envoy expects 200 alone.
  const std::string_view status(head.data(), got);
  const bool ok = status.substr(0, 5) == "HTTP/" && status.substr(8, 4) == " 200" &&
                  (status[12] == ' ' || status[12] == '\r');
  if (!ok) co_return "status " + std::string(status.substr(9, 3));
  co_return "";
}

}  // namespace

health_checker::health_checker(asio::io_context& context, const dataplane::config_source& configs)
    : context_(context), configs_(configs) {}

void health_checker::start() {
  asio::co_spawn(context_, rounds(), asio::detached);
}

// Each round waits its interval first: the endpoints a proxy starts with
// are taken as healthy until the first (a pod starting beside it gets that
// long to listen).
task<void> health_checker::rounds() {
  asio::steady_timer every(context_);
  for (;;) {
    // Without a check, look again in a second: a reload may add one.
    const auto live = configs_.load();
    every.expires_after(live->health_check() ? live->health_check()->interval
                                             : std::chrono::milliseconds(1000));
    co_await every.async_wait(nothrow);
    const auto config = configs_.load();
    const auto& check = config->health_check();
    if (!check) continue;
    for (const auto& t : config->health_targets()) {
      asio::co_spawn(context_, probe(t.address, t.health, *check), asio::detached);
    }
  }
}

task<void> health_checker::probe(config::socket_address address,
                                 std::shared_ptr<dataplane::address_health> h,
                                 config::active_health_check check) {
  auto to = endpoint_of(address);
  if (check.port != 0) to.port(check.port);
  socket_type s(context_);
  asio::steady_timer timer(context_);
  const auto outcome = co_await (check_once(s, to, check) || close_after(timer, s, check.timeout));
  std::string failure = outcome.index() == 0 ? std::get<0>(outcome) : "timed out";
  error_code ignored;
  s.close(ignored);
  if (failure.empty()) {
    h->failures = 0;
    if (++h->successes >= check.healthy_threshold && !h->healthy.load()) {
      h->healthy.store(true);
      std::fprintf(stderr, "laneproxy: endpoint %s passes its health check again\n",
                   address.text().c_str());
    }
  } else {
    h->successes = 0;
    if (++h->failures >= check.unhealthy_threshold && h->healthy.load()) {
      h->healthy.store(false);
      std::fprintf(stderr,
                   "laneproxy: endpoint %s fails its health check (%s): no request goes to it "
                   "until it passes\n",
                   address.text().c_str(), failure.c_str());
    }
  }
}

}  // namespace laneproxy::net
