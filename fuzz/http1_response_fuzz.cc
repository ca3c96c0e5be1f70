// HTTP/1 responses as a session reads them from an upstream: a HEAD
// exchange or not (bit 7 of the first byte), any split into reads.
#include <cstdint>

#include "fuzz/http1_drive.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace laneproxy;
  if (size < 1) return 0;
  constexpr std::uint32_t header_limit = 8 * 1024;
  fuzz::feed in{data + 1, size - 1, std::size_t(data[0] % 64) + 1};
  net::header_arena arena;
  net::response_parser p(arena, header_limit);
  if (data[0] & 0x80) p.skip(true);
  net::io_buffer buf(header_limit + 4096);
  const auto r = fuzz::drive(p, buf, in);
  if (r.done && p.content_length() && !(data[0] & 0x80) && r.body_bytes != *p.content_length() &&
      p.get().result_int() >= 200 && p.get().result_int() != 204 && p.get().result_int() != 304) {
    std::abort();
  }
  return 0;
}
