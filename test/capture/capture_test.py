#!/ usr / bin / env python3
"""Transparent capture in network namespaces the test creates.

Pods are namespaces on one bridge (198.18.0.0/24): mocka-v2, mockb-v1,
mockb-v2, and a server outside the mesh. Each pod runs the sample app on
its own loopback, a laneproxy sidecar as uid 1337, and `laneproxy capture
install`. The apps know nothing of proxies: mocka calls http://mockb:8000/
(the Service's ClusterIP, 198.18.1.2, from the pod's hosts file) and the
chain must stay in mocka's lane. A call to the outside server is refused
under REGISTRY_ONLY (HTTP 502 on a mesh port, the connection closed on
another) and reaches it under ALLOW_ANY, as Istio's sidecar does.

Needs root (namespaces, iptables), as CI runs.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

LANEPROXY = None
MOCK = None
SWIMLANE = os.path.join(os.path.dirname(__file__), "..", "..", "config", "swimlane")
TAG = "lpc%d" % (os.getpid() % 100000)
HUB_IP = "198.18.0.1"
PODS = {  # name: (ip, app, version)
    "a2": ("198.18.0.2", "mocka", "v2"),
    "b1": ("198.18.0.3", "mockb", "v1"),
    "b2": ("198.18.0.4", "mockb", "v2"),
}
EXTERNAL_IP = "198.18.0.100"
MOCKB_CLUSTER_IP = "198.18.1.2"


def sh(*args, check=True, timeout=30, ns=None, **kw):
    argv = list(args)
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    return subprocess.run(argv, check=check, timeout=timeout, capture_output=True, text=True, **kw)


def wait_line(path, needle, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            if needle in f.read():
                return True
        time.sleep(0.05)
    return False


class Topology:
    """The hub (a bridge, and the test's client at 198.18.0.1) and the pods."""

    def __init__(self, work):
        self.work = work
        self.procs = []
        self.namespaces = []
        self.hub = TAG + "-hub"
        self.add_ns(self.hub)
        sh("ip", "link", "add", "br0", "type", "bridge", ns=self.hub)
        sh("ip", "addr", "add", HUB_IP + "/24", "dev", "br0", ns=self.hub)
        sh("ip", "link", "set", "br0", "up", ns=self.hub)
        for i, (name, ip) in enumerate([(n, p[0]) for n, p in PODS.items()] + [("ext", EXTERNAL_IP)]):
            self.add_pod(TAG + "-" + name, ip, i)

    def add_ns(self, ns):
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)

    def add_pod(self, ns, ip, i):
        self.add_ns(ns)
        outer, inner = "%sh%d" % (TAG, i), "%sp%d" % (TAG, i)
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", outer, "netns", self.hub)
        sh("ip", "link", "set", inner, "netns", ns)
        sh("ip", "link", "set", outer, "master", "br0", ns=self.hub)
        sh("ip", "link", "set", outer, "up", ns=self.hub)
        sh("ip", "addr", "add", ip + "/24", "dev", inner, ns=ns)
        sh("ip", "link", "set", inner, "up", ns=ns)
#ClusterIPs are nowhere : a route must exist for the NAT to apply.
        sh("ip", "route", "add", "default", "via", HUB_IP, ns=ns)

    def start(self, name, argv, ns, env=None, uid=None):
        log = os.path.join(self.work, name + ".log")
        if uid is not None:
            argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"] + argv
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        full_env.update(env or {})
        with open(log, "w") as out:
            p = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=out,
                                 stderr=subprocess.STDOUT, env=full_env)
        self.procs.append(p)
        return log

    def close(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree("/etc/netns/" + ns, ignore_errors=True)


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def sidecar_bootstrap(workload, policy):
    return """mesh: mesh
admin: 127.0.0.1:15000
sidecar:
  workload: %s
  inbound: 0.0.0.0:15006
  app: 127.0.0.1:8000
  outbound: 127.0.0.1:15001
outboundTrafficPolicy: {mode: %s}
watch: {debounce: 20ms, poll: 200ms}
endpoints:
  mocka:
    v2: [198.18.0.2:8000]
  mockb:
    v1: [198.18.0.3:8000]
    v2: [198.18.0.4:8000]
""" % (workload, policy)


class CaptureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="laneproxy-capture-")
        os.chmod(cls.work, 0o755)  # the sidecars run as uid 1337
        mesh = os.path.join(cls.work, "mesh")
        shutil.copytree(SWIMLANE, mesh)
        with open(os.path.join(mesh, "services.yaml")) as f:
            services = f.read()
