#include "net/upstream_pool.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace laneproxy::net {

namespace {
// An idle HTTP/1.1 connection has nothing to read: readable means the
// upstream closed it (or sent bytes nobody asked for). One non-blocking
// peek, no state kept between uses.
bool still_open(socket_type& s) {
  char byte;
  const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
}  // namespace

std::optional<upstream_pool::pooled> upstream_pool::take(const tcp::endpoint& endpoint,
                                                         clock::time_point now) {
  const auto it = idle_.find(endpoint);
  if (it == idle_.end()) return std::nullopt;
  auto& list = it->second;
  while (!list.empty()) {
    auto c = std::move(list.back());
    list.pop_back();
    // Checked every time, however recently it was used: bytes that came
    // after its last response (an extra response, a HEAD answered with a
    // body) must never reach the next client.
    if (now < c.expires && still_open(c.socket)) return pooled{std::move(c.socket), c.past};
    boost::system::error_code ignored;
    c.socket.close(ignored);
  }
  return std::nullopt;
}

void upstream_pool::give(const tcp::endpoint& endpoint, socket_type socket, clock::time_point now,
                         history past, std::chrono::milliseconds idle_timeout) {
  auto& list = idle_[endpoint];
  if (list.size() >= max_idle_) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  list.push_back(
      {std::move(socket), now + (idle_timeout.count() > 0 ? idle_timeout : idle_timeout_), past});
}

void upstream_pool::retain(const std::vector<tcp::endpoint>& keep) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (std::find(keep.begin(), keep.end(), it->first) != keep.end()) {
      ++it;
      continue;
    }
    for (auto& c : it->second) {
      boost::system::error_code ignored;
      c.socket.close(ignored);
    }
    it = idle_.erase(it);
  }
}

std::size_t upstream_pool::idle_count() const {
  std::size_t n = 0;
  for (const auto& [ep, list] : idle_) n += list.size();
  return n;
}

}  // namespace laneproxy::net
