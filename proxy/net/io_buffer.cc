#include "net/io_buffer.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace laneproxy::net {

namespace {
// Each worker thread keeps a few free blocks: enough for the connections
// that are busy at once, not a reserve that grows with every idle one.
constexpr std::size_t cached_blocks = 16;

struct block_cache {
  std::vector<char*> free;
  ~block_cache() {
    for (char* p : free) delete[] p;
  }
  char* take() {
    if (free.empty()) return new char[block_size];
    char* p = free.back();
    free.pop_back();
    return p;
  }
  void give(char* p) {
    if (free.size() < cached_blocks) {
      free.push_back(p);
    } else {
      delete[] p;
    }
  }
};
thread_local block_cache cache;
}  // namespace

char* block::get() {
  if (!data_) data_ = cache.take();
  return data_;
}

void block::release() {
  if (data_) cache.give(data_);
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
      cache.give(data_);
    } else {
      delete[] data_;
    }
  }
  data_ = nullptr;
  capacity_ = begin_ = end_ = 0;
}

}  // namespace laneproxy::net
