// Drives a message_parser over fuzzer input the way a session does: bytes
// arrive in reads of arbitrary sizes into a bounded io_buffer; the header
// is parsed with repeated put() after need_more, then the body is decoded
// step by step into a block, reading more whenever a step needs it. A
// close-delimited body ends at the input's end.
//
// The first input byte picks the read sizes, so that the fuzzer explores
// every split of the same message.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "net/message_parser.h"

namespace laneproxy::fuzz {

struct feed {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t read_size;

  // Appends the next read to `buf`; false at the end of the input, or when
  // the buffer is full (a session answers that with an error).
  bool read_into(net::io_buffer& buf, bool& overflow) {
    if (size == 0) return false;
    const auto space = buf.prepare();
    if (space.size() == 0) {
      overflow = true;
      return false;
    }
    const std::size_t n = std::min({size, read_size, space.size()});
    std::memcpy(space.data(), data, n);
    buf.commit(n);
    data += n;
    size -= n;
    return true;
  }
};

struct drive_result {
  bool header = false;  // a complete header was parsed
  bool done = false;    // the whole message was parsed
  std::uint64_t body_bytes = 0;
};

template <bool is_request>
drive_result drive(net::message_parser<is_request>& p, net::io_buffer& buf, feed& in) {
  drive_result r;
  bool overflow = false;
  for (;;) {
    const auto ec = net::parse_some(p, buf);
    if (!ec) break;
    if (ec != boost::beast::http::error::need_more) return r;
    if (!in.read_into(buf, overflow)) return r;
  }
  r.header = true;
  std::vector<char> chunk(net::block_size);
  for (int guard = 0; guard < 1'000'000 && !p.is_done(); ++guard) {
    std::size_t n = 0;
    const auto step = net::decode_body(p, buf, chunk.data(), chunk.size(), n);
    r.body_bytes += n;
    if (step == net::body_step::bad) return r;
    if (step != net::body_step::need_more) continue;
    if (in.read_into(buf, overflow)) continue;
    if (overflow || !p.need_eof()) return r;
    boost::system::error_code ec;
    p.put_eof(ec);
    if (ec) return r;
  }
  r.done = p.is_done();
  return r;
}

}  // namespace laneproxy::fuzz
