#include "config/guard_spec.h"

#include <cctype>
#include <charconv>

#include "config/yaml_field.h"

namespace laneproxy::config {

namespace {

// A cursor over the annotation's words.
class words {
 public:
  explicit words(std::string_view text) : rest_(text) {}

  bool done() {
    skip_spaces();
    return rest_.empty();
  }
  // Takes `word` when it comes next.
  bool take(std::string_view word) {
    skip_spaces();
    if (rest_.substr(0, word.size()) != word) return false;
    rest_.remove_prefix(word.size());
    return true;
  }
  // The next run of characters up to a space or comma.
  std::string_view token() {
    skip_spaces();
    std::size_t n = 0;
    while (n < rest_.size() && rest_[n] != ' ' && rest_[n] != ',') ++n;
    const auto out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return out;
  }

 private:
  void skip_spaces() {
    while (!rest_.empty() && rest_.front() == ' ') rest_.remove_prefix(1);
  }
  std::string_view rest_;
};

std::optional<double> percent(std::string_view t) {
  if (t.empty() || t.back() != '%') return std::nullopt;
  t.remove_suffix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || v < 0 || v >= 100) return std::nullopt;
  return v / 100;
}

}  // namespace

std::optional<guard_spec> parse_guard(std::string_view text, std::string& error) {
  guard_spec g;
  words w(text);
  const auto rate = (w.take("error-rate") && w.take(">")) ? percent(w.token()) : std::nullopt;
  if (!rate) {
    error = "expected \"error-rate > N% [over DURATION][, min N requests]\" with N% below 100%";
    return std::nullopt;
  }
  g.max_error_rate = *rate;
  if (w.take("over")) {
    const auto d = parse_duration(w.token());
    if (!d || *d < std::chrono::milliseconds(100)) {
      error = "the window after \"over\" must be a duration of at least 100ms (\"10s\")";
      return std::nullopt;
    }
    g.window = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  if (w.take(",")) {
    const auto n = w.take("min") ? w.token() : std::string_view{};
    std::uint32_t v = 0;
    const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
    if (n.empty() || ec != std::errc() || end != n.data() + n.size() || v == 0) {
      error = "expected \"min N requests\" with N at least 1 after the comma";
      return std::nullopt;
    }
    g.min_requests = v;
    w.take("requests");
  }
  if (!w.done()) {
    error = "unexpected text after the guard: \"" + std::string(w.token()) + "\"";
    return std::nullopt;
  }
  return g;
}

}  // namespace laneproxy::config
