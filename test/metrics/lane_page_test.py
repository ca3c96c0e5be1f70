"""The live lane page in a real browser (Debian's Chromium, headless).

Runs `laneproxy local` on the guide's topology, sends traffic, and has
Chromium load http://127.0.0.1:ADMIN/lanes and run its script: the page
must show each lane's weight, configured and observed share; after the
route's weights are edited (50:50 to 80:20) and more traffic flows, the
same page must show the new weights and the shift in the observed share.
It also takes a screenshot (to LANEPROXY_SCREENSHOT when set, as
docs/lanes-page.png was made).

  /usr/bin/python3 test/metrics/lane_page_test.py --laneproxy build/bin/laneproxy
"""
import argparse
import html
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kiali_test  # noqa: E402  (the topology runner)

CHROMIUM = "/usr/bin/chromium"


def browser(url, *flags):
    """Chromium's output for `url` after its scripts ran for a while."""
    profile = tempfile.mkdtemp(prefix="laneproxy-chromium-")
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                        "--virtual-time-budget=4000", *flags, url],
                       capture_output=True, text=True, timeout=120)
    return r


def rows(dom):
    """{lane: {cell name: text}} from the page's rows."""
    out = {}
    for lane, body in re.findall(r'<tr data-lane="([^"]+)">(.*?)</tr>', dom, re.S):
        out[html.unescape(lane)] = {
            name: html.unescape(text)
            for name, text in re.findall(r'<td[^>]*data-name="([^"]+)"[^>]*>([^<]*)</td>', body)}
    return out


def percent(text):
    return float(text.rstrip("%"))


class LanePageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(CHROMIUM):
            raise RuntimeError("chromium is missing: scripts/setup.sh installs Debian's chromium")
        cls.mesh = kiali_test.Mesh()
        cls.url = f"http://127.0.0.1:{cls.mesh.admin}/lanes"

    @classmethod
    def tearDownClass(cls):
        cls.mesh.stop()

    def load(self, want):
        """The page's rows once `want(rows)` holds (bounded retries)."""
        deadline = time.time() + 60
        while True:
            r = browser(self.url, "--dump-dom")
            found = rows(r.stdout)
            if want(found) or time.time() > deadline:
                return found, r
            time.sleep(1)

    def traffic(self, n):
        ok = sum(1 for i in range(n) if self.mesh.request(i) == 200)
        self.assertEqual(ok, n)

    def test_the_page_follows_a_weight_edit(self):
        self.assertIn(f"lanes, live: {self.url}", self.mesh.text())
        self.traffic(100)
        found, r = self.load(lambda f: f.get("v1", {}).get("weight") == "50")
        self.assertEqual(set(found), {"v1", "v2"}, r.stdout[-2000:] + r.stderr[-2000:])
        for lane in ("v1", "v2"):
            self.assertEqual(found[lane]["weight"], "50")
            self.assertEqual(found[lane]["configured"], "50.0%")
        self.assertAlmostEqual(percent(found["v1"]["total"]) + percent(found["v2"]["total"]), 100,
                               delta=0.2)
        self.assertTrue(0 < percent(found["v1"]["observed"]) < 100, found)

        route = os.path.join(self.mesh.mesh_dir, "mock-route.yaml")
        with open(route) as f:
            text = f.read()
        with open(route, "w") as f:
            f.write(text.replace("subset: v1\n      weight: 50", "subset: v1\n      weight: 80")
                        .replace("subset: v2\n      weight: 50", "subset: v2\n      weight: 20"))
        deadline = time.time() + 30
        while "changed" not in self.mesh.text() and time.time() < deadline:
            time.sleep(0.2)
        self.traffic(300)
        found, r = self.load(lambda f: f.get("v1", {}).get("weight") == "80")
        self.assertEqual(found["v1"]["weight"], "80", r.stdout[-2000:])
        self.assertEqual(found["v1"]["configured"], "80.0%")
        self.assertEqual(found["v2"]["configured"], "20.0%")
        # 50 + ~240 of ~400 requests in the window went to v1.
        self.assertGreater(percent(found["v1"]["observed"]), percent(found["v2"]["observed"]))
        self.assertGreater(percent(found["v1"]["5m-share"]), 55)

        shot = os.environ.get("LANEPROXY_SCREENSHOT") or os.path.join(
            tempfile.mkdtemp(prefix="laneproxy-shot-"), "lanes.png")
        browser(self.url, f"--screenshot={os.path.abspath(shot)}", "--window-size=1500,400",
                "--hide-scrollbars")
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--laneproxy", default=kiali_test.LANEPROXY)
    args, rest = parser.parse_known_args()
    kiali_test.LANEPROXY = os.path.abspath(args.laneproxy)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
