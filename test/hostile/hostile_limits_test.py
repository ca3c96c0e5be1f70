"""Hostile peers, sizes and memory: oversized fields that must be refused
without crashing the proxy, and input that never ends (or connections that
just sit) that must not make its memory grow without bound.

Run through hostile_test.py (the suite's one entry point); the cases'
base, HostileCase, is in hostile_case.py.
"""

import sys
import time

from client import Client, ConnectionClosed, stream_out
from hostile_case import KIB, MIB, HostileCase, outcome
from http_messages import chunked, request_bytes, response_bytes
from process_util import RssSampler, raise_nofile


# ---------------------------------------------------------------------------
# Oversized fields that must be refused, not crash the proxy
# ---------------------------------------------------------------------------

def answers_once(response):
    """An upstream that answers the first request with `response`, then
    keeps the connection until the proxy drops it."""
    def behaviour(conn):
        if conn.read_request() is None:
            return
        conn.send(response)
        conn.read_request(timeout=20)
    return behaviour


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
        self.start(answers_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
            chunked(b"hello", trailer=b"x-big: " + b"t" * (70 * KIB) + b"\r\n")))
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
        self.start(answers_once(response_bytes(200, b"hello", [("x-big", "v" * (100 * KIB))])),
                   limits={"maxResponseHeadersKb": 200})
        c = self.client()
        c.send(request_bytes("GET", "/big"))
        got, _ = outcome(c, timeout=15)
        self.assert_alive()
        self.assertIn(got, ("closed", 502, 503))


# ---------------------------------------------------------------------------
# One connection must not make the proxy's memory grow without bound
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

