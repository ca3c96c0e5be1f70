#include "config/string_matcher.h"

#include "config/ascii.h"

namespace laneproxy::config {

string_matcher::string_matcher(const string_match& m, bool ignore_case)
    : spec_(m), ignore_case_(ignore_case) {
  if (m.type == string_match::kind::regex) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_case_sensitive(!ignore_case);
    regex_ = std::make_shared<const RE2>(m.value, options);
  }
}

bool string_matcher::matches(std::string_view value) const {
  switch (spec_.type) {
    case string_match::kind::exact:
      return ignore_case_ ? ascii_iequals(value, spec_.value) : value == spec_.value;
    case string_match::kind::prefix:
      if (value.size() < spec_.value.size()) return false;
      return ignore_case_ ? ascii_iequals(value.substr(0, spec_.value.size()), spec_.value)
                          : value.substr(0, spec_.value.size()) == spec_.value;
    case string_match::kind::regex:
      return regex_->ok() && RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *regex_);
  }
  return false;
}

}  // namespace laneproxy::config
