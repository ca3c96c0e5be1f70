"""The proxy under test for the hostile-peer tests: the mesh folder and
bootstrap it runs with, and `laneproxy run` / `laneproxy validate` as
child processes, riding out a rebuild of the binary.

Standard library only; every wait is bounded in time.
"""

import errno
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from client import Client, ConnectionClosed
from http_messages import BadMessage
from process_util import read_status_kib


# ---------------------------------------------------------------------------
# The mesh folder and bootstrap
# ---------------------------------------------------------------------------

GATEWAY_YAML = """\
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
"""

SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{port: 8000, name: http}]
"""

# Everything to echo. A test may pass its own `http:` rules instead.
ALL_TO_ECHO = """\
  - name: all
    route: [{destination: {host: echo.default.svc.cluster.local}}]
"""

# Only /mock goes to echo: anything else is a local 404 (no route), and
# /direct is a direct response with a body.
MOCK_ONLY = """\
  - name: direct
    match: [{uri: {exact: /direct}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
  - name: mock
    match: [{uri: {prefix: /mock}}]
    route: [{destination: {host: echo.default.svc.cluster.local}}]
"""


def virtual_service_yaml(rules):
    return ("apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n"
            "metadata: {name: front, namespace: istio-system}\n"
            "spec:\n  hosts: [\"*\"]\n  gateways: [ingressgateway]\n  http:\n" + rules)


def write_mesh(folder, rules=ALL_TO_ECHO):
    """Writes the minimal mesh into folder/mesh; returns that path."""
    mesh = os.path.join(folder, "mesh")
    os.makedirs(mesh, exist_ok=True)
    for name, text in (("gateway.yaml", GATEWAY_YAML), ("service.yaml", SERVICE_YAML),
                       ("route.yaml", virtual_service_yaml(rules))):
        with open(os.path.join(mesh, name), "w") as f:
            f.write(text)
    return mesh


class TempFolder:
    def __init__(self, prefix="laneproxy-hostile-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def _flow_map(d):
    return "{" + ", ".join("%s: %s" % (k, v) for k, v in d.items()) + "}"


def write_bootstrap(folder, mesh, upstream_port, timeouts=None, limits=None, extra=""):
    text = ("mesh: %s\n"
            "admin: 127.0.0.1:0\n"
            "gateway: {name: istio-system/ingressgateway, listen: 127.0.0.1:0}\n"
            "endpoints: {echo: [127.0.0.1:%d]}\n"
            "concurrency: 1\n"
            "accessLog: off\n" % (mesh, upstream_port))
    if timeouts:
        text += "timeouts: %s\n" % _flow_map(timeouts)
    if limits:
        text += "limits: %s\n" % _flow_map(limits)
    text += extra
    path = os.path.join(folder, "boot.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------
# The proxy process
# ---------------------------------------------------------------------------

class ProxyStartError(Exception):
    pass


# Running the binary fails these ways while a rebuild replaces it.
MID_REBUILD = (errno.ETXTBSY, errno.ENOENT, errno.ENOEXEC, errno.EACCES)


def wait_for_binary(path, timeout=600):
    """The binary may be mid-rebuild: wait until it exists and has not
    changed for a second."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            st = os.stat(path)
            sig = (st.st_size, st.st_mtime_ns)
            settled = sig == last or time.time() - st.st_mtime > 2
            if settled and os.access(path, os.X_OK) and st.st_size > 0:
                return
            last = sig
        except FileNotFoundError:
            last = None
        time.sleep(1.0)
    raise ProxyStartError("%s did not appear (or kept changing) within %ds" % (path, timeout))


def run_validate(binary, folder, timeout=60):
    """`laneproxy validate FOLDER`: (exit status, output)."""
    for _ in range(5):
        wait_for_binary(binary)
        try:
            p = subprocess.run([binary, "validate", folder], capture_output=True, text=True,
                               timeout=timeout)
            return p.returncode, p.stdout + p.stderr
        except OSError as e:   # ETXTBSY: mid-rebuild
            if e.errno not in MID_REBUILD:
                raise
            time.sleep(2)
    raise ProxyStartError("could not run %s validate" % binary)


_asan_cache = {}


def binary_is_sanitized(binary):
    """ASan builds keep freed memory in quarantine: resident memory then
    measures ASan, not the proxy."""
    if binary not in _asan_cache:
        found = False
        try:
            with open(binary, "rb") as f:
                tail = b""
                while True:
                    block = f.read(1 << 20)
                    if not block:
                        break
                    if b"__asan_init" in tail + block:
                        found = True
                        break
                    tail = block[-16:]
        except OSError:
            pass
        _asan_cache[binary] = found
    return _asan_cache[binary]


LISTENING = re.compile(r"laneproxy: (\w+) listening on \S+:(\d+)")


class Proxy:
    """`laneproxy run --config BOOT` as a child process."""

    def __init__(self, binary, bootstrap, startup_timeout=20.0):
        self.binary = binary
        self.bootstrap = bootstrap
        self.ports = {}
        self._lines = []
        self._lock = threading.Lock()
        self.proc = None
        self._start(startup_timeout)

    def _start(self, startup_timeout):
        # A rebuild can swap the binary under us: retry those failures, a
        # bounded number of times; a config the proxy refuses is final.
        for attempt in range(6):
            wait_for_binary(self.binary)
            try:
                self.proc = subprocess.Popen([self.binary, "run", "--config", self.bootstrap],
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
            except OSError as e:
                if e.errno in MID_REBUILD:
                    time.sleep(2)
                    continue
                raise
            self._lines = []
            threading.Thread(target=self._read_output, args=(self.proc,), daemon=True).start()
            if self._wait_ready(startup_timeout):
                return
            out = self.output()
            self.stop()
            if out.strip() == "" and attempt < 5:
                time.sleep(2)      # died silently: likely a half-written binary
                continue
            raise ProxyStartError("laneproxy run did not get ready:\n" + out)
        raise ProxyStartError("laneproxy run could not be started")

    def _read_output(self, proc):
        for raw in iter(proc.stdout.readline, b""):
            with self._lock:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        proc.stdout.close()

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                lines = list(self._lines)
            if any(l.startswith("laneproxy: ready") for l in lines):
                for l in lines:
                    m = LISTENING.search(l)
                    if m:
                        self.ports[m.group(1)] = int(m.group(2))
                # "mesh none": the mesh did not load and nothing is served.
                return ("gateway" in self.ports and "admin" in self.ports and
                        not any(l.startswith("laneproxy: ready") and "mesh none" in l
                                for l in lines))
            if self.proc.poll() is not None:
                time.sleep(0.1)     # let the reader take the last lines
                return False
            time.sleep(0.02)
        return False

    @property
    def port(self):
        return self.ports["gateway"]

    @property
    def admin_port(self):
        return self.ports["admin"]

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, seconds):
        """True when the process has exited within `seconds`."""
        try:
            self.proc.wait(seconds)
            time.sleep(0.1)     # let the reader take the last lines
            return True
        except subprocess.TimeoutExpired:
            return False

    def exit_description(self):
        rc = self.proc.poll()
        if rc is None:
            return "running"
        if rc < 0:
            try:
                return "killed by %s" % signal.Signals(-rc).name
            except ValueError:
                return "killed by signal %d" % -rc
        return "exited with status %d" % rc

    def output(self, last=None):
        with self._lock:
            lines = list(self._lines)
        if last:
            lines = lines[-last:]
        return "\n".join(lines)

    def ready_status(self, timeout=5.0):
        """The admin /ready status code, 0 when it does not answer."""
        try:
            with Client(self.admin_port, timeout=timeout) as c:
                return c.request("GET", "/ready", timeout=timeout).status
        except (OSError, ConnectionClosed, BadMessage):
            return 0

    def rss_kib(self):
        return read_status_kib(self.pid, "VmRSS")

    def stop(self, timeout=10.0):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
