#include "net/proxy_session.h"

#include <sys/socket.h>

#include <cerrno>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <sstream>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/ascii.h"
#include "config/peer_identity.h"
#include "dataplane/endpoint_hash.h"
#include "dataplane/local_reply.h"
#include "net/body_pump.h"
#include "net/forward_headers.h"
#include "net/h2_front.h"
#include "net/h2_translation.h"
#include "net/http_headers.h"
#include "net/io_buffer.h"
#include "net/io_ring.h"
#include "net/message_parser.h"
#include "net/mirror.h"
#include "net/original_destination.h"
#include "net/relay.h"
#include "net/upstream_exchange.h"

namespace laneproxy::net {

namespace {

using dataplane::listener_role;
using dataplane::response_flag;
using steady = std::chrono::steady_clock;

std::chrono::milliseconds since(steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
}

// Room past the header limit in a read buffer: a header just over the limit
// is answered 431 by the parser, not cut off by the buffer; the same bound
// holds a chunk-size line or a trailer section while it is incomplete.
constexpr std::size_t buffer_slack = 4096;

// The largest request body kept whole so that a retry or a mirror can send
// it again (Envoy buffers a body for retries up to its buffer limit); a
// larger one is streamed and neither retried nor mirrored.
constexpr std::uint64_t retry_buffer_bytes = 64 * 1024;

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

}  // namespace

namespace {

using pump_state = body_pump::state;

// The grpc-status of a relayed response: its trailers', else its
// header's (trailers-only); -1 when it has none.
int grpc_status_of(const response_parser& rp) {
  std::string_view value = rp.get()["grpc-status"];
  const std::string_view trailers = rp.trailers();
  for (std::size_t at = 0; at < trailers.size();) {
    const auto eol = std::min(trailers.find("\r\n", at), trailers.size());
    const auto line = trailers.substr(at, eol - at);
    if (line.size() > 12 && config::ascii_iequals(line.substr(0, 12), "grpc-status:")) {
      value = line.substr(12);
    }
    at = eol + 2;
  }
  return grpc_status_value(value);
}

class session {
 public:
  session(socket_type socket, worker& w, listener_role role, std::uint16_t port,
          const downstream_origin* origin)
      : worker_(w),
        role_(role),
        port_(port),
        down_(std::move(socket)),
        deadline_(w.deadlines(), &session::expired, this),
        down_buf_(0),
        upstream_(w, deadline_, arena_, &session::expired, this),
        fault_timer_(w.context()) {
    if (origin) origin_ = *origin;
    // A bridged stream is counted by its HTTP/2 connection.
    if (!origin) w.shared().open_connections.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;
    down_.non_blocking(true, ignored);  // reads and writes are tried at once
  }
  ~session() {
    if (!origin_) worker_.shared().open_connections.fetch_sub(1, std::memory_order_relaxed);
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  task<void> run() {
    if (role_ == listener_role::sidecar_outbound && !origin_) {
      // Captured by the pod's NAT rules: a port no Service has is plain TCP.
      original_ = original_destination(down_);
      if (original_ && !worker_.config()->mesh_port(original_->port)) {
        co_await relay_tcp();
        co_return;
      }
    }
    // (Not `while (co_await ...)`: g++ 12 mis-compiles co_await in a loop condition.)
    for (;;) {
      bool keep_going = false;
      try {
        keep_going = co_await serve_one();
      } catch (const std::exception& e) {
        // One request's failure ends its connection, never the process.
        report_failure(e);
      }
      if (!keep_going) break;
    }
    co_await upstream_.stop();
    if (!handed_off_) co_await lingering_close();
  }

 private:
  // A captured connection to a port no mesh service speaks HTTP on, as
  // Istio's virtual outbound listener takes it: relayed to its original
  // destination when that is a service's (a TCP port) or under ALLOW_ANY
  // (PassthroughCluster), else closed (REGISTRY_ONLY's BlackHoleCluster).
  task<void> relay_tcp() {
    const auto config = worker_.config();
    if (!config->allow_any() && !config->service_at(*original_)) co_return;
    const auto& t = config->timeouts();
    socket_type up(worker_.context());
    passthrough_ = &up;
    co_await pass_through({down_, down_buf_, x_.request_bytes}, up, endpoint_of(*original_),
                          deadline_, t.connect, t.idle, x_.response_bytes);
    passthrough_ = nullptr;
  }

  // Serves one request; false when the connection must close.
  task<bool> serve_one() {
    // Limits for reading the header come from the config live while waiting;
    // the request is routed by the config live once its header is in, and
    // keeps that one to its end.
    auto config = worker_.config();
    const auto t = config->timeouts();
    // The previous exchange is over: its headers' memory is free again.
    upstream_.reset();
    request_.reset();
    arena_.reset();
    decision_ = {};
    request_body_.clear();
    head_request_ = false;
    grpc_request_ = false;
    down_buf_.max_size(config->limits().max_request_header_bytes + buffer_slack);
    upstream_.buffer().max_size(config->limits().max_response_header_bytes + buffer_slack);
    if (down_buf_.empty() && !co_await wait_for_request(t.idle)) co_return false;
    // Only a connection's first bytes can be HTTP/2's preface (the test is
    // made here: a coroutine frame for every request would cost).
    if (served_++ == 0 && !origin_ && !dataplane::is_admin_role(role_) &&
        is_h2_preface_prefix(std::string_view(static_cast<const char*>(down_buf_.data().data()),
                                              down_buf_.size())) &&
        co_await opens_http2(t.request_headers)) {
      co_return false;
    }

    auto& parser = request_.emplace(arena_, config->limits().max_request_header_bytes);
    x_ = metrics::request_record{};
    x_.role = role_;
    x_.listener_port = port_;
    x_.started = steady::now();
    if (worker_.access_log().enabled()) x_.started_wall = std::chrono::system_clock::now();
    request_deadline_ = coarse_clock::now() + t.request;
    deadline_.arm_at(std::min(coarse_clock::now() + t.request_headers, request_deadline_));
    const auto mark = down_buf_.consumed();
    const auto ec = co_await read_header(parser, down_, down_buf_);
    const bool timed_out = deadline_.expired();
    if (ec && !timed_out && !is_protocol_error(ec)) co_return false;  // the client went away
    // From here on the request counts, whatever becomes of it.
    x_.request_bytes = down_buf_.consumed() - mark;
    auto& decision = decision_;  // outlives `done`, which reads it
    const finisher done(*this, parser, config);
    if (timed_out) {
      co_await reply(response_flag::request_header_timeout, 11, false);
      co_return false;
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      co_await reply(response_flag::header_too_large, 11, false);
      co_return false;
    }
    if (ec || !well_formed(parser)) {
      co_await reply(response_flag::downstream_protocol_error, ec ? 11 : parser.get().version(),
                     false);
      co_return false;
    }

    const request_guard in_flight(worker_.shared().active_requests);
    config = worker_.config();
    auto& req = parser.get();
    const unsigned version = req.version();
    head_request_ = req.method() == http::verb::head;
    static constexpr std::string_view grpc_type = "application/grpc";
    grpc_request_ = config::ascii_iequals(
        req[http::field::content_type].substr(0, grpc_type.size()), grpc_type);
    x_.grpc = grpc_request_;
    // The caller's identity, from the sending proxy (it is never passed on).
    if (role_ == dataplane::listener_role::sidecar_inbound) {
      peer_.assign(req[config::peer_header]);
      x_.peer = peer_;
    }
    if (auto absolute = split_absolute_form(req.target())) {
      req.set(http::field::host, absolute->authority);
      req.target(absolute->path);
    } else if (req.target().empty() || req.target().front() != '/') {
      co_await reply(response_flag::downstream_protocol_error, version, false);
      co_return false;
    }
    const bool keep_alive = parser.keep_alive();

    if (dataplane::is_admin_role(role_)) co_return co_await serve_admin(parser, keep_alive);
    if (!origin_ && parser.is_done() && req.count(http::field::upgrade) > 0 &&
        co_await switch_to_http2(req)) {
      co_return false;
    }

    decision = decide(*config, req);
    // A gRPC deadline bounds the route's timeout (Istio lets Envoy honour
    // grpc-timeout, capped by the route's own).
    if (grpc_request_) {
      if (const auto g = grpc_timeout(req["grpc-timeout"])) {
        decision.timeout = decision.timeout.count() > 0 ? std::min(decision.timeout, *g) : *g;
      }
    }
    x_.decision = &decision;
    // CORS comes first, as Istio orders Envoy's filters.
    dataplane::cors_result cors;
    if (decision.rule && decision.rule->actions.cors) {
      cors = dataplane::apply_cors(*decision.rule, req.method_string(), req[http::field::origin],
                                   req[http::field::access_control_request_method]);
    }
    if (cors.action == dataplane::cors_action::answer || decision.fault_delay.count() > 0 ||
        decision.flag != response_flag::none || decision.direct) {
      co_return co_await act(*config, parser, decision, keep_alive, cors);
    }
    co_return co_await forward(*config, parser, decision, keep_alive, cors.headers);
  }

  // The route's decision for the request whose header is `req`.
  dataplane::route_decision decide(const dataplane::proxy_config& config, request_head& req) {
    header_reader headers(req);
    route::request_view view;
    view.method = req.method_string();
    view.target = req.target();
    view.authority = req[http::field::host];
    view.port = dataplane::match_port(config, role_, port_, view.authority);
    view.hash_connection = &session::hash_connection;
    view.connection_ctx = this;
    headers.attach(view);
    const dataplane::router router(config, &worker_.shared().traces, worker_.random(),
                                   &worker_.smooth());
    return role_ == listener_role::gateway ? router.gateway(view, x_.started)
           : role_ == listener_role::sidecar_inbound
               ? router.inbound(view, x_.started)
               : router.outbound(view, x_.started, original_ ? &*original_ : nullptr);
  }

  // Does what the decision says when the proxy has a part in it (Envoy's
  // filter order under Istio): a CORS preflight answered, then faults, then
  // a local answer, or the upstream after a fault delay. True when the
  // connection can serve another request.
  task<bool> act(const dataplane::proxy_config& config, request_parser& parser,
                 const dataplane::route_decision& decision, bool keep_alive,
                 const dataplane::cors_result& cors) {
    const unsigned version = parser.get().version();
    // A reply of the proxy's own leaves an unread body behind: close unless there is none.
    const bool reusable = keep_alive && parser.is_done() && !draining();
    if (cors.action == dataplane::cors_action::answer) {
      co_await reply_text(200, "", version, reusable, "text/plain", "", cors.headers);
      co_return reusable;
    }
    if (decision.fault_delay.count() > 0) {
      // A fault delay holds the request (Envoy's DI), then it goes on.
      x_.extra.delayed = true;
      deadline_.disarm();  // the delay is the route's own
      fault_timer_.expires_after(decision.fault_delay);
      co_await fault_timer_.async_wait(nothrow);
    }
    if (decision.flag == response_flag::fault_abort) {
      x_.flag = decision.flag;
      if (decision.fault_grpc_status >= 0) {
        co_await reply_grpc(static_cast<unsigned>(decision.fault_grpc_status), "fault filter abort",
                            version, reusable);
      } else {
        co_await reply_text(decision.fault_abort, "fault filter abort", version, reusable);
      }
      co_return reusable;
    }
    if (decision.flag != response_flag::none) {
      co_await reply(decision.flag, version, reusable);
      co_return reusable;
    }
    if (decision.direct) {
      co_await reply_text(decision.direct->status, decision.direct->body, version, reusable,
                          "text/plain", decision.redirect_location);
      co_return reusable;
    }
    co_return co_await forward(config, parser, decision, keep_alive, cors.headers);
  }

  // An HTTP/1.1 request that asked for h2c (without a body): answered 101,
  // and the connection goes to the HTTP/2 front with the request as its
  // stream 1. The request is counted there, not here.
  // False when the request did not ask for h2c.
  task<bool> switch_to_http2(const request_head& req) {
    auto settings = h2c_upgrade_settings(req);
    if (!settings) co_return false;
    static constexpr std::string_view switching =
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    std::array<asio::const_buffer, 1> out{asio::buffer(switching)};
    handed_off_ = true;
    if (!co_await write_all(down_, out, deadline_, worker_.config()->timeouts().idle)) {
      co_return true;
    }
    deadline_.disarm();
    const std::string rest(static_cast<const char*>(down_buf_.data().data()), down_buf_.size());
    down_buf_.clear();
    start_h2_front_upgraded(std::move(down_), worker_, role_, port_, rest, std::move(*settings),
                            h2_request_fields(req), head_request_);
    co_return true;
  }

  // True when the connection opened with HTTP/2's preface: it is then
  // handed, with what was read, to the HTTP/2 front. Only a connection's
  // first bytes are looked at.
  task<bool> opens_http2(std::chrono::milliseconds wait) {
    const auto bytes = [&] {
      return std::string_view(static_cast<const char*>(down_buf_.data().data()), down_buf_.size());
    };
    deadline_.arm(wait);
    while (is_h2_preface_prefix(bytes()) && bytes().size() < h2_preface.size()) {
      if (co_await read_more(down_, down_buf_)) co_return false;
    }
    if (!bytes().starts_with(h2_preface)) co_return false;
    deadline_.disarm();
    handed_off_ = true;
    start_h2_front(std::move(down_), worker_, role_, port_, std::string(bytes()));
    co_return true;
  }

  // Waits for the first bytes of the next request on an idle connection;
  // false when it closed or stayed idle for `idle`. While it waits the
  // connection holds no block: the first bytes land in a small array of the
  // session's own and are copied into down_buf_. On the ring the read is
  // one more queued entry. Under epoll, Asio tries the read at once (the
  // next request is often there already) and otherwise leaves the wait to
  // epoll with no further system call; a readiness wait would re-arm the
  // descriptor with an epoll_ctl every time.
  task<bool> wait_for_request(std::chrono::milliseconds idle) {
    release_idle_memory();
    deadline_.arm(idle);
    io_ring* ring = io_ring::current();
    const auto into = asio::buffer(first_bytes_);
    auto [ec, n] = ring ? co_await ring->async_read_some(down_.native_handle(), into, nothrow)
                        : co_await down_.async_read_some(into, nothrow);
    if (ec || n == 0) co_return false;
    const auto space = down_buf_.prepare();
    if (space.size() < n) co_return false;  // max_size() is a header limit, at least 1 KiB
    std::memcpy(space.data(), first_bytes_.data(), n);
    down_buf_.commit(n);
    co_return true;
  }

  void release_idle_memory() {
    down_buf_.release();
    chunk_.release();
    upstream_.release_memory();
    arena_.release();
    constexpr std::size_t kept = 4096;
    if (request_head_.capacity() > kept) std::string().swap(request_head_);
    if (response_head_.capacity() > kept) std::string().swap(response_head_);
    if (request_body_.capacity() > kept) std::string().swap(request_body_);
  }

  // `cors`: headers the route's CORS policy puts on the response.
  task<bool> forward(const dataplane::proxy_config& config, request_parser& parser,
                     const dataplane::route_decision& decision, bool keep_alive,
                     const dataplane::header_pairs& cors) {
    const auto& t = config.timeouts();
    auto& req = parser.get();
    const unsigned version = req.version();
    const bool expect_continue =
        config::ascii_iequals(req[http::field::expect], "100-continue") && !parser.is_done();
    // (A flag in this frame, not the string: frames are recycled by size.)
    // The app sees no peer header; every other hop gets this proxy's.
    // Nor does a destination outside the mesh.
    const auto peer = role_ == dataplane::listener_role::sidecar_inbound || decision.passthrough
                          ? std::string_view{}
                          : config.peer_stamp();
    const bool upgrade =
        req.count(http::field::upgrade) > 0 && rewrite_upgrade(parser, decision, peer);
    if (!upgrade) rewrite_request(parser, decision, worker_.random(), request_head_, {}, peer);
    if (!parser.is_done() && !expect_continue && (decision.retry || !decision.mirrors.empty())) {
      const auto kept = co_await keep_body(parser, t);
      if (kept != body_kept::yes && kept != body_kept::too_large) {
        co_return co_await answer_kept_body_failure(kept, version);
      }
    }
    if (!decision.mirrors.empty()) send_mirrors(parser, decision, t);

    // A request can be sent again when it has no body or its body was kept
    // whole; a body streamed through is not retried.
    const config::retry_policy* retry = parser.is_done() ? decision.retry : nullptr;
    // A WebSocket handshake goes as HTTP/1.1 (no extended CONNECT upstream),
    // and so does a call passed through (Istio's PassthroughCluster).
    const bool http2 = !upgrade && !decision.passthrough &&
                       config.upstream_http2(decision.endpoints, origin_ && origin_->http2);
    const outgoing_request out{parser,        request_head_, request_body_, expect_continue,
                               head_request_, http2,         upgrade};
    const downstream_side down{down_, down_buf_, request_deadline_, x_.request_bytes};
    const auto started = steady::now();
    const auto result = co_await upstream_.run(decision, retry, out, down, t, config.limits());
    x_.extra.retries_exhausted = upstream_.retries_exhausted();
    if (result != exchange_result::response) {
      co_return co_await answer_exchange_failure(result, version, keep_alive && parser.is_done());
    }
    x_.upstream_time = since(started);
    x_.upstream = upstream_.endpoint();
    if (upstream_.response().get().result_int() == 101)
      co_return co_await switch_protocols(decision, t);

    // The response, relayed (in this frame: a coroutine per step costs).
    auto& rp = upstream_.response();
    track_lane_change(req, decision);
    const auto plan = plan_response(decision, version, keep_alive, cors);
    const bool upstream_keep_alive = rp.keep_alive() && !rp.need_eof();
    // A route timeout bounds the response to its end; one that passes
    // mid-body resets the response already begun.
    const auto route_end = decision.timeout.count() > 0
                               ? coarse_clock::now() + (decision.timeout - *x_.upstream_time)
                               : coarse_clock::time_point::max();
    const relay_leg leg{
        upstream_.socket(), upstream_.buffer(), down_, deadline_, chunk_.get(), t.idle, route_end};
    const auto r = co_await relay_body(rp, plan.chunk_down, response_head_, leg, x_.response_bytes);
    if (r == relay_result::read_failed && coarse_clock::now() >= route_end) {
      x_.flag = response_flag::upstream_timeout;
    }
    // An upstream that answered before the body ended (a 413, say) gets no
    // more of it; neither connection can carry another request then.
    bool request_whole = true;
    if (upstream_.body_state() != pump_state::none) {
      request_whole = co_await upstream_.request_sent_whole();
    }
    if (grpc_request_) x_.grpc_status = grpc_status_of(rp);
    upstream_.finish(r == relay_result::done && upstream_keep_alive && request_whole);
    const bool reusable = r == relay_result::done && plan.keep_alive && request_whole;
    co_return reusable;
  }

  // A WebSocket handshake's request, rewritten with its Upgrade kept; false
  // (nothing done) for another request.
  bool rewrite_upgrade(request_parser& parser, const dataplane::route_decision& decision,
                       std::string_view peer) {
    const auto value = websocket_upgrade(parser.get(), !parser.is_done());
    if (value.empty()) return false;
    rewrite_request(parser, decision, worker_.random(), request_head_, value, peer);
    return true;
  }

  // An upstream's 101 to a WebSocket handshake: relayed, then the two
  // connections are one byte stream until either side ends it or it idles
  // for the idle timeout. Neither connection carries a request again.
  task<bool> switch_protocols(const dataplane::route_decision& decision,
                              const config::proxy_timeouts& t) {
    rewrite_upgrade_response(upstream_.response(), decision, response_head_);
    x_.status = 101;
    x_.response_bytes = response_head_.size();
    if (auto* m = worker_.metrics()) m->tcp_opened(x_, *worker_.config());
    std::array<asio::const_buffer, 1> head{asio::buffer(response_head_)};
    if (co_await write_all(down_, head, deadline_, t.idle)) {
      co_await tunnel({down_, down_buf_, x_.request_bytes},
                      {upstream_.socket(), upstream_.buffer(), x_.response_bytes}, deadline_,
                      t.idle);
    }
    upstream_.finish(false);
    co_return false;
  }

  // Carries "the chain left its lane" from the hop that saw it up to the
  // gateway (config::lane_changed_header), on the upstream's response.
  void track_lane_change(const request_head& req, const dataplane::route_decision& d) {
    using dataplane::listener_role;
    auto& res = upstream_.response().get();
    const bool below = res.count(config::lane_changed_header) > 0;
    if (below) res.erase(config::lane_changed_header);
    auto& shared = worker_.shared();
    if (role_ == listener_role::gateway) {
      x_.lane_changed = below || d.lane_fallback;
    } else if (role_ == listener_role::sidecar_outbound) {
      if (const auto trace = req["x-request-id"]; (below || d.lane_fallback) && !trace.empty()) {
        shared.lane_changes.remember(trace, "1", steady::now());
        shared.any_lane_change.store(true, std::memory_order_relaxed);
      }
    } else if (shared.any_lane_change.load(std::memory_order_relaxed)) {
      // Inbound: only once this process saw a change is the trace looked up.
      const auto trace = req["x-request-id"];
      if (!trace.empty() && shared.lane_changes.lookup(trace, steady::now())) {
        res.set(config::lane_changed_header, "1");
      }
    }
  }

  // The response header for the client, in response_head_.
  response_plan plan_response(const dataplane::route_decision& decision, unsigned version,
                              bool keep_alive, const dataplane::header_pairs& cors) {
    auto& rp = upstream_.response();
    x_.status = rp.get().result_int();
    // A response that starts before the request body has ended closes the
    // connection: the rest of the body will not be read.
    const auto plan = rewrite_response(rp, decision, version, head_request_,
                                       keep_alive && !draining() && !upstream_.body_streaming(),
                                       *x_.upstream_time, response_head_, cors);
    x_.response_bytes = response_head_.size();
    return plan;
  }

  // The answer when the upstream gave no response; true when the
  // connection can serve another request.
  task<bool> answer_exchange_failure(exchange_result result, unsigned version, bool reusable) {
    if (result == exchange_result::body_failed) co_return co_await answer_body_failure(version);
    reusable = reusable && result != exchange_result::timed_out;
    co_await reply(
        result == exchange_result::connect_failed   ? response_flag::upstream_connect_failure
        : result == exchange_result::timed_out      ? response_flag::upstream_timeout
        : result == exchange_result::protocol_error ? response_flag::upstream_protocol_error
        : result == exchange_result::overflow       ? response_flag::upstream_overflow
                                                    : response_flag::upstream_reset,
        version, reusable);
    co_return reusable;
  }

  enum class body_kept { yes, too_large, bad, timed_out, client_gone };

  // Reads a request body whole into request_body_ when its Content-Length
  // is at most retry_buffer_bytes, so that it can be sent again (a retry,
  // a mirror) as Envoy buffers it; a larger or chunked body is left to be
  // streamed (too_large). Without a body: yes.
  task<body_kept> keep_body(request_parser& parser, const config::proxy_timeouts& t) {
    if (parser.is_done()) co_return body_kept::yes;
    const auto length = parser.content_length_remaining();
    if (parser.chunked() || !length || *length > retry_buffer_bytes) co_return body_kept::too_large;
    const relay_leg leg{down_, down_buf_, down_, deadline_, nullptr, t.idle, request_deadline_};
    const auto r = co_await read_body(parser, leg, request_body_);
    x_.request_bytes += request_body_.size();
    if (r == relay_result::done) co_return body_kept::yes;
    if (r == relay_result::bad_message) co_return body_kept::bad;
    co_return deadline_.expired() ? body_kept::timed_out : body_kept::client_gone;
  }

  task<bool> answer_kept_body_failure(body_kept kept, unsigned version) {
    if (kept == body_kept::bad)
      co_await reply(response_flag::downstream_protocol_error, version, false);
    if (kept == body_kept::timed_out)
      co_await reply(response_flag::request_timeout, version, false);
    co_return false;
  }

  // Copies of the request to the route's mirrors, Host suffixed "-shadow",
  // asking them to close after answering. Only a request whose body was
  // kept whole (or that has none) is mirrored: a streamed body is not kept.
  void send_mirrors(request_parser& parser, const dataplane::route_decision& d,
                    const config::proxy_timeouts& t) {
    if (!parser.is_done()) return;
    auto& req = parser.get();
    const std::string host(req[http::field::host]);
    req.set(http::field::host, shadow_authority(host));
    req.set(http::field::connection, "close");
    std::string head;
    serialize_head(req, head);
    req.set(http::field::host, host);
    req.erase(http::field::connection);
    head += request_body_;
    for (const auto* endpoint : d.mirrors) start_mirror(worker_, endpoint_of(*endpoint), head, t);
  }

  // The answer when the request body failed before a response began.
  task<bool> answer_body_failure(unsigned version) {
    if (upstream_.body_state() == pump_state::bad_request) {
      co_await reply(response_flag::downstream_protocol_error, version, false);
    } else if (upstream_.body_state() == pump_state::timed_out) {
      co_await reply(response_flag::request_timeout, version, false);
    }
    co_return false;
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

  // A gRPC error of the proxy's own.
  task<void> reply_grpc(unsigned code, std::string_view message, unsigned version,
                        bool keep_alive) {
    grpc_local_reply_head(code, message, version, keep_alive, response_head_);
    std::array<asio::const_buffer, 1> bufs{asio::buffer(response_head_)};
    co_await write_all(down_, bufs, deadline_, worker_.config()->timeouts().idle);
    x_.status = 200;
    x_.grpc_status = static_cast<int>(code);
    x_.response_bytes = response_head_.size();
  }

  // A response of the proxy's own. A HEAD request gets the header alone
  // (with the length a GET would have); a 1xx, 204 or 304 has no body. An
  // error to a gRPC request is a gRPC error.
  task<void> reply_text(unsigned status, std::string_view body, unsigned version, bool keep_alive,
                        std::string_view content_type = "text/plain",
                        std::string_view location = "", const dataplane::header_pairs& extra = {}) {
    if (grpc_request_ && status >= 400) {
      co_await reply_grpc(dataplane::grpc_status_of_http(status), body, version, keep_alive);
      co_return;
    }
    const bool no_body = bodiless(status, head_request_);
    local_reply_head(status, version, keep_alive, content_type, body.size(), response_head_,
                     location, extra);
    if (no_body) body = {};
    std::array<asio::const_buffer, 2> bufs{asio::buffer(response_head_), asio::buffer(body)};
    co_await write_all(down_, bufs, deadline_, worker_.config()->timeouts().idle);
    x_.status = status;
    x_.response_bytes = response_head_.size() + body.size();
  }

  // Closing with unread request bytes would reset the connection and could
  // destroy a reply still in flight (a 400 or 431): send FIN first, then
  // read and drop what the client still sends, briefly and boundedly. The
  // kernel drops the bytes (MSG_TRUNC) and the connection gives its
  // buffers back first: a flood of connections closed this way holds no
  // memory for their last second.
  task<void> lingering_close() {
    error_code ec;
    down_.shutdown(socket_type::shutdown_send, ec);
    upstream_.reset();
    request_.reset();
    release_idle_memory();
    constexpr std::size_t max_drained = 1u << 20;
    std::size_t drained = 0;
    deadline_.arm(std::chrono::seconds(1));
    while (!ec && drained < max_drained) {
      const auto n =
          ::recv(down_.native_handle(), nullptr, max_drained - drained, MSG_TRUNC | MSG_DONTWAIT);
      if (n > 0) {
        drained += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) break;
      std::tie(ec) = co_await down_.async_wait(socket_type::wait_read, nothrow);
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
    if (dataplane::is_admin_role(role_) || handed_off_) return;
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - x_.started);
    if (auto* m = worker_.metrics()) m->record(x_, elapsed, config);
    if (x_.decision && x_.decision->guard) {
      dataplane::record_outcome(*x_.decision, x_.status, steady::now());
    }
    auto& log = worker_.access_log();
    if (!log.enabled()) return;
    if (local_address_.empty()) {
      std::ostringstream l, r;
      l << local_endpoint();
      r << remote_endpoint();
      local_address_ = l.str();
      remote_address_ = r.str();
    }
    metrics::request_words w;
    w.method = req.method_string();
    w.path = req.target();
    w.protocol = origin_ && origin_->http2 ? "HTTP/2"
                 : req.version() == 10     ? "HTTP/1.0"
                                           : "HTTP/1.1";
    w.authority = req[http::field::host];
    w.request_id = req["x-request-id"];
    w.user_agent = req[http::field::user_agent];
    w.forwarded_for = req["x-forwarded-for"];
    w.downstream_local = local_address_;
    w.downstream_remote = remote_address_;
    log.write(metrics::access_entry_of(x_, w, elapsed, config));
  }

  // A failure no request should cause (a bug, or memory exhausted): said on
  // stderr, at 1, 2, 4, 8, ... occurrences so that a flood cannot fill a disk.
  static void report_failure(const std::exception& e) {
    static std::atomic<std::uint64_t> failures{0};
    const auto n = failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if ((n & (n - 1)) == 0) {
      std::fprintf(stderr, "laneproxy: connection failed (%llu so far): %s\n",
                   static_cast<unsigned long long>(n), e.what());
    }
  }

  static void expired(void* self) {
    auto& s = *static_cast<session*>(self);
    cancel_io(s.down_);
    s.upstream_.cancel();
    if (s.passthrough_) cancel_io(*s.passthrough_);
  }

  bool draining() const { return worker_.shared().draining.load(std::memory_order_relaxed); }

  // The client's addresses (the origin's for a bridged stream).
  tcp::endpoint remote_endpoint() const {
    error_code ignored;
    return origin_ ? origin_->remote : down_.remote_endpoint(ignored);
  }
  tcp::endpoint local_endpoint() const {
    error_code ignored;
    return origin_ ? origin_->local : down_.local_endpoint(ignored);
  }

  // route::request_view's connection hashes, read from the socket once.
  static std::uint64_t hash_connection(const void* ctx, bool both) {
    auto& s = *static_cast<session*>(const_cast<void*>(ctx));
    if (s.ip_hash_ == 0) {
      const auto remote = s.remote_endpoint();
      const auto local = s.local_endpoint();
      const auto ip = remote.address().to_string();
      s.ip_hash_ = dataplane::hash_key(ip) | 1;
      s.connection_hash_ =
          dataplane::hash_key(ip + ":" + std::to_string(remote.port()) + "/" +
                              local.address().to_string() + ":" + std::to_string(local.port()));
    }
    return both ? s.connection_hash_ : s.ip_hash_;
  }

  worker& worker_;
  listener_role role_;
  std::uint16_t port_;
  socket_type down_;
  // The request's deadline (and the pump's): when either passes, both
  // sockets are cancelled and their waits end in error.
  deadline_sweep::entry deadline_;
  coarse_clock::time_point request_deadline_;  // the whole request must be in by then
  // The request and response being parsed: kept here rather than in the
  // coroutine frames, which are then small enough to be recycled.
  header_arena arena_;  // declared before the parsers that use it
  std::optional<request_parser> request_;
  // The request's route decision. A member, not a local of serve_one, whose
  // frame every connection holds while it waits for its next request: it
  // would be 400 bytes of that frame's 1,008.
  dataplane::route_decision decision_;
  io_buffer down_buf_;
  std::array<char, 1024> first_bytes_;        // an idle connection's next bytes (wait_for_request)
  upstream_exchange upstream_;                // the upstream side, with the response parser
  block chunk_;                               // the response body passes through it
  std::string request_head_, response_head_;  // serialized; capacity reused
  std::string request_body_;                  // a body kept whole to be sent again
  bool head_request_ = false;
  bool grpc_request_ = false;       // content-type application/grpc*: local errors are gRPC errors
  asio::steady_timer fault_timer_;  // a route's fault delay
  metrics::request_record x_;       // the request being served
  std::string peer_;                // its caller's peer header (inbound); capacity reused
  std::string local_address_, remote_address_;       // for the access log, read once
  std::uint64_t ip_hash_ = 0, connection_hash_ = 0;  // see hash_connection()
  std::optional<downstream_origin> origin_;          // set for a bridged stream
  std::optional<config::socket_address> original_;   // a captured connection's destination
  socket_type* passthrough_ = nullptr;               // relay_tcp()'s upstream while it runs
  unsigned served_ = 0;                              // requests begun on the connection
  bool handed_off_ = false;                          // the socket went to the HTTP/2 front
};

task<void> serve(std::unique_ptr<session> s) {
  co_await s->run();
}

}  // namespace

void start_session(socket_type socket, worker& w, listener_role role, std::uint16_t port,
                   const downstream_origin* origin) {
  // Headers and bodies go out in separate writes: without TCP_NODELAY,
  // Nagle's algorithm and delayed ACKs would add 40 ms to small responses.
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto s = std::make_unique<session>(std::move(socket), w, role, port, origin);
  asio::co_spawn(w.context(), serve(std::move(s)), asio::detached);
}

}  // namespace laneproxy::net
