// A counting allocator, preloaded into a process the benchmarks run
// (LD_PRELOAD=liballoc_count.so): every malloc, calloc, realloc and aligned
// allocation, and so every operator new, of every thread is counted, and
// the process itself is the one that runs in production, unchanged.
//
// The counts are read while the process runs: on SIGUSR2 it appends
// "<allocations> <bytes>\n" (totals since start) to the file named by
// ALLOC_COUNT_FILE. Two readings around a fixed number of requests give the
// allocations per request in the steady state (bench/allocs.sh).
//
// The memory itself comes from glibc's allocator (its __libc_* entry
// points), so the process behaves as it does without the count.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
std::atomic<std::uint64_t> allocations{0};
std::atomic<std::uint64_t> allocated_bytes{0};
int report_fd = -1;

void count(std::size_t bytes) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  allocated_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

// Decimal digits of `v` at the end of [begin, end); returns where they start.
char* digits(std::uint64_t v, char* end) {
  do {
    *--end = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return end;
}

// A signal handler: only async-signal-safe calls (write), no allocation.
void report(int) {
  const int saved = errno;
  char line[64];
  char* const end = line + sizeof line;
  end[-1] = '\n';
  char* p = digits(allocated_bytes.load(std::memory_order_relaxed), end - 1);
  *--p = ' ';
  p = digits(allocations.load(std::memory_order_relaxed), p);
  if (report_fd >= 0) (void)!::write(report_fd, p, static_cast<std::size_t>(end - p));
  errno = saved;
}

__attribute__((constructor)) void start_counting() {
  const char* file = std::getenv("ALLOC_COUNT_FILE");
  if (!file) return;
  report_fd = ::open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct sigaction action = {};
  action.sa_handler = report;
  action.sa_flags = SA_RESTART;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(SIGUSR2, &action, nullptr);
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  count(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t k, std::size_t n) {
  count(k * n);
  return __libc_calloc(k, n);
}
void* realloc(void* p, std::size_t n) {
  count(n);
  return __libc_realloc(p, n);
}
void free(void* p) {
  __libc_free(p);
}
void* memalign(std::size_t align, std::size_t n) {
  count(n);
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  return memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  void* p = memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}
