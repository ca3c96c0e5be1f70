"""What Kiali and Istio's dashboards ask Prometheus, answered for laneproxy.

Runs `laneproxy local` on the guide's topology (gateway -> mocka -> mockb ->
mockc, two lanes), has a real Prometheus (Debian's) scrape the gateway and
every sidecar, sends traffic, and runs the queries those tools run: Kiali's
namespace graph (request rates grouped by the canonical and workload
labels) and the "by source" panels of Istio's service and workload
dashboards. The edges must be the chain's, per version, with the right
sources, and no caller inside the mesh may be `unknown`.

  /usr/bin/python3 test/metrics/kiali_test.py --laneproxy build/bin/laneproxy
"""
import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LANEPROXY = "build/bin/laneproxy"
PROMETHEUS = "/usr/bin/prometheus"
FORGED = "workload=evil;namespace=default;app=evil;version=v9;service=evil;revision=v9;cluster=x"

# Kiali's namespace graph: the destination reporter's request rate, by
# every label an edge is drawn from.
KIALI_GRAPH = (
    'sum(rate(istio_requests_total{reporter="destination",destination_service_namespace="default"}'
    '[30s])) by (source_cluster,source_workload_namespace,source_workload,source_canonical_service,'
    'source_canonical_revision,destination_cluster,destination_service_namespace,'
    'destination_service,destination_service_name,destination_workload_namespace,'
    'destination_workload,destination_canonical_service,destination_canonical_revision,'
    'request_protocol,response_code,grpc_response_status,response_flags) > 0')
# Istio's service dashboard, "incoming requests by source".
SERVICE_BY_SOURCE = (
    'round(sum(irate(istio_requests_total{reporter=~"destination",connection_security_policy!='
    '"mutual_tls",destination_service=~"mockb.default.svc.cluster.local"}[30s])) by '
    '(source_workload, source_workload_namespace, response_code), 0.001)')
# Istio's workload dashboard, "incoming requests by source".
WORKLOAD_BY_SOURCE = (
    'round(sum(irate(istio_requests_total{reporter=~"destination",destination_workload_namespace='
    '~"default",destination_workload=~"mockc-v2"}[30s])) by (source_workload, '
    'source_workload_namespace, response_code), 0.001)')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, log, folder):
    """Ends `proc` (killed if it takes over 20 s), closes its log and
    removes its folder."""
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.rmtree(folder, ignore_errors=True)


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


class Mesh:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="laneproxy-kiali-")
        mesh = self.mesh_dir = os.path.join(self.dir, "mesh")
        shutil.copytree(os.path.join(ROOT, "config", "swimlane"), mesh)
        self.port, self.admin = free_port(), free_port()
        base = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}.1"
        self.log = open(os.path.join(self.dir, "local.log"), "w+")
        self.proc = subprocess.Popen(
            [LANEPROXY, "local", mesh, "--port", str(self.port), "--admin-port", str(self.admin),
             "--pod-base", base], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while "ready" not in self.text():
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("laneproxy local did not get ready: " + self.text())
            time.sleep(0.2)
        # "  mocka-v1  v1    127.x.y.z:8000": each pod's sidecar admin is on 15000.
        self.pods = re.findall(r"^  (mock\w+-v\d)\s+\S+\s+([0-9.]+):\d+$", self.text(), re.M)

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def request(self, i):
        # A client's claim to be a mesh workload is never believed.
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/mock",
                                     headers={"x-request-id": f"kiali-{i}",
                                              "x-laneproxy-peer": FORGED})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except OSError:
            return 0

    def stop(self):
        stop_process(self.proc, self.log, self.dir)


class Prometheus:
    def __init__(self, targets):
        self.dir = tempfile.mkdtemp(prefix="laneproxy-prom-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                    "scrape_configs:\n- job_name: laneproxy\n  metrics_path: /stats/prometheus\n"
                    f"  static_configs: [{{targets: {json.dumps(targets)}}}]\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w+")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                get(f"http://127.0.0.1:{self.port}/-/ready", 2)
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.log.seek(0)
                    raise RuntimeError("prometheus did not start: " + self.log.read())
                time.sleep(0.3)

    def query(self, q, nonzero=False):
        """The label sets of `q`'s result (with `nonzero`, of its samples
        above 0 only)."""
        body = get(f"http://127.0.0.1:{self.port}/api/v1/query?" +
                   urllib.parse.urlencode({"query": q}))
        return [r["metric"] for r in json.loads(body)["data"]["result"]
                if not nonzero or float(r["value"][1]) > 0]

    def up(self):
        return {r["instance"] for r in self.query("up == 1")}

    def stop(self):
        stop_process(self.proc, self.log, self.dir)


class KialiQueriesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mesh = Mesh()
        targets = [f"127.0.0.1:{cls.mesh.admin}"] + [f"{ip}:15000" for _, ip in cls.mesh.pods]
        cls.prom = Prometheus(targets)
        cls.targets = set(targets)

    @classmethod
    def tearDownClass(cls):
        cls.prom.stop()
        cls.mesh.stop()

    def traffic_until(self, query, done, seconds=60, nonzero=False):
        """Sends requests (a bounded number, 20 per round) while asking
        Prometheus `query`, until `done(result)`; the last result."""
        deadline = time.time() + seconds
        i = 0
        while True:
            for _ in range(20):
                self.mesh.request(i)
                i += 1
            result = self.prom.query(query, nonzero)
            if done(result) or time.time() > deadline:
                return result
            time.sleep(0.5)

    def test_every_proxy_is_scraped(self):
        self.assertEqual(len(self.mesh.pods), 6, self.mesh.text())
        deadline = time.time() + 30
        while self.prom.up() != self.targets and time.time() < deadline:
            time.sleep(0.5)
        self.assertEqual(self.prom.up(), self.targets)

    def test_kialis_graph_has_the_chain_per_version(self):
        want = {("istio-ingressgateway", "istio-ingressgateway", "latest", "mocka-v1", "mocka", "v1"),
                ("istio-ingressgateway", "istio-ingressgateway", "latest", "mocka-v2", "mocka", "v2")}
        for v in ("v1", "v2"):
            want.add((f"mocka-{v}", "mocka", v, f"mockb-{v}", "mockb", v))
            want.add((f"mockb-{v}", "mockb", v, f"mockc-{v}", "mockc", v))

        def edges(result):
            return {(m["source_workload"], m["source_canonical_service"],
                     m["source_canonical_revision"], m["destination_workload"],
                     m["destination_canonical_service"], m["destination_canonical_revision"])
                    for m in result}

        result = self.traffic_until(KIALI_GRAPH, lambda r: edges(r) >= want)
        self.assertEqual(edges(result), want, result)
        for m in result:
            self.assertNotEqual(m["source_workload_namespace"], "unknown", m)
            self.assertEqual(m["source_cluster"], "Kubernetes", m)
            self.assertEqual(m["destination_cluster"], "Kubernetes", m)
            self.assertEqual(m["request_protocol"], "http", m)
            self.assertEqual(m["response_code"], "200", m)
        self.assertFalse(self.prom.query('istio_requests_total{source_workload="evil"}'))
        gateway = [m for m in result if m["source_workload"] == "istio-ingressgateway"]
        self.assertTrue(all(m["source_workload_namespace"] == "istio-system" for m in gateway))

    def test_the_service_dashboards_sources(self):
        want = {("mocka-v1", "default", "200"), ("mocka-v2", "default", "200")}

        def sources(result):
            return {(m["source_workload"], m["source_workload_namespace"], m["response_code"])
                    for m in result}

        result = self.traffic_until(SERVICE_BY_SOURCE, lambda r: sources(r) >= want, nonzero=True)
        self.assertEqual(sources(result), want, result)
        # The panels also list each source's errors, at 0 until one comes.
        codes = {m["response_code"] for m in self.prom.query(SERVICE_BY_SOURCE)}
        self.assertEqual(codes, {"200", "500", "502", "503", "504"})

    def test_the_workload_dashboards_sources(self):
        want = {("mockb-v2", "default", "200")}
        result = self.traffic_until(
            WORKLOAD_BY_SOURCE,
            lambda r: {(m["source_workload"], m["source_workload_namespace"], m["response_code"])
                       for m in r} >= want, nonzero=True)
        self.assertEqual({(m["source_workload"], m["source_workload_namespace"], m["response_code"])
                          for m in result}, want, result)

    def test_error_series_exist_before_any_error(self):
        self.traffic_until(KIALI_GRAPH, lambda r: len(r) > 0)
        deadline = time.time() + 30
        while True:
            zero = self.prom.query('istio_requests_total{reporter="destination",'
                                   'destination_workload="mockc-v1",response_code="503"}')
            if zero or time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertTrue(zero)
        self.assertTrue(all(m["source_workload"] == "mockb-v1" for m in zero), zero)
        self.assertTrue(self.prom.query("istio_build{component=\"proxy\"} == 1"))


class PeerStampTest(unittest.TestCase):
    """A topology of its own: the unknown callers made here must not show
    up in the dashboards' queries above."""

    @classmethod
    def setUpClass(cls):
        cls.mesh = Mesh()

    @classmethod
    def tearDownClass(cls):
        cls.mesh.stop()

    def test_an_inbound_listener_believes_only_the_meshs_own_stamps(self):
        # Straight to mockc-v1's inbound listener, as a peer outside the
        # mesh could: a made-up workload, and a real one with a lie in it.
        ip = dict(self.mesh.pods)["mockc-v1"]
        lie = ("workload=mockb-v1;namespace=default;app=mockb;version=v9;service=mockb;"
               "revision=v9;cluster=Kubernetes")
        for i, stamp in enumerate([FORGED, lie, lie.replace("mockb-v1", "mockb%2Dv1")] * 5):
            req = urllib.request.Request(f"http://{ip}:15006/mock",
                                         headers={"Host": "mockc", "x-laneproxy-peer": stamp,
                                                  "x-request-id": f"stamp-{i}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                self.assertEqual(r.status, 200)
        text = get(f"http://{ip}:15000/stats/prometheus")
        inbound = [line for line in text.splitlines()
                   if line.startswith("istio_requests_total{") and 'reporter="destination"' in line
                   and 'response_code="200"' in line]
        self.assertFalse([line for line in inbound if "evil" in line or '"v9"' in line], inbound)
        unknown = [line for line in inbound if 'source_workload="unknown"' in line]
        self.assertEqual(len(unknown), 1, inbound)
        self.assertGreaterEqual(float(unknown[0].rsplit(" ", 1)[1]), 15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--laneproxy", default=LANEPROXY)
    args, rest = parser.parse_known_args()
    LANEPROXY = os.path.abspath(args.laneproxy)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
