"""The base of the hostile-peer test cases: each test starts its own proxy
(one worker) in front of a scripted raw upstream, attacks it, and checks
what the client got, what the upstream received, and that the proxy is
still alive and ready.

hostile_test.py sets HostileCase.laneproxy from --laneproxy and runs the
cases of the hostile_*_test.py files.
"""

import socket
import time
import unittest

from client import Client, ConnectionClosed
from http_messages import BadMessage
from proxy import ALL_TO_ECHO, Proxy, TempFolder, binary_is_sanitized, write_bootstrap, write_mesh
from upstream import RawUpstream, serve_tagged

KIB = 1024
MIB = 1024 * 1024


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

    laneproxy = None   # the binary under test, set from --laneproxy

    def start(self, behaviour=serve_tagged, timeouts=None, limits=None, rules=ALL_TO_ECHO,
              sockbuf=None):
        folder = TempFolder()
        self.addCleanup(folder.cleanup)
        self.upstream = RawUpstream(behaviour, sockbuf=sockbuf)
        self.addCleanup(self.upstream.close)
        mesh = write_mesh(folder.path, rules)
        boot = write_bootstrap(folder.path, mesh, self.upstream.port, timeouts, limits)
        self.proxy = Proxy(self.laneproxy, boot)
        self.addCleanup(self.proxy.stop)
        return self.proxy

    def client(self, timeout=10.0, sockbuf=None, port=None):
        c = Client(port or self.proxy.port, timeout=timeout, sockbuf=sockbuf)
        self.addCleanup(c.close)
        return c

    @property
    def sanitized(self):
        return binary_is_sanitized(self.laneproxy)

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
