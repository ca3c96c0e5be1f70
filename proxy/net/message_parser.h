// HTTP/1.1 message parsing for the proxy: Beast's grammar (basic_parser),
// with every part of a message bounded and nothing thrown.
//
// The header goes into the connection's header_arena (see http_headers.h);
// the body goes, piece by piece, into a buffer the caller lends with
// body_buffer(), as Beast's buffer_body does: no body is held whole.
//
// Limits, each answered with an error code rather than an exception or
// unbounded memory:
//   - the header block: `header_limit` bytes (http::error::header_limit);
//   - one field's name or value: 65,000 bytes, whatever the header limit
//     (Beast's field container cannot hold more and would throw);
//   - the trailer section of a chunked body: `header_limit` bytes as well
//     (http::error::header_limit); its fields are kept as header lines
//     (trailers()) for the next hop, but for framing and hop-by-hop names;
//   - one chunk's extensions: max_chunk_extension bytes
//     (http::error::bad_chunk_extension); they are dropped too.
// The bytes a chunk-size line or a trailer occupies while incomplete are
// bounded by the caller's read buffer (io_buffer), not here.
//
// The caller drives put() as Beast requires: after need_more, the next call
// passes the same unconsumed bytes followed by more. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/beast/http/basic_parser.hpp>

#include "net/http_headers.h"
#include "net/io_buffer.h"

namespace laneproxy::net {

inline constexpr std::size_t max_field_bytes = 65000;
inline constexpr std::size_t max_chunk_extension = 4096;

template <bool is_request>
class message_parser : public http::basic_parser<is_request> {
 public:
  using header_type = http::header<is_request, fields>;
  using error_code = boost::system::error_code;

  message_parser(header_arena& arena, std::uint32_t header_limit);

  header_type& get() { return header_; }
  const header_type& get() const { return header_; }

  // Lends [data, data + size) for the body bytes the next put() decodes.
  void body_buffer(char* data, std::size_t size) {
    body_data_ = data;
    body_left_ = size;
  }
  // Bytes of the lent buffer not yet written.
  std::size_t body_left() const { return body_left_; }

  // The message had a Transfer-Encoding header (chunked or not).
  bool has_transfer_encoding() const { return has_transfer_encoding_; }
  // How many Host headers the message had.
  std::size_t host_count() const { return host_count_; }
  // A chunked body's next bytes are a chunk-size line.
  bool at_chunk_line() const { return at_chunk_line_; }
  // The trailer fields read so far, as "Name: value\r\n" lines.
  const std::string& trailers() const { return trailers_; }

  // parse_some() calls put() again after need_more only once the buffer
  // holds this many bytes: more than before, and at least 5 (Beast asserts
  // that much once it is inside a trailer section).
  std::size_t min_put = 0;

 private:
  void on_request_impl(http::verb method, boost::beast::string_view method_str,
                       boost::beast::string_view target, int version, error_code& ec) override;
  void on_response_impl(int code, boost::beast::string_view reason, int version,
                        error_code& ec) override;
  void on_field_impl(http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                            error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                 error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  header_type header_;
  std::string trailers_;
  char* body_data_ = nullptr;
  std::size_t body_left_ = 0;
  std::size_t trailer_budget_;
  std::size_t host_count_ = 0;
  bool header_done_ = false;
  bool at_chunk_line_ = false;
  bool has_transfer_encoding_ = false;
};

using request_parser = message_parser<true>;
using response_parser = message_parser<false>;

// Parses what `buf` holds into `p`, consuming what it used. A parser that
// throws (out of memory) reads as a malformed message. After need_more it
// answers need_more at once until more bytes have come (see min_put).
template <bool is_request>
boost::system::error_code parse_some(message_parser<is_request>& p, io_buffer& buf);

// One step of decoding a body, as a relay takes it: parses what `buf` holds
// into [chunk, chunk + size).
enum class body_step {
  decoded,    // `decoded` bytes (0: only framing was consumed) are in chunk
  need_more,  // nothing parsable is buffered: read more and append it
  done,       // the message is complete (`decoded` may still hold its last bytes)
  bad,        // malformed framing or over a limit
};
template <bool is_request>
body_step decode_body(message_parser<is_request>& p, io_buffer& buf, char* chunk, std::size_t size,
                      std::size_t& decoded);

}  // namespace laneproxy::net

// Compiled once, in message_parser.cc.
extern template class boost::beast::http::basic_parser<true>;
extern template class boost::beast::http::basic_parser<false>;

namespace laneproxy::net {

extern template class message_parser<true>;
extern template class message_parser<false>;
extern template boost::system::error_code parse_some(message_parser<true>&, io_buffer&);
extern template boost::system::error_code parse_some(message_parser<false>&, io_buffer&);
extern template body_step decode_body(message_parser<true>&, io_buffer&, char*, std::size_t,
                                      std::size_t&);
extern template body_step decode_body(message_parser<false>&, io_buffer&, char*, std::size_t,
                                      std::size_t&);

}  // namespace laneproxy::net
