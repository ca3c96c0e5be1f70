#include "net/proxy_session.h"

#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <sstream>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "dataplane/local_reply.h"
#include "net/http_headers.h"

namespace laneproxy::net {

namespace {

namespace beast = boost::beast;
using dataplane::listener_role;
using dataplane::response_flag;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;

template <class T>
using task = asio::awaitable<T, executor>;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable_t<executor>{});
constexpr std::size_t chunk_size = 32 * 1024;

std::chrono::milliseconds since(steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
}

// Counts a request in flight for as long as it lives (draining waits on it).
class request_guard {
 public:
  explicit request_guard(std::atomic<std::int64_t>& n) : n_(n) { n_.fetch_add(1); }
  ~request_guard() { n_.fetch_sub(1); }
  request_guard(const request_guard&) = delete;
  request_guard& operator=(const request_guard&) = delete;

 private:
  std::atomic<std::int64_t>& n_;
};

// What one request did, for the metrics and the access log.
struct exchange {
  steady::time_point started;
  std::chrono::system_clock::time_point started_wall;
  std::uint64_t request_bytes = 0, response_bytes = 0;
  unsigned status = 0;
  response_flag flag = response_flag::none;
  const dataplane::route_decision* decision = nullptr;
  std::optional<std::chrono::milliseconds> upstream_time;
};

// What became of relaying one message body.
enum class relay_result { done, read_failed, write_failed };

// Writes what a non-blocking socket takes at once and drops it from `bufs`.
// False on an error other than would-block.
bool write_now(socket_type& s, std::span<asio::const_buffer>& bufs) {
  error_code ec;
  std::size_t n = s.write_some(bufs, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) return true;
  if (ec) return false;
  while (!bufs.empty() && n >= bufs.front().size()) {
    n -= bufs.front().size();
    bufs = bufs.subspan(1);
  }
  if (!bufs.empty()) bufs.front() += n;
  return true;
}

class session {
 public:
  session(socket_type socket, worker& w, listener_role role, std::uint16_t port)
      : worker_(w),
        role_(role),
        port_(port),
        down_(std::move(socket)),
        up_(w.context()),
        deadline_(w.deadlines(), &session::expired, this) {
    w.shared().open_connections.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;
    down_.non_blocking(true, ignored);  // writes are tried at once (write_now())
  }
  ~session() { worker_.shared().open_connections.fetch_sub(1, std::memory_order_relaxed); }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  task<void> run() {
    // (Not `while (co_await ...)`: g++ 12 mis-compiles co_await in a loop condition.)
    for (;;) {
      const bool keep_going = co_await serve_one();
      if (!keep_going) break;
    }
    close_upstream();
    co_await lingering_close();
  }

 private:
  using request_parser = http::request_parser<http::buffer_body, arena_allocator<char>>;
  using response_parser = http::response_parser<http::buffer_body, arena_allocator<char>>;

