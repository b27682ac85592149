"""Shared by the Python tests: where ../shared and the CLI are, a golden
safetensors reader independent of streamgauge, the golden tolerance check."""
import json
import os
import pathlib
import struct
import subprocess

import numpy as np
import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]


def _shared_dir():
    p = pathlib.Path(os.environ.get("STREAMGAUGE_SHARED", SOURCE_DIR.parent / "shared"))
    if not (p / "golden").is_dir():
        pytest.exit(f"FATAL: the shared test data is missing: expected {p}/golden (put the project's "
                    "shared/ folder beside the checkout, or set STREAMGAUGE_SHARED)", returncode=1)
    return p.resolve()


SHARED = _shared_dir()
STORIES = SHARED / "models" / "stories260k"


def cli():
    """The streamgauge executable built next to the module (CTest sets STREAMGAUGE_CLI)."""
    path = os.environ.get("STREAMGAUGE_CLI")
    if not path:
        pytest.fail("STREAMGAUGE_CLI is not set: run the Python tests through ctest")
    return path


def run_cli(*args, check=True):
    r = subprocess.run([cli(), *map(str, args)], capture_output=True, text=True,
                       env={**os.environ, "STREAMGAUGE_NO_PROGRESS": "1"})
    if check and r.returncode != 0:
        pytest.fail(f"streamgauge {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr}")
    return r


_DTYPES = {"F32": np.float32, "I64": np.int64, "F16": np.float16}


def read_safetensors(path):
    """Every F32/F16/I64 tensor of a safetensors file, as numpy arrays."""
    data = pathlib.Path(path).read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] not in _DTYPES:
            continue
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + e], dtype=_DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def close_message(what, c, g, tol=1e-4):
    """The golden README's check: max|c - g| <= tol max|g| over the tensor and
    ||c[t] - g[t]|| <= tol ||g[t]|| per row. "" if it holds."""
    c = np.asarray(c, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if c.shape != g.shape:
        return f"{what}: shape {c.shape}, expected {g.shape}"
    max_g = np.abs(g).max()
    diff = np.abs(c - g).max()
    if diff > tol * max_g:
        return f"{what}: max|c-g| = {diff:.3g} > {tol} * {max_g:.3g}"
    rows_c, rows_g = c.reshape(-1, g.shape[-1]), g.reshape(-1, g.shape[-1])
    err = np.linalg.norm(rows_c - rows_g, axis=1)
    ref = np.linalg.norm(rows_g, axis=1)
    bad = np.nonzero(err > tol * ref)[0]
    if bad.size:
        return f"{what}: row {bad[0]} relative error {err[bad[0]] / ref[bad[0]]:.3g} > {tol}"
    return ""


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")
