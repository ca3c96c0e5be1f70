#include "net/io_ring.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <boost/asio/post.hpp>

namespace laneproxy::net {

namespace {
// Submission queue entries: one worker's connections queue at most a read
// and a write each between two flushes; a fuller queue is submitted early.
constexpr unsigned ring_entries = 256;
constexpr std::size_t op_block = 512;
constexpr std::size_t cached_op_blocks = 256;

thread_local io_ring* current_ring = nullptr;

struct op_cache {
  std::vector<void*> free;
  ~op_cache() {
    for (void* p : free) ::operator delete(p);
  }
};
thread_local op_cache ops;

error_code error_of(int negative_errno) {
  return {-negative_errno, asio::error::get_system_category()};
}
}  // namespace

void* allocate_op(std::size_t size) {
  if (size > op_block) return ::operator new(size);
  if (ops.free.capacity() == 0) ops.free.reserve(cached_op_blocks);  // free_op never allocates
  if (ops.free.empty()) return ::operator new(op_block);
  void* p = ops.free.back();
  ops.free.pop_back();
  return p;
}

void free_op(void* p, std::size_t size) noexcept {
  if (size <= op_block && ops.free.size() < ops.free.capacity()) {
    ops.free.push_back(p);  // within the capacity reserved: no allocation
    return;
  }
  ::operator delete(p);
}

std::optional<io_backend> parse_io_backend(std::string_view text) {
  if (text == "auto") return io_backend::automatic;
  if (text == "io_uring") return io_backend::io_uring;
  if (text == "epoll") return io_backend::epoll;
  return std::nullopt;
}

std::optional<io_backend> io_backend_from_env(std::string& error) {
  const char* v = std::getenv("LANEPROXY_IO");
  if (!v || !*v) return io_backend::automatic;
  auto b = parse_io_backend(v);
  if (!b) error = std::string("LANEPROXY_IO: '") + v + "' is not auto, io_uring or epoll";
  return b;
}

namespace {
std::atomic<int> chosen_backend{-1};  // -1: not chosen, LANEPROXY_IO decides
}

io_backend configured_io_backend() {
  const int b = chosen_backend.load(std::memory_order_relaxed);
  if (b >= 0) return static_cast<io_backend>(b);
  std::string ignored;
  return io_backend_from_env(ignored).value_or(io_backend::automatic);
}

void set_io_backend(io_backend backend) {
  chosen_backend.store(static_cast<int>(backend), std::memory_order_relaxed);
}

std::unique_ptr<io_ring> io_ring::open(asio::io_context& context, io_backend backend,
                                       std::string& why) {
  why.clear();
  if (backend == io_backend::epoll) return nullptr;
  auto ring = std::make_unique<::io_uring>();
  // Deferred task work (Linux 6.1): the kernel finishes a receive whose data
  // came only when the worker asks for completions, not in an interrupt of
  // whatever the worker was doing. Run at once, the receive would contend
  // for the socket's lock with the sender, which holds it while it wakes
  // us. The ring starts disabled, so that the thread that runs the worker,
  // not the one that made it, becomes its one submitter.
  bool deferred = true;
  int rc = ::io_uring_queue_init(
      ring_entries, ring.get(),
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED);
  if (rc == -EINVAL) {  // an older kernel: task work runs as it comes
    deferred = false;
    rc = ::io_uring_queue_init(ring_entries, ring.get(), 0);
  }
  if (rc < 0) {
    why = std::string("io_uring_setup: ") + std::strerror(-rc);
    return nullptr;
  }
  // What Asio's epoll waits on. Deferred work makes the ring's descriptor
  // readable without waking its pollers; an eventfd registered with the
  // ring is signalled for it. Otherwise the ring's descriptor, duplicated
  // so that Asio's descriptor object owns one of its own to close.
  const int fd = deferred ? ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : ::dup(ring->ring_fd);
  if (fd < 0 || (deferred && (rc = ::io_uring_register_eventfd(ring.get(), fd)) < 0)) {
    why = fd < 0 ? std::string(deferred ? "eventfd: " : "dup: ") + std::strerror(errno)
                 : std::string("io_uring_register_eventfd: ") + std::strerror(-rc);
    if (fd >= 0) ::close(fd);
    ::io_uring_queue_exit(ring.get());
    return nullptr;
  }
  return std::unique_ptr<io_ring>(new io_ring(context, std::move(ring), fd, deferred));
}

io_ring::io_ring(asio::io_context& context, std::unique_ptr<::io_uring> ring, int fd, bool deferred)
    : context_(context), ring_(std::move(ring)), watch_(context, fd), deferred_(deferred) {}

io_ring::~io_ring() {
  closing_ = true;
  error_code ignored;
  watch_.cancel(ignored);
  drain_at_exit();
  ::io_uring_queue_exit(ring_.get());
}

// The kernel may still write into a pending read's buffer: every operation
// is cancelled and its completion awaited before any handler (and with it
// the buffer's owner) is destroyed. One that never completes is leaked
// rather than freed under the kernel.
void io_ring::drain_at_exit() {
  if (pending_ > 0) {
    if (::io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get())) {
      ::io_uring_prep_cancel(sqe, nullptr, IORING_ASYNC_CANCEL_ANY);
      ::io_uring_sqe_set_data(sqe, nullptr);
    }
    enter(false);
  }
  std::vector<op*> ended;
  while (pending_ > ended.size()) {
    ::io_uring_cqe* cqe = nullptr;
    __kernel_timespec wait{.tv_sec = 1, .tv_nsec = 0};
    if (::io_uring_wait_cqe_timeout(ring_.get(), &cqe, &wait) < 0) break;
    if (auto* o = static_cast<op*>(::io_uring_cqe_get_data(cqe))) ended.push_back(o);
    ::io_uring_cqe_seen(ring_.get(), cqe);
  }
  for (op* o : ended) finish(o, asio::error::operation_aborted, 0, false);
}

