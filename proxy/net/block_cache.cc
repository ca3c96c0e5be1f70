#include "net/block_cache.h"

#include <algorithm>

namespace laneproxy::net {

block_cache::~block_cache() {
  for (char* p : free_) delete[] p;
}

char* block_cache::take() {
  if (free_.empty()) {
    low_ = 0;
    return new char[block_size_];
  }
  char* p = free_.back();
  free_.pop_back();
  low_ = std::min(low_, free_.size());
  return p;
}

void block_cache::give(char* block, clock::time_point now) {
  if (now >= next_trim_) trim(now);
  if (free_.size() >= max_blocks_) {
    delete[] block;
  } else {
    if (free_.capacity() == 0) free_.reserve(max_blocks_);  // no allocation on the way in
    free_.push_back(block);
  }
}

// Ends a period: the blocks it never used go, the oldest ones (the most
// recently given are the warm ones), and the next period starts.
void block_cache::trim(clock::time_point now) {
  const auto unused = static_cast<std::ptrdiff_t>(std::min(low_, free_.size()));
  std::for_each(free_.begin(), free_.begin() + unused, [](char* p) { delete[] p; });
  free_.erase(free_.begin(), free_.begin() + unused);
  low_ = free_.size();
  next_trim_ = now + period_;
}

}  // namespace laneproxy::net
