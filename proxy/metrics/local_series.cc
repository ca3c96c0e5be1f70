#include "metrics/local_series.h"

#include <cmath>

namespace laneproxy::metrics {

void local_counter::merge() {
  const auto now = count_.load(std::memory_order_relaxed);
  if (now != merged_) target_->Increment(static_cast<double>(now - merged_));
  merged_ = now;
}

local_histogram::local_histogram(prometheus::Histogram& target,
                                 const prometheus::Histogram::BucketBoundaries& bounds,
                                 std::uint64_t scale)
    : target_(&target),
      scale_(scale),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)),
      merged_counts_(bounds.size() + 1, 0) {
  // An integer value v is at most bound b exactly when v <= floor(b * scale).
  for (const double b : bounds) {
    limits_.push_back(static_cast<std::uint64_t>(std::floor(b * static_cast<double>(scale))));
  }
}

void local_histogram::merge() {
  std::vector<double> increments(limits_.size() + 1);
  bool any = false;
  for (std::size_t i = 0; i < increments.size(); ++i) {
    const auto now = counts_[i].load(std::memory_order_relaxed);
    increments[i] = static_cast<double>(now - merged_counts_[i]);
    any = any || now != merged_counts_[i];
    merged_counts_[i] = now;
  }
  const auto sum = sum_.load(std::memory_order_relaxed);
  // A recording that raced the previous merge may have left only its sum
  // for this one: the counts then stand still, and the sum still goes in.
  if (any || sum != merged_sum_) {
    target_->ObserveMultiple(increments,
                             static_cast<double>(sum - merged_sum_) / static_cast<double>(scale_));
  }
  merged_sum_ = sum;
}

}  // namespace laneproxy::metrics
