#include "net/header_arena.h"

#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "net/http_headers.h"

namespace laneproxy::net {
namespace {

bool aligned(const void* p, std::size_t a) {
  return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

TEST(HeaderArena, HandsOutAlignedDistinctMemoryAndGrowsPastItsInlineBlock) {
  header_arena arena;
  auto* a = static_cast<char*>(arena.allocate(3, 1));
  auto* b = arena.allocate(8, 8);
  EXPECT_TRUE(aligned(b, 8));
  EXPECT_GE(static_cast<char*>(b), a + 3);
  EXPECT_EQ(arena.heap_bytes(), 0u);
  // More than the inline block: a heap block at least twice as big.
  void* big = arena.allocate(5000, 16);
  EXPECT_TRUE(aligned(big, 16));
  EXPECT_GE(arena.heap_bytes(), 5000u);
  std::memset(big, 0xab, 5000);  // all of it is usable (ASan checks)
}

TEST(HeaderArena, ResetKeepsTheLargestBlockAndReusesIt) {
  header_arena arena;
  for (int i = 0; i < 10; ++i) arena.allocate(3000, 8);  // several heap blocks
  const auto held = arena.heap_bytes();
  arena.reset();
  const auto kept = arena.heap_bytes();
  EXPECT_LT(kept, held);
  EXPECT_GT(kept, 0u);
  void* first = arena.allocate(100, 8);
  arena.reset();
  EXPECT_EQ(arena.allocate(100, 8), first);  // the same memory, no new block
  EXPECT_EQ(arena.heap_bytes(), kept);
}

TEST(HeaderArena, CarriesBeastFieldsOfAnySize) {
  header_arena arena;
  for (int round = 0; round < 3; ++round) {
    arena.reset();
    request_head req{fields(arena_allocator<char>(arena))};
    for (int i = 0; i < 300; ++i) {
      req.set("x-header-" + std::to_string(i), std::string(20 + i % 7, 'v'));
    }
    req.set("x-header-7", "replaced");
    strip_hop_by_hop(req);
    EXPECT_EQ(std::distance(req.begin(), req.end()), 300);
    EXPECT_EQ(req["x-header-7"], "replaced");
    EXPECT_EQ(req["x-header-299"], std::string(20 + 299 % 7, 'v'));
  }
}

}  // namespace
}  // namespace laneproxy::net
