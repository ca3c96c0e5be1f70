// A connection's read buffer, and the body blocks a relay copies through.
//
// Both hold memory only while a connection is busy: release() gives it back
// when the connection goes idle, so that thousands of idle keep-alive
// connections cost almost nothing, whatever size their last request was.
// Blocks of block_size come from a per-thread cache (one worker is one
// thread; see block_cache.h), so a busy connection's take and give are a
// pointer swap, not a malloc. Not thread-safe: one connection, on its worker's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <boost/asio/buffer.hpp>

namespace laneproxy::net {

inline constexpr std::size_t block_size = 32 * 1024;

// One block_size block from the calling thread's cache (or the heap).
class block {
 public:
  block() = default;
  ~block() { release(); }
  block(block&& o) noexcept : data_(o.data_) { o.data_ = nullptr; }
  block& operator=(block&&) = delete;
  block(const block&) = delete;
  block& operator=(const block&) = delete;

  // The memory, taken on first use.
  char* get();
  void release();

 private:
  char* data_ = nullptr;
};

// Bytes read and not yet parsed, contiguous (Beast's parser needs them so),
// at most max_size() of them: a reader that would need more (a header, a
// chunk-size line or a trailer that never ends) gets an empty prepare()
// and must answer with an error instead of buffering without end.
class io_buffer {
 public:
  explicit io_buffer(std::size_t max_size) : max_(max_size) {}
  ~io_buffer() { free_storage(); }
  io_buffer(const io_buffer&) = delete;
  io_buffer& operator=(const io_buffer&) = delete;

  boost::asio::const_buffer data() const { return {data_ + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::size_t max_size() const { return max_; }
  void max_size(std::size_t n) { max_ = n; }

  // Free space after the data (moving or growing the storage as needed);
  // empty when size() == max_size().
  boost::asio::mutable_buffer prepare();
  void commit(std::size_t n) { end_ += n; }
  void consume(std::size_t n);
  // Bytes consumed since the buffer was made (a byte count for metrics).
  std::uint64_t consumed() const { return consumed_; }
  void clear() { begin_ = end_ = 0; }

  // Gives the memory back when the buffer is empty (an idle connection).
  void release();

 private:
  void free_storage();
  char* data_ = nullptr;
  std::size_t capacity_ = 0, begin_ = 0, end_ = 0, max_;
  std::uint64_t consumed_ = 0;
};

}  // namespace laneproxy::net