  // Serves one request; false when the connection must close.
  task<bool> serve_one() {
    // Limits for reading the header come from the config live while waiting;
    // the request is routed by the config live once its header is in, and
    // keeps that one to its end.
    auto config = worker_.config();
    const auto t = config->timeouts();
    // The previous exchange is over: its headers' memory is free again.
    response_.reset();
    request_.reset();
    arena_.reset();
    auto& parser = request_.emplace(std::piecewise_construct, std::make_tuple(),
                                    std::make_tuple(arena_allocator<char>(arena_)));
    parser.header_limit(config->limits().max_request_header_bytes);
    parser.body_limit(boost::none);  // bodies are streamed, never held whole

    // Between requests the idle timeout applies; once a request has begun,
    // its whole header must arrive within request_headers.
    if (down_buf_.size() == 0) {
      deadline_.arm(t.idle);
      auto [ec, n] = co_await down_.async_read_some(down_buf_.prepare(chunk_size), nothrow);
      if (ec) co_return false;
      down_buf_.commit(n);
    }
    deadline_.arm(t.request_headers);
    x_ = exchange{steady::now()};
    if (worker_.access_log().enabled()) x_.started_wall = std::chrono::system_clock::now();
    // The header usually came whole with the first read: parse it here, and
    // wait for more only when it did not.
    error_code ec;
    std::size_t n = parser.put(down_buf_.data(), ec);
    down_buf_.consume(n);
    if (ec == http::error::need_more) {
      std::size_t more = 0;
      std::tie(ec, more) = co_await http::async_read_header(down_, down_buf_, parser, nothrow);
      n += more;
    }
    if ((ec && deadline_.expired()) || ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      co_return false;
    }
    // From here on the request counts, whatever becomes of it.
    x_.request_bytes = n;
    dataplane::route_decision decision;  // outlives `done`, which reads it
    const finisher done(*this, parser, config);
    if (ec == http::error::header_limit) {
      co_await reply(response_flag::header_too_large, 11, false);
      co_return false;
    }
    if (ec) {
      co_await reply(response_flag::downstream_protocol_error, 11, false);
      co_return false;
    }

    const request_guard in_flight(worker_.shared().active_requests);
    config = worker_.config();
    auto& req = parser.get();
    const unsigned version = req.version();
    // Beast rejects Content-Length with Transfer-Encoding and differing
    // Content-Lengths; a request Transfer-Encoding must also end in chunked,
    // or the body's end would be unknowable.
    if (req.count(http::field::transfer_encoding) > 0 && !parser.chunked()) {
      co_await reply(response_flag::downstream_protocol_error, version, false);
      co_return false;
    }
    if (auto absolute = split_absolute_form(req.target())) {
      req.set(http::field::host, absolute->authority);
      req.target(absolute->path);
    } else if (req.target().empty() || req.target().front() != '/') {
      co_await reply(response_flag::downstream_protocol_error, version, false);
      co_return false;
    }
    const bool keep_alive = req.keep_alive();

    if (dataplane::is_admin_role(role_)) co_return co_await serve_admin(parser, keep_alive);

    header_reader headers(req);
    route::request_view view;
    view.method = req.method_string();
    view.target = req.target();
    view.authority = req[http::field::host];
    view.port = port_;
    headers.attach(view);

    const dataplane::router router(*config, &worker_.shared().traces, worker_.random(),
                                   &worker_.smooth());
    decision = role_ == listener_role::gateway           ? router.gateway(view)
               : role_ == listener_role::sidecar_inbound ? router.inbound(view, x_.started)
                                                         : router.outbound(view, x_.started);
    x_.decision = &decision;
    // A local answer leaves an unread body behind: close unless there is none.
    const bool reusable = keep_alive && parser.is_done() && !draining();
    if (decision.flag != response_flag::none) {
      co_await reply(decision.flag, version, reusable);
      co_return reusable;
    }
    if (decision.direct) {
      co_await reply_text(decision.direct->status, decision.direct->body, version, reusable);
      co_return reusable;
    }
    co_return co_await forward(*config, parser, decision, keep_alive);
  }

