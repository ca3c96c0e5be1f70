// HTTP/1 requests as a session reads and rewrites them. Besides finding
// crashes, leaks and undefined behaviour, it checks the proxy's framing
// promise: the header a request is forwarded with, parsed again, frames
// the body exactly as the proxy read it (no smuggling through rewriting).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz/http1_drive.h"
#include "net/http_headers.h"

namespace {
using namespace laneproxy;
namespace http = boost::beast::http;

constexpr std::uint32_t header_limit = 8 * 1024;

void check_forwarded_framing(net::request_parser& p) {
  auto& req = p.get();
  const auto length = p.content_length();
  const bool chunked = p.chunked();
  const std::string codings = p.has_transfer_encoding() ? net::transfer_codings(req) : "";
  net::strip_hop_by_hop(req);
  net::set_framing(req,
                   chunked  ? net::framing::chunked
                   : length ? net::framing::content_length
                            : net::framing::none,
                   length.value_or(0), codings);
  std::string head;
  net::serialize_head(req, head);

  net::header_arena arena;
  net::request_parser again(arena, 1 << 20);
  net::io_buffer buf(head.size() + 16);
  auto space = buf.prepare();
  std::memcpy(space.data(), head.data(), head.size());
  buf.commit(head.size());
  const auto ec = net::parse_some(again, buf);
  // Fields the first parse accepted may be rejected when repeated in one
  // header (a Transfer-Encoding list); what parses must frame alike.
  if (ec) return;
  if (again.chunked() != chunked) std::abort();
  if (!chunked && again.content_length() != length) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  fuzz::feed in{data + 1, size - 1, std::size_t(data[0] % 64) + 1};
  net::header_arena arena;
  net::request_parser p(arena, header_limit);
  net::io_buffer buf(header_limit + 4096);
  const auto r = fuzz::drive(p, buf, in);
  if (r.done && p.content_length() && r.body_bytes != *p.content_length()) std::abort();
  if (r.header) check_forwarded_framing(p);
  return 0;
}
