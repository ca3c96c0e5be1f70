#!/usr/bin/python3
"""Hostile peers against a real laneproxy gateway: clients and upstreams
that send what a proxy must survive without crashing, growing, or giving
one request another's response.

    /usr/bin/python3 test/hostile/hostile_test.py --laneproxy build/bin/laneproxy [unittest args]

Each test starts its own proxy (one worker) in front of a scripted raw
upstream, attacks it, and checks what the client got, what the upstream
received, and that the proxy is still alive and ready.
"""

import os
import queue
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402  (after the path is set)
    ALL_TO_ECHO, MOCK_ONLY, BadMessage, Client, ConnectionClosed, Proxy, RawUpstream, RssSampler,
    TempFolder, binary_is_sanitized, raise_nofile, request_bytes, response_bytes, run_validate,
    serve_tagged, stream_out, tagged_response, take_option, write_bootstrap, write_mesh)

LANEPROXY = None   # set from --laneproxy

KIB = 1024
MIB = 1024 * 1024


def chunked(*pieces, trailer=b""):
    """A chunked body of `pieces`, then the last chunk and `trailer`."""
    out = b""
    for p in pieces:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n" + trailer + b"\r\n"


def outcome(client, head=False, timeout=10.0):
    """What the client got next: (status, response), ('closed', None) when
    the proxy closed or reset first, ('timeout', None) when nothing came."""
    try:
        r = client.read_response(head=head, timeout=timeout)
        return r.status, r
    except ConnectionClosed:
        return "closed", None
    except socket.timeout:
        return "timeout", None
    except BadMessage as e:
        return "garbled: %s" % e, None


class HostileCase(unittest.TestCase):
    """Starts a proxy per test; helpers to attack it and check it."""

    def start(self, behaviour=serve_tagged, timeouts=None, limits=None, rules=ALL_TO_ECHO,
              sockbuf=None):
        folder = TempFolder()
        self.addCleanup(folder.cleanup)
        self.upstream = RawUpstream(behaviour, sockbuf=sockbuf)
        self.addCleanup(self.upstream.close)
        mesh = write_mesh(folder.path, rules)
        boot = write_bootstrap(folder.path, mesh, self.upstream.port, timeouts, limits)
        self.proxy = Proxy(LANEPROXY, boot)
        self.addCleanup(self.proxy.stop)
        return self.proxy

    def client(self, timeout=10.0, sockbuf=None, port=None):
        c = Client(port or self.proxy.port, timeout=timeout, sockbuf=sockbuf)
        self.addCleanup(c.close)
        return c

    @property
    def sanitized(self):
        return binary_is_sanitized(LANEPROXY)

    def assert_alive(self):
        """The proxy process still runs and its admin /ready answers 200."""
        status = self.proxy.ready_status()
        if status != 200:
            # A dying process may still be there for a moment: let it go, so
            # that the failure names the death rather than a silent /ready.
            self.proxy.wait_exit(2.0)
        self.assertTrue(self.proxy.alive(), "proxy died (%s); its last output:\n%s" %
                        (self.proxy.exit_description(), self.proxy.output(last=30)))
        self.assertEqual(status, 200, "admin /ready")

    def assert_serves(self, path="/alive"):
        """A fresh connection is served by the upstream (routes to echo)."""
        with Client(self.proxy.port) as c:
            r = c.request("GET", path)
            self.assertEqual((r.status, r.body), (200, path.encode()), "a fresh request")

    def requests_for(self, target):
        return [r for r in self.upstream.requests() if r.target == target]

    def settle(self, seconds=0.3):
        """Lets bytes in flight reach the upstream before it is inspected."""
        time.sleep(seconds)


# ---------------------------------------------------------------------------
# 1. Oversized fields that must be refused, not crash the proxy
# ---------------------------------------------------------------------------

