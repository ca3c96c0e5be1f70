// A compiled Istio StringMatch, ready for the request path.
//
// Immutable after construction and safe to share across threads (RE2 objects
// are thread-safe for matching). Regexes are full matches, as in Envoy.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <re2/re2.h>

#include "config/resources.h"

namespace laneproxy::config {

class string_matcher {
 public:
  // Precondition: a regex `m` compiles (the decoder has checked it).
  explicit string_matcher(const string_match& m, bool ignore_case = false);

  bool matches(std::string_view value) const;
  const string_match& spec() const { return spec_; }
  bool ignore_case() const { return ignore_case_; }

 private:
  string_match spec_;
  bool ignore_case_;
  std::shared_ptr<const RE2> regex_;
};

}  // namespace laneproxy::config
