#include "net/upstream_exchange.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>

#include "net/io_ring.h"

namespace laneproxy::net {

namespace {
using steady = std::chrono::steady_clock;
using failure = config::retry_policy::failure;

std::chrono::milliseconds since(steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
}

// SO_KEEPALIVE with tcpKeepalive's probes, idle time and interval (0:
// the system's own).
void set_keepalive(socket_type& s, const config::tcp_keepalive& k) {
  const int fd = s.native_handle();
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  const auto set = [fd](int option, long long value) {
    if (value <= 0) return;
    const int v = static_cast<int>(value);
    ::setsockopt(fd, IPPROTO_TCP, option, &v, sizeof v);
  };
  set(TCP_KEEPCNT, k.probes);
  set(TCP_KEEPIDLE, k.time.count());
  set(TCP_KEEPINTVL, k.interval.count());
}

failure failure_of(exchange_result r) {
  return r == exchange_result::connect_failed ? failure::connect
         : r == exchange_result::timed_out    ? failure::per_try_timeout
                                              : failure::reset;
}
}  // namespace

upstream_exchange::upstream_exchange(worker& w, deadline_sweep::entry& deadline,
                                     header_arena& arena, void (*on_expiry)(void*), void* ctx)
    : worker_(w),
      deadline_(deadline),
      arena_(arena),
      up_(w.context()),
      buf_(0),
      pump_(w.context(), w.deadlines(), {on_expiry, ctx}, {&upstream_exchange::pump_ended, this}),
      backoff_(w.context()),
      gate_(w.context()) {}

task<exchange_result> upstream_exchange::run(const dataplane::route_decision& d,
                                             const config::retry_policy* retry,
                                             const outgoing_request& req,
                                             const downstream_side& down,
                                             const config::proxy_timeouts& t,
                                             const config::proxy_limits& limits) {
  const auto started = steady::now();
  const auto route_timeout = d.timeout.count() > 0 ? d.timeout : t.idle;
  retries_exhausted_ = false;
  endpoint_ = d.endpoint;
  set_ = d.endpoints;
  decision_ = &d;
  if (set_) {
    // A request waiting for a connection slot waits within the route timeout.
    auto g = gate_.try_acquire(*set_);
    if (g == gate_result::must_wait) g = co_await gate_.wait(*set_, route_timeout);
    if (g == gate_result::overflow) co_return done(exchange_result::overflow);
    if (g == gate_result::timed_out) co_return done(exchange_result::timed_out);
  }
  for (unsigned n = 0;; ++n) {
    const auto left = route_timeout - since(started);
    // A retry never starts once the route timeout has passed (Envoy: 504 UT).
    if (n > 0 && left.count() <= 0) co_return done(exchange_result::timed_out);
    const bool per_try = retry && retry->per_try_timeout && *retry->per_try_timeout < left;
    response_timeout_ =
        std::max(std::chrono::milliseconds(1), per_try ? *retry->per_try_timeout : left);
    if (set_) gate_.count_at(*set_, *endpoint_);
    const auto result = co_await attempt(endpoint_of(*endpoint_), req, down, t, limits, n == 0);
    record(result);
    bool retriable = false;
    if (result == exchange_result::response) {
      retriable =
          retry && retry->retries_status(response_->get().result_int(), grpc_status_in_head());
    } else {
      retriable = retry && result != exchange_result::body_failed &&
                  result != exchange_result::protocol_error &&
                  (result != exchange_result::timed_out || per_try) &&
                  retry->retries_failure(failure_of(result));
    }
    if (!retriable) co_return done(result);
    if (n == retry->retries) {
      retries_exhausted_ = n > 0;  // the last try's outcome goes to the client
      co_return done(result);
    }
    // maxRetries in flight: the outcome goes to the client unretried.
    if (set_ && !gate_.take_retry(*set_)) co_return done(result);
    if (result == exchange_result::response) close();
    endpoint_ = co_await before_retry(d, *retry, n + 1, endpoint_);
  }
}

// The exchange's outcome; without a response nothing is relayed after it,
// so the cluster's slots go back now.
exchange_result upstream_exchange::done(exchange_result r) {
  if (r != exchange_result::response) gate_.release();
  return r;
}

// One try: a pooled connection that went stale between its check and the
// write is replaced once for a request sent whole.
task<exchange_result> upstream_exchange::attempt(const tcp::endpoint& endpoint,
                                                 const outgoing_request& req,
                                                 const downstream_side& down,
                                                 const config::proxy_timeouts& t,
                                                 const config::proxy_limits& limits, bool first) {
  for (int stale = 0;; ++stale) {
    const bool reused = stale == 0 && !req.http2 && take_pooled(endpoint);
    if (!reused) co_await connect(endpoint, t, req.http2, limits);
    if (!up_.is_open()) co_return exchange_result::connect_failed;
    if (req.expect_continue && first && stale == 0) {
      // The client waits for this before it sends the body.
      static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
      std::array<asio::const_buffer, 1> out{asio::buffer(cont)};
      if (!co_await write_all(down.socket, out, deadline_, t.idle)) {
        co_return exchange_result::body_failed;
      }
    }
    const bool streamed = !req.parser.is_done();
    error_code ec;
    ++past_.requests;  // for maxRequestsPerConnection
    if (streamed) {
      pump_.start(req.parser, down.socket, down.buffer, up_, req.head, t.idle,
                  down.request_deadline, down.body_bytes);
    } else {
      std::array<asio::const_buffer, 2> out{asio::buffer(req.head), asio::buffer(req.kept_body)};
      if (!co_await write_all(up_, out, deadline_, t.idle)) ec = asio::error::broken_pipe;
    }
    if (!ec) ec = co_await read_response_header(limits, req.head_method, req.upgrade);
    if (!ec) co_return exchange_result::response;

    const bool timed_out = deadline_.expired();
    co_await pump_.stop();
    close();
    if (timed_out) co_return exchange_result::timed_out;
    const auto body = pump_.current();
    if (body != body_pump::state::stopped && body != body_pump::state::write_failed &&
        body != body_pump::state::none) {
      co_return exchange_result::body_failed;
    }
    if (is_protocol_error(ec)) co_return exchange_result::protocol_error;
    if (!(reused && !streamed)) co_return exchange_result::reset;
  }
}

// Waits out the backoff before retry `n` and picks its endpoint: another
// one than `last` when the set has several.
task<const config::socket_address*> upstream_exchange::before_retry(
    const dataplane::route_decision& d, const config::retry_policy& retry, unsigned n,
    const config::socket_address* last) {
  backoff_.expires_after(dataplane::retry_backoff(n, worker_.random().next(), retry.backoff_base));
  co_await backoff_.async_wait(nothrow);
  if (!d.endpoints || d.endpoints->size() < 2) co_return last;
  // Istio's previous_hosts predicate: another endpoint when one is admitted.
  const dataplane::pick_input in{&worker_.random(), std::nullopt, last, steady::now()};
  const auto* next = d.endpoints->pick(in);
  co_return next ? next : last;
}

// Outlier detection sees every try's outcome; a failing request body is
// the client's doing, not the endpoint's.
void upstream_exchange::record(exchange_result result) {
  if (!set_ || !set_->policy().outlier || result == exchange_result::body_failed) return;
  using outcome = dataplane::endpoint_outcome;
  const auto o = result == exchange_result::response         ? outcome::response
                 : result == exchange_result::connect_failed ? outcome::connect_failed
                 : result == exchange_result::timed_out      ? outcome::timed_out
                                                             : outcome::reset;
  const unsigned status = o == outcome::response ? response_->get().result_int() : 0;
  if (set_->record(*endpoint_, o, status, steady::now())) {
    if (auto* m = worker_.shared().metrics)
      m->count_ejection(decision_->service, decision_->serving_lane);
  }
}

// The grpc-status a response's header carries (a trailers-only gRPC
// error), -1 when none.
int upstream_exchange::grpc_status_in_head() const {
  return grpc_status_value(response_->get()["grpc-status"]);
}

bool upstream_exchange::take_pooled(const tcp::endpoint& endpoint) {
  close();
  auto s = worker_.pool().take(endpoint, coarse_clock::now());
  if (!s) return false;
  up_ = std::move(s->socket);
  past_ = s->past;
  address_ = endpoint;
  return true;
}

task<void> upstream_exchange::connect(const tcp::endpoint& endpoint,
                                      const config::proxy_timeouts& t, bool http2,
                                      const config::proxy_limits& limits) {
  close();
  const auto* policy = set_ ? set_->limits() : nullptr;
  const auto connect_timeout =
      policy && policy->connect_timeout ? *policy->connect_timeout : t.connect;
  http2_ = http2;
  if (http2) {
    h2_limits h2;
    h2.max_header_bytes = limits.max_response_header_bytes;
    h2.idle = policy && policy->idle_timeout ? *policy->idle_timeout : t.idle;
    up_ = co_await worker_.h2().open(endpoint, connect_timeout, h2);
    if (!up_.is_open()) co_return;
    address_ = endpoint;
    past_ = {0, coarse_clock::now()};
    co_return;
  }
  deadline_.arm(connect_timeout);
  auto [ec] = co_await up_.async_connect(endpoint, nothrow);
  if (ec) {
    close();
    co_return;
  }
  address_ = endpoint;
  past_ = {0, coarse_clock::now()};
  error_code ignored;
  up_.set_option(tcp::no_delay(true), ignored);
  up_.non_blocking(true, ignored);  // see write_now()
  if (policy && policy->keepalive) set_keepalive(up_, *policy->keepalive);
  if (auto* m = worker_.shared().metrics) m->upstream_connects().Increment();
}

// Reads the final response header, skipping interim 1xx responses. While
// a streamed body still flows the pump's deadlines bound the wait; once it
// has ended (or the upstream stopped reading it), the response timeout.
task<error_code> upstream_exchange::read_response_header(const config::proxy_limits& limits,
                                                         bool head_method, bool upgrade) {
  awaiting_response_ = true;
  error_code ec = http::error::header_limit;  // too many interim responses
  // Interim responses stay in the arena until the exchange ends: bound them.
  for (int interim = 0; interim < 16; ++interim) {
    auto& rp = response_.emplace(arena_, limits.max_response_header_bytes);
    if (head_method) rp.skip(true);
    if (pump_.running()) {
      deadline_.disarm();
    } else {
      deadline_.arm(response_timeout_);
    }
    ec = co_await read_header(rp, up_, buf_);
    if (ec) break;
    const auto status = rp.get().result_int();
    if (status == 101) {
      // Only a WebSocket handshake asks for it: for any other request the
      // proxy stripped Upgrade.
      if (!upgrade) ec = http::error::bad_status;
      break;
    }
    if (status >= 100 && status < 200) {
      ec = http::error::header_limit;
      continue;
    }
    // A Transfer-Encoding the parser does not frame by (not ending in
    // chunked) beside a Content-Length: the next hop could read either.
    if (rp.has_transfer_encoding() && !rp.chunked() && rp.content_length()) {
      ec = http::error::bad_transfer_encoding;
    }
    break;
  }
  awaiting_response_ = false;
  co_return ec;
}

task<bool> upstream_exchange::request_sent_whole() {
  if (pump_.current() == body_pump::state::none) co_return true;
  co_await pump_.stop();
  co_return pump_.current() == body_pump::state::done;
}

void upstream_exchange::finish(bool reusable) {
  const auto now = coarse_clock::now();
  const auto* policy = set_ ? set_->limits() : nullptr;
  std::chrono::milliseconds idle{0};
  if (policy) {
    const auto& p = *policy;
    if (p.max_requests_per_connection && past_.requests >= *p.max_requests_per_connection) {
      reusable = false;
    }
    if (p.max_connection_duration && now - past_.opened >= *p.max_connection_duration) {
      reusable = false;
    }
    idle = p.idle_timeout.value_or(idle);
  }
  if (reusable && !http2_ && buf_.empty() && up_.is_open()) {
    worker_.pool().give(address_, std::move(up_), now, past_, idle);
    buf_.clear();
  } else {
    close();
  }
  gate_.release();
}

task<void> upstream_exchange::stop() {
  co_await pump_.stop();
  close();
  gate_.release();
}

void upstream_exchange::cancel() {
  cancel_io(up_);
}

void upstream_exchange::reset() {
  response_.reset();
  pump_.reset();
  gate_.release();
  set_ = nullptr;
}

void upstream_exchange::release_memory() {
  buf_.release();
  pump_.release_memory();
}

void upstream_exchange::close() {
  buf_.clear();
  if (up_.is_open()) close_io(up_);
}

// The response timeout runs from the end of the request; when the upstream
// stopped reading it, from then.
void upstream_exchange::pump_ended(void* self) {
  auto& x = *static_cast<upstream_exchange*>(self);
  const auto st = x.pump_.current();
  if (x.awaiting_response_ &&
      (st == body_pump::state::done || st == body_pump::state::write_failed)) {
    x.deadline_.arm(x.response_timeout_);
  }
}

}  // namespace laneproxy::net
