"""Hostile peers, framing and semantics: transfer codings, 204 and HEAD
without bodies, Host rules, invalid chunk sizes, request timeouts; and both
directions at once (a body echoed while it is sent, an early final
response).

Run through hostile_test.py (the suite's one entry point); the cases'
base, HostileCase, is in hostile_case.py.
"""

import socket
import threading
import time

from client import ConnectionClosed
from hostile_case import KIB, MIB, HostileCase, outcome
from http_messages import BadMessage, chunked, request_bytes
from proxy import MOCK_ONLY
from upstream import tagged_response


# ---------------------------------------------------------------------------
# Framing and semantics
# ---------------------------------------------------------------------------

def answers_no_content(content_length):
    def behaviour(conn):
        for req in conn.each_request():
            if req.target == "/nocontent":
                conn.send(b"HTTP/1.1 204 No Content\r\nContent-Length: %d\r\n\r\n" % content_length)
            else:
                conn.send(tagged_response(req))
    return behaviour


class FramingTest(HostileCase):

    def test_gzip_then_chunked_is_kept(self):
        self.start()
        c = self.client()
        payload = bytes(range(256)) * 3
        c.send(b"POST /gz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" +
               chunked(payload[:300], payload[300:]))
        got, _ = outcome(c)
        self.settle()
        seen = self.requests_for("/gz")
        self.assertEqual(len(seen), 1, "requests the upstream saw")
        codings = [x.strip().lower() for v in seen[0].values("transfer-encoding")
                   for x in v.split(",")]
        self.assertIn("gzip", codings, "the upstream's Transfer-Encoding: %r" % codings)
        self.assertEqual(codings[-1], "chunked")
        self.assertLess(codings.index("gzip"), codings.index("chunked"))
        self.assertEqual(seen[0].body, payload, "the chunked body's bytes")
        self.assertEqual(got, 200)
        self.assert_alive()

    def no_content(self, content_length):
        self.start(answers_no_content(content_length))
        c = self.client()
        c.send(request_bytes("GET", "/nocontent"))
        head = c.read_head()
        extra = c.read_available(0.5)
        self.assertEqual(head.status, 204)
        self.assertFalse(head.has("content-length"), "204 with %r" % head.headers)
        self.assertFalse(head.has("transfer-encoding"), "204 with %r" % head.headers)
        self.assertEqual(extra, b"", "bytes after the 204's header")
        r = c.request("GET", "/after")
        self.assertEqual((r.status, r.body), (200, b"/after"))
        self.assert_alive()

    def test_204_with_content_length_0(self):
        self.no_content(0)

    def test_204_with_content_length_5_and_no_body(self):
        self.no_content(5)

    def refused_before_upstream(self, raw):
        self.start()
        c = self.client()
        c.send(raw)
        got, _ = outcome(c)
        self.settle()
        self.assertEqual(got, 400)
        self.assertEqual(self.upstream.total_received(), 0, "the upstream got bytes")
        self.assert_alive()

    def test_two_host_headers(self):
        self.refused_before_upstream(b"GET /hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")

    def test_no_host_in_http_1_1(self):
        self.refused_before_upstream(b"GET /nohost HTTP/1.1\r\nx-a: b\r\n\r\n")

    def test_no_host_in_http_1_0_is_fine(self):
        self.start()
        c = self.client()
        c.send(b"GET /old HTTP/1.0\r\n\r\n")
        got, r = outcome(c)
        self.assertEqual((got, r and r.body), (200, b"/old"))
        self.assertEqual(len(self.requests_for("/old")), 1)
        self.assert_alive()

    def test_invalid_chunk_sizes(self):
        self.start()
        for size in (b"zz", b"-1", b"0x10", b"fffffffffffffffff", b"1 0"):
            with self.subTest(size=size):
                path = "/badchunk-%s" % size.decode().replace(" ", "_")
                c = self.client()
                c.send(b"POST %s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%s\r\n"
                       b"%s\r\n0\r\n\r\n" % (path.encode(), size, b"x" * 16))
                got, _ = outcome(c)
                self.settle(0.2)
                self.assertEqual(got, 400, "an invalid chunk size must be answered 400")
                self.assertEqual(self.requests_for(path), [], "the upstream got a whole request")
        self.assert_alive()

    def head_has_no_body(self, port, path, status, then_path, then_body):
        c = self.client(port=port)
        c.send(request_bytes("HEAD", path))
        head = c.read_head()
        extra = c.read_available(0.5)
        self.assertIn(head.status, status)
        self.assertEqual(extra, b"", "body bytes after a HEAD response")
        r = c.request("GET", then_path)
        self.assertEqual((r.status, r.body), (200, then_body))

    def test_head_on_admin_ready(self):
        self.start()
        # HEAD is GET without the body; refusing it (405) would be fine too.
        self.head_has_no_body(self.proxy.admin_port, "/ready", (200, 405), "/ready", b"LIVE\n")
        self.assert_alive()

    def test_head_at_a_local_reply(self):
        self.start(rules=MOCK_ONLY)
        self.head_has_no_body(self.proxy.port, "/nope", (404,), "/mock/after", b"/mock/after")
        self.head_has_no_body(self.proxy.port, "/direct", (418,), "/mock/again", b"/mock/again")
        self.assert_alive()

    def test_request_header_timeout_answers_408(self):
        self.start(timeouts={"requestHeaders": "1s"})
        c = self.client()
        started = time.monotonic()
        c.send(b"GET /slow HTTP/1.1\r\nHost: a\r\nx-half: ")
        got, _ = outcome(c, timeout=10)
        elapsed = time.monotonic() - started
        self.assertEqual(got, 408, "after %.1f s" % elapsed)
        self.assertGreaterEqual(elapsed, 0.8)
        self.assertLessEqual(elapsed, 6.0)
        self.assertEqual(self.upstream.total_received(), 0)
        self.assert_alive()

    def test_request_timeout_covers_a_dribbled_body(self):
        self.start(timeouts={"request": "2s"})
        c = self.client()
        started = time.monotonic()
        c.send(b"POST /dribble HTTP/1.1\r\nHost: a\r\nContent-Length: 150\r\n\r\n")
        got = "timeout"
        # One byte per 100 ms: the idle timeout never fires, the request
        # timeout must. Bounded: at most 15 s of dribble.
        for _ in range(150):
            if time.monotonic() - started > 15:
                break
            if not c.send(b"d"):
                got = "closed"
                break
            early = c.read_available(0.1)
            if early or c.eof:
                c.buf[:0] = early
                got, _ = outcome(c, timeout=5)
                break
        elapsed = time.monotonic() - started
        self.assertIn(got, (408, "closed"), "after %.1f s of dribble" % elapsed)
        self.assertLess(elapsed, 10.0)
        self.assertEqual(self.requests_for("/dribble"), [], "the upstream got a whole request")
        self.assert_alive()


