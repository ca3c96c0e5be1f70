// laneproxy-bench: its statistics, and the real tool against real lanes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "benchtool/split_stats.h"
#include "support/child_process.h"
#include "support/local_mesh.h"

namespace laneproxy::testing {
namespace {

using benchtool::chain_versions;
using benchtool::parse_expected;
using benchtool::test_fit;
using benchtool::upper_gamma_q;

TEST(SplitStats, PValuesMatchTheChiSquareTable) {
  // Critical values: P(X >= 3.841) = 0.05 at 1 dof; 5.991 at 2 dof; 10.828 at 0.001, 1 dof.
  EXPECT_NEAR(upper_gamma_q(0.5, 3.841 / 2), 0.05, 1e-4);
  EXPECT_NEAR(upper_gamma_q(1.0, 5.991 / 2), 0.05, 1e-4);
  EXPECT_NEAR(upper_gamma_q(0.5, 10.828 / 2), 0.001, 1e-5);
  EXPECT_DOUBLE_EQ(upper_gamma_q(1.0, 0), 1.0);
}

TEST(SplitStats, FitOfCountsAgainstWeights) {
  const auto expected = *parse_expected("v1=60,v2=30,v3=10");
  const auto exact = test_fit({{"v1", 600}, {"v2", 300}, {"v3", 100}}, expected);
  EXPECT_DOUBLE_EQ(exact.chi_square, 0);
  EXPECT_DOUBLE_EQ(exact.p_value, 1);
  EXPECT_EQ(exact.degrees_of_freedom, 2);
  const auto off = test_fit({{"v1", 500}, {"v2", 400}, {"v3", 100}}, expected);
  EXPECT_NEAR(off.chi_square, 100.0 * 100 / 600 + 100.0 * 100 / 300, 1e-9);
  EXPECT_LT(off.p_value, 1e-6);
  EXPECT_NEAR(off.largest_deviation, 0.1, 1e-12);
  const auto stray = test_fit({{"v1", 60}, {"v9", 1}}, *parse_expected("v1=1"));
  EXPECT_EQ(stray.unexpected, 1u);
  EXPECT_EQ(stray.p_value, 0);
  EXPECT_FALSE(parse_expected("v1=60,v2"));
  EXPECT_FALSE(parse_expected("v1=-1"));
}

TEST(SplitStats, ChainVersions) {
  EXPECT_THAT(chain_versions("-> mocka(version: v1, ip: 127.0.1.1)-> mockb(version: v2, ip: "
                             "127.0.1.4)-> mockc(version: v1, ip: 127.0.1.5)"),
              ::testing::ElementsAre("v1", "v2", "v1"));
  EXPECT_TRUE(chain_versions("hello").empty());
}

const std::string samples = std::string(LANEPROXY_SOURCE_DIR) + "/config/";

TEST(BenchTool, PassesOnLanesAndCatchesMixedChains) {
  {
    local_mesh lanes(samples + "swimlane");
    child_process bench({LANEPROXY_BENCH_BIN,
                         "http://127.0.0.1:" + std::to_string(lanes.gateway_port()) + "/mock", "-n",
                         "400", "-c", "4", "--expect", "v1=50,v2=50", "--json"});
    EXPECT_EQ(bench.stop(0, std::chrono::seconds(60)), 0) << bench.output();
    EXPECT_THAT(bench.output(), ::testing::HasSubstr("\"isolation_violations\": 0"));
    EXPECT_THAT(bench.output(), ::testing::ContainsRegex("\"lanes\": \\{\"v1\": [0-9]+, \"v2\""));
  }
  {
    // Without lanes every hop picks a version: the tool must see it and fail.
    local_mesh mixed(samples + "no-lanes");
    child_process bench({LANEPROXY_BENCH_BIN,
                         "http://127.0.0.1:" + std::to_string(mixed.gateway_port()) + "/mock", "-n",
                         "200", "-c", "2"});
    EXPECT_EQ(bench.stop(0, std::chrono::seconds(60)), 1) << bench.output();
    EXPECT_THAT(bench.output(), ::testing::ContainsRegex("isolation: [1-9][0-9]* chains left"));
  }
}

}  // namespace
}  // namespace laneproxy::testing
