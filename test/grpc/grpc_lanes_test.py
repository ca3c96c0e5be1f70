"""HTTP/2 and gRPC through laneproxy local: the gateway and every sidecar,
lanes included, with real clients (grpcio, curl, h2load) and real apps
(grpcio servers, laneproxy-mock).

  /usr/bin/python3 test/grpc/grpc_lanes_test.py --laneproxy build/bin/laneproxy
"""
import argparse
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LANEPROXY = "build/bin/laneproxy"
BENCH = "build/bin/laneproxy-bench"
CHAIN = re.compile(r"version: (v\d+)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Topology:
    """laneproxy local on a copy of config/swimlane, its Service ports named
    `port_name`, every pod run as `command` (None: laneproxy-mock)."""

    def __init__(self, port_name="http", command=None, route_prefix=None, folder="swimlane",
                 first_rule=None):
        self.dir = tempfile.mkdtemp(prefix="laneproxy-grpc-")
        mesh = os.path.join(self.dir, "mesh")
        shutil.copytree(os.path.join(ROOT, "config", folder), mesh)
        def rewrite(name, old, new, count=-1):
            path = os.path.join(mesh, name)
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace(old, new, count))

        rewrite("services.yaml", "name: http\n", f"name: {port_name}\n")
        if route_prefix:
            rewrite("mock-route.yaml", "exact: /mock", f"prefix: {route_prefix}")
        if first_rule:
            rewrite("mock-route.yaml", "  http:\n", "  http:\n" + first_rule, 1)
        args = [LANEPROXY, "local", mesh]
        if command:
            overlay = os.path.join(self.dir, "overlay.yaml")
            with open(overlay, "w") as f:
                f.write("pods:\n")
                for pod in ("mocka-v1", "mocka-v2", "mockb-v1", "mockb-v2", "mockc-v1", "mockc-v2"):
                    f.write(f"  {pod}:\n    command: [{', '.join(command)}]\n")
            args += ["--overlay", overlay]
        self.port, self.admin = free_port(), free_port()
        base = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}.1"
        args += ["--port", str(self.port), "--admin-port", str(self.admin), "--pod-base", base]
        self.log = open(os.path.join(self.dir, "local.log"), "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            self.log.seek(0)
            if "ready" in self.log.read():
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError("laneproxy local did not get ready")
        self.log.seek(0)
        if "ready" not in self.log.read():
            raise RuntimeError("laneproxy local ended: " + self.text())
        # The apps may still be binding: wait until a call passes.
        self.wait_until_serving()

    def wait_until_serving(self):
        pass

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.log.close()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def identity(b):
    return b


class GrpcTopology(Topology):
    def __init__(self):
        super().__init__("grpc", ["/usr/bin/python3", os.path.join(HERE, "chain_app.py")],
                         "/laneproxy.Chain/")

    def channel(self):
        return grpc.insecure_channel(f"127.0.0.1:{self.port}",
                                     options=[("grpc.enable_http_proxy", 0)])

    def wait_until_serving(self):
        deadline = time.time() + 60
        with self.channel() as ch:
            call = ch.unary_unary("/laneproxy.Chain/Call", identity, identity)
            while time.time() < deadline:
                try:
                    if len(CHAIN.findall(call(b"x", timeout=5).decode())) == 3:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.3)
        text = self.text()
        self.stop()
        raise RuntimeError("the gRPC chain never answered: " + text)


def versions(reply):
    return CHAIN.findall(reply)


class GrpcLanesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mesh = GrpcTopology()

    @classmethod
    def tearDownClass(cls):
        cls.mesh.stop()

    def test_unary_calls_split_50_50_and_stay_in_their_lane(self):
        counts = {"v1": 0, "v2": 0}
        with self.mesh.channel() as ch:
            call = ch.unary_unary("/laneproxy.Chain/Call", identity, identity)
            for i in range(200):
                reply = call(b"hi", metadata=[("x-request-id", f"unary-{i}")], timeout=10).decode()
                chain = versions(reply)
                self.assertEqual(len(chain), 3, reply)
                self.assertEqual(len(set(chain)), 1, f"lanes mixed: {reply}")
                counts[chain[0]] += 1
        # 200 draws at 50:50: outside 60..140 one time in 10^8.
        self.assertTrue(60 <= counts["v1"] <= 140, counts)

    def test_bidirectional_streams_stay_in_their_lane(self):
        seen = set()
        with self.mesh.channel() as ch:
            stream = ch.stream_stream("/laneproxy.Chain/Stream", identity, identity)
            for n in range(8):
                messages = [f"m{i}".encode() for i in range(10)]
                replies = [r.decode() for r in stream(iter(messages), timeout=30,
                                                      metadata=[("x-request-id", f"bidi-{n}")])]
                self.assertEqual(len(replies), 10)
                lanes = {v for r in replies for v in versions(r)}
                self.assertEqual(len(lanes), 1, replies)
                for i, r in enumerate(replies):
                    self.assertTrue(r.endswith(f"m{i}"), r)
                    self.assertEqual(len(versions(r)), 3, r)
                seen |= lanes
        self.assertTrue(seen <= {"v1", "v2"})

    def test_an_http1_client_reaches_grpc_apps_with_trailers(self):
        # A gRPC request over HTTP/1.1 (chunked, trailers) to the gateway: the
        # gateway and sidecars speak HTTP/2 to the gRPC apps and bring the
        # trailers back on the last chunk.
        message = b"hello"
        body = b"\0" + struct.pack(">I", len(message)) + message
        with socket.create_connection(("127.0.0.1", self.mesh.port), timeout=10) as s:
            s.sendall(b"POST /laneproxy.Chain/Call HTTP/1.1\r\nHost: mock.example\r\n"
                      b"content-type: application/grpc\r\nte: trailers\r\n"
                      b"x-request-id: h1-client\r\n"
                      b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            data = b""
            while not data.endswith(b"\r\n\r\n") or b"grpc-status" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0])
        self.assertIn(b"transfer-encoding: chunked", head.lower())
        self.assertIn(b"grpc-status: 0", rest)
        self.assertEqual(len(versions(rest.decode(errors="replace"))), 3, rest)

    def test_grpc_timeout_bounds_the_call_at_the_proxy(self):
        # Sent over HTTP/1.1 so that no client deadline interferes. The app
        # takes 30 s; the deadline travels on with the call, so whichever of
        # the proxies (UNAVAILABLE, "upstream request timeout") and the app
        # (DEADLINE_EXCEEDED) sees it pass first ends it.
        body = b"\0\0\0\0\0"
        started = time.time()
        with socket.create_connection(("127.0.0.1", self.mesh.port), timeout=25) as s:
            s.sendall(b"POST /laneproxy.Chain/Slow HTTP/1.1\r\nHost: mock.example\r\n"
                      b"content-type: application/grpc\r\nte: trailers\r\ngrpc-timeout: 300m\r\n"
                      b"content-length: 5\r\n\r\n" + body)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertLess(time.time() - started, 20)
        self.assertRegex(data, rb"grpc-status: (4|14)\r\n")

    def test_local_replies_are_grpc_errors_and_metrics_say_grpc(self):
        # No route for this path at the gateway: NR, as gRPC's UNIMPLEMENTED.
        with self.mesh.channel() as ch:
            call = ch.unary_unary("/other.Service/Call", identity, identity)
            with self.assertRaises(grpc.RpcError) as e:
                call(b"x", timeout=10)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        import urllib.request
        text = urllib.request.urlopen(
            f"http://127.0.0.1:{self.mesh.admin}/stats/prometheus", timeout=10).read().decode()
        ok = [l for l in text.splitlines() if l.startswith("istio_requests_total")
              and 'request_protocol="grpc"' in l and 'grpc_response_status="0"' in l]
        self.assertTrue(ok, text[:2000])


