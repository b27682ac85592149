"""`cmake --install` puts a module Debian's Python imports (into a scratch
prefix here: tests never touch the system)."""
import os
import subprocess
import sys

import pytest


def test_install_into_a_prefix(tmp_path):
    build, install_dir = os.environ.get("STREAMGAUGE_BUILD_DIR"), os.environ.get("SG_PYTHON_INSTALL_DIR")
    if not build or not install_dir:
        pytest.fail("STREAMGAUGE_BUILD_DIR / SG_PYTHON_INSTALL_DIR are not set: run the Python tests through ctest")
    r = subprocess.run(["cmake", "--install", build, "--prefix", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    site = tmp_path / install_dir
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    r = subprocess.run([sys.executable, "-c", "import streamgauge as sg; print(sg.__file__, sg.__version__)"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(site))
