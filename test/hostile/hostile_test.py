#!/usr/bin/python3
"""Hostile peers against a real laneproxy gateway: clients and upstreams
that send what a proxy must survive without crashing, growing, or giving
one request another's response.

    /usr/bin/python3 test/hostile/hostile_test.py --laneproxy build/bin/laneproxy [unittest args]

The suite's one entry point: it runs the cases of every hostile_*_test.py
file (taken into this module, so `SmugglingTest.test_connection_host` and
-k name them as ever) and checks that the test meshes validate. Each test
starts its own proxy (one worker) in front of a scripted raw upstream,
attacks it, and checks what the client got, what the upstream received,
and that the proxy is still alive and ready.
"""

import glob
import importlib
import os
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from hostile_case import HostileCase  # noqa: E402  (after the path is set)
from process_util import take_option  # noqa: E402
from proxy import ALL_TO_ECHO, MOCK_ONLY, TempFolder, run_validate, write_mesh  # noqa: E402


def take_cases():
    """Puts the TestCase classes of every hostile_*_test.py file into this
    module, where unittest.main() looks for tests."""
    for path in sorted(glob.glob(os.path.join(HERE, "hostile_*_test.py"))):
        module = importlib.import_module(os.path.basename(path)[:-len(".py")])
        for name, value in vars(module).items():
            if (isinstance(value, type) and issubclass(value, unittest.TestCase) and
                    value.__module__ == module.__name__):
                if name in globals():
                    raise RuntimeError("%s: a second test class named %s" % (path, name))
                globals()[name] = value


class MeshTest(HostileCase):
    """The test meshes are valid as `laneproxy validate` sees them."""

    def test_meshes_validate(self):
        for rules in (ALL_TO_ECHO, MOCK_ONLY):
            folder = TempFolder()
            self.addCleanup(folder.cleanup)
            status, out = run_validate(self.laneproxy, write_mesh(folder.path, rules))
            self.assertEqual(status, 0, out)


def main():
    argv = list(sys.argv)
    path = take_option(argv, "--laneproxy")
    if not path:
        sys.stderr.write("usage: %s --laneproxy PATH [unittest args]\n" % argv[0])
        return 2
    HostileCase.laneproxy = os.path.abspath(path)
    take_cases()
    program = unittest.main(argv=argv, exit=False)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
