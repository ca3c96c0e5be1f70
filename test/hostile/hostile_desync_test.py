"""Hostile peers, message boundaries: framing headers named in Connection
must not be stripped into smuggling, and an upstream connection with bytes
nobody asked for must not be reused, so that no request gets another's
response.

Run through hostile_test.py (the suite's one entry point); the cases'
base, HostileCase, is in hostile_case.py.
"""

import queue
import time

from client import Client
from hostile_case import HostileCase, outcome
from http_messages import chunked, request_bytes, response_bytes
from upstream import tagged_response


# ---------------------------------------------------------------------------
# Framing headers named in Connection must not be stripped into smuggling
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
            for req in conn.each_request():
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
# An upstream connection with bytes nobody asked for must not be reused
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
            for req in conn.each_request():
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
            for req in conn.each_request():
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