class Http2ClientsTest(unittest.TestCase):
    """HTTP/2 clients against HTTP/1.1 apps (laneproxy-mock)."""

    @classmethod
    def setUpClass(cls):
        cls.mesh = Topology()
        url = f"http://127.0.0.1:{cls.mesh.port}/mock"
        deadline = time.time() + 30
        while time.time() < deadline:
            r = subprocess.run(["curl", "-s", "-m", "5", url], capture_output=True, text=True)
            if len(versions(r.stdout)) == 3:
                break
            time.sleep(0.3)

    @classmethod
    def tearDownClass(cls):
        cls.mesh.stop()

    def test_curl_with_prior_knowledge_stays_in_its_lane(self):
        url = f"http://127.0.0.1:{self.mesh.port}/mock"
        counts = {"v1": 0, "v2": 0}
        for i in range(40):
            r = subprocess.run(["curl", "-s", "-m", "10", "--http2-prior-knowledge", "-w",
                                "\n%{http_version}", "-H", f"x-request-id: c-{i}", url],
                               capture_output=True, text=True, check=True)
            body, _, version = r.stdout.rpartition("\n")
            self.assertEqual(version, "2")
            chain = versions(body)
            self.assertEqual(len(chain), 3, body)
            self.assertEqual(len(set(chain)), 1, body)
            counts[chain[0]] += 1
        self.assertTrue(counts["v1"] > 0 and counts["v2"] > 0, counts)

    def test_curl_upgrades_from_http1_with_h2c(self):
        r = subprocess.run(["curl", "-sv", "-m", "10", "--http2", "-w", "\n%{http_version}",
                            f"http://127.0.0.1:{self.mesh.port}/mock"], capture_output=True,
                           text=True, check=True)
        self.assertIn("101 Switching Protocols", r.stderr)
        body, _, version = r.stdout.rpartition("\n")
        self.assertEqual(version, "2")
        self.assertEqual(len(set(versions(body))), 1, body)
        self.assertEqual(len(versions(body)), 3, body)

    def test_curl_posts_a_body_over_http2(self):
        url = f"http://127.0.0.1:{self.mesh.port}/mock"
        body = os.path.join(self.mesh.dir, "body")
        with open(body, "w") as f:
            f.write("x" * 200000)  # past every flow-control window
        r = subprocess.run(["curl", "-s", "-m", "10", "--http2-prior-knowledge",
                            "--data-binary", "@" + body, url], capture_output=True, text=True)
        self.assertEqual(len(versions(r.stdout)), 3, r.stdout[:500])

    def test_the_bench_tool_over_http2_sees_the_split(self):
        r = subprocess.run([BENCH, f"http://127.0.0.1:{self.mesh.port}/mock", "--h2", "-n", "400",
                            "-c", "4", "--expect", "v1=50,v2=50", "--json"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        result = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(result["isolation_violations"], 0, result)
        self.assertEqual(sum(result["lanes"].values()), 400, result)

    def test_h2load_many_streams_per_connection(self):
        url = f"http://127.0.0.1:{self.mesh.port}/mock"
        r = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "20", url],
                           capture_output=True, text=True, timeout=120)
        self.assertIn("2000 succeeded, 0 failed", r.stdout, r.stdout)
        self.assertIn("status codes: 2000 2xx", r.stdout, r.stdout)


class H2WebSockets:
    """WebSockets over one HTTP/2 connection by extended CONNECT (RFC 8441):
    python3-h2 for the connection, wsproto for the WebSocket frames."""

    def __init__(self, port):
        import h2.config
        import h2.connection
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.streams = {}  # id -> {"status", "ws", "messages", "ended"}
        self.settings = {}

    def flush(self):
        self.sock.sendall(self.conn.data_to_send())

    def pump(self, until, seconds=30):
        import h2.events
        deadline = time.time() + seconds
        while not until():
            if time.time() > deadline:
                raise AssertionError("no answer in time")
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("the proxy closed the connection")
            for e in self.conn.receive_data(data):
                st = self.streams.get(getattr(e, "stream_id", None))
                if isinstance(e, h2.events.RemoteSettingsChanged):
                    self.settings.update({k: v.new_value for k, v in e.changed_settings.items()})
                elif isinstance(e, h2.events.ResponseReceived):
                    st["status"] = dict(e.headers)[b":status"].decode()
                elif isinstance(e, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                    if e.data:  # (an END_STREAM may come on an empty DATA frame)
                        st["ws"].receive_data(e.data)
                        self.take_messages(st)
                elif isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)):
                    st["ended"] = True
            self.flush()

    @staticmethod
    def take_messages(st):
        from wsproto.events import CloseConnection, TextMessage
        for ev in st["ws"].events():
            if isinstance(ev, TextMessage):
                st["messages"].append(ev.data)
            elif isinstance(ev, CloseConnection):
                st["closed"] = ev.code

    def open(self, request_id, protocol="websocket"):
        from wsproto.connection import Connection, ConnectionType
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "CONNECT"), (":protocol", protocol),
                                     (":scheme", "http"), (":path", "/ws"),
                                     (":authority", f"127.0.0.1:{self.port}"),
                                     ("sec-websocket-version", "13"),
                                     ("x-request-id", request_id)])
        self.flush()
        self.streams[sid] = {"status": None, "ws": Connection(ConnectionType.CLIENT),
                             "messages": [], "ended": False, "closed": None}
        self.pump(lambda: self.streams[sid]["status"] or self.streams[sid]["ended"])
        return sid

    def send(self, sid, text):
        from wsproto.events import TextMessage
        self.conn.send_data(sid, self.streams[sid]["ws"].send(TextMessage(data=text)))
        self.flush()

    def close(self, sid):
        from wsproto.events import CloseConnection
        self.conn.send_data(sid, self.streams[sid]["ws"].send(CloseConnection(code=1000)),
                            end_stream=True)
        self.flush()
        self.pump(lambda: self.streams[sid]["ended"])


