"""A raw downstream client for the hostile-peer tests: one connection to
the proxy, byte by byte, with strict response reading; and stream_out()
for bodies too big to hold.

Standard library only; every wait is bounded in time.
"""

import select
import socket
import time

from http_messages import (BadMessage, Incomplete, content_length, parse_chunk_size,
                           parse_response, parse_response_head, request_bytes, transfer_codings)

LOOPBACK = "127.0.0.1"


class ConnectionClosed(Exception):
    """The peer closed (or reset) before a whole message arrived."""

    def __init__(self, what, partial=b""):
        super().__init__("%s (%d bytes had arrived: %r)" % (what, len(partial), partial[:200]))
        self.partial = partial


def _interim(status):
    """A 1xx that another response follows (101 ends the HTTP exchange)."""
    return 100 <= status < 200 and status != 101


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
                if skip_interim and _interim(msg.status):
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
            try:
                msg, body_at = parse_response_head(self.buf)
                del self.buf[:body_at]
                if _interim(msg.status):
                    continue
                return msg
            except Incomplete:
                if self.eof:
                    raise ConnectionClosed("closed before a response header", bytes(self.buf))
            self._recv(deadline)

    def body_pieces(self, msg, deadline):
        """Yields a response body piece by piece as it arrives (chunked or
        Content-Length framing), without holding it whole."""
        codings = transfer_codings(msg)
        if codings and codings[-1] == "chunked":
            yield from self._chunked_pieces(deadline)
            return
        length = content_length(msg)
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

    def _chunked_pieces(self, deadline):
        while True:
            while self.buf.find(b"\r\n") < 0:
                if not self._recv(deadline):
                    raise ConnectionClosed("closed inside a chunk size line", bytes(self.buf))
            eol = self.buf.find(b"\r\n")
            size = parse_chunk_size(self.buf[:eol])
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
