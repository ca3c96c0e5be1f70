#!/usr/bin/env python3
"""The image in a real Docker engine (Debian's docker.io).

scripts/test.sh starts the engine (docker/engine.sh), makes the base image
without a registry (docker/base_image.sh) and builds laneproxy:local from
docker/Dockerfile; this test runs that image:

- its configuration: uid 1337, the health check, no shell in it;
- the image's own health check turns healthy, and the proxy runs as 1337;
- the capture container's iptables, on a read-only root, in a pod's
  network namespace;
- docker/compose.yaml as compose runs it: the gateway, and each app with its
  sidecar in the app's network namespace on a network of the test's own
  (198.18.53.0/24), started in depends_on order. 200 requests through the
  gateway's port published on loopback keep every chain in one lane at
  50:50, and a weight edited on the host moves every proxy to v2.

Needs root and the engine, as CI runs.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

DOCKER = "/usr/bin/docker"
IMAGE = "laneproxy:local"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMPOSE = os.path.join(REPO, "docker", "compose.yaml")
TAG = "lpi%d" % (os.getpid() % 100000)


def docker(*args, check=True, timeout=60):
    return subprocess.run([DOCKER, *args], check=check, timeout=timeout, capture_output=True,
                          text=True)


def inspect(name):
    return json.loads(docker("inspect", name).stdout)[0]


def wait_for(what, predicate, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError("timed out waiting for " + what)


def readable_copy(src, dst):
    """A copy the image's user (1337) can read, on the host, to edit."""
    shutil.copytree(src, dst)
    for d, _, files in os.walk(dst):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)


