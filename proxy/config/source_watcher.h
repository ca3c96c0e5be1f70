// Tells when files may have changed: inotify on the folders that hold them,
// with a poll interval as the fallback (and the only source on file systems
// without inotify).
//
// Watches each given folder recursively (hidden entries included, so that a
// ConfigMap's `..data` link swap in the folder is seen) and the folder of
// each given file. A burst of events (a `git checkout` of many files) is
// one wake-up: wait() returns once the burst has been quiet for `debounce`.
// It says only "look again": the caller compares content hashes, so a
// spurious wake-up costs one read of the sources and nothing else.
//
// wait() is for one thread; poke() and stop() may be called from any.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace laneproxy::config {

struct watch_options {
  std::chrono::milliseconds debounce{50};
  std::chrono::milliseconds poll{2000};
};

class source_watcher {
 public:
  enum class wake { changed, poll, poked, stopped };

  source_watcher(std::vector<std::string> paths, watch_options options);
  ~source_watcher();
  source_watcher(const source_watcher&) = delete;
  source_watcher& operator=(const source_watcher&) = delete;

  // Blocks until something changed (after the debounce), the poll interval
  // passed, poke() or stop() was called.
  wake wait();
  void poke();
  void stop();
  bool using_inotify() const { return inotify_fd_ >= 0; }

 private:
  void rescan();  // (re)adds watches for every folder under the paths
  void drain_events();

  std::vector<std::string> paths_;
  watch_options options_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: poke and stop
  bool stopped_ = false;
};

}  // namespace laneproxy::config
