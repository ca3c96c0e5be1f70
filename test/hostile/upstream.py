"""A raw, scripted upstream for the hostile-peer tests: a threaded TCP
server whose behaviour function scripts each connection the proxy opens,
and which records every byte it received.

Standard library only; every wait is bounded in time.
"""

import socket
import threading
import time

from client import LOOPBACK
from http_messages import (BadMessage, Incomplete, Message, parse_head, parse_request,
                           response_bytes, split_requests)


class UpstreamConn:
    """One connection the proxy opened to the upstream. Records every byte
    received; read_request() hands out whole requests one by one."""

    # Bodies of tens of MiB are counted, not all kept.
    RECORD_LIMIT = 32 << 20

    def __init__(self, sock, index):
        self.sock = sock
        self.index = index
        self.total = 0
        self._lock = threading.Lock()
        self._received = bytearray()
        self._pending = bytearray()
        self.closed_by_peer = False
        self.parse_error = None
        self.targets_read = []      # what read_request() handed out, in order

    @property
    def received(self):
        with self._lock:
            return bytes(self._received)

    def received_size(self):
        with self._lock:
            return self.total

    def recv_some(self, timeout=10.0, size=1 << 16):
        """One read: the bytes (also recorded, up to RECORD_LIMIT), b'' at
        close, None on timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            return None
        except OSError:
            data = b""
        if not data:
            self.closed_by_peer = True
            return b""
        with self._lock:
            self.total += len(data)
            if len(self._received) < self.RECORD_LIMIT:
                self._received += data[:self.RECORD_LIMIT - len(self._received)]
        return data

    def _read_more(self, deadline):
        """Appends one read to the pending bytes; False at close or past
        the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        data = self.recv_some(left)
        if not data:
            return False
        self._pending += data
        return True

    def read_request(self, timeout=10.0):
        """The next whole request, or None at close, timeout or a framing
        error (kept in parse_error)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg, end = parse_request(self._pending)
                del self._pending[:end]
                self.targets_read.append(msg.target)
                return msg
            except Incomplete:
                pass
            except BadMessage as e:
                self.parse_error = str(e)
                return None
            if not self._read_more(deadline):
                return None

    def each_request(self, timeout=10.0):
        """Yields whole requests until read_request() gives None."""
        while True:
            req = self.read_request(timeout)
            if req is None:
                return
            yield req

    def read_head(self, timeout=10.0):
        """Reads until a request header is whole and returns (header message
        with no body parsed, body bytes already read past it)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line, fields, end = parse_head(self._pending, 0)
                msg = Message(line.decode("latin-1"), fields)
                parts = msg.start_line.split(" ")
                if len(parts) == 3:
                    msg.method, msg.target, msg.version = parts
                extra = bytes(self._pending[end:])
                self._pending.clear()
                return msg, extra
            except Incomplete:
                pass
            if not self._read_more(deadline):
                return None, b""

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def linger_close(self, seconds=0.5):
        """FIN first, then read and drop for a moment, then close: closing
        with unread bytes would reset and could destroy what was sent."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.recv_some(max(0.01, deadline - time.monotonic())):
                break
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tagged_response(req, extra_headers=()):
    """The well-behaved answer: the body names the request (its path, or its
    x-request-id when it has one), so a response given to the wrong request
    is visible."""
    rid = req.header("x-request-id")
    tag = req.target
    headers = [("x-echo-path", req.target)]
    if rid is not None:
        headers.append(("x-echo-id", rid))
    headers += list(extra_headers)
    return response_bytes(200, tag.encode("latin-1"), headers)


def serve_tagged(conn):
    """Default behaviour: keep-alive, every request answered with its tag."""
    for req in conn.each_request(timeout=60):
        out = tagged_response(req)
        if req.method == "HEAD":
            out = out[:out.index(b"\r\n\r\n") + 4]
        if not conn.send(out):
            return
        if (req.header("connection") or "").lower() == "close":
            return


class RawUpstream:
    """A threaded TCP server on 127.0.0.1:0; `behaviour(conn)` scripts each
    connection (it runs on the connection's own thread)."""

    def __init__(self, behaviour=serve_tagged, sockbuf=None):
        """`sockbuf`: fixed SO_RCVBUF/SO_SNDBUF for accepted connections
        (no autotuning), so that a stalled reader is felt at once."""
        self.behaviour = behaviour
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if sockbuf:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sockbuf)
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sockbuf)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(1024)
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._conns = []
        self._stopped = False
        self.errors = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def address(self):
        return "%s:%d" % (LOOPBACK, self.port)

    def _accept_loop(self):
        while not self._stopped:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                conn = UpstreamConn(sock, len(self._conns))
                self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.behaviour(conn)
        except Exception as e:  # recorded: a test may look at it
            self.errors.append(repr(e))
        finally:
            conn.close()

    def connections(self):
        with self._lock:
            return list(self._conns)

    def requests(self):
        """Every complete request received, in connection order (from the
        recorded bytes)."""
        out = []
        for c in self.connections():
            if c.received_size() > UpstreamConn.RECORD_LIMIT:
                raise RuntimeError("connection %d's record is truncated: count with "
                                   "targets_read()" % c.index)
            out += split_requests(c.received)[0]
        return out

    def targets_read(self):
        """The targets of the requests the behaviours read, any size."""
        out = []
        for c in self.connections():
            out += c.targets_read
        return out

    def total_received(self):
        return sum(c.received_size() for c in self.connections())

    def close(self):
        self._stopped = True
        try:
            self.listener.close()
        except OSError:
            pass
        for c in self.connections():
            c.close()