  task<bool> forward(const dataplane::proxy_config& config, request_parser& parser,
                     const dataplane::route_decision& decision, bool keep_alive) {
    const auto& t = config.timeouts();
    auto& req = parser.get();
    const unsigned version = req.version();
    const bool head = req.method() == http::verb::head;
    const bool expect_continue =
        beast::iequals(req[http::field::expect], "100-continue") && !parser.is_done();
    prepare_request(parser, decision);

    const tcp::endpoint endpoint = endpoint_of(*decision.endpoint);
    const auto started = steady::now();
    auto& rp = response_;
    for (int attempt = 0;; ++attempt) {
      // A pooled connection is taken here; only a new one needs a wait.
      const bool reused = attempt == 0 && take_pooled(endpoint);
      if (!reused) co_await connect_upstream(endpoint, t.connect);
      if (!up_.is_open()) {
        const bool reusable = parser.is_done() && keep_alive;
        co_await reply(response_flag::upstream_connect_failure, version, reusable);
        co_return reusable;
      }
      if (expect_continue && attempt == 0) {
        // The client waits for this before it sends the body.
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        std::array<asio::const_buffer, 1> out{asio::buffer(cont)};
        std::span<asio::const_buffer> rest(out);
        if (!write_now(down_, rest)) co_return false;
        if (!rest.empty() && !co_await send_rest(down_, rest, t.idle)) co_return false;
      }
      const bool body_sent = !parser.is_done();
      serialize_head(req, head_);
      error_code wec;
      const auto r =
          co_await relay(parser, parser.chunked(), down_, down_buf_, up_, t.idle, x_.request_bytes);
      if (r == relay_result::read_failed) co_return false;
      if (r == relay_result::write_failed) wec = asio::error::broken_pipe;
      if (!wec) {
        const auto timeout = decision.timeout.count() > 0 ? decision.timeout : t.idle;
        const auto rec = co_await read_response_header(rp, config, head, timeout);
        if (!rec) break;
        if (deadline_.expired()) {
          close_upstream();
          co_await reply(response_flag::upstream_timeout, version, false);
          co_return false;
        }
        wec = rec;
      }
      close_upstream();
      // A pooled connection can go stale between the liveness check and the
      // write; a request without a body is safe to send once more.
      if (reused && !body_sent) continue;
      const bool reusable = parser.is_done() && keep_alive;
      co_await reply(response_flag::upstream_reset, version, reusable);
      co_return reusable;
    }

    auto& res = rp->get();
    const bool upstream_keep_alive = res.keep_alive() && !rp->need_eof();
    const bool chunked = rp->chunked();
    const bool delimited_by_close = rp->need_eof();
    strip_hop_by_hop(res);
    if (decision.rule) apply_header_operations(decision.rule->actions.response_headers, res);
    if (decision.target) apply_header_operations(decision.target->response_headers, res);
    x_.upstream_time = since(started);
    x_.status = res.result_int();
    res.set("x-envoy-upstream-service-time", std::to_string(x_.upstream_time->count()));
    res.version(version);
    bool downstream_keep_alive = keep_alive && !draining();
    bool chunk_down = false;
    if ((chunked || delimited_by_close) && !head) {
      // HTTP/1.0 clients cannot read chunks: end their body by closing.
      if (version >= 11) {
        res.chunked(true);
        chunk_down = true;
      } else {
        downstream_keep_alive = false;
      }
    } else if (chunked) {
      res.chunked(true);  // a HEAD reply keeps its framing header, without a body
    }
    res.keep_alive(downstream_keep_alive);

    serialize_head(res, version, head_);
    x_.response_bytes = head_.size();
    const auto r = co_await relay(*rp, chunk_down, up_, up_buf_, down_, t.idle, x_.response_bytes);
    if (r == relay_result::done && upstream_keep_alive && up_buf_.size() == 0) {
      worker_.pool().give(endpoint, std::move(up_), coarse_clock::now());
    } else {
      close_upstream();
    }
    const bool reusable = r == relay_result::done && downstream_keep_alive;
    co_return reusable;
  }

  // Rewrites the request header for its upstream: hop-by-hop headers out,
  // framing back, the lane and the mesh's own headers in.
  void prepare_request(request_parser& parser, const dataplane::route_decision& d) {
    auto& req = parser.get();
    const bool chunked = parser.chunked();
    strip_hop_by_hop(req);
    req.erase(http::field::expect);  // answered here, not by the upstream
    if (chunked) req.chunked(true);
    req.version(11);
    if (d.rule) apply_header_operations(d.rule->actions.request_headers, req);
    if (d.target) apply_header_operations(d.target->request_headers, req);
    if (d.stamp_lane && !d.lane_header.empty()) req.set(d.lane_header, d.lane);
    if (req.count("x-request-id") == 0)
      req.set("x-request-id", make_request_id(worker_.random()).view());
    if (req.count("x-forwarded-proto") == 0) req.set("x-forwarded-proto", "http");
  }

