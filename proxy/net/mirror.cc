#include "net/mirror.h"

#include <array>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "net/relay.h"
#include "route/request_view.h"

namespace laneproxy::net {

namespace {

struct mirror_exchange {
  explicit mirror_exchange(worker& w)
      : owner(w), socket(w.context()), deadline(w.deadlines(), &mirror_exchange::expired, this) {
    ++owner.mirrors_in_flight();
  }
  ~mirror_exchange() { --owner.mirrors_in_flight(); }
  mirror_exchange(const mirror_exchange&) = delete;
  mirror_exchange& operator=(const mirror_exchange&) = delete;

  static void expired(void* self) {
    error_code ignored;
    static_cast<mirror_exchange*>(self)->socket.cancel(ignored);
  }

  worker& owner;
  socket_type socket;
  deadline_sweep::entry deadline;
  std::string head;
  std::array<char, 4096> sink{};
};

task<void> run(std::unique_ptr<mirror_exchange> m, tcp::endpoint endpoint,
               config::proxy_timeouts t) {
  m->deadline.arm(t.connect);
  auto [ec] = co_await m->socket.async_connect(endpoint, nothrow);
  if (ec) co_return;
  m->socket.non_blocking(true, ec);
  std::array<asio::const_buffer, 1> out{asio::buffer(m->head)};
  if (!co_await write_all(m->socket, out, m->deadline, t.idle)) co_return;
  // The answer is read (so that the upstream can finish) and dropped.
  std::size_t read = 0;
  while (read < (1u << 20)) {
    m->deadline.arm(t.idle);
    auto [rec, n] = co_await m->socket.async_read_some(asio::buffer(m->sink), nothrow);
    if (rec) break;
    read += n;
  }
}

}  // namespace

bool start_mirror(worker& w, const tcp::endpoint& endpoint, std::string head,
                  const config::proxy_timeouts& timeouts) {
  if (w.mirrors_in_flight() >= max_mirrors_in_flight) return false;
  auto m = std::make_unique<mirror_exchange>(w);
  m->head = std::move(head);
  asio::co_spawn(w.context(), run(std::move(m), endpoint, timeouts), asio::detached);
  return true;
}

std::string shadow_authority(std::string_view authority) {
  const auto [host, port] = route::split_authority(authority);
  std::string out(host);
  out += "-shadow";
  if (!port.empty()) {
    out += ':';
    out += port;
  }
  return out;
}

}  // namespace laneproxy::net