class CrashTest(HostileCase):

    def test_request_trailer_of_70_kib(self):
        self.start()
        c = self.client()
        big = b"t" * (70 * KIB)
        c.send(b"POST /trailer HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
               chunked(b"hello", trailer=b"x-big: " + big + b"\r\n"))
        got, _ = outcome(c, timeout=15)
        self.settle()
        self.assert_alive()
        self.assertIn(got, (431, 400, "closed"))
        for conn in self.upstream.connections():
            self.assertNotIn(big[:64 * KIB], conn.received, "the upstream saw the huge trailer")
        self.assert_serves()

    def test_response_trailer_of_70_kib(self):
        def huge_trailer(conn):
            if conn.read_request() is None:
                return
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      chunked(b"hello", trailer=b"x-big: " + b"t" * (70 * KIB) + b"\r\n"))
            conn.read_request(timeout=20)   # keep the connection until the proxy drops it
        self.start(huge_trailer)
        c = self.client()
        c.send(request_bytes("GET", "/trailer"))
        got, r = outcome(c, timeout=15)
        self.assert_alive()
        # The response cannot be relayed whole: truncated (closed) or refused.
        self.assertNotEqual(got, "timeout", "the client hung")
        self.assertIn(got, ("closed", 502, 503))

    def test_request_header_value_of_100_kib(self):
        self.start(limits={"maxRequestHeadersKb": 200})
        c = self.client()
        c.send(request_bytes("GET", "/big", [("x-big", "v" * (100 * KIB))]))
        got, _ = outcome(c, timeout=15)
        self.settle()
        self.assert_alive()
        self.assertIn(got, (431, 400))
        self.assertEqual(self.upstream.total_received(), 0, "the upstream got bytes")
        self.assert_serves()

    def test_response_header_value_of_100_kib(self):
        def huge_header(conn):
            if conn.read_request() is None:
                return
            conn.send(response_bytes(200, b"hello", [("x-big", "v" * (100 * KIB))]))
            conn.read_request(timeout=20)
        self.start(huge_header, limits={"maxResponseHeadersKb": 200})
        c = self.client()
        c.send(request_bytes("GET", "/big"))
        got, _ = outcome(c, timeout=15)
        self.assert_alive()
        self.assertIn(got, ("closed", 502, 503))


# ---------------------------------------------------------------------------
# 2. Framing headers named in Connection must not be stripped into smuggling
# ---------------------------------------------------------------------------

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"


class SmugglingTest(HostileCase):

    def smuggle(self, head_fields, body, expect_body):
        """POST /front with `head_fields` and `body`; the upstream must see
        one request, /front, with `expect_body`, and nothing for /smuggled."""
        self.start()
        c = self.client()
        c.send(b"POST /front HTTP/1.1\r\nHost: a\r\n" + head_fields + b"\r\n" + body)
        got, r = outcome(c)
        self.settle()
        seen = self.upstream.requests()
        self.assertEqual([q.target for q in seen], ["/front"], "requests the upstream saw")
        self.assertEqual(seen[0].body, expect_body)
        self.assertEqual(seen[0].values("host"), ["a"], "the forwarded request's Host")
        self.assertEqual((got, r.body if r else None), (200, b"/front"))
        self.assert_alive()
        return c, r

    def test_connection_content_length(self):
        c, _ = self.smuggle(b"Connection: content-length\r\nContent-Length: %d\r\n" % len(SMUGGLED),
                            SMUGGLED, SMUGGLED)
        # The client's connection is still in step.
        self.assertEqual(c.request("GET", "/after").body, b"/after")

    def test_connection_transfer_encoding(self):
        c, _ = self.smuggle(b"Connection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n",
                            chunked(SMUGGLED), SMUGGLED)
        self.assertEqual(c.request("GET", "/after").body, b"/after")

    def test_connection_close_content_length(self):
        self.smuggle(b"Connection: close, Content-Length\r\nContent-Length: %d\r\n" % len(SMUGGLED),
                     SMUGGLED, SMUGGLED)

    def test_connection_host(self):
        c, _ = self.smuggle(b"Connection: host\r\nContent-Length: %d\r\n" % len(SMUGGLED),
                            SMUGGLED, SMUGGLED)
        self.assertEqual(c.request("GET", "/after").body, b"/after")

    def test_response_connection_content_length(self):
        def hides_its_length(conn):
            while True:
                req = conn.read_request()
                if req is None:
                    return
                if req.target == "/first":
                    out = (b"HTTP/1.1 200 OK\r\nConnection: content-length\r\n"
                           b"Content-Length: 5\r\n\r\nhello")
                else:
                    out = tagged_response(req)
                conn.send(out)
        self.start(hides_its_length)
        c = self.client()
        c.send(request_bytes("GET", "/first"))
        head = c.read_head()
        framed = head.has("content-length") or "chunked" in (head.header("transfer-encoding") or "")
        self.assertTrue(framed, "the response lost its framing: %r" % head.headers)
        body = b"".join(c.body_pieces(head, time.monotonic() + 10))
        self.assertEqual((head.status, body), (200, b"hello"))
        second = c.request("GET", "/second")
        self.assertEqual((second.status, second.body), (200, b"/second"))
        self.assert_alive()


# ---------------------------------------------------------------------------
# 3. An upstream connection with bytes nobody asked for must not be reused
# ---------------------------------------------------------------------------

