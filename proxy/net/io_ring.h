// io_uring for the request path's socket reads and writes.
//
// Why: under epoll a read is a readiness wait plus a recv (often after an
// EAGAIN recv, as Asio tries each read before it waits) and a write is a
// send: five or six system calls a proxied request. With the ring a read or
// a write is a submission queue entry. The entries that the worker's ready
// handlers queue go to the kernel together in one io_uring_enter, and their
// completions are read from shared memory: one trip into the kernel serves
// every connection that was ready at once.
//
// The event loop stays Asio's: the ring's descriptor is one more descriptor
// in the worker's epoll set, so timers, connects, accepts and HTTP/2 keep
// Asio's reactor, and the code above (relay.h's read_more and write_all,
// the session's idle wait) takes one path whichever backend runs.
//
// One ring per worker thread, used only from it (io_ring::current()).
// Contract: a socket with ring operations pending is cancelled or closed
// only through cancel_io()/close_io(). A bare close would leave the
// kernel's operation holding the socket open and its coroutine suspended.
// Operations take no per-operation cancellation slot: they end by
// completion, cancel_io(), close_io() or the ring's destruction.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "net/upstream_pool.h"

struct io_uring;
struct io_uring_sqe;

namespace laneproxy::net {

using error_code = boost::system::error_code;

// How a worker does its socket I/O. `automatic`: io_uring where the kernel
// offers it (not disabled by sysctl, seccomp or a container), else epoll.
enum class io_backend { automatic, io_uring, epoll };

// "auto", "io_uring" or "epoll"; nullopt for anything else.
std::optional<io_backend> parse_io_backend(std::string_view text);
// LANEPROXY_IO when set, else automatic. An invalid value is an error,
// named in `error`, and gives nullopt.
std::optional<io_backend> io_backend_from_env(std::string& error);
// The backend workers created from now on use: set_io_backend()'s, else
// LANEPROXY_IO's (automatic when it is unset or invalid). Thread-safe.
io_backend configured_io_backend();
void set_io_backend(io_backend backend);

class io_ring {
 public:
  // A ring for a worker running `context`, or nullptr with `why` saying what
  // the kernel refused (never for io_backend::epoll: `why` is empty then).
  static std::unique_ptr<io_ring> open(asio::io_context& context, io_backend backend,
                                       std::string& why);
  // Cancels every pending operation, waits for the kernel to let go of
  // their buffers, and destroys their handlers uninvoked.
  ~io_ring();
  io_ring(const io_ring&) = delete;
  io_ring& operator=(const io_ring&) = delete;

  // The calling thread's ring, or nullptr: that thread uses epoll.
  static io_ring* current();
  // Makes this ring the calling thread's, until the returned guard goes.
  class thread_binding {
   public:
    explicit thread_binding(io_ring* ring);
    ~thread_binding();
    thread_binding(const thread_binding&) = delete;
    thread_binding& operator=(const thread_binding&) = delete;

   private:
    io_ring* previous_;
  };

  // Completes with (error, bytes): at most b.size() bytes read from `fd`;
  // asio::error::eof when the peer closed.
  template <class Token>
  auto async_read_some(int fd, asio::mutable_buffer b, Token&& token);
  // Completes with (error, bytes) once every byte of `bufs` (which must stay
  // valid until then) has been written to `fd`, or on the first error.
  template <class Token>
  auto async_write(int fd, std::span<const asio::const_buffer> bufs, Token&& token);

  // Ends `fd`'s pending operations with asio::error::operation_aborted.
  // Submitted at once, so that the descriptor may be closed right after.
  void cancel(int fd);
  // Operations queued or in the kernel, for `fd` and in all.
  std::uint32_t pending(int fd) const;
  std::size_t pending() const { return pending_; }

 private:
  struct op;
  template <class Handler>
  struct handler_op;
  struct refused;
  struct fd_state {
    std::uint32_t pending = 0;
    std::uint32_t cancels = 0;  // bumped by each cancel(); a resubmission checks it
  };