  // Makes up_ an idle pooled connection to `endpoint`; false when the pool
  // has none.
  bool take_pooled(const tcp::endpoint& endpoint) {
    close_upstream();
    auto s = worker_.pool().take(endpoint, coarse_clock::now());
    if (s) up_ = std::move(*s);
    return s.has_value();
  }

  // Makes up_ a new connection to `endpoint`; closed when it fails.
  task<void> connect_upstream(const tcp::endpoint& endpoint, std::chrono::milliseconds timeout) {
    close_upstream();
    deadline_.arm(timeout);
    auto [ec] = co_await up_.async_connect(endpoint, nothrow);
    if (ec) {
      close_upstream();
    } else {
      error_code ignored;
      up_.set_option(tcp::no_delay(true), ignored);
      up_.non_blocking(true, ignored);  // see write_now()
      if (auto* m = worker_.shared().metrics) m->upstream_connects().Increment();
    }
  }

  // Reads the final response header, skipping interim 1xx responses.
  task<error_code> read_response_header(std::optional<response_parser>& rp,
                                        const dataplane::proxy_config& config, bool head,
                                        std::chrono::milliseconds timeout) {
    // Interim responses stay in the arena until the exchange ends: bound them.
    for (int interim = 0; interim < 16; ++interim) {
      rp.emplace(std::piecewise_construct, std::make_tuple(),
                 std::make_tuple(arena_allocator<char>(arena_)));
      rp->header_limit(config.limits().max_response_header_bytes);
      rp->body_limit(boost::none);
      if (head) rp->skip(true);
      deadline_.arm(timeout);
      auto [ec, n] = co_await http::async_read_header(up_, up_buf_, *rp, nothrow);
      if (ec) co_return ec;
      const auto status = rp->get().result_int();
      if (status < 100 || status >= 200 || status == 101) co_return error_code{};
    }
    co_return http::error::header_limit;
  }

  // Sends head_ (a serialized header) and then the body read through `p`,
  // chunk-encoded when `chunked`, in chunk_size pieces: flat memory whatever
  // the body's size. When body bytes are already buffered the header goes
  // out with the first of them in one write; otherwise at once, so that a
  // slow body does not hold the header back.
  template <bool is_request>
  task<relay_result> relay(http::parser<is_request, http::buffer_body, arena_allocator<char>>& p,
                           bool chunked, socket_type& from, beast::flat_buffer& from_buf,
                           socket_type& to, std::chrono::milliseconds idle,
                           std::uint64_t& body_bytes) {
    static constexpr std::string_view crlf = "\r\n", last_chunk = "0\r\n\r\n";
    std::string_view pending = head_;
    bool terminated = !chunked;  // the last chunk is out (or none is needed)
    if (!p.is_done() && from_buf.size() == 0) {
      std::array<asio::const_buffer, 1> out{asio::buffer(pending)};
      std::span<asio::const_buffer> rest(out);
      if (!write_now(to, rest)) co_return relay_result::write_failed;
      if (!rest.empty() && !co_await send_rest(to, rest, idle))
        co_return relay_result::write_failed;
      pending = {};
    }
    auto& body = p.get().body();
    while (!p.is_done() || !pending.empty() || !terminated) {
      std::size_t n = 0;
      if (!p.is_done()) {
        body.data = chunk_;
        body.size = chunk_size;
        error_code ec;
        std::size_t used = 0;
        if (from_buf.size() > 0) {
          // Bytes that came with the header or the last read: parsed here.
          used = p.put(from_buf.data(), ec);
          from_buf.consume(used);
          if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
        }
        if (!ec && used == 0) {
          deadline_.arm(idle);
          std::tie(ec, std::ignore) = co_await http::async_read_some(from, from_buf, p, nothrow);
          if (ec == http::error::need_buffer) ec = {};
        }
        if (ec) co_return relay_result::read_failed;
        n = chunk_size - body.size;
        body_bytes += n;
        if (n == 0 && !p.is_done()) continue;  // only framing was read
      }
      std::array<asio::const_buffer, 5> out;
      std::size_t count = 0;
      char size_line[20];
      if (!pending.empty()) out[count++] = asio::buffer(pending);
      if (n > 0 && chunked) out[count++] = asio::buffer(size_line, chunk_size_line(n, size_line));
      if (n > 0) out[count++] = asio::buffer(chunk_, n);
      if (n > 0 && chunked) out[count++] = asio::buffer(crlf);
      if (p.is_done() && !terminated) {
        out[count++] = asio::buffer(last_chunk);
        terminated = true;
      }
      // What the socket takes at once goes without a trip through the event
      // loop (the usual case for a header and a small body).
      std::span<asio::const_buffer> rest(out.data(), count);
      if (!write_now(to, rest)) co_return relay_result::write_failed;
      if (!rest.empty() && !co_await send_rest(to, rest, idle)) {
        co_return relay_result::write_failed;
      }
      pending = {};
    }
    co_return relay_result::done;
  }

