// Envoy's %RESPONSE_FLAGS%: one code, or several in Envoy's order.
#include <gtest/gtest.h>

#include "dataplane/local_reply.h"

namespace laneproxy::dataplane {
namespace {

std::string flags(response_flag f, extra_flags extra = {}) {
  std::string out;
  append_flags(out, f, extra);
  return out;
}

TEST(ResponseFlags, OneCodeOrSeveralInEnvoysOrder) {
  EXPECT_EQ(flags(response_flag::none), "-");
  EXPECT_EQ(flags(response_flag::no_route), "NR");
  EXPECT_EQ(flags(response_flag::none, {true, false}), "DI");
  EXPECT_EQ(flags(response_flag::none, {false, true}), "URX");
  EXPECT_EQ(flags(response_flag::fault_abort, {true, false}), "DI,FI");
  EXPECT_EQ(flags(response_flag::upstream_connect_failure, {false, true}), "UF,URX");
  EXPECT_EQ(flags(response_flag::upstream_timeout, {true, true}), "UT,DI,URX");
  EXPECT_EQ(flags(response_flag::upstream_protocol_error, {true, false}), "DI,UPE");
}

}  // namespace
}  // namespace laneproxy::dataplane
