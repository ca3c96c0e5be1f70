// The free body and read-buffer blocks of one worker thread, kept for reuse.
//
// How many to keep follows the load instead of a fixed guess: 64 keep-alive
// connections each hold two blocks while a request is in flight and none
// between requests, so the count in use swings by a hundred within a
// millisecond. A cache smaller than the swing frees blocks that are asked
// for again at once (a malloc and a free of 32 KiB per request); one that
// keeps everything holds a burst's memory for ever. So nothing is freed on
// the way in, up to `max_blocks`; once per `period`, the blocks that stayed
// in the cache for the whole period (the fewest it held, its low-water
// mark) are freed: the load of that period never needed them.
//
// Not thread-safe: one thread. Memory held is at most max_blocks blocks.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

#include "net/coarse_clock.h"

namespace laneproxy::net {

class block_cache {
 public:
  using clock = coarse_clock;

  block_cache(std::size_t bytes, std::size_t max_blocks, clock::duration period)
      : block_size_(bytes), max_blocks_(max_blocks), period_(period) {}
  ~block_cache();
  block_cache(const block_cache&) = delete;
  block_cache& operator=(const block_cache&) = delete;

  // A block of `bytes` bytes: a cached one, else a new one.
  char* take();
  // Keeps `block` for reuse (frees it when max_blocks are kept), and at
  // most once per period frees those that stayed unused through the last.
  void give(char* block, clock::time_point now);

  std::size_t size() const { return free_.size(); }

 private:
  void trim(clock::time_point now);

  std::size_t block_size_, max_blocks_;
  clock::duration period_;
  std::vector<char*> free_;  // the most recently given last
  std::size_t low_ = 0;      // the fewest free_ held since the last trim
  clock::time_point next_trim_{};
};

}  // namespace laneproxy::net
