// laneproxy-mock's gRPC mode: a connection that opens with the HTTP/2
// preface is served as gRPC (over nghttp2, h2_connection.h). Any unary call
// is answered with one message, the same text the HTTP/1.1 mode answers:
//   "-> <app>(version: <version>, ip: <ip>)" + the upstream's answer
// where the upstream is called with the same method path over gRPC (through
// HTTP_PROXY when set, naming the upstream's authority), forwarding only
// the headers asked for (x-request-id). A failed upstream call appends
// nothing; a failing request (fail_percent) ends with INTERNAL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mock/mock_app.h"
#include "net/h2_connection.h"

namespace laneproxy::mock {

// A gRPC message frame (uncompressed) holding `message`.
std::string grpc_frame(std::string_view message);
// The first message of a gRPC body; nullopt when the body holds no whole
// uncompressed message.
std::optional<std::string> grpc_first_message(std::string_view body);

// Serves `socket` (its first bytes, the preface, still unread) until the
// connection ends. `ip`: the local address it arrived on; `requests`
// counts the app's requests (fail_percent picks among them).
net::task<void> serve_grpc(net::socket_type socket, std::string ip, const mock_options& o,
                           std::uint64_t& requests);

}  // namespace laneproxy::mock
