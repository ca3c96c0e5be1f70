#include "net/h2_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

namespace laneproxy::net {

namespace {
using steady = std::chrono::steady_clock;

// The nghttp2 header list of `fields` (nghttp2 copies names and values).
std::vector<nghttp2_nv> nv_of(const h2_fields& fields) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size());
  for (const auto& f : fields) {
    nv.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.name.data())),
                  reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                  f.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}
}  // namespace

bool socket_pair(socket_type& a, socket_type& b) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return false;
  error_code ignored;
  // Asio does not look at a stream socket's family for reads and writes.
  a.assign(tcp::v4(), fds[0], ignored);
  b.assign(tcp::v4(), fds[1], ignored);
  return true;
}

std::string_view h2_value(const h2_fields& list, std::string_view name) {
  for (const auto& f : list) {
    if (f.name == name) return f.value;
  }
  return {};
}

task<void> h2_stream::changed() {
  co_await wake.async_wait(nothrow);
}

// nghttp2's callbacks, each with the connection as user data.
struct h2_connection::callbacks {
  static h2_connection& self(void* user) { return *static_cast<h2_connection*>(user); }

  static h2_stream* stream(h2_connection& c, std::int32_t id) {
    const auto it = c.streams_.find(id);
    return it == c.streams_.end() ? nullptr : it->second.get();
  }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = self(user);
    if (c.side_ == side::server && frame->hd.type == NGHTTP2_HEADERS &&
        frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      auto s = c.make_stream();
      s->id = frame->hd.stream_id;
      c.streams_[s->id] = std::move(s);
    }
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                    std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                    std::uint8_t, void* user) {
    auto& c = self(user);
    auto* s = stream(c, frame->hd.stream_id);
    if (!s) return 0;
    // Decoded size, as SETTINGS_MAX_HEADER_LIST_SIZE counts it.
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > c.limits_.max_header_bytes) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    auto& to = s->head_done ? s->trailers : s->head;
    to.push_back({std::string(reinterpret_cast<const char*>(name), namelen),
                  std::string(reinterpret_cast<const char*>(value), valuelen)});
    return 0;
  }

  static int frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = self(user);
    c.last_active_ = steady::now();
    if (frame->hd.type == NGHTTP2_GOAWAY) c.going_away_ = true;
    auto* s = stream(c, frame->hd.stream_id);
    if (!s) return 0;
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      s->in_ended = true;
    }
    if (frame->hd.type == NGHTTP2_HEADERS && !s->head_done) {
      const auto status = h2_value(s->head, ":status");
      if (c.side_ == side::client && !status.empty() && status.front() == '1') {
        s->head.clear();  // an interim response: the final one follows
        s->header_bytes = 0;
      } else {
        s->head_done = true;
        s->header_bytes = 0;
        if (c.side_ == side::server && c.on_request) c.on_request(c.streams_[s->id]);
      }
    }
    s->notify();
    return 0;
  }

  static int data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t id,
                        const std::uint8_t* data, std::size_t len, void* user) {
    auto& c = self(user);
    auto* s = stream(c, id);
    if (!s) {
      nghttp2_session_consume_connection(session, len);
      return 0;
    }
    s->in.append(reinterpret_cast<const char*>(data), len);
    s->notify();
    return 0;
  }

  static int stream_close(nghttp2_session* session, std::int32_t id, std::uint32_t code,
                          void* user) {
    auto& c = self(user);
    const auto it = c.streams_.find(id);
    if (it == c.streams_.end()) return 0;
    auto& s = *it->second;
    s.closed = true;
    s.reset_code = code;
    if (code != NGHTTP2_NO_ERROR && !s.in.empty()) {
      // Reset: what was received will not be passed on.
      nghttp2_session_consume_connection(session, s.in.size());
      s.in.clear();
    }
    s.notify();
    c.streams_.erase(it);
    c.last_active_ = steady::now();
    return 0;
  }

  static ssize_t read_data(nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                           void*) {
    auto& s = *static_cast<h2_stream*>(source->ptr);
    const std::size_t n = std::min(length, s.out.size() - s.out_at);
    std::memcpy(buf, s.out.data() + s.out_at, n);
    s.out_at += n;
    if (s.out_at == s.out.size()) {
      s.out.clear();
      s.out_at = 0;
    }
    if (n > 0) s.notify();  // room for the handler's next piece
    if (s.out.empty() && s.out_ended) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!s.out_trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        const auto nv = nv_of(s.out_trailers);
        nghttp2_submit_trailer(session, id, nv.data(), nv.size());
      }
      return static_cast<ssize_t>(n);
    }
    if (n == 0) {
      s.out_deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
  }
};

