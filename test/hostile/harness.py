"""Shared helpers for the hostile-peer tests: a laneproxy process, a raw
scripted upstream, a raw client, strict HTTP/1.1 message parsing, RSS.

Standard library only; everything listens on 127.0.0.1 port 0, and every
wait is bounded in time.
"""

import errno
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------
# HTTP/1.1 messages: a strict parser (framing by Content-Length or chunked)
# ---------------------------------------------------------------------------

class Incomplete(Exception):
    """The bytes so far are a prefix of a message: more are needed."""


class BadMessage(Exception):
    """The bytes can never become a valid message."""


TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")


class Message:
    """A parsed request or response. `body` is the decoded payload."""

    def __init__(self, start_line, headers):
        self.start_line = start_line
        self.headers = headers      # [(name lower-case str, value str)] in order
        self.body = b""
        self.trailers = []
        self.raw = b""              # the message's bytes exactly as they came
        self.chunked = False
        # Request fields.
        self.method = self.target = self.version = None
        # Response fields.
        self.status = None
        self.reason = None

    def values(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n == name]

    def header(self, name, default=None):
        vs = self.values(name)
        return vs[0] if vs else default

    def has(self, name):
        return bool(self.values(name))

    def __repr__(self):
        return "<%s headers=%d body=%d bytes>" % (self.start_line, len(self.headers),
                                                  len(self.body))


def _parse_fields(lines):
    out = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            raise BadMessage("obs-fold line %r" % line[:40])
        name, sep, value = line.partition(b":")
        if not sep or not TOKEN.match(name):
            raise BadMessage("bad field line %r" % line[:60])
        out.append((name.decode("latin-1").lower(), value.strip(b" \t").decode("latin-1")))
    return out


def _parse_head(buf, pos):
    """(start line bytes, fields, offset after the blank line)."""
    end = buf.find(b"\r\n\r\n", pos)
    if end < 0:
        raise Incomplete()
    lines = bytes(buf[pos:end]).split(b"\r\n")
    return lines[0], _parse_fields(lines[1:]), end + 4


def _parse_chunked(buf, pos):
    """(decoded body, trailer fields, offset after the body)."""
    body = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            raise Incomplete()
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0]
        if not HEX.match(size_text):
            raise BadMessage("bad chunk size %r" % size_text[:40])
        size = int(size_text, 16)
        pos = eol + 2
        if size == 0:
            break
        if len(buf) < pos + size + 2:
            raise Incomplete()
        body += buf[pos:pos + size]
        if buf[pos + size:pos + size + 2] != b"\r\n":
            raise BadMessage("chunk data not followed by CRLF")
        pos += size + 2
    # The trailer section: fields, then an empty line.
    if buf[pos:pos + 2] == b"\r\n":
        return bytes(body), [], pos + 2
    end = buf.find(b"\r\n\r\n", pos)
    if end < 0:
        raise Incomplete()
    trailers = _parse_fields(bytes(buf[pos:end]).split(b"\r\n"))
    return bytes(body), trailers, end + 4


def _codings(msg):
    out = []
    for v in msg.values("transfer-encoding"):
        out += [c.strip().lower() for c in v.split(",") if c.strip()]
    return out


def _content_length(msg):
    values = msg.values("content-length")
    if not values:
        return None
    if len(values) > 1 or not values[0].isdigit():
        raise BadMessage("bad Content-Length %r" % values)
    return int(values[0])


def _parse_body(msg, buf, pos, until_close_ok, closed):
    codings = _codings(msg)
    if codings:
        if codings[-1] != "chunked":
            if until_close_ok:   # a response may end at close
                if not closed:
                    raise Incomplete()
                msg.body = bytes(buf[pos:])
                return len(buf)
            raise BadMessage("request Transfer-Encoding does not end in chunked")
        msg.chunked = True
        msg.body, msg.trailers, end = _parse_chunked(buf, pos)
        return end
    length = _content_length(msg)
    if length is None:
        if until_close_ok:
            if not closed:
                raise Incomplete()
            msg.body = bytes(buf[pos:])
            return len(buf)
        return pos
    if len(buf) < pos + length:
        raise Incomplete()
    msg.body = bytes(buf[pos:pos + length])
    return pos + length


def parse_request(buf, pos=0):
    """(request, offset after it) or Incomplete / BadMessage."""
    line, fields, body_at = _parse_head(buf, pos)
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise BadMessage("bad request line %r" % line[:80])
    msg = Message(line.decode("latin-1"), fields)
    msg.method, msg.target, msg.version = (p.decode("latin-1") for p in parts)
    end = _parse_body(msg, buf, body_at, until_close_ok=False, closed=False)
    msg.raw = bytes(buf[pos:end])
    return msg, end


