// What laneproxy-bench concludes from the answers it got: the lane of each
// response, whether its chain stayed in one lane, and how well the counts
// fit the expected shares (Pearson's chi-square test). Pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laneproxy::benchtool {

// The lanes (versions) along a chain body like the sample app's,
// "-> mocka(version: v1, ip: ...)-> mockb(version: v1, ip: ...)", in order.
std::vector<std::string> chain_versions(std::string_view body);

// Parses "v1=60,v2=30,v3=10" into lane -> weight; nullopt when malformed.
std::optional<std::map<std::string, double>> parse_expected(std::string_view text);

struct fit {
  double chi_square = 0;
  int degrees_of_freedom = 0;
  double p_value = 1;            // P(X >= chi_square) for a chi-square(dof) X
  double largest_deviation = 0;  // max |observed share - expected share|
  std::uint64_t unexpected = 0;  // responses in lanes with no expected share
};

// Pearson's test of `counts` against `expected` weights (normalized here).
// Lanes expected at weight 0 that got responses count as unexpected; any
// unexpected response makes the p-value 0.
fit test_fit(const std::map<std::string, std::uint64_t>& counts,
             const std::map<std::string, double>& expected);

// The regularized upper incomplete gamma function Q(s, x), for the p-value.
double upper_gamma_q(double s, double x);

}  // namespace laneproxy::benchtool