  // Writes what write_now() left of `bufs`, waiting for the socket under the
  // idle deadline.
  task<bool> send_rest(socket_type& to, std::span<asio::const_buffer> bufs,
                       std::chrono::milliseconds idle) {
    deadline_.arm(idle);
    auto [ec, n] = co_await asio::async_write(to, bufs, nothrow);
    co_return !ec;
  }

  task<bool> serve_admin(request_parser& parser, bool keep_alive) {
    const auto& req = parser.get();
    const auto& admin = worker_.shared().admin;
    admin_response r = admin ? admin(role_, req.method_string(), req.target())
                             : admin_response{404, "text/plain", "not found\n"};
    const bool reusable = keep_alive && parser.is_done() && !draining();
    co_await reply_text(r.status, r.body, req.version(), reusable, r.content_type);
    co_return reusable;
  }

  task<void> reply(response_flag flag, unsigned version, bool keep_alive) {
    x_.flag = flag;
    const auto r = dataplane::reply_for(flag);
    co_await reply_text(r.status, r.body, version, keep_alive);
  }

  task<void> reply_text(unsigned status, std::string_view body, unsigned version, bool keep_alive,
                        std::string_view content_type = "text/plain") {
    http::response<http::string_body> res{static_cast<http::status>(status), version};
    res.set(http::field::server, "laneproxy");
    if (!body.empty()) res.set(http::field::content_type, content_type);
    res.body() = body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    deadline_.arm(worker_.config()->timeouts().idle);
    auto [ec, n] = co_await http::async_write(down_, res, nothrow);
    x_.status = status;
    x_.response_bytes = n;
  }

  // Closing with unread request bytes would reset the connection and could
  // destroy a reply still in flight (a 400 or 431): send FIN first, then
  // read and drop what the client still sends, briefly and boundedly.
  task<void> lingering_close() {
    error_code ec;
    down_.shutdown(socket_type::shutdown_send, ec);
    std::size_t drained = 0;
    deadline_.arm(std::chrono::seconds(1));
    while (!ec && drained < (1u << 20)) {
      std::size_t n = 0;
      std::tie(ec, n) = co_await down_.async_read_some(asio::buffer(chunk_), nothrow);
      drained += n;
    }
    down_.close(ec);
  }

  // Records the request when serve_one ends, however it ends.
  class finisher {
   public:
    finisher(session& s, const request_parser& p,
             const std::shared_ptr<const dataplane::proxy_config>& c)
        : s_(s), p_(p), c_(c) {}
    ~finisher() { s_.finish(p_.get(), *c_); }
    finisher(const finisher&) = delete;
    finisher& operator=(const finisher&) = delete;

   private:
    session& s_;
    const request_parser& p_;
    const std::shared_ptr<const dataplane::proxy_config>& c_;
  };