def http_get(port, path="/mock"):
    r = subprocess.run(["curl", "-sS", "-m", "10", "http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, text=True, timeout=20)
    return r.stdout if r.returncode == 0 else None


def lanes_of(chain):
    """mocka(version: v1, ...)-> mockb(version: v1, ...) -> ['v1', 'v1', ...]."""
    return [part.split(",")[0] for part in chain.split("version: ")[1:]]


class Compose:
    """docker/compose.yaml, run as `docker compose up` runs it, for one test.

    Container names and the network carry the test's tag. A relative bind
    mount resolves against docker/ and mounts a copy under WORK (so the
    test edits config/swimlane's copy). A published port gets a free port on
    the same loopback address. `service_healthy` is the service's own
    exec-form health check, run with `docker exec` until it passes."""

    def __init__(self, work):
        with open(COMPOSE) as f:
            self.spec = yaml.safe_load(f)
        self.work = work
        self.network = TAG + "-mesh"
        self.started = []
        self.gateway_port = None

    def name(self, service):
        return "%s-%s" % (TAG, service)

    def up(self):
        net = self.spec["networks"]["mesh"]["ipam"]["config"][0]["subnet"]
        docker("network", "create", "--subnet", net, self.network)
        done = set()
        services = self.spec["services"]
        while len(done) < len(services):
            ready = [s for s in services if s not in done and
                     set(services[s].get("depends_on", {})) <= done]
            if not ready:
                raise AssertionError("compose.yaml: a depends_on cycle among " +
                                     ", ".join(sorted(set(services) - done)))
            for s in sorted(ready):
                self.start(s, services[s])
                done.add(s)

    def start(self, service, spec):
        for dep, cond in spec.get("depends_on", {}).items():
            assert cond["condition"] == "service_healthy", dep
            self.wait_healthy(dep)
        argv = ["run", "-d", "--name", self.name(service)]
        if "network_mode" in spec:
            argv += ["--network", "container:" + self.name(spec["network_mode"].split(":", 1)[1])]
        else:
            argv += ["--network", self.network,
                     "--ip", spec["networks"]["mesh"]["ipv4_address"]]
        for v in spec.get("volumes", []):
            host, path, mode = v.split(":")
            argv += ["-v", "%s:%s:%s" % (self.copy_of(host), path, mode)]
        for p in spec.get("ports", []):
            address, _, container = p.split(":")
            argv += ["-p", "%s::%s" % (address, container)]
        for k, v in spec.get("environment", {}).items():
            argv += ["-e", "%s=%s" % (k, v)]
        if "entrypoint" in spec:
            argv += ["--entrypoint", spec["entrypoint"][0]]
        argv.append(spec["image"])
        argv += spec.get("entrypoint", [])[1:] + spec.get("command", [])
        docker(*argv)
        self.started.append(service)
        if spec.get("ports"):
            port = docker("port", self.name(service), spec["ports"][0].split(":")[-1]).stdout
            self.gateway_port = int(port.split()[0].rsplit(":", 1)[1])

    def copy_of(self, host):
        """A bind mount's source as the image's user can read it, whatever
        the checkout's modes; the mesh's copy is the one the test edits."""
        source = os.path.normpath(os.path.join(REPO, "docker", host))
        copy = os.path.join(self.work, os.path.relpath(source, REPO))
        if not os.path.exists(copy):
            readable_copy(source, copy)
        return copy

    def wait_healthy(self, service):
        check = self.spec["services"][service]["healthcheck"]["test"]
        assert check[0] == "CMD", check  # the image has no shell for CMD-SHELL

        def passes():
            if not inspect(self.name(service))["State"]["Running"]:
                raise AssertionError("%s exited:\n%s" % (service, self.logs(service)))
            return docker("exec", self.name(service), *check[1:], check=False).returncode == 0

        wait_for(service + " healthy", passes)

    def logs(self, service):
        r = docker("logs", self.name(service), check=False)
        return r.stdout + r.stderr

    def down(self):
        for s in reversed(self.started):
            docker("rm", "-f", self.name(s), check=False)
        docker("network", "rm", self.network, check=False)


class ImageTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix=TAG)
        os.chmod(self.work, 0o755)
        self.containers = []

    def tearDown(self):
        for c in self.containers:
            docker("rm", "-f", c, check=False)
        shutil.rmtree(self.work, ignore_errors=True)

    def run_container(self, name, *argv):
        self.containers.append(name)
        docker("run", "-d", "--name", name, *argv)
        return name

    def test_the_image_runs_as_1337_with_a_health_check_and_no_shell(self):
        config = inspect(IMAGE)["Config"]
        self.assertEqual(config["User"], "1337:1337")
        self.assertEqual(config["Entrypoint"], ["laneproxy"])
        self.assertEqual(config["Healthcheck"]["Test"],
                         ["CMD", "laneproxy", "probe", "http://127.0.0.1:15021/healthz/ready"])
        no_shell = docker("run", "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c", "true",
                          check=False)
        self.assertNotEqual(no_shell.returncode, 0)
        # The Argo CD plugin's generate step, as its sidecar runs it from this image.
        repo = os.path.join(self.work, "repo")
        readable_copy(os.path.join(REPO, "config", "swimlane"), repo)
        objects = docker("run", "--rm", "--network", "none", "--read-only", "-w", "/repo", "-v",
                         repo + ":/repo:ro", IMAGE, "inject", ".").stdout
        self.assertIn("name: laneproxy-mesh", objects)
        self.assertEqual(objects.count("\nkind: Deployment\n"), 7)  # 6 workloads, the gateway
        size = inspect(IMAGE)["Size"]
        print("\nimage %s: %.1f MB" % (IMAGE, size / 1e6), file=sys.stderr)

    def test_the_images_health_check_turns_healthy_and_the_proxy_runs_as_1337(self):
        mesh = os.path.join(self.work, "mesh")
        readable_copy(os.path.join(REPO, "config", "swimlane"), mesh)
        boot = os.path.join(self.work, "bootstrap")
        os.mkdir(boot, 0o755)
        shutil.copy(os.path.join(REPO, "docker", "bootstrap", "compose", "gateway.yaml"),
                    os.path.join(boot, "bootstrap.yaml"))
        os.chmod(os.path.join(boot, "bootstrap.yaml"), 0o644)
        name = self.run_container(TAG + "-health", "--network", "none", "--read-only",
                                  "--health-interval", "1s",
                                  "-v", mesh + ":/etc/laneproxy/mesh:ro",
                                  "-v", boot + ":/etc/laneproxy/bootstrap:ro", IMAGE)
        wait_for("the health check", lambda: inspect(name)["State"]["Health"]["Status"] ==
                 "healthy")
        with open("/proc/%d/status" % inspect(name)["State"]["Pid"]) as f:
            uids = [line.split()[1:] for line in f if line.startswith(("Uid:", "Gid:"))]
        self.assertEqual(uids, [["1337"] * 4, ["1337"] * 4])

    def test_a_broken_bootstrap_stops_the_container_with_the_file_and_field(self):
        boot = os.path.join(self.work, "bootstrap")
        os.mkdir(boot, 0o755)
        with open(os.path.join(boot, "bootstrap.yaml"), "w") as f:
            f.write("mesh: /etc/laneproxy/mesh\nadmin: 127.0.0.1:notaport\n")
        os.chmod(os.path.join(boot, "bootstrap.yaml"), 0o644)
        r = docker("run", "--rm", "--network", "none", "-v",
                   boot + ":/etc/laneproxy/bootstrap:ro", IMAGE, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/etc/laneproxy/bootstrap/bootstrap.yaml", r.stderr)
        self.assertIn("admin", r.stderr)

    def test_capture_installs_its_rules_with_the_images_iptables_on_a_read_only_root(self):
        pod = self.run_container(TAG + "-pod", "--network", "none", "--entrypoint",
                                 "laneproxy-mock", "-e", "bind=127.0.0.1:8000", IMAGE)
        root = ["run", "--rm", "--network", "container:" + pod, "--read-only", "--user", "0:0",
                "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW"]
        r = docker(*root, IMAGE, "capture", "install", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        rules = docker(*root, "--entrypoint", "iptables-save", IMAGE, "-t", "nat").stdout
        self.assertIn("-j REDIRECT --to-ports 15001", rules)
        self.assertIn("-j REDIRECT --to-ports 15006", rules)
        self.assertIn("--uid-owner 1337", rules)
        r = docker(*root, IMAGE, "capture", "remove", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        rules = docker(*root, "--entrypoint", "iptables-save", IMAGE, "-t", "nat").stdout
        self.assertNotIn("REDIRECT", rules)

    def test_the_compose_demo_keeps_lanes_and_follows_a_weight_edited_on_the_host(self):
        demo = Compose(self.work)
        self.addCleanup(demo.down)
        demo.up()
        mesh = demo.copy_of("../config/swimlane")
        demo.wait_healthy("gateway")

        counts = {}
        for _ in range(200):
            chain = http_get(demo.gateway_port)
            self.assertIsNotNone(chain)
            lanes = lanes_of(chain)
            self.assertEqual(len(lanes), 3, chain)
            self.assertEqual(len(set(lanes)), 1, chain)  # one lane the whole way
            counts[lanes[0]] = counts.get(lanes[0], 0) + 1
        self.assertEqual(set(counts), {"v1", "v2"}, counts)
        self.assertTrue(60 <= counts["v1"] <= 140, counts)  # 50:50, 5 sigma
        print("\n200 chains through the gateway: %s" % counts, file=sys.stderr)

        route = os.path.join(mesh, "mock-route.yaml")
        with open(route) as f:
            text = f.read()
        edited = rollout(text)
        with open(route, "w") as f:
            f.write(edited)
        services = [s for s in demo.spec["services"] if s == "gateway" or s.endswith("-sidecar")]
        edited_at = time.monotonic()
        wait_for("every proxy's reload",
                 lambda: all("reloaded" in demo.logs(s) for s in services))
        print("%d proxies reloaded the edit within %.1f s" %
              (len(services), time.monotonic() - edited_at), file=sys.stderr)
        for _ in range(50):
            chain = http_get(demo.gateway_port)
            self.assertEqual(lanes_of(chain or ""), ["v2"] * 3, chain)


def rollout(route_text):
    """mock-route.yaml with v1's weight 0 and v2's 100."""
    doc = yaml.safe_load(route_text)
    for http in doc["spec"]["http"]:
        for r in http["route"]:
            r["weight"] = 100 if r["destination"]["subset"] == "v2" else 0
    return yaml.safe_dump(doc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--laneproxy")  # the ctest convention; the image is what runs here
    args, rest = parser.parse_known_args()
    if os.geteuid() != 0:
        sys.exit("image_test: needs root (the Docker engine), as CI runs")
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        sys.exit("image_test: no %s image: scripts/test.sh builds it" % IMAGE)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
