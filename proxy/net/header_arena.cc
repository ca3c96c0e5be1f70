#include "net/header_arena.h"

#include <algorithm>

namespace laneproxy::net {

void* header_arena::grow(std::size_t bytes, std::size_t align) {
  const std::size_t last = blocks_.empty() ? inline_size : blocks_.back().size;
  const std::size_t size = std::max(2 * last, bytes + align);
  blocks_.push_back({std::make_unique<unsigned char[]>(size), size});
  use(blocks_.back().data.get(), size);
  return allocate(bytes, align);
}

void header_arena::reset() {
  if (blocks_.empty()) {
    use(inline_, inline_size);
    return;
  }
  // Keep the largest (the last) block: the next exchange likely needs as much.
  if (blocks_.size() > 1) blocks_.erase(blocks_.begin(), blocks_.end() - 1);
  use(blocks_.back().data.get(), blocks_.back().size);
}

void header_arena::release() {
  blocks_.clear();
  blocks_.shrink_to_fit();
  use(inline_, inline_size);
}

std::size_t header_arena::heap_bytes() const {
  std::size_t n = 0;
  for (const auto& b : blocks_) n += b.size;
  return n;
}

}  // namespace laneproxy::net
