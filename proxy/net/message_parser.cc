#include "net/message_parser.h"

#include <algorithm>
#include <cstring>

#include <boost/system/errc.hpp>

namespace laneproxy::net {

namespace {
using boost::beast::string_view;

bool is_tchar(char c) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         extra.find(c) != std::string_view::npos;
}

// A Transfer-Encoding value every hop reads alike: a list of bare tokens
// (RFC 9112 7: no coding laneproxy relays takes parameters). Anything else
// could be read as chunked by one hop and not by the next.
// Names a trailer section may not carry on to the next hop.
bool trailer_allowed(http::field name) {
  switch (name) {
    case http::field::content_length:
    case http::field::transfer_encoding:
    case http::field::host:
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::te:
    case http::field::trailer:
    case http::field::upgrade:
    case http::field::proxy_connection:
      return false;
    default:
      return true;
  }
}

bool plain_coding_list(string_view value) {
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) ++i;
    std::size_t token = 0;
    while (i < value.size() && is_tchar(value[i])) ++i, ++token;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    if (i < value.size() && value[i] != ',') return false;
    if (token == 0 && i < value.size()) return false;
  }
  return true;
}
}  // namespace

template <bool is_request>
message_parser<is_request>::message_parser(header_arena& arena, std::uint32_t header_limit)
    : header_(arena_allocator<char>(arena)), trailer_budget_(header_limit) {
  this->header_limit(header_limit);
  this->body_limit(boost::none);  // bodies are streamed, never held whole
}

template <bool is_request>
void message_parser<is_request>::on_request_impl(http::verb method, string_view method_str,
                                                 string_view target, int version, error_code& ec) {
  if constexpr (is_request) {
    if (target.size() > max_field_bytes || method_str.size() > max_field_bytes) {
      ec = http::error::header_limit;
      return;
    }
    header_.target(target);
    if (method == http::verb::unknown) {
      header_.method_string(method_str);
    } else {
      header_.method(method);
    }
    header_.version(version);
  } else {
    (void)method, (void)method_str, (void)target, (void)version, (void)ec;
  }
}

template <bool is_request>
void message_parser<is_request>::on_response_impl(int code, string_view reason, int version,
                                                  error_code& ec) {
  if constexpr (!is_request) {
    if (reason.size() > max_field_bytes) {
      ec = http::error::header_limit;
      return;
    }
    header_.result(code);
    header_.version(version);
    header_.reason(reason);
  } else {
    (void)code, (void)reason, (void)version, (void)ec;
  }
}

template <bool is_request>
void message_parser<is_request>::on_field_impl(http::field name, string_view name_string,
                                               string_view value, error_code& ec) {
  if (header_done_) {
    // A trailer field: bounded like the header, kept as a line for the
    // next hop's last chunk (gRPC's status travels there). Framing and
    // hop-by-hop names are dropped (RFC 9110 6.5.1).
    const std::size_t bytes = name_string.size() + value.size() + 4;
    if (bytes > trailer_budget_) {
      ec = http::error::header_limit;
      return;
    }
    trailer_budget_ -= bytes;
    if (!trailer_allowed(name)) return;
    trailers_.append(name_string.data(), name_string.size());
    trailers_ += ": ";
    trailers_.append(value.data(), value.size());
    trailers_ += "\r\n";
    return;
  }
  if (name_string.size() > max_field_bytes || value.size() > max_field_bytes) {
    ec = http::error::header_limit;
    return;
  }
  if (name == http::field::host) ++host_count_;
  if (name == http::field::transfer_encoding) {
    if (!plain_coding_list(value)) {
      ec = http::error::bad_transfer_encoding;
      return;
    }
    has_transfer_encoding_ = true;
  }
  header_.insert(name, name_string, value);
}

template <bool is_request>
void message_parser<is_request>::on_header_impl(error_code&) {
  header_done_ = true;
}

template <bool is_request>
void message_parser<is_request>::on_body_init_impl(const boost::optional<std::uint64_t>&,
                                                   error_code&) {
  at_chunk_line_ = this->chunked();
}

