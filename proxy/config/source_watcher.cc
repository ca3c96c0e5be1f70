#include "config/source_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

namespace laneproxy::config {

namespace {
namespace fs = std::filesystem;
constexpr std::uint32_t mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                               IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
constexpr std::uint64_t stop_value = 1ull << 32;  // poke() adds 1, stop() this
}  // namespace

source_watcher::source_watcher(std::vector<std::string> paths, watch_options options)
    : paths_(std::move(paths)), options_(options) {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  rescan();
}

source_watcher::~source_watcher() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void source_watcher::rescan() {
  if (inotify_fd_ < 0) return;
  // inotify_add_watch on a folder already watched returns the same watch:
  // adding everything again is how new subfolders join.
  std::error_code ec;
  for (const auto& p : paths_) {
    const fs::path path(p);
    if (fs::is_directory(path, ec)) {
      inotify_add_watch(inotify_fd_, path.c_str(), mask);
      for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) {
          inotify_add_watch(inotify_fd_, it->path().c_str(), mask);
        }
      }
    } else {
      const auto parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
      inotify_add_watch(inotify_fd_, parent.c_str(), mask);
    }
  }
}

void source_watcher::drain_events() {
  alignas(inotify_event) char buf[8192];
  while (read(inotify_fd_, buf, sizeof buf) > 0) {
  }
}

source_watcher::wake source_watcher::wait() {
  using clock = std::chrono::steady_clock;
  if (stopped_) return wake::stopped;
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
  const nfds_t count = inotify_fd_ >= 0 ? 2 : 1;
  if (poll(fds, count, static_cast<int>(options_.poll.count())) <= 0) return wake::poll;
  if (fds[0].revents & POLLIN) {
    std::uint64_t v = 0;
    if (read(wake_fd_, &v, sizeof v) == sizeof v && v >= stop_value) {
      stopped_ = true;
      return wake::stopped;
    }
    return wake::poked;
  }
  // A burst is over when it has been quiet for `debounce`, and at the
  // latest after 20 debounce periods, so a steady trickle still reloads.
  const auto latest = clock::now() + 20 * options_.debounce;
  do {
    drain_events();
  } while (clock::now() < latest &&
           poll(&fds[1], 1, static_cast<int>(options_.debounce.count())) > 0);
  rescan();
  return wake::changed;
}

void source_watcher::poke() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
}

void source_watcher::stop() {
  [[maybe_unused]] auto n = write(wake_fd_, &stop_value, sizeof stop_value);
}

}  // namespace laneproxy::config
