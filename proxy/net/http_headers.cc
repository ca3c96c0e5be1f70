#include "net/http_headers.h"

#include <algorithm>
#include <vector>

#include "config/ascii.h"

namespace laneproxy::net {

namespace {
// Calls fn(token) for each element of a comma-separated header list, with
// optional whitespace trimmed and empty elements skipped (RFC 9110 5.6.1).
template <class Fn>
void for_each_token(const fields& headers, http::field name, Fn fn) {
  const auto range = headers.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view v = it->value();
    while (!v.empty()) {
      const auto comma = v.find(',');
      auto token = v.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
        token.remove_prefix(1);
      }
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (!token.empty()) fn(token);
      v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
  }
}
}  // namespace

namespace {
bool hop_by_hop(http::field f) {
  switch (f) {
    case http::field::connection:
    case http::field::content_length:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
      return true;
    default:
      return false;
  }
}
}  // namespace

std::string websocket_upgrade(const fields& headers, bool has_body) {
  if (has_body) return {};
  bool listed = false, websocket = false;
  for_each_token(headers, http::field::connection, [&](std::string_view token) {
    listed |= config::ascii_iequals(token, "upgrade");
  });
  for_each_token(headers, http::field::upgrade, [&](std::string_view token) {
    websocket |= config::ascii_iequals(token, "websocket");
  });
  return listed && websocket ? std::string(headers[http::field::upgrade]) : std::string();
}

std::optional<std::chrono::milliseconds> grpc_timeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  std::uint64_t n = 0;
  for (const char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  // Nanoseconds per unit.
  std::uint64_t unit = 0;
  switch (value.back()) {
    case 'H':
      unit = 3600'000'000'000;
      break;
    case 'M':
      unit = 60'000'000'000;
      break;
    case 'S':
      unit = 1'000'000'000;
      break;
    case 'm':
      unit = 1'000'000;
      break;
    case 'u':
      unit = 1'000;
      break;
    case 'n':
      unit = 1;
      break;
    default:
      return std::nullopt;
  }
  const auto ns = static_cast<long double>(n) * static_cast<long double>(unit);
  const auto ms = static_cast<std::int64_t>((ns + 999'999) / 1'000'000);
  return std::chrono::milliseconds(std::max<std::int64_t>(ms, 1));
}

int grpc_status_value(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty() || value.size() > 2) return -1;
  int code = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return -1;
    code = code * 10 + (c - '0');
  }
  return code;
}

void strip_hop_by_hop(fields& headers) {
  // Names listed in Connection are hop-by-hop too; copy them before erasing
  // because the list lives in the container.
  std::vector<std::string> listed;
  for_each_token(headers, http::field::connection, [&](std::string_view token) {
    if (!config::ascii_iequals(token, "host")) listed.emplace_back(token);
  });
  // One pass over the fields rather than a lookup per name.
  for (auto it = headers.begin(); it != headers.end();) {
    const bool drop = hop_by_hop(it->name()) ||
                      std::any_of(listed.begin(), listed.end(), [&](const std::string& n) {
                        return config::ascii_iequals(n, it->name_string());
                      });
    it = drop ? headers.erase(it) : std::next(it);
  }
}

std::string transfer_codings(const fields& headers) {
  std::vector<std::string_view> codings;
  for_each_token(headers, http::field::transfer_encoding,
                 [&](std::string_view token) { codings.push_back(token); });
  // The parser takes a message as chunked only when chunked comes last.
  if (!codings.empty() && config::ascii_iequals(codings.back(), "chunked")) codings.pop_back();
  std::string out;
  for (const auto c : codings) {
    if (!out.empty()) out += ", ";
    out += c;
  }
  return out;
}

void set_framing(fields& headers, framing f, std::uint64_t length, std::string_view codings) {
  switch (f) {
    case framing::none:
      return;
    case framing::content_length: {
      char digits[24];
      auto* end = digits + sizeof digits;
      auto* p = end;
      do {
        *--p = static_cast<char>('0' + length % 10);
        length /= 10;
      } while (length != 0);
      headers.set(http::field::content_length,
                  std::string_view(p, static_cast<std::size_t>(end - p)));
      return;
    }
    case framing::chunked:
      if (codings.empty()) {
        headers.set(http::field::transfer_encoding, "chunked");
      } else {
        std::string v(codings);
        v += ", chunked";
        headers.set(http::field::transfer_encoding, v);
      }
      return;
  }
}