template <bool is_request>
std::size_t message_parser<is_request>::on_body_impl(string_view body, error_code& ec) {
  if (body_left_ == 0) {
    ec = http::error::need_buffer;
    return 0;
  }
  const std::size_t n = std::min(body.size(), body_left_);
  std::memcpy(body_data_, body.data(), n);
  body_data_ += n;
  body_left_ -= n;
  if (n < body.size()) ec = http::error::need_buffer;
  return n;
}

template <bool is_request>
void message_parser<is_request>::on_chunk_header_impl(std::uint64_t, string_view extensions,
                                                      error_code& ec) {
  at_chunk_line_ = false;
  if (extensions.size() > max_chunk_extension) ec = http::error::bad_chunk_extension;
}

template <bool is_request>
std::size_t message_parser<is_request>::on_chunk_body_impl(std::uint64_t remain, string_view body,
                                                           error_code& ec) {
  const std::size_t n = on_body_impl(body, ec);
  if (n == remain) at_chunk_line_ = true;  // the chunk's data is all in: a size line is next
  return n;
}

template <bool is_request>
void message_parser<is_request>::on_finish_impl(error_code&) {}

namespace {
// True when Beast, asking for more at a chunk-size line, already has all it
// could need: the whole line of a chunk that is not the last, or the last
// chunk's line with the whole trailer section after it. It then asks only
// because a quoted extension runs past the line's end, and would scan it
// again with every read.
bool stalled_at_chunk_line(const io_buffer& buf) {
  const std::string_view data(static_cast<const char*>(buf.data().data()), buf.size());
  std::size_t at = 0;
  // Parsed bytes of the previous chunk's CRLF may still lead the buffer.
  if (data.substr(0, 2) == "\r\n") at = 2;
  const auto line_end = data.find("\r\n", at);
  if (line_end == std::string_view::npos) return false;  // the line is still coming
  const auto digits = data.find_first_not_of("0123456789abcdefABCDEF", at);
  const bool last = data.substr(at, digits - at).find_first_not_of('0') == std::string_view::npos;
  return !last || data.find("\r\n\r\n", line_end) != std::string_view::npos;
}
}  // namespace

template <bool is_request>
boost::system::error_code parse_some(message_parser<is_request>& p, io_buffer& buf) {
  if (buf.size() < p.min_put) return http::error::need_more;
  boost::system::error_code ec;
  std::size_t used = 0;
  try {
    used = p.put(buf.data(), ec);
  } catch (const std::exception&) {
    ec = boost::system::errc::make_error_code(boost::system::errc::not_enough_memory);
  }
  buf.consume(used);
  p.min_put = ec == http::error::need_more ? std::max<std::size_t>(buf.size() + 1, 5) : 0;
  return ec;
}

template <bool is_request>
body_step decode_body(message_parser<is_request>& p, io_buffer& buf, char* chunk, std::size_t size,
                      std::size_t& decoded) {
  p.body_buffer(chunk, size);
  const std::size_t before = buf.size();
  if (before > 0) {
    auto ec = parse_some(p, buf);
    if (ec == http::error::need_more && p.at_chunk_line() && stalled_at_chunk_line(buf)) {
      ec = http::error::bad_chunk_extension;  // (quadratic in the buffer otherwise)
    }
    if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
    if (ec) {
      decoded = 0;
      return body_step::bad;
    }
  }
  decoded = size - p.body_left();
  if (p.is_done()) return body_step::done;
  if (decoded > 0 || buf.size() < before) return body_step::decoded;
  return body_step::need_more;
}

}  // namespace laneproxy::net

template class boost::beast::http::basic_parser<true>;
template class boost::beast::http::basic_parser<false>;

namespace laneproxy::net {

template class message_parser<true>;
template class message_parser<false>;
template boost::system::error_code parse_some(message_parser<true>&, io_buffer&);
template boost::system::error_code parse_some(message_parser<false>&, io_buffer&);
template body_step decode_body(message_parser<true>&, io_buffer&, char*, std::size_t, std::size_t&);
template body_step decode_body(message_parser<false>&, io_buffer&, char*, std::size_t,
                               std::size_t&);

}  // namespace laneproxy::net