h2_connection::h2_connection(socket_type socket, side s, const h2_limits& limits)
    : socket_(std::move(socket)),
      side_(s),
      limits_(limits),
      write_wake_(socket_.get_executor()),
      idle_(socket_.get_executor()),
      last_active_(steady::now()) {
  write_wake_.expires_at(steady::time_point::max());
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, &callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &callbacks::frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &callbacks::stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt, limits.max_concurrent_streams);
  if (s == side::server) {
    nghttp2_session_server_new2(&session_, cb, this, opt);
  } else {
    nghttp2_session_client_new2(&session_, cb, this, opt);
  }
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);

  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_bytes},
      // A server may not send ENABLE_PUSH; it offers extended CONNECT
      // (RFC 8441), which a client may not.
      s == side::server ? nghttp2_settings_entry{NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1}
                        : nghttp2_settings_entry{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 4);
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<std::int32_t>(limits.connection_window));
}

h2_connection::~h2_connection() {
  nghttp2_session_del(session_);
}

std::shared_ptr<h2_stream> h2_connection::make_stream() {
  return std::make_shared<h2_stream>(socket_.get_executor());
}

task<void> h2_connection::run(std::string received) {
  auto self = shared_from_this();
  asio::co_spawn(
      socket_.get_executor(), [self]() { return self->write_loop(); }, asio::detached);
  asio::co_spawn(
      socket_.get_executor(), [self]() { return self->idle_loop(); }, asio::detached);
  co_await read_loop(std::move(received));
}

task<void> h2_connection::read_loop(std::string received) {
  std::array<char, 16 * 1024> buf;
  std::string_view next = received;
  for (;;) {
    if (!next.empty()) {
      const auto rv = nghttp2_session_mem_recv(
          session_, reinterpret_cast<const std::uint8_t*>(next.data()), next.size());
      kick();
      if (rv < 0) break;  // a connection error: nghttp2 has queued its GOAWAY
    }
    if (dead_ || (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)))
      break;
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buf), nothrow);
    if (ec || n == 0) {
      fail();
      break;
    }
    next = std::string_view(buf.data(), n);
  }
  reading_done_ = true;
  kick();
}

task<void> h2_connection::write_loop() {
  auto self = shared_from_this();
  std::string out;
  for (;;) {
    out.clear();
    // Frames gathered into one write: many streams' frames, one system call.
    while (out.size() < 64 * 1024 && !dead_) {
      const std::uint8_t* p = nullptr;
      const auto n = nghttp2_session_mem_send(session_, &p);
      if (n < 0) {
        fail();
        co_return;
      }
      if (n == 0) break;
      out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }
    if (dead_) co_return;
    if (!out.empty()) {
      writing_since_ = steady::now();
      auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), nothrow);
      writing_since_ = {};
      if (ec) {
        fail();
        co_return;
      }
      continue;
    }
    if (reading_done_ ||
        (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_))) {
      fail();  // all said: close
      co_return;
    }
    co_await write_wake_.async_wait(nothrow);
  }
}

