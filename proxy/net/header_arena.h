// Memory for the header fields of one exchange (a request and its response),
// given back all at once.
//
// Beast's field container allocates a node per field; with the default
// allocator that is a malloc and a free for every header of every request.
// A connection's arena hands out memory by bumping a pointer and takes
// nothing back until reset(), which the connection calls between requests,
// once no container using the arena is alive. The first block lives inside
// the arena; bigger headers get a block from the heap, and the largest block
// is kept for the next request, so a connection settles on one block that
// fits its headers. Memory held is at most twice the largest exchange's
// headers (bounded by the header limits). Not thread-safe: one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

namespace laneproxy::net {

class header_arena {
 public:
  header_arena() = default;
  header_arena(const header_arena&) = delete;
  header_arena& operator=(const header_arena&) = delete;

  void* allocate(std::size_t bytes, std::size_t align) {
    auto p = (cursor_ + (align - 1)) & ~std::uintptr_t(align - 1);
    if (p + bytes > end_) return grow(bytes, align);
    cursor_ = p + bytes;
    return reinterpret_cast<void*>(p);
  }

  // Makes all memory handed out reusable. Precondition: nothing allocated
  // from the arena is still in use.
  void reset();
  // reset(), and the heap blocks freed too (an idle connection keeps only
  // the inline block). The same precondition.
  void release();

  // Bytes of heap held beyond the inline block.
  std::size_t heap_bytes() const;

 private:
  static constexpr std::size_t inline_size = 2048;
  void* grow(std::size_t bytes, std::size_t align);
  void use(unsigned char* start, std::size_t size) {
    cursor_ = reinterpret_cast<std::uintptr_t>(start);
    end_ = cursor_ + size;
  }

  struct block {
    std::unique_ptr<unsigned char[]> data;
    std::size_t size;
  };
  alignas(std::max_align_t) unsigned char inline_[inline_size];
  std::uintptr_t cursor_ = reinterpret_cast<std::uintptr_t>(inline_);
  std::uintptr_t end_ = cursor_ + inline_size;
  std::vector<block> blocks_;  // heap blocks; the last is the one in use
};

// A standard allocator over a header_arena: deallocate() is a no-op.
template <class T>
class arena_allocator {
 public:
  using value_type = T;
  using is_always_equal = std::false_type;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  template <class U>
  struct rebind {
    using other = arena_allocator<U>;
  };

  explicit arena_allocator(header_arena& arena) noexcept : arena_(&arena) {}
  template <class U>
  arena_allocator(const arena_allocator<U>& other) noexcept : arena_(other.arena()) {}

  T* allocate(std::size_t n) {
    return static_cast<T*>(arena_->allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T*, std::size_t) noexcept {}

  header_arena* arena() const noexcept { return arena_; }
  template <class U>
  bool operator==(const arena_allocator<U>& other) const noexcept {
    return arena_ == other.arena();
  }

 private:
  header_arena* arena_;
};

}  // namespace laneproxy::net
