// The NAT rules of `laneproxy capture`: Istio's flags and annotations, what
// is captured and what is left alone, and malformed input refused.
#include "cli/capture_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace laneproxy::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CaptureRules, TheDefaultsCaptureEveryAppPortAndLeaveTheProxyAlone) {
  std::string error;
  const auto o = parse_capture_args({}, error);
  ASSERT_TRUE(o) << error;
  const auto rules = capture_rules(*o);
  EXPECT_THAT(rules, HasSubstr("-A LANEPROXY_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"));
  EXPECT_THAT(rules, HasSubstr("-A LANEPROXY_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"));
  EXPECT_THAT(rules, HasSubstr("-A PREROUTING -p tcp -j LANEPROXY_INBOUND\n"
                               "-A LANEPROXY_INBOUND -p tcp --dport 15020 -j RETURN\n"
                               "-A LANEPROXY_INBOUND -p tcp --dport 15021 -j RETURN\n"
                               "-A LANEPROXY_INBOUND -p tcp --dport 15090 -j RETURN\n"
                               "-A LANEPROXY_INBOUND -p tcp -j LANEPROXY_IN_REDIRECT\n"));
  // The proxy's own calls and loopback first, then everything else.
  EXPECT_THAT(rules, HasSubstr("-A OUTPUT -p tcp -j LANEPROXY_OUTPUT\n"
                               "-A LANEPROXY_OUTPUT -m owner --uid-owner 1337 -j RETURN\n"
                               "-A LANEPROXY_OUTPUT -m owner --gid-owner 1337 -j RETURN\n"
                               "-A LANEPROXY_OUTPUT -o lo -j RETURN\n"
                               "-A LANEPROXY_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
                               "-A LANEPROXY_OUTPUT -j LANEPROXY_REDIRECT\nCOMMIT\n"));
  EXPECT_TRUE(rules.starts_with("*nat\n:LANEPROXY_INBOUND - [0:0]\n"));
}

TEST(CaptureRules, FlagsAndAnnotationsNarrowIt) {
  std::string error;
  auto o =
      parse_capture_args({"--proxy-uid", "2000", "--proxy-port", "16001", "--istio-inbound-ports",
                          "8000,9000", "--istio-service-cidr", "10.96.0.0/12, 10.244.0.0/16"},
                         error);
  ASSERT_TRUE(o) << error;
  ASSERT_TRUE(
      apply_annotations("app=\"x\"\n"
                        "traffic.sidecar.istio.io/excludeOutboundIPRanges=\"10.96.0.1/32\"\n"
                        "traffic.sidecar.istio.io/excludeOutboundPorts=\"5432\"\n"
                        "traffic.sidecar.istio.io/excludeInboundPorts=\"9000\"\n",
                        *o, error))
      << error;
  const auto rules = capture_rules(*o);
  EXPECT_THAT(rules, HasSubstr("--to-ports 16001\n"));
  EXPECT_THAT(rules, HasSubstr("--uid-owner 2000 -j RETURN\n"));
  EXPECT_THAT(rules,
              HasSubstr("-A LANEPROXY_INBOUND -p tcp --dport 9000 -j RETURN\n"
                        "-A LANEPROXY_INBOUND -p tcp --dport 8000 -j LANEPROXY_IN_REDIRECT\n"
                        "-A LANEPROXY_INBOUND -p tcp --dport 9000 -j LANEPROXY_IN_REDIRECT\n"));
  EXPECT_THAT(rules, HasSubstr("-A LANEPROXY_OUTPUT -p tcp --dport 5432 -j RETURN\n"
                               "-A LANEPROXY_OUTPUT -d 10.96.0.1/32 -j RETURN\n"
                               "-A LANEPROXY_OUTPUT -d 10.96.0.0/12 -j LANEPROXY_REDIRECT\n"
                               "-A LANEPROXY_OUTPUT -d 10.244.0.0/16 -j LANEPROXY_REDIRECT\n"));
  EXPECT_THAT(rules, Not(HasSubstr("-A LANEPROXY_OUTPUT -j LANEPROXY_REDIRECT")));
}

TEST(CaptureRules, MalformedInputIsRefusedByName) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--proxy-port", "0"}, "--proxy-port takes a port, got \"0\""},
      {{"--proxy-uid", "me"}, "--proxy-uid takes a numeric id, got \"me\""},
      {{"--istio-service-cidr", "10.0.0.0/33"},
       "--istio-service-cidr: \"10.0.0.0/33\" is not an IPv4 address or CIDR (or * alone)"},
      {{"--istio-service-cidr", "*,10.0.0.0/8"},
       "--istio-service-cidr: \"*\" is not an IPv4 address or CIDR (or * alone)"},
      {{"--istio-local-exclude-ports", "http"},
       "--istio-local-exclude-ports: \"http\" is not a port"},
      {{"--dry-run", "--proxy-port"}, "unexpected argument \"--proxy-port\""},
      {{"--annotations", "/nonexistent/annotations"}, "/nonexistent/annotations: cannot be read"},
  };
  for (const auto& [args, message] : cases) {
    std::string error;
    EXPECT_FALSE(parse_capture_args(args, error));
    EXPECT_EQ(error, message);
  }
  capture_options o;
  std::string error;
  EXPECT_FALSE(
      apply_annotations("traffic.sidecar.istio.io/includeInboundPorts=\"80,x\"\n", o, error));
  EXPECT_THAT(error, HasSubstr("\"x\" is not a port"));
}

TEST(CaptureRules, RemovalTakesOutTheJumpsThenTheChains) {
  const auto cmds = removal_commands(capture_options{});
  ASSERT_EQ(cmds.size(), 10u);
  EXPECT_EQ(cmds[0], (std::vector<std::string>{"iptables", "-w", "-t", "nat", "-D", "PREROUTING",
                                               "-p", "tcp", "-j", "LANEPROXY_INBOUND"}));
  EXPECT_EQ(cmds[2].back(), "LANEPROXY_INBOUND");
  EXPECT_EQ(cmds[2][4], "-F");
  EXPECT_EQ(cmds[9][4], "-X");
}

}  // namespace
}  // namespace laneproxy::cli
