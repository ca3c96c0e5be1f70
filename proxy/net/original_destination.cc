#include "net/original_destination.h"

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace laneproxy::net {

std::optional<config::socket_address> original_destination(socket_type& s) {
  error_code ec;
  const auto local = s.local_endpoint(ec);
  if (ec) return std::nullopt;
  sockaddr_storage dst{};
  socklen_t len = sizeof dst;
  const bool v6 = local.address().is_v6();
  if (getsockopt(s.native_handle(), v6 ? SOL_IPV6 : SOL_IP,
                 v6 ? IP6T_SO_ORIGINAL_DST : SO_ORIGINAL_DST, &dst, &len) != 0) {
    return std::nullopt;
  }
  char text[INET6_ADDRSTRLEN] = {};
  std::uint16_t port = 0;
  if (dst.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(dst);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    port = ntohs(in.sin_port);
  } else if (dst.ss_family == AF_INET6) {
    const auto& in = reinterpret_cast<const sockaddr_in6&>(dst);
    inet_ntop(AF_INET6, &in.sin6_addr, text, sizeof text);
    port = ntohs(in.sin6_port);
  } else {
    return std::nullopt;
  }
  const std::string ip(text);
  auto out = config::parse_socket_address((dst.ss_family == AF_INET6 ? "[" + ip + "]" : ip) + ":" +
                                          std::to_string(port));
  if (!out || endpoint_of(*out) == local) return std::nullopt;
  return out;
}

task<bool> pass_through(const tunnel_side& down, socket_type& up, const tcp::endpoint& to,
                        deadline_sweep::entry& deadline, std::chrono::milliseconds connect_timeout,
                        std::chrono::milliseconds idle, std::uint64_t& received) {
  deadline.arm(connect_timeout);
  auto [ec] = co_await up.async_connect(to, nothrow);
  deadline.disarm();
  if (ec) co_return false;
  error_code ignored;
  up.set_option(tcp::no_delay(true), ignored);
  up.non_blocking(true, ignored);
  io_buffer up_buf(0);
  co_await tunnel(down, {up, up_buf, received}, deadline, idle);
  co_return true;
}

}  // namespace laneproxy::net