class WebSocketLanesTest(unittest.TestCase):
    """WebSockets through the gateway and every sidecar, each hop's app
    opening its own to the next."""

    @classmethod
    def setUpClass(cls):
        cls.mesh = Topology("http", ["/usr/bin/python3", os.path.join(HERE, "ws_chain_app.py")],
                            "/")

    @classmethod
    def tearDownClass(cls):
        cls.mesh.stop()

    def chat(self, messages, gap, request_id):
        import asyncio
        import websockets

        async def run():
            replies = []
            deadline = time.time() + 60
            while True:  # the apps may still be binding
                try:
                    ws = await websockets.connect(f"ws://127.0.0.1:{self.mesh.port}/ws",
                                                  extra_headers=[("x-request-id", request_id)])
                    break
                except (OSError, websockets.exceptions.InvalidStatusCode):
                    if time.time() > deadline:
                        raise
                    await asyncio.sleep(0.3)
            try:
                for m in messages:
                    await ws.send(m)
                    replies.append(await asyncio.wait_for(ws.recv(), 30))
                    await asyncio.sleep(gap)
            finally:
                await ws.close()
            return replies

        return asyncio.run(run())

    def test_a_minute_of_messages_stays_in_one_lane(self):
        # Twelve messages five seconds apart: a minute on one upgraded
        # connection per hop, within every idle timeout.
        messages = [f"m{i}" for i in range(12)]
        replies = self.chat(messages, 5, "ws-long")
        self.assertEqual(len(replies), 12)
        lanes = {v for r in replies for v in versions(r)}
        self.assertEqual(len(lanes), 1, replies)
        for m, r in zip(messages, replies):
            self.assertEqual(len(versions(r)), 3, r)
            self.assertTrue(r.endswith(" " + m), r)

    def test_upgrades_count_as_relayed_connections(self):
        import urllib.request
        self.chat(["hi"], 0, "ws-tcp")
        deadline = time.time() + 20
        while True:  # the close is counted as the relay ends
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.mesh.admin}/stats/prometheus", timeout=10) as r:
                text = r.read().decode()

            def total(name):
                return sum(float(m) for m in re.findall(
                    name + r'\{[^}]*request_protocol="tcp"[^}]*\} ([0-9.e+]+)', text))
            if total("istio_tcp_connections_closed_total") >= 1 or time.time() > deadline:
                break
            time.sleep(0.3)
        self.assertGreaterEqual(total("istio_tcp_connections_opened_total"), 1, text)
        self.assertGreaterEqual(total("istio_tcp_connections_closed_total"), 1, text)
        self.assertGreater(total("istio_tcp_received_bytes_total"), 0)
        self.assertGreater(total("istio_tcp_sent_bytes_total"), 0)
        self.assertIn('destination_workload="mocka-v', text)

    def test_handshakes_split_across_lanes(self):
        seen = set()
        for i in range(16):
            replies = self.chat(["hi"], 0, f"ws-{i}")
            chain = versions(replies[0])
            self.assertEqual(len(set(chain)), 1, replies)
            seen.add(chain[0])
        self.assertEqual(seen, {"v1", "v2"})


    def test_http2_clients_open_websockets_by_extended_connect(self):
        client = H2WebSockets(self.mesh.port)
        client.pump(lambda: 8 in client.settings)
        self.assertEqual(client.settings[8], 1)  # SETTINGS_ENABLE_CONNECT_PROTOCOL
        deadline = time.time() + 60
        while True:  # the apps may still be binding
            sid = client.open("h2ws-probe")
            if client.streams[sid]["status"] == "200" or time.time() > deadline:
                break
            time.sleep(0.3)
        self.assertEqual(client.streams[sid]["status"], "200")
        # Sixteen tunnels on the one connection, each its own lane's chain.
        tunnels = [client.open(f"h2ws-{i}") for i in range(16)]
        for sid in tunnels:
            self.assertEqual(client.streams[sid]["status"], "200")
            client.send(sid, "hello")
        client.pump(lambda: all(client.streams[t]["messages"] for t in tunnels))
        seen = set()
        for sid in tunnels:
            (reply,) = client.streams[sid]["messages"]
            chain = versions(reply)
            self.assertEqual(len(chain), 3, reply)
            self.assertEqual(len(set(chain)), 1, reply)
            self.assertTrue(reply.endswith(" hello"), reply)
            seen.add(chain[0])
        self.assertEqual(seen, {"v1", "v2"})
        # A second message on the same tunnel stays in its lane, and a
        # close handshake ends the stream both ways.
        first = tunnels[0]
        client.send(first, "again")
        client.pump(lambda: len(client.streams[first]["messages"]) == 2)
        self.assertEqual(versions(client.streams[first]["messages"][1]),
                         versions(client.streams[first]["messages"][0]))
        client.close(first)
        self.assertEqual(client.streams[first]["closed"], 1000)
        # Another protocol is not served; the connection is.
        sid = client.open("h2-udp", protocol="connect-udp")
        self.assertEqual(client.streams[sid]["status"], "501")
        sid = client.open("h2ws-after")
        self.assertEqual(client.streams[sid]["status"], "200")
        client.sock.close()


