// Counters and histograms that one worker records into without a lock, and
// that are merged into the shared prometheus-cpp series when they are read.
//
// prometheus-cpp takes a mutex and a compare-and-swap loop for every
// histogram observation; here an observation is a bucket search and two
// relaxed atomic additions on memory only its worker writes. merge() adds
// what was recorded since the previous merge to the shared series; callers
// serialize merges (proxy_metrics does, before each scrape). A scrape that
// races a recording may take an observation's count and its sum in two
// successive merges; the totals always agree again after the next one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

namespace laneproxy::metrics {

class local_counter {
 public:
  explicit local_counter(prometheus::Counter& target) : target_(&target) {}
  void add(std::uint64_t n = 1) { count_.fetch_add(n, std::memory_order_relaxed); }
  void merge();

 private:
  prometheus::Counter* target_;
  std::atomic<std::uint64_t> count_{0};
  std::uint64_t merged_ = 0;
};

// Values are integers in a unit `scale` times finer than the histogram's
// (microseconds into a histogram of milliseconds: scale 1000).
class local_histogram {
 public:
  local_histogram(prometheus::Histogram& target,
                  const prometheus::Histogram::BucketBoundaries& bounds, std::uint64_t scale = 1);

  void observe(std::uint64_t value) {
    std::size_t i = 0;
    while (i < limits_.size() && value > limits_[i]) ++i;  // few buckets: a scan beats a search
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }
  void merge();

 private:
  prometheus::Histogram* target_;
  std::uint64_t scale_;
  std::vector<std::uint64_t> limits_;  // bucket i holds values <= limits_[i]; the last, the rest
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // limits_.size() + 1
  std::atomic<std::uint64_t> sum_{0};
  std::vector<std::uint64_t> merged_counts_;
  std::uint64_t merged_sum_ = 0;
};

}  // namespace laneproxy::metrics
