#include "net/io_buffer.h"

#include "net/block_cache.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace laneproxy::net {

namespace {
// Each worker thread keeps the free blocks its busy connections will ask
// for again: up to 128 (4 MiB, two for each of 64 busy connections),
// trimmed each second to what the last second used (see block_cache.h).
thread_local block_cache cache(block_size, 128, std::chrono::seconds(1));
}  // namespace

char* block::get() {
  if (!data_) data_ = cache.take();
  return data_;
}

void block::release() {
  if (data_) cache.give(data_, coarse_clock::now());
  data_ = nullptr;
}

boost::asio::mutable_buffer io_buffer::prepare() {
  if (begin_ == end_) begin_ = end_ = 0;
  if (end_ == capacity_ && begin_ > 0) {
    // Parsed bytes at the front make room for the next read.
    std::memmove(data_, data_ + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == capacity_ && capacity_ < max_) {
    const std::size_t grown = capacity_ == 0 ? block_size : std::min(max_, capacity_ * 2);
    char* p = grown == block_size ? cache.take() : new char[grown];
    const std::size_t used = end_;  // begin_ is 0 here
    if (used > 0) std::memcpy(p, data_, used);
    free_storage();
    data_ = p;
    capacity_ = grown;
    end_ = used;
  }
  const std::size_t room = std::min(capacity_, max_) - std::min(end_, max_);
  return {data_ + end_, room};
}

void io_buffer::consume(std::size_t n) {
  n = std::min(n, end_ - begin_);
  begin_ += n;
  consumed_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

void io_buffer::release() {
  if (empty()) free_storage();
}

void io_buffer::free_storage() {
  if (data_) {
    if (capacity_ == block_size) {
      cache.give(data_, coarse_clock::now());
    } else {
      delete[] data_;
    }
  }
  data_ = nullptr;
  capacity_ = begin_ = end_ = 0;
}

}  // namespace laneproxy::net
