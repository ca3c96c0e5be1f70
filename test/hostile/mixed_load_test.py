#!/usr/bin/python3
"""Well-behaved clients next to hostile ones, on one proxy worker.

    /usr/bin/python3 test/hostile/mixed_load_test.py --laneproxy build/bin/laneproxy [--seconds 30]
        [--attacks NAME,...]   (only these attacks; names in attack_bytes())

For --seconds, 8 keep-alive clients send GETs, each with its own
x-request-id, and check that every response is theirs (the upstream answers
with the id it received). Meanwhile 4 hostile threads attack on their own
connections (smuggling, huge trailers, endless chunk extensions, duplicate
Host, bad chunk sizes) and ask for /hostile paths, where the upstream
misbehaves (bytes after the response, HEAD with a body, a Content-Length
named in Connection). Pass: no good request went wrong, the proxy lives,
and its RSS after the attacks is within 20 % (or 4 MiB) of the start.
"""

import os
import socket
import sys
import threading
import time
import unittest
import uuid

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# After the path is set.
from client import Client, ConnectionClosed, stream_out  # noqa: E402
from http_messages import BadMessage, request_bytes, response_bytes  # noqa: E402
from process_util import take_option  # noqa: E402
from proxy import (Proxy, TempFolder, binary_is_sanitized, write_bootstrap,  # noqa: E402
                   write_mesh)
from upstream import RawUpstream  # noqa: E402

LANEPROXY = None
SECONDS = 30.0
GOOD_CLIENTS = 8
HOSTILE_CLIENTS = 4
ONLY = None   # --attacks NAME,NAME: run only these (to study one)
KIB, MIB = 1024, 1024 * 1024


# ---------------------------------------------------------------------------
# The upstream: faithful for good requests, misbehaving under /hostile
# ---------------------------------------------------------------------------

def answer(req):
    """A good answer: body and x-echo-id are the request id it received."""
    rid = req.header("x-request-id", "")
    body = rid.encode("latin-1")
    if req.method == "HEAD":
        return response_bytes(200, b"", [("x-echo-id", rid), ("content-length", len(body))],
                              length=False)
    return response_bytes(200, body, [("x-echo-id", rid)])


def misbehave(conn, req):
    """The /hostile answers. False when the connection must end."""
    # The extra bytes go in the same write as the response: they are there
    # as soon as the response is, so a proxy can always see them before it
    # reuses the connection. (Bytes sent later, after the proxy may have
    # handed the connection to another request, cannot be told from that
    # request's response: no proxy can pass that, so it is not tested.)
    poison = response_bytes(200, b"POISON", [("x-echo-id", "POISON")])
    if req.method == "HEAD":
        # A HEAD answered with a body: a whole response, as if pipelined.
        return conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(poison) +
                         poison)
    if req.target.startswith("/hostile/hide"):
        # Its framing header named hop-by-hop: stripped, the body is unframed.
        return conn.send(b"HTTP/1.1 200 OK\r\nConnection: content-length\r\n"
                         b"Content-Length: 6\r\n\r\nhidden")
    # Otherwise: bytes nobody asked for right after the response.
    return conn.send(answer(req) + poison)


def upstream_behaviour(conn):
    for req in conn.each_request(timeout=120):
        if req.target.startswith("/hostile"):
            ok = misbehave(conn, req)
        else:
            ok = conn.send(answer(req))
        if not ok:
            return


# ---------------------------------------------------------------------------
# Hostile clients: each attack on a connection of its own, bounded
# ---------------------------------------------------------------------------

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a\r\nx-request-id: smuggled\r\n\r\n"


