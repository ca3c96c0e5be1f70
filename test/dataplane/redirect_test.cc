// Where a VirtualService `redirect` sends a client, without sockets.
#include "dataplane/redirect.h"

#include <gtest/gtest.h>

namespace laneproxy::dataplane {
namespace {

using derive = config::http_redirect::derive;

route::request_view request(std::string_view authority, std::string_view target,
                            std::uint32_t listener_port = 8080) {
  route::request_view v;
  v.method = "GET";
  v.authority = authority;
  v.target = target;
  v.port = listener_port;
  return v;
}

config::http_redirect redirect(std::string uri, std::string authority = "", std::string scheme = "",
                               std::uint32_t port = 0, derive d = derive::none) {
  config::http_redirect r;
  r.uri = std::move(uri);
  r.authority = std::move(authority);
  r.scheme = std::move(scheme);
  r.port = port;
  r.derive_port = d;
  return r;
}

TEST(Redirect, ReplacesThePathAndKeepsTheQuery) {
  EXPECT_EQ(redirect_location(redirect("/new"), request("shop.example:8080", "/old/x?a=1&b=2")),
            "http://shop.example:8080/new?a=1&b=2");
  EXPECT_EQ(redirect_location(redirect("/new?only=this"), request("shop", "/old?a=1")),
            "http://shop/new?only=this");
  EXPECT_EQ(redirect_location(redirect(""), request("shop", "/same?a=1")), "http://shop/same?a=1");
}

TEST(Redirect, AuthoritySchemeAndPorts) {
  EXPECT_EQ(redirect_location(redirect("", "other.example"), request("shop:8080", "/p")),
            "http://other.example/p");
  EXPECT_EQ(redirect_location(redirect("", "other.example:9000"), request("shop:8080", "/p")),
            "http://other.example:9000/p");
  EXPECT_EQ(redirect_location(redirect("", "", "https"), request("shop", "/p")), "https://shop/p");
  // A port that is the scheme's default is left out.
  EXPECT_EQ(redirect_location(redirect("", "", "https", 443), request("shop:80", "/p")),
            "https://shop/p");
  EXPECT_EQ(redirect_location(redirect("", "", "", 8443), request("shop:80", "/p")),
            "http://shop:8443/p");
  EXPECT_EQ(redirect_location(redirect("", "", "https", 0, derive::protocol_default),
                              request("shop:8080", "/p")),
            "https://shop/p");
  EXPECT_EQ(redirect_location(redirect("", "elsewhere", "", 0, derive::request_port),
                              request("shop:8080", "/p")),
            "http://elsewhere:8080/p");
  // No port in Host: the port the request came in on.
  EXPECT_EQ(redirect_location(redirect("", "elsewhere", "", 0, derive::request_port),
                              request("shop", "/p", 9090)),
            "http://elsewhere:9090/p");
  EXPECT_EQ(redirect_location(redirect("/v6"), request("[::1]:8080", "/p")),
            "http://[::1]:8080/v6");
}

}  // namespace
}  // namespace laneproxy::dataplane
