// The headers an exchange leaves the proxy with, and the parser's limits,
// without sockets: what a hostile client or upstream can and cannot change.
#include "net/forward_headers.h"

#include <algorithm>
#include <cstring>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace laneproxy::net {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Parses `text` with `p` as a session reads it (all bytes at once); the
// error of the header's parse.
template <bool is_request>
boost::system::error_code parse(message_parser<is_request>& p, const std::string& text,
                                io_buffer& buf) {
  for (std::size_t at = 0; at < text.size();) {
    const auto space = buf.prepare();
    const std::size_t n = std::min(space.size(), text.size() - at);
    EXPECT_GT(n, 0u) << "the buffer is full";
    if (n == 0) break;
    std::memcpy(space.data(), text.data() + at, n);
    buf.commit(n);
    at += n;
  }
  return parse_some(p, buf);
}

struct request_fixture {
  header_arena arena;
  request_parser parser{arena, 8192};
  io_buffer buf{16384};
  route::default_random_source random{7};
  dataplane::route_decision decision;

  std::string forwarded(const std::string& text, std::string_view peer = {}) {
    EXPECT_FALSE(parse(parser, text, buf));
    std::string head;
    rewrite_request(parser, decision, random, head, {}, peer);
    return head;
  }
};

TEST(ForwardHeaders, AClientsPeerHeaderIsNeverPassedOn) {
  const std::string forged =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Laneproxy-Peer: workload=evil\r\n"
      "x-laneproxy-peer: workload=evil2\r\n\r\n";
  request_fixture inbound;
  const auto to_app = inbound.forwarded(forged);
  EXPECT_THAT(to_app, Not(HasSubstr("evil")));
  EXPECT_THAT(to_app, Not(HasSubstr("aneproxy-peer")));
  request_fixture outbound;
  const auto head = outbound.forwarded(forged, "workload=mocka-v1");
  EXPECT_THAT(head, Not(HasSubstr("evil")));
  EXPECT_THAT(head, HasSubstr("\r\nx-laneproxy-peer: workload=mocka-v1\r\n"));
}

TEST(ForwardHeaders, ConnectionCannotTakeAwayTheFraming) {
  request_fixture f;
  const auto head = f.forwarded(
      "POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length, host, close\r\n"
      "Content-Length: 5\r\n\r\n");
  EXPECT_THAT(head, HasSubstr("\r\nContent-Length: 5\r\n"));
  EXPECT_THAT(head, HasSubstr("\r\nHost: a\r\n"));
  EXPECT_THAT(head, Not(HasSubstr("onnection")));
}

