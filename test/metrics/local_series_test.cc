#include "metrics/local_series.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>

namespace laneproxy::metrics {
namespace {

TEST(LocalSeries, CounterMergesOnlyWhatIsNew) {
  prometheus::Registry registry;
  auto& shared = prometheus::BuildCounter().Name("c").Register(registry).Add({});
  local_counter a(shared), b(shared);  // two workers, one series
  a.add();
  a.add(4);
  b.add(2);
  EXPECT_EQ(shared.Value(), 0);  // nothing is seen before a merge
  a.merge();
  b.merge();
  EXPECT_EQ(shared.Value(), 7);
  a.merge();
  EXPECT_EQ(shared.Value(), 7);
  b.add();
  b.merge();
  EXPECT_EQ(shared.Value(), 8);
}

TEST(LocalSeries, HistogramBucketsLikePrometheusWithScaledIntegers) {
  prometheus::Registry registry;
  const prometheus::Histogram::BucketBoundaries ms{0.5, 1, 5};
  auto& shared = prometheus::BuildHistogram().Name("h").Register(registry).Add({}, ms);
  local_histogram h(shared, ms, 1000);  // microseconds in, milliseconds out
  for (const std::uint64_t us : {0, 500, 501, 1000, 4999, 5000, 5001, 70000}) h.observe(us);
  h.merge();
  const auto m = shared.Collect().histogram;
  ASSERT_EQ(m.bucket.size(), 4u);
  // Cumulative, upper bounds inclusive: <=0.5: 0, 500; <=1: +501, 1000;
  // <=5: +4999, 5000; +Inf: +5001, 70000.
  EXPECT_EQ(m.bucket[0].cumulative_count, 2u);
  EXPECT_EQ(m.bucket[1].cumulative_count, 4u);
  EXPECT_EQ(m.bucket[2].cumulative_count, 6u);
  EXPECT_EQ(m.bucket[3].cumulative_count, 8u);
  EXPECT_EQ(m.sample_count, 8u);
  EXPECT_DOUBLE_EQ(m.sample_sum, (0 + 500 + 501 + 1000 + 4999 + 5000 + 5001 + 70000) / 1000.0);
  h.merge();  // nothing new
  EXPECT_EQ(shared.Collect().histogram.sample_count, 8u);
}

TEST(LocalSeries, MergesRacingRecordingsLoseNothing) {
  prometheus::Registry registry;
  const prometheus::Histogram::BucketBoundaries bounds{10, 100};
  auto& hist = prometheus::BuildHistogram().Name("h").Register(registry).Add({}, bounds);
  auto& count = prometheus::BuildCounter().Name("c").Register(registry).Add({});
  local_histogram h(hist, bounds);
  local_counter c(count);
  constexpr int n = 200000;
  std::thread worker([&] {
    for (int i = 0; i < n; ++i) {
      h.observe(static_cast<std::uint64_t>(i % 150));
      c.add();
    }
  });
  for (int i = 0; i < 1000; ++i) {  // a scraper merging all along
    h.merge();
    c.merge();
  }
  worker.join();
  h.merge();
  c.merge();
  EXPECT_EQ(count.Value(), n);
  const auto m = hist.Collect().histogram;
  EXPECT_EQ(m.sample_count, static_cast<std::uint64_t>(n));
  std::uint64_t sum = 0;
  for (int i = 0; i < n; ++i) sum += static_cast<std::uint64_t>(i % 150);
  EXPECT_DOUBLE_EQ(m.sample_sum, static_cast<double>(sum));
  EXPECT_EQ(m.bucket[0].cumulative_count, static_cast<std::uint64_t>(n / 150 * 11 + 11));
}

}  // namespace
}  // namespace laneproxy::metrics
