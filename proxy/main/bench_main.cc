// laneproxy-bench: split accuracy under load (see benchtool/).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "benchtool/load_runner.h"
#include "benchtool/split_stats.h"
#include "config/json_text.h"

namespace {
using namespace laneproxy::benchtool;

constexpr const char* usage =
    "usage: laneproxy-bench URL [-n N] [-c C] [--duration S] [--rate R]\n"
    "                       [--expect v1=60,v2=30,v3=10] [--lane-from header:NAME|body-chain]\n"
    "                       [--alpha A] [--vary-header NAME] [--h2 | --grpc] [--json]\n"
    "  Sends N requests (default 1000) over C keep-alive connections (default 10), or\n"
    "  for S seconds, optionally paced at R requests/s; counts answers by lane (the\n"
    "  first hop of a chain body like the sample app's, or a response header), checks\n"
    "  that every chain stays in one lane, and tests the split against --expect\n"
    "  (chi-square). Exit status 1 when p < alpha (default 0.001) or a chain left\n"
    "  its lane; 2 on usage errors. --vary-header sends NAME: user-<n>, a new user\n"
    "  per request (for sticky splits). --h2 speaks HTTP/2 with prior knowledge;\n"
    "  --grpc makes gRPC unary calls on URL's path (laneproxy-mock answers them).\n";

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const auto k =
      std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  load_options options;
  std::optional<std::map<std::string, double>> expected;
  double alpha = 0.001;
  bool json = false, have_url = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << usage;
        return 0;
      } else if (a == "-n") {
        options.requests = std::stoull(value());
      } else if (a == "-c") {
        options.connections = static_cast<unsigned>(std::stoul(value()));
      } else if (a == "--duration") {
        options.duration = std::chrono::milliseconds(static_cast<long>(std::stod(value()) * 1000));
      } else if (a == "--rate") {
        options.rate = std::stod(value());
      } else if (a == "--expect") {
        expected = parse_expected(value());
        if (!expected) throw std::invalid_argument("--expect takes LANE=WEIGHT,...");
      } else if (a == "--lane-from") {
        const auto v = value();
        if (v.rfind("header:", 0) == 0 && v.size() > 7) {
          options.lane_header = v.substr(7);
        } else if (v != "body-chain") {
          throw std::invalid_argument("--lane-from takes header:NAME or body-chain");
        }
      } else if (a == "--vary-header") {
        options.vary_header = value();
      } else if (a == "--alpha") {
        alpha = std::stod(value());
      } else if (a == "--json") {
        json = true;
      } else if (a == "--h2") {
        options.protocol = load_protocol::http2;
      } else if (a == "--grpc") {
        options.protocol = load_protocol::grpc;
      } else if (!have_url && parse_url(a, options)) {
        have_url = true;
      } else {
        throw std::invalid_argument("unexpected argument \"" + a + "\"");
      }
    }
    if (!have_url) throw std::invalid_argument("no URL given (http://host:port/path)");
    if (options.duration && options.requests == 1000) options.requests = 0;
  } catch (const std::exception& e) {
    std::cerr << "laneproxy-bench: " << e.what() << "\n" << usage;
    return 2;
  }
  options.progress = !json && isatty(2);

  auto result = run_load(options);
  const auto answered = result.answered();
  const fit f = expected ? test_fit(result.lanes, *expected) : fit{};
  auto& lat = result.latencies_ms;
  const double p50 = percentile(lat, 0.5), p90 = percentile(lat, 0.9), p99 = percentile(lat, 0.99);
  const double max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  const double rps = result.seconds > 0 ? static_cast<double>(answered) / result.seconds : 0;
  std::uint64_t ok = 0;
  for (const auto& [lane, c] : result.lanes) ok += c;
  double total_weight = 0;
  if (expected) {
    for (const auto& [lane, w] : *expected) total_weight += w;
  }

  if (json) {
    std::string out = "{\"requests\": " + std::to_string(answered) +
                      ", \"seconds\": " + std::to_string(result.seconds) +
                      ", \"requests_per_second\": " + std::to_string(rps) + ", \"lanes\": {";
    bool first = true;
    for (const auto& [lane, c] : result.lanes) {
      out += (first ? "" : ", ") + laneproxy::config::json_quoted(lane) + ": " + std::to_string(c);
      first = false;
    }
    out += "}, \"errors\": {";
    first = true;
    for (const auto& [what, c] : result.errors) {
      out += (first ? "" : ", ") + laneproxy::config::json_quoted(what) + ": " + std::to_string(c);
      first = false;
    }
    out += "}, \"isolation_violations\": " + std::to_string(result.isolation_violations);
    if (expected) {
      out += ", \"chi_square\": " + std::to_string(f.chi_square) +
             ", \"degrees_of_freedom\": " + std::to_string(f.degrees_of_freedom) +
             ", \"p_value\": " + std::to_string(f.p_value) +
             ", \"largest_deviation\": " + std::to_string(f.largest_deviation);
    }
    out += ", \"latency_ms\": {\"p50\": " + std::to_string(p50) +
           ", \"p90\": " + std::to_string(p90) + ", \"p99\": " + std::to_string(p99) +
           ", \"max\": " + std::to_string(max) + "}}";
    std::cout << out << "\n";
  } else {
    std::printf("%llu requests in %.2f s (%.0f/s), %llu answered 200\n",
                static_cast<unsigned long long>(answered), result.seconds, rps,
                static_cast<unsigned long long>(ok));
    std::printf("  %-12s %8s %9s %9s\n", "LANE", "COUNT", "OBSERVED", "EXPECTED");
    auto lanes = result.lanes;
    if (expected) {
      for (const auto& [lane, w] : *expected) lanes.try_emplace(lane, 0);
    }
    for (const auto& [lane, c] : lanes) {
      const double observed = ok ? 100.0 * static_cast<double>(c) / static_cast<double>(ok) : 0;
      std::string exp = "-";
      if (expected && expected->contains(lane) && total_weight > 0) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%.1f%%", 100 * expected->at(lane) / total_weight);
        exp = buf;
      }
      std::printf("  %-12s %8llu %8.1f%% %9s\n", lane.c_str(), static_cast<unsigned long long>(c),
                  observed, exp.c_str());
    }
    if (expected) {
      std::printf(
          "chi-square %.3f (%d degrees of freedom), p-value %.4g, largest deviation "
          "%.2f%%\n",
          f.chi_square, f.degrees_of_freedom, f.p_value, 100 * f.largest_deviation);
    }
    std::printf("isolation: %llu chains left their lane\n",
                static_cast<unsigned long long>(result.isolation_violations));
    for (const auto& body : result.violation_examples) std::printf("  %s\n", body.c_str());
    for (const auto& [what, c] : result.errors) {
      std::printf("errors: %llu %s\n", static_cast<unsigned long long>(c), what.c_str());
    }
    std::printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", p50, p90, p99, max);
  }
  const bool split_ok = !expected || f.p_value >= alpha;
  return split_ok && result.isolation_violations == 0 ? 0 : 1;
}