io_ring* io_ring::current() {
  return current_ring;
}

io_ring::thread_binding::thread_binding(io_ring* ring) : previous_(current_ring) {
  current_ring = ring;
}
io_ring::thread_binding::~thread_binding() {
  current_ring = previous_;
}

io_ring::fd_state& io_ring::state_of(int fd) {
  const auto i = static_cast<std::size_t>(fd);
  if (i >= fds_.size()) fds_.resize(std::max<std::size_t>(i + 1, fds_.size() * 2));
  return fds_[i];
}

std::uint32_t io_ring::pending(int fd) const {
  const auto i = static_cast<std::size_t>(fd);
  return fd >= 0 && i < fds_.size() ? fds_[i].pending : 0;
}

// An operation on a closed socket, ended with bad_descriptor from the
// context's queue as Asio ends one; destroyed uninvoked if never run.
struct io_ring::refused {
  explicit refused(op* p) : o(p) {}
  refused(refused&& r) noexcept : o(std::exchange(r.o, nullptr)) {}
  refused& operator=(refused&&) = delete;
  ~refused() {
    if (o) o->finish_fn(o, asio::error::operation_aborted, 0, false);
  }
  void operator()() {
    op* p = std::exchange(o, nullptr);
    p->finish_fn(p, asio::error::bad_descriptor, 0, true);
  }
  op* o;
};

void io_ring::start(op* o) {
  if (o->fd < 0) {
    asio::post(context_, refused(o));
    return;
  }
  auto& st = state_of(o->fd);
  ++st.pending;
  ++pending_;
  o->cancels = st.cancels;
  o->next = head_;
  if (head_) head_->prev = o;
  head_ = o;
  submit_op(o);
}

::io_uring_sqe* io_ring::next_sqe() {
  ::io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get());
  if (!sqe) {
    enter(false);  // full: what is queued goes now
    sqe = ::io_uring_get_sqe(ring_.get());
  }
  return sqe;
}