# ---------------------------------------------------------------------------
# Both directions at once
# ---------------------------------------------------------------------------

PATTERN = bytes(i % 251 for i in range(2 * MIB))


def pattern(offset, n):
    """Bytes [offset, offset+n) of an endless 251-periodic stream (n <= 1 MiB):
    any reordering of 64 KiB blocks shows."""
    start = offset % 251
    return PATTERN[start:start + n]


def echo_as_it_arrives(conn):
    """Answers at once with a chunked response and echoes each piece of the
    request body as a chunk, never waiting for the whole body."""
    head, extra = conn.read_head(timeout=20)
    if head is None:
        return
    left = int(head.header("content-length", "0"))
    conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    data = extra
    while True:
        if data:
            data = data[:left]
            left -= len(data)
            if not conn.send(b"%x\r\n%s\r\n" % (len(data), data)):
                return
        if left <= 0:
            break
        data = conn.recv_some(timeout=20)
        if not data:
            return
    conn.send(b"0\r\n\r\n")
    conn.read_request(timeout=20)


def refuses_early(conn):
    """Reads only the header, answers 413 and closes after a short linger
    without reading (unread bytes make the close a reset)."""
    head, _ = conn.read_head(timeout=20)
    if head is None:
        return
    conn.send(b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 9\r\n\r\n"
              b"too large")
    try:
        conn.sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    time.sleep(0.3)


class FullDuplexTest(HostileCase):
    SOCKBUF = 256 * KIB   # fixed buffers: a stalled direction is felt at once

    def stop_sending(self, c, sender):
        try:
            c.sock.shutdown(socket.SHUT_RDWR)   # unblocks the sender
        except OSError:
            pass
        sender.join(10)

    def send_body_in_background(self, c, path, total, errors):
        """Sends a POST to `path` with `total` pattern bytes as its body, on
        a thread of its own."""
        head = request_bytes("POST", path, [("Content-Length", total)])
        out = c.sock.dup()
        out.settimeout(30)

        def run():
            try:
                out.sendall(head)
                sent = 0
                while sent < total:
                    n = min(256 * KIB, total - sent)
                    out.sendall(pattern(sent, n))
                    sent += n
            except OSError as e:
                errors.append(e)
            finally:
                out.close()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def test_body_echoed_while_it_is_sent(self):
        # Far larger than the socket buffers: a half-duplex proxy stalls
        # until its idle timeout. That timeout is generous, so that a slow
        # (sanitizer, loaded) machine is never taken for a stall.
        total = 16 * MIB
        self.start(echo_as_it_arrives, timeouts={"idle": "20s"}, sockbuf=self.SOCKBUF)
        c = self.client(timeout=30, sockbuf=self.SOCKBUF)
        errors = []
        started = time.monotonic()
        sender = self.send_body_in_background(c, "/echo", total, errors)
        got, received, mismatch = "timeout", 0, None
        try:
            head = c.read_head(timeout=30)
            got = head.status
            for piece in c.body_pieces(head, started + 60):
                if mismatch is None and piece != pattern(received, len(piece)):
                    mismatch = received
                received += len(piece)
        except (ConnectionClosed, socket.timeout, BadMessage) as e:
            got = "%s after %.1f s" % (type(e).__name__, time.monotonic() - started)
        elapsed = time.monotonic() - started
        self.stop_sending(c, sender)
        facts = "%s, %.1f of %d MiB echoed in %.1f s" % (got, received / MIB, total // MIB, elapsed)
        self.assertEqual(got, 200, facts)
        self.assertEqual(received, total, facts)
        self.assertIsNone(mismatch, "echoed bytes out of order at offset %s" % mismatch)
        self.assertLess(elapsed, 60, facts)
        self.assert_alive()

    def test_early_final_response(self):
        total = 16 * MIB
        self.start(refuses_early, sockbuf=self.SOCKBUF)
        c = self.client(timeout=30, sockbuf=self.SOCKBUF)
        errors = []
        sender = self.send_body_in_background(c, "/upload", total, errors)
        got, r = outcome(c, timeout=30)
        self.stop_sending(c, sender)
        self.assertEqual(got, 413, "the upstream's early answer")
        self.assert_alive()
