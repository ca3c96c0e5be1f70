#include "config/string_matcher.h"

#include <gtest/gtest.h>

namespace laneproxy::config {
namespace {

TEST(StringMatcher, Exact) {
  const string_matcher m({string_match::kind::exact, "/mock"});
  EXPECT_TRUE(m.matches("/mock"));
  EXPECT_FALSE(m.matches("/mock/"));
  EXPECT_FALSE(m.matches("/MOCK"));
}

TEST(StringMatcher, Prefix) {
  const string_matcher m({string_match::kind::prefix, "/api"});
  EXPECT_TRUE(m.matches("/api"));
  EXPECT_TRUE(m.matches("/api/v1"));
  EXPECT_FALSE(m.matches("/ap"));
}

TEST(StringMatcher, RegexIsAFullMatch) {
  const string_matcher m({string_match::kind::regex, "/v[0-9]+"});
  EXPECT_TRUE(m.matches("/v12"));
  EXPECT_FALSE(m.matches("/v12/x"));
  EXPECT_FALSE(m.matches("x/v1"));
}

TEST(StringMatcher, IgnoreCase) {
  EXPECT_TRUE(string_matcher({string_match::kind::exact, "/Mock"}, true).matches("/mOCK"));
  EXPECT_TRUE(string_matcher({string_match::kind::prefix, "/API"}, true).matches("/api/x"));
  EXPECT_TRUE(string_matcher({string_match::kind::regex, "/a+"}, true).matches("/AAa"));
}

}  // namespace
}  // namespace laneproxy::config