void io_ring::submit_op(op* o) {
  ::io_uring_sqe* sqe = next_sqe();
  if (o->what == op::kind::read) {
    ::io_uring_prep_recv(sqe, o->fd, o->read_into.data(), o->read_into.size(), 0);
  } else {
    // The bytes not yet written, up to max_iov buffers of them at a time.
    std::size_t skip = o->done, count = 0;
    for (const auto& b : o->write_from) {
      if (skip >= b.size()) {
        skip -= b.size();
        continue;
      }
      o->iov[count++] = {const_cast<char*>(static_cast<const char*>(b.data())) + skip,
                         b.size() - skip};
      skip = 0;
      if (count == op::max_iov) break;
    }
    if (count == 1) {
      ::io_uring_prep_send(sqe, o->fd, o->iov[0].iov_base, o->iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      o->message.msg_iov = o->iov;
      o->message.msg_iovlen = count;
      ::io_uring_prep_sendmsg(sqe, o->fd, &o->message, MSG_NOSIGNAL);
    }
  }
  ::io_uring_sqe_set_data(sqe, o);
  schedule_flush();
}

void io_ring::cancel(int fd) {
  if (closing_) return;
  auto& st = state_of(fd);
  ++st.cancels;  // a partly written operation is not resubmitted
  if (st.pending == 0) return;
  ::io_uring_sqe* sqe = next_sqe();
  ::io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  ::io_uring_sqe_set_data(sqe, nullptr);
  enter(false);
  schedule_flush();
}

void io_ring::enter(bool get_events) {
  // This thread becomes the submitter. (Debian's liburing 2.3 declares
  // io_uring_enable_rings but does not export it: the system call itself.)
  if (!enabled_ && deferred_) {
    ::syscall(__NR_io_uring_register, ring_->ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  }
  enabled_ = true;
  if (get_events && deferred_) {
    ::io_uring_submit_and_get_events(ring_.get());
  } else {
    ::io_uring_submit(ring_.get());
  }
}

void io_ring::schedule_flush() {
  if (flush_posted_ || closing_) return;
  flush_posted_ = true;
  asio::post(context_, [this] { flush(); });
}

void io_ring::flush() {
  flush_posted_ = false;
  // Deferred receives whose data has come finish in the same call.
  if (::io_uring_sq_ready(ring_.get()) > 0) enter(true);
  // Writes the socket could take at once are complete already: their
  // handlers run now, without a wait on the ring's descriptor.
  reap();
}

void io_ring::reap() {
  for (;;) {
    ::io_uring_cqe* cqes[64];
    const unsigned n = ::io_uring_peek_batch_cqe(ring_.get(), cqes, 64);
    if (n == 0) break;
    std::pair<op*, int> batch[64];
    for (unsigned i = 0; i < n; ++i) {
      batch[i] = {static_cast<op*>(::io_uring_cqe_get_data(cqes[i])), cqes[i]->res};
    }
    ::io_uring_cq_advance(ring_.get(), n);
    for (unsigned i = 0; i < n; ++i) {
      if (batch[i].first) complete(batch[i].first, batch[i].second);
    }
  }
  arm();
}

// Waits for the ring's descriptor only while the kernel holds operations:
// an idle worker's context has nothing of the ring's to wait for.
void io_ring::arm() {
  if (armed_ || closing_ || pending_ == 0) return;
  armed_ = true;
  watch_.async_wait(asio::posix::stream_descriptor::wait_read, [this](error_code) {
    armed_ = false;
    // (Also after finish() cancelled the wait: an operation may have been
    // started since, and reap() re-arms for it.)
    if (closing_) return;
    if (deferred_ && enabled_) ::io_uring_get_events(ring_.get());  // the deferred work runs now
    reap();
  });
}

void io_ring::complete(op* o, int result) {
  if (o->what == op::kind::write && result > 0) {
    o->done += static_cast<std::size_t>(result);
    std::size_t total = 0;
    for (const auto& b : o->write_from) total += b.size();
    if (o->done < total) {
      if (state_of(o->fd).cancels != o->cancels || closing_) {
        finish(o, asio::error::operation_aborted, o->done, true);
      } else {
        submit_op(o);  // a short write: the rest goes in the next flush
      }
      return;
    }
    finish(o, {}, o->done, true);
    return;
  }
  if (result < 0) {
    finish(o, error_of(result), o->what == op::kind::write ? o->done : 0, true);
  } else if (result == 0 && (o->what == op::kind::write || o->read_into.size() > 0)) {
    finish(o,
           o->what == op::kind::read ? error_code(asio::error::eof)
                                     : error_code(asio::error::broken_pipe),
           o->done, true);
  } else {
    finish(o, {}, static_cast<std::size_t>(result), true);
  }
}

void io_ring::finish(op* o, const error_code& ec, std::size_t n, bool invoke) {
  --state_of(o->fd).pending;
  if (--pending_ == 0 && armed_) {
    error_code ignored;
    watch_.cancel(ignored);  // nothing left to wait for: the context may run out of work
  }
  if (o->prev) o->prev->next = o->next;
  if (o->next) o->next->prev = o->prev;
  if (head_ == o) head_ = o->next;
  o->finish_fn(o, ec, n, invoke);
}

namespace {
void cancel_ring_ops(socket_type& s) {
  if (io_ring* r = io_ring::current(); r && s.is_open()) r->cancel(s.native_handle());
}
}  // namespace

void cancel_io(socket_type& s) {
  error_code ignored;
  s.cancel(ignored);
  cancel_ring_ops(s);
}

void close_io(socket_type& s) {
  cancel_ring_ops(s);
  error_code ignored;
  s.close(ignored);
}

}  // namespace laneproxy::net