class MockGrpcChainTest(unittest.TestCase):
    """config/swimlane-grpc with the built-in laneproxy-mock answering gRPC,
    driven by laneproxy-bench --grpc."""

    @classmethod
    def setUpClass(cls):
        cls.mesh = Topology("grpc", folder="swimlane-grpc")

    @classmethod
    def tearDownClass(cls):
        cls.mesh.stop()

    def test_grpc_calls_split_50_50_and_stay_in_their_lane(self):
        url = f"http://127.0.0.1:{self.mesh.port}/laneproxy.Chain/Call"
        deadline = time.time() + 30
        while True:  # the pods may still be binding
            r = subprocess.run([BENCH, url, "--grpc", "-n", "1", "-c", "1", "--json"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.3)
        r = subprocess.run([BENCH, url, "--grpc", "-n", "600", "-c", "6", "--expect",
                            "v1=50,v2=50", "--json"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        result = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(result["isolation_violations"], 0, result)
        self.assertEqual(result["lanes"].get("v1", 0) + result["lanes"].get("v2", 0), 600, result)


# Hand-made HTTP/2 frames for the hostile cases.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) \
        + payload


def literal(name, value):
    # HPACK literal without indexing, new name, lengths under 127.
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def request_block(path=b"/mock", method=b"GET"):
    return (literal(b":method", method) + literal(b":scheme", b"http") +
            literal(b":path", path) + literal(b":authority", b"mock.example"))


def read_frames(sock, seconds=5):
    """Frames the server sent until it closed or `seconds` passed."""
    sock.settimeout(seconds)
    data = b""
    end = time.time() + seconds
    while time.time() < end:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    frames = []
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        frames.append((data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7fffffff,
                       data[9:9 + n]))
        data = data[9 + n:]
    return frames


# A route that holds each request 5 s before forwarding it (its body unread).
HELD = """  - match:
    - uri:
        prefix: /held
    fault:
      delay:
        fixedDelay: 5s
        percentage: {value: 100}
    route:
    - destination:
        host: mocka.default.svc.cluster.local
        subset: v1
"""


class Http2HostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mesh = Topology(first_rule=HELD)

    @classmethod
    def tearDownClass(cls):
        cls.mesh.stop()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.mesh.port), timeout=10)
        s.sendall(PREFACE + frame(4, 0, 0))
        return s

    def assert_alive(self):
        r = subprocess.run(["curl", "-s", "-m", "10", "--http2-prior-knowledge",
                            f"http://127.0.0.1:{self.mesh.port}/mock"], capture_output=True,
                           text=True)
        self.assertEqual(len(versions(r.stdout)), 3, r.stdout)

    def test_garbage_after_the_preface_gets_a_goaway(self):
        with self.connect() as s:
            s.sendall(b"\xff" * 64)
            kinds = [f[0] for f in read_frames(s)]
        self.assertIn(7, kinds)  # GOAWAY
        self.assert_alive()

    def test_a_header_block_over_the_limit_resets_the_stream(self):
        with self.connect() as s:
            big = b""
            for i in range(2000):  # 2000 fields of ~60 bytes: over 60 KiB decoded
                big += literal(b"x-filler-%04d" % i, b"v" * 40)
            block = request_block() + big
            first, rest = block[:16000], block[16000:]
            s.sendall(frame(1, 0x1, 1, first))  # HEADERS, END_STREAM, no END_HEADERS
            while rest:
                piece, rest = rest[:16000], rest[16000:]
                s.sendall(frame(9, 0x4 if not rest else 0, 1, piece))
            frames = read_frames(s, 3)
        resets = [f for f in frames if f[0] == 3 and f[2] == 1]
        goaways = [f for f in frames if f[0] == 7]
        answered = [f for f in frames if f[0] == 1 and f[2] == 1]
        self.assertTrue(resets or goaways, frames)
        self.assertFalse(answered)
        self.assert_alive()

    def test_too_many_streams_are_refused(self):
        with self.connect() as s:
            out = b""
            for i in range(300):  # no END_STREAM: every stream stays open
                out += frame(1, 0x4, 1 + 2 * i, request_block())
            s.sendall(out)
            frames = read_frames(s, 3)
        refused = [f for f in frames if f[0] == 3 and f[3] == struct.pack(">I", 7)]
        goaways = [f for f in frames if f[0] == 7]
        self.assertTrue(len(refused) >= 150 or goaways, [f[:3] for f in frames][:20])
        self.assert_alive()

    def test_data_past_the_window_is_a_flow_control_error(self):
        # The route holds the request, so its body is not read: DATA is
        # credited back only as far as the bridge took it, and a client
        # that sends on regardless overruns its window.
        with self.connect() as s:
            s.sendall(frame(1, 0x4, 1, request_block(b"/held", b"POST")))
            chunk = b"z" * 16384
            try:
                for _ in range(400):  # 6.5 MB, far past what the window and the bridge hold
                    s.sendall(frame(0, 0, 1, chunk))
            except (BrokenPipeError, ConnectionResetError):
                pass
            frames = read_frames(s, 3)
        flow = struct.pack(">I", 3)  # FLOW_CONTROL_ERROR
        errors = [f for f in frames if (f[0] == 7 and f[3][4:8] == flow) or
                  (f[0] == 3 and f[3] == flow)]
        self.assertTrue(errors, [f[:3] for f in frames][:20])
        self.assert_alive()

    def test_a_stream_reset_mid_body_leaves_the_connection_serving(self):
        with self.connect() as s:
            s.sendall(frame(1, 0x4, 1, request_block(method=b"POST")))
            s.sendall(frame(0, 0, 1, b"partial body"))
            s.sendall(frame(3, 0, 1, struct.pack(">I", 8)))  # RST_STREAM CANCEL
            s.sendall(frame(1, 0x5, 3, request_block()))
            frames = read_frames(s, 3)
        self.assertTrue([f for f in frames if f[0] == 1 and f[2] == 3], [f[:3] for f in frames])
        self.assert_alive()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--laneproxy", default=LANEPROXY)
    args, rest = parser.parse_known_args()
    LANEPROXY = os.path.abspath(args.laneproxy)
    BENCH = os.path.join(os.path.dirname(LANEPROXY), "laneproxy-bench")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
