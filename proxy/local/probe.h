// Blocking checks of a local port, for the supervisor and `laneproxy probe`
// (a container's health check, where no curl is at hand).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace laneproxy::local {

// True when a TCP connection to ip:port succeeds within `timeout`.
bool port_answers(const std::string& ip, std::uint16_t port, std::chrono::milliseconds timeout);

// The status code of `GET path` on ip:port (HTTP/1.1, Connection: close),
// read within `timeout` all told; nullopt when there is no HTTP answer.
std::optional<unsigned> http_status(const std::string& ip, std::uint16_t port,
                                    const std::string& path, std::chrono::milliseconds timeout);

}  // namespace laneproxy::local