def parse_response(buf, pos=0, head=False, closed=False):
    """(response, offset after it) or Incomplete / BadMessage. `head`: the
    request was HEAD; `closed`: the peer has closed (ends a body without
    framing)."""
    line, fields, body_at = _parse_head(buf, pos)
    m = re.match(rb"^HTTP/1\.[01] (\d{3})(?: (.*))?$", line)
    if not m:
        raise BadMessage("bad status line %r" % line[:80])
    msg = Message(line.decode("latin-1"), fields)
    msg.status = int(m.group(1))
    msg.reason = (m.group(2) or b"").decode("latin-1")
    if head or msg.status < 200 or msg.status in (204, 304):
        end = body_at       # no body, whatever the header says
    else:
        end = _parse_body(msg, buf, body_at, until_close_ok=True, closed=closed)
    msg.raw = bytes(buf[pos:end])
    return msg, end


def split_requests(data):
    """Splits bytes into complete requests: (requests, leftover, error or
    None). Stops at the first incomplete or malformed message."""
    out, pos = [], 0
    while pos < len(data):
        try:
            msg, pos = parse_request(data, pos)
        except Incomplete:
            return out, bytes(data[pos:]), None
        except BadMessage as e:
            return out, bytes(data[pos:]), str(e)
        out.append(msg)
    return out, b"", None


def request_bytes(method, path, headers=(), body=b"", version="HTTP/1.1", host="a"):
    """A request with Host first (unless host is None) and Content-Length
    when there is a body."""
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: " + host)
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if body and not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def response_bytes(status=200, body=b"", headers=(), reason="OK", length=True):
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if length:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---------------------------------------------------------------------------
# A raw client
# ---------------------------------------------------------------------------

class ConnectionClosed(Exception):
    """The peer closed (or reset) before a whole message arrived."""

    def __init__(self, what, partial=b""):
        super().__init__("%s (%d bytes had arrived: %r)" % (what, len(partial), partial[:200]))
        self.partial = partial


