#include "benchtool/split_stats.h"

#include <charconv>
#include <cmath>
#include <regex>

namespace laneproxy::benchtool {

std::vector<std::string> chain_versions(std::string_view body) {
  static const std::regex hop(R"(-> [^(]*\(version: ([^,)]+))");
  std::vector<std::string> out;
  const std::string text(body);
  for (std::sregex_iterator it(text.begin(), text.end(), hop), end; it != end; ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

std::optional<std::map<std::string, double>> parse_expected(std::string_view text) {
  std::map<std::string, double> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    double w = 0;
    const auto value = item.substr(eq + 1);
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), w);
    if (ec != std::errc{} || end != value.data() + value.size() || w < 0) return std::nullopt;
    out[std::string(item.substr(0, eq))] = w;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

double upper_gamma_q(double s, double x) {
  if (x <= 0) return 1;
  const double log_prefix = s * std::log(x) - x - std::lgamma(s);
  if (x < s + 1) {
    // P(s, x) by its power series; Q = 1 - P.
    double term = 1 / s, sum = term;
    for (int n = 1; n < 1000; ++n) {
      term *= x / (s + n);
      sum += term;
      if (std::abs(term) < std::abs(sum) * 1e-15) break;
    }
    return std::max(0.0, 1 - sum * std::exp(log_prefix));
  }
  // Q(s, x) by its continued fraction (modified Lentz).
  const double tiny = 1e-300;
  double b = x + 1 - s, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-15) break;
  }
  return std::exp(log_prefix) * h;
}

fit test_fit(const std::map<std::string, std::uint64_t>& counts,
             const std::map<std::string, double>& expected) {
  fit f;
  double total_weight = 0;
  for (const auto& [lane, w] : expected) total_weight += w;
  std::uint64_t n = 0;
  for (const auto& [lane, c] : counts) n += c;
  if (n == 0 || total_weight <= 0) return f;
  int lanes = 0;
  for (const auto& [lane, w] : expected) {
    const auto it = counts.find(lane);
    const double observed = it == counts.end() ? 0 : static_cast<double>(it->second);
    const double share = w / total_weight;
    f.largest_deviation = std::max(f.largest_deviation, std::abs(observed / n - share));
    if (share == 0) {
      f.unexpected += static_cast<std::uint64_t>(observed);
      continue;
    }
    const double e = share * n;
    f.chi_square += (observed - e) * (observed - e) / e;
    ++lanes;
  }
  for (const auto& [lane, c] : counts) {
    if (!expected.contains(lane)) {
      f.unexpected += c;
      f.largest_deviation = std::max(f.largest_deviation, static_cast<double>(c) / n);
    }
  }
  f.degrees_of_freedom = std::max(lanes - 1, 0);
  if (f.unexpected > 0) {
    f.p_value = 0;
  } else if (f.degrees_of_freedom > 0) {
    f.p_value = upper_gamma_q(f.degrees_of_freedom / 2.0, f.chi_square / 2.0);
  }
  return f;
}

}  // namespace laneproxy::benchtool