#mockb 's Service gets the ClusterIP its callers' DNS would give.
        marker = "  name: mockb\n"
        head, tail = services.split(marker, 1)
        tail = tail.replace("spec:\n", "spec:\n  clusterIP: %s\n" % MOCKB_CLUSTER_IP, 1)
        write(os.path.join(mesh, "services.yaml"), head + marker + tail)
        for root, _, files in os.walk(cls.work):
            os.chmod(root, 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
#The sidecars(uid 1337) run from a copy they can reach whatever the checkout's permissions.
        cls.laneproxy = os.path.join(cls.work, "laneproxy")
        shutil.copy2(LANEPROXY, cls.laneproxy)
        os.chmod(cls.laneproxy, 0o755)
        cls.topo = Topology(cls.work)
        try:
            cls.start_pods()
        except Exception:
            cls.topo.close()
            raise

    @classmethod
    def start_pods(cls):
        t = cls.topo
        cls.boot = {}
        for name, (ip, app, version) in PODS.items():
            ns = TAG + "-" + name
            os.makedirs("/etc/netns/" + ns, exist_ok=True)
            write("/etc/netns/%s/hosts" % ns, "127.0.0.1 localhost\n%s mockb\n" % MOCKB_CLUSTER_IP)
            env = {"app": app, "version": version, "bind": "127.0.0.1:8000"}
            if app == "mocka":
                env["upstream_url"] = "http://mockb:8000/"
            app_log = t.start(name + "-app", [MOCK], ns, env)
            assert wait_line(app_log, "listening on"), read(app_log)
            boot = os.path.join(cls.work, name + "-boot.yaml")
            write(boot, sidecar_bootstrap("%s-%s" % (app, version), "REGISTRY_ONLY"))
            cls.boot[name] = boot
            log = t.start(name + "-sidecar", [cls.laneproxy, "run", "--config", boot], ns, uid=1337)
            assert wait_line(log, "laneproxy: ready"), read(log)
            r = sh(LANEPROXY, "capture", "install", ns=ns)
            assert "installed" in r.stdout, r.stdout + r.stderr
        ext = TAG + "-ext"
        for port in (8000, 9000):
            log = t.start("ext-%d" % port, [MOCK], ext,
                          {"app": "external", "version": "none", "bind": "0.0.0.0:%d" % port})
            assert wait_line(log, "listening on"), read(log)
        cls.a2_log = os.path.join(cls.work, "a2-sidecar.log")

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def curl(self, url, ns=None, headers=()):
        argv = ["curl", "-sS", "-m", "10", "-o", "-", "-w", "\n%{http_code}", url]
        for h in headers:
            argv += ["-H", h]
        r = sh(*argv, ns=ns or self.topo.hub, check=False)
        if r.returncode != 0:
            return None, r.returncode
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    def set_policy(self, mode):
        text = sidecar_bootstrap("mocka-v2", mode)
        with open(self.boot["a2"]) as f:
            if f.read() == text:
                return
        with open(self.a2_log) as f:
            before = f.read().count("laneproxy: reloaded")
        write(self.boot["a2"], text)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.a2_log) as f:
                if f.read().count("laneproxy: reloaded") > before:
                    return
            time.sleep(0.05)
        with open(self.a2_log) as f:
            self.fail("sidecar a2 never reloaded:\n" + f.read())

    def test_an_app_that_knows_no_proxy_stays_in_its_lane(self):
#Into mocka - v2 's pod on the app' s port : captured by its inbound.
        for i in range(10):
            code, body = self.curl("http://198.18.0.2:8000/", headers=["x-request-id: cap-%d" % i])
            self.assertEqual(code, 200, body)
            self.assertIn("mocka(version: v2", body)
            self.assertIn("mockb(version: v2", body)
            self.assertNotIn("v1", body)

    def test_a_call_by_cluster_ip_is_routed_as_the_service(self):
#The app in the pod calls the ClusterIP itself, Host an IP.
        for _ in range(5):
            code, body = self.curl("http://%s:8000/" % MOCKB_CLUSTER_IP, ns=TAG + "-a2")
            self.assertEqual(code, 200, body)
            self.assertIn("mockb(version: v2", body)

    def test_outside_the_mesh_registry_only_refuses_and_allow_any_forwards(self):
        self.set_policy("REGISTRY_ONLY")
        code, body = self.curl("http://%s:8000/" % EXTERNAL_IP, ns=TAG + "-a2")
        self.assertEqual(code, 502, body)
        code, err = self.curl("http://%s:9000/" % EXTERNAL_IP, ns=TAG + "-a2")
        self.assertIsNone(code)  # no port of the mesh: closed (BlackHoleCluster)
        self.set_policy("ALLOW_ANY")
        for port in (8000, 9000):
            code, body = self.curl("http://%s:%d/" % (EXTERNAL_IP, port), ns=TAG + "-a2")
            self.assertEqual(code, 200, body)
            self.assertIn("external(version: none", body)
#The mesh's own calls still stay in the lane.
        code, body = self.curl("http://198.18.0.2:8000/")
        self.assertIn("mockb(version: v2", body)
        self.set_policy("REGISTRY_ONLY")

    def test_capture_remove_takes_every_rule_out(self):
        ns = TAG + "-b1"
        before = sh("iptables-save", "-t", "nat", ns=ns).stdout
        self.assertIn("LANEPROXY_OUTPUT", before)
        sh(LANEPROXY, "capture", "remove", ns=ns)
        after = sh("iptables-save", "-t", "nat", ns=ns).stdout
        self.assertNotIn("LANEPROXY", after)
        r = sh(LANEPROXY, "capture", "install", ns=ns)
        self.assertIn("installed", r.stdout)
        again = sh(LANEPROXY, "capture", "install", ns=ns)  # idempotent
        self.assertIn("installed", again.stdout)
        rules = sh("iptables-save", "-t", "nat", ns=ns).stdout
        self.assertEqual(rules.count("-A OUTPUT -p tcp -j LANEPROXY_OUTPUT"), 1, rules)


def main():
    global LANEPROXY, MOCK
    parser = argparse.ArgumentParser()
    parser.add_argument("--laneproxy", required=True)
    parser.add_argument("--mock", help="laneproxy-mock (default: beside laneproxy)")
    args, rest = parser.parse_known_args()
    LANEPROXY = os.path.abspath(args.laneproxy)
    MOCK = os.path.abspath(args.mock or os.path.join(os.path.dirname(LANEPROXY), "laneproxy-mock"))
    if os.geteuid() != 0:
        print("capture_test: needs root (network namespaces and iptables)", file=sys.stderr)
        return 1
    for tool in ("iptables-restore", "setpriv", "curl"):
        if not shutil.which(tool):
            print("capture_test: %s is missing (scripts/setup.sh installs it)" % tool, file=sys.stderr)
            return 1
    prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