  io_ring(asio::io_context& context, std::unique_ptr<::io_uring> ring, int fd, bool deferred);
  // Submits what is queued; with `get_events`, also runs the deferred task
  // work, so that the completions it makes are there to reap. The first
  // call makes the calling thread the ring's submitter.
  void enter(bool get_events);
  template <class Handler>
  static op* make_op(Handler&& handler);
  void start(op* o);
  // A free entry, submitting the queued ones first when there is none.
  ::io_uring_sqe* next_sqe();
  void submit_op(op* o);
  void complete(op* o, int result);
  void finish(op* o, const error_code& ec, std::size_t n, bool invoke);
  void schedule_flush();
  void flush();
  void reap();
  void arm();
  void drain_at_exit();
  fd_state& state_of(int fd);

  asio::io_context& context_;
  std::unique_ptr<::io_uring> ring_;
  // In Asio's epoll set: the ring's eventfd (deferred task work), else the
  // ring's descriptor.
  asio::posix::stream_descriptor watch_;
  std::vector<fd_state> fds_;
  op* head_ = nullptr;  // pending operations, for the destructor
  std::size_t pending_ = 0;
  bool flush_posted_ = false;
  bool armed_ = false;
  bool closing_ = false;
  bool deferred_ = false;  // IORING_SETUP_DEFER_TASKRUN: one thread submits and reaps
  bool enabled_ = false;   // the submitting thread has enabled the ring
};

// One operation: what the kernel is asked, and how its handler is finished.
struct io_ring::op {
  enum class kind : std::uint8_t { read, write };
  void (*finish_fn)(op*, const error_code&, std::size_t, bool invoke) = nullptr;
  op* prev = nullptr;
  op* next = nullptr;
  int fd = -1;
  kind what = kind::read;
  std::uint32_t cancels = 0;  // the fd's cancel count when started
  asio::mutable_buffer read_into;
  std::span<const asio::const_buffer> write_from;
  std::size_t done = 0;  // bytes written so far
  static constexpr std::size_t max_iov = 16;
  ::iovec iov[max_iov];
  ::msghdr message{};
};

// Operation memory, from a per-thread cache of fixed-size blocks: a request
// starts four operations, none of them a trip to malloc in the steady state.
void* allocate_op(std::size_t size);
void free_op(void* p, std::size_t size) noexcept;

template <class Handler>
struct io_ring::handler_op : op {
  static void* operator new(std::size_t size) { return allocate_op(size); }
  static void operator delete(void* p, std::size_t size) noexcept { free_op(p, size); }

  explicit handler_op(Handler&& from) : handler(std::move(from)) {
    finish_fn = [](op* base, const error_code& ec, std::size_t n, bool invoke) {
      auto* self = static_cast<handler_op*>(base);
      Handler h = std::move(self->handler);
      delete self;
      if (invoke) std::move(h)(ec, n);
    };
  }
  Handler handler;
};

template <class Handler>
io_ring::op* io_ring::make_op(Handler&& handler) {
  return new handler_op<std::decay_t<Handler>>(std::move(handler));
}

template <class Token>
auto io_ring::async_read_some(int fd, asio::mutable_buffer b, Token&& token) {
  return asio::async_initiate<Token, void(error_code, std::size_t)>(
      [this, fd, b](auto handler) {
        op* o = make_op(std::move(handler));
        o->fd = fd;
        o->what = op::kind::read;
        o->read_into = b;
        start(o);
      },
      token);
}

template <class Token>
auto io_ring::async_write(int fd, std::span<const asio::const_buffer> bufs, Token&& token) {
  return asio::async_initiate<Token, void(error_code, std::size_t)>(
      [this, fd, bufs](auto handler) {
        op* o = make_op(std::move(handler));
        o->fd = fd;
        o->what = op::kind::write;
        o->write_from = bufs;
        start(o);
      },
      token);
}

// Cancels the socket's pending waits and reads and writes, Asio's and the
// ring's.
void cancel_io(socket_type& s);
// cancel_io(), then closes the socket.
void close_io(socket_type& s);

}  // namespace laneproxy::net