// Closes a connection idle with no stream for limits_.idle (GOAWAY first),
// or whose peer has not taken a write for as long.
task<void> h2_connection::idle_loop() {
  auto self = shared_from_this();
  const auto tick = std::max(std::chrono::milliseconds(250), limits_.idle / 4);
  while (!dead_) {
    idle_.expires_after(tick);
    co_await idle_.async_wait(nothrow);
    if (dead_) break;
    const auto now = steady::now();
    if (writing_since_ != steady::time_point{} && now - writing_since_ >= limits_.idle) {
      fail();
      break;
    }
    if (streams_.empty() && now - last_active_ >= limits_.idle) {
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      kick();
    }
  }
}

void h2_connection::fail() {
  if (dead_) return;
  dead_ = true;
  error_code ignored;
  socket_.close(ignored);
  for (auto& [id, s] : streams_) {
    s->closed = true;
    if (s->reset_code == 0) s->reset_code = NGHTTP2_CANCEL;
    s->notify();
  }
  streams_.clear();
  idle_.cancel();
  write_wake_.cancel();
}

nghttp2_data_provider h2_connection::provider(h2_stream& s) {
  nghttp2_data_provider p;
  p.source.ptr = &s;
  p.read_callback = &callbacks::read_data;
  return p;
}

std::shared_ptr<h2_stream> h2_connection::upgrade(std::string_view settings, bool head_request,
                                                  h2_fields request) {
  if (nghttp2_session_upgrade2(session_, reinterpret_cast<const std::uint8_t*>(settings.data()),
                               settings.size(), head_request ? 1 : 0, nullptr) != 0) {
    return nullptr;
  }
  auto s = make_stream();
  s->id = 1;
  s->head = std::move(request);
  s->head_done = true;
  s->in_ended = true;
  streams_[1] = s;
  return s;
}

void h2_connection::respond(h2_stream& s, const h2_fields& head, bool end) {
  if (dead_ || s.closed) return;
  const auto nv = nv_of(head);
  auto p = provider(s);
  if (nghttp2_submit_response(session_, s.id, nv.data(), nv.size(), end ? nullptr : &p) != 0) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
  }
  kick();
}

std::shared_ptr<h2_stream> h2_connection::request(const h2_fields& head, bool end) {
  if (!can_take_stream()) return nullptr;
  auto s = make_stream();
  const auto nv = nv_of(head);
  auto p = provider(*s);
  const auto id =
      nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), end ? nullptr : &p, nullptr);
  if (id < 0) return nullptr;
  s->id = id;
  streams_[id] = s;
  last_active_ = steady::now();
  kick();
  return s;
}

void h2_connection::send(h2_stream& s, std::string_view data) {
  if (dead_ || s.closed || data.empty()) return;
  s.out.append(data);
  if (s.out_deferred) {
    s.out_deferred = false;
    nghttp2_session_resume_data(session_, s.id);
  }
  kick();
}

void h2_connection::end(h2_stream& s, h2_fields trailers) {
  if (dead_ || s.closed) return;
  s.out_ended = true;
  s.out_trailers = std::move(trailers);
  if (s.out_deferred) {
    s.out_deferred = false;
    nghttp2_session_resume_data(session_, s.id);
  }
  kick();
}

task<void> h2_connection::wait_room(h2_stream& s) {
  while (!dead_ && !s.closed && s.out.size() - s.out_at >= out_high_water) co_await s.changed();
}

void h2_connection::consumed(h2_stream& s, std::size_t n) {
  if (dead_ || n == 0) return;
  nghttp2_session_consume(session_, s.id, n);
  kick();
}

void h2_connection::reset(h2_stream& s, std::uint32_t code) {
  if (dead_ || s.closed) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, code);
  kick();
}

void h2_connection::shutdown() {
  if (dead_ || going_away_) return;
  going_away_ = true;
  nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
  kick();
}

bool h2_connection::can_take_stream() const {
  if (dead_ || going_away_ || !nghttp2_session_want_read(session_)) return false;
  const auto peer_max =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return streams_.size() < std::min<std::uint32_t>(peer_max, limits_.max_concurrent_streams);
}

}  // namespace laneproxy::net