class Client:
    """One downstream connection to the proxy, byte by byte."""

    def __init__(self, port, timeout=10.0, sockbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if sockbuf:   # fixed buffers: what the proxy does not read stays with us
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sockbuf)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sockbuf)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((LOOPBACK, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.reset = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        """Sends all of data; False when the peer closed or reset."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _recv(self, deadline):
        """Reads once into buf; False at EOF or reset. Raises socket.timeout
        past the deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 16)
        except ConnectionResetError:
            self.eof = self.reset = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_response(self, head=False, timeout=None, skip_interim=True):
        """The next response on the connection. Raises ConnectionClosed or
        socket.timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                msg, end = parse_response(self.buf, 0, head=head, closed=self.eof)
                del self.buf[:end]
                if skip_interim and 100 <= msg.status < 200 and msg.status != 101:
                    continue
                return msg
            except Incomplete:
                if self.eof:
                    raise ConnectionClosed("closed before a whole response", bytes(self.buf))
            self._recv(deadline)

    def read_head(self, timeout=None):
        """Reads and consumes the next response header only (interim 1xx
        skipped); the body is left for body_pieces()."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                line, fields, body_at = _parse_head(self.buf, 0)
                m = re.match(rb"^HTTP/1\.[01] (\d{3})(?: (.*))?$", line)
                if not m:
                    raise BadMessage("bad status line %r" % line[:80])
                del self.buf[:body_at]
                msg = Message(line.decode("latin-1"), fields)
                msg.status = int(m.group(1))
                if 100 <= msg.status < 200 and msg.status != 101:
                    continue
                return msg
            if self.eof:
                raise ConnectionClosed("closed before a response header", bytes(self.buf))
            self._recv(deadline)

    def body_pieces(self, msg, deadline):
        """Yields a response body piece by piece as it arrives (chunked or
        Content-Length framing), without holding it whole."""
        if _codings(msg) and _codings(msg)[-1] == "chunked":
            while True:
                while self.buf.find(b"\r\n") < 0:
                    if not self._recv(deadline):
                        raise ConnectionClosed("closed inside a chunk size line", bytes(self.buf))
                eol = self.buf.find(b"\r\n")
                size_text = bytes(self.buf[:eol]).split(b";", 1)[0]
                if not HEX.match(size_text):
                    raise BadMessage("bad chunk size %r" % size_text[:40])
                size = int(size_text, 16)
                del self.buf[:eol + 2]
                if size == 0:
                    while self.buf.find(b"\r\n") < 0 or (
                            self.buf[:2] != b"\r\n" and self.buf.find(b"\r\n\r\n") < 0):
                        if not self._recv(deadline):
                            raise ConnectionClosed("closed inside the trailer", bytes(self.buf))
                    end = 2 if self.buf[:2] == b"\r\n" else self.buf.find(b"\r\n\r\n") + 4
                    del self.buf[:end]
                    return
                left = size
                while left > 0:
                    if not self.buf and not self._recv(deadline):
                        raise ConnectionClosed("closed inside a chunk")
                    piece = bytes(self.buf[:left])
                    del self.buf[:len(piece)]
                    left -= len(piece)
                    yield piece
                while len(self.buf) < 2:
                    if not self._recv(deadline):
                        raise ConnectionClosed("closed after chunk data")
                if self.buf[:2] != b"\r\n":
                    raise BadMessage("chunk data not followed by CRLF")
                del self.buf[:2]
        length = _content_length(msg)
        left = length if length is not None else None
        while left is None or left > 0:
            if not self.buf and not self._recv(deadline):
                if left is None:
                    return
                raise ConnectionClosed("closed inside the body")
            piece = bytes(self.buf if left is None else self.buf[:left])
            del self.buf[:len(piece)]
            if left is not None:
                left -= len(piece)
            yield piece

    def read_available(self, wait):
        """Whatever arrives within `wait` seconds (buffered bytes included)."""
        deadline = time.monotonic() + wait
        try:
            while self._recv(deadline):
                pass
        except socket.timeout:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_until_close(self, timeout=None):
        """All bytes until the peer closes; socket.timeout if it does not."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._recv(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def closed_within(self, seconds):
        """True when the peer closes within `seconds` (bytes are dropped)."""
        try:
            self.read_until_close(seconds)
            return True
        except socket.timeout:
            return False

    def request(self, method, path, headers=(), body=b"", timeout=None):
        """Sends one request and reads its response."""
        if not self.send(request_bytes(method, path, headers, body)):
            raise ConnectionClosed("closed while sending")
        return self.read_response(head=(method == "HEAD"), timeout=timeout)


def raise_nofile(wanted):
    """Raises this process's descriptor limit to `wanted` (or the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def stream_out(sock, total, piece, on_progress=None, stall_seconds=3.0, deadline_seconds=60.0,
               payload=None):
    """Sends `total` bytes of `payload(offset, n)` (default 'a') in `piece`
    sized writes, stopping early when the peer answers (readable), closes
    or stops reading for `stall_seconds`. Returns (sent, why) where why is
    one of 'done', 'readable', 'closed', 'stalled', 'deadline'."""
    sent = 0
    filler = b"a" * piece
    sock.setblocking(False)
    deadline = time.monotonic() + deadline_seconds
    try:
        while sent < total:
            now = time.monotonic()
            if now > deadline:
                return sent, "deadline"
            readable, writable, _ = select.select([sock], [sock], [], stall_seconds)
            if readable:
                return sent, "readable"
            if not writable:
                return sent, "stalled"
            n = min(piece, total - sent)
            data = payload(sent, n) if payload else filler[:n]
            try:
                sent += sock.send(data)
            except (BlockingIOError, InterruptedError):
                continue
            except (BrokenPipeError, ConnectionResetError):
                return sent, "closed"
            if on_progress:
                on_progress(sent)
        return sent, "done"
    finally:
        sock.setblocking(True)


# ---------------------------------------------------------------------------
# A raw, scripted upstream
# ---------------------------------------------------------------------------

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
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.recv_some(left)
            if not data:
                return None
            self._pending += data

    def read_head(self, timeout=10.0):
        """Reads until a request header is whole and returns (header message
        with no body parsed, body bytes already read past it)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line, fields, end = _parse_head(self._pending, 0)
                msg = Message(line.decode("latin-1"), fields)
                parts = msg.start_line.split(" ")
                if len(parts) == 3:
                    msg.method, msg.target, msg.version = parts
                extra = bytes(self._pending[end:])
                self._pending.clear()
                return msg, extra
            except Incomplete:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                return None, b""
            data = self.recv_some(left)
            if not data:
                return None, b""
            self._pending += data

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
    while True:
        req = conn.read_request(timeout=60)
        if req is None:
            return
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
            if e.errno not in (errno.ETXTBSY, errno.ENOENT, errno.ENOEXEC):
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
                if e.errno in (errno.ETXTBSY, errno.ENOENT, errno.ENOEXEC, errno.EACCES):
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


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

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


class TempFolder:
    def __init__(self, prefix="laneproxy-hostile-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)