TEST(ForwardHeaders, TransferCodingsBeforeChunkedAreKept) {
  request_fixture f;
  const auto head =
      f.forwarded("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  EXPECT_THAT(head, HasSubstr("\r\nTransfer-Encoding: gzip, chunked\r\n"));
  EXPECT_THAT(head, Not(HasSubstr("Content-Length")));
}

TEST(ForwardHeaders, ARouteHeaderOperationCannotReframeTheBody) {
  request_fixture f;
  config::route_rule rule;
  rule.actions.request_headers.set["content-length"] = "0";
  rule.actions.request_headers.add["transfer-encoding"] = "chunked";
  f.decision.rule = &rule;
  const auto head = f.forwarded("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n");
  EXPECT_THAT(head, HasSubstr("\r\nContent-Length: 3\r\n"));
  EXPECT_THAT(head, Not(HasSubstr("Transfer-Encoding")));
  EXPECT_THAT(head, Not(HasSubstr("Content-Length: 0")));
}

TEST(ForwardHeaders, TransferCodingsMustBePlainTokens) {
  header_arena arena;
  request_parser p(arena, 8192);
  io_buffer buf(16384);
  EXPECT_EQ(parse(p,
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: g a\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  buf),
            http::error::bad_transfer_encoding);
}

TEST(ForwardHeaders, HostAndTransferEncodingRules) {
  const auto ok = [](const std::string& text) {
    header_arena arena;
    request_parser p(arena, 8192);
    io_buffer buf(16384);
    return !parse(p, text, buf) && well_formed(p);
  };
  EXPECT_TRUE(ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_FALSE(ok("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(ok("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
  EXPECT_TRUE(ok("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_FALSE(ok("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_FALSE(ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"));
}

struct response_fixture {
  header_arena arena;
  response_parser parser{arena, 8192};
  io_buffer buf{16384};
  dataplane::route_decision decision;
  std::string head;

  response_plan forward(const std::string& text, unsigned version, bool head_request = false) {
    if (head_request) parser.skip(true);
    EXPECT_FALSE(parse(parser, text, buf));
    return rewrite_response(parser, decision, version, head_request, true,
                            std::chrono::milliseconds(3), head);
  }
};

TEST(ForwardHeaders, RouteOperationsComeAfterTheProxysOwnHeaders) {
  request_fixture f;
  config::route_rule rule;
  rule.actions.request_headers.remove = {"x-forwarded-proto", "x-request-id"};
  config::route_target target;
  target.request_headers.set["x-asm-prefer-tag"] = "v9";
  f.decision.rule = &rule;
  f.decision.target = &target;
  f.decision.stamp_lane = true;
  f.decision.lane_header = "x-asm-prefer-tag";
  f.decision.lane = "v1";
  const auto head = f.forwarded("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_THAT(head, Not(HasSubstr("x-forwarded-proto")));
  EXPECT_THAT(head, Not(HasSubstr("x-request-id")));
  EXPECT_THAT(head, HasSubstr("x-asm-prefer-tag: v9\r\n"));

  response_fixture r;
  config::route_rule res_rule;
  res_rule.actions.response_headers.remove = {"x-envoy-upstream-service-time"};
  r.decision.rule = &res_rule;
  r.forward("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 11);
  EXPECT_THAT(r.head, Not(HasSubstr("x-envoy-upstream-service-time")));
}

TEST(ForwardHeaders, A204HasNoLengthWhateverTheUpstreamSaid) {
  response_fixture f;
  const auto plan = f.forward("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 11);
  EXPECT_THAT(f.head, Not(HasSubstr("Content-Length")));
  EXPECT_THAT(f.head, Not(HasSubstr("Transfer-Encoding")));
  EXPECT_FALSE(plan.chunk_down);
  EXPECT_TRUE(plan.keep_alive);
}

TEST(ForwardHeaders, AHeadResponseKeepsTheLengthItAnnounces) {
  response_fixture f;
  const auto plan = f.forward("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 11, true);
  EXPECT_THAT(f.head, HasSubstr("\r\nContent-Length: 100\r\n"));
  EXPECT_FALSE(plan.chunk_down);
}

TEST(ForwardHeaders, ConnectionCannotTakeAwayAResponsesLength) {
  response_fixture f;
  const auto plan =
      f.forward("HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\n", 11);
  EXPECT_THAT(f.head, HasSubstr("\r\nContent-Length: 5\r\n"));
  EXPECT_TRUE(plan.keep_alive);
}

TEST(ForwardHeaders, ACloseDelimitedBodyIsChunkedFor11AndClosesFor10) {
  response_fixture f11;
  auto plan = f11.forward("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 11);
  EXPECT_THAT(f11.head, HasSubstr("\r\nTransfer-Encoding: gzip, chunked\r\n"));
  EXPECT_TRUE(plan.chunk_down);
  EXPECT_TRUE(plan.keep_alive);
  response_fixture f10;
  plan = f10.forward("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 10);
  EXPECT_THAT(f10.head, Not(HasSubstr("Transfer-Encoding")));
  EXPECT_THAT(f10.head, Not(HasSubstr("Content-Length")));
  EXPECT_FALSE(plan.chunk_down);
  EXPECT_FALSE(plan.keep_alive);
}

TEST(ForwardHeaders, LocalRepliesAnnounceTheirLengthAndA204None) {
  std::string head;
  local_reply_head(404, 11, true, "text/plain", 9, head);
  EXPECT_EQ(head,
            "HTTP/1.1 404 Not Found\r\nServer: laneproxy\r\nContent-Type: text/plain\r\n"
            "Content-Length: 9\r\n\r\n");
  local_reply_head(204, 10, true, "text/plain", 0, head);
  EXPECT_EQ(head, "HTTP/1.0 204 No Content\r\nServer: laneproxy\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(bodiless(200, true));
  EXPECT_TRUE(bodiless(304, false));
  EXPECT_FALSE(bodiless(404, false));
}

// The parser's own bounds, each an error code rather than an exception or
// unbounded memory.
TEST(MessageParser, TrailersFallUnderTheHeaderLimit) {
  header_arena arena;
  request_parser p(arena, 1024);
  io_buffer buf(1024 + 4096);
  ASSERT_FALSE(parse(p, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", buf));
  std::string trailer = "0\r\nx: " + std::string(2000, 'v') + "\r\n\r\n";
  auto space = buf.prepare();
  std::memcpy(space.data(), trailer.data(), trailer.size());
  buf.commit(trailer.size());
  char chunk[64];
  std::size_t n = 0;
  EXPECT_EQ(decode_body(p, buf, chunk, sizeof chunk, n), body_step::bad);
}

// Beast would rescan a quoted chunk extension that runs past its line with
// every read (quadratic in the buffer): it is malformed as soon as the line
// is whole. A last chunk's line may wait for its trailers as before.
TEST(MessageParser, AQuotedChunkExtensionPastItsLineIsMalformedAtOnce) {
  const auto step = [](const std::string& body) {
    header_arena arena;
    request_parser p(arena, 8192);
    io_buffer buf(16384);
    EXPECT_FALSE(parse(p, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", buf));
    auto space = buf.prepare();
    std::memcpy(space.data(), body.data(), body.size());
    buf.commit(body.size());
    char chunk[64];
    std::size_t n = 0;
    return decode_body(p, buf, chunk, sizeof chunk, n);
  };
  EXPECT_EQ(step("5;name=\"open\r\nx: 1\r\n"), body_step::bad);
  EXPECT_EQ(step("5;name=\"open"), body_step::need_more);  // the line is not whole yet
  EXPECT_EQ(step("0;name=\"closed\"\r\nx: 1\r\n"), body_step::need_more);  // trailers to come
  // The last chunk's line with its whole trailer section: nothing more to wait for.
  EXPECT_EQ(step("0;name=\"open\r\nx: 1\r\n\r\n"), body_step::bad);
  EXPECT_EQ(step("0;name=\"closed\"\r\nx: 1\r\n\r\n"), body_step::done);
  EXPECT_EQ(step("5;name=\"closed\"\r\nhello\r\n"), body_step::decoded);
}

TEST(MessageParser, AFieldOverWhatBeastCanHoldIsAnErrorNotAnException) {
  header_arena arena;
  request_parser p(arena, 200 * 1024);
  io_buffer buf(200 * 1024 + 4096);
  const std::string text =
      "GET / HTTP/1.1\r\nHost: a\r\nx-big: " + std::string(100 * 1024, 'v') + "\r\n\r\n";
  EXPECT_EQ(parse(p, text, buf), http::error::header_limit);
}

TEST(MessageParser, AReadBufferNeverGrowsPastItsBound) {
  io_buffer buf(40000);
  std::size_t total = 0;
  for (int i = 0; i < 10; ++i) {
    const auto space = buf.prepare();
    total += space.size();
    buf.commit(space.size());
  }
  EXPECT_EQ(total, 40000u);
  EXPECT_EQ(buf.prepare().size(), 0u);
  buf.consume(buf.size());
  buf.release();
  EXPECT_EQ(buf.size(), 0u);
}

}  // namespace
}  // namespace laneproxy::net