def attack_bytes():
    """(name, bytes to send, how many filler bytes to stream after them)."""
    chunked_head = b"POST /attack HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    return [
        ("smuggle-connection-cl", b"POST /attack HTTP/1.1\r\nHost: a\r\n"
         b"Connection: content-length\r\nContent-Length: %d\r\n\r\n%s" % (len(SMUGGLED), SMUGGLED),
         0),
        ("smuggle-connection-close-cl", b"POST /attack HTTP/1.1\r\nHost: a\r\n"
         b"Connection: close, Content-Length\r\nContent-Length: %d\r\n\r\n%s" %
         (len(SMUGGLED), SMUGGLED), 0),
        ("smuggle-connection-host", b"POST /attack HTTP/1.1\r\nHost: a\r\nConnection: host\r\n"
         b"Content-Length: %d\r\n\r\n%s" % (len(SMUGGLED), SMUGGLED), 0),
        ("huge-trailer", chunked_head + b"5\r\nhello\r\n0\r\nx-big: " + b"t" * (70 * KIB) +
         b"\r\n\r\n", 0),
        ("endless-chunk-extension", chunked_head + b"5;", 3 * MIB),
        ("endless-trailer", chunked_head + b"0\r\nx: ", 3 * MIB),
        ("duplicate-host", b"GET /attack HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0),
        ("no-host", b"GET /attack HTTP/1.1\r\n\r\n", 0),
        ("bad-chunk-size", chunked_head + b"zz\r\nhello\r\n0\r\n\r\n", 0),
        ("overflowing-chunk-size", chunked_head + b"fffffffffffffffff\r\nhello\r\n0\r\n\r\n", 0),
        ("huge-header", request_bytes("GET", "/attack", [("x-big", "v" * (100 * KIB))]), 0),
        ("gzip-chunked", b"POST /attack HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked"
         b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0),
        ("pool-poison", request_bytes("GET", "/hostile/extra", [("x-request-id", "h-extra")]), 0),
        ("head-with-body", request_bytes("HEAD", "/hostile/head", [("x-request-id", "h-head")]),
         0),
        ("hidden-length", request_bytes("GET", "/hostile/hide", [("x-request-id", "h-hide")]), 0),
    ]


def run_attack(port, data, filler):
    """Sends one attack and takes what comes back, bounded (about 7 s).
    False when the proxy refused the connection."""
    try:
        c = Client(port, timeout=5)
    except OSError:
        time.sleep(0.05)   # a dead proxy must not make this loop spin
        return False
    try:
        c.send(data)
        if filler:
            stream_out(c.sock, filler, 64 * KIB, stall_seconds=2, deadline_seconds=5)
        # One answer (or the close) is enough; the next attack takes a
        # connection of its own.
        c.read_response(timeout=2)
    except (OSError, ConnectionClosed, BadMessage, socket.timeout):
        pass
    finally:
        c.close()
    return True


# ---------------------------------------------------------------------------
# Good clients
# ---------------------------------------------------------------------------

class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.good_ok = 0
        self.good_errors = 0
        self.error_samples = []
        self.attacks = {}

    def ok(self):
        with self.lock:
            self.good_ok += 1

    def error(self, what):
        with self.lock:
            self.good_errors += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(what)

    def attacked(self, name):
        with self.lock:
            self.attacks[name] = self.attacks.get(name, 0) + 1


def good_client(port, index, until, tally, limit=None):
    """Keep-alive GETs, each with a unique id, until `until` (or `limit`
    requests); every response must carry that id. A broken connection is
    an error and is replaced."""
    c, n = None, 0
    while time.monotonic() < until and (limit is None or n < limit):
        n += 1
        rid = "good-%d-%d-%s" % (index, n, uuid.uuid4().hex[:8])
        try:
            if c is None:
                c = Client(port, timeout=10)
            r = c.request("GET", "/good/%d" % index, [("x-request-id", rid)])
            if r.status != 200 or r.body != rid.encode() or r.header("x-echo-id") != rid:
                tally.error("%s got %s %r x-echo-id=%r" % (rid, r.status, r.body[:60],
                                                           r.header("x-echo-id")))
                c.close()
                c = None
            else:
                tally.ok()
        except (OSError, ConnectionClosed, BadMessage, socket.timeout) as e:
            tally.error("%s: %s" % (rid, repr(e)[:120]))
            if c:
                c.close()
            c = None
            time.sleep(0.05)   # a dead proxy must not make this loop spin
    if c:
        c.close()


def hostile_client(port, index, until, tally):
    attacks = [a for a in attack_bytes() if not ONLY or a[0] in ONLY]
    i = index
    while time.monotonic() < until:
        name, data, filler = attacks[i % len(attacks)]
        i += 1
        tally.attacked(name if run_attack(port, data, filler) else "(refused)")


