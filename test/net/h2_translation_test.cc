// The HTTP/2 front's translation to and from HTTP/1.1, gRPC's local
// replies, and how a Service port's protocol is read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/resources.h"
#include "dataplane/local_reply.h"
#include "net/forward_headers.h"
#include "net/h2_translation.h"

namespace laneproxy::net {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(H2Translation, ARequestBlockBecomesAnHttp11HeadWithCookiesJoined) {
  const h2_fields head{{":method", "GET"},      {":scheme", "http"}, {":path", "/mock?a=1"},
                       {":authority", "mocka"}, {"cookie", "a=1"},   {"x-request-id", "r1"},
                       {"cookie", "b=2"}};
  std::string out;
  bool chunked = true;
  ASSERT_TRUE(h1_request_head(head, false, out, chunked));
  EXPECT_FALSE(chunked);
  EXPECT_EQ(out,
            "GET /mock?a=1 HTTP/1.1\r\nHost: mocka\r\nx-request-id: r1\r\n"
            "cookie: a=1; b=2\r\n\r\n");
}

TEST(H2Translation, ABodyIsChunkedUnlessItsLengthIsAnnounced) {
  std::string out;
  bool chunked = false;
  ASSERT_TRUE(h1_request_head({{":method", "POST"}, {":path", "/"}, {":authority", "a"}}, true, out,
                              chunked));
  EXPECT_TRUE(chunked);
  EXPECT_THAT(out, HasSubstr("transfer-encoding: chunked\r\n"));
  ASSERT_TRUE(h1_request_head(
      {{":method", "POST"}, {":path", "/"}, {":authority", "a"}, {"content-length", "5"}}, true,
      out, chunked));
  EXPECT_FALSE(chunked);
  EXPECT_THAT(out, Not(HasSubstr("transfer-encoding")));
}

TEST(H2Translation, WhatIsNoRequestToServeIsRefused) {
  std::string out;
  bool chunked = false;
  EXPECT_FALSE(h1_request_head({{":path", "/"}, {":authority", "a"}}, false, out, chunked));
  EXPECT_FALSE(h1_request_head({{":method", "GET"}, {":authority", "a"}}, false, out, chunked));
  EXPECT_FALSE(h1_request_head({{":method", "GET"}, {":path", "/"}}, false, out, chunked));
  EXPECT_FALSE(
      h1_request_head({{":method", "CONNECT"}, {":authority", "a:443"}}, false, out, chunked));
  // Host stands in for a missing :authority (RFC 9113 8.3.1).
  EXPECT_TRUE(
      h1_request_head({{":method", "GET"}, {":path", "/"}, {"host", "b"}}, false, out, chunked));
  EXPECT_THAT(out, HasSubstr("Host: b\r\n"));
}

TEST(H2Translation, AWebSocketExtendedConnectBecomesTheHttp11Handshake) {
  const h2_fields head{{":method", "CONNECT"},
                       {":protocol", "websocket"},
                       {":scheme", "http"},
                       {":path", "/chat?room=1"},
                       {":authority", "mocka"},
                       {"sec-websocket-version", "13"},
                       {"sec-websocket-protocol", "v1"},
                       {"x-asm-prefer-tag", "v2"},
                       {"sec-websocket-key", "from-the-client"},
                       {"content-length", "0"}};
  EXPECT_EQ(extended_connect_of(head), extended_connect::websocket);
  std::string out;
  ASSERT_TRUE(h1_websocket_head(head, "AQIDBAUGBwgJCgsMDQ4PEA==", out));
  EXPECT_EQ(out,
            "GET /chat?room=1 HTTP/1.1\r\nHost: mocka\r\nConnection: Upgrade\r\n"
            "Upgrade: websocket\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
            "sec-websocket-version: 13\r\nsec-websocket-protocol: v1\r\n"
            "x-asm-prefer-tag: v2\r\n\r\n");
  // A client that left out the version gets RFC 6455's.
  ASSERT_TRUE(h1_websocket_head(
      {{":method", "CONNECT"}, {":protocol", "websocket"}, {":path", "/"}, {":authority", "a"}},
      "k", out));
  EXPECT_THAT(out, HasSubstr("sec-websocket-version: 13\r\n"));
}

TEST(H2Translation, OnlyAWholeWebSocketConnectIsTranslated) {
  EXPECT_EQ(extended_connect_of({{":method", "GET"}, {":protocol", "websocket"}}),
            extended_connect::none);
  EXPECT_EQ(extended_connect_of({{":method", "CONNECT"}, {":authority", "a:443"}}),
            extended_connect::none);
  EXPECT_EQ(extended_connect_of({{":method", "CONNECT"},
                                 {":protocol", "connect-udp"},
                                 {":path", "/"},
                                 {":authority", "a"}}),
            extended_connect::unsupported);
  EXPECT_EQ(extended_connect_of(
                {{":method", "CONNECT"}, {":protocol", "websocket"}, {":authority", "a"}}),
            extended_connect::unsupported);
  std::string out;
  EXPECT_FALSE(h1_websocket_head({{":method", "CONNECT"}, {":authority", "a:443"}}, "k", out));
}

TEST(H2Translation, AWebSocketKeyIsSixteenBytesInBase64) {
  EXPECT_EQ(websocket_key(0, 0), "AAAAAAAAAAAAAAAAAAAAAA==");
  EXPECT_EQ(websocket_key(0x0807060504030201, 0x100f0e0d0c0b0a09), "AQIDBAUGBwgJCgsMDQ4PEA==");
}

TEST(H2Translation, ASwitchedUpstreamIsA200WithoutTheHandshakeFields) {
  const auto head = h2_tunnel_head({{"upgrade", "websocket"},
                                    {"connection", "Upgrade"},
                                    {"sec-websocket-accept", "x"},
                                    {"sec-websocket-protocol", "v1"}});
  EXPECT_THAT(head, ElementsAre(Field(&h2_field::value, "200"),
                                Field(&h2_field::name, "sec-websocket-protocol")));
}

TEST(H2Translation, AResponseLosesItsHopByHopFields) {
  const auto head = h2_response_head(200, {{"content-type", "text/plain"},
                                           {"connection", "close"},
                                           {"transfer-encoding", "chunked"},
                                           {"keep-alive", "timeout=5"},
                                           {"x-envoy-upstream-service-time", "3"}});
  EXPECT_THAT(head,
              ElementsAre(Field(&h2_field::name, ":status"), Field(&h2_field::name, "content-type"),
                          Field(&h2_field::name, "x-envoy-upstream-service-time")));
  EXPECT_EQ(head[0].value, "200");
}

TEST(H2Translation, TrailerLinesBecomeAHeaderBlock) {
  const auto t = h2_fields_of_lines("Grpc-Status: 0\r\ngrpc-message:  done\r\nbad line\r\n");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].name, "grpc-status");
  EXPECT_EQ(t[0].value, "0");
  EXPECT_EQ(t[1].name, "grpc-message");
  EXPECT_EQ(t[1].value, "done");
}

