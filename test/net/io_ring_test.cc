#include "net/io_ring.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>

namespace laneproxy::net {
namespace {

// Two connected loopback TCP sockets on `context`.
struct socket_pair {
  explicit socket_pair(asio::io_context& context) : a(context), b(context) {
    tcp::acceptor acceptor(context, {asio::ip::make_address("127.0.0.1"), 0});
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
  }
  socket_type a, b;
};

// A context and a ring for it. Where the kernel refuses a ring the test is
// skipped, with the kernel's reason.
class IoRing : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ring = io_ring::open(context, io_backend::io_uring, why);
    if (!ring) GTEST_SKIP() << "no io_uring here: " << why;
  }
  asio::io_context context;
  std::unique_ptr<io_ring> ring;
};

TEST(IoBackend, ChoosesItsBackendByName) {
  EXPECT_EQ(parse_io_backend("auto"), io_backend::automatic);
  EXPECT_EQ(parse_io_backend("io_uring"), io_backend::io_uring);
  EXPECT_EQ(parse_io_backend("epoll"), io_backend::epoll);
  EXPECT_EQ(parse_io_backend("uring"), std::nullopt);
  asio::io_context context;
  std::string why = "x";
  EXPECT_EQ(io_ring::open(context, io_backend::epoll, why), nullptr);
  EXPECT_EQ(why, "");
}

TEST_F(IoRing, WritesEveryByteOfManyBuffersInOrderAndReadsThemBack) {
  socket_pair s(context);
  // 4 MiB in three buffers, far more than a socket buffer holds: the write
  // ends only once the reader, on the same thread, has made room for all.
  std::vector<char> big(4 << 20);
  std::iota(big.begin(), big.end(), 0);
  const std::string head = "head:", tail = ":tail";
  const std::array<asio::const_buffer, 3> out{asio::buffer(head), asio::buffer(big),
                                              asio::buffer(tail)};
  const std::size_t total = head.size() + big.size() + tail.size();
  error_code write_ec = asio::error::would_block;
  std::size_t written = 0;
  ring->async_write(s.a.native_handle(), out, [&](error_code ec, std::size_t n) {
    write_ec = ec;
    written = n;
  });

  std::string got;
  std::array<char, 65536> chunk;
  error_code read_ec;
  std::function<void()> next = [&] {
    ring->async_read_some(s.b.native_handle(), asio::buffer(chunk),
                          [&](error_code ec, std::size_t n) {
                            got.append(chunk.data(), n);
                            if (ec) {
                              read_ec = ec;
                            } else if (got.size() < total) {
                              next();
                            }
                          });
  };
  next();
  context.run();

  EXPECT_FALSE(write_ec) << write_ec.message();
  EXPECT_EQ(written, total);
  ASSERT_EQ(got.size(), total);
  EXPECT_EQ(got.substr(0, head.size()), head);
  EXPECT_TRUE(std::equal(big.begin(), big.end(), got.begin() + head.size()));
  EXPECT_EQ(got.substr(total - tail.size()), tail);
  EXPECT_EQ(ring->pending(), 0u);

  // The peer's close is the end of the stream.
  s.a.close();
  context.restart();
  ring->async_read_some(s.b.native_handle(), asio::buffer(chunk),
                        [&](error_code ec, std::size_t) { read_ec = ec; });
  context.run();
  EXPECT_EQ(read_ec, asio::error::eof);
}

TEST_F(IoRing, CancelAndCloseEndAPendingReadAsAborted) {
  const io_ring::thread_binding binding(ring.get());
  socket_pair s(context);
  std::array<char, 16> buf;
  std::vector<error_code> ended;
  auto record = [&](error_code ec, std::size_t) { ended.push_back(ec); };

  ring->async_read_some(s.b.native_handle(), asio::buffer(buf), record);
  ring->async_read_some(s.a.native_handle(), asio::buffer(buf), record);
  EXPECT_EQ(ring->pending(s.b.native_handle()), 1u);
  cancel_io(s.b);
  while (ended.empty()) context.run_one();
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0], asio::error::operation_aborted);
  EXPECT_TRUE(s.b.is_open());  // cancelled, not closed

  close_io(s.a);
  context.run();
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[1], asio::error::operation_aborted);
  EXPECT_FALSE(s.a.is_open());
  // The kernel let go of the socket: its peer sees the connection end.
  error_code ec;
  EXPECT_EQ(s.b.read_some(asio::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(ring->pending(), 0u);
}

TEST_F(IoRing, AnOperationOnAClosedSocketFailsAsAsioFailsIt) {
  socket_type closed(context);
  std::array<char, 16> buf;
  error_code got;
  ring->async_read_some(closed.native_handle(), asio::buffer(buf),
                        [&](error_code ec, std::size_t) { got = ec; });
  context.run();
  EXPECT_EQ(got, asio::error::bad_descriptor);
}

TEST_F(IoRing, DestroyedWithReadsPendingItDestroysTheirHandlersUninvoked) {
  socket_pair s(context);
  std::array<char, 16> buf;
  auto owner = std::make_shared<int>(0);
  bool invoked = false;
  ring->async_read_some(s.b.native_handle(), asio::buffer(buf),
                        [&invoked, held = owner](error_code, std::size_t) { invoked = true; });
  context.poll();
  EXPECT_EQ(owner.use_count(), 2);
  ring.reset();
  EXPECT_EQ(owner.use_count(), 1);
  EXPECT_FALSE(invoked);
}

}  // namespace
}  // namespace laneproxy::net