  void finish(const request_head& req, const dataplane::proxy_config& config) {
    if (dataplane::is_admin_role(role_)) return;
    const auto elapsed = steady::now() - x_.started;
    if (auto* m = worker_.metrics()) {
      m->record({role_, x_.decision, x_.status, x_.flag, x_.request_bytes, x_.response_bytes,
                 std::chrono::duration_cast<std::chrono::microseconds>(elapsed)},
                config);
    }
    auto& log = worker_.access_log();
    if (!log.enabled()) return;
    if (local_address_.empty()) {
      error_code ignored;
      std::ostringstream l, r;
      l << down_.local_endpoint(ignored);
      r << down_.remote_endpoint(ignored);
      local_address_ = l.str();
      remote_address_ = r.str();
    }
    metrics::access_entry e;
    e.start = x_.started_wall;
    e.method = req.method_string();
    e.path = req.target();
    e.protocol = req.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
    e.authority = req[http::field::host];
    e.request_id = req["x-request-id"];
    e.user_agent = req[http::field::user_agent];
    e.forwarded_for = req["x-forwarded-for"];
    e.status = x_.status;
    e.flag = x_.flag;
    e.bytes_received = x_.request_bytes;
    e.bytes_sent = x_.response_bytes;
    e.duration = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
    e.upstream_time = x_.upstream_time;
    e.downstream_local = local_address_;
    e.downstream_remote = remote_address_;
    if (const auto* d = x_.decision) {
      if (d->endpoint && x_.upstream_time) e.upstream_host = d->endpoint->text();
      if (d->rule) e.route = d->rule->name;
      e.lane = d->lane;
      const auto* view = d->service.empty() ? nullptr : config.service(d->service);
      if (role_ == listener_role::sidecar_inbound) {
        e.upstream_cluster = "inbound|" + std::to_string(port_) + "||";
      } else if (view) {
        const auto& svc = *view->info;
        const auto port = svc.ports.empty() ? 0u : svc.ports.front().port;
        e.upstream_cluster = "outbound|" + std::to_string(port) + "|" + d->serving_lane + "|" +
                             svc.name + "." + svc.ns + ".svc.cluster.local";
      }
    }
    log.write(e);
  }

  static void expired(void* self) {
    auto& s = *static_cast<session*>(self);
    error_code ignored;
    s.down_.cancel(ignored);
    s.up_.cancel(ignored);
  }

  void close_upstream() {
    up_buf_.clear();
    error_code ignored;
    if (up_.is_open()) up_.close(ignored);
  }

  bool draining() const { return worker_.shared().draining.load(std::memory_order_relaxed); }

  worker& worker_;
  listener_role role_;
  std::uint16_t port_;
  socket_type down_;
  socket_type up_;
  // One deadline serves both sockets: a session waits on one of them at a
  // time. When it passes, both are cancelled and the wait ends in error.
  deadline_sweep::entry deadline_;
  // The request and response being parsed: kept here rather than in the
  // coroutine frames, which are then small enough to be recycled.
  header_arena arena_;  // declared before the parsers that use it
  std::optional<request_parser> request_;
  std::optional<response_parser> response_;
  beast::flat_buffer down_buf_;
  beast::flat_buffer up_buf_;
  std::string head_;  // the serialized header being sent; its capacity is reused
  exchange x_;        // the request being served
  std::string local_address_, remote_address_;  // for the access log, read once
  char chunk_[chunk_size];
};

task<void> serve(std::unique_ptr<session> s) {
  co_await s->run();
}

}  // namespace

void start_session(socket_type socket, worker& w, listener_role role, std::uint16_t port) {
  // Headers and bodies go out in separate writes: without TCP_NODELAY,
  // Nagle's algorithm and delayed ACKs would add 40 ms to small responses.
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto s = std::make_unique<session>(std::move(socket), w, role, port);
  asio::co_spawn(w.context(), serve(std::move(s)), asio::detached);
}

}  // namespace laneproxy::net