POISON = response_bytes(200, b"POISON", [("x-echo-path", "/poison")])


class PoisonedPoolTest(HostileCase):
    ROUNDS = 24
    # Between the response and the extra bytes: None is the same write.
    UPSTREAM_GAPS = (None, 0, 0.0005, 0.001)
    # Between the extra bytes leaving the upstream and the next request:
    # the proxy has them by then, yet its pooled connection looks fresh.
    CLIENT_GAPS = (0.002, 0.003, 0.005)

    def send_with_extra(self, conn, response, extra, gap):
        if gap is None:
            conn.send(response + extra)
        else:
            conn.send(response)
            time.sleep(gap)
            conn.send(extra)

    def test_extra_response_after_a_response(self):
        poisoned = queue.Queue()   # rounds whose extra response has been sent

        def poisons(conn):
            while True:
                req = conn.read_request()
                if req is None:
                    return
                if req.target.startswith("/a"):
                    i = int(req.target[2:])
                    self.send_with_extra(conn, tagged_response(req), POISON,
                                         self.UPSTREAM_GAPS[i % len(self.UPSTREAM_GAPS)])
                    poisoned.put(i)
                else:
                    conn.send(tagged_response(req))
        self.start(poisons)
        wrong = []
        for i in range(self.ROUNDS):
            with Client(self.proxy.port) as a:
                r = a.request("GET", "/a%d" % i)
                if r.body != b"/a%d" % i:
                    wrong.append(("A", i, r.status, r.body))
            self.assertEqual(poisoned.get(timeout=10), i)
            time.sleep(self.CLIENT_GAPS[i % len(self.CLIENT_GAPS)])
            with Client(self.proxy.port) as b:
                r = b.request("GET", "/b%d" % i)
                if r.body != b"/b%d" % i:
                    wrong.append(("B", i, r.status, r.body))
        self.settle()
        self.assertEqual(wrong, [], "responses given to the wrong client (client, round, status, "
                                    "body)")
        for i in range(self.ROUNDS):
            self.assertEqual(len(self.requests_for("/b%d" % i)), 1, "the upstream got /b%d" % i)
        self.assert_alive()

    def head_with_body(self, body_of_head):
        """HEAD answered with a Content-Length and `body_of_head` bytes after
        the header; the next requests must get their own responses, and
        each must reach the upstream once (not also on the spoilt
        connection)."""
        sent = queue.Queue()   # rounds whose HEAD body has been sent

        def head_body(conn):
            while True:
                req = conn.read_request()
                if req is None:
                    return
                if req.method == "HEAD":
                    i = int(req.target[5:])
                    self.send_with_extra(
                        conn, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body_of_head),
                        body_of_head, self.UPSTREAM_GAPS[i % len(self.UPSTREAM_GAPS)])
                    sent.put(i)
                else:
                    conn.send(tagged_response(req))
        self.start(head_body)
        wrong = []
        rounds = 12
        for i in range(rounds):
            with Client(self.proxy.port) as c:
                head = c.request("HEAD", "/head%d" % i)
                self.assertEqual((head.status, head.body), (200, b""))
                self.assertEqual(sent.get(timeout=10), i)
                time.sleep(self.CLIENT_GAPS[i % len(self.CLIENT_GAPS)])
                for path in ("/get%d" % i, "/again%d" % i):
                    r = c.request("GET", path)
                    if (r.status, r.body) != (200, path.encode()):
                        wrong.append((path, r.status, r.body))
            with Client(self.proxy.port) as other:
                r = other.request("GET", "/other%d" % i)
                if r.body != b"/other%d" % i:
                    wrong.append(("/other%d" % i, r.status, r.body))
        self.settle()
        self.assertEqual(wrong, [], "requests that got another's response")
        for i in range(rounds):
            for path in ("/get%d" % i, "/again%d" % i, "/other%d" % i):
                self.assertEqual(len(self.requests_for(path)), 1, "the upstream got " + path)
        self.assert_alive()

    def test_head_answered_with_a_body(self):
        self.head_with_body(b"POISON")

    def test_head_answered_with_a_whole_response_as_body(self):
        self.head_with_body(POISON)


# ---------------------------------------------------------------------------
# 4. One connection must not make the proxy's memory grow without bound
# ---------------------------------------------------------------------------

