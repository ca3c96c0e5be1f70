"""Process helpers for the hostile-peer tests: another process's memory
from /proc (one reading, or the peak on a sampling thread), and this
process's descriptor limit and command-line options.

Standard library only; Linux (/proc).
"""

import resource
import threading


def read_status_kib(pid, key):
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM), -1 if unreadable."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class RssSampler:
    """Samples a process's VmRSS on a thread, keeping the peak."""

    def __init__(self, pid, every=0.05):
        self.pid = pid
        self.peak = read_status_kib(pid, "VmRSS")
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, read_status_kib(self.pid, "VmRSS"))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, read_status_kib(self.pid, "VmRSS"))


def raise_nofile(wanted):
    """Raises this process's descriptor limit to `wanted` (or the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def take_option(argv, name, default=None):
    """Removes `--name VALUE` (or `--name=VALUE`) from argv; returns VALUE."""
    for i, a in enumerate(list(argv)):
        if a == name and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i:i + 2]
            return value
        if a.startswith(name + "="):
            del argv[i]
            return a.split("=", 1)[1]
    return default