TEST(H2Translation, ThePrefaceIsRecognisedFromItsFirstBytes) {
  EXPECT_TRUE(is_h2_preface_prefix("PRI"));
  EXPECT_TRUE(is_h2_preface_prefix(h2_preface));
  EXPECT_FALSE(is_h2_preface_prefix("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(is_h2_preface_prefix("PRI * HTTP/1.1"));
}

TEST(H2Translation, AnH2cUpgradeCarriesItsSettingsInBase64url) {
  header_arena arena;
  request_head req{fields(arena_allocator<char>(arena))};
  req.method(http::verb::get);
  req.target("/");
  req.set(http::field::host, "a");
  req.set(http::field::connection, "Upgrade, HTTP2-Settings");
  req.set(http::field::upgrade, "h2c");
  // SETTINGS_MAX_CONCURRENT_STREAMS (3) = 100, as curl sends it.
  req.set("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA");
  const auto settings = h2c_upgrade_settings(req);
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->size(), 18u);
  EXPECT_EQ(settings->substr(0, 6), std::string("\x00\x03\x00\x00\x00\x64", 6));
  const auto fields = h2_request_fields(req);
  EXPECT_EQ(fields.size(), 4u);  // the pseudo-headers; Connection, Upgrade, HTTP2-Settings dropped
  req.set("http2-settings", "not base64!");
  EXPECT_FALSE(h2c_upgrade_settings(req));
  req.set("http2-settings", "AAMAAABk");
  req.set(http::field::connection, "Upgrade");  // HTTP2-Settings not listed
  EXPECT_FALSE(h2c_upgrade_settings(req));
}

TEST(GrpcTimeout, IsReadInItsUnitsAndRoundedUpToMilliseconds) {
  EXPECT_EQ(grpc_timeout("100m"), std::chrono::milliseconds(100));
  EXPECT_EQ(grpc_timeout("5S"), std::chrono::milliseconds(5000));
  EXPECT_EQ(grpc_timeout("2M"), std::chrono::milliseconds(120000));
  EXPECT_EQ(grpc_timeout("1H"), std::chrono::milliseconds(3600000));
  EXPECT_EQ(grpc_timeout("1500u"), std::chrono::milliseconds(2));
  EXPECT_EQ(grpc_timeout("1n"), std::chrono::milliseconds(1));
  EXPECT_EQ(grpc_timeout("99999999S"), std::chrono::milliseconds(99999999000));
  EXPECT_FALSE(grpc_timeout(""));
  EXPECT_FALSE(grpc_timeout("S"));
  EXPECT_FALSE(grpc_timeout("100"));
  EXPECT_FALSE(grpc_timeout("123456789S"));  // more than 8 digits
  EXPECT_FALSE(grpc_timeout("1x"));
  EXPECT_FALSE(grpc_timeout("-1S"));
}

TEST(GrpcLocalReply, IsHttp200WithTheStatusAndAnEncodedMessage) {
  std::string out;
  grpc_local_reply_head(14, "no healthy upstream 100%", 11, true, out);
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(out, HasSubstr("content-type: application/grpc\r\n"));
  EXPECT_THAT(out, HasSubstr("grpc-status: 14\r\n"));
  EXPECT_THAT(out, HasSubstr("grpc-message: no healthy upstream 100%25\r\n"));
  EXPECT_THAT(out, HasSubstr("Content-Length: 0\r\n"));
}

TEST(GrpcLocalReply, HttpStatusesMapAsEnvoyMapsThem) {
  EXPECT_EQ(dataplane::grpc_status_of_http(503), 14u);
  EXPECT_EQ(dataplane::grpc_status_of_http(504), 14u);
  EXPECT_EQ(dataplane::grpc_status_of_http(404), 12u);
  EXPECT_EQ(dataplane::grpc_status_of_http(400), 13u);
  EXPECT_EQ(dataplane::grpc_status_of_http(403), 7u);
  EXPECT_EQ(dataplane::grpc_status_of_http(418), 2u);
  EXPECT_EQ(config::grpc_status_code("UNAVAILABLE"), 14);
  EXPECT_EQ(config::grpc_status_code("OK"), 0);
  EXPECT_EQ(config::grpc_status_code("UNAUTHENTICATED"), 16);
  EXPECT_EQ(config::grpc_status_code("NOPE"), -1);
}

TEST(ServicePortProtocol, IsReadFromAppProtocolThenTheNamePrefix) {
  const auto port = [](std::string name, std::string app) {
    config::service_port p;
    p.name = std::move(name);
    p.app_protocol = std::move(app);
    p.port = 8000;
    return p;
  };
  EXPECT_TRUE(config::speaks_http2(port("grpc", "")));
  EXPECT_TRUE(config::speaks_http2(port("grpc-api", "")));
  EXPECT_TRUE(config::speaks_http2(port("http2", "")));
  EXPECT_TRUE(config::speaks_http2(port("h2c-x", "")));
  EXPECT_TRUE(config::speaks_http2(port("web", "kubernetes.io/h2c")));
  EXPECT_TRUE(config::speaks_http2(port("http", "GRPC")));
  EXPECT_FALSE(config::speaks_http2(port("grpc-web", "")));
  EXPECT_FALSE(config::speaks_http2(port("http", "")));
  EXPECT_FALSE(config::speaks_http2(port("grpc", "http")));
  EXPECT_FALSE(config::speaks_http2(port("", "")));
}

}  // namespace
}  // namespace laneproxy::net