class MemoryTest(HostileCase):

    def endless(self, path, head_and_start):
        """Sends `head_and_start` then 20 MiB that never finish the line;
        the proxy must answer 4xx or close well before, with flat memory."""
        self.start()
        self.assert_serves("/warm")
        time.sleep(0.3)
        before = self.proxy.rss_kib()
        c = self.client(timeout=15, sockbuf=64 * KIB)
        c.send(head_and_start)
        with RssSampler(self.proxy.pid) as rss:
            sent, why = stream_out(c.sock, 20 * MIB, 64 * KIB)
            got, _ = outcome(c, timeout=10)
        growth_mib = (rss.peak - before) / 1024.0
        self.settle()
        self.assert_alive()
        facts = "sent %.1f MiB (%s), then got %s; RSS grew %.1f MiB" % (
            sent / MIB, why, got, growth_mib)
        self.assertLess(sent, 20 * MIB, "the proxy took the whole 20 MiB: " + facts)
        self.assertIn(got, (400, 413, 431, "closed"), facts)
        if not self.sanitized:
            self.assertLess(growth_mib, 16, facts)
        self.assertEqual(self.requests_for(path), [], "the upstream got a whole request")
        self.assert_serves()

    def test_chunk_extension_that_never_ends(self):
        self.endless("/ext", b"POST /ext HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                             b"\r\n5;")

    def test_trailer_that_never_ends(self):
        self.endless("/trail", b"POST /trail HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                               b"\r\n0\r\nx: ")

    def test_idle_connections_after_big_headers(self):
        count = 2000
        raise_nofile(count + 500)
        self.start()
        # ~40 KiB of headers in ten fields (the default limit is 60 KB).
        fields = [("x-fill-%d" % i, chr(ord("a") + i) * (4 * KIB)) for i in range(10)]
        for i in range(3):
            with Client(self.proxy.port) as c:
                self.assertEqual(c.request("GET", "/warm%d" % i, fields).status, 200)
        time.sleep(0.5)
        before = self.proxy.rss_kib()
        clients, failures = [], []
        deadline = time.monotonic() + 180
        for i in range(count):
            self.assertLess(time.monotonic(), deadline, "opening %d connections took too long" % i)
            c = self.client(timeout=20)
            clients.append(c)
            path = "/idle%d" % i
            try:
                r = c.request("GET", path, fields)
                if (r.status, r.body) != (200, path.encode()):
                    failures.append((path, r.status))
            except (OSError, ConnectionClosed) as e:
                failures.append((path, repr(e)))
                if len(failures) > 20:
                    break
        time.sleep(1.0)   # all of them idle now
        after = self.proxy.rss_kib()
        self.assert_alive()
        self.assertEqual(failures, [], "requests not answered 200 with their own body")
        per_conn = (after - before) / float(count)
        print("\n  RSS %d -> %d KiB with %d idle connections: %.1f KiB each" %
              (before, after, count, per_conn), file=sys.stderr)
        if not self.sanitized:
            self.assertLess(per_conn, 24, "RSS per idle connection, KiB (%d -> %d KiB)" %
                            (before, after))
        self.assertEqual(len(self.upstream.targets_read()), count + 3, "requests upstream")


# ---------------------------------------------------------------------------
# 5. Framing and semantics
# ---------------------------------------------------------------------------

def answers_no_content(content_length):
    def behaviour(conn):
        while True:
            req = conn.read_request()
            if req is None:
                return
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
# 6. Both directions at once
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

    def send_body_in_background(self, c, head, total, errors):
        """Sends head and `total` pattern bytes on a thread of its own."""
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
        total = 64 * MIB
        self.start(echo_as_it_arrives, timeouts={"idle": "5s"}, sockbuf=self.SOCKBUF)
        c = self.client(timeout=30, sockbuf=self.SOCKBUF)
        errors = []
        started = time.monotonic()
        sender = self.send_body_in_background(
            c, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % total, total,
            errors)
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
        sender = self.send_body_in_background(
            c, b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % total, total,
            errors)
        got, r = outcome(c, timeout=30)
        self.stop_sending(c, sender)
        self.assertEqual(got, 413, "the upstream's early answer")
        self.assert_alive()


class MeshTest(unittest.TestCase):
    """The test meshes are valid as `laneproxy validate` sees them."""

    def test_meshes_validate(self):
        for rules in (ALL_TO_ECHO, MOCK_ONLY):
            folder = TempFolder()
            self.addCleanup(folder.cleanup)
            status, out = run_validate(LANEPROXY, write_mesh(folder.path, rules))
            self.assertEqual(status, 0, out)


def main():
    global LANEPROXY
    argv = list(sys.argv)
    path = take_option(argv, "--laneproxy")
    if not path:
        sys.stderr.write("usage: %s --laneproxy PATH [unittest args]\n" % argv[0])
        return 2
    LANEPROXY = os.path.abspath(path)
    program = unittest.main(argv=argv, exit=False)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