void set_connection(fields& headers, unsigned version, bool keep_alive) {
  if (version >= 11 && !keep_alive) headers.set(http::field::connection, "close");
  if (version < 11 && keep_alive) headers.set(http::field::connection, "keep-alive");
}

void apply_header_operations(const config::header_operations& ops, fields& headers) {
  for (const auto& name : ops.remove) headers.erase(name);
  for (const auto& [name, value] : ops.set) headers.set(name, value);
  for (const auto& [name, value] : ops.add) headers.insert(name, value);
}

std::optional<absolute_target> split_absolute_form(std::string_view target) {
  constexpr std::string_view scheme = "http://";
  if (target.size() < scheme.size() ||
      !config::ascii_iequals(target.substr(0, scheme.size()), scheme)) {
    return std::nullopt;
  }
  target.remove_prefix(scheme.size());
  const auto end = target.find_first_of("/?#");
  absolute_target out;
  out.authority = std::string(target.substr(0, end));
  if (out.authority.empty() || out.authority.find('@') != std::string::npos) return std::nullopt;
  std::string_view rest = end == std::string_view::npos ? "" : target.substr(end);
  rest = rest.substr(0, rest.find('#'));
  if (rest.empty() || rest.front() != '/') out.path.push_back('/');
  out.path.append(rest);
  return out;
}

namespace {
void append_fields(const fields& headers, std::string& out) {
  for (const auto& f : headers) {
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}
}  // namespace

void serialize_head(const request_head& h, std::string& out) {
  out.clear();
  out.append(h.method_string());
  out.push_back(' ');
  out.append(h.target());
  out.append(" HTTP/1.1\r\n");
  append_fields(h, out);
}

void serialize_head(const response_head& h, unsigned version, std::string& out) {
  out.clear();
  out.append(version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
  const unsigned code = h.result_int();
  out.push_back(static_cast<char>('0' + code / 100 % 10));
  out.push_back(static_cast<char>('0' + code / 10 % 10));
  out.push_back(static_cast<char>('0' + code % 10));
  out.push_back(' ');
  out.append(h.reason());
  out.append("\r\n");
  append_fields(h, out);
}

std::size_t chunk_size_line(std::size_t size, char (&buf)[20]) {
  static constexpr char hex[] = "0123456789abcdef";
  char digits[16];
  std::size_t n = 0;
  do {
    digits[n++] = hex[size & 0xf];
    size >>= 4;
  } while (size != 0);
  std::size_t len = 0;
  while (n > 0) buf[len++] = digits[--n];
  buf[len++] = '\r';
  buf[len++] = '\n';
  return len;
}

request_id make_request_id(route::random_source& random) {
  // 32 random hex digits in the 8-4-4-4-12 layout, then the version (4) and
  // variant (10xx) bits of RFC 4122 put in place.
  static constexpr char hex[] = "0123456789abcdef";
  static constexpr std::uint8_t digit_at[32] = {0,  1,  2,  3,  4,  5,  6,  7,  9,  10, 11,
                                                12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25,
                                                26, 27, 28, 29, 30, 31, 32, 33, 34, 35};
  request_id id;
  char* out = id.text;
  std::fill(out, out + sizeof id.text, '-');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t word = random.next();
    const std::uint64_t first = word;
    for (int i = 0; i < 16; ++i, word >>= 4) out[digit_at[half * 16 + i]] = hex[word & 0xf];
    if (half == 1) out[19] = hex[8 + (first & 0x3)];
  }
  out[14] = '4';
  return id;
}

std::optional<std::string_view> header_reader::get(const void* ctx, std::string_view name) {
  const auto& self = *static_cast<const header_reader*>(ctx);
  const auto range = self.fields_.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  if (std::next(range.first) == range.second) return range.first->value();
  std::string all;
  for (auto it = range.first; it != range.second; ++it) {
    if (!all.empty()) all += ", ";
    all += it->value();
  }
  return self.joined_.emplace_front(std::move(all));
}

}  // namespace laneproxy::net
