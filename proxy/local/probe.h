// A blocking loopback check for the supervisor: does a port answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace laneproxy::local {

// True when a TCP connection to ip:port succeeds within `timeout`.
bool port_answers(const std::string& ip, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace laneproxy::local