def run_threads(targets):
    threads = [threading.Thread(target=t, args=a, daemon=True) for t, a in targets]
    for t in threads:
        t.start()
    return threads


class MixedLoadTest(unittest.TestCase):

    def test_good_clients_unharmed_by_hostile_ones(self):
        folder = TempFolder()
        self.addCleanup(folder.cleanup)
        upstream = RawUpstream(upstream_behaviour)
        self.addCleanup(upstream.close)
        mesh = write_mesh(folder.path)
        proxy = Proxy(LANEPROXY, write_bootstrap(folder.path, mesh, upstream.port))
        self.addCleanup(proxy.stop)

        # Warm-up: a few hundred good requests, then the starting RSS.
        warm = Tally()
        for t in run_threads([(good_client, (proxy.port, i, time.monotonic() + 30, warm, 50))
                              for i in range(GOOD_CLIENTS)]):
            t.join(40)
        self.assertEqual(warm.good_errors, 0, "warm-up: %r" % warm.error_samples)
        time.sleep(0.5)
        rss_start = proxy.rss_kib()

        tally = Tally()
        started = time.monotonic()
        until = started + SECONDS
        good = run_threads([(good_client, (proxy.port, i, until, tally))
                            for i in range(GOOD_CLIENTS)])
        hostile = run_threads([(hostile_client, (proxy.port, i, until, tally))
                               for i in range(HOSTILE_CLIENTS)])
        # Every thread is bounded by `until`; an attack by about 10 s more.
        for t in good + hostile:
            t.join(max(1.0, until + 30 - time.monotonic()))
        stuck = sum(t.is_alive() for t in good + hostile)
        time.sleep(2.0)   # the hostile connections have all closed
        rss_end = proxy.rss_kib()
        alive = proxy.alive()
        ready = proxy.ready_status() if alive else 0

        attacks = sum(tally.attacks.values())
        print("\nmixed load: %.0f s, good requests %d ok %d errors, hostile attacks %d (%s), "
              "proxy %s, /ready %d, RSS %d -> %d KiB" % (
                  time.monotonic() - started - 2, tally.good_ok, tally.good_errors, attacks,
                  ", ".join("%s %d" % kv for kv in sorted(tally.attacks.items())),
                  "alive" if alive else proxy.exit_description(), ready, rss_start, rss_end))
        sys.stdout.flush()

        self.assertTrue(alive, "proxy died (%s); its last output:\n%s" %
                        (proxy.exit_description(), proxy.output(last=30)))
        self.assertEqual(ready, 200, "admin /ready")
        self.assertEqual(stuck, 0, "threads still running past their bound")
        self.assertEqual(tally.good_errors, 0, "good requests that went wrong, e.g. %r" %
                         tally.error_samples)
        self.assertGreater(tally.good_ok, 0)
        self.assertGreater(attacks, 0)
        if not binary_is_sanitized(LANEPROXY):
            # The bound: back within 20 % of the start (1 MiB at the
            # least: the start is only a few MiB).
            allowed = max(0.2 * rss_start, 1024)
            self.assertLessEqual(rss_end - rss_start, allowed,
                                 "RSS grew from %d to %d KiB" % (rss_start, rss_end))


def main():
    global LANEPROXY, SECONDS, ONLY
    argv = list(sys.argv)
    path = take_option(argv, "--laneproxy")
    SECONDS = float(take_option(argv, "--seconds", "30"))
    only = take_option(argv, "--attacks")
    if only:
        ONLY = set(only.split(","))
        unknown = ONLY - {a[0] for a in attack_bytes()}
        if unknown:
            sys.stderr.write("unknown attacks: %s\n" % ", ".join(sorted(unknown)))
            return 2
    if not path or SECONDS <= 0:
        sys.stderr.write("usage: %s --laneproxy PATH [--seconds N] [unittest args]\n" % argv[0])
        return 2
    LANEPROXY = os.path.abspath(path)
    program = unittest.main(argv=argv, exit=False)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
